"""ONNX Runtime sessions: the networks of the core's inference contract, built at the edge.

One session per model per worker process, created once, on first use
(:func:`process_models`), and passed to :func:`ecgread.models.analysis.analyze` as
:class:`~ecgread.models.neural.inference.NeuralModels`. The pure pre- and post-processing
around each run (input contract, masks at the ECG's rate, classifier evidence) is the
core's (:mod:`ecgread.models.neural`); here is only the session.

Provider: ``CUDAExecutionProvider`` when onnxruntime-gpu is installed and a GPU answers,
``CPUExecutionProvider`` otherwise; the choice is automatic and logged (the provider the
session really uses, after ORT's own fallback). Celery prefork workers create their
sessions after the fork, in each child, because nothing here runs at import time.

Determinism: CPU kernels are run single-threaded by default (``threads=1``: one session
per worker process, the workers are the parallelism) and ``use_deterministic_compute`` is
set; sequences are only batched with sequences of the same padded length
(:func:`ecgread.models.neural.delineation.predict_masks_many`), so an ECG's
probabilities do not depend on what else is in the batch.

No torch here: the network is the exported ONNX file.
"""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

import numpy as np

from ecgread.errors import ModelError
from ecgread.models.neural.inference import ModelSpec, NeuralModels
from ecgread.workers.model_registry import DEFAULT_REGISTRY, ModelEntry, Registry, load_registry

log = logging.getLogger(__name__)


def choose_providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, CPU always as the fallback."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []
    return wanted + ["CPUExecutionProvider"]


class OnnxNetwork:
    """A verified registry entry with its ONNX Runtime session (a
    :class:`~ecgread.models.neural.inference.Network`)."""

    def __init__(self, entry: ModelEntry, threads: int = 1,
                 providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.use_deterministic_compute = True
        so.log_severity_level = 3
        spec = entry.spec
        try:
            self.session = ort.InferenceSession(str(entry.path), so,
                                                providers=providers or choose_providers())
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"model {spec.name} {spec.version}: {entry.path} cannot be "
                             f"loaded by ONNX Runtime: {exc}") from exc
        self.entry = entry
        self.provider = self.session.get_providers()[0]
        self.input_name = self.session.get_inputs()[0].name
        log.info("model %s loaded on %s", spec.provenance, self.provider)

    @property
    def spec(self) -> ModelSpec:
        return self.entry.spec

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: x.astype(np.float32)})[0])


def load_models(registry: Registry, threads: int = 1,
                providers: list[str] | None = None) -> NeuralModels:
    """Sessions for every model of a verified registry (delineator, classifiers).

    Raises
    ------
    ModelError
        ONNX Runtime cannot load a model file.
    """
    d = registry.delineator
    return NeuralModels(
        delineator=OnnxNetwork(d, threads, providers) if d is not None else None,
        classifiers=tuple(OnnxNetwork(c, threads, providers) for c in registry.classifiers))


_lock = threading.Lock()
_process_models: dict[str, NeuralModels] = {}


def process_models(registry_path: str | Path | None = None, threads: int = 1) -> NeuralModels:
    """The models of this process, loaded and verified once per registry path.

    Raises
    ------
    ModelError
        A model file is missing or its checksum is wrong (see :func:`load_registry`):
        call this at worker start so the worker stops with that message.
    """
    key = str(Path(registry_path or DEFAULT_REGISTRY).resolve())
    with _lock:
        if key not in _process_models:
            _process_models[key] = load_models(load_registry(key), threads)
            models = _process_models[key]
            log.info("neural models ready from %s: %s", key, models.versions())
            # what a worker has built by now (imports, models) lives as long as it: the
            # collector stops walking it on every collection (bench.report_speed)
            gc.freeze()
        return _process_models[key]


__all__ = ["OnnxNetwork", "choose_providers", "load_models", "process_models"]

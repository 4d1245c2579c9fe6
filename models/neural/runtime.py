"""ONNX Runtime sessions: one per model per worker process, created once, on first use.

Provider: ``CUDAExecutionProvider`` when onnxruntime-gpu is installed and a GPU answers,
``CPUExecutionProvider`` otherwise; the choice is automatic and logged (the provider the
session really uses, after ORT's own fallback). Celery prefork workers create their
sessions after the fork, in each child, because nothing here runs at import time.

Determinism: CPU kernels are run single-threaded by default (``threads=1``: one session
per worker process, the workers are the parallelism) and ``use_deterministic_compute`` is
set; sequences are only batched with sequences of the same padded length, so an ECG's
probabilities do not depend on what else is in the batch.

No torch here: the network is the exported ONNX file.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from ecgread.errors import ModelError
from ecgread.models.neural.preprocess import NET_FS_HZ, net_length, prepare, to_input_rate
from ecgread.models.registry import DEFAULT_REGISTRY, ModelEntry, Registry, load_registry

log = logging.getLogger(__name__)

#: Sequences (leads) per ONNX run; bigger batches stop paying off on CPU caches.
CHUNK_ROWS = 24


def choose_providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, CPU always as the fallback."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []
    return wanted + ["CPUExecutionProvider"]


class OnnxModel:
    """A verified registry entry with its ONNX Runtime session."""

    def __init__(self, entry: ModelEntry, threads: int = 1,
                 providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.use_deterministic_compute = True
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(entry.path), so,
                                                providers=providers or choose_providers())
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"model {entry.name} {entry.version}: {entry.path} cannot be "
                             f"loaded by ONNX Runtime: {exc}") from exc
        self.entry = entry
        self.provider = self.session.get_providers()[0]
        self.input_name = self.session.get_inputs()[0].name
        log.info("model %s loaded on %s", entry.provenance, self.provider)

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: x.astype(np.float32)})[0])


class Delineator(OnnxModel):
    """The per-lead delineation network (see :mod:`workers.training.delineation_net`)."""

    def predict_masks(self, signals_uv: np.ndarray, sampling_rate_hz: float) -> np.ndarray:
        """Class probabilities per sample.

        Parameters
        ----------
        signals_uv:
            (batch, leads, samples) or (leads, samples), µV, any rate (NaN = padding).
        sampling_rate_hz:
            Their sampling rate.

        Returns
        -------
        np.ndarray
            float32 (batch, leads, 4, samples) (or (leads, 4, samples)) probabilities of
            the classes ``entry.labels`` (none, P, QRS, T) at the input rate.
        """
        x = np.asarray(signals_uv)
        single = x.ndim == 2
        if single:
            x = x[None]
        b, n_leads, n = x.shape
        net_fs = self.entry.input.fs_hz
        prepared = prepare(x.reshape(b * n_leads, n), sampling_rate_hz, net_fs)
        probs = self._run_rows(prepared)
        probs = probs[:, :, :net_length(n, sampling_rate_hz, net_fs)]
        out = to_input_rate(probs, n, sampling_rate_hz, net_fs).astype(np.float32, copy=False)
        out = out.reshape(b, n_leads, out.shape[1], n)
        return out[0] if single else out

    def predict_masks_many(self, ecgs: list[tuple[np.ndarray, float]]) -> list[np.ndarray]:
        """Batched inference across ECGs of any rates and lengths: [(signal_uv (leads,
        samples), fs)] -> [(leads, 4, samples) probabilities], one ONNX batch per padded
        length (so the batch path pays one run per chunk, not per ECG)."""
        net_fs = self.entry.input.fs_hz
        prepared = [prepare(s, fs, net_fs) for s, fs in ecgs]
        by_len: dict[int, list[int]] = {}
        for i, p in enumerate(prepared):
            by_len.setdefault(p.shape[1], []).append(i)
        net_out: list[np.ndarray | None] = [None] * len(ecgs)
        for idx in by_len.values():
            rows = np.concatenate([prepared[i] for i in idx])
            probs = self._run_rows(rows)
            at = 0
            for i in idx:
                k = prepared[i].shape[0]
                net_out[i] = probs[at:at + k]
                at += k
        result = []
        for (s, fs), probs in zip(ecgs, net_out):
            assert probs is not None
            n = s.shape[1]
            probs = probs[:, :, :net_length(n, fs, net_fs)]
            result.append(to_input_rate(probs, n, fs, net_fs).astype(np.float32, copy=False))
        return result

    def _run_rows(self, rows: np.ndarray) -> np.ndarray:
        """(rows, n_net) prepared -> (rows, 4, n_net) probabilities, in fixed chunks."""
        outs = [self.run(rows[i:i + CHUNK_ROWS, None, :])
                for i in range(0, rows.shape[0], CHUNK_ROWS)]
        return np.concatenate(outs) if outs else np.zeros((0, 4, rows.shape[1]), np.float32)


class NeuralModels:
    """The verified registry of one process with its sessions (delineator, classifiers)."""

    def __init__(self, registry: Registry, threads: int = 1,
                 providers: list[str] | None = None) -> None:
        self.registry = registry
        d = registry.delineator
        self.delineator = Delineator(d, threads, providers) if d is not None else None
        self.classifiers = [OnnxModel(c, threads, providers) for c in registry.classifiers]

    def versions(self) -> dict[str, str]:
        """Provenance for ``Analysis.versions``: one key per model."""
        out = {}
        if self.delineator is not None:
            out["delineator_model"] = self.delineator.entry.provenance
        for c in self.classifiers:
            out[f"classifier:{c.entry.name}"] = c.entry.provenance
        return out


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
            _process_models[key] = NeuralModels(load_registry(key), threads)
            models = _process_models[key]
            log.info("neural models ready from %s: %s", key, models.versions())
        return _process_models[key]


__all__ = ["Delineator", "NeuralModels", "OnnxModel", "choose_providers", "process_models",
           "NET_FS_HZ"]

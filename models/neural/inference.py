"""The inference contract: what the core asks of a neural network, and nothing of how it runs.

The core never opens a model file or a session. The edge reads and verifies the model
registry (:mod:`ecgread.workers.model_registry`), builds one object per model that
satisfies :class:`Network` (:mod:`ecgread.workers.onnx_models`, ONNX Runtime) and passes
them to :func:`ecgread.models.analysis.analyze` as :class:`NeuralModels`.

A :class:`Network` is described by its :class:`ModelSpec` (name, version, checksum, input
contract, labels: the registry entry less its file) and maps a prepared float32 array to
raw outputs. Everything around that call is pure and lives in the core: the input
contract (:func:`ecgread.models.neural.preprocess.prepare`), the delineation masks at the
ECG's rate (:func:`ecgread.models.neural.delineation.predict_masks`) and the classifier's
probabilities and evidence (:mod:`ecgread.models.neural.classifier`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from ecgread.errors import ModelError

Kind = Literal["delineator", "classifier"]


@dataclass(frozen=True)
class InputContract:
    """What a network takes: sampling rate (Hz), lead order, window length (samples)."""

    fs_hz: float
    leads: tuple[str, ...] = ()  # () = one lead at a time
    samples: int = 0  # 0 = any length
    normalization: str = "per-lead-std"


@dataclass(frozen=True)
class Thresholds:
    """Probability floors of each certainty (definite >= probable >= possible)."""

    definite: float = 0.9
    probable: float = 0.7
    possible: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.possible <= self.probable <= self.definite <= 1.0:
            raise ModelError("thresholds need 0 < possible <= probable <= definite <= 1")


@dataclass(frozen=True)
class ModelSpec:
    """A registered model as the core sees it (see the registry format in
    :mod:`ecgread.workers.model_registry`)."""

    name: str
    version: str
    kind: Kind
    sha256: str
    input: InputContract
    labels: tuple[str, ...]
    texts: tuple[str, ...] = ()
    activation: Literal["none", "sigmoid"] = "none"
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def provenance(self) -> str:
        """``name@version sha256:first-12`` as recorded in reads."""
        return f"{self.name}@{self.version} sha256:{self.sha256[:12]}"


class Network(Protocol):
    """One loaded network. ``run`` must be deterministic: the same input, the same output,
    whatever else is in the batch."""

    @property
    def spec(self) -> ModelSpec: ...

    def run(self, x: np.ndarray) -> np.ndarray:
        """(batch, channels, samples) float32 prepared input -> (batch, ...) raw outputs
        (delineator: (batch, len(labels), samples) probabilities)."""
        ...


@dataclass(frozen=True)
class NeuralModels:
    """The networks one analysis may use: at most one delineator, any classifiers."""

    delineator: Network | None = None
    classifiers: tuple[Network, ...] = ()

    def versions(self) -> dict[str, str]:
        """Provenance for ``Analysis.versions``: one key per model."""
        out = {}
        if self.delineator is not None:
            out["delineator_model"] = self.delineator.spec.provenance
        for c in self.classifiers:
            out[f"classifier:{c.spec.name}"] = c.spec.provenance
        return out


__all__ = ["InputContract", "Kind", "ModelSpec", "Network", "NeuralModels", "Thresholds"]

"""Helpers for the tests of the neural side: the shipped models, tiny ONNX models and
temporary registries."""

from __future__ import annotations

from pathlib import Path

from ecgread.models.neural.inference import NeuralModels
from ecgread.workers.model_registry import DEFAULT_REGISTRY, sha256_of
from ecgread.workers.onnx_models import process_models


def shipped_models() -> NeuralModels:
    """The shipped registry's models, loaded at the edge once per test process: what
    ``ecgread analyze`` passes to the core's ``analyze``."""
    return process_models(DEFAULT_REGISTRY)


def export_bump_classifier(path: Path, n_leads: int = 12, samples: int = 1000) -> Path:
    """A hand-set classifier: P(label 0) rises with the largest value of lead index 1
    (lead II), P(label 1) is constant 0.2. Exported to ONNX with torch."""
    import torch
    from torch import nn

    class Bump(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            peak = x[:, 1, :].amax(dim=1)
            p0 = torch.sigmoid(3.0 * (peak - 4.0))
            return torch.stack([p0, torch.full_like(p0, 0.2)], dim=1)

    torch.onnx.export(Bump(), (torch.zeros(1, n_leads, samples),), str(path),
                      input_names=["signal"], output_names=["probabilities"],
                      dynamic_axes={"signal": {0: "batch"}, "probabilities": {0: "batch"}},
                      opset_version=17, dynamo=False)
    return path


def classifier_table(path: Path, name: str = "site-bump", digest: str | None = None,
                     samples: int = 1000) -> str:
    leads = '["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]'
    return f'''
[[model]]
name = "{name}"
version = "0.1.0"
kind = "classifier"
file = "{path}"
sha256 = "{digest or sha256_of(path)}"
labels = ["BUMP", "OTHER"]
texts = ["Bump in lead II", "Something else"]
thresholds = {{ definite = 0.9, probable = 0.7, possible = 0.5 }}
[model.input]
fs_hz = 100.0
leads = {leads}
samples = {samples}
'''

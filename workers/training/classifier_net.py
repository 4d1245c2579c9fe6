"""The shipped classifier architecture (torch, for training and export only).

A multi-lead 1-D CNN for multi-label ECG statements: per level two convolutions (batch
norm, ReLU) and max-pooling by 2, the encoder of the delineation U-Net widened to take
all leads as channels; then global average and max pooling and a linear layer. The
exported graph ends in a sigmoid, so the ONNX output is one probability per label
(register it with ``activation = "none"``). Input ``(batch, leads, samples)`` prepared
by :func:`models.neural.preprocess.prepare` at the model's rate.
"""

from __future__ import annotations

import torch
from torch import nn


class EcgClassifier(nn.Module):
    def __init__(self, n_leads: int, n_labels: int,
                 widths: tuple[int, ...] = (32, 32, 48, 64, 64), kernel: int = 7) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = n_leads
        for w in widths:
            for i in range(2):
                layers += [nn.Conv1d(c if i == 0 else w, w, kernel, padding=kernel // 2,
                                     bias=False), nn.BatchNorm1d(w), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool1d(2))
            c = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(2 * c, n_labels)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.fc(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


def export_classifier(model: nn.Module, path: str, n_leads: int, samples: int,
                      opset: int = 17) -> None:
    """ONNX export with a dynamic batch axis (input "signal", output "probabilities")."""
    model.eval()
    torch.onnx.export(model, (torch.zeros(1, n_leads, samples),), path,
                      input_names=["signal"], output_names=["probabilities"],
                      opset_version=opset, dynamic_axes={"signal": {0: "batch"},
                                                         "probabilities": {0: "batch"}},
                      dynamo=False)

"""The delineation network: a small 1-D U-Net that labels each sample of one lead.

Architecture only (torch), for training and ONNX export. Inference never imports this
module or torch: it runs the exported ONNX file through :mod:`ecgread.workers.onnx_models`.

One lead at a time (input ``(batch, 1, samples)`` at 250 Hz, prepared by
:func:`models.neural.preprocess.prepare`), so any lead set works and the 12 leads of an
ECG are 12 rows of one batch. Output ``(batch, 4, samples)`` softmax probabilities of
the classes ``CLASSES`` = none, P, QRS, T.

Encoder: per level two convolutions (kernel ``kernel``, batch norm, ReLU), then max-pool
by 2; decoder: nearest upsampling by 2, concatenation with the skip, two convolutions.
After Ronneberger et al., "U-Net", MICCAI 2015, in 1-D as in Moskalenko et al., "Deep
learning for ECG segmentation", 2020 (LUDB).
"""

from __future__ import annotations

import torch
from torch import nn

CLASSES = ("none", "P", "QRS", "T")


def _block(c_in: int, c_out: int, kernel: int, n_convs: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [nn.Conv1d(c_in if i == 0 else c_out, c_out, kernel, padding=kernel // 2,
                             bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class DelineationUNet(nn.Module):
    """1-D U-Net; ``widths`` are the channels per level (the input length must be a
    multiple of ``2 ** (len(widths) - 1)``)."""

    def __init__(self, widths: tuple[int, ...] = (6, 10, 14, 20, 28), kernel: int = 5,
                 in_channels: int = 1, n_classes: int = len(CLASSES), *,
                 top_convs: int = 2, dec_convs: int = 2) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.kernel = kernel
        self.enc = nn.ModuleList()
        c = in_channels
        for i, w in enumerate(widths):
            self.enc.append(_block(c, w, kernel, top_convs if i == 0 else 2))
            c = w
        self.dec = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.dec.append(_block(c + w, w, kernel, dec_convs))
            c = w
        self.head = nn.Conv1d(c, n_classes, 1)
        self.pool = nn.MaxPool1d(2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()
        for block in self.dec:
            x = block(torch.cat([self.up(x), skips.pop()], dim=1))
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities (softmax over classes), as exported to ONNX."""
        return torch.softmax(self.logits(x), dim=1)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def export_onnx(model: DelineationUNet, path: str, opset: int = 17) -> None:
    """Export in eval mode with dynamic batch and length axes (input "signal", output
    "probabilities")."""
    model.eval()
    dummy = torch.zeros(2, 1, 2512)
    torch.onnx.export(model, (dummy,), path, input_names=["signal"],
                      output_names=["probabilities"], opset_version=opset,
                      dynamic_axes={"signal": {0: "batch", 2: "samples"},
                                    "probabilities": {0: "batch", 2: "samples"}},
                      dynamo=False)

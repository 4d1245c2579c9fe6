"""The ONNX Runtime delineator (built at the edge, run through the core's inference
contract): provider choice, shapes, determinism, batching."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from ecgread.models.neural.delineation import predict_masks, predict_masks_many
from ecgread.models.neural.inference import Network
from ecgread.workers.model_registry import DEFAULT_REGISTRY, load_registry
from ecgread.workers.onnx_models import OnnxNetwork, choose_providers, process_models

FS = 500.0


@pytest.fixture(scope="module")
def delineator() -> Network:
    d = process_models(DEFAULT_REGISTRY).delineator
    assert d is not None
    return d


def synthetic(seed: int, n: int = 5000, leads: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    beats = sum(np.exp(-0.5 * ((t - c) / 0.012) ** 2) for c in np.arange(0.4, n / FS, 0.8))
    x = 1000.0 * beats + rng.normal(0, 15, (leads, n))
    return x.astype(np.float32)


def test_cpu_is_chosen_and_logged(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    import onnxruntime as ort

    assert choose_providers()[-1] == "CPUExecutionProvider"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert choose_providers() == ["CPUExecutionProvider"]
    reg = load_registry(DEFAULT_REGISTRY)
    assert reg.delineator is not None
    with caplog.at_level(logging.INFO, logger="ecgread.workers.onnx_models"):
        d = OnnxNetwork(reg.delineator)
    assert d.provider in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert any(d.provider in r.getMessage() and "ludb-unet1d" in r.getMessage()
               for r in caplog.records)


def test_session_is_created_once_per_process() -> None:
    assert process_models(DEFAULT_REGISTRY) is process_models(str(DEFAULT_REGISTRY))


def test_shapes_and_probabilities(delineator: Network) -> None:
    x = synthetic(0)
    p = predict_masks(delineator, x, FS)
    assert p.shape == (3, 4, 5000) and p.dtype == np.float32
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-4)
    assert predict_masks(delineator, x[:, :3001], FS).shape == (3, 4, 3001)
    assert predict_masks(delineator, x[None], FS).shape == (1, 3, 4, 5000)


def test_same_input_gives_identical_output(delineator: Network) -> None:
    x = synthetic(1)
    assert np.array_equal(predict_masks(delineator, x, FS), predict_masks(delineator, x, FS))


def test_batch_composition_does_not_change_an_ecg(delineator: Network) -> None:
    a, b = synthetic(2), synthetic(3)
    alone = predict_masks(delineator, a, FS)
    batched = predict_masks(delineator, np.stack([a, b]), FS)[0]
    np.testing.assert_allclose(batched, alone, atol=1e-6)
    many = predict_masks_many(delineator, [(a, FS), (b[:, :4000], FS), (a[:, ::2], 250.0)])
    np.testing.assert_allclose(many[0], alone, atol=1e-6)
    assert many[1].shape == (3, 4, 4000) and many[2].shape == (3, 4, 2500)


def test_qrs_of_synthetic_beats_is_found(delineator: Network) -> None:
    from ecgread.models.neural.masks_to_waves import masks_to_waves

    x = synthetic(4, leads=1)
    waves = masks_to_waves(predict_masks(delineator, x, FS), FS, ("II",), x)["II"]
    qrs_peaks = [w.peak_s for w in waves if w.type == "QRS"]
    beats = np.arange(0.4, 10.0, 0.8)
    assert len(qrs_peaks) >= len(beats) - 3  # edge beats may be cut
    assert all(min(abs(e - q) for e in beats) < 0.03 for q in qrs_peaks)


def test_back_to_input_rate_is_linear_interpolation() -> None:
    from ecgread.models.neural.preprocess import to_input_rate

    rng = np.random.default_rng(5)
    p = rng.random((2, 4, 100)).astype(np.float32)
    t_net = np.arange(100) / 250.0
    for fs, n in ((500.0, 200), (1000.0, 397), (360.0, 144), (250.0, 100)):
        got = to_input_rate(p, n, fs)
        t_in = np.arange(n) / fs
        want = np.interp(t_in, t_net, p[1, 2])
        assert got.shape == (2, 4, n)
        np.testing.assert_allclose(got[1, 2], want, atol=1e-6)

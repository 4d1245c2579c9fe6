"""The global QRS refined by the spatial velocity (models.qrs_spatial): it only shortens, by at
most 20 ms a side, keeps a bundle-branch block's width, and agrees with a device's own read."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgread.models.analysis import analyze
from ecgread.models.dsp_config import AnalysisConfig
from ecgread.models.qrs_spatial import MAX_SHIFT_MS, spatial_qrs_bounds
from tests.synthetic import synthetic_ecg

FS = 500.0


def _beat(width_s: float, slur_s: float = 0.0, leads: int = 3, seed: int = 0) -> np.ndarray:
    """(leads, 1 s) beats: a QRS of about ``width_s`` centred at 0.5 s and a slow terminal
    deflection ``slur_s`` long after it (the slurred S of a bundle-branch block)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(FS)) / FS
    sig = width_s / 6.0
    out = []
    for k in range(leads):
        g = rng.uniform(0.5, 1.5) * (1 if k % 2 else -1)
        x = 1000 * g * np.exp(-0.5 * ((t - 0.5) / sig) ** 2)
        if slur_s:
            c = 0.5 + width_s / 2 + slur_s / 2
            x += -250 * g * np.exp(-0.5 * ((t - c) / (slur_s / 4)) ** 2)
        out.append(x + rng.normal(0, 2, t.size))
    return np.array(out)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(width=st.floats(0.06, 0.16), early_ms=st.floats(0, 40), late_ms=st.floats(0, 40),
       seed=st.integers(0, 99))
def test_only_shortens_and_by_at_most_the_limit(width: float, early_ms: float,
                                                late_ms: float, seed: int) -> None:
    x = _beat(width, seed=seed)
    on = (0.5 - width / 2) * FS - early_ms * FS / 1000
    off = (0.5 + width / 2) * FS + late_ms * FS / 1000
    new_on, new_off = spatial_qrs_bounds(x, FS, on, off)
    limit = MAX_SHIFT_MS * FS / 1000
    assert on <= new_on <= on + limit and off - limit <= new_off <= off
    assert new_off > new_on


def test_a_slurred_terminal_deflection_is_not_cut() -> None:
    """A bundle branch block's slow terminal part: the spatial velocity falls below its
    threshold long before the per-lead offset, further than the limit, so the per-lead
    offset stays."""
    x = _beat(0.08, slur_s=0.08)
    on, off = (0.5 - 0.04) * FS, (0.5 + 0.04 + 0.08) * FS
    _, new_off = spatial_qrs_bounds(x, FS, on, off)
    assert new_off == off


def test_one_lead_is_left_as_it_is() -> None:
    x = _beat(0.09, leads=1)
    assert spatial_qrs_bounds(x, FS, 200.0, 260.0) == (200.0, 260.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_synthetic_qrs_stays_wide(seed: int) -> None:
    a = analyze(synthetic_ecg(wide_qrs=True, seed=seed).ecg, AnalysisConfig(delineator="dsp"))
    assert a.measurements.qrs_ms is not None and a.measurements.qrs_ms >= 120


def test_mortara_sample_agrees_with_the_device() -> None:
    """pydicom's Mortara ECG: the device measured QRS 75 ms; the per-lead global QRS read
    85, the refined one 74."""
    import pydicom.data

    from ecgread.integration.ecg_files import read_ecg_file
    from tests.neural_helpers import shipped_models

    ecg = read_ecg_file(pydicom.data.get_testdata_file("waveform_ecg.dcm"))
    qrs = analyze(ecg, models=shipped_models()).measurements.qrs_ms
    assert qrs is not None and abs(qrs - 75) <= 5

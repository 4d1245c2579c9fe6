"""Q wave duration is that lead's own: from where it leaves its baseline to where it crosses
back, not from the global QRS onset (models/measure.py). The global onset is the earliest
over all leads; a lead whose QRS starts later would otherwise have its isoelectric start
counted into its Q wave, and a 25 ms q wave after 15 ms of flat line would read 40 ms,
past the 30 ms of the Fourth Universal Definition's prior-infarct criterion."""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.models.measure import _amplitudes

FS = 500.0


def _lead(q_start_s: float, q_ms: float, q_uv: float) -> tuple[np.ndarray, dict[str, int | None]]:
    """A flat baseline, a triangular Q wave of ``q_ms`` from ``q_start_s``, then an R wave."""
    t = np.arange(int(0.6 * FS)) / FS
    half = q_ms / 2000.0
    mid = q_start_s + half
    x = np.where(np.abs(t - mid) < half, q_uv * (1.0 - np.abs(t - mid) / half), 0.0)
    r_mid = q_start_s + q_ms / 1000.0 + 0.02
    x = x + 900.0 * np.clip(1.0 - np.abs(t - r_mid) / 0.02, 0.0, None)
    f = {"p_onset": None, "p_offset": None, "qrs_onset": int(0.20 * FS),
         "qrs_offset": int((r_mid + 0.03) * FS)}
    return x, f


@pytest.mark.parametrize("late_ms", [0.0, 10.0, 20.0])
def test_q_duration_does_not_count_the_leads_flat_start(late_ms: float) -> None:
    x, f = _lead(0.20 + late_ms / 1000.0, 26.0, -300.0)
    a = _amplitudes(x, FS, f, None)
    assert a.q_uv == pytest.approx(-300.0, rel=0.1)
    assert a.q_ms is not None and a.q_ms == pytest.approx(26.0, abs=4.0)


def test_a_qs_complex_has_no_r_wave() -> None:
    t = np.arange(int(0.6 * FS)) / FS
    x = -800.0 * np.clip(1.0 - np.abs(t - 0.245) / 0.045, 0.0, None)
    f = {"p_onset": None, "p_offset": None, "qrs_onset": 100, "qrs_offset": 145}
    a = _amplitudes(x, FS, f, None)
    assert a.r_uv is None and a.q_uv is not None and a.q_uv < -700

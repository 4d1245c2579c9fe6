"""Beat typing holds when the detector's fiducial falls on either slope of the R wave.

The QRS detector's fiducial is the peak of the multi-lead slope energy, which has a peak on
the R upstroke and one on its downstroke; which one is higher may change from beat to beat
(CPSC A1984: fiducials 30 ms apart, 6 of its 14 sinus beats typed ventricular). Beats are
compared with the dominant template at their best alignment within ``align_ms``.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.models.beats import type_beats
from ecgread.models.conditioning import condition
from tests.synthetic import synthetic_ecg


def _typed(jitter_ms: float, align_ms: float | None = None):  # type: ignore[no-untyped-def]
    from ecgread.models.dsp_config import BeatConfig

    s = synthetic_ecg(rate_bpm=75, seed=3)
    fs = s.ecg.sampling_rate_hz
    cond = condition(s.ecg.signal_uv, fs)
    signals = {"signal_uv": cond.signal_uv, "qrs_smooth_uv": cond.qrs_smooth_uv,
               "pt_smooth_uv": cond.pt_smooth_uv}
    r_true = np.array([int(round(b.r_s * fs)) for b in s.beats])
    # fiducials alternately on the upstroke and the downstroke side of each R wave
    jitter = np.where(np.arange(r_true.size) % 2 == 0, -1, 1) * int(jitter_ms * fs / 1000)
    cfg = BeatConfig() if align_ms is None else BeatConfig(align_ms=align_ms)
    usable = np.ones(len(s.ecg.lead_names), bool)
    return type_beats(signals, fs, r_true + jitter, usable, np.zeros(0, int), cfg), r_true, fs


@pytest.mark.parametrize("jitter_ms", [0.0, 10.0, 15.0])
def test_jittered_fiducials_are_one_morphology(jitter_ms: float) -> None:
    t, r_true, fs = _typed(jitter_ms)
    assert set(t.kinds) == {"dominant"}, t.kinds
    assert float(np.min(t.correlation)) > 0.95
    # the fiducials move onto one point of every beat: RR as regular as the rhythm
    offsets = np.asarray(t.r_samples) - r_true
    assert np.ptp(offsets) <= 2 * max(1, int(fs / 1000)), offsets


def test_without_alignment_the_same_beats_split() -> None:
    """The test above can fail: with no room to align, half the beats leave the cluster."""
    t, _, _ = _typed(15.0, align_ms=0.0)
    assert "ventricular" in t.kinds


def test_a_gap_in_some_leads_types_no_beat_ventricular() -> None:
    # the conditioned signal is zero where a lead was not recorded; compared in every lead,
    # the beats in a gap of a tall-QRS lead lost their correlation and typed ventricular
    # (CPSC A1980 with V3 missing over its last second read atrial bigeminy as AF)
    s = synthetic_ecg(rate_bpm=75, seed=3)
    fs = s.ecg.sampling_rate_hz
    x = s.ecg.signal_uv.astype(float).copy()
    tall = np.argsort(np.ptp(x, axis=1))[-3:]  # the three tallest QRS complexes
    x[tall, int(6.0 * fs):] = np.nan
    cond = condition(x, fs)
    signals = {"signal_uv": cond.signal_uv, "qrs_smooth_uv": cond.qrs_smooth_uv,
               "pt_smooth_uv": cond.pt_smooth_uv}
    r = np.array([int(round(b.r_s * fs)) for b in s.beats])
    usable = np.ones(x.shape[0], bool)
    typed = type_beats(signals, fs, r, usable, np.zeros(0, int), valid=cond.valid)
    assert set(typed.kinds) == {"dominant"}, typed.kinds
    blind = type_beats(signals, fs, r, usable, np.zeros(0, int))
    assert "ventricular" in blind.kinds  # what it read without the recorded-lead mask


def test_correlation_over_recorded_leads_equals_the_plain_one_when_all_are() -> None:
    from ecgread.models.beats import _aligned_corr

    rng = np.random.default_rng(2)
    lagged = rng.normal(size=(4, 6, 5, 30))
    template = rng.normal(size=(4, 30))
    plain = _aligned_corr(lagged, template)
    masked = _aligned_corr(lagged, template, np.ones((4, 6), bool))
    np.testing.assert_allclose(masked[0], plain[0], rtol=1e-9)
    np.testing.assert_array_equal(masked[1], plain[1])

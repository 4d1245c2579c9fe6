"""Global PR and QT from the per-lead waves (models.wave_intervals), as analyze uses them."""

from __future__ import annotations

import pytest

from ecgread.models.analysis import WAVE_INTERVALS, analyze
from ecgread.models.dsp_config import AnalysisConfig
from ecgread.models.results import Beat, Wave
from ecgread.models.wave_intervals import WaveIntervalConfig, intervals_from_waves
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg


def _lead(shift_s: float) -> tuple[Wave, ...]:
    return (Wave("P", 0.40 + shift_s, 0.45, 0.50),
            Wave("QRS", 0.60 + shift_s, 0.64, 0.70 + shift_s),
            Wave("T", 0.90, 1.00, 1.10 + shift_s))


def test_earliest_onset_latest_offset_second_earliest_p() -> None:
    waves = {"I": _lead(0.0), "II": _lead(0.01), "V1": _lead(0.02)}
    beats = (Beat(0.64, "dominant", p_wave=True),)
    got = intervals_from_waves(waves, beats, min_beats=1)
    assert got["qrs_ms"] == pytest.approx(120)  # 0.60 .. 0.72
    assert got["pr_ms"] == pytest.approx(190)  # second earliest P onset 0.41
    assert got["qt_ms"] == pytest.approx(520)  # 0.60 .. 1.12


def test_an_early_p_onset_in_two_leads_does_not_stretch_the_pr() -> None:
    """GE MUSE sample: limb-lead P onsets 207-221 ms before the R wave, V3 and V6 (small P
    waves) 246 and 276: the second earliest made the PR 178 ms against 12SL's 144. P onsets
    more than ``p_onset_outlier_s`` before the median of the leads are not used."""
    shifts = {"I": 0.0, "II": -0.005, "III": 0.005, "aVF": 0.0, "V3": -0.035, "V6": -0.065}
    waves = {ld: (Wave("P", 0.40 + d, 0.45, 0.50), Wave("QRS", 0.60, 0.64, 0.70))
             for ld, d in shifts.items()}
    beats = (Beat(0.64, "dominant", p_wave=True),)
    got = intervals_from_waves(waves, beats, min_beats=1)
    assert got["pr_ms"] == pytest.approx(200)  # second earliest of 0.395..0.405
    keep_all = WaveIntervalConfig(p_onset_outlier_s=1.0)
    assert intervals_from_waves(waves, beats, keep_all, min_beats=1)["pr_ms"] == pytest.approx(
        235)  # V3's 0.365


def test_p_wave_of_the_beat_itself_only() -> None:
    """At 165/min the 400 ms PR window reaches back to the previous beat's P wave (a PR of
    481 ms and a P wave of 474 ms); in 2:1 block it holds the blocked P wave. The P wave
    of a beat peaks after the previous beat's QRS and is each lead's latest before its own."""
    def lead(d: float) -> tuple[Wave, ...]:
        return (Wave("QRS", 0.00 + d, 0.04, 0.08), Wave("P", 0.22 + d, 0.25, 0.30),
                Wave("QRS", 0.36 + d, 0.40, 0.44), Wave("P", 0.58 + d, 0.61, 0.66),
                Wave("QRS", 0.72 + d, 0.76, 0.80))
    waves = {"I": lead(0.0), "II": lead(0.005), "V1": lead(0.01)}
    beats = tuple(Beat(t, "dominant", p_wave=True) for t in (0.04, 0.40, 0.76))
    got = intervals_from_waves(waves, beats, min_beats=1)
    assert got["pr_ms"] == pytest.approx(135)  # second earliest onsets 0.225 and 0.585
    assert got["p_ms"] == pytest.approx(75)
    # atrial tachycardia at 250/min with 2:1 block: the blocked P wave lies in the window
    blocked = {ld: (Wave("P", 0.21, 0.24, 0.29), Wave("P", 0.45, 0.48, 0.53),
                    Wave("QRS", 0.64 + d, 0.68, 0.74)) for ld, d in (("I", 0), ("II", .01),
                                                                    ("V1", .02))}
    two_to_one = intervals_from_waves(blocked, (Beat(0.68, "dominant", p_wave=True),),
                                      min_beats=1)
    assert two_to_one["pr_ms"] == pytest.approx(190)  # the conducted P wave, not 430


def test_fast_sinus_rhythm_has_no_long_pr() -> None:
    """Synthetic sinus tachycardia at 165/min read PR 481 ms and first-degree AV block."""
    from tests.synthetic_rhythm import synthetic_rhythm

    a = analyze(synthetic_rhythm("sinus", seed=0, rate_bpm=165).ecg, models=shipped_models())
    assert a.measurements.pr_ms is not None and a.measurements.pr_ms < 200
    assert "1AVB" not in {s.code for s in a.statements}


def test_no_p_decision_no_pr_and_too_few_leads_nothing() -> None:
    waves = {"I": _lead(0.0), "II": _lead(0.01), "V1": _lead(0.02)}
    assert intervals_from_waves(waves, (Beat(0.64, "dominant"),), min_beats=1)["pr_ms"] is None
    assert intervals_from_waves(waves, (Beat(0.64, "dominant"),), min_beats=1)["p_ms"] is None
    two = {"I": _lead(0.0), "II": _lead(0.01)}
    assert intervals_from_waves(two, (Beat(0.64, "dominant", p_wave=True),), min_beats=1) == {
        "p_ms": None, "pr_ms": None, "qrs_ms": None, "qt_ms": None}
    ectopic = (Beat(0.64, "ventricular", p_wave=True),)
    assert intervals_from_waves(waves, ectopic, min_beats=1)["qrs_ms"] is None


@pytest.mark.parametrize("rate_bpm", [60, 90, 140])
def test_fused_pr_and_qt_match_the_synthetic_truth(rate_bpm: float) -> None:
    s = synthetic_ecg(rate_bpm=rate_bpm, seed=11)
    fused = analyze(s.ecg, models=shipped_models()).measurements
    dsp = analyze(s.ecg, AnalysisConfig(delineator="dsp")).measurements
    b = s.beats[2]
    assert fused.pr_ms == pytest.approx(1000 * (b.qrs_onset_s - b.p_onset_s), abs=12)
    assert fused.qt_ms == pytest.approx(1000 * (b.t_offset_s - b.qrs_onset_s), abs=20)
    assert fused.qrs_ms == dsp.qrs_ms  # QRS duration stays the DSP engine's
    assert "qrs_ms" not in WAVE_INTERVALS
    # QTc from the unrounded QT and RR, all three reported in whole ms
    assert fused.qtc_bazett_ms == pytest.approx(fused.qt_ms / (fused.rr_ms / 1000) ** 0.5,
                                                abs=1.0)


def test_no_pr_in_atrial_fibrillation_with_the_neural_waves() -> None:
    m = analyze(synthetic_ecg(rate_bpm=100, af=True, seed=11).ecg,
                models=shipped_models()).measurements
    assert m.pr_ms is None and "pr_ms" in m.unmeasured


def test_config_is_validated() -> None:
    from ecgread.errors import ConfigError

    with pytest.raises(ConfigError):
        WaveIntervalConfig(p_onset_rank=4, min_leads=3)
    with pytest.raises(ConfigError):
        WaveIntervalConfig(max_pr_s=1.0)

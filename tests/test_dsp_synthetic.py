"""The DSP engine on seeded synthetic ECGs with known boundaries (tests/synthetic.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.models.analysis import analyze
from tests.neural_helpers import shipped_models
from tests.synthetic import Synthetic, synthetic_ecg


def _matched(s: Synthetic, r_s: np.ndarray, tol_s: float = 0.06) -> tuple[int, int]:
    truth = np.array([b.r_s for b in s.beats])
    found = sum(np.min(np.abs(r_s - t)) <= tol_s for t in truth) if r_s.size else 0
    return int(found), int(r_s.size - found)


def _lead_waves(a, lead: str, wtype: str):  # noqa: ANN001, ANN202
    return [w for w in a.waves[lead] if w.type == wtype]


def _boundary_errors_ms(s: Synthetic, a, lead: str = "II") -> dict[str, float]:  # noqa: ANN001
    """Median |error| per boundary over beats, lead II against the truth."""
    out: dict[str, list[float]] = {}
    for b in s.beats:
        for wtype, on, off in (("QRS", b.qrs_onset_s, b.qrs_offset_s),
                               ("T", b.t_onset_s, b.t_offset_s),
                               ("P", b.p_onset_s, b.p_offset_s)):
            if on is None:
                continue
            ws = [w for w in _lead_waves(a, lead, wtype) if on - 0.05 <= w.peak_s <= off + 0.05]
            if ws:
                out.setdefault(f"{wtype} onset", []).append(1000 * abs(ws[0].onset_s - on))
                out.setdefault(f"{wtype} offset", []).append(1000 * abs(ws[0].offset_s - off))
    return {k: float(np.median(v)) for k, v in out.items()}


@pytest.mark.parametrize("rate_bpm,fs", [(30, 500), (60, 250), (75, 1000), (220, 500)])
def test_detection_and_boundaries_across_rates_and_sampling(rate_bpm: float, fs: float) -> None:
    s = synthetic_ecg(rate_bpm=rate_bpm, fs=fs, seed=1)
    a = analyze(s.ecg, models=shipped_models())
    r_s = np.array([b.r_s for b in a.beats])
    found, extra = _matched(s, r_s)
    assert found == len(s.beats) and extra == 0
    err = _boundary_errors_ms(s, a)
    assert err["QRS onset"] <= 20 and err["QRS offset"] <= 20
    m = a.measurements
    assert m.heart_rate_bpm == pytest.approx(rate_bpm, rel=0.05)
    true_qrs = 1000 * (s.beats[0].qrs_offset_s - s.beats[0].qrs_onset_s)
    assert m.qrs_ms is not None and abs(m.qrs_ms - true_qrs) <= 20
    if rate_bpm <= 120:
        assert err["T offset"] <= 40 and err["P onset"] <= 25
        b = s.beats[1]
        assert m.pr_ms is not None and abs(m.pr_ms - 1000 * (b.qrs_onset_s - b.p_onset_s)) <= 20
        assert m.qt_ms is not None and abs(m.qt_ms - 1000 * (b.t_offset_s - b.qrs_onset_s)) <= 45
        assert a.rhythm.p_wave_ratio == pytest.approx(1.0)


def test_atrial_fibrillation_has_no_p_waves() -> None:
    for seed in (0, 1, 2):
        s = synthetic_ecg(rate_bpm=95, af=True, seed=seed)
        a = analyze(s.ecg, models=shipped_models())
        assert _matched(s, np.array([b.r_s for b in a.beats])) == (len(s.beats), 0)
        assert sum(len(_lead_waves(a, lead, "P")) for lead in a.waves) == 0
        assert a.measurements.pr_ms is None and a.measurements.p_ms is None
        assert "atrial fibrillation" in a.measurements.unmeasured["pr_ms"]
        assert a.rhythm.p_wave_ratio == 0.0 and a.rhythm.rr_irregularity > 0.1


def test_wide_qrs_is_measured_wide() -> None:
    s = synthetic_ecg(rate_bpm=70, wide_qrs=True, seed=2)
    a = analyze(s.ecg, models=shipped_models())
    assert _matched(s, np.array([b.r_s for b in a.beats])) == (len(s.beats), 0)
    assert a.measurements.qrs_ms is not None and a.measurements.qrs_ms >= 150
    assert all(b.kind == "dominant" for b in a.beats)


def test_pacing_spikes_detected_and_beats_paced() -> None:
    s = synthetic_ecg(rate_bpm=70, paced=True, seed=3)
    a = analyze(s.ecg, models=shipped_models())
    assert _matched(s, np.array([b.r_s for b in a.beats])) == (len(s.beats), 0)
    spikes = np.array(a.rhythm.pacing_spikes_s)
    assert spikes.size == len(s.pacing_spikes_s)
    assert np.max(np.abs(spikes - np.array(s.pacing_spikes_s))) <= 0.004
    assert all(b.paced and b.kind == "paced" for b in a.beats)
    true_qrs = 1000 * (s.beats[0].qrs_offset_s - s.beats[0].qrs_onset_s)
    assert a.measurements.qrs_ms is not None and abs(a.measurements.qrs_ms - true_qrs) <= 20


def test_flat_lead_is_excluded_and_said_so() -> None:
    s = synthetic_ecg(rate_bpm=70, flat_lead="V3", seed=4)
    a = analyze(s.ecg, models=shipped_models())
    v3 = next(q for q in a.quality.leads if q.lead == "V3")
    assert not v3.usable and "flat" in v3.problems
    assert "V3" not in a.waves and "V3" not in a.amplitudes
    assert any("V3" in p and "excluded" in p for p in a.quality.problems)
    assert any("V3" in n for n in a.notes)
    assert a.quality.usable and a.measurements.qrs_ms is not None


def test_noise_wander_and_mains_are_handled() -> None:
    s = synthetic_ecg(rate_bpm=80, noise_uv=25.0, wander_uv=800.0, mains_uv=80.0, seed=5)
    a = analyze(s.ecg, models=shipped_models())
    assert _matched(s, np.array([b.r_s for b in a.beats])) == (len(s.beats), 0)
    lead_ii = next(q for q in a.quality.leads if q.lead == "II")
    assert "baseline wander" in lead_ii.problems and lead_ii.usable
    err = _boundary_errors_ms(s, a)
    assert err["QRS onset"] <= 20 and err["QRS offset"] <= 20 and err["T offset"] <= 45


def test_heavy_noise_lead_flagged() -> None:
    s = synthetic_ecg(rate_bpm=70, seed=6)
    sig = s.ecg.signal_uv.copy()
    sig[7] += np.random.default_rng(0).normal(0, 400, sig.shape[1]).astype(np.float32)
    a = analyze(type(s.ecg)(sig, s.ecg.sampling_rate_hz, s.ecg.lead_names),
                models=shipped_models())
    v2 = next(q for q in a.quality.leads if q.lead == "V2")
    assert "heavy noise" in v2.problems
    assert _matched(s, np.array([b.r_s for b in a.beats])) == (len(s.beats), 0)


def test_json_contract_and_versions() -> None:
    a = analyze(synthetic_ecg(rate_bpm=60, seed=7).ecg, models=shipped_models())
    j = a.to_json_dict()
    assert "dsp-1.7" in j["versions"]["delineator"]
    assert "ecgread" not in j["versions"]  # the edge adds it (test_cli checks the JSON)
    assert set(j["measurements"]) >= {"pr_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms"}
    rep = a.representative_beat
    assert rep["leads"]["II"].ndim == 1 and rep["fiducials_s"]["qrs_onset"] < 0
    assert "representative_beat" not in j
    amp = a.amplitudes["II"]
    assert amp.r_uv is not None and amp.r_uv > 500 and amp.r_peak_time_ms is not None
    assert a.measurements.qrs_axis_deg is not None and 20 < a.measurements.qrs_axis_deg < 90


def test_mains_notch_only_where_mains_is_present() -> None:
    from ecgread.models.conditioning import notch_mains

    clean = synthetic_ecg(seed=3, noise_uv=5.0).ecg.signal_uv.astype(np.float64)
    out, found = notch_mains(clean, 500.0)
    assert found == () and out is clean  # nothing detected, nothing touched
    hum = synthetic_ecg(seed=3, noise_uv=5.0, mains_uv=100.0, mains_hz=60.0).ecg.signal_uv
    out, found = notch_mains(hum.astype(np.float64), 500.0)
    assert found == (60.0,)
    resid = out[:, 500:-500] - clean[:, 500:-500]
    assert float(np.sqrt(np.mean(resid ** 2))) < 10.0  # 71 µV RMS of hum removed

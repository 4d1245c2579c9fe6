"""models.augment: each transformation does what it says and nothing else, and read_changes
flags exactly the properties that moved beyond their tolerance."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgread.models import augment
from ecgread.models.analysis import analyze
from ecgread.models.dsp_config import AnalysisConfig
from ecgread.models.ecg import STANDARD_LEADS, Ecg
from ecgread.models.results import Statement
from tests.synthetic import synthetic_ecg

ECG = synthetic_ecg(rate_bpm=70, fs=500.0, duration_s=10.0, seed=2).ecg


def _spectrum_peak_hz(x: np.ndarray, fs: float) -> float:
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    return float(f[np.argmax(np.abs(np.fft.rfft(x - x.mean())))])


def test_transformations_are_pure() -> None:
    before = ECG.signal_uv.copy()
    for fn in (lambda e: augment.scale_gain(e, 2.0), lambda e: augment.resample(e, 250.0),
               lambda e: augment.add_mains(e), lambda e: augment.add_baseline_wander(e),
               lambda e: augment.add_emg_noise(e, "V2"), lambda e: augment.flatten_lead(e, "V2"),
               lambda e: augment.keep_leads(e, ("II",)), lambda e: augment.crop(e, 1.0)):
        out = fn(ECG)
        assert out is not ECG and out.signal_uv.dtype == np.float32
        assert out.acquisition == ECG.acquisition
    assert np.array_equal(ECG.signal_uv, before)


@given(g=st.floats(0.1, 10.0))
def test_gain_scales_every_lead(g: float) -> None:
    out = augment.scale_gain(ECG, g)
    assert np.allclose(out.signal_uv, ECG.signal_uv * g, rtol=1e-5, atol=1e-3)


def test_per_lead_gain_and_its_length_check() -> None:
    gains = np.linspace(0.3, 3.0, 12)
    out = augment.scale_gain(ECG, gains)
    assert np.allclose(out.signal_uv[11], ECG.signal_uv[11] * 3.0, rtol=1e-5, atol=1e-3)
    assert np.allclose(out.signal_uv[0], ECG.signal_uv[0] * 0.3, rtol=1e-5, atol=1e-3)
    with pytest.raises(ValueError):
        augment.scale_gain(ECG, [1.0, 2.0])


@pytest.mark.parametrize("rate", [100.0, 250.0, 360.0, 1000.0, 2000.0])
def test_resampling_keeps_duration_frequency_and_amplitude(rate: float) -> None:
    t = np.arange(5000) / 500.0
    tone = Ecg((1000 * np.sin(2 * np.pi * 7.0 * t))[None, :].astype(np.float32), 500.0, ("II",))
    out = augment.resample(tone, rate)
    assert out.sampling_rate_hz == rate
    assert out.n_samples == round(5000 * rate / 500.0)
    assert _spectrum_peak_hz(out.signal_uv[0], rate) == pytest.approx(7.0, abs=0.15)
    mid = out.signal_uv[0][out.n_samples // 4: 3 * out.n_samples // 4]
    assert np.max(np.abs(mid)) == pytest.approx(1000.0, rel=0.02)


def test_resampling_keeps_padding_as_nan() -> None:
    sig = ECG.signal_uv.copy()
    sig[3, :500] = np.nan  # the first second of aVR missing
    out = augment.resample(dataclasses.replace(ECG, signal_uv=sig), 250.0)
    assert np.isnan(out.signal_uv[3, :240]).all()
    assert np.isfinite(out.signal_uv[3, 260:]).all() and np.isfinite(out.signal_uv[0]).all()


@pytest.mark.parametrize("hz", [50.0, 60.0])
def test_mains_adds_exactly_the_hum(hz: float) -> None:
    out = augment.add_mains(ECG, hz, 100.0)
    diff = (out.signal_uv - ECG.signal_uv).astype(np.float64)
    assert np.allclose(diff, diff[0], atol=0.05)  # the same hum in every lead
    assert np.sqrt(np.mean(diff[0] ** 2)) == pytest.approx(100.0 / np.sqrt(2), rel=0.005)
    assert _spectrum_peak_hz(diff[0], 500.0) == pytest.approx(hz, abs=0.1)


def test_baseline_wander_is_slow_and_of_the_given_size() -> None:
    out = augment.add_baseline_wander(ECG, 1000.0, 0.3)
    diff = (out.signal_uv - ECG.signal_uv)[0].astype(np.float64)
    assert np.ptp(diff) == pytest.approx(1000.0, rel=0.01)
    assert _spectrum_peak_hz(diff, 500.0) == pytest.approx(0.3, abs=0.1)


def test_mains_and_wander_per_lead() -> None:
    amp = np.zeros(12)
    amp[[2, 7]] = [50.0, 200.0]
    hz = np.where(np.arange(12) == 7, 60.0, 50.0)
    diff = (augment.add_mains(ECG, hz, amp).signal_uv - ECG.signal_uv).astype(np.float64)
    assert np.abs(np.delete(diff, [2, 7], axis=0)).max() == 0.0
    assert np.sqrt(np.mean(diff[2] ** 2)) == pytest.approx(50.0 / np.sqrt(2), rel=0.005)
    assert _spectrum_peak_hz(diff[2], 500.0) == pytest.approx(50.0, abs=0.1)
    assert np.sqrt(np.mean(diff[7] ** 2)) == pytest.approx(200.0 / np.sqrt(2), rel=0.005)
    assert _spectrum_peak_hz(diff[7], 500.0) == pytest.approx(60.0, abs=0.1)
    drift = augment.add_baseline_wander(ECG, np.linspace(0.0, 1100.0, 12), 0.3)
    ptp = np.ptp((drift.signal_uv - ECG.signal_uv).astype(np.float64), axis=1)
    assert np.allclose(ptp, np.linspace(0.0, 1100.0, 12), rtol=0.01, atol=0.5)
    with pytest.raises(ValueError):
        augment.add_mains(ECG, 50.0, [1.0, 2.0])


def test_emg_noise_goes_into_one_lead_at_the_given_rms_and_is_seeded() -> None:
    out = augment.add_emg_noise(ECG, "V2", 150.0, seed=4)
    diff = (out.signal_uv - ECG.signal_uv).astype(np.float64)
    i = STANDARD_LEADS.index("V2")
    assert np.sqrt(np.mean(diff[i] ** 2)) == pytest.approx(150.0, rel=0.01)
    assert np.abs(np.delete(diff, i, axis=0)).max() == 0.0
    power = np.abs(np.fft.rfft(diff[i])) ** 2
    f = np.fft.rfftfreq(diff[i].size, 1 / 500.0)
    assert power[f < 10].sum() < 0.01 * power.sum()  # muscle noise, not wander
    assert np.array_equal(out.signal_uv, augment.add_emg_noise(ECG, "V2", 150.0, seed=4).signal_uv)
    assert not np.array_equal(out.signal_uv,
                              augment.add_emg_noise(ECG, "V2", 150.0, seed=5).signal_uv)


def test_flat_lead_is_flat_and_alone() -> None:
    out = augment.flatten_lead(ECG, "V2")
    i = STANDARD_LEADS.index("V2")
    assert np.std(out.signal_uv[i]) < 2.0
    assert np.array_equal(np.delete(out.signal_uv, i, 0), np.delete(ECG.signal_uv, i, 0))


def test_keep_leads_in_the_order_asked() -> None:
    out = augment.keep_leads(ECG, ("V1", "I"))
    assert out.lead_names == ("V1", "I")
    assert np.array_equal(out.signal_uv[1], ECG.signal_uv[0])
    with pytest.raises(KeyError):
        augment.keep_leads(ECG, ("I", "X"))


def test_crop_keeps_the_window() -> None:
    out = augment.crop(ECG, 1.0, 3.5)
    assert out.n_samples == 1250
    assert np.array_equal(out.signal_uv, ECG.signal_uv[:, 500:1750])
    assert augment.crop(ECG, 1.0).n_samples == 4500
    with pytest.raises(ValueError):
        augment.crop(ECG, 11.0)


def test_modulated_diastoles_keep_every_wave_and_the_mean_rate() -> None:
    """The P-QRS-T of each beat keeps its samples; the RRs follow the breathing cycle
    (their range about 2 x depth x the mean RR) and keep their sum within a sample per
    beat, the depth lowered where a diastole would shrink below a third."""
    s = synthetic_ecg(rate_bpm=60, fs=500.0, duration_s=10.0, seed=3)
    b = s.beats
    spans = [(b0.t_offset_s + 0.04, b1.p_onset_s - 0.04)  # type: ignore[operator]
             for b0, b1 in zip(b, b[1:], strict=False)]
    fs, x = 500.0, s.ecg.signal_uv
    r = np.array([round(beat.r_s * fs) for beat in b])
    n = np.array([round(hi * fs) - round(lo * fs) for lo, hi in spans])
    for depth in (0.1, 0.2, 0.6):
        y = augment.modulate_diastole(s.ecg, spans, depth, 4.0).signal_uv
        assert abs(y.shape[1] - x.shape[1]) <= len(spans)
        # each beat found again, unchanged, where the RR changes put it
        r_new = [int(r[0])]
        for k in range(1, r.size):
            seg = x[:, r[k] - 50:r[k] + 50]
            lo = r_new[-1] + 200
            hits = [i for i in range(lo, min(lo + 2000, y.shape[1] - 50))
                    if np.array_equal(y[:, i - 50:i + 50], seg)]
            assert len(hits) == 1, (depth, k)
            r_new.append(hits[0])
        change = np.diff(r_new) - np.diff(r)  # samples, each diastole's
        if depth < 0.5:
            assert np.ptp(change) == pytest.approx(2 * depth * fs, rel=0.15), depth
        else:  # the depth lowered: the most shortened diastole at a third of its length
            assert np.min(change / n) == pytest.approx(-2 / 3, abs=0.01)
        assert abs(np.sum(np.diff(r_new)) - np.sum(np.diff(r))) <= len(spans)
    assert np.array_equal(y[:, :round(spans[0][0] * fs)], x[:, :round(spans[0][0] * fs)])
    with pytest.raises(ValueError):
        augment.modulate_diastole(s.ecg, spans[:1])
    with pytest.raises(ValueError):
        augment.modulate_diastole(s.ecg, spans[::-1])


def test_diastoles_of_a_read_lie_between_t_and_p() -> None:
    s = synthetic_ecg(rate_bpm=60, fs=500.0, duration_s=10.0, seed=3)
    spans = augment.diastoles(analyze(s.ecg, AnalysisConfig(delineator="dsp")))
    assert spans is not None and len(spans) == len(s.beats) - 1
    for (lo, hi), b0, b1 in zip(spans, s.beats, s.beats[1:], strict=False):
        assert b0.t_offset_s < lo < hi < b1.p_onset_s  # type: ignore[operator]


def test_read_changes_flags_exactly_what_moved() -> None:
    a = analyze(ECG, AnalysisConfig(delineator="dsp"))
    assert augment.read_changes(a, a) == ()
    assert augment.rhythm_families(a) == frozenset({"sinus"})
    m = a.measurements
    within = dataclasses.replace(a, measurements=dataclasses.replace(
        m, heart_rate_bpm=m.heart_rate_bpm + 2.9, qt_ms=m.qt_ms - 19.0))
    assert augment.read_changes(a, within) == ()
    beyond = dataclasses.replace(a, measurements=dataclasses.replace(
        m, qrs_ms=m.qrs_ms + 13.0, pr_ms=None))
    assert {c.property for c in augment.read_changes(a, beyond)} == {"qrs_ms", "pr_ms"}
    vt = Statement(code="VT", text="Ventricular tachycardia", category="rhythm",
                   certainty="definite", evidence=(), critical=True, source="criteria")
    other = dataclasses.replace(a, statements=(vt,))
    props = {c.property: c for c in augment.read_changes(a, other)}
    assert set(props) == {"rhythm", "critical"}
    assert props["rhythm"].after == "ventricular" and props["critical"].after == "VT"


@settings(max_examples=20, deadline=None)
@given(rate=st.sampled_from([100.0, 250.0, 500.0, 1000.0]), g=st.floats(0.3, 3.0))
def test_resample_then_gain_commute(rate: float, g: float) -> None:
    a = augment.scale_gain(augment.resample(ECG, rate), g).signal_uv
    b = augment.resample(augment.scale_gain(ECG, g), rate).signal_uv
    assert np.allclose(a, b, rtol=1e-4, atol=0.05 * g)


def test_training_augmentation_is_seeded_and_prepared_as_at_inference() -> None:
    from ecgread.models.neural.preprocess import padded_length
    from ecgread.workers.training.train_delineator import (
        AcquisitionAugmentation,
        augment_acquisition,
    )

    x = ECG.signal_uv[:, :2560]
    aug = AcquisitionAugmentation(dropout_probability=0.5)
    a, drop_a = augment_acquisition(x, 500.0, np.random.default_rng(7), aug)
    b, drop_b = augment_acquisition(x, 500.0, np.random.default_rng(7), aug)
    c, _ = augment_acquisition(x, 500.0, np.random.default_rng(8), aug)
    assert np.array_equal(a, b) and np.array_equal(drop_a, drop_b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == (12, padded_length(1280))
    assert drop_a.any() and not drop_a.all()
    # a dropped lead is the 1 µV flat line, below the 20 µV normalisation floor
    assert np.abs(a[drop_a]).max() < 0.5 < np.abs(a[~drop_a]).max()


@pytest.mark.parametrize("electrode", ["LA", "RA", "LL"])
def test_limb_tremor_obeys_einthoven(electrode: str) -> None:
    """I + III = II and aVR + aVL + aVF = 0 hold for the added tremor; the lead that does
    not touch the electrode gets none; every precordial lead gets the same third of it."""
    e = Ecg(np.zeros((12, 5000), np.float32), 500.0, STANDARD_LEADS)
    t = augment.add_limb_tremor(e, electrode, 150.0, 4.6).signal_uv.astype(np.float64)
    lead = {name: t[i] for i, name in enumerate(STANDARD_LEADS)}
    assert np.allclose(lead["I"] + lead["III"], lead["II"], atol=1e-3)
    assert np.allclose(lead["aVR"] + lead["aVL"] + lead["aVF"], 0.0, atol=1e-3)
    untouched = {"LA": "II", "RA": "III", "LL": "I"}[electrode]
    assert np.abs(lead[untouched]).max() < 1e-3
    assert max(np.abs(lead[n]).max() for n in ("I", "II", "III")) > 140.0
    for v in ("V2", "V3", "V4", "V5", "V6"):
        assert np.allclose(lead[v], lead["V1"], atol=1e-3)


def test_motion_burst_stays_in_its_window() -> None:
    e = Ecg(np.zeros((12, 5000), np.float32), 500.0, STANDARD_LEADS)
    x = augment.add_motion_burst(e, 4.0, 2.0, 1000.0, 2.0).signal_uv
    assert np.abs(x[:, :2000]).max() == 0 and np.abs(x[:, 3001:]).max() == 0
    assert 900.0 < np.abs(x).max() <= 1000.0


def test_low_pass_keeps_the_slow_waves_and_takes_a_spike_away() -> None:
    import numpy as np

    from ecgread.models import augment
    from ecgread.models.ecg import Ecg

    fs = 500.0
    t = np.arange(5000) / fs
    x = 500 * np.sin(2 * np.pi * 2.0 * t)
    x[2500] += 2000.0  # a 2 ms pacing-like spike
    out = augment.low_pass(Ecg(x[None].astype(np.float32), fs, ("II",)), 40.0).lead("II")
    assert abs(out[1000] - x[1000]) < 5.0  # 2 Hz passes
    assert out[2500] - 500 * np.sin(2 * np.pi * 2.0 * t[2500]) < 400.0  # the spike does not

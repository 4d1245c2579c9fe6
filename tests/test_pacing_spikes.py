"""Pacing spikes: corroborated across leads, never from noise in one lead, and not searched
where the sampling rate cannot show them (models/conditioning.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.models.analysis import analyze
from ecgread.models.conditioning import PACING_MIN_FS_HZ, condition
from ecgread.models.dsp_config import AnalysisConfig
from ecgread.models.ecg import STANDARD_LEADS, Ecg
from tests.synthetic import synthetic_ecg
from tests.synthetic_rhythm import synthetic_rhythm

DSP = AnalysisConfig(delineator="dsp")
PACED = {"APACED", "VPACED", "AVPACED"}


def _with_lead_noise(ecg: Ecg, lead: str, seed: int) -> Ecg:
    """About 1 mV of white noise and baseline wander in one lead only."""
    rng = np.random.default_rng(seed)
    x = ecg.signal_uv.astype(np.float64)
    n = x.shape[1]
    t = np.arange(n) / ecg.sampling_rate_hz
    i = ecg.lead_names.index(lead)
    x[i] += rng.normal(0.0, 300.0, n) + 1000.0 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))
    return Ecg(x.astype(np.float32), ecg.sampling_rate_hz, ecg.lead_names, source=ecg.source)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
def test_noise_and_wander_in_one_lead_is_not_pacing(fs: float, seed: int) -> None:
    ecg = _with_lead_noise(synthetic_rhythm("sinus", seed=seed, fs=fs).ecg, "V2", seed)
    a = analyze(ecg, DSP)
    assert a.rhythm.pacing_spikes_s == ()
    assert not {s.code for s in a.statements} & PACED
    assert not any(b.paced for b in a.beats)


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
def test_spikes_found_at_any_rate_from_500_hz(fs: float) -> None:
    s = synthetic_ecg(rate_bpm=70, paced=True, seed=3, fs=fs)
    a = analyze(s.ecg, DSP)
    spikes = np.array(a.rhythm.pacing_spikes_s)
    assert spikes.size == len(s.pacing_spikes_s)
    assert np.max(np.abs(spikes - np.array(s.pacing_spikes_s))) <= 0.004
    assert "VPACED" in {st.code for st in a.statements}
    assert not any("pacing spikes not assessed" in n for n in a.notes)


@pytest.mark.parametrize("fs", [100.0, 250.0])
def test_below_500_hz_pacing_is_not_assessed(fs: float) -> None:
    assert fs < PACING_MIN_FS_HZ
    s = synthetic_ecg(rate_bpm=70, paced=True, seed=3, fs=fs)
    a = analyze(s.ecg, DSP)
    assert a.rhythm.pacing_spikes_s == ()
    assert not {st.code for st in a.statements} & PACED
    assert any("pacing spikes not assessed" in n for n in a.notes)


def _spike_leads(leads: tuple[str, ...], uv: float = 1500.0) -> np.ndarray:
    """A plain sinus ECG with 1 ms spikes of ``uv`` in ``leads`` only, every 800 ms."""
    ecg = synthetic_rhythm("sinus", seed=5).ecg
    x = ecg.signal_uv.astype(np.float64)
    fs = ecg.sampling_rate_hz
    at = np.arange(0.5, 9.5, 0.8)
    for lead in leads:
        for s in at:
            x[STANDARD_LEADS.index(lead), int(round(s * fs))] += uv
    return condition(x, fs).pacing_spikes


def test_spike_seen_in_two_leads_is_a_spike() -> None:
    assert _spike_leads(("II", "aVF")).size == 12


def test_spike_in_one_lead_of_twelve_is_not() -> None:
    assert _spike_leads(("V2",)).size == 0


def _peaked_waves(width_ms: float, uv: float = 3000.0, fs: float = 500.0) -> np.ndarray:
    """A plain sinus ECG plus, in II and aVF every 800 ms, a sharp-tipped deflection
    ``uv`` * exp(-|t| / width): 3 mV with a 5 ms decay is a tall R wave (its score over 2 ms
    is 1 mV, above the amplitude threshold), 0.3 ms decay a pacing stimulus."""
    ecg = synthetic_rhythm("sinus", seed=5, fs=fs).ecg
    x = ecg.signal_uv.astype(np.float64)
    t = np.arange(x.shape[1]) / fs
    for s in np.arange(0.5, 9.5, 0.8):
        wave = uv * np.exp(-np.abs(t - s) / (width_ms / 1000.0))
        for lead in ("II", "aVF"):
            x[STANDARD_LEADS.index(lead)] += wave
    return condition(x, fs).pacing_spikes


@pytest.mark.parametrize("fs", [500.0, 1000.0])
def test_tall_sharp_r_wave_is_not_a_spike(fs: float) -> None:
    assert _peaked_waves(5.0, fs=fs).size == 0
    assert _peaked_waves(0.3, fs=fs).size == 12

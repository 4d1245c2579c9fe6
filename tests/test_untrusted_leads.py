"""Leads the read cannot trust (issue 10, noise and lead faults): a lead of electrode noise
takes no part in finding the QRS complexes, and a record whose every lead is clipped or
noisy is "technically limited", never a rhythm. Both were found by fuzzing real records
(``bench.invariance``'s 40) with random lead sets, rates, clipping and noise: a two-lead
Holter strip with 2 mV of noise in one lead read 216/min and atrial fibrillation (QTDB
sele0210 at 100 Hz), and LUDB 148 with every lead clipped at 35 % of its peak read atrial
fibrillation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgread.models import augment
from ecgread.models.analysis import analyze
from ecgread.models.ecg import Ecg
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg

RHYTHMS = {"SR", "SBRAD", "STACH", "AF", "AFL", "EAR", "AT", "SVT", "JUNCT", "ACC_JUNCT",
           "VT", "RHYTHM_UNDETERMINED"}


def _two_leads(rate: float, seed: int, fs: float) -> Ecg:
    ecg = synthetic_ecg(rate_bpm=rate, fs=500.0, duration_s=10.0, seed=seed,
                        noise_uv=10.0).ecg
    rows = [ecg.lead_names.index(ld) for ld in ("V5", "II")]
    two = dataclasses.replace(ecg, signal_uv=ecg.signal_uv[rows], lead_names=("V5", "II"))
    return augment.resample(two, fs) if fs != 500.0 else two


@settings(max_examples=6, deadline=None, derandomize=True)
@given(rate=st.floats(50.0, 110.0), seed=st.integers(0, 1000),
       fs=st.sampled_from([100.0, 250.0, 500.0]))
def test_a_lead_of_electrode_noise_takes_no_part_in_qrs_detection(
        rate: float, seed: int, fs: float) -> None:
    clean = _two_leads(rate, seed, fs)
    noisy = clean.signal_uv.copy()
    noisy[1] = np.random.default_rng(seed).normal(0.0, 2000.0, noisy.shape[1])
    models = shipped_models()
    before = analyze(clean, models=models)
    after = analyze(dataclasses.replace(clean, signal_uv=noisy.astype(np.float32)),
                    models=models)
    hr0, hr1 = before.measurements.heart_rate_bpm, after.measurements.heart_rate_bpm
    assert hr0 is not None and hr1 is not None and abs(hr1 - hr0) <= 3.0, (hr0, hr1)
    codes = {s.code for s in after.statements}
    assert "AF" not in codes and not after.critical, codes


@pytest.mark.parametrize("fs", [500.0, 100.0])
def test_every_lead_clipped_is_technically_limited(fs: float) -> None:
    """At 100 Hz too: the clipping is judged at the recorded rate, where the amplifier's
    pinned samples are (the interpolation to 500 Hz rings around them; QTDB sel883 at 100
    Hz clipped at 208 uV read 175/min, AF and a critical rate)."""
    ecg = synthetic_ecg(rate_bpm=72, fs=500.0, duration_s=10.0, seed=5).ecg
    if fs != 500.0:
        ecg = augment.resample(ecg, fs)
    x = ecg.signal_uv.astype(np.float64)
    mid = np.median(x, axis=1, keepdims=True)
    lim = 0.35 * np.abs(x - mid).max(axis=1, keepdims=True)
    a = analyze(dataclasses.replace(ecg, signal_uv=np.clip(x, mid - lim, mid + lim)
                                    .astype(np.float32)), models=shipped_models())
    assert not a.quality.usable
    assert "heavy noise or saturation in every lead" in a.quality.problems
    codes = {s.code for s in a.statements}
    assert "UNINTERPRETABLE" in codes and not codes & RHYTHMS and not a.critical, codes
    # one lead left unclipped is enough to read the rhythm
    one = np.clip(x, mid - lim, mid + lim)
    one[1] = x[1]
    b = analyze(dataclasses.replace(ecg, signal_uv=one.astype(np.float32)),
                models=shipped_models())
    assert b.quality.usable and "SR" in {s.code for s in b.statements}


@settings(max_examples=6, deadline=None, derandomize=True)
@given(rate=st.floats(55.0, 100.0), seed=st.integers(0, 1000), lead=st.sampled_from(
    ["aVL", "III", "V1"]), at=st.floats(0.2, 0.8))
def test_an_electrode_pop_in_one_lead_makes_no_beat(rate: float, seed: int, lead: str,
                                                    at: float) -> None:
    """A 5 mV step (an electrode pop) in one low-amplitude lead between two beats: each lead's slope
    counts at most twice its QRS's (qrs_detect.SLOPE_CAP), so no beat is found at the step
    (LUDB 105 so garbled read a beat there, and a critical NSVT)."""
    s = synthetic_ecg(rate_bpm=rate, fs=500.0, duration_s=10.0, seed=seed, noise_uv=10.0)
    r = np.array([b.r_s for b in s.beats])
    mid = 0.5 * (r[len(r) // 2] + r[len(r) // 2 + 1])
    step_s = mid + (at - 0.5) * 0.4 * float(np.median(np.diff(r)))
    x = s.ecg.signal_uv.copy()
    x[s.ecg.lead_names.index(lead), int(step_s * 500.0):] += 5000.0
    models = shipped_models()
    clean = analyze(s.ecg, models=models)
    popped = analyze(dataclasses.replace(s.ecg, signal_uv=x), models=models)
    assert len(popped.beats) == len(clean.beats)
    assert not any(abs(b.r_s - step_s) < 0.1 for b in popped.beats)
    assert not popped.critical

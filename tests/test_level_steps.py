"""Level steps (electrode pops, models.level_steps): found where a lead's level jumps and
holds, taken out before filtering, and never found in a clean or paced ECG. A 5 mV step in
a one-lead strip read 139/min where the strip ran at 68 (bench.fuzz_reads)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgread.models import augment
from ecgread.models.analysis import analyze
from ecgread.models.level_steps import find_level_steps
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg


@settings(max_examples=8, deadline=None, derandomize=True)
@given(rate=st.floats(50.0, 110.0), seed=st.integers(0, 1000),
       lead=st.sampled_from(["II", "aVL", "V2", "V5"]), n_leads=st.sampled_from([1, 2, 12]),
       shift_mv=st.floats(3.0, 8.0), sign=st.sampled_from([-1.0, 1.0]),
       at_s=st.floats(1.0, 9.9))
def test_a_level_step_is_found_and_taken_out(rate: float, seed: int, lead: str,
                                             n_leads: int, shift_mv: float, sign: float,
                                             at_s: float) -> None:
    ecg = synthetic_ecg(rate_bpm=rate, fs=500.0, duration_s=10.0, seed=seed,
                        noise_uv=10.0).ecg
    if n_leads < 12:
        keep = [lead] + [ld for ld in ("V4", "I") if ld != lead][:n_leads - 1]
        rows = [ecg.lead_names.index(ld) for ld in keep]
        ecg = dataclasses.replace(ecg, signal_uv=ecg.signal_uv[rows], lead_names=tuple(keep))
    row = ecg.lead_names.index(lead)
    at = int(at_s * 500.0)
    x = ecg.signal_uv.copy()
    x[row, at:] += np.float32(sign * shift_mv * 1000.0)
    steps = find_level_steps(x.astype(np.float64), 500.0)
    assert [(s.lead, s.sample) for s in steps] == [(row, at - 1)]
    assert abs(steps[0].shift_uv - sign * shift_mv * 1000.0) < 300.0
    models = shipped_models()
    clean = analyze(ecg, models=models)
    popped = analyze(dataclasses.replace(ecg, signal_uv=x), models=models)
    assert len(popped.beats) == len(clean.beats)
    assert abs((popped.measurements.heart_rate_bpm or 0.0)
               - (clean.measurements.heart_rate_bpm or 0.0)) <= 3.0
    assert any(n.startswith("level step of") and f" in {lead} at " in n
               for n in popped.notes), popped.notes


@settings(max_examples=10, deadline=None, derandomize=True)
@given(rate=st.floats(45.0, 150.0), seed=st.integers(0, 1000), gain=st.floats(0.3, 3.0),
       fs=st.sampled_from([250.0, 500.0, 1000.0]), paced=st.booleans(),
       wide=st.booleans())
def test_no_level_step_in_a_clean_ecg(rate: float, seed: int, gain: float, fs: float,
                                      paced: bool, wide: bool) -> None:
    ecg = synthetic_ecg(rate_bpm=rate, fs=500.0, duration_s=10.0, seed=seed,
                        paced=paced, wide_qrs=wide).ecg
    ecg = augment.scale_gain(ecg, gain)
    if fs != 500.0:
        ecg = augment.resample(ecg, fs)
    assert find_level_steps(ecg.signal_uv.astype(np.float64), fs) == []

"""Property: within every beat and lead, P onset < P offset <= QRS onset < QRS offset
<= T onset < T offset (Hypothesis over rate, sampling rate, noise and seed).

A beat's P wave is the last P whose peak lies between the previous QRS peak and this QRS
peak; its T wave the first T whose peak lies between this QRS peak and the next. The waves
are assigned by their peaks, never by the boundaries under test, so a P that runs into its
QRS or a T that starts inside it is a violation (``test_the_check_finds_overlapping_waves``
shows the check failing on such waves).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from ecgread.models.analysis import analyze
from ecgread.models.results import Wave
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg


def wave_order_violations(waves: Mapping[str, Sequence[Wave]]) -> tuple[list[str], int]:
    """(violations, QRS complexes checked) of the within-beat wave order, per lead."""
    bad: list[str] = []
    checked = 0
    for lead, ws in waves.items():
        for w in ws:
            if not w.onset_s <= w.peak_s <= w.offset_s or not w.onset_s < w.offset_s:
                bad.append(f"{lead}: {w.type} boundaries out of order {w}")
        qrs = sorted((w for w in ws if w.type == "QRS"), key=lambda w: w.peak_s)
        for i, q in enumerate(qrs):
            before = qrs[i - 1].peak_s if i else -math.inf
            after = qrs[i + 1].peak_s if i + 1 < len(qrs) else math.inf
            ps = sorted((w for w in ws if w.type == "P" and before < w.peak_s < q.peak_s),
                        key=lambda w: w.peak_s)
            ts = sorted((w for w in ws if w.type == "T" and q.peak_s < w.peak_s < after),
                        key=lambda w: w.peak_s)
            if ps and ps[-1].offset_s > q.onset_s:
                bad.append(f"{lead}: P {ps[-1]} ends after its QRS {q} begins")
            if ts and ts[0].onset_s < q.offset_s:
                bad.append(f"{lead}: T {ts[0]} begins before its QRS {q} ends")
            checked += 1
    return bad, checked


def test_the_check_finds_overlapping_waves() -> None:
    q = Wave("QRS", 1.00, 1.04, 1.10)
    good = {"II": (Wave("P", 0.80, 0.86, 0.92), q, Wave("T", 1.20, 1.35, 1.50))}
    assert wave_order_violations(good) == ([], 1)
    for broken in (Wave("P", 0.90, 0.96, 1.02),  # P runs into the QRS
                   Wave("T", 1.08, 1.30, 1.45),  # T starts inside the QRS
                   Wave("T", 1.30, 1.20, 1.45)):  # peak before onset
        bad, _ = wave_order_violations({"II": (q, broken)})
        assert len(bad) == 1, (broken, bad)
    inverted = Wave("QRS", 1.10, 1.10, 1.00)
    assert wave_order_violations({"V1": (inverted,)})[0]


@settings(max_examples=12, deadline=None)
@given(rate=st.floats(35, 180), fs=st.sampled_from([250.0, 500.0, 1000.0]),
       noise=st.floats(0, 40), seed=st.integers(0, 10_000), af=st.booleans())
def test_wave_order_within_each_beat(rate: float, fs: float, noise: float, seed: int,
                                     af: bool) -> None:
    s = synthetic_ecg(rate_bpm=rate, fs=fs, noise_uv=noise, seed=seed, af=af, duration_s=6.0)
    bad, checked = wave_order_violations(analyze(s.ecg, models=shipped_models()).waves)
    assert not bad, bad[:5]
    assert checked > 0

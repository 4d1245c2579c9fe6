"""Delineation scoring (ecgread.models.scoring) on hand-made waves: one-to-one matching
within the window, closest pairs first, only inside the annotated span, errors in ms."""

from __future__ import annotations

import math

import pytest

from ecgread.models.results import Wave
from ecgread.models.scoring import ERROR_KEYS, DelineationScore, score_delineation


def test_each_reference_wave_matches_at_most_one_detection_closest_first() -> None:
    ref = {"II": [Wave("QRS", 1.00, 1.05, 1.10), Wave("QRS", 1.90, 2.00, 2.10)]}
    det = {"II": [Wave("QRS", 1.02, 1.06, 1.12),  # 10 ms from the first: its match
                  Wave("QRS", 0.99, 1.02, 1.08),  # 30 ms from the first, already taken: FP
                  Wave("QRS", 1.80, 1.84, 1.95)]}  # 160 ms from the second: outside 150 ms
    s = score_delineation(ref, det)
    assert (s.tp["QRS"], s.fn["QRS"], s.fp["QRS"]) == (1, 1, 2)
    assert s.err_ms["QRS onset"] == pytest.approx((20.0,))
    assert s.err_ms["QRS offset"] == pytest.approx((20.0,))
    assert s.sensitivity_pct("QRS") == 50.0 and s.ppv_pct("QRS") == pytest.approx(100 / 3)
    assert s.sensitivity_pct("P") is None and s.ppv_pct("P") is None
    assert s.error_stats("P onset") is None


def test_types_and_leads_never_cross_and_detections_outside_the_span_do_not_count() -> None:
    ref = {"II": [Wave("P", 0.80, 0.85, 0.90), Wave("QRS", 1.00, 1.05, 1.10)],
           "V1": []}
    det = {"II": [Wave("QRS", 0.80, 0.85, 0.90),  # a QRS where the P is: FP for QRS, no TP
                  Wave("T", 3.00, 3.10, 3.20)],  # after the annotated span: ignored
           "V1": [Wave("QRS", 1.00, 1.05, 1.10)]}  # a lead without annotation: not scored
    s = score_delineation(ref, det)
    assert (s.tp["P"], s.fn["P"], s.fp["P"]) == (0, 1, 0)
    assert (s.tp["QRS"], s.fn["QRS"], s.fp["QRS"]) == (0, 1, 1)
    assert (s.tp["T"], s.fn["T"], s.fp["T"]) == (0, 0, 0)


def test_nan_boundaries_match_without_an_error_and_scores_pool() -> None:
    ref = {"II": [Wave("T", 1.30, 1.40, 1.50)]}
    det = {"II": [Wave("T", math.nan, 1.42, 1.55)]}
    one = score_delineation(ref, det)
    assert one.tp["T"] == 1 and one.err_ms["T onset"] == ()
    assert one.err_ms["T offset"] == pytest.approx((50.0,))
    both = one + one
    assert both.tp["T"] == 2 and both.err_ms["T offset"] == pytest.approx((50.0, 50.0))
    stats = both.error_stats("T offset")
    assert stats is not None and stats.n == 2 and stats.sd_ms == pytest.approx(0.0)
    assert set(DelineationScore().err_ms) == set(ERROR_KEYS)

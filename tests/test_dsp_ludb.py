"""QRS detection on a few LUDB records against the expert annotations (skips without LUDB)."""

from __future__ import annotations

import pytest

from bench import ludb
from bench.delineation_ludb import score_record, detect_ours

pytestmark = pytest.mark.ludb  # skips without the data, fails under CI (tests/conftest.py)


def test_qrs_detection_se_ppv_on_test_records() -> None:
    recs = [r for r in ludb.record_ids() if ludb.split(r) == "test"][:6]
    tp = fn = fp = 0
    t_tp = t_fn = 0
    for rid in recs:
        sc = score_record(ludb.expert_waves(rid), detect_ours(rid))
        tp, fn, fp = tp + sc.tp["QRS"], fn + sc.fn["QRS"], fp + sc.fp["QRS"]
        t_tp, t_fn = t_tp + sc.tp["T"], t_fn + sc.fn["T"]
    assert tp / (tp + fn) >= 0.99 and tp / (tp + fp) >= 0.99
    assert t_tp / (t_tp + t_fn) >= 0.95

"""QRS detection on a few LUDB records against the expert annotations (skips without LUDB)."""

from __future__ import annotations

import pytest

from ecgread.integration import ludb
from ecgread.models.analysis import analyze
from ecgread.models.scoring import DelineationScore, score_delineation
from tests.neural_helpers import shipped_models

pytestmark = pytest.mark.ludb  # skips without the data, fails under CI (tests/conftest.py)


def test_qrs_detection_se_ppv_on_test_records() -> None:
    recs = [r for r in ludb.record_ids() if ludb.split(r) == "test"][:6]
    total = DelineationScore()
    for rid in recs:
        total += score_delineation(ludb.expert_waves(rid), analyze(ludb.read_record(rid),
                                                                   models=shipped_models()).waves)
    se, ppv = total.sensitivity_pct("QRS") or 0.0, total.ppv_pct("QRS") or 0.0
    assert se >= 99.0 and ppv >= 99.0, (se, ppv)
    assert (total.sensitivity_pct("T") or 0.0) >= 95.0

"""The shipped delineation network on held-out LUDB records (LUDB 'test' split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.ludb


def test_network_detects_waves_on_held_out_records(ludb_dir: Path) -> None:
    from ecgread.integration import ludb
    from ecgread.models.neural.delineation import predict_masks_many
    from ecgread.models.neural.masks_to_waves import masks_to_waves
    from ecgread.models.scoring import DelineationScore, score_delineation
    from ecgread.workers.training.train_delineator import split_records
    from tests.neural_helpers import shipped_models

    d = shipped_models().delineator
    assert d is not None
    train, val = split_records()
    test_ids = [r for r in ludb.record_ids() if ludb.split(r) == "test"][:4]
    assert not set(test_ids) & set(train + val)
    ecgs = [ludb.read_record(r) for r in test_ids]
    masks = predict_masks_many(d, [(e.signal_uv, e.sampling_rate_hz) for e in ecgs])
    total = DelineationScore()
    for rid, e, m in zip(test_ids, ecgs, masks, strict=True):
        waves = masks_to_waves(m, e.sampling_rate_hz, e.lead_names, e.signal_uv)
        total += score_delineation(ludb.expert_waves(rid, e.sampling_rate_hz), waves)
    for wave, floor in (("QRS", 98.0), ("P", 85.0), ("T", 90.0)):
        se, ppv = total.sensitivity_pct(wave) or 0.0, total.ppv_pct(wave) or 0.0
        assert se >= floor and ppv >= floor, (wave, se, ppv)
    assert np.std(total.err_ms["QRS onset"]) < 15.0
    assert abs(np.mean(total.err_ms["QRS offset"])) < 10.0

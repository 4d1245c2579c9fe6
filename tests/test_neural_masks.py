"""masks_to_waves: per-sample probabilities to waves, without inventing any."""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.errors import ConfigError
from ecgread.models.neural.masks_to_waves import MaskConfig, lead_waves, masks_to_waves

FS = 500.0


def probs_from_labels(labels: np.ndarray) -> np.ndarray:
    p = np.zeros((4, labels.size))
    p[labels, np.arange(labels.size)] = 1.0
    return p


def beat_labels(n: int = 2000) -> np.ndarray:
    lab = np.zeros(n, int)
    lab[400:450] = 1  # P 100 ms
    lab[500:550] = 2  # QRS 100 ms
    lab[650:800] = 3  # T 300 ms
    return lab


def test_one_beat_gives_p_qrs_t_with_sample_boundaries() -> None:
    waves = lead_waves(probs_from_labels(beat_labels()), FS)
    assert [w.type for w in waves] == ["P", "QRS", "T"]
    p, q, t = waves
    assert (p.onset_s, p.offset_s) == (400 / FS, 449 / FS)
    assert (q.onset_s, q.offset_s) == (500 / FS, 549 / FS)
    assert p.onset_s <= p.peak_s <= p.offset_s < q.onset_s < q.offset_s < t.onset_s


def test_no_p_wave_is_invented() -> None:
    lab = beat_labels()
    lab[400:450] = 0  # e.g. atrial fibrillation: the network saw no P
    assert [w.type for w in lead_waves(probs_from_labels(lab), FS)] == ["QRS", "T"]


def test_short_runs_and_edge_runs_are_dropped() -> None:
    lab = beat_labels()
    lab[900:910] = 1  # 20 ms "P": below the 40 ms minimum
    lab[0:60] = 2  # QRS cut by the record start
    lab[1950:] = 3  # T cut by the record end
    assert [w.type for w in lead_waves(probs_from_labels(lab), FS)] == ["P", "QRS", "T"]


def test_short_gaps_are_merged_but_not_across_other_waves() -> None:
    lab = beat_labels()
    lab[700:705] = 0  # 10 ms hole inside the T wave
    waves = lead_waves(probs_from_labels(lab), FS)
    assert [w.type for w in waves] == ["P", "QRS", "T"]
    assert waves[2].onset_s == 650 / FS and waves[2].offset_s == 799 / FS
    no_merge = lead_waves(probs_from_labels(lab), FS, config=MaskConfig(merge_gap_ms=0))
    assert [w.type for w in no_merge] == ["P", "QRS", "T", "T"]


def test_peak_follows_the_signal_and_nan_blocks_waves() -> None:
    lab = beat_labels()
    sig = np.zeros(lab.size)
    sig[520] = -800.0  # an inverted QRS deflection
    waves = lead_waves(probs_from_labels(lab), FS, sig)
    assert waves[1].peak_s == 520 / FS
    sig[700] = np.nan  # padding inside the T wave
    assert [w.type for w in lead_waves(probs_from_labels(lab), FS, sig)] == ["P", "QRS"]


def test_uncertain_runs_are_dropped_and_leads_skipped() -> None:
    p = probs_from_labels(beat_labels())
    p[:, 400:450] = [[0.3], [0.35], [0.2], [0.15]]  # argmax P but mean prob 0.35 < 0.5
    out = masks_to_waves(np.stack([p, p]), FS, ("I", "II"), usable=np.array([True, False]))
    assert list(out) == ["I"]
    assert [w.type for w in out["I"]] == ["QRS", "T"]


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError):
        MaskConfig(min_p_ms=-1)
    with pytest.raises(ConfigError):
        MaskConfig(min_mean_prob=1.5)

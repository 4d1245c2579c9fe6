"""An RR interval across a gap in the recording is no heart cycle: it joins no class of the
robust irregularity (models/rr.py)."""

from __future__ import annotations

import numpy as np

from ecgread.models.rr import rr_irregularity_robust


def test_interval_across_a_gap_joins_no_class() -> None:
    # atrial bigeminy (0.52 / 1.04 s) with 2.6 s unseen before the ninth beat
    rr = [0.52, 1.04, 0.52, 1.04, 0.52, 1.04, 0.52, 2.6, 0.54, 1.02, 0.52, 1.04]
    r = np.cumsum([0.0, *rr])
    after_gap = np.zeros(r.size, bool)
    after_gap[8] = True  # the interval ending at beat 8 spans the gap
    assert rr_irregularity_robust(r, after_gap=after_gap) < 0.1
    # counted among the intervals, it makes the bigeminy look irregular
    assert rr_irregularity_robust(r) > 0.1


def test_without_gaps_nothing_changes() -> None:
    rng = np.random.default_rng(1)
    r = np.cumsum(rng.uniform(0.5, 1.2, 15))
    assert rr_irregularity_robust(r) == rr_irregularity_robust(
        r, after_gap=np.zeros(r.size, bool))

"""models.order_stats gives numpy's medians and percentiles bit for bit (seeded arrays)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ecgread.models.order_stats import (
    median,
    median_1d,
    median_and_upper_quartile,
    nanpercentile,
    percentile,
)


def _arrays(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for n in (1, 2, 3, 10, 11, 250, 2500, 5001):
        out += [rng.normal(size=(3, n)) * 100, np.round(rng.normal(size=(2, n)) * 3),
                np.abs(rng.standard_cauchy(size=n)), rng.choice([-0.0, 0.0, 1.0, -2.5], (2, n))]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_median_and_percentile_equal_numpy(seed: int) -> None:
    for a in _arrays(seed):
        assert np.array_equal(median(a), np.median(a, axis=-1))
        assert np.array_equal(median(a, keepdims=True), np.median(a, axis=-1, keepdims=True))
        for q in (0.5, 25, 50, 75, 99, 99.5, 100, [0.5, 99.5]):
            ours, theirs = percentile(a, q), np.percentile(a, q, axis=-1)
            assert np.shape(ours) == np.shape(theirs)
            assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("seed", range(5))
def test_median_and_upper_quartile_equal_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in range(1, 40):
        v = rng.uniform(0.3, 2.0, n) if n % 2 else np.round(rng.uniform(150, 1000, n))
        assert median_and_upper_quartile(v) == (float(np.median(v)),
                                                float(np.percentile(v, 75)))


def test_median_1d_equals_numpy() -> None:
    rng = np.random.default_rng(7)
    cases = [[-0.0], [-0.0, -0.0], [0.0, -0.0, -0.0], [1.0, np.nan, 2.0], [np.inf, 1.0]]
    cases += [list(rng.normal(size=n)) for n in range(1, 30)]
    cases += [list(np.round(rng.normal(size=n))) for n in range(1, 30)]
    for v in cases:
        ours, theirs = median_1d(v), float(np.median(v))
        assert repr(ours) == repr(theirs), v


def test_nanpercentile_equals_numpy() -> None:
    rng = np.random.default_rng(11)
    for t in range(500):
        a = np.round(rng.normal(size=(int(rng.integers(1, 6)), int(rng.integers(1, 16)))), 1)
        a[rng.random(a.shape) < rng.random()] = np.nan
        if t % 5 == 0:
            a[rng.random(a.shape) < 0.1] = np.inf
        for q in (0, 15, 50, 99.5, 100):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
                theirs = np.nanpercentile(a, q, axis=-1)
            assert np.array_equal(nanpercentile(a, q), theirs, equal_nan=True)


@pytest.mark.parametrize("seed", range(3))
def test_median_of_equals_numpy(seed: int) -> None:
    from ecgread.models.order_stats import NETWORK_MAX_SLICES, median_of

    rng = np.random.default_rng(seed)
    for k in range(1, NETWORK_MAX_SLICES + 6):
        for w in (rng.normal(size=(3, k, 40)) * 100, np.round(rng.normal(size=(2, k, 40)) * 2)):
            assert np.array_equal(median_of(list(w.transpose(1, 0, 2))), np.median(w, axis=1))

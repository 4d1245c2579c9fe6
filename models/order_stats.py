"""Medians and percentiles equal bit for bit to numpy's, for arrays without NaN, faster.

``np.median`` and ``np.percentile`` also partition at the last element (to find NaN) and
go through numpy's generic reduction machinery. These functions partition at exactly the
two order statistics they need (the middle pair; the two around a percentile's virtual
index) and combine them with numpy's own arithmetic (the mean of the middle one or two;
the linear interpolation of numpy's default "linear" method), so every result is the one
numpy gives (a percentile that is zero may differ in the sign of that zero). Inputs must
hold no NaN (numpy would return NaN; these functions would not).

Always two positions, never one: numpy 2.x hands a partition at a single position to its
SIMD quickselect (x86-simd-sort), which on the smooth, correlated rows of an ECG runs some
four times slower than the introselect that a partition at two positions uses (12 leads x
5,000 samples of a 40 Hz low-passed LUDB record: 0.60 ms against 0.13 ms; the same on
white noise).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

__all__ = ["median", "median_1d", "median_and_upper_quartile", "median_of",
           "nanpercentile", "percentile"]

#: Above this many arrays a sort is faster than the compare-exchange network.
NETWORK_MAX_SLICES = 24


def median(a: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """``np.median(a, axis=-1, keepdims=keepdims)`` of a float array without NaN.

    Example
    -------
    >>> x = np.random.default_rng(0).normal(size=(3, 1000))
    >>> bool(np.array_equal(median(x), np.median(x, axis=-1)))
    True
    """
    # partitioned along contiguous rows (a copy of strided rows, e.g. the (samples, leads)
    # data of a file, costs less than partitioning them in place): the same values
    a = np.ascontiguousarray(a, dtype=np.float64)
    n = a.shape[-1]
    h = n // 2
    # two positions, never one (see the module docstring); for odd n the lower is unused
    p = np.partition(a, [max(h - 1, 0), h], axis=-1)
    mid = p[..., h:h + 1] if n % 2 else np.stack([p[..., h - 1], p[..., h]], -1)
    out: np.ndarray = mid.mean(axis=-1)  # numpy's median: the mean of the middle one or two
    return out[..., None] if keepdims else out


def percentile(a: np.ndarray, q: float | Sequence[float]) -> np.ndarray:
    """``np.percentile(a, q, axis=-1)`` (method "linear") of a float array without NaN:
    for a sequence ``q`` the percentiles stand along a new first axis, as numpy's.

    Example
    -------
    >>> x = np.random.default_rng(0).normal(size=(3, 1000))
    >>> bool(np.array_equal(percentile(x, [0.5, 99.5]), np.percentile(x, [0.5, 99.5], axis=1)))
    True
    """
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[-1]
    ats = [(n - 1) * (pct / 100.0)  # numpy's virtual index
           for pct in np.atleast_1d(np.asarray(q, dtype=np.float64))]
    # the two order statistics around each virtual index, all from one partition (at
    # two positions or more, never one: see the module docstring)
    below = {int(np.floor(at)) for at in ats if at < n - 1}
    kth = sorted(below | {i + 1 for i in below})
    p = np.partition(a, kth, axis=-1) if kth else a
    out = []
    for at in ats:
        i = int(np.floor(at))
        if at >= n - 1:
            out.append(a.max(axis=-1))
            continue
        lo, hi = p[..., i], p[..., i + 1]
        g = at - i
        d = hi - lo  # numpy's _lerp
        out.append(hi - d * (1 - g) if g >= 0.5 else lo + d * g)
    return np.stack(out) if np.ndim(q) else out[0]


def nanpercentile(a: np.ndarray, q: float) -> np.ndarray:
    """``np.nanpercentile(a, q, axis=-1)`` (method "linear"): NaN is left out, NaN where a
    row has no other value. numpy takes small arrays one row at a time in Python (some
    0.6 ms for 11 x 12 values); here all rows at once, from one sort, with numpy's
    virtual index and interpolation.

    Example
    -------
    >>> x = np.array([[1.0, np.nan, 3.0, 2.0], [np.nan] * 4])
    >>> nanpercentile(x, 15), np.nanpercentile(x, 15, axis=-1)  # doctest: +SKIP
    (array([1.3, nan]), array([1.3, nan]))
    """
    s = np.sort(np.asarray(a, dtype=np.float64), axis=-1)  # NaN last
    cnt = (~np.isnan(s)).sum(axis=-1)
    at = (cnt - 1) * (float(q) / 100.0)  # numpy's virtual index
    g = at - np.floor(at)
    i = np.clip(np.floor(at).astype(np.intp), 0, None)
    last = np.maximum(cnt - 1, 0)
    i = np.where(at >= cnt - 1, last, i)
    j = np.where(at >= cnt - 1, last, i + 1)
    lo = np.take_along_axis(s, i[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(s, j[..., None], axis=-1)[..., 0]
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, as numpy's
        d = hi - lo  # numpy's _lerp
        out = np.where(g >= 0.5, hi - d * (1 - g), lo + d * g)
    return np.where(cnt > 0, out, np.nan)


def median_1d(v: np.ndarray | Sequence[float]) -> float:
    """``float(np.median(v))`` of a short 1-D sequence, in Python floats: some 20 us less
    per call on a dozen values. NaN anywhere, or no value, gives NaN, as numpy's.

    Example
    -------
    >>> median_1d([3.0, 1.0, 2.0, 10.0]), float(np.median([3.0, 1.0, 2.0, 10.0]))
    (2.5, 2.5)
    """
    return _median_of_sorted(np.sort(np.asarray(v, dtype=np.float64)).tolist())


def _median_of_sorted(s: list[float]) -> float:
    """:func:`median_1d` of values already sorted (NaN last)."""
    n = len(s)
    if n == 0 or s[-1] != s[-1]:
        return float("nan")
    h = n // 2
    # numpy's median is the mean of the middle one or two: a sum from 0.0, over the count
    return (0.0 + s[h]) if n % 2 else (0.0 + s[h - 1] + s[h]) / 2


def median_and_upper_quartile(v: np.ndarray) -> tuple[float, float]:
    """``np.median(v)`` and ``np.percentile(v, 75)`` of a short 1-D float array without
    NaN (size >= 1), from one sort in Python floats: the same order statistics and the
    same arithmetic, without numpy's per-call overhead (some 100 us on ten values)."""
    s = np.sort(np.asarray(v, dtype=np.float64)).tolist()
    n = len(s)
    med = _median_of_sorted(s)
    at = (n - 1) * 0.75
    i = int(at)
    if i >= n - 1:
        return med, s[-1]
    g = at - i
    a, b = s[i], s[i + 1]
    d = b - a
    return med, (b - d * (1 - g)) if g >= 0.5 else (a + d * g)


@lru_cache(maxsize=64)
def _median_network(k: int) -> tuple[tuple[int, int], ...]:
    """Compare-exchange pairs (i, j), i < j, of Batcher's odd-even merge sort of k values
    (the network for the next power of two, less the pairs that touch the padding, which
    would be +inf and never moves), pruned to those the middle one or two outputs depend
    on."""
    p = 1
    while p < k:
        p *= 2
    pairs = []
    t = 1
    while t < p:
        s = t
        while s >= 1:
            for j in range(s % t, p - s, 2 * s):
                for i in range(min(s, p - j - s)):
                    if (i + j) // (2 * t) == (i + j + s) // (2 * t) and i + j + s < k:
                        pairs.append((i + j, i + j + s))
            s //= 2
        t *= 2
    need = {(k - 1) // 2, k // 2}
    kept = []
    for i, j in reversed(pairs):
        if i in need or j in need:
            kept.append((i, j))
            need |= {i, j}
    return tuple(reversed(kept))


def median_of(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Elementwise median of k equally shaped float arrays without NaN, as
    ``0.5 * (s[(k - 1) // 2] + s[k // 2])`` of ``s = np.sort(np.stack(arrays), axis=0)``.

    For up to :data:`NETWORK_MAX_SLICES` arrays by a sorting network pruned to the middle
    outputs (elementwise minimum and maximum of whole arrays, which may be views: 29 pairs
    for 10 arrays), two to seven times faster than sorting thousands of short rows; the
    same two middle values (a zero's sign aside), the same arithmetic.

    Example
    -------
    >>> w = list(np.random.default_rng(0).normal(size=(10, 3, 50)))
    >>> s = np.sort(np.stack(w), axis=0)
    >>> bool(np.array_equal(median_of(w), 0.5 * (s[4] + s[5])))
    True
    """
    k = len(arrays)
    if k > NETWORK_MAX_SLICES:
        s = np.sort(np.stack(arrays), axis=0)
        out: np.ndarray = 0.5 * (s[(k - 1) // 2] + s[k // 2])
        return out
    v = list(arrays)
    for i, j in _median_network(k):
        lo = np.minimum(v[i], v[j])
        v[j] = np.maximum(v[i], v[j])
        v[i] = lo
    out = 0.5 * (v[(k - 1) // 2] + v[k // 2])
    return out

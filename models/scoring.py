"""Delineation scoring against reference annotations: one-to-one matching of waves within
a tolerance window, sensitivity and positive predictive value, boundary error statistics.

The one implementation the tests, the benchmarks and the training scripts share (as wfdb
ships ``compare_annotations`` in its library rather than in its benchmarks). Pure: waves in,
a frozen :class:`DelineationScore` out; scores of several records add up with ``+``.

Protocol (after the LUDB literature, e.g. Kalyakulina et al. 2020 and Moskalenko et al.
2020): each reference wave is matched one-to-one with the detected wave of the same type
in the same lead whose peak is nearest, within ``window_s`` (150 ms), closest pairs first.
Only detections whose peak lies in the lead's annotated span (first reference onset to last
reference offset of that lead) count. Se = TP / (TP + FN), PPV = TP / (TP + FP); boundary
errors are detected minus reference, in ms, over matched pairs whose detected boundary is
finite.

Example:
    >>> from ecgread.models.results import Wave
    >>> ref = {"II": [Wave("QRS", 1.00, 1.04, 1.10)]}
    >>> det = {"II": [Wave("QRS", 1.01, 1.05, 1.09), Wave("QRS", 1.06, 1.07, 1.08)]}
    >>> s = score_delineation(ref, det)
    >>> s.tp["QRS"], s.fp["QRS"], s.sensitivity_pct("QRS"), s.ppv_pct("QRS")
    (1, 1, 100.0, 50.0)
    >>> [round(e, 1) for e in s.err_ms["QRS onset"]]
    [10.0]

References:
    Kalyakulina AI et al., "LUDB: A New Open-Access Validation Tool for Electrocardiogram
    Delineation Algorithms", IEEE Access 8:186181-186190 (2020).
    Moskalenko V et al., "Deep learning for ECG segmentation", in Advances in Neural
    Computation, Machine Learning, and Cognitive Research III, Springer (2020).
    ANSI/AAMI EC57:2012, Testing and reporting performance results of cardiac rhythm and
    ST segment measurement algorithms (Se, +P by one-to-one matching in a window).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = ["ERROR_KEYS", "MATCH_WINDOW_S", "WAVE_TYPES", "DelineationScore", "ErrorStats",
           "ScoredWave", "score_delineation"]

#: The matching tolerance of the LUDB protocol: peaks at most 150 ms apart.
MATCH_WINDOW_S = 0.150
WAVE_TYPES: tuple[str, ...] = ("P", "QRS", "T")
#: The boundary error series, "<wave> onset" and "<wave> offset" for each wave type.
ERROR_KEYS: tuple[str, ...] = tuple(f"{w} {b}" for w in WAVE_TYPES for b in ("onset", "offset"))


class ScoredWave(Protocol):
    """A wave as scoring reads it (``models.results.Wave`` and annotation waves both are)."""

    @property
    def type(self) -> str: ...
    @property
    def onset_s(self) -> float: ...
    @property
    def peak_s(self) -> float: ...
    @property
    def offset_s(self) -> float: ...


@dataclass(frozen=True)
class ErrorStats:
    """Mean and population SD (ddof 0) of boundary errors, detected minus reference."""

    mean_ms: float
    sd_ms: float
    n: int


def _counts() -> dict[str, int]:
    return dict.fromkeys(WAVE_TYPES, 0)


def _errors() -> dict[str, tuple[float, ...]]:
    return dict.fromkeys(ERROR_KEYS, ())


@dataclass(frozen=True)
class DelineationScore:
    """Matched (``tp``), missed (``fn``) and spurious (``fp``) waves per wave type, and the
    boundary errors in ms per :data:`ERROR_KEYS` key (every key is present)."""

    tp: Mapping[str, int] = field(default_factory=_counts)
    fn: Mapping[str, int] = field(default_factory=_counts)
    fp: Mapping[str, int] = field(default_factory=_counts)
    err_ms: Mapping[str, tuple[float, ...]] = field(default_factory=_errors)

    def __add__(self, other: DelineationScore) -> DelineationScore:
        """The pooled score of two sets of records (errors concatenated in order)."""
        return DelineationScore(
            {w: self.tp[w] + other.tp[w] for w in WAVE_TYPES},
            {w: self.fn[w] + other.fn[w] for w in WAVE_TYPES},
            {w: self.fp[w] + other.fp[w] for w in WAVE_TYPES},
            {k: self.err_ms[k] + other.err_ms[k] for k in ERROR_KEYS})

    def sensitivity_pct(self, wave: str) -> float | None:
        """Se = TP / (TP + FN) in %, None without reference waves of that type."""
        n = self.tp[wave] + self.fn[wave]
        return 100.0 * self.tp[wave] / n if n else None

    def ppv_pct(self, wave: str) -> float | None:
        """PPV = TP / (TP + FP) in %, None without detections of that type."""
        n = self.tp[wave] + self.fp[wave]
        return 100.0 * self.tp[wave] / n if n else None

    def error_stats(self, key: str) -> ErrorStats | None:
        """Mean and SD of the ``key`` errors (e.g. "QRS onset"), None without any."""
        e = np.asarray(self.err_ms[key], dtype=np.float64)
        if not e.size:
            return None
        return ErrorStats(float(e.mean()), float(e.std()), int(e.size))


def _match(ref_peaks_s: np.ndarray, det_peaks_s: np.ndarray, window_s: float
           ) -> list[tuple[int, int]]:
    """One-to-one (reference, detection) index pairs, closest first; ties by index."""
    dist = np.abs(ref_peaks_s[:, None] - det_peaks_s[None, :])
    ii, jj = np.nonzero(dist <= window_s)
    order = np.lexsort((jj, ii, dist[ii, jj]))
    used_ref: set[int] = set()
    used_det: set[int] = set()
    pairs = []
    for i, j in zip(ii[order].tolist(), jj[order].tolist(), strict=True):
        if i in used_ref or j in used_det:
            continue
        used_ref.add(i)
        used_det.add(j)
        pairs.append((i, j))
    return pairs


def score_delineation(reference: Mapping[str, Sequence[ScoredWave]],
                      detected: Mapping[str, Sequence[ScoredWave]],
                      window_s: float = MATCH_WINDOW_S) -> DelineationScore:
    """Score ``detected`` waves against ``reference`` waves, both by lead name.

    Parameters:
        reference: the annotated waves per lead; a lead without any is not scored.
        detected: the detected waves per lead; times in s on the same clock. A NaN
            boundary counts as a match without a boundary error.
        window_s: the largest peak distance of a match, in s.

    Returns:
        The counts and boundary errors (ms) of this record.
    """
    tp, fn, fp = _counts(), _counts(), _counts()
    errs: dict[str, list[float]] = {k: [] for k in ERROR_KEYS}
    for lead, refs in reference.items():
        if not refs:
            continue
        span_lo = min(w.onset_s for w in refs)
        span_hi = max(w.offset_s for w in refs)
        for wtype in WAVE_TYPES:
            ex = [w for w in refs if w.type == wtype]
            de = [d for d in detected.get(lead, ()) if d.type == wtype
                  and span_lo <= d.peak_s <= span_hi]
            pairs = _match(np.array([w.peak_s for w in ex], dtype=np.float64),
                           np.array([d.peak_s for d in de], dtype=np.float64), window_s)
            for i, j in pairs:
                e, d = ex[i], de[j]
                if np.isfinite(d.onset_s):
                    errs[f"{wtype} onset"].append(1000 * (d.onset_s - e.onset_s))
                if np.isfinite(d.offset_s):
                    errs[f"{wtype} offset"].append(1000 * (d.offset_s - e.offset_s))
            tp[wtype] += len(pairs)
            fn[wtype] += len(ex) - len(pairs)
            fp[wtype] += len(de) - len(pairs)
    return DelineationScore(tp, fn, fp, {k: tuple(v) for k, v in errs.items()})

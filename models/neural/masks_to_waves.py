"""Per-sample class probabilities -> waves (onset, peak, offset) per lead. Pure numpy.

Each sample takes its most probable class (none, P, QRS, T). Runs of one wave class
separated by a short "none" gap (< ``merge_gap_ms``) are joined; runs shorter than the
class's minimum duration, runs whose mean probability is below ``min_mean_prob``, and
runs cut by the record edges or by padding (NaN) are dropped. Nothing is added: a lead
gets a P wave only where the network labelled one (no P wave is invented, e.g. in AF).

Peak: the sample of largest |deviation| from the straight line joining the signal at
onset and offset (upright or inverted waves alike) when the signal is given, else the
sample of highest class probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgread.models.dsp_config import check_range
from ecgread.models.results import Wave

WAVE_CLASSES = {1: "P", 2: "QRS", 3: "T"}


@dataclass(frozen=True)
class MaskConfig:
    """Minimum durations (ms) after the shortest waves of LUDB's expert annotations."""

    min_p_ms: float = 40.0
    min_qrs_ms: float = 40.0
    min_t_ms: float = 80.0
    merge_gap_ms: float = 20.0
    min_mean_prob: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_p_ms", "min_qrs_ms", "min_t_ms", "merge_gap_ms"):
            check_range(self, name, 0.0, 300.0)
        check_range(self, "min_mean_prob", 0.0, 1.0, hi_open=True)

    def min_ms(self, wave: str) -> float:
        return {"P": self.min_p_ms, "QRS": self.min_qrs_ms, "T": self.min_t_ms}[wave]


def _runs(label: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of equal values of each row of a (rows, samples) int array: (row, start,
    end, value) of each run, [start, end), in row then sample order (one pass for all
    classes: the runs of one class are its rows of the result, in the same order)."""
    rows, n = label.shape
    first = np.ones((rows, n), bool)
    np.not_equal(label[:, 1:], label[:, :-1], out=first[:, 1:])
    row, start = np.nonzero(first)
    end = np.empty_like(start)
    if start.size:
        end[:-1] = start[1:]
        end[np.append(row[1:] != row[:-1], True)] = n
    return row, start, end, label[row, start]


def _argmax_classes(probs: np.ndarray) -> np.ndarray:
    """``np.argmax(probs, axis=1)`` for (rows, classes, samples) probabilities without NaN
    (the first of equal maxima wins), by comparisons along the short class axis."""
    label = np.zeros((probs.shape[0], probs.shape[2]), np.intp)
    best = probs[:, 0].copy()
    for c in range(1, probs.shape[1]):
        more = probs[:, c] > best
        label[more] = c
        np.maximum(best, probs[:, c], out=best)
    return label


def _waves(probs: np.ndarray, fs: float, signal_uv: np.ndarray | None, cfg: MaskConfig
           ) -> list[list[Wave]]:
    """Waves of each row of (rows, 4, samples) probabilities, every row at once (the
    rules of :func:`lead_waves`); per row sorted by onset, P before QRS before T at equal
    onsets."""
    rows, _, n = probs.shape
    label = _argmax_classes(probs)
    invalid = None if signal_uv is None else ~np.isfinite(np.asarray(signal_uv))
    bad_cum = None
    if invalid is not None and invalid.any():
        bad_cum = np.zeros((rows, n + 1), np.int64)
        np.cumsum(invalid, axis=1, out=bad_cum[:, 1:])
    sig = None if signal_uv is None else np.asarray(signal_uv, dtype=np.float64)
    gap = int(round(cfg.merge_gap_ms * fs / 1000.0))
    found: list[tuple[np.ndarray, ...]] = []
    run_row, run_a, run_b, run_cls = _runs(label)
    for cls, wave in WAVE_CLASSES.items():
        of_cls = run_cls == cls
        row, a, b = run_row[of_cls], run_a[of_cls], run_b[of_cls]
        if row.size == 0:
            continue
        if gap > 0 and row.size > 1:  # join runs of one row split by a short "none" gap
            g0, g1 = b[:-1], a[1:]
            short = (row[1:] == row[:-1]) & (g1 - g0 < gap)
            if short.any():  # ... and only "none" in the gap
                k = np.flatnonzero(short)
                at = g0[k, None] + np.arange(gap)[None]
                in_gap = at < g1[k, None]
                other = label[row[k, None], np.minimum(at, n - 1)] != 0
                short[k] = ~(other & in_gap).any(axis=1)
            starts = np.concatenate(([True], ~short))
            ends = np.concatenate((~short, [True]))
            row, a, b = row[starts], a[starts], b[ends]
        p_cum = np.zeros((rows, n + 1))
        p_cum[:, 1:] = probs[:, cls]
        np.cumsum(p_cum[:, 1:], axis=1, out=p_cum[:, 1:])  # float64 running sums
        keep = ((b - a >= cfg.min_ms(wave) * fs / 1000.0) & (a > 0) & (b < n)
                & ((p_cum[row, b] - p_cum[row, a]) / np.maximum(b - a, 1)
                   >= cfg.min_mean_prob))
        if bad_cum is not None:  # no wave touches padding
            keep &= bad_cum[row, b] == bad_cum[row, a]
        row, a, b = row[keep], a[keep], b[keep]
        if a.size == 0:
            continue
        length = b - a
        span = np.arange(length.max())[None]
        idx = np.minimum(a[:, None] + span, n - 1)
        inside = span < length[:, None]
        if sig is not None:
            seg = sig[row[:, None], idx]
            first, last = seg[:, 0], seg[np.arange(a.size), length - 1]
            frac = span / np.maximum(length - 1, 1)[:, None]
            score = np.abs(seg - (first[:, None] + (last - first)[:, None] * frac))
        else:
            score = probs[row[:, None], cls, idx].astype(np.float64)
        pk = a + np.argmax(np.where(inside, score, -np.inf), axis=1)
        found.append((row, np.full(a.size, cls), a, pk, b))
    out: list[list[Wave]] = [[] for _ in range(rows)]
    if not found:
        return out
    row, cls_, a, pk, b = (np.concatenate(parts) for parts in zip(*found, strict=True))
    order = np.lexsort((cls_, a, row))  # per row by onset, ties in class order
    for r, c, x, y, z in zip(row[order].tolist(), cls_[order].tolist(), a[order].tolist(),
                             pk[order].tolist(), b[order].tolist(), strict=True):
        out[r].append(Wave(WAVE_CLASSES[c], x / fs, y / fs, (z - 1) / fs))  # type: ignore[arg-type]
    return out


def lead_waves(probs: np.ndarray, sampling_rate_hz: float, signal_uv: np.ndarray | None = None,
               config: MaskConfig | None = None) -> tuple[Wave, ...]:
    """Waves of one lead from its (4, samples) probabilities, sorted by onset.

    Parameters
    ----------
    probs:
        (4, samples) probabilities of none, P, QRS, T at ``sampling_rate_hz``.
    signal_uv:
        (samples,) the lead in µV for the peak (NaN = padding, where no wave may touch).
    """
    sig = None if signal_uv is None else np.asarray(signal_uv)[None]
    return tuple(_waves(np.asarray(probs)[None], float(sampling_rate_hz), sig,
                        config or MaskConfig())[0])


def masks_to_waves(probs: np.ndarray, sampling_rate_hz: float, lead_names: tuple[str, ...],
                   signal_uv: np.ndarray | None = None, usable: np.ndarray | None = None,
                   config: MaskConfig | None = None) -> dict[str, tuple[Wave, ...]]:
    """Waves per lead from (leads, 4, samples) probabilities (see :func:`lead_waves`).

    Unusable leads (``usable[i]`` False) get no entry, as in the DSP engine.

    Example
    -------
    >>> p = np.zeros((1, 4, 500)); p[0, 0] = 1; p[0, 0, 100:150] = 0; p[0, 2, 100:150] = 1
    >>> masks_to_waves(p, 500.0, ("II",))["II"][0].type
    'QRS'
    """
    rows = [i for i in range(len(lead_names)) if usable is None or usable[i]]
    probs, sig = np.asarray(probs), None if signal_uv is None else np.asarray(signal_uv)
    if len(rows) < probs.shape[0]:
        probs, sig = probs[rows], None if sig is None else sig[rows]
    waves = _waves(probs, float(sampling_rate_hz), sig, config or MaskConfig())
    return {lead_names[i]: tuple(w) for i, w in zip(rows, waves, strict=True)}

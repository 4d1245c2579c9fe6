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


def _runs(flags: np.ndarray) -> np.ndarray:
    """(k, 2) [start, end) of the True runs of a bool vector."""
    d = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1)


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
    cfg = config or MaskConfig()
    fs = float(sampling_rate_hz)
    n = probs.shape[1]
    label = np.argmax(probs, axis=0)
    invalid = np.zeros(n, bool) if signal_uv is None else ~np.isfinite(signal_uv)
    bad_cum = np.concatenate(([0], np.cumsum(invalid)))
    wave_cum = np.concatenate(([0], np.cumsum(label != 0)))
    gap = int(round(cfg.merge_gap_ms * fs / 1000.0))
    found: list[Wave] = []
    for cls, wave in WAVE_CLASSES.items():
        runs = _runs(label == cls)
        if runs.size == 0:
            continue
        if gap > 0 and len(runs) > 1:  # join runs split by a short "none" gap
            g0, g1 = runs[:-1, 1], runs[1:, 0]
            short = (g1 - g0 < gap) & (wave_cum[g1] == wave_cum[g0])
            starts = np.concatenate(([True], ~short))
            ends = np.concatenate((~short, [True]))
            runs = np.stack([runs[starts, 0], runs[ends, 1]], axis=1)
        a, b = runs[:, 0], runs[:, 1]  # samples a .. b-1
        p_cum = np.concatenate(([0.0], np.cumsum(probs[cls], dtype=np.float64)))
        keep = ((b - a >= cfg.min_ms(wave) * fs / 1000.0) & (a > 0) & (b < n)
                & (bad_cum[b] == bad_cum[a])
                & ((p_cum[b] - p_cum[a]) / np.maximum(b - a, 1) >= cfg.min_mean_prob))
        a, b = a[keep], b[keep]
        if a.size == 0:
            continue
        length = b - a
        idx = np.minimum(a[:, None] + np.arange(length.max())[None], n - 1)
        inside = np.arange(length.max())[None] < length[:, None]
        if signal_uv is not None:
            seg = np.asarray(signal_uv, dtype=np.float64)[idx]
            first, last = seg[:, 0], seg[np.arange(a.size), length - 1]
            frac = np.arange(length.max())[None] / np.maximum(length - 1, 1)[:, None]
            score = np.abs(seg - (first[:, None] + (last - first)[:, None] * frac))
        else:
            score = probs[cls][idx].astype(np.float64)
        pk = a + np.argmax(np.where(inside, score, -np.inf), axis=1)
        found.extend(Wave(wave, float(x) / fs,  # type: ignore[arg-type]
                          float(y) / fs, float(z - 1) / fs)
                     for x, y, z in zip(a, pk, b, strict=True))
    return tuple(sorted(found, key=lambda w: w.onset_s))


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
    out: dict[str, tuple[Wave, ...]] = {}
    for i, name in enumerate(lead_names):
        if usable is not None and not usable[i]:
            continue
        sig = None if signal_uv is None else signal_uv[i]
        out[name] = lead_waves(probs[i], sampling_rate_hz, sig, config)
    return out

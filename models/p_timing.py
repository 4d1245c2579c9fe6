"""Per-beat timing of the P wave against the record's template P wave.

Template-guided delineation (:mod:`models.delineate_template`) gives every dominant beat
the template's P boundaries at the same distance from its QRS complex, so their PR
intervals cannot differ. Whether they do is what tells a sinus P wave (a fixed PR) from
fibrillatory waves that beat averaging made look like one, and it is what AV conduction
disorders show. Each beat's P lag is the shift, within :data:`MAX_LAG_MS`, that best
aligns its P segment with the template's: the largest correlation of the concatenated,
per-lead demeaned segments of the leads that voted for P waves, the shifted segment kept
after the previous T wave and before the beat's own QRS complex.
"""

from __future__ import annotations

import numpy as np

#: a beat's P wave is looked for this far either side of the template's timing, ms
MAX_LAG_MS = 60.0
#: beats per block of the vectorised search (bounds memory on 10-minute records)
_BLOCK = 256


def p_lags(xt: np.ndarray, r: np.ndarray, template: np.ndarray, pre: int, p_on: int,
           p_off: int, lo_abs: np.ndarray, hi_abs: np.ndarray, fs: float) -> np.ndarray:
    """Per beat, the lag (samples, later positive) of its P wave against the template's.

    Parameters
    ----------
    xt:
        (leads, samples) signal of the leads to align (the P/T low-passed signal).
    r:
        (beats,) fiducial samples.
    template:
        (leads, W) the same leads' template beat, fiducial at ``pre``.
    p_on, p_off:
        The template's P onset and offset, template samples.
    lo_abs, hi_abs:
        (beats,) first and last record sample a beat's shifted P segment may cover (the
        end of the previous T wave, just before the beat's QRS onset).

    Returns
    -------
    (beats,) float: NaN where no shift keeps the segment inside its bounds.
    """
    n = xt.shape[1]
    seg_len = p_off - p_on + 1
    k = int(round(MAX_LAG_MS * fs / 1000.0))
    lags = np.arange(-k, k + 1)
    out = np.full(r.size, np.nan)
    if seg_len < 3 or r.size == 0:
        return out
    tmpl = template[:, p_on:p_off + 1]
    tmpl = tmpl - tmpl.mean(axis=1, keepdims=True)
    t_norm = float(np.sqrt((tmpl ** 2).sum()))
    if t_norm == 0.0:
        return out
    span = np.arange(seg_len + 2 * k)  # every lagged segment of a beat lies in this span
    for s in range(0, r.size, _BLOCK):
        first = np.asarray(r[s:s + _BLOCK], int) + (p_on - pre) - k  # (B,) the span's start
        seg = xt[:, np.clip(first[:, None] + span, 0, n - 1)]  # (leads, B, span)
        # cross products at every lag (the template is demeaned, so the segments need not
        # be), and each lagged segment's demeaned energy from running sums
        windows = np.lib.stride_tricks.sliding_window_view(seg, seg_len, axis=-1)
        num = np.einsum("lbks,ls->bk", windows, tmpl)
        c1 = np.concatenate([np.zeros(seg.shape[:2] + (1,)), np.cumsum(seg, axis=-1)], -1)
        c2 = np.concatenate([np.zeros(seg.shape[:2] + (1,)), np.cumsum(seg ** 2, axis=-1)],
                            -1)
        s1 = c1[..., seg_len:] - c1[..., :-seg_len]
        s2 = c2[..., seg_len:] - c2[..., :-seg_len]
        energy = np.clip((s2 - s1 ** 2 / seg_len).sum(axis=0), 0.0, None)  # (B, lags)
        den = np.sqrt(energy) * t_norm
        start = first[:, None] + k + lags[None, :]  # (B, lags) each lagged segment's start
        ok = ((start >= lo_abs[s:s + _BLOCK, None]) & (start >= 0)
              & (start + seg_len - 1 <= hi_abs[s:s + _BLOCK, None])
              & (start + seg_len - 1 < n))
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(ok & (den > 0), num / den, -np.inf)
        best = score.argmax(axis=1)
        rows = np.arange(first.size)
        found = np.isfinite(score[rows, best])
        # sub-sample peak: the parabola through the best score and its two neighbours
        left = score[rows, np.maximum(best - 1, 0)]
        right = score[rows, np.minimum(best + 1, lags.size - 1)]
        mid = score[rows, best]
        with np.errstate(invalid="ignore", divide="ignore"):
            curv = left - 2.0 * mid + right
            inner = np.isfinite(left) & np.isfinite(right) & (curv < 0)
            frac = np.where(inner, 0.5 * (left - right) / np.where(inner, curv, 1.0), 0.0)
        out[s:s + _BLOCK] = np.where(found, lags[best] + np.clip(frac, -0.5, 0.5), np.nan)
    return out

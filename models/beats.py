"""Beat typing (dominant / ventricular / supraventricular / paced) and representative beats.

Definitions
-----------
- *QRS vector* of a beat: the conditioned signal of all usable leads from 60 ms before
  to 80 ms after the fiducial, concatenated, at the shift within +-``align_ms`` that best
  matches the template (the detector's fiducial may fall on either slope of the R wave).
- *Dominant* beats: the largest morphology cluster; a beat joins it when its QRS vector
  correlates with the dominant template (median of the cluster, two refinements) at
  >= ``dominant_corr`` and its norm is 0.6-1.6 x the template's.
- *Ventricular*: a beat outside the dominant cluster (different QRS morphology).
- *Supraventricular*: a dominant-morphology beat that comes early
  (:func:`~ecgread.models.rr.premature_beats`) in an otherwise regular rhythm
  (:func:`~ecgread.models.rr_irregularity.normalised_rmssd` of dominant RR < 0.1, or the
  same with premature beats set aside, :func:`~ecgread.models.rr.rr_irregularity_robust`,
  < 0.1: premature beats in a bigeminal or trigeminal pattern).
- *Paced*: a pacing spike lies within ``pacing_window_ms`` before to 20 ms after the
  fiducial; ``Beat.paced`` is True and ``kind`` is "paced".
- *Representative beat*: per lead, the sample-wise median over the dominant beats (paced
  beats too when the dominant morphology is paced), aligned on the fiducial refined by
  cross-correlation (+-10 ms), from ``pre_s`` before to ``post_s`` after it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ecgread.models.dsp_config import BeatConfig
from ecgread.models.order_stats import median_1d, median_of
from ecgread.models.rr import premature_beats, rr_irregularity_robust
from ecgread.models.rr_irregularity import normalised_rmssd


@dataclass(frozen=True, eq=False)
class BeatTyping:
    r_samples: np.ndarray  # refined fiducials (int)
    kinds: tuple[str, ...]  # per beat: dominant / ventricular / supraventricular / paced
    paced: np.ndarray  # bool per beat
    dominant: np.ndarray  # bool per beat: in the dominant morphology cluster
    correlation: np.ndarray  # per beat, with the dominant template
    median_beat: dict[str, np.ndarray]  # "signal_uv", "qrs_smooth_uv", "pt_smooth_uv": (L, W)
    pre_samples: int  # index of the fiducial inside the median beat
    rr_median_s: float | None
    n_dominant: int
    method: str = "template-correlation"
    config: BeatConfig = field(default_factory=BeatConfig)


def windows_around(x: np.ndarray, r: np.ndarray, a: int, b: int) -> np.ndarray:
    """(leads, beats, a + b + 1): ``x`` from ``a`` samples before to ``b`` after each of
    ``r``, the record's edge samples repeated beyond it."""
    idx = np.clip(np.asarray(r, int)[:, None] + np.arange(-a, b + 1)[None, :], 0,
                  x.shape[1] - 1)
    return x[:, idx]


def median_windows(x: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Sample-wise median over beats of the windows x[:, s:s + width] (s in ``starts``,
    all inside the signal): (leads, width), by :func:`~ecgread.models.order_stats.median_of`
    on views of the windows (several times faster than ``np.median(x[:, idx], axis=1)``
    for short beat lists)."""
    return median_of([x[:, s:s + width] for s in starts.tolist()])


def _aligned_corr(lagged: np.ndarray, template: np.ndarray, seen: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per beat, the best correlation of its windows ``lagged`` (leads, beats, shifts, width)
    with ``template`` (leads, width) over the shifts, and the shift index giving it.
    ``seen`` (leads, beats): the leads recorded over each beat's window; the others take no
    part in that beat's correlation (None: all)."""
    if seen is not None:
        return _aligned_corr_seen(lagged, template, seen)
    tc = template - template.mean()
    n = tc.size
    num = np.einsum("lbsw,lw->bs", lagged, tc)
    total = lagged.sum(axis=(0, 3))
    sq = np.einsum("lbsw,lbsw->bs", lagged, lagged)
    var = np.maximum(sq - total * total / n, 0.0)
    corr = num / (np.sqrt(var) * np.linalg.norm(tc) + 1e-9)
    best = np.argmax(corr, axis=1)
    return corr[np.arange(corr.shape[0]), best], best


def _aligned_corr_seen(lagged: np.ndarray, template: np.ndarray, seen: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_aligned_corr` over each beat's ``seen`` leads only (Pearson correlation of
    the leads' samples taken together, as there)."""
    m = seen.astype(float)  # (L, B)
    width = template.shape[1]
    n = np.maximum(m.sum(axis=0) * width, 1.0)[:, None]  # (B, 1) samples compared
    xm = lagged * m[:, :, None, None]
    sx = xm.sum(axis=(0, 3))  # (B, S)
    sxx = np.einsum("lbsw,lbsw->bs", xm, lagged)
    sxt = np.einsum("lbsw,lw->bs", xm, template)
    st = (m * template.sum(axis=1)[:, None]).sum(axis=0)[:, None]  # (B, 1)
    stt = (m * (template ** 2).sum(axis=1)[:, None]).sum(axis=0)[:, None]
    var_x = np.maximum(sxx - sx * sx / n, 0.0)
    var_t = np.maximum(stt - st * st / n, 0.0)
    corr = (sxt - sx * st / n) / (np.sqrt(var_x * var_t) + 1e-9)
    best = np.argmax(corr, axis=1)
    return corr[np.arange(corr.shape[0]), best], best


def _per_sample(seen: np.ndarray, width: int) -> np.ndarray:
    """``seen`` (leads, beats) as a (beats, leads x width) mask of the beats' concatenated
    windows."""
    return seen.T[:, :, None].repeat(width, axis=2).reshape(seen.shape[1], -1)


def _template(v: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
    """Median over beats (rows of ``v``, leads' windows concatenated), per sample; with
    ``seen`` (leads, beats), of the beats that recorded each lead."""
    if seen is None:
        return median_of(list(v))  # as np.median(v, axis=0)
    mask = _per_sample(seen, v.shape[1] // seen.shape[0])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a lead no beat recorded
        out: np.ndarray = np.nan_to_num(np.nanmedian(np.where(mask, v, np.nan), axis=0))
        return out


def rr_around(r_samples: np.ndarray, beats: np.ndarray, sampling_rate_hz: float
              ) -> tuple[float | None, float | None]:
    """Median RR (s) before and after the ``beats`` (bool per beat) that have such a
    neighbour: what a representative beat of those beats follows and precedes (in
    ventricular bigeminy the long pause before the sinus beats, the coupling interval
    after them)."""
    r = np.asarray(r_samples, float)
    sel = np.asarray(beats, bool)
    rr = np.diff(r) / float(sampling_rate_hz)
    before, after = rr[sel[1:]], rr[sel[:-1]]
    return (median_1d(before) if before.size else None,
            median_1d(after) if after.size else None)


def type_beats(signals: dict[str, np.ndarray], sampling_rate_hz: float, r_samples: np.ndarray,
               usable: np.ndarray, pacing_spikes: np.ndarray,
               config: BeatConfig | None = None, valid: np.ndarray | None = None
               ) -> BeatTyping:
    """Type each beat and build the representative (median) beat of the dominant ones.

    Parameters
    ----------
    signals:
        {"signal_uv", "qrs_smooth_uv", "pt_smooth_uv"}: (leads, samples) µV conditioned.
    sampling_rate_hz:
        Samples per second.
    r_samples:
        QRS fiducials from :func:`ecgread.models.qrs_detect.detect_qrs`.
    usable:
        bool per lead.
    pacing_spikes:
        int sample indices of pacing spikes.
    valid:
        bool (leads, samples): recorded (False in a gap, where the conditioned signal is
        zero). A beat is compared with the template only in the leads recorded over its
        window: a gap in V3 over the last second of CPSC A1980 typed its last two beats
        ventricular, and its atrial bigeminy read AF.
    """
    cfg = config or BeatConfig()
    fs = float(sampling_rate_hz)
    x = signals["signal_uv"]
    r = np.asarray(r_samples, dtype=int)
    nb = r.size
    use = np.asarray(usable, bool)
    ms = fs / 1000.0
    if nb == 0 or not use.any():
        return BeatTyping(r, (), np.zeros(0, bool), np.zeros(0, bool), np.zeros(0), {}, 0, None,
                          0, config=cfg)
    a, b = int(60 * ms), int(80 * ms)
    # the detector's fiducial may sit on the R upstroke in one beat and its downstroke in
    # the next (two peaks of slope energy; CPSC A1984: 30 ms apart, 6 of 14 sinus beats typed
    # ventricular): beats are compared with the template at their best alignment
    align = max(1, int(cfg.align_ms * ms))
    wide = windows_around(x[use], r, a + align, b + align)  # (L, B, W + 2 align)
    lagged = np.lib.stride_tricks.sliding_window_view(wide, a + b + 1, axis=2)  # (L,B,S,W)
    centre = align
    seen: np.ndarray | None = None
    if valid is not None and not np.all(valid):
        recorded = np.asarray(windows_around(np.asarray(valid, bool)[use], r, a + align,
                                       b + align).all(axis=2))
        seen = None if recorded.all() else recorded
    v = lagged[:, :, centre].transpose(1, 0, 2).reshape(nb, -1)
    template = _template(v, seen)
    dom = np.ones(nb, bool)
    corr = np.ones(nb)
    shift = np.zeros(nb, int)
    for _ in range(2):
        corr, shift = _aligned_corr(lagged, template.reshape(use.sum(), -1), seen)
        v = lagged[:, np.arange(nb), shift].transpose(1, 0, 2).reshape(nb, -1)
        if seen is None:
            ratio = np.linalg.norm(v, axis=1) / (np.linalg.norm(template) + 1e-9)
        else:  # each beat against the template in its recorded leads
            per_lead = _per_sample(seen, lagged.shape[3])
            ratio = (np.linalg.norm(v * per_lead, axis=1)
                     / (np.linalg.norm(template[None, :] * per_lead, axis=1) + 1e-9))
        dom = (corr >= cfg.dominant_corr) & (ratio > 0.6) & (ratio < 1.6)
        if dom.sum() < max(2, 0.3 * nb):
            # no clear cluster: the beats most like the median form it
            dom = corr >= median_1d(corr)
        template = _template(v[dom], None if seen is None else seen[:, dom])
    # dominant beats' fiducials move to their alignment with the template
    r = np.where(dom, r + shift - centre, r)
    paced = np.zeros(nb, bool)
    spikes = np.asarray(pacing_spikes, dtype=int)
    if spikes.size:
        lo = r - int(cfg.pacing_window_ms * ms)
        hi = r + int(20 * ms)
        nxt = np.searchsorted(spikes, lo)
        paced = (nxt < spikes.size) & (spikes[np.minimum(nxt, spikes.size - 1)] <= hi)
    rr = np.diff(r) / fs
    rr_dom = rr[dom[1:] & dom[:-1]] if nb > 1 else rr
    rr_med = median_1d(rr_dom) if rr_dom.size else (median_1d(rr) if rr.size else None)
    irregularity = normalised_rmssd(rr_dom)
    # regular once premature beats are set aside: atrial bigeminy and trigeminy too
    robust = rr_irregularity_robust(r, other_morphology=~dom) if nb > 3 else None
    regular = any(v is not None and v < 0.1 for v in (irregularity, robust))
    premature = premature_beats(r)
    kinds = []
    for i in range(nb):
        if paced[i]:
            kinds.append("paced")
        elif not dom[i]:
            kinds.append("ventricular")
        elif regular and premature[i]:
            kinds.append("supraventricular")
        else:
            kinds.append("dominant")
    kinds_arr = np.asarray(kinds)
    rep = dom & (kinds_arr != "supraventricular")
    if rep.sum() == 0:
        rep = dom
    # representative-beat window
    rr_ref = rr_med if rr_med else 1.0
    pre_s = min(0.5, max(0.2, 0.6 * rr_ref))
    post_s = min(0.8, max(0.25, 0.85 * rr_ref))
    pre, post = int(pre_s * fs), int(post_s * fs)
    r_rep = r[rep]
    inside = (r_rep - pre >= 0) & (r_rep + post < x.shape[1])
    if inside.sum() >= 1:
        r_rep = r_rep[inside]
    if inside.any():
        beat = {k: median_windows(s, r_rep - pre, pre + post + 1) for k, s in signals.items()}
    else:  # no beat fully inside the record: edge samples repeat
        beat = {k: np.median(windows_around(s, r_rep, pre, post), axis=1)
                for k, s in signals.items()}
    return BeatTyping(r, tuple(kinds), paced, dom, corr, beat, pre, rr_med, int(rep.sum()),
                      config=cfg)

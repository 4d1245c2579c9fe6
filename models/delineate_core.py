"""The per-beat slope-threshold delineator behind :func:`models.delineate.delineate`.

Used twice: on the per-lead template (median beat) that drives the dominant beats, and
on each beat that does not fit the template (ventricular and other odd beats). See
:mod:`models.delineate` for the method and its references.
"""

from __future__ import annotations

import warnings

import numpy as np

from ecgread.models.dsp_config import DelineationConfig
from ecgread.models.order_stats import median, median_1d, percentile


def nanmedian(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Median ignoring NaN along ``axis`` (NaN where all are NaN). Sort-based: much
    faster than ``np.nanmedian`` on the small arrays used here."""
    s = np.sort(np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1), axis=-1)  # NaN last
    if s.ndim == 1:  # the same in scalars (most calls: one boundary over the leads)
        c = int(np.isfinite(s).sum())
        if c == 0:
            return np.array(np.nan)
        return np.array(0.5 * (s[max((c - 1) // 2, 0)] + s[min(max(c // 2, 0), s.size - 1)]))
    cnt = np.isfinite(s).sum(axis=-1)
    lo = np.maximum((cnt - 1) // 2, 0)
    hi = np.maximum(cnt // 2, 0)
    m = 0.5 * (np.take_along_axis(s, lo[..., None], -1)[..., 0]
               + np.take_along_axis(s, np.minimum(hi, s.shape[-1] - 1)[..., None], -1)[..., 0])
    return np.where(cnt > 0, m, np.nan)


def _last_before(mask: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Largest index i < pos with mask[..., i], else -1."""
    w = mask.shape[-1]
    m = mask & (np.arange(w) < pos[..., None])
    i = w - 1 - m[..., ::-1].argmax(axis=-1)
    return np.where(m.any(axis=-1), i, -1)


def _first_after(mask: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Smallest index i > pos with mask[..., i], else -1."""
    m = mask & (np.arange(mask.shape[-1]) > pos[..., None])
    return np.where(m.any(axis=-1), m.argmax(axis=-1), -1)


def _argmax_in(v: np.ndarray, mask: np.ndarray) -> np.ndarray:
    at: np.ndarray = np.where(mask, v, -np.inf).argmax(axis=-1)
    return at


def _take(a: np.ndarray, i: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, np.clip(i, 0, a.shape[-1] - 1)[..., None], axis=-1)[..., 0]


def _global_peak(dev: np.ndarray, inwin: np.ndarray) -> np.ndarray:
    """Per beat, the sample where the leads together deviate most (each lead scaled to
    its own largest deviation in the window): (leads, beats, W) -> (beats,)."""
    a = np.where(inwin, np.abs(dev), 0.0)
    norm = a.max(axis=-1, keepdims=True) + 1e-9
    return _argmax_in(((a / norm) ** 2).sum(axis=0), np.asarray(inwin.any(axis=0)))


def _wave_bounds(x: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 iso: np.ndarray, on_ratio: float, off_ratio: float, radius: int,
                 slope_hi: np.ndarray | None = None, slope_span: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Onset, peak, offset (window indices) and |amplitude| of the largest deflection
    of ``x`` from ``iso`` within [lo, hi] and within ``radius`` samples of the
    multi-lead peak; boundaries by the slope-threshold rule (the return slope searched
    up to ``slope_hi``; both steepest slopes within ``slope_span`` samples of the peak
    when given, so that the drift of a long flat segment cannot outslope a small wave
    and carry its onset back to the window start)."""
    ar = np.arange(x.shape[-1])
    window = (ar >= lo[..., None]) & (ar <= hi[..., None])
    inwin = window
    dev = x - iso[..., None]
    adev = np.abs(dev)
    # only interior local extrema of the deviation count as a peak (not an ST slope
    # that is largest at the window edge)
    ext = np.zeros_like(inwin)
    ext[..., 1:-1] = (adev[..., 1:-1] >= adev[..., :-2]) & (adev[..., 1:-1] >= adev[..., 2:])
    inner = inwin & (ar > lo[..., None]) & (ar < hi[..., None])
    gp = _global_peak(dev, window)
    inwin = np.where((inner & ext).any(-1, keepdims=True), inner & ext, inwin)
    near = inwin & (np.abs(ar - gp[None, :, None]) <= radius)
    near = np.where(near.any(-1, keepdims=True), near, inwin)
    peak = _argmax_in(np.abs(dev), near)
    amp = _take(dev, peak)
    s = np.where(amp >= 0, 1.0, -1.0)[..., None]
    asc, desc = s * d, -s * d
    span = (np.abs(ar - peak[..., None]) <= slope_span if slope_span is not None
            else np.ones_like(window))
    i_a = _argmax_in(asc, window & span & (ar < peak[..., None]))
    shi = hi if slope_hi is None else slope_hi
    i_m = _argmax_in(desc, window & span & (ar > peak[..., None]) & (ar <= shi[..., None]))
    a_slope, m_slope = _take(asc, i_a), _take(desc, i_m)
    on = _last_before(asc < on_ratio * a_slope[..., None], i_a)
    off = _first_after(desc < off_ratio * m_slope[..., None], i_m)
    on = np.where((on < lo) | (i_a >= peak), -1, on)
    off = np.where((off > hi) | (i_m <= peak), -1, off)
    return on, peak, off, np.abs(amp)


def p_votes_needed(n_leads: int) -> int:
    """How many usable leads must vote for P waves: two of four or more, else one."""
    return 2 if n_leads >= 4 else 1


def _p_presence(seg: np.ndarray, valid: np.ndarray, cfg: DelineationConfig,
                dominant: np.ndarray, qrs_uv: np.ndarray | None = None
                ) -> tuple[np.ndarray, float, np.ndarray, float | None]:
    """seg: (leads, beats, W) demeaned P segments, valid: (beats, W) samples that are
    atrial (after the previous T wave), qrs_uv: (leads,) each lead's QRS peak-to-peak.

    Each lead is judged against itself: its median P segment over the reference beats
    (``dominant``) must stand out of that lead's own beat-to-beat scatter (SNR >=
    ``p_presence_snr``) and reach ``p_min_qrs_ratio`` of the lead's QRS amplitude. The
    leads that pass vote; the record has P waves when :func:`p_votes_needed` leads vote
    (two of four or more usable leads, one of up to three: a two-lead Holter's second
    lead often shows the P wave too faintly to vote, QT Database records sel840, sel46,
    sele0114). A beat has a P wave when its P segment, over the
    voting leads each scaled by its own scatter, correlates with the median at >=
    ``p_presence_corr``. A noisy lead therefore neither votes nor dilutes the others. One
    vote suffices among four or more leads when its SNR reaches ``p_lone_vote_snr`` and
    the other leads' scatter is at least ``p_lone_noise_ratio`` of their QRS amplitude
    (a limb tremor of 150 µV leaves lead II clean, with every other lead too noisy to vote:
    LUDB, CPSC and QT Database records read junctional or flutter).

    Returns per-beat presence, the record's P coherence (the SNR of the lead ranked
    :func:`p_votes_needed`: the second best, the best with up to three leads), the
    per-lead votes and the median over the leads of their scatter over their QRS amplitude
    (None without ``qrs_uv``): how well a P wave could have been seen at all.
    """
    n_leads, nb, _ = seg.shape
    none = (np.zeros(nb, bool), 0.0, np.zeros(n_leads, bool), None)
    v = np.broadcast_to(valid[None], seg.shape)
    masked = np.where(v, seg, np.nan)[:, dominant]
    enough = valid[dominant].mean(axis=0) >= 0.5  # (W,) samples most beats cover
    if enough.sum() < 4:
        return none
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no beat there
        ref = np.nan_to_num(nanmedian(masked, axis=1))  # (L, W)
        resid = masked[:, :, enough] - ref[:, None, enough]
        per_beat = np.sqrt(np.nanmean(resid ** 2, axis=2))  # (L, reference beats)
    scatter = np.nan_to_num(nanmedian(per_beat, axis=1), nan=np.inf)  # (L,) noise floor
    ref_rms = np.sqrt((ref[:, enough] ** 2).mean(axis=1))
    snr = ref_rms / (scatter + 1e-9)
    votes = snr >= cfg.p_presence_snr
    if qrs_uv is not None:
        votes &= np.ptp(ref[:, enough], axis=1) >= cfg.p_min_qrs_ratio * np.asarray(qrs_uv)
    need = p_votes_needed(n_leads)
    noise = (median_1d(scatter / (np.asarray(qrs_uv) + 1e-9))
             if qrs_uv is not None and np.isfinite(scatter).all() else None)
    if need > 1 and votes.sum() == 1 and qrs_uv is not None:
        # one clear P wave while the other leads are too noisy to confirm or deny it (a
        # limb tremor leaves lead II clean: read junctional or flutter otherwise)
        best = int(np.argmax(np.where(votes, snr, -np.inf)))
        others = np.delete(scatter / (np.asarray(qrs_uv) + 1e-9), best)
        if (snr[best] >= cfg.p_lone_vote_snr
                and median_1d(others) >= cfg.p_lone_noise_ratio):
            need = 1
    ranked = np.sort(snr)[::-1]
    coherence = float(ranked[need - 1])
    if votes.sum() < need:
        return np.zeros(nb, bool), coherence, votes, noise
    k = np.flatnonzero(votes)
    scale = 1.0 / (scatter[k] + 1e-9)
    w = v[k] * scale[:, None, None]
    flat = (seg[k] * w).transpose(1, 0, 2).reshape(nb, -1)
    rf = (np.broadcast_to(ref[k][:, None], w.shape) * w).transpose(1, 0, 2).reshape(nb, -1)
    corr = (flat * rf).sum(1) / (np.linalg.norm(flat, axis=1) * np.linalg.norm(rf, axis=1)
                                 + 1e-9)
    return corr >= cfg.p_presence_corr, coherence, votes, noise


def p_window(xt: np.ndarray, r: np.ndarray, fs: float, L: np.ndarray, cfg: DelineationConfig,
             qrs_on_abs: np.ndarray, prev_t_off_abs: np.ndarray, rr_prev_s: np.ndarray
             ) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """The P search window of each beat: (xt windows (l, B, W) from ``pre`` samples
    before the fiducial to it, ``pre``, window start index p_lo (B,), QRS onset index
    (B,)). The window starts ``p_window_ms`` before the QRS onset, not before the
    previous T offset, nor earlier than 0.8 RR before the fiducial."""
    ms = fs / 1000.0
    n = xt.shape[1]
    pw = int(round(cfg.p_window_ms * ms))
    pre = pw + int(round(120 * ms))
    pidx = np.clip(r[:, None] + np.arange(-pre, 1)[None, :], 0, n - 1)
    xpw = xt[L][:, pidx]
    g_on_p = np.round(qrs_on_abs - r).astype(int) + pre
    prev_lim = np.where(np.isfinite(prev_t_off_abs), prev_t_off_abs - (r - pre), 0)
    p_lo = np.maximum(g_on_p - pw, prev_lim).astype(int)
    p_lo = np.maximum(p_lo, np.round(pre - 0.8 * rr_prev_s * fs)).astype(int)
    return xpw, pre, p_lo, g_on_p


def lead_qrs_uv(xq: np.ndarray, r: np.ndarray, fs: float, L: np.ndarray,
                beats: np.ndarray) -> np.ndarray:
    """Each lead's (rows ``L``) QRS peak-to-peak, µV: the median over ``beats`` of the
    range of ``xq`` within 60 ms of the fiducial."""
    h = max(1, int(round(0.06 * fs)))
    rb = np.asarray(r, int)[np.asarray(beats, bool)]
    if rb.size == 0:
        rb = np.asarray(r, int)
    idx = np.clip(rb[:, None] + np.arange(-h, h + 1)[None, :], 0, xq.shape[1] - 1)
    w = xq[L][:, idx]  # (l, B, W)
    ptp: np.ndarray = median(np.ptp(w, axis=-1))
    return ptp


def p_reference_beats(r: np.ndarray, dominant: np.ndarray) -> np.ndarray:
    """The beats whose P segments build the median P segment: dominant QRS morphology and
    not premature (:func:`models.rr.premature_beats`), so that the premature P waves of
    frequent atrial premature beats do not blur the sinus P wave. All dominant beats when
    fewer than two remain."""
    from ecgread.models.rr import premature_beats

    dom = np.asarray(dominant, bool)
    ref = dom & ~premature_beats(np.asarray(r, float))
    return ref if ref.sum() >= 2 else dom


def p_presence(xpw: np.ndarray, pre: int, p_lo: np.ndarray, fs: float,
               cfg: DelineationConfig, dominant: np.ndarray,
               g_on_p: np.ndarray | None = None, qrs_uv: np.ndarray | None = None
               ) -> tuple[np.ndarray, float | None, np.ndarray, float | None]:
    """Multi-lead P presence per beat (see :mod:`models.delineate`) from the P windows
    of :func:`p_window`; ``dominant`` are the reference beats (:func:`p_reference_beats`)
    and ``qrs_uv`` each lead's QRS amplitude (:func:`lead_qrs_uv`). Returns (present
    (B,), coherence or None, votes per row of ``xpw``, noise ratio or None: see
    :func:`_p_presence`)."""
    ms = fs / 1000.0
    nb = xpw.shape[1]
    seg_lo = max(pre - int(round((cfg.p_window_ms + 40) * ms)), 0)
    seg = xpw[:, :, seg_lo:pre - int(round(40 * ms))]
    # samples before the previous T offset (or the P window) are not atrial activity
    # and samples from 10 ms before the QRS onset on are ventricular
    pos = (np.arange(seg.shape[-1]) + seg_lo)[None, :]
    after = (pos >= p_lo[:, None])  # (B, W)
    if g_on_p is not None:
        after &= pos < (g_on_p - int(round(10 * ms)))[:, None]
    cnt = np.maximum(after.sum(-1), 1)[None, :, None]
    mean = (seg * after).sum(-1, keepdims=True) / cnt
    seg = np.where(after[None], seg - mean, 0.0)
    dom = np.asarray(dominant, bool)
    if dom.sum() < 2:
        return np.zeros(nb, bool), None, np.zeros(xpw.shape[0], bool), None
    return _p_presence(seg, after, cfg, dom, qrs_uv)


def delineate_beats(xq: np.ndarray, xt: np.ndarray, fs: float, r: np.ndarray,
                    use: np.ndarray, cfg: DelineationConfig, *,
                    dominant: np.ndarray | None = None,
                    p_present: np.ndarray | None = None,
                    rr_s: float | None = None,
                    rr_prev_s: np.ndarray | None = None,
                    rr_next_s: np.ndarray | None = None,
                    prev_t_off: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float | None,
                               np.ndarray | None, float | None]:
    """Per-beat delineation: (points (3, 3, leads, beats) float samples, NaN = absent;
    global QRS onset and offset per beat; P presence per beat; P coherence; the leads
    whose P wave voted, bool per lead, None when ``p_present`` was given; the P-window
    noise ratio of :func:`_p_presence`, None when ``p_present`` was given).

    ``rr_prev_s``/``rr_next_s`` (s) and ``prev_t_off`` (samples, the previous beat's T
    offset) override what is derived from neighbouring entries of ``r`` (for a subset
    of the record's beats)."""
    n_leads, n = xq.shape
    nb = r.size
    points = np.full((3, 3, n_leads, nb), np.nan)
    ms = fs / 1000.0
    rr = np.diff(r) / fs
    rr_default = rr_s if rr_s is not None else (median_1d(rr) if rr.size else 1.0)
    rr_next = np.append(rr, rr_default) if rr_next_s is None else np.asarray(rr_next_s, float)
    rr_prev = np.insert(rr, 0, rr_default) if rr_prev_s is None else np.asarray(rr_prev_s, float)
    dq = np.gradient(xq, axis=1)
    L = np.flatnonzero(use)

    # ---- QRS -------------------------------------------------------------------
    half = int(round(200 * ms))
    offs = np.arange(-half, half + 1)
    idx = np.clip(r[:, None] + offs[None, :], 0, n - 1)
    adq = np.abs(dq[L][:, idx])  # (l, B, W)
    scale = percentile(np.abs(dq[L][:, ::2]), 99) + 1e-9
    sv = (adq / scale[:, None, None]).mean(axis=0)  # (B, W)
    core = np.abs(offs) <= 70 * ms
    search = np.abs(offs) <= min(cfg.qrs_search_ms * ms, 0.3 * rr_default * fs)
    ar = np.arange(offs.size)
    center = np.full(nb, half)
    max_sv = sv[:, core].max(axis=1)
    sig = (sv > cfg.qrs_sig_ratio * max_sv[:, None]) & search
    g_first = np.where(sig.any(1), sig.argmax(1), half)
    g_last = np.where(sig.any(1), offs.size - 1 - sig[:, ::-1].argmax(1), half)
    g_on = _last_before(sv < cfg.qrs_onset_ratio * max_sv[:, None], np.minimum(g_first, center))
    g_off = _first_after(sv < cfg.qrs_offset_ratio * max_sv[:, None], np.maximum(g_last, center))
    cap = int(round(50 * ms))  # a boundary lies at most 50 ms outside the steep slopes
    g_on = np.where((g_on < 0) | (g_on < g_first - cap), g_first - cap, g_on)
    g_off = np.where((g_off < 0) | (g_off > g_last + cap), g_last + cap, g_off)
    g_on, g_off = np.clip(g_on, 0, offs.size - 1), np.clip(g_off, 0, offs.size - 1)

    maxd = adq[:, :, core].max(axis=2)  # (l, B)
    lim_lo = (g_on - 20 * ms)[None, :]
    lim_hi = (g_off + 20 * ms)[None, :]
    sigl = (adq > cfg.qrs_sig_ratio * maxd[..., None]) & (ar >= lim_lo[..., None]) \
        & (ar <= lim_hi[..., None])
    first = np.where(sigl.any(-1), sigl.argmax(-1), half)
    last = np.where(sigl.any(-1), offs.size - 1 - sigl[..., ::-1].argmax(-1), half)
    q_on = _last_before(adq < cfg.qrs_onset_ratio * maxd[..., None], first)
    q_off = _first_after(adq < cfg.qrs_offset_ratio * maxd[..., None], last)
    q_on = np.where((q_on < 0) | (q_on < first - cap), np.maximum(first - cap, 0), q_on)
    q_off = np.where((q_off < 0) | (q_off > last + cap), np.minimum(last + cap, offs.size - 1),
                     q_off)
    xqw = xq[L][:, idx]
    base = _take(xqw, q_on)
    inq = (ar >= q_on[..., None]) & (ar <= q_off[..., None])
    q_peak = _argmax_in(np.abs(xqw - base[..., None]), inq)
    rel = r[None, :] - half
    points[1, 0, L] = rel + q_on + cfg.qrs_onset_shift_ms * ms
    points[1, 1, L] = rel + q_peak
    points[1, 2, L] = rel + q_off + cfg.qrs_offset_shift_ms * ms
    qrs_on_abs = r - half + g_on
    qrs_off_abs = r - half + g_off

    # ---- T ---------------------------------------------------------------------
    tmax = int(round(cfg.t_max_ms * ms))
    toffs = np.arange(tmax + 1)
    tidx = np.clip(r[:, None] + toffs[None, :], 0, n - 1)
    xtw = xt[L][:, tidx]
    dtw = np.gradient(xtw, axis=-1)
    t_lo = (q_off - half) + int(round(60 * ms))
    t_hi_b = np.minimum(tmax, np.round(0.75 * rr_next * fs)).astype(int)
    t_hi_b = np.minimum(t_hi_b, n - 1 - r)
    t_hi = np.broadcast_to(t_hi_b, t_lo.shape)
    # isoelectric level: mean of the 40 Hz signal 20..5 ms before the lead's QRS onset
    # (the 15 Hz signal is smeared by the QRS there)
    pr_a, pr_b = int(round(20 * ms)), max(1, int(round(5 * ms)))
    at = np.clip(q_on[..., None] - np.arange(pr_b, pr_a + 1), 0, xqw.shape[-1] - 1)
    # (k, leads, beats), contiguous: the same sum, in the same order, as the mean of the
    # list of the k samples
    iso_q = np.ascontiguousarray(np.moveaxis(np.take_along_axis(xqw, at, -1), -1, 0)).mean(0)
    iso_t = iso_q
    t_on, t_pk, t_off, t_amp = _wave_bounds(xtw, dtw, t_lo, t_hi - int(20 * ms), iso_t,
                                            cfg.t_onset_ratio, cfg.t_offset_ratio,
                                            int(round(80 * ms)))
    q_off_t = q_off - half
    t_on = np.where(t_on < 0, q_off_t, np.maximum(t_on, q_off_t))
    t_off = np.where(t_off < 0, t_hi, t_off)
    t_ok = (t_lo < t_hi - 20 * ms) & (t_amp > 0)
    points[2, 0, L] = np.where(t_ok, r + t_on, np.nan)
    points[2, 1, L] = np.where(t_ok, r + t_pk, np.nan)
    points[2, 2, L] = np.where(t_ok, r + t_off + cfg.t_offset_shift_ms * ms, np.nan)

    # ---- P ---------------------------------------------------------------------
    t_off_med = nanmedian(points[2, 2, L], axis=0)
    if prev_t_off is None:
        # the first beat (or a lone template beat): its own T offset one RR earlier
        prev_t_off = np.full(nb, -np.inf)
        if np.isfinite(t_off_med[0]):
            prev_t_off[0] = t_off_med[0] - rr_prev[0] * fs
        if nb > 1:
            prev_t_off[1:] = t_off_med[:-1]
    xpw, pre, p_lo, g_on_p = p_window(xt, r, fs, L, cfg, (r - half + g_on).astype(float),
                                      prev_t_off, rr_prev)
    dpw = np.gradient(xpw, axis=-1)
    p_hi = g_on_p - int(round(10 * ms))
    in_rec = (r - pre + p_lo) >= 0
    iso_p = iso_q
    lo2 = np.broadcast_to(p_lo, (L.size, nb))
    hi2 = np.broadcast_to(p_hi, (L.size, nb))
    p_on, p_pk, p_off, p_amp = _wave_bounds(xpw, dpw, lo2, hi2, iso_p,
                                            cfg.p_onset_ratio, cfg.p_offset_ratio,
                                            int(round(50 * ms)), hi2 - int(round(20 * ms)),
                                            int(round(cfg.p_slope_span_ms * ms)))
    coherence = None
    p_leads = None
    p_noise = None
    if p_present is None:
        dom = np.ones(nb, bool) if dominant is None else np.asarray(dominant, bool)
        ref = p_reference_beats(r, dom)
        p_present, coherence, votes, p_noise = p_presence(
            xpw, pre, p_lo, fs, cfg, ref, g_on_p, lead_qrs_uv(xq, r, fs, L, ref))
        p_leads = np.zeros(use.size, bool)
        p_leads[L] = votes
    p_present = np.asarray(p_present, bool) & in_rec & (p_lo < p_hi - 20 * ms)
    p_on = np.where(p_on < 0, lo2, p_on)
    p_off = np.where(p_off < 0, hi2, p_off)
    p_ok = p_present[None, :] & (p_amp >= cfg.p_min_uv)
    p_off = np.minimum(p_off, g_on_p)
    p_ok &= p_on < p_off
    base_p = (r - pre)[None, :]
    points[0, 0, L] = np.where(p_ok, base_p + p_on + cfg.p_onset_shift_ms * ms, np.nan)
    points[0, 1, L] = np.where(p_ok, base_p + p_pk, np.nan)
    points[0, 2, L] = np.where(p_ok, base_p + p_off + cfg.p_offset_shift_ms * ms, np.nan)

    return (points, qrs_on_abs.astype(float), qrs_off_abs.astype(float), p_present, coherence,
            p_leads, p_noise)

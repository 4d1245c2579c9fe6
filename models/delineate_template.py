"""Template-guided delineation of the dominant beats.

The dominant beats of a record share one morphology, so each lead is delineated once,
on its template (the sample-wise median of the dominant beats aligned on their refined
QRS fiducials), where noise and beat-to-beat artefacts have averaged out. Each dominant
beat then inherits the template's boundaries, lead by lead, at the same distance from
its own fiducial; the P wave only where the multi-lead P-presence test finds one before
that beat. Beats of another morphology (ventricular, aberrant) are delineated one by
one. This is the beat-averaging idea of commercial programs and of Laguna P et al.,
"Automatic detection of wave boundaries in multilead ECG signals", Comput Biomed Res
1994;27:45-60; it removes the gross per-beat errors (a T end picked in noise) that
dominate the error SD of single-beat delineation. (Per-beat lags of the T and P waves
found by cross-correlation with the template changed nothing on the LUDB tune split,
so beats are not re-aligned beyond their QRS fiducial.)
"""

from __future__ import annotations

import numpy as np

from ecgread.models.beats import median_windows
from ecgread.models.delineate_core import (
    delineate_beats,
    lead_qrs_uv,
    nanmedian,
    p_presence,
    p_reference_beats,
    p_window,
)
from ecgread.models.dsp_config import DelineationConfig
from ecgread.models.order_stats import median_1d
from ecgread.models.p_timing import p_lags

MIN_TEMPLATE_BEATS = 3


def _t_end_trapezium(x: np.ndarray, peak: int, hi: int, sign: float, xr_n: int) -> int | None:
    """T end by the trapezium area method (Vazquez-Seisdedos CR et al., "New approach
    for T-wave end detection on electrocardiogram: performance in noisy conditions",
    BioMed Eng OnLine 2011;10:77): x_m = steepest return slope after the peak, x_r =
    x_m + ``xr_n`` samples; T end = the x_i in [x_m, x_r] maximising the trapezium area
    0.5 (y_m - y_i)(2 x_r - x_i - x_m) (sign-adjusted for inverted T waves)."""
    if hi - peak < 3:
        return None
    d = np.diff(x[peak:hi + 1])
    xm = peak + int(np.argmax(-sign * d))
    xr = min(hi, xm + xr_n)
    if xr - xm < 2:
        return xr
    i = np.arange(xm, xr + 1)
    area = 0.5 * sign * (x[xm] - x[i]) * (2 * xr - i - xm)
    return int(i[np.argmax(area)])


def _refine_t(pts: np.ndarray, tt: np.ndarray, fs: float, pre: int, L: np.ndarray,
              cfg: DelineationConfig, rr_s: float) -> None:
    """Per-lead T peak and end on a template, in place (see :func:`delineate_template_beat`)."""
    ms = fs / 1000.0
    n = tt.shape[1]
    if not (np.isfinite(pts[1, 0, L, 0]).any() and np.isfinite(pts[1, 2, L, 0]).any()):
        return
    qon = float(nanmedian(pts[1, 0, L, 0]))
    qoff = float(nanmedian(pts[1, 2, L, 0]))
    sq = np.sqrt(rr_s) * fs
    lo = int(qoff + 80 * ms)
    hi = int(min(qon + cfg.t_end_qtc_s * sq, pre + 0.9 * rr_s * fs, n - 1))
    p_on = pts[0, 0, L, 0]
    if np.isfinite(p_on).any():  # the T wave ends before the next beat's P wave begins
        hi = int(min(hi, float(nanmedian(p_on)) + rr_s * fs - 20 * ms))
    pk_hi = int(min(qon + cfg.t_peak_qtc_s * sq, hi - 40 * ms))
    a, b = int(qon - 20 * ms), int(qon - 5 * ms)
    if pk_hi - lo < 5 or a < 0:
        return
    dev = tt[L] - tt[L, a:b].mean(axis=1, keepdims=True)
    w = np.abs(dev[:, lo:pk_hi])
    top = w.max(axis=1, keepdims=True)
    g_pk = lo + int(np.argmax(((w / (top + 1e-9)) ** 2).sum(axis=0)))
    rad = int(round(cfg.t_peak_radius_ms * ms))
    plo, phi = max(lo, g_pk - rad), min(pk_hi, g_pk + rad)
    if phi - plo < 5:
        return
    seg = np.abs(dev[:, plo:phi])
    ext = np.zeros_like(seg, dtype=bool)
    ext[:, 1:-1] = (seg[:, 1:-1] >= seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
    cand = np.where(ext.any(axis=1, keepdims=True), np.where(ext, seg, -1.0), seg)
    peaks = plo + cand.argmax(axis=1)
    xr_n = int(round(cfg.t_trapezium_ms * ms))
    for j, lead in enumerate(L):
        pk = int(peaks[j])
        sign = 1.0 if dev[j, pk] >= 0 else -1.0
        end = _t_end_trapezium(tt[lead], pk, hi, sign, xr_n)
        if end is None:
            continue
        pts[2, 1, lead, 0] = pk
        pts[2, 2, lead, 0] = end + cfg.t_offset_shift_ms * ms
        if pts[2, 0, lead, 0] > pk:
            pts[2, 0, lead, 0] = pk


def _reject_outliers(pts: np.ndarray, L: np.ndarray, fs: float, cfg: DelineationConfig) -> None:
    """Per boundary, a lead further than max(limit, k x 1.4826 MAD) from the median over
    leads takes the median (in place); a QRS onset or offset that another lead confirms
    (within 12 ms) stays: the leads split into two groups where a small terminal S wave
    is seen in some leads only, and the median of the other group would cut it off (a
    narrow MAD when one lead fewer takes part: synthetic QRS 91 -> 66 ms)."""
    ms = fs / 1000.0
    limits = {(0, 0): cfg.p_outlier_ms, (0, 2): cfg.p_outlier_ms,
              (1, 0): cfg.qrs_outlier_ms, (1, 2): cfg.qrs_outlier_ms,
              (2, 2): cfg.t_outlier_ms}
    for (w, k), lim in limits.items():
        v = pts[w, k, L, 0]
        fin = v[np.isfinite(v)]
        if fin.size < 4:
            continue
        med = median_1d(fin)
        mad = median_1d(np.abs(fin - med))
        with np.errstate(invalid="ignore"):
            bad = np.abs(v - med) > max(lim * ms, cfg.outlier_mad_k * 1.4826 * mad)
            if w == 1:  # kept where another lead lies within 12 ms (itself counts once)
                bad &= (np.abs(v[:, None] - v[None, :]) <= 12 * ms).sum(axis=1) < 2
        pts[w, k, L, 0] = np.where(bad, med, v)


def delineate_template_beat(tq: np.ndarray, tt: np.ndarray, fs: float, pre: int,
                            use: np.ndarray, cfg: DelineationConfig, has_p: bool,
                            rr_s: float | None, rr_before_s: float | None = None,
                            prev_t_offset_s: float | None = None
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delineate one clean template beat (fiducial at ``pre``), lead by lead.

    QRS and P as the per-beat delineator (the P window starts after the template's own
    T wave one RR earlier). T: the multi-lead T peak (largest sum of squared,
    per-lead normalised deviations from the PR level) in a rate-adapted window, from
    the QRS offset + 80 ms to ``t_peak_qtc_s`` x sqrt(RR) after the QRS onset; each
    lead's peak is its largest local extremum within ``t_peak_radius_ms`` of it; the
    T end by the trapezium method, searched up to ``t_end_qtc_s`` x sqrt(RR)
    (Bazett-scaled, i.e. a QTc of that many seconds), 0.9 RR and 20 ms before the next
    beat's P wave (one RR after the template's own P onset, when it has one). Finally each boundary
    of a lead that lies far from the other leads' median takes that median.

    ``rr_s`` is the RR after the beats the template stands for (it bounds the T wave),
    ``rr_before_s`` the RR before them (it places the previous T wave, so the P window;
    default ``rr_s``): in ventricular bigeminy the sinus beats follow a long pause and
    precede a short coupling interval, and one median RR for both put the start of the P
    window after the P wave (synthetic bigeminy at 110/min: PR 84 ms, P axis -127 deg,
    atrial tachycardia). ``prev_t_offset_s`` (negative, from the fiducial), where known,
    is where the previous beats' T waves end (the representative beat of a record whose
    previous beats are of another morphology, e.g. ventricular premature beats): the P
    window starts there instead.

    Returns (points (3, 3, leads, 1), global QRS onset (1,), global QRS offset (1,)).
    """
    rr = rr_s if rr_s is not None else 1.0
    before = np.array([rr_before_s if rr_before_s is not None else rr])
    prev_t = (None if prev_t_offset_s is None
              else np.array([pre + prev_t_offset_s * fs]))
    pts, g_on, g_off, *_ = delineate_beats(tq, tt, fs, np.array([pre]), use, cfg,
                                             p_present=np.array([has_p]), rr_s=rr,
                                             rr_prev_s=before, rr_next_s=np.array([rr]),
                                             prev_t_off=prev_t)
    L = np.flatnonzero(use)
    if L.size:
        _refine_t(pts, tt, fs, pre, L, cfg, rr)
        _reject_outliers(pts, L, fs, cfg)
    return pts, g_on, g_off


def delineate_record(xq: np.ndarray, xt: np.ndarray, fs: float, r: np.ndarray, use: np.ndarray,
                     cfg: DelineationConfig, dominant: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float | None,
                                np.ndarray, float | None, np.ndarray] | None:
    """Template-guided delineation of a whole record (see the module docstring).

    Returns (points (3, 3, leads, beats), global QRS onset and offset per beat, P
    presence per beat, P coherence, P-wave votes per lead, the P-window noise ratio
    (:func:`models.delineate_core._p_presence`), P lag per beat in samples:
    :func:`models.p_timing.p_lags` for the dominant beats with a P wave, which inherit
    the template's P boundaries, 0 for the others), or None with fewer than
    ``MIN_TEMPLATE_BEATS`` dominant beats inside the record (the caller then delineates beat
    by beat).
    """
    ms = fs / 1000.0
    n_leads, n = xq.shape
    nb = r.size
    pre = int(round((cfg.p_window_ms + 170.0) * ms))
    post = int(round((cfg.t_max_ms + 30.0) * ms))
    dom = np.asarray(dominant, bool)
    inside = dom & (r - pre >= 0) & (r + post < n)
    if inside.sum() < MIN_TEMPLATE_BEATS:
        return None
    L = np.flatnonzero(use)
    # the template from the beats that are not premature, where there are enough: a
    # premature beat's P window holds the previous beat's T wave (atrial bigeminy: half
    # the beats), which the median would mix into the template's P wave
    regular = inside & p_reference_beats(r, dom)
    in_template = regular if regular.sum() >= MIN_TEMPLATE_BEATS else inside
    tq = np.zeros((n_leads, pre + post + 1))
    tt = np.zeros_like(tq)
    tq[L] = median_windows(xq[L], r[in_template] - pre, pre + post + 1)
    tt[L] = median_windows(xt[L], r[in_template] - pre, pre + post + 1)
    rr = np.diff(r) / fs
    pair = dom[1:] & dom[:-1]
    rr_med = median_1d(rr[pair]) if pair.any() else median_1d(rr)
    rr_next = np.append(rr, rr_med)
    rr_prev = np.insert(rr, 0, rr_med)
    tp, tg_on, tg_off = delineate_template_beat(
        tq, tt, fs, pre, use, cfg, True, median_1d(rr_next[in_template]),
        median_1d(rr_prev[in_template]))
    rel = tp[..., 0] - pre  # (3 waves, 3 points, leads) relative to the fiducial
    points = np.full((3, 3, n_leads, nb), np.nan)
    q_on = np.full(nb, np.nan)
    q_off = np.full(nb, np.nan)
    b = np.flatnonzero(dom)
    rb = r[b].astype(float)
    points[1:, :, :, b] = rb + rel[1:, :, :, None]
    q_on[b] = rb + (tg_on[0] - pre)
    q_off[b] = rb + (tg_off[0] - pre)
    other = np.flatnonzero(~dom)
    if other.size:  # beats of another morphology: beat by beat, P decided below
        prev_t = np.where(other > 0, r[np.maximum(other - 1, 0)] + nanmedian(rel[2, 2, L]),
                          -np.inf)
        po, qo_on, qo_off, *_ = delineate_beats(
            xq, xt, fs, r[other], use, cfg, p_present=np.ones(other.size, bool), rr_s=rr_med,
            rr_prev_s=rr_prev[other], rr_next_s=rr_next[other], prev_t_off=prev_t)
        points[:, :, :, other] = po
        q_on[other], q_off[other] = qo_on, qo_off
    # P presence over all beats, multi-lead (as the per-beat delineator decides it)
    t_off_med = nanmedian(points[2, 2, L], axis=0)
    prev_t_off = np.full(nb, -np.inf)
    prev_t_off[1:] = np.where(np.isfinite(t_off_med[:-1]), t_off_med[:-1], -np.inf)
    if np.isfinite(t_off_med[0]):
        prev_t_off[0] = t_off_med[0] - rr_prev[0] * fs
    q_on_or_guess = np.where(np.isnan(q_on), r - 40 * ms, q_on)  # finite where not NaN
    xpw, ppre, p_lo, g_on_p = p_window(xt, r, fs, L, cfg, q_on_or_guess, prev_t_off, rr_prev)
    ref = p_reference_beats(r, dom)
    present, coherence, votes, p_noise = p_presence(xpw, ppre, p_lo, fs, cfg, ref, g_on_p,
                                                    lead_qrs_uv(xq, r, fs, L, ref))
    p_leads = np.zeros(n_leads, bool)
    p_leads[L] = votes
    present &= ((r - ppre + p_lo) >= 0) & (p_lo < g_on_p - 30 * ms)
    # dominant beats with a P wave take the template's, no earlier than the window start
    p_rel = np.where(np.isfinite(rel[0]), rel[0], np.nan)
    newp = rb + p_rel[..., None]
    ok_b = present[b] & (rb - ppre + p_lo[b] <= np.nanmin(newp[0], axis=0, initial=np.inf)
                         + 20 * ms)
    points[0][:, :, b] = np.where(ok_b[None, None, :], newp, np.nan)
    if other.size:
        points[0][:, :, other] = np.where(present[other][None, None, :],
                                          points[0][:, :, other], np.nan)
    p_lag = np.zeros(nb)
    rows = L[votes] if votes.any() else L
    on_t, off_t = float(nanmedian(rel[0, 0, rows])), float(nanmedian(rel[0, 2, rows]))
    with_p = b[ok_b]
    if with_p.size and np.isfinite(on_t) and np.isfinite(off_t):
        first = r - ppre + p_lo  # after the previous T wave
        last = r - ppre + g_on_p - int(round(10 * ms))  # before the QRS onset
        p_lag[with_p] = p_lags(xt[rows], r[with_p], tt[rows], pre, int(round(on_t + pre)),
                               int(round(off_t + pre)), first[with_p], last[with_p], fs)
    return points, q_on, q_off, present, coherence, p_leads, p_noise, p_lag

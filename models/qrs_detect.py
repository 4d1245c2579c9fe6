"""Multi-lead QRS detection.

The voting leads (those not flagged noisy, where any are) find the beats
together, so an inverted or low-amplitude QRS in one lead does not lose the beat: each
lead is band-passed (5-25 Hz, zero phase), differentiated, and its absolute slope
normalised by its own 99th percentile and capped at :data:`SLOPE_CAP`; the normalised
slopes are averaged over the voting leads and integrated over 80 ms (Pan J, Tompkins WJ,
IEEE TBME 1985;32:230-236, with the multi-lead combination of a spatial velocity). Peaks of
that envelope at least 60/max_rate s apart are candidates; a candidate is a QRS when it
exceeds ``threshold_ratio`` of the median height of the accepted peaks (two passes);
a candidate within 360 ms after a QRS and below 40 % of its height is a T wave; gaps
longer than 1.6 median RR are searched again at ``searchback_ratio``. Pacing spikes
were already cut out by :func:`models.conditioning.condition`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps
from scipy.ndimage import uniform_filter1d

from ecgread.models.beats import windows_around
from ecgread.models.conditioning import (
    Conditioned,
    _power_response,
    odd_extend_spectrum,
    zero_phase_filter,
)
from ecgread.models.dsp_config import QrsDetectConfig
from ecgread.models.order_stats import median_1d, percentile

#: A lead's normalised slope counts at most this much (its QRS complexes reach about 1):
#: one lead's artefact, an electrode pop or a 5 mV step, cannot then make a beat of its
#: own where several leads vote (LUDB 105 with a step in aVR read a beat at the step, and
#: three 'ventricular' beats after it a critical NSVT), while a beat twice as steep as the
#: others in every lead (a tall PVC) still stands out.
SLOPE_CAP = 2.0


@dataclass(frozen=True, eq=False)
class QrsDetection:
    r_samples: np.ndarray  # int, QRS fiducial (peak of multi-lead slope energy), ascending
    envelope: np.ndarray  # the integrated multi-lead slope energy (dimensionless)
    energy: np.ndarray  # un-integrated normalised multi-lead slope (spatial velocity)
    sampling_rate_hz: float
    method: str = "multilead-slope-energy"
    config: QrsDetectConfig = field(default_factory=QrsDetectConfig)


def _accept(env: np.ndarray, pk: np.ndarray, fs: float, cfg: QrsDetectConfig,
            duration_s: float) -> np.ndarray:
    h = env[pk]
    n_min = max(2, int(duration_s * cfg.min_rate_bpm / 60.0))
    top = np.sort(h)[::-1][:n_min]
    ref = median_1d(top)
    acc = pk[h > cfg.threshold_ratio * ref]
    if acc.size:
        ref = median_1d(env[acc])
        acc = pk[env[pk] > cfg.threshold_ratio * ref]
    # T-wave rejection
    keep: list[int] = []
    for p in acc:
        if keep and p - keep[-1] < 0.36 * fs and env[p] < 0.4 * env[keep[-1]]:
            continue
        if keep and p - keep[-1] < 0.36 * fs and env[keep[-1]] < 0.4 * env[p]:
            keep[-1] = int(p)
            continue
        keep.append(int(p))
    acc = np.asarray(keep, dtype=int)
    # search back in long gaps
    for _ in range(3):
        if acc.size < 2:
            break
        rr = np.diff(acc)
        med = median_1d(rr)
        added = []
        for i in np.flatnonzero(rr > 1.6 * med):
            a, b = acc[i], acc[i + 1]
            gap = pk[(pk > a + 0.25 * med) & (pk < b - 0.25 * med)]
            gap = gap[env[gap] > cfg.searchback_ratio * ref]
            if gap.size:
                added.append(int(gap[np.argmax(env[gap])]))
        if not added:
            break
        acc = np.sort(np.concatenate([acc, added]))
    return acc


def detect_qrs(cond: Conditioned, usable: np.ndarray,
               config: QrsDetectConfig | None = None) -> QrsDetection:
    """Find every QRS complex using all usable leads together.

    Parameters
    ----------
    cond:
        Conditioned signals (pacing spikes already removed).
    usable:
        bool per lead; unusable leads do not vote.

    Returns
    -------
    QrsDetection
        Fiducial samples (empty when no lead is usable or nothing was found).
    """
    cfg = config or QrsDetectConfig()
    fs = cond.sampling_rate_hz
    x = cond.signal_uv[np.asarray(usable, dtype=bool)]
    n = cond.signal_uv.shape[1]
    if x.shape[0] == 0 or n < fs:
        empty = np.zeros(n)
        return QrsDetection(np.zeros(0, dtype=int), empty, empty, fs, config=cfg)
    spec, nfft, pad = odd_extend_spectrum(x, int(0.5 * fs))
    power = _power_response(2, (cfg.band_low_hz, min(cfg.band_high_hz, 0.45 * fs)),
                            "bandpass", fs, nfft)
    b = zero_phase_filter(spec, nfft, pad, n, power)  # zero-phase band-pass
    d = np.abs(np.diff(b, axis=1, prepend=b[:, :1]))
    scale = percentile(d, 99) + 1e-9
    energy = np.minimum(d / scale[:, None], SLOPE_CAP).mean(axis=0)
    env = uniform_filter1d(energy, max(1, int(cfg.integration_ms * 1e-3 * fs)))
    pk, _ = sps.find_peaks(env, distance=max(1, int(0.8 * 60.0 / cfg.max_rate_bpm * fs)))
    if pk.size == 0:
        return QrsDetection(np.zeros(0, dtype=int), env, energy, fs, config=cfg)
    acc = _accept(env, pk, fs, cfg, n / fs)
    # refine each fiducial to the peak of the lightly smoothed energy within +-50 ms
    short = uniform_filter1d(energy, max(1, int(0.02 * fs)))
    half = int(0.05 * fs)
    offs = np.arange(-half, half + 1)
    idx = np.clip(acc[:, None] + offs[None, :], 0, n - 1)
    r = idx[np.arange(acc.size), np.argmax(short[idx], axis=1)]
    r = np.unique(r)
    if r.size > 1:  # two fiducials refined onto one QRS
        r = r[np.concatenate([[True], np.diff(r) > 0.5 * 60.0 / cfg.max_rate_bpm * fs])]
    r = r[~t_wave_detections(r, cond.pt_smooth_uv[np.asarray(usable, dtype=bool)], fs)]
    return QrsDetection(r.astype(int), env, energy, fs, config=cfg)


#: T waves detected as beats (see :func:`t_wave_detections`) are looked for where the
#: detections come faster than 1 / this (s; 120 /min: a rhythm of 60 /min or more counted
#: twice; ventricular bigeminy with compensatory pauses runs at the sinus rate, and at
#: 109 /min the synthetic bigeminy at 110 /min lost its premature beats) ...
T_DOUBLED_MAX_RR_S = 0.5
#: ... after a short interval of this range (s; the QRS to T peak of any rate and QT) ...
T_AFTER_QRS_S = (0.15, 0.50)
#: ... within this of the median of such intervals (s; steady as a QT) ...
T_AFTER_QRS_SPREAD_S = 0.06
#: ... at most this share of the interval that follows ...
T_SHORT_LONG_RATIO = 0.9
#: ... at least this share of all detections (a third where every other T wave passed the
#: envelope's rejection: 0.3 missed synthetic wide-QRS rhythms at 90/min read 135/min) ...
T_MIN_SHARE = 0.25
#: ... of another shape than the detections before them (multi-lead correlation of the
#: median shapes below this) ...
T_SHAPE_CORR = 0.9
#: ... and with no wave of their own repolarisation before the next detection: the largest
#: deviation there below this share of their own range (a premature ventricular beat's T
#: wave is about its size; the P wave before the next QRS a tenth of a T wave).
T_OWN_REPOLARISATION = 0.3


def t_wave_detections(r: np.ndarray, x_uv: np.ndarray, fs: float) -> np.ndarray:
    """bool per detection: a T wave that the slope envelope took for a beat.

    A T wave as steep as its QRS complex (a wide QRS of bundle-branch block or pacing with
    its discordant T wave, peaked T waves) passes the envelope's T-wave rejection: every
    beat is then counted twice, a sinus rhythm at 90/min read 180/min, ventricular
    tachycardia and a critical rate (synthetic rhythms with T waves of 70-100 % of the QRS
    amplitude). Such detections follow a QRS complex after an interval as steady as the QT
    and shorter than the one that follows, and differ from it in shape, as the premature
    beats of ventricular bigeminy do; unlike a premature ventricular beat, a T wave has no
    T wave of its own: the signal between it and the next QRS holds no more than a P wave.
    Those detections are T waves (Pan J, Tompkins WJ, IEEE TBME 1985;32:230 tell a T wave
    by its slope alone, within 360 ms of the QRS). Premature atrial beats keep the QRS
    shape, premature ventricular beats their own T wave, so neither is taken; and only a
    fast detected rhythm is examined (:data:`T_DOUBLED_MAX_RR_S`), so ventricular bigeminy,
    whose premature beats come at the sinus rate, is left alone even where a small T wave
    of the premature beat would pass the test (synthetic bigeminy at 100 and 110 /min).

    ``x_uv``: (leads, samples) the voting leads' P/T low-passed signal, µV.
    """
    r = np.asarray(r, int)
    out = np.zeros(r.size, bool)
    if r.size < 6 or x_uv.shape[0] == 0:
        return out
    d = np.diff(r) / fs
    if median_1d(d) >= T_DOUBLED_MAX_RR_S:
        return out
    before, after = d[:-1], d[1:]  # around detections 1 .. n-2
    short = ((before >= T_AFTER_QRS_S[0]) & (before <= T_AFTER_QRS_S[1])
             & (before <= T_SHORT_LONG_RATIO * after))
    if short.sum() < 3:
        return out
    med = median_1d(before[short])
    cand = np.flatnonzero(short & (np.abs(before - med) <= T_AFTER_QRS_SPREAD_S)) + 1
    cand = cand[np.diff(np.concatenate([[-2], cand])) >= 2]  # never two in a row
    if cand.size < max(3, T_MIN_SHARE * r.size):
        return out
    if _shape_corr(x_uv, r[cand - 1], r[cand], fs) >= T_SHAPE_CORR:
        return out
    if _own_repolarisation(x_uv, r, cand, fs) >= T_OWN_REPOLARISATION:
        return out
    out[cand] = True
    # the record's two ends, which lack an interval on one side: a T wave by its shape
    for k, near in ((0, 1), (r.size - 1, r.size - 2)):
        if not out[k] and not out[near] and (
                k == 0 or abs(d[-1] - med) <= T_AFTER_QRS_SPREAD_S):
            out[k] = (_shape_corr(x_uv, r[[k]], r[cand], fs)
                      > _shape_corr(x_uv, r[[k]], r[cand - 1], fs))
    return out


def _shape_corr(x: np.ndarray, ra: np.ndarray, rb: np.ndarray, fs: float) -> float:
    """Correlation of the median multi-lead shapes (+-60 ms) of two sets of detections."""
    half = int(round(0.06 * fs))
    wa = np.median(windows_around(x, ra, half, half), axis=1).ravel()
    wb = np.median(windows_around(x, rb, half, half), axis=1).ravel()
    wa, wb = wa - wa.mean(), wb - wb.mean()
    den = float(np.sqrt((wa ** 2).sum() * (wb ** 2).sum()))
    return float((wa * wb).sum() / den) if den > 0 else 1.0


def _own_repolarisation(x: np.ndarray, r: np.ndarray, b: np.ndarray, fs: float) -> float:
    """Median over detections ``b`` (indices into ``r``, each with a next detection) of
    the largest deviation from the median level between 120 ms after it and 120 ms before
    the next detection (where a T wave of its own would stand; a T wave's is the baseline
    and a P wave), over its own range within +-60 ms (the median over the leads of each
    ratio)."""
    half, gap = int(round(0.06 * fs)), int(round(0.12 * fs))
    ratios = []
    for k in b[b < r.size - 1]:
        lo, hi = r[k] + gap, r[k + 1] - gap
        if hi - lo < 2:
            continue
        own = np.ptp(x[:, max(0, r[k] - half):r[k] + half + 1], axis=1)
        seg = x[:, lo:hi]
        dev = np.max(np.abs(seg - np.median(seg, axis=1, keepdims=True)), axis=1)
        ratios.append(median_1d(dev / np.maximum(own, 1e-9)))
    return median_1d(np.asarray(ratios)) if ratios else 1.0

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
    return QrsDetection(r.astype(int), env, energy, fs, config=cfg)

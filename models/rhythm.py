"""Rhythm features for interpretation to cite (:class:`models.results.RhythmFeatures`).

Definitions
-----------
- ``rr_intervals_ms``: every interval between consecutive detected QRS fiducials, ms.
- ``rr_irregularity``: normalised RMSSD of those intervals, sqrt(mean(diff(RR)^2)) /
  mean(RR), dimensionless; sinus rhythm is typically < 0.05, atrial fibrillation > 0.1
  (cf. Dash S et al., Ann Biomed Eng 2009;37:1701). None with fewer than 3 intervals.
- ``p_wave_ratio``: share of the beats of the dominant QRS morphology (kind "dominant",
  or "paced" in a paced rhythm, and early dominant-morphology beats) that carry a P wave
  (multi-lead decision of :func:`models.delineate.delineate`). None without such beats.
- ``pr_intervals_ms``: per beat with a P wave, from the P onset (15th percentile over
  usable leads, i.e. an early onset that one outlier lead cannot set) to the beat's
  multi-lead QRS onset, ms.
- ``atrial_rate_bpm``: 60000 / median interval between the P peaks (median over leads)
  of consecutive beats that both have a P wave. Only P waves before a QRS are found,
  so non-conducted P waves (AV block) are not counted. None with fewer than 2 pairs.
- ``flutter_wave_rate_bpm``: not estimated by this engine (always None).
- ``pacing_spikes_s``: times of detected pacing spikes, s.
"""

from __future__ import annotations

import numpy as np

from ecgread.models.delineate import Delineation
from ecgread.models.delineate_core import nanmedian
from ecgread.models.results import RhythmFeatures
from ecgread.models.rr_irregularity import normalised_rmssd


def rhythm_features(r_samples: np.ndarray, dominant: np.ndarray, dl: Delineation,
                    usable: np.ndarray, pacing_spikes: np.ndarray,
                    sampling_rate_hz: float) -> RhythmFeatures:
    """Summarise the rhythm of one record (see the module docstring for definitions)."""
    fs = float(sampling_rate_hz)
    r = np.asarray(r_samples)
    rr = np.diff(r) / fs * 1000.0
    irr = normalised_rmssd(rr)
    dom = np.asarray(dominant, dtype=bool)
    has_p = np.asarray(dl.p_present, bool) & np.isfinite(dl.get("P", "onset")[usable]).any(0) \
        if r.size else np.zeros(0, bool)
    ratio = float(has_p[dom].mean()) if dom.any() else None
    pr: tuple[float, ...] = ()
    atrial = None
    if has_p.any():
        p_on = dl.get("P", "onset")[usable][:, has_p]
        with np.errstate(all="ignore"):
            early = np.nanpercentile(p_on, 15, axis=0)
        prs = (dl.qrs_onset_global[has_p] - early) / fs * 1000.0
        pr = tuple(float(v) for v in prs if np.isfinite(v))
        pk = nanmedian(dl.get("P", "peak")[usable][:, has_p], axis=0)
        idx = np.flatnonzero(has_p)
        pairs = np.diff(idx) == 1
        if pairs.sum() >= 2:
            pp = np.diff(pk)[pairs] / fs
            atrial = float(60.0 / np.median(pp))
    return RhythmFeatures(rr_intervals_ms=tuple(float(v) for v in rr), rr_irregularity=irr,
                          p_wave_ratio=ratio, pr_intervals_ms=pr, atrial_rate_bpm=atrial,
                          flutter_wave_rate_bpm=None,
                          pacing_spikes_s=tuple(float(s) / fs for s in pacing_spikes))

"""Per-lead delineation of every P, QRS and T wave: onset, peak, offset.

Slope-threshold delineation after Martinez JP et al., "A wavelet-based ECG delineator:
evaluation on standard databases", IEEE TBME 2004;51:570-581, with derivatives of
zero-phase low-passed signals in place of the quadratic-spline wavelet scales
(40 Hz for QRS, 15 Hz for P and T). Everything is vectorised over leads x beats.

QRS
    A multi-lead spatial velocity (mean over usable leads of |slope| / lead's 99th
    percentile) gives each beat's global QRS span: the first and last samples within
    ``qrs_search_ms`` of the fiducial whose velocity exceeds ``qrs_sig_ratio`` of its
    peak, widened outwards to where it falls below ``qrs_onset_ratio`` /
    ``qrs_offset_ratio``. Each lead then applies the same rule to its own |slope|,
    its significant slopes confined to the global span +-20 ms. Peak: the sample of
    largest |amplitude| relative to the lead's QRS-onset level.
T
    Searched from the lead's QRS offset + 60 ms to min(``t_max_ms``, 0.75 RR) after
    the fiducial. Peak: largest |deviation| from the QRS-onset level (upright or
    inverted). Offset: first sample after the steepest return slope where the slope
    falls below ``t_offset_ratio`` of it; onset symmetric before the peak.
P
    Searched in the ``p_window_ms`` before the global QRS onset, not before the
    previous T offset. Presence is decided over all leads together, never per lead
    alone: the record has P waves when the median P segment over beats stands out of
    the beat-to-beat scatter (SNR >= ``p_presence_snr``; fibrillatory waves do
    not add up coherently), judged in each lead against that lead's own scatter and
    QRS amplitude, in at least two leads; a beat has one when its P segment correlates
    with that median at >= ``p_presence_corr`` over the voting leads (each scaled by
    its own scatter). The median is taken over dominant beats that are not premature
    (:mod:`models.rr`). So AF and junctional rhythms get no P wave, and one noisy lead
    cannot take the P waves away.

Template-guided mode (default, ``use_template``)
    For a record (``dominant`` given, ``p_present`` not), the dominant beats are
    delineated once, on their per-lead median beat, and inherit its boundaries at the
    same distance from their own fiducial; other beats are delineated one by one
    (:mod:`ecgread.models.delineate_template`). On the template the T wave is found in a
    Bazett-scaled window and ends by the trapezium method; the P window starts after
    the template's own T wave one RR earlier; a lead's boundary far from the other
    leads' median takes that median. A lone beat with ``p_present`` given (the
    representative beat) is delineated as a template. The per-beat rules below are
    the delineator of each single beat (:mod:`ecgread.models.delineate_core`).

This is the DSP engine alone; the neural delineator's waves are fused with its waves
later, per lead (:mod:`ecgread.models.fusion`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecgread.models.delineate_core import delineate_beats
from ecgread.models.delineate_template import delineate_record, delineate_template_beat
from ecgread.models.dsp_config import DelineationConfig

WAVES = ("P", "QRS", "T")
POINTS = ("onset", "peak", "offset")


@dataclass(frozen=True, eq=False)
class Delineation:
    """Fiducial points as float sample indices from the record start, NaN = absent.

    ``points[w, k]`` is a (leads, beats) array for wave ``WAVES[w]`` and point
    ``POINTS[k]``. ``qrs_onset_global``/``qrs_offset_global`` are per beat from the
    multi-lead spatial velocity. ``p_present`` is the per-beat multi-lead decision.
    """

    points: np.ndarray  # (3 waves, 3 points, leads, beats) float samples
    qrs_onset_global: np.ndarray  # (beats,)
    qrs_offset_global: np.ndarray  # (beats,)
    p_present: np.ndarray  # (beats,) bool
    p_coherence: float | None  # record-level P coherence (None when not computed)
    sampling_rate_hz: float
    method: str = "dsp-slope-threshold"
    config: DelineationConfig = field(default_factory=DelineationConfig)
    #: bool per lead: the leads whose median P wave stood out of their own noise floor and
    #: QRS amplitude and so voted for P waves (None when the P decision was imposed)
    p_leads: np.ndarray | None = None
    #: median over the leads of the P windows' beat-to-beat scatter over the lead's QRS
    #: amplitude (None when the P decision was imposed): above about 1 % no lead could show
    #: a P wave, and its absence says nothing (models.delineate_core._p_presence)
    p_noise_ratio: float | None = None
    #: per beat, samples by which its P wave lies later than the boundaries in ``points``
    #: say (:mod:`models.p_timing`; template-guided mode only, else None): the dominant
    #: beats inherit the template's P boundaries, this is how their own P wave sits
    p_lag: np.ndarray | None = None

    def get(self, wave: str, point: str) -> np.ndarray:
        at: np.ndarray = self.points[WAVES.index(wave), POINTS.index(point)]
        return at


def delineate(qrs_smooth_uv: np.ndarray, pt_smooth_uv: np.ndarray, sampling_rate_hz: float,
              r_samples: np.ndarray, usable: np.ndarray,
              config: DelineationConfig | None = None, *,
              valid: np.ndarray | None = None,
              dominant: np.ndarray | None = None,
              p_present: np.ndarray | None = None,
              rr_s: float | None = None, rr_before_s: float | None = None,
              prev_t_offset_s: float | None = None) -> Delineation:
    """Delineate P, QRS and T in every lead for every beat.

    Parameters
    ----------
    qrs_smooth_uv, pt_smooth_uv:
        (leads, samples) low-passed signals from :func:`ecgread.models.conditioning.condition`
        (or representative beats built from them), µV.
    sampling_rate_hz:
        Samples per second.
    r_samples:
        QRS fiducials (int samples, ascending).
    usable:
        bool per lead; unusable leads get no waves.
    valid:
        (leads, samples) bool; waves touching invalid samples are dropped.
    dominant:
        bool per beat; the beats that build the median P segment (default all).
    p_present:
        Per-beat P decision to impose (e.g. for a single representative beat).
    rr_s:
        RR interval to assume where a neighbour is missing (default: median RR); for a
        lone representative beat, the RR after the beats it stands for.
    rr_before_s:
        For a lone representative beat, the RR before the beats it stands for (default
        ``rr_s``): it places the previous beat's T wave, so where the P window starts.
    prev_t_offset_s:
        For a lone representative beat, where the previous beats' T waves end (s from the
        fiducial, negative), when known from the record: the P window starts there.

    Returns
    -------
    Delineation
    """
    cfg = config or DelineationConfig()
    fs = float(sampling_rate_hz)
    xq = np.asarray(qrs_smooth_uv, dtype=np.float64)
    xt = np.asarray(pt_smooth_uv, dtype=np.float64)
    n_leads, n = xq.shape
    r = np.asarray(r_samples, dtype=int)
    nb = r.size
    use = np.asarray(usable, dtype=bool)
    points = np.full((3, 3, n_leads, nb), np.nan)
    if nb == 0 or not use.any():
        return Delineation(points, np.full(nb, np.nan), np.full(nb, np.nan),
                           np.zeros(nb, bool), None, fs, config=cfg)
    found: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float | None,
                 np.ndarray | None, float | None] | None = None
    p_lag = None
    method = "dsp-template"
    if nb == 1 and p_present is not None and cfg.use_template:
        # a lone beat with its P decision given is a representative (median) beat
        pp1 = np.asarray(p_present, bool)
        found = (*delineate_template_beat(xq, xt, fs, int(r[0]), use, cfg, bool(pp1[0]), rr_s,
                                          rr_before_s, prev_t_offset_s), pp1, None, None, None)
    elif p_present is None and dominant is not None and cfg.use_template:
        record = delineate_record(xq, xt, fs, r, use, cfg, np.asarray(dominant, bool))
        if record is not None:
            *first, p_lag = record
            found = tuple(first)  # type: ignore[assignment]
        method = "dsp-template-guided"
    if found is None:
        lone = nb == 1
        found = delineate_beats(
            xq, xt, fs, r, use, cfg, dominant=dominant, p_present=p_present, rr_s=rr_s,
            rr_prev_s=np.array([rr_before_s]) if lone and rr_before_s is not None else None,
            prev_t_off=(r + prev_t_offset_s * fs).astype(float)
            if lone and prev_t_offset_s is not None else None)
        method = "dsp-slope-threshold"
    points, qrs_on_abs, qrs_off_abs, pp, coherence, p_leads, p_noise = found
    p_present = pp
    # the bias shifts must not cross the peak: onset <= peak <= offset
    points[:, 0] = np.fmin(points[:, 0], points[:, 1])
    points[:, 2] = np.fmax(points[:, 2], points[:, 1])
    # ordering: P offset <= QRS onset per lead, T onset >= QRS offset
    q_on_abs = points[1, 0]
    with np.errstate(invalid="ignore"):
        bad_p = points[0, 2] > q_on_abs
        points[0, 2] = np.where(bad_p, q_on_abs, points[0, 2])
        drop_p = ~((points[0, 0] < points[0, 2]) & (points[0, 1] <= points[0, 2]))
        points[0, :, drop_p] = np.nan
        drop_t = ~((points[2, 0] < points[2, 2]) & (points[2, 0] <= points[2, 1]))
        points[2, :, drop_t] = np.nan
    if valid is not None:
        ok = np.asarray(valid, bool)
        for w in range(3):
            for k in (0, 2):
                p = points[w, k]
                fin = np.isfinite(p)
                pi = np.clip(np.where(fin, p, 0).astype(int), 0, n - 1)
                bad = fin & ~np.take_along_axis(ok, pi, axis=1)
                points[w, :, bad] = np.nan
    # out of record
    with np.errstate(invalid="ignore"):
        out = (points[:, 0] < 0) | (points[:, 2] > n - 1)
    for w in range(3):
        points[w, :, out[w]] = np.nan
    return Delineation(points, qrs_on_abs.astype(float), qrs_off_abs.astype(float),
                       p_present, coherence, fs, method=method, config=cfg, p_leads=p_leads,
                       p_noise_ratio=p_noise, p_lag=p_lag)


"""RR-interval measures that premature beats cannot fake: which beats come early, and how
irregular the rhythm is once they are set aside.

Definitions
-----------
- *Premature* beat ``i``: its coupling interval RR[i-1] is shorter than
  :data:`PREMATURE_RATIO` x the longer of the record's median RR and the interval before
  it, RR[i-2] (the upper quartile of RR for the second beat, which has no interval before
  its coupling interval; in bigeminy the coupling intervals are half of all intervals, and
  the median may be one of them), and the interval after it is longer than the coupling interval by
  :data:`PAUSE_RATIO` (the pause that follows an atrial or ventricular premature beat; the
  last beat needs only the first condition). This is the
  short-long pattern that a Lorenz (Poincare) plot of RR separates from the dispersion of
  atrial fibrillation (Sarkar S, Ritscher D, Mehra R. A detector for a chronic
  implantable atrial tachyarrhythmia monitor. IEEE TBME 2008;55:1219-1224).
- ``rr_irregularity_robust``: the normalised RMSSD, sqrt(mean(diff(RR)^2)) / mean(RR), of
  the RR intervals that touch neither a premature beat nor a beat of another QRS morphology
  (its coupling interval and the pause after it are left out, as NN intervals are for
  heart-rate variability: Task Force of the ESC and NASPE, Circulation 1996;93:1043).
  Only successive differences between two kept intervals count. Sinus rhythm with
  premature beats then stays regular; atrial fibrillation stays irregular, because its
  irregularity is not confined to short-long pairs (normalised RMSSD as the AF measure:
  Dash S, Chon KH, Lu S, Raeder EA. Automatic real time detection of atrial fibrillation.
  Ann Biomed Eng 2009;37:1701-1709).
  When premature beats leave fewer than 3 such differences (bigeminy, trigeminy: every
  interval touches one), the intervals are taken by class instead, as group beating is
  read: coupling intervals (ending at a premature beat), pauses (starting at one) and the
  rest; the successive differences within each class, each over its class mean, give one
  RMS (:func:`_by_class`). Group beating repeats its short-long pattern and so stays
  regular ("regularly irregular"); in atrial fibrillation the 'coupling intervals' scatter.
  None with fewer than 3 differences either way.

Example
-------
>>> import numpy as np
>>> r = np.array([0.0, 1.0, 2.0, 2.6, 3.7, 4.7, 5.7, 6.3, 7.4, 8.4, 9.4])  # s, two PACs
>>> premature_beats(r).nonzero()[0].tolist()
[3, 7]
>>> rr_irregularity_robust(r) < 0.05
True
>>> big = np.cumsum([0.0] + [0.52, 1.04] * 6)  # atrial bigeminy: every interval touches one
>>> round(rr_irregularity_robust(big), 3)
0.0
"""

from __future__ import annotations

import numpy as np

from ecgread.models.order_stats import median_and_upper_quartile

#: A coupling interval shorter than this share of the median RR is premature.
PREMATURE_RATIO = 0.85
#: The interval after a premature beat is at least this multiple of its coupling interval.
PAUSE_RATIO = 1.15


def premature_beats(r_s: np.ndarray) -> np.ndarray:
    """bool per beat: premature by the short-long rule of the module docstring.

    Parameters
    ----------
    r_s:
        QRS fiducial times, ascending (any unit, e.g. s or samples).
    """
    r = np.asarray(r_s, dtype=float)
    out = np.zeros(r.size, bool)
    if r.size < 3:
        return out
    rr = np.diff(r)
    med, upper_quartile = median_and_upper_quartile(rr)
    coupling = rr  # coupling interval of beat i + 1
    # the longer of the median and the RR before; the first has none: the upper quartile
    before = np.empty_like(rr)
    before[0] = upper_quartile
    before[1:] = rr[:-1]
    before = np.maximum(med, before)
    after = np.empty_like(rr)  # the interval that follows beat i + 1
    after[:-1] = rr[1:]
    after[-1] = np.inf
    out[1:] = (coupling < PREMATURE_RATIO * before) & (after > PAUSE_RATIO * coupling)
    return out


def rr_irregularity_robust(r_s: np.ndarray, other_morphology: np.ndarray | None = None,
                           after_gap: np.ndarray | None = None) -> float | None:
    """Normalised RMSSD of the RR intervals that touch no premature beat (dimensionless).

    Parameters
    ----------
    r_s:
        QRS fiducial times, ascending.
    other_morphology:
        bool per beat: beats of another QRS morphology (ventricular), whose intervals are
        left out as well. Default: none.
    after_gap:
        bool per beat: the interval ending at it spans a gap in the recording (unseen beats
        in it): that interval is no heart cycle and is left out of every class. Counted as
        an ectopic beat's coupling interval instead, a 2.6 s gap among PAC coupling
        intervals of 0.52 s read 0.80, and atrial bigeminy atrial fibrillation.

    Returns
    -------
    float | None
        None with fewer than 3 successive differences between kept intervals.
    """
    r = np.asarray(r_s, dtype=float)
    if r.size < 4:
        return None
    ectopic = premature_beats(r)
    if other_morphology is not None:
        ectopic = ectopic | np.asarray(other_morphology, bool)
    rr = np.diff(r)
    seen = (~np.asarray(after_gap, bool)[1:] if after_gap is not None
            else np.ones(rr.size, bool))
    # interval k runs from beat k to beat k + 1: it touches an ectopic beat at either end
    keep = ~(ectopic[:-1] | ectopic[1:]) & seen
    pairs = keep[:-1] & keep[1:]
    if pairs.sum() < 3:
        return _by_class(rr, ectopic, seen)
    d = np.diff(rr)[pairs]
    return float(np.sqrt(np.mean(d ** 2)) / np.mean(rr[keep]))


def _by_class(rr: np.ndarray, ectopic: np.ndarray, seen: np.ndarray) -> float | None:
    """RMS of the successive differences within each interval class (ending at an ectopic
    beat; starting at one; neither), each over its class mean; None with fewer than 3.
    Intervals not ``seen`` (across a gap) belong to no class."""
    ends, starts = ectopic[1:], ectopic[:-1]
    scaled: list[np.ndarray] = []
    for cls in (ends & ~starts, starts & ~ends, ~(ends | starts)):
        v = rr[cls & seen]
        if v.size >= 2:
            scaled.append(np.diff(v) / np.mean(v))
    d = np.concatenate(scaled) if scaled else np.zeros(0)
    if d.size < 3:
        return None
    return float(np.sqrt(np.mean(d ** 2)))

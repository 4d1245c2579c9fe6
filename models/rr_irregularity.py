"""Irregularity of a series of RR intervals: the normalised RMSSD. Pure.

The one definition used for the rhythm features (``RhythmFeatures.rr_irregularity``,
:mod:`ecgread.models.rhythm`), for the regularity test of beat typing
(:mod:`ecgread.models.beats`) and for the normal-to-normal irregularity that the
interpretation cites (:mod:`ecgread.models.interpret.values`).

References
----------
Dash S, Chon KH, Lu S, Raeder EA. Automatic real time detection of atrial fibrillation.
Ann Biomed Eng 2009;37:1701-1709 (normalised RMSSD: sinus rhythm typically < 0.05, atrial
fibrillation > 0.1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["normalised_rmssd"]


def normalised_rmssd(rr: np.ndarray | Sequence[float]) -> float | None:
    """sqrt(mean(diff(RR)^2)) / mean(RR) of consecutive RR intervals, dimensionless.

    Parameters
    ----------
    rr:
        Consecutive RR intervals, in any one unit (s or ms: the ratio has none).

    Returns
    -------
    float | None
        The normalised RMSSD; None with fewer than 3 intervals.

    Example
    -------
    >>> round(normalised_rmssd([800.0, 1000.0, 800.0]), 3)
    0.231
    >>> normalised_rmssd([800.0, 810.0]) is None
    True
    """
    x = np.asarray(rr, dtype=np.float64)
    if x.size < 3:
        return None
    return float(np.sqrt(np.mean(np.diff(x) ** 2)) / np.mean(x))

"""Level steps: an electrode pop or an amplifier's baseline reset shifts one lead's level
by millivolts within a few milliseconds and keeps it there.

The heart cannot do that. The steepest QRS slopes are about 0.5 mV/ms, and a QRS swing
comes back within 100 ms; a pacing stimulus is as fast but comes back within
milliseconds. Left in, the 0.67 Hz high-pass turns the step into an edge and a decay of
about a quarter second, and the QRS detector's band-passed slope into a beat of its own
(a 5 mV step in a one-lead strip read 139/min where the strip ran at 68).

A step at sample n of a lead: the level moves by at least :data:`STEP_MIN_UV` within
:data:`STEP_RISE_MS` (``x[n + w] - x[n]``; over a longer sample, at
:data:`STEP_MIN_SLOPE_UV_PER_MS`; and :data:`STEP_SLOPE_RATIO` times the lead's steepest
QRS moves), and the median level over the
:data:`STEP_HOLD_MS` after it differs from the median over the same span before it by at
least :data:`STEP_HOLD_SHARE` of that move, the same way. :func:`without_level_steps`
takes each step's shift out of everything after it and joins the two levels by a line
across the rise; the read says so in its notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgread.models.order_stats import median_1d, percentile

#: The least move that can be a step, µV, within the time it may take, ms (at least one
#: sample), and at least this slope, µV/ms: twice the largest QRS slope (0.5 mV/ms). At
#: 250 Hz a sample spans 4 ms, and a step must then move 4 mV.
STEP_MIN_UV = 2000.0
STEP_RISE_MS = 2.0
STEP_MIN_SLOPE_UV_PER_MS = 1000.0
#: The new level holds over this span (longer than a wide QRS with its ST segment and most
#: of its T wave: paced and LBBB complexes of QTDB and LUDB at 3x gain held 120 ms) by at
#: least this share of the move.
STEP_HOLD_MS = 400.0
STEP_HOLD_SHARE = 0.8
#: Near the record's edges the span shrinks to what there is, not below this.
STEP_MIN_HOLD_MS = 100.0
#: And the move is this many times the lead's 99.5th-percentile move over the same time
#: (its steepest QRS slopes): a tall PVC's downstroke into a deep ST-T (LUDB 125 V4 at 3x
#: gain) and a pacing spike before a deep paced QRS (LUDB 95) are the lead's steepest
#: moves, a pop is many times steeper.
STEP_SLOPE_RATIO = 8.0


@dataclass(frozen=True)
class LevelStep:
    lead: int  # row of the signal
    sample: int  # the last sample at the old level
    shift_uv: float  # new level minus old level (medians over STEP_HOLD_MS)


def find_level_steps(x: np.ndarray, sampling_rate_hz: float) -> list[LevelStep]:
    """The level steps of ``x`` ((leads, samples) µV, no NaN), in order of lead and time.

    Example
    -------
    >>> t = np.arange(5000) / 500
    >>> x = 500 * np.sin(2 * np.pi * 1.2 * t)[None] + np.where(t >= 4.0, 5000.0, 0.0)
    >>> [(s.lead, s.sample, round(s.shift_uv, -3)) for s in find_level_steps(x, 500.0)]
    [(0, 1999, 5000.0)]
    """
    fs = float(sampling_rate_hz)
    w = max(1, int(round(STEP_RISE_MS * 1e-3 * fs)))
    hold = max(2, int(round(STEP_HOLD_MS * 1e-3 * fs)))
    min_hold = max(2, int(round(STEP_MIN_HOLD_MS * 1e-3 * fs)))
    n = x.shape[1]
    if n <= 2 * min_hold + w:
        return []
    move = x[:, w:] - x[:, :-w]
    least = max(STEP_MIN_UV, STEP_MIN_SLOPE_UV_PER_MS * 1e3 * w / fs)
    big = np.abs(move) >= least
    if not big.any():  # most records: nothing to look at further
        return []
    # and far steeper than the lead's own QRS slopes (its 99.5th percentile move)
    lead, at = np.nonzero(big & (np.abs(move) >= STEP_SLOPE_RATIO * percentile(
        np.abs(move), 99.5)[:, None]))
    steps: list[LevelStep] = []
    for li in np.unique(lead):
        cand = at[lead == li]
        # one step per run of candidates: the sample of the largest move
        for run in np.split(cand, np.flatnonzero(np.diff(cand) > w) + 1):
            s = int(run[np.argmax(np.abs(move[li, run]))])
            span = min(hold, s + 1, n - s - w)  # near an edge, what there is
            if span < min_hold:
                continue  # too near an edge to tell a step from a swing
            before = median_1d(x[li, s - span + 1:s + 1])
            after = median_1d(x[li, s + w:s + w + span])
            shift = float(after - before)
            m = float(move[li, s])
            if np.sign(shift) == np.sign(m) and abs(shift) >= STEP_HOLD_SHARE * abs(m):
                steps.append(LevelStep(int(li), s, shift))
    return steps


def without_level_steps(x: np.ndarray, steps: list[LevelStep], sampling_rate_hz: float
                        ) -> np.ndarray:
    """``x`` with each step's shift taken out of the samples after it, the rise replaced
    by a line between the two levels (a copy; ``x`` unchanged)."""
    out = np.array(x, dtype=np.float64, copy=True)
    w = max(1, int(round(STEP_RISE_MS * 1e-3 * float(sampling_rate_hz))))
    for st in steps:
        row = out[st.lead]
        row[st.sample + w:] -= st.shift_uv
        a, b = st.sample, st.sample + w
        row[a:b + 1] = np.linspace(row[a], row[b], b - a + 1)
    return out

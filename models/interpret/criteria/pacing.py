"""Paced rhythms: atrial, ventricular and AV sequential (dual-chamber) pacing.

Sources
-------
Mason JW et al. AHA/ACCF/HRS Part II, Circulation 2007;115:1325, statements 180 (atrial-paced),
181 (ventricular-paced), 184 (AV dual-paced). A beat is ventricular-paced when a pacing spike
lies within 80 ms before its QRS fiducial (models.beats) or within 50 ms of its QRS onset;
atrially paced when a spike lies 90-350 ms before the fiducial and a P wave follows it
(atrial capture). A paced rhythm: at least half of the beats paced.
"""

from __future__ import annotations

from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.interpret.values import atrial_paced_beats, ventricular_paced_beats


def pacing(c: Ctx) -> list[Finding]:
    vp = ventricular_paced_beats(c.a)
    v = c.ev("paced_beat_fraction", ">= 0.5", spans=c.beats(vp, 0.05))
    at = c.ev("atrial_paced_beat_fraction", ">= 0.5",
              spans=c.beats(atrial_paced_beats(c.a), 0.3))
    if v and at:
        return [Finding("AVPACED", "definite", (v, at))]
    if v:
        return [Finding("VPACED", "definite", (v,))]
    if at:
        return [Finding("APACED", "definite", (at,))]
    return []

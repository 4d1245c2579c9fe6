"""Frontal QRS axis and QRS voltage statements.

Sources
-------
- Axis (adults): normal -30 to +90 deg; left-axis deviation -30 to -90; right-axis deviation
  +90 to +180; right superior (extreme) axis -90 to -180 (Surawicz B et al. AHA/ACCF/HRS
  Part III, Circulation 2009;119:e235; Mason JW et al. Part II, statements 120-122).
- Low voltage: QRS peak-to-peak < 500 µV in every limb lead or < 1000 µV in every precordial
  lead (Hancock EW et al. AHA/ACCF/HRS Part V, Circulation 2009;119:e251; statement 125).
"""

from __future__ import annotations

from ecgread.models.catalogue import limit
from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.interpret.values import LIMB_LEADS, PRECORDIAL_LEADS


def axis(c: Ctx) -> list[Finding]:
    out: list[Finding] = []
    frontal = tuple(ld for ld in LIMB_LEADS if ld in c.a.amplitudes)
    spans = c.qrs(c.first_lead(("I", "aVF", "II")) or "")
    if e := c.ev("qrs_axis_deg", limit("qrs_axis_deg", "low").band(-90), frontal, spans):
        out.append(Finding("LAD", "definite", (e,)))
    elif e := c.ev("qrs_axis_deg", limit("qrs_axis_deg", "high").band(180), frontal, spans):
        out.append(Finding("RAD", "definite", (e,)))
    elif e := c.ev("qrs_axis_deg", "in [-180, -90)", frontal, spans):
        out.append(Finding("EXTREME_AXIS", "definite", (e,)))
    limb = c.ev("limb_qrs_max_pp_uv", "< 500", frontal, spans)
    prec = c.ev("precordial_qrs_max_pp_uv", "< 1000",
                tuple(ld for ld in PRECORDIAL_LEADS if ld in c.a.amplitudes),
                c.qrs(c.first_lead(("V3", "V4")) or ""))
    if limb or prec:
        out.append(Finding("LOW_VOLTAGE", "definite", tuple(e for e in (limb, prec) if e)))
    return out

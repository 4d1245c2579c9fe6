"""Ectopic beats: PVCs, PACs, ventricular bigeminy and couplets.

Sources
-------
Mason JW et al. AHA/ACCF/HRS Part II, Circulation 2007;115:1325: statements 30 (atrial
premature complexes), 60 (ventricular premature complexes), modifiers 340 (couplets) and 341
(in a bigeminal pattern). A ventricular premature complex here is a beat of non-dominant QRS
morphology whose preceding RR is < 90 % of the median normal RR; a supraventricular one is an
early beat of dominant morphology (models.beats). Bigeminy: >= 3 normal-PVC pairs in a row.
"""

from __future__ import annotations

from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.interpret.values import premature_ventricular


def ectopy(c: Ctx) -> list[Finding]:
    out: list[Finding] = []
    pvc = premature_ventricular(c.a)
    if e := c.ev("premature_ventricular_count", ">= 1", spans=c.beats(pvc)):
        out.append(Finding("PVC", "definite", (e,)))
        if b := c.ev("ventricular_bigeminy_cycles", ">= 3", spans=c.beats(pvc)):
            out.append(Finding("VBIGEMINY", "definite", (b,)))
        if cp := c.ev("ventricular_couplets", ">= 1", spans=c.beats(pvc)):
            out.append(Finding("PVC_COUPLET", "definite", (cp,)))
    pac = [i for i, b in enumerate(c.a.beats) if b.kind == "supraventricular"]
    if e := c.ev("premature_supraventricular_count", ">= 1", spans=c.beats(pac)):
        out.append(Finding("PAC", "definite", (e,)))
    return out

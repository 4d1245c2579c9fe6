"""Technical statements: uninterpretable records and suspected electrode reversal.

Sources
-------
Mason JW et al. AHA/ACCF/HRS Part II, Circulation 2007;115:1325, statements 4
(uninterpretable ECG), 10 (extremity electrode reversal), 15 (poor-quality data). When the
quality assessment (models.quality) finds the record unusable, only the technical statement is
given: the program says so instead of guessing.
"""

from __future__ import annotations

from ecgread.models.interpret.context import Ctx, Finding


def quality(c: Ctx) -> list[Finding]:
    out: list[Finding] = []
    if e := c.ev("quality_usable", "== 0", spans=c.record()):
        out.append(Finding("UNINTERPRETABLE", "definite", (e,)))
    if e := c.ev("limb_reversal_suspected", "== 1", ("I", "aVR") if "aVR" in
                 c.a.ecg.lead_names and "I" in c.a.ecg.lead_names else (), c.record()):
        out.append(Finding("LIMB_REVERSAL", "probable", (e,)))
    return out

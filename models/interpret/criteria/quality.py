"""Technical statements: uninterpretable records and suspected electrode reversal.

Sources
-------
Mason JW et al. AHA/ACCF/HRS Part II, Circulation 2007;115:1325, statements 4
(uninterpretable ECG), 10 (extremity electrode reversal), 15 (poor-quality data). When the
quality assessment (models.quality) finds the record unusable, or the beats found do not share
one QRS morphology (pure noise), only the technical statement is given: the program says so
instead of guessing.
"""

from __future__ import annotations

from ecgread.models.interpret.context import Ctx, Finding

#: Median correlation of the beats with the dominant QRS template below which the record
#: holds no organised ventricular activity (models.rhythm: qrs_consistency; real ECGs,
#: ectopy included, give > 0.8, noise 0.1-0.3).
MIN_QRS_CONSISTENCY = 0.5


def quality(c: Ctx) -> list[Finding]:
    out: list[Finding] = []
    if e := c.ev("quality_usable", "== 0", spans=c.record()):
        out.append(Finding("UNINTERPRETABLE", "definite", (e,)))
    elif e := c.ev("rhythm.qrs_consistency", f"< {MIN_QRS_CONSISTENCY}", spans=c.record()):
        # what the detector took for beats are not one organised QRS: noise, not an ECG
        out.append(Finding("UNINTERPRETABLE", "definite", (e,)))
    if e := c.ev("limb_reversal_suspected", "== 1", ("I", "aVR") if "aVR" in
                 c.a.ecg.lead_names and "I" in c.a.ecg.lead_names else (), c.record()):
        out.append(Finding("LIMB_REVERSAL", "probable", (e,)))
    return out

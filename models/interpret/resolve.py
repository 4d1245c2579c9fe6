"""Contradiction resolution and the overall statement.

Resolution: statements are taken in :data:`PRIORITY` order; a statement that survives removes
the statements it excludes (:data:`EXCLUDES`), e.g. atrial fibrillation removes every
statement that needs P waves (sinus rhythms, PR statements, atrial enlargement), and a
bundle-branch block or ventricular pacing removes the QRS-voltage, axis-block and ST
statements whose criteria do not apply with abnormal depolarisation (Surawicz 2009 Part III;
Thygesen 2018 for STEMI in LBBB and pacing; Hancock 2009 Part V for LVH in LBBB). A statement
of :data:`REQUIRES` stays only beside one of the statements it needs (Sgarbossa's STEMI
criteria with LBBB or ventricular pacing).

Overall (Mason 2007 statements 1-3, plus "borderline"): abnormal when any abnormal finding is
definite or probable; borderline when the only findings are borderline ones or "possible"
abnormal ones; otherwise normal when only minor findings (rate, sinus arrhythmia, early
repolarization) accompany a sinus rhythm; normal when the sinus rhythm stands alone. No
overall statement when the rhythm could not be determined and nothing is abnormal, nor a
normal one when the record lacks any of the 12 standard leads (what was not recorded cannot
be called normal).
"""

from __future__ import annotations

from ecgread.models.catalogue import normal_range
from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.interpret.library import LIBRARY

#: Q-wave infarct: not in LBBB, LVH (Thygesen 2018), ventricular pacing or pre-excitation.
_Q_INFARCT = {"MI_ANT", "MI_INF", "MI_LAT"}
_P_DEPENDENT = {"SR", "SBRAD", "STACH", "SARRH", "EAR", "AT", "1AVB", "SHORT_PR",
                "2AVB_II", "3AVB", "LAE", "RAE", "PAC", "WPW", "JUNCT", "ACC_JUNCT", "SVT"}
_QRS_DEPENDENT = {"LBBB", "RBBB", "ILBBB", "IRBBB", "IVCD", "LAFB", "LPFB", "LVH", "RVH",
                  "STEMI_ANT", "STEMI_INF", "STEMI_LAT", "STE", "ST_DEP", "T_INV", "EARLY_REPOL",
                  "LAD", "RAD", "EXTREME_AXIS", "WPW", "SHORT_PR", "LONG_QT", "SHORT_QT",
                  "QTC_GE500"} | _Q_INFARCT
_STEMI = {"STEMI_ANT", "STEMI_INF", "STEMI_LAT", "STE"}

EXCLUDES: dict[str, set[str]] = {
    "VPACED": _QRS_DEPENDENT | {"1AVB", "3AVB", "2AVB_II", "PVC", "VBIGEMINY",
                                "PVC_COUPLET", "NSVT", "VT"},
    "AVPACED": _QRS_DEPENDENT | _P_DEPENDENT | {"PVC", "VBIGEMINY", "PVC_COUPLET", "NSVT",
                                                 "VT"},
    "APACED": _P_DEPENDENT,
    "VT": {"SVT", "JUNCT", "ACC_JUNCT", "NSVT", "PVC", "PVC_COUPLET", "VBIGEMINY"}
          | _QRS_DEPENDENT,
    "NSVT": {"PVC_COUPLET"},
    "AF": _P_DEPENDENT,
    "AFL": _P_DEPENDENT | {"AF"},
    # atria and ventricles beat independently: the representative beat's P wave is an
    # average of P waves at every distance from the QRS, so no statement from its P axis,
    # amplitude or PR, and no atrial rhythm at the ventricular rate (synthetic complete
    # AV block read ectopic atrial rhythm beside it)
    "3AVB": _P_DEPENDENT - {"3AVB"},
    # what the atrial waves are is not known (fewer than 3 RR intervals, or no decision):
    # no statement from them either (2.5-3 s of AF read first-degree AV block)
    "RHYTHM_UNDETERMINED": {"1AVB", "SHORT_PR", "2AVB_II", "LAE", "RAE", "WPW", "PAC"},
    "WPW": {"SHORT_PR", "IVCD", "LBBB", "RBBB", "ILBBB", "IRBBB", "LVH", "RVH", "LAFB",
            "LPFB", "ST_DEP", "T_INV"} | _STEMI | _Q_INFARCT,
    "LBBB": {"ILBBB", "IRBBB", "IVCD", "LVH", "RVH", "LAFB", "LPFB", "ST_DEP", "T_INV",
             "EARLY_REPOL"} | _STEMI | _Q_INFARCT,
    "ILBBB": {"IVCD"} | _Q_INFARCT,
    "LVH": _Q_INFARCT,
    "RBBB": {"IRBBB", "IVCD", "RVH", "T_INV"},
    "IRBBB": {"IVCD"},
    "STEMI_ANT": {"EARLY_REPOL"},
    "STEMI_INF": {"EARLY_REPOL"},
    "STEMI_LAT": {"EARLY_REPOL"},
    "STE": {"EARLY_REPOL"},
    "STEMI_SGARB": _STEMI | {"EARLY_REPOL"},
    "QTC_GE500": {"LONG_QT"},
    "LIMB_REVERSAL": {"LAD", "RAD", "EXTREME_AXIS", "LAFB", "LPFB", "EAR"},
    "VBIGEMINY": {"PVC"},
}
PRIORITY: tuple[str, ...] = (
    "UNINTERPRETABLE", "AVPACED", "VPACED", "APACED", "VT", "NSVT", "AFL", "AF", "3AVB",
    "RHYTHM_UNDETERMINED", "WPW",
    "LBBB", "RBBB", "ILBBB", "IRBBB", "STEMI_SGARB", "STEMI_ANT", "STEMI_INF", "STEMI_LAT",
    "STE", "QTC_GE500",
    "LIMB_REVERSAL", "VBIGEMINY")


#: A statement kept only when one of these statements is kept too (after EXCLUDES):
#: the Sgarbossa criteria apply to LBBB and ventricular pacing only.
REQUIRES: dict[str, set[str]] = {"STEMI_SGARB": {"LBBB", "VPACED", "AVPACED"}}


def resolve(findings: list[Finding]) -> list[Finding]:
    """Remove contradicted findings (one per code, the first kept), in library order."""
    by_code: dict[str, Finding] = {}
    for f in findings:
        by_code.setdefault(f.code, f)
    for code, needs in REQUIRES.items():
        if code in by_code and not needs & by_code.keys():
            del by_code[code]
    removed: set[str] = set()
    order = [c for c in PRIORITY if c in by_code] + [c for c in by_code if c not in PRIORITY]
    for code in order:
        if code not in removed:
            removed |= EXCLUDES.get(code, set()) - {code}
    kept = [f for f in by_code.values() if f.code not in removed]
    codes = {f.code for f in kept}
    kept = [f for f in kept if f.code not in REQUIRES or REQUIRES[f.code] & codes]
    rank = {code: i for i, code in enumerate(LIBRARY)}
    return sorted(kept, key=lambda f: rank[f.code])


def _effective(f: Finding) -> str:
    sev = LIBRARY[f.code].severity
    return "borderline" if sev == "abnormal" and f.certainty == "possible" else sev


def overall(c: Ctx, findings: list[Finding]) -> Finding | None:
    """The overall statement, its evidence taken from the findings that decide it."""
    sev = {f.code: _effective(f) for f in findings}
    if any(s == "technical" for s in sev.values()) and "abnormal" not in sev.values():
        return None
    abnormal = [f for f in findings if sev[f.code] == "abnormal"]
    borderline = [f for f in findings if sev[f.code] == "borderline"]
    minor = [f for f in findings if sev[f.code] == "minor"]
    normal = [f for f in findings if sev[f.code] == "normal"]
    if abnormal:
        return Finding("ABNORMAL", "definite", tuple(f.evidence[0] for f in abnormal[:8]))
    if borderline:
        return Finding("BORDERLINE", "definite", tuple(f.evidence[0] for f in borderline[:8]))
    rhythm = [f for f in normal + minor if LIBRARY[f.code].category == "rhythm"]
    if not rhythm:
        return None
    all_leads = c.ev("standard_lead_count", "== 12")
    if all_leads is None:  # fewer leads: what was not recorded cannot be called normal
        return None
    extra = tuple(e for e in (c.ev("qrs_ms", "< 110"),
                              c.ev("pr_ms", normal_range("pr_ms").criterion),
                              c.ev("qrs_axis_deg", normal_range("qrs_axis_deg").criterion)) if e
                  ) + (all_leads,)
    if any(LIBRARY[f.code].severity == "minor" for f in minor):
        return Finding("OTHERWISE_NORMAL", "definite",
                       tuple(f.evidence[0] for f in minor) + extra)
    return Finding("NORMAL", "definite", rhythm[0].evidence + extra)

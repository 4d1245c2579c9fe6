"""Q-wave (prior) infarct statements.

Sources
-------
- Fourth Universal Definition of Myocardial Infarction (Thygesen K et al. Circulation
  2018;138:e618), "ECG changes associated with prior myocardial infarction (in the absence
  of left ventricular hypertrophy and left bundle branch block)":
  any Q wave in leads V2-V3 > 20 ms, or a QS complex in leads V2-V3 (here: in both V2 and
  V3); a Q wave >= 30 ms and >= 100 µV deep, or a QS complex, in any two leads of a
  contiguous grouping (I, aVL; V4-V6; II, III, aVF). Outside V2-V3 the Q wave must also
  reach a quarter of the R wave (the classic pathological Q wave; the Minnesota Code's
  Q/R ratios, Prineas RJ et al. The Minnesota Code Manual, 2nd ed., Springer 2010): the
  normal septal q waves of II, III and aVF in a vertical heart are 30-40 ms long and over
  100 µV deep, at an eighth of their R (LUDB 174, axis 98 deg).
- Statements: anterior (V2-V3), inferior (II, III, aVF), lateral (I and aVL, or two of
  V4-V6) infarct, "age undetermined": Q waves do not tell an old infarct from a recent
  one (Mason JW et al. AHA/ACCF/HRS Part II, Circulation 2007;115:1325, statements 160,
  161, 163). "Probable": the criteria are those of the definition, but Q waves also come
  with cardiomyopathies and lead misplacement (Thygesen 2018, "conditions associated with
  Q waves").
- Not with atrial flutter: the flutter wave before the QRS takes the place of the PR
  baseline, and its downslope reads as a Q wave in II, III and aVF (LUDB 35).
- Not with left bundle-branch block, ventricular pacing, pre-excitation or LVH
  (:mod:`models.interpret.resolve`), nor on a QRS of 120 ms or more without the RBBB
  pattern (nonspecific delay changes the initial forces; in RBBB the initial forces, and so
  the Q waves, are those of normal conduction). A Q wave counts only in a lead of usable
  quality that is not flagged noisy, clipped or carrying a limb electrode's artefact
  (:func:`models.interpret.values.q_measurable`).

Q duration (``q_ms``) is measured in each lead on the representative beat from where that
lead leaves its baseline, not from the global QRS onset (:mod:`models.measure`).
"""

from __future__ import annotations

from ecgread.models.catalogue import limit
from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.interpret.criteria.conduction import rbbb_morphology
from ecgread.models.interpret.values import q_measurable
from ecgread.models.results import Evidence

#: V2-V3: any Q wave longer than this, ms.
SEPTAL_Q_MS = "> 20"
#: Other leads: a Q wave this long, ms, this deep, µV, and at least this share of the R.
Q_MS = ">= 30"
Q_DEPTH_UV = "<= -100"
Q_TO_R = ">= 0.25"
#: Statement -> its lead groups, each (leads, the Q duration and depth its rule asks); a
#: group counts when two of its leads qualify.
TERRITORIES: dict[str, tuple[tuple[tuple[str, ...], str, str | None], ...]] = {
    "MI_ANT": ((("V2", "V3"), SEPTAL_Q_MS, None),),
    "MI_INF": ((("II", "III", "aVF"), Q_MS, Q_DEPTH_UV),),
    "MI_LAT": ((("I", "aVL"), Q_MS, Q_DEPTH_UV), (("V4", "V5", "V6"), Q_MS, Q_DEPTH_UV)),
}


def infarct(c: Ctx) -> list[Finding]:
    if c.a.rhythm.atrial_waves == "flutter":
        return []
    narrow = c.ev("qrs_ms", limit("qrs_ms", "wide").within)
    conduction: tuple[Evidence, ...]
    if narrow:
        conduction = (narrow,)
    else:
        late_r, s_left = rbbb_morphology(c)
        if not (late_r and s_left):
            return []
        conduction = (late_r, s_left)
    out: list[Finding] = []
    for code, groups in TERRITORIES.items():
        evidence: tuple[Evidence, ...] = ()
        for leads, q_ms, depth in groups:
            per_lead = [ev for ld in leads if (ev := _q_wave(c, ld, q_ms, depth))]
            if len(per_lead) >= 2:
                evidence += tuple(e for ev in per_lead for e in ev)
        if evidence:
            out.append(Finding(code, "probable", evidence + conduction))
    return out


def _q_wave(c: Ctx, lead: str, q_ms: str, depth_uv: str | None) -> tuple[Evidence, ...]:
    """Evidence of a qualifying Q wave (or QS complex) in ``lead``, else ()."""
    if not q_measurable(c.a, lead):
        return ()
    spans = c.qrs(lead)[:2]
    q = c.lead_ev(lead, "q_uv", "is not null", spans)
    if q is None:
        return ()
    no_r = c.lead_ev(lead, "r_uv", "is null", spans)
    if no_r:  # a QS complex
        return (no_r, q)
    long_q = c.lead_ev(lead, "q_ms", q_ms, spans)
    if long_q is None:
        return ()
    if depth_uv is None:
        return (long_q, q)
    deep = c.lead_ev(lead, "q_uv", depth_uv, spans)
    ratio = c.ev(f"q_to_r_ratio.{lead}", Q_TO_R, (lead,), spans)
    return (long_q, deep, ratio) if deep and ratio else ()

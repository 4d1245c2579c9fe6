"""Chamber enlargement and hypertrophy statements.

Sources
-------
- LVH (Hancock EW et al. AHA/ACCF/HRS Part V, Circulation 2009;119:e251):
  Sokolow-Lyon S(V1) + R(V5 or V6) >= 3500 µV (Sokolow M, Lyon TP. Am Heart J 1949;37:161);
  Cornell voltage R(aVL) + S(V3) > 2800 µV in men, > 2000 µV in women (Casale PN et al.
  JACC 1985;6:572); Romhilt-Estes score >= 5 definite, 4 probable (Romhilt DW, Estes EH.
  Am Heart J 1968;75:752). Voltage alone (score < 4): "possible LVH". Not applied with
  QRS >= 120 ms (bundle-branch block, pacing): see :mod:`models.interpret.resolve`.
- RVH: R(V1) >= 700 µV with R/S(V1) > 1 and right-axis deviation, QRS < 120 ms (Sokolow M,
  Lyon TP. Am Heart J 1949;38:273; Hancock 2009).
- Left atrial abnormality: P duration > 120 ms, or a terminal negative P in V1 >= 100 µV deep
  (Hancock 2009). Right atrial abnormality: P in II >= 250 µV, or P in V1 >= 150 µV.
"""

from __future__ import annotations

from ecgread.models.catalogue import limit
from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.interpret.values import patient_sex
from ecgread.models.results import Evidence

CORNELL_MEN_UV, CORNELL_WOMEN_UV = 2800.0, 2000.0


def hypertrophy(c: Ctx) -> list[Finding]:
    out: list[Finding] = []
    narrow = c.ev("qrs_ms", limit("qrs_ms", "wide").within,
                  spans=c.qrs(c.first_lead(("V5", "V6", "II")) or ""))
    if narrow:
        out += _lvh(c, narrow)
        out += _rvh(c, narrow)
    lead = c.first_lead(("II", "V1"))
    if lead and (e := c.lead_ev(lead, "p_ms", limit("p_ms", "high").criterion, c.p(lead))):
        out.append(Finding("LAE", "probable", (e,)))
    elif (t := c.lead_ev("V1", "p_prime_uv", "<= -100", c.p("V1"))) and (
            up := c.lead_ev("V1", "p_uv", "> 0", c.p("V1"))):
        out.append(Finding("LAE", "possible", (t, up)))
    if c.value("pr_ms") is not None:
        rae = (c.lead_ev("II", "p_uv", ">= 250", c.p("II"))
               or c.lead_ev("V1", "p_uv", ">= 150", c.p("V1")))
        if rae:
            out.append(Finding("RAE", "probable", (rae,)))
    return out


def lvh_voltage(c: Ctx) -> tuple[Evidence, ...]:
    """The LVH voltage criteria the ECG meets (Sokolow-Lyon, Cornell), as evidence."""
    sex = patient_sex(c.a)
    cornell_uv = CORNELL_WOMEN_UV if sex == "F" else CORNELL_MEN_UV
    v1v5 = [ld for ld in ("V1", "V5", "V6") if ld in c.a.amplitudes]
    sl = c.ev("sokolow_lyon_uv", ">= 3500", v1v5, [s for ld in v1v5 for s in c.qrs(ld)[:2]])
    cl = [ld for ld in ("aVL", "V3") if ld in c.a.amplitudes]
    cornell = c.ev("cornell_uv", f"> {cornell_uv:g}", cl, [s for ld in cl for s in c.qrs(ld)[:2]])
    return tuple(e for e in (sl, cornell) if e)


def _lvh(c: Ctx, narrow) -> list[Finding]:  # type: ignore[no-untyped-def]
    if patient_sex(c.a) is None and c.value("cornell_uv") is not None:
        c.note_sex_unknown("Cornell voltage (LVH)", "male threshold > 2800 µV")
    voltage = lvh_voltage(c)
    re5 = c.ev("romhilt_estes_points", ">= 5")
    re4 = c.ev("romhilt_estes_points", ">= 4")
    if re5:
        return [Finding("LVH", "definite", (re5,) + voltage)]
    if re4:
        return [Finding("LVH", "probable", (re4,) + voltage)]
    if voltage:
        return [Finding("LVH", "possible", voltage + (narrow,))]
    return []


def _rvh(c: Ctx, narrow) -> list[Finding]:  # type: ignore[no-untyped-def]
    v1 = c.qrs("V1")
    r = c.lead_ev("V1", "r_uv", ">= 700", v1)
    ratio = c.ev("r_to_s_ratio.V1", "> 1", ("V1",), v1) or c.lead_ev("V1", "s_uv", "is null", v1)
    rad = c.ev("qrs_axis_deg", limit("qrs_axis_deg", "high").band(180), ("I", "aVF"))
    if r and ratio and rad:
        return [Finding("RVH", "probable", (r, ratio, rad, narrow))]
    return []

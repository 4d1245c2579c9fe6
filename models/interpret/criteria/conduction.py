"""AV and intraventricular conduction statements.

Sources
-------
- PR: prolonged > 200 ms (first-degree AV block), short < 120 ms (Mason JW et al. AHA/ACCF/HRS
  Part II, Circulation 2007;115:1325, statements 80, 82).
- Ventricular preexcitation: PR < 120 ms with a wide QRS (>= 110 ms here; the delta wave is
  not measured, hence "possible") (statement 108).
- Second-degree AV block, Mobitz II: a pause of about two RR intervals with P waves on
  at least 90 % of the beats and a constant PR (statement 84); non-conducted P waves are
  not detected, so it is "possible". Mobitz I (Wenckebach, statement 83) is not named:
  P waves whose PR lengthens beat by beat stand at no fixed place before the QRS, the
  P-wave vote does not find them, and synthetic 4:3 and 5:4 Wenckebach reads atrial
  fibrillation (tests/test_rhythm_synthetic.py, an expected failure).
- Complete AV block: AV dissociation over the whole record (statement 88; Barold SS, Hayes
  DL, Mayo Clin Proc 2001;76:44; 2018 ACC/AHA/HRS bradycardia guideline, Kusumoto FM et al.
  Circulation 2019;140:e382): the atrial rate, from the periodicity of the signal between
  QRS-T complexes (models/atrial.py), at least 1.2 x the ventricular rate; the atrial waves
  keep no place before the QRS (``av_phase_locking``, the chance-corrected share of the
  atrial signal before each QRS that the QRS-locked average explains, below
  :data:`AV_DISSOCIATED_BELOW`, i.e. the P-QRS relation varies without pattern); a regular
  (normalised RMSSD <= 0.08) escape rhythm below 60 bpm. A PR spread alone (one odd beat)
  is not AV dissociation.
- Bundle-branch and fascicular blocks: Surawicz B et al. AHA/ACCF/HRS Part III:
  intraventricular conduction disturbances, Circulation 2009;119:e235. Complete RBBB:
  QRS >= 120 ms, rsr'/rsR'/rSR' in V1 (or a late monophasic R, R peak time > 50 ms) and an S
  wave in I and/or V6 (an R' counts from 100 µV; tuned on LUDB 'tune', where smaller
  terminal deflections were found in normal records). Incomplete RBBB: the same morphology
  with QRS 110-119 ms. Complete
  LBBB: QRS >= 120 ms, QS or rS in V1 (net negative), R peak time > 60 ms in V5 or V6, no q
  in V6. Incomplete LBBB: the same with QRS 110-119 ms. LAFB: axis -45 to -90 deg, rS in III
  (qR in aVL), QRS < 120 ms. LPFB: axis +90 to +180 deg, rS in I, qR in III, QRS < 120 ms.
  Nonspecific IVCD: QRS > 110 ms without the criteria of a bundle-branch block.
"""

from __future__ import annotations

from ecgread.models.atrial import AV_DISSOCIATED_BELOW
from ecgread.models.catalogue import limit
from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.results import Evidence

#: Incomplete bundle-branch block: QRS 110-119 ms, short of the complete block's width.
INCOMPLETE_BBB_QRS = f"in [110, {limit('qrs_ms', 'wide').threshold:g})"


def conduction(c: Ctx) -> list[Finding]:
    out: list[Finding] = []
    lead = c.first_lead(("II", "I", "V1"))
    pr_sp = c.pr(lead) if lead else []
    leads = (lead,) if lead else ()
    qrs_lead = c.first_lead(("V1", "II"))
    qrs_sp = c.qrs(qrs_lead) if qrs_lead else []
    if e := c.ev("pr_ms", limit("pr_ms", "high").criterion, leads, pr_sp):
        out.append(Finding("1AVB", "definite", (e,)))
    short = c.ev("pr_ms", limit("pr_ms", "low").criterion, leads, pr_sp)
    if short and (narrow := c.ev("qrs_ms", "< 110", (qrs_lead,) if qrs_lead else (), qrs_sp)):
        out.append(Finding("SHORT_PR", "definite", (short, narrow)))
    if short and (wide := c.ev("qrs_ms", ">= 110", (qrs_lead,) if qrs_lead else (), qrs_sp)):
        out.append(Finding("WPW", "possible", (short, wide)))
    out += _av_block(c, leads, pr_sp)
    out += _bundle_branch(c, qrs_sp)
    out += _fascicular(c)
    return out


def _av_block(c: Ctx, leads: tuple[str, ...],
              pr_sp: list[tuple[float, float]]) -> list[Finding]:
    out: list[Finding] = []
    rr = c.rr()
    rec = c.record()
    faster = c.ev("atrial_to_ventricular_rate_ratio", ">= 1.2", spans=rec)
    dissociated = c.ev("rhythm.av_phase_locking", f"< {AV_DISSOCIATED_BELOW:g}", spans=rec)
    regular = c.ev("rhythm.rr_irregularity", "<= 0.08", spans=rr)
    slow = c.ev("heart_rate_bpm", limit("heart_rate_bpm", "low").criterion, spans=rr)
    if faster and dissociated and regular and slow:
        out.append(Finding("3AVB", "probable", (faster, dissociated, regular, slow)))
        return out
    pause = c.ev("rr_pause_ratio", "in [1.7, 2.3]", spans=rr)
    with_p = c.ev("rhythm.p_wave_ratio", ">= 0.9", leads, pr_sp)
    if pause and with_p:
        if constant := c.ev("pr_sd_ms", "< 15", leads, pr_sp):
            out.append(Finding("2AVB_II", "possible", (pause, with_p, constant)))
    return out


def rbbb_morphology(c: Ctx) -> tuple[Evidence | None, Evidence | None]:
    """(late R in V1, terminal S in I or V6): the RBBB pattern where both are given."""
    v1 = c.qrs("V1")
    late_r = (c.lead_ev("V1", "r_prime_uv", ">= 100", v1)
              or (c.lead_ev("V1", "qrs_area_uv_ms", "> 0", v1)
                  and c.lead_ev("V1", "r_peak_time_ms", "> 50", v1)))
    s_left = (c.lead_ev("I", "s_uv", "<= -50", c.qrs("I"))
              or c.lead_ev("V6", "s_uv", "<= -50", c.qrs("V6")))
    return late_r, s_left


def _bundle_branch(c: Ctx, qrs_sp: list[tuple[float, float]]) -> list[Finding]:
    out: list[Finding] = []
    v1 = c.qrs("V1")
    late_r, s_left = rbbb_morphology(c)
    if late_r and s_left:
        if wide := c.ev("qrs_ms", limit("qrs_ms", "wide").criterion, ("V1",), v1):
            out.append(Finding("RBBB", "definite", (wide, late_r, s_left)))
        elif mid := c.ev("qrs_ms", INCOMPLETE_BBB_QRS, ("V1",), v1):
            out.append(Finding("IRBBB", "definite", (mid, late_r, s_left)))
    neg_v1 = c.lead_ev("V1", "qrs_area_uv_ms", "< 0", v1)
    slow_lat = (c.lead_ev("V6", "r_peak_time_ms", "> 60", c.qrs("V6"))
                or c.lead_ev("V5", "r_peak_time_ms", "> 60", c.qrs("V5")))
    no_q = c.lead_ev("V6", "q_uv", "is null", c.qrs("V6"))
    if neg_v1 and slow_lat and no_q and not late_r:
        if wide := c.ev("qrs_ms", limit("qrs_ms", "wide").criterion, ("V1",), v1):
            out.append(Finding("LBBB", "definite", (wide, neg_v1, slow_lat, no_q)))
        elif mid := c.ev("qrs_ms", INCOMPLETE_BBB_QRS, ("V1",), v1):
            out.append(Finding("ILBBB", "probable", (mid, neg_v1, slow_lat, no_q)))
    if ivcd := c.ev("qrs_ms", limit("qrs_ms", "high").criterion, spans=qrs_sp):
        out.append(Finding("IVCD", "definite", (ivcd,)))
    return out


def _fascicular(c: Ctx) -> list[Finding]:
    out: list[Finding] = []
    narrow = c.ev("qrs_ms", limit("qrs_ms", "wide").within,
                  spans=c.qrs(c.first_lead(("II", "I")) or ""))
    if not narrow:
        return out
    frontal = tuple(ld for ld in ("I", "II", "III", "aVL", "aVF") if ld in c.a.amplitudes)
    lafb_axis = c.ev("qrs_axis_deg", "in [-90, -45]", frontal)
    if lafb_axis:
        rs3 = c.ev("r_to_s_ratio.III", "< 1", ("III",), c.qrs("III"))
        if rs3:
            out.append(Finding("LAFB", "definite", (lafb_axis, narrow, rs3)))
    lpfb_axis = c.ev("qrs_axis_deg", "in [90, 180]", frontal)
    if lpfb_axis:
        s1 = c.lead_ev("I", "s_uv", "is not null", c.qrs("I"))
        q3 = c.lead_ev("III", "q_uv", "is not null", c.qrs("III"))
        if s1 and q3:
            out.append(Finding("LPFB", "possible", (lpfb_axis, narrow, s1, q3)))
    return out

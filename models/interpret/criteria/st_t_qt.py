"""ST segment, T wave and QT statements.

Sources
-------
- STEMI: new ST elevation at the J point in >= 2 contiguous leads: >= 100 µV in all leads
  other than V2-V3; in V2-V3 >= 200 µV in men >= 40 y, >= 250 µV in men < 40 y, >= 150 µV in
  women (Thygesen K et al. Fourth Universal Definition of Myocardial Infarction (2018),
  Circulation 2018;138:e618). Unknown sex: the men's threshold, and the < 40 y one when the
  age is unknown too (the strictest; said in the notes). J is measured on the
  representative beat against the PR segment (models/measure.py), only in leads of usable
  quality whose J level is measured to within 25 µV over the beats (``j_beat_se_uv``,
  values.st_measurable): a noisy lead neither makes nor completes a STEMI.
  Corroboration: the critical statement (definite with >= 3 leads, else probable) needs
  reciprocal J depression >= 50 µV in at least one measurable lead of the opposite
  territory (values.RECIPROCAL: inferior <-> I, aVL; anterior and lateral <-> II,
  III, aVF; Birnbaum Y, Drew BJ. Postgrad Med J 2003;79:490). Without it, or when the
  atrial waves are flutter or fibrillation waves (they distort the PR-segment reference,
  and a fixed 2:1 or 4:1 flutter does not average out of the median beat), the finding is
  at most "possible ST elevation" (STE), which is not critical; so is a wide QRS (>= 120
  ms) sampled below the rate where pacing spikes can be seen (models.conditioning.
  pacing_assessable), which may be paced, and so is ST elevation beside LVH voltage
  (Sokolow-Lyon or Cornell, :func:`hypertrophy.lvh_voltage`): the Fourth Universal
  Definition gives its thresholds "in the absence of left ventricular hypertrophy (LVH) and
  left bundle branch block (LBBB)", whose secondary ST elevation is the commonest STEMI
  mimic; and so is ST elevation on any other wide QRS (>= 120 ms) without the RBBB
  pattern: LBBB, pacing whose spikes the recording does not show (a cart's 100-150 Hz
  low-pass removes them: paced LUDB 45 so filtered read a critical inferior STEMI),
  nonspecific conduction delay or a ventricular rhythm carry secondary ST-T changes
  (Rautaharju PM et al. AHA/ACCF/HRS Part IV, Circulation 2009;119:e241: ST-T changes
  secondary to abnormal depolarization); in RBBB the thresholds still apply. Not
  applicable with LBBB or ventricular pacing (resolve), except by the Sgarbossa criteria
  below.
- STEMI with LBBB or ventricular pacing (STEMI_SGARB, kept only with LBBB or ventricular
  pacing; resolve.REQUIRES): concordant J elevation >= 100 µV in any lead, concordant J
  depression >= 100 µV in V1-V3 (Sgarbossa EB et al. N Engl J Med 1996;334:481), or
  discordant J elevation >= 100 µV with ST/S >= 0.25 (modified Sgarbossa, Smith SW et al.
  Ann Emerg Med 2012;60:766), in measurable leads. One lead meets these criteria, with no
  reciprocal lead to corroborate it, so its J level must clear 1 mm by its own standard
  error over the beats (values.sgarbossa_level_uv).
- ST depression: >= 100 µV at J+60 ms, or >= 50 µV both at J and at J+60 ms (sustained
  0.5 mm: horizontal or downsloping, or slowly upsloping, as in the Fourth Universal
  Definition's ischemic ST depression >= 0.5 mm in two contiguous leads, Thygesen 2018
  above), in >= 2 contiguous leads (aVR excluded); T-wave
  inversion: T <= -100 µV in >= 2 of I, II, V3-V6, where T is normally upright (Rautaharju PM
  et al. AHA/ACCF/HRS Part IV, Circulation 2009;119:e241).
- QT: QTc by the linear Framingham formula (Sagie A et al. Am J Cardiol 1992;70:797), as
  Part IV recommends a linear correction over Bazett's; prolonged >= 450 ms in men, >= 460 ms
  in women (unknown sex: 460 ms); QTc >= 500 ms is critical. Short: <= 360 ms, the level at
  which the 2015 ESC guidelines (Priori SG et al. Eur Heart J 2015;36:2793) consider a short
  QT syndrome, instead of Part IV's <= 390 ms, which fires on many normal ECGs (QTc 370-390
  ms is common in healthy adults; Gollob MH et al. J Am Coll Cardiol 2011;57:802).
  Not interpreted with QRS >= 120 ms (the QT then includes the conduction delay). The
  global QTc (earliest QRS onset to latest T offset) and the QTc of the median per-lead QT
  must both meet the criterion, so that one lead's late T offset cannot make a statement.
- Early repolarization: J-point elevation >= 100 µV in >= 2 contiguous inferior and/or lateral
  leads (Macfarlane PW et al. J Am Coll Cardiol 2015;66:470); notching or slurring is not
  measured, hence "possible".
"""

from __future__ import annotations

from ecgread.models.catalogue import limit
from ecgread.models.conditioning import pacing_assessable
from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.interpret.criteria.conduction import rbbb_morphology
from ecgread.models.interpret.criteria.hypertrophy import lvh_voltage
from ecgread.models.interpret.values import (
    ER_LEADS,
    RECIPROCAL_DEPRESSION_UV,
    SMITH_RATIO,
    ST_DEPRESSION_LEADS,
    TERRITORIES,
    UPRIGHT_T_LEADS,
    j_elevated,
    patient_sex,
    reciprocal_leads,
    sgarbossa_concordant_std,
    sgarbossa_concordant_ste,
    sgarbossa_level_uv,
    smith_ratio_leads,
    st_depressed,
    st_depression_evidence,
    stemi_leads,
    stemi_threshold_uv,
    t_inverted,
)
from ecgread.models.results import Certainty, Evidence

QTC = "qtc_framingham_ms"
QTC_MEDIAN = "qtc_framingham_lead_median_ms"
_STEMI_CODE = {"anterior": "STEMI_ANT", "inferior": "STEMI_INF", "lateral": "STEMI_LAT"}


def st_t_qt(c: Ctx) -> list[Finding]:
    out = _stemi(c)
    dep = [ld for ld in ST_DEPRESSION_LEADS if st_depressed(c.a, ld)]
    if g := c.ev("st_depression_contiguous_leads", ">= 2", dep):
        per = tuple(e for ld in dep for name, level in st_depression_evidence(c.a, ld)
                    if (e := c.lead_ev(ld, name, f"<= {level:g}", c.st(ld))))
        out.append(Finding("ST_DEP", "probable", (g,) + per))
    inv = [ld for ld in UPRIGHT_T_LEADS if t_inverted(c.a, ld)]
    if g := c.ev("t_inversion_lead_count", ">= 2", inv):
        per = tuple(e for ld in inv if (e := c.lead_ev(ld, "t_uv", "<= -100", c.t(ld))))
        out.append(Finding("T_INV", "probable", (g,) + per))
    out += _qt(c)
    er = [ld for ld in ER_LEADS if j_elevated(c.a, ld)]
    if (g := c.ev("j_elevation_contiguous_leads", ">= 2", er)) and (
            narrow := c.ev("qrs_ms", limit("qrs_ms", "wide").within)):
        per = tuple(e for ld in er if (e := c.lead_ev(ld, "j_uv", ">= 100", c.st(ld))))
        out.append(Finding("EARLY_REPOL", "possible", (g, narrow) + per))
    return out


def _stemi(c: Ctx) -> list[Finding]:
    out: list[Finding] = []
    if patient_sex(c.a) is None and ({"V2", "V3"} & c.a.amplitudes.keys()):
        age = c.a.ecg.acquisition.patient_age_years
        assumed = ("male threshold >= 200 µV in V2-V3" if age is not None and age >= 40
                   else "male < 40 y threshold >= 250 µV in V2-V3")
        c.note_sex_unknown("STEMI ST elevation (4th UDMI)", assumed)
    atrial = c.a.rhythm.atrial_waves in ("flutter", "fibrillation")
    # A wide QRS sampled too slowly to see pacing spikes may be a paced QRS, where ST
    # elevation is expected (only Sgarbossa-type criteria apply): no STEMI statement then.
    qrs = c.a.measurements.qrs_ms
    unknown_paced = (not pacing_assessable(c.a.sampling_rate_hz) and qrs is not None
                     and limit("qrs_ms", "wide").beyond(qrs))
    # the 4th UDMI's ST-elevation thresholds hold "in the absence of LVH and LBBB": high QRS
    # voltage brings secondary ST elevation (LVH strain), the commonest STEMI mimic (LVH is
    # judged on a narrow QRS, as hypertrophy does; a wide one has its own rules)
    narrow = qrs is not None and not limit("qrs_ms", "wide").beyond(qrs)
    lvh = lvh_voltage(c) if narrow else ()
    # a wide QRS other than RBBB (LBBB, pacing whose spikes the recording does not show,
    # nonspecific conduction delay, ventricular rhythm) carries secondary ST-T changes, and
    # the thresholds do not apply to it (the Sgarbossa criteria below do, with LBBB or
    # pacing); in RBBB the ST segment stays interpretable
    secondary = (qrs is not None and not narrow and not all(rbbb_morphology(c))
                 and not unknown_paced)
    uncorroborated: list[Evidence] = []
    for territory in TERRITORIES:
        g = c.ev(f"st_elevation_contiguous_leads.{territory}", ">= 2",
                 stemi_leads(c.a, territory))
        if not g:
            continue
        per = tuple(e for ld in stemi_leads(c.a, territory) if (e := c.lead_ev(
            ld, "j_uv", f">= {stemi_threshold_uv(c.a, ld):g}", c.st(ld))))
        recip = reciprocal_leads(c.a, territory)
        r = c.ev(f"reciprocal_st_depression_leads.{territory}", ">= 1", recip)
        if r and not atrial and not unknown_paced and not lvh and not secondary:
            per_r = tuple(e for ld in recip if (e := c.lead_ev(
                ld, "j_uv", f"<= {RECIPROCAL_DEPRESSION_UV:g}", c.st(ld))))
            certainty: Certainty = "definite" if len(per) >= 3 else "probable"
            out.append(Finding(_STEMI_CODE[territory], certainty, (g,) + per + (r,) + per_r))
        else:
            uncorroborated += [g, *per]
    if uncorroborated and secondary and c.a.rhythm.pacing_spikes_s:
        uncorroborated = []  # a paced QRS: the pacing statements and Sgarbossa read it
    if uncorroborated:
        why = (" (flutter or fibrillation waves distort the PR-segment reference)" if atrial
               else " (a wide QRS where pacing could not be assessed: a paced QRS is not "
               "read for STEMI)" if unknown_paced else " (LVH voltage: the STEMI "
               "thresholds hold in its absence, and hypertrophy raises the ST segment)"
               if lvh else " (a wide QRS other than RBBB: its ST segment carries secondary "
               "repolarization changes)" if secondary else "")
        c.notes.append("ST elevation without a corroborated STEMI pattern" + why
                       + ": possible, not a STEMI statement")
        out.append(Finding("STE", "possible", tuple(uncorroborated) + lvh))
    out += _sgarbossa(c)
    return out


def _sgarbossa(c: Ctx) -> list[Finding]:
    """STEMI by (modified) Sgarbossa criteria; kept only with LBBB or ventricular pacing."""
    wide = c.ev("qrs_ms", limit("qrs_ms", "wide").criterion)
    if not wide:
        return []
    def level(ld: str) -> str:  # 1 mm beyond the lead's own J error (values.sgarbossa_level_uv)
        return f"{sgarbossa_level_uv(c.a, ld):g}"

    for name, leads, sign in (
            ("sgarbossa_concordant_ste_leads", sgarbossa_concordant_ste(c.a), ">= "),
            ("sgarbossa_concordant_std_v1_v3_leads", sgarbossa_concordant_std(c.a), "<= -")):
        if g := c.ev(name, ">= 1", leads):
            per = tuple(e for ld in leads
                        if (e := c.lead_ev(ld, "j_uv", sign + level(ld), c.st(ld))))
            return [Finding("STEMI_SGARB", "probable", (g, wide) + per)]
    ratios = smith_ratio_leads(c.a)
    if g := c.ev("smith_st_to_s_ratio_max", f">= {SMITH_RATIO:g}", ratios):
        per = tuple(e for ld, v in ratios.items() if v >= SMITH_RATIO
                    and (e := c.lead_ev(ld, "j_uv", ">= " + level(ld), c.st(ld))))
        return [Finding("STEMI_SGARB", "probable", (g, wide) + per)]
    return []


def _qt(c: Ctx) -> list[Finding]:
    lead = c.first_lead(("II", "V5", "V2"))
    spans = c.qt(lead) if lead else []
    leads = (lead,) if lead else ()
    if c.value(QTC) is None:
        return []
    wide = limit("qrs_ms", "wide")
    narrow = c.ev("qrs_ms", wide.within)
    if not narrow:
        c.notes.append(f"QTc not interpreted: QRS {wide.criterion} ms")
        return []
    # the global QTc and the per-lead median QTc must both meet a prolonged-QT criterion
    critical = limit(QTC, "critical_high").criterion
    if (e := c.ev(QTC, critical, leads, spans)) and (m := c.ev(QTC_MEDIAN, critical)):
        return [Finding("QTC_GE500", "definite", (e, m, narrow))]
    sex = patient_sex(c.a)
    long_qt = limit(QTC, "high", sex).criterion
    if sex is None:
        female = limit(QTC, "high", "F").criterion
        c.note_sex_unknown("prolonged QTc", f"female threshold {female} ms")
    if (e := c.ev(QTC, long_qt, leads, spans)) and (m := c.ev(QTC_MEDIAN, long_qt)):
        return [Finding("LONG_QT", "definite", (e, m, narrow))]
    short_qt = limit(QTC, "low", sex).criterion
    if (e := c.ev(QTC, short_qt, leads, spans)) and (m := c.ev(QTC_MEDIAN, short_qt)):
        return [Finding("SHORT_QT", "probable", (e, m, narrow))]
    return []

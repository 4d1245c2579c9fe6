"""Rhythm statements: sinus rhythms, AF, flutter, SVT, junctional, ectopic atrial, VT, rate.

Sources
-------
- Rate limits: sinus bradycardia < 60 bpm, sinus tachycardia > 100 bpm (Mason JW et al.,
  AHA/ACCF/HRS Part II, Circulation 2007;115:1325, statements 20-23).
- Sinus P wave: P before each QRS with a frontal P axis of 0 to +90 deg (tolerance -30 to
  +100 deg here for measurement error) and upright in II; ectopic atrial rhythm (statement
  34) needs both an abnormal axis and a non-upright P in II (low-amplitude P waves give
  noisy axes), and P windows steady from beat to beat (``rhythm.p_window_noise_ratio``
  below :data:`models.rhythm.P_HIDDEN_NOISE_RATIO`): under a limb tremor the median P wave
  of II and the axis follow the artefact (sinus rhythm read ectopic atrial on 7 of 120
  tremor copies of 40 LUDB, QTDB and CPSC records, scatter 1.8-5.9 % of the QRS; clean
  records 0.2-1.2 %); the rhythm is then named from the rate, as sinus, "probable", with a
  note.
- Atrial fibrillation: irregularly irregular RR without discrete P waves (2023 ACC/AHA/ACCP/
  HRS AF guideline, Joglar JA et al. Circulation 2024;149:e1; statement 50): the RR
  irregularity must hold with premature beats set aside (models/rr.py: Sarkar 2008, Dash
  2009), and P waves must be absent across the rhythm leads (models/rhythm.py); sinus
  rhythm with premature beats keeps its P waves and is sinus rhythm with PACs/PVCs.
- Atrial flutter: regular atrial activity at 240-350 /min in the QRS-blanked signal of
  II, III, aVF and V1 (statement 51; models/atrial.py).
- Atrial tachycardia: P waves of a non-sinus axis (as ectopic atrial rhythm) at > 100 bpm
  (Page RL et al. 2015 ACC/AHA/HRS SVT guideline, Circulation 2016;133:e506); sinus
  tachycardia keeps the sinus P axis; SVT is a narrow-complex tachycardia without P waves.
- The atrial waves are classified once, before interpretation (models.rhythm.atrial_waves),
  and each rhythm statement cites that decision and the features behind it.
- Junctional rhythm: regular narrow QRS without P waves, 40-60 bpm; accelerated 60-100 bpm
  (statements 38, 39); supraventricular tachycardia > 100 bpm (statement 55).
- Ventricular tachycardia: >= 3 consecutive ventricular complexes at > 100 bpm
  (statements 70, 71; 2017 AHA/ACC/HRS ventricular arrhythmia guideline, Al-Khatib SM et al.
  Circulation 2018;138:e272); a regular wide-QRS (>= 120 ms) tachycardia without P waves is
  "possible VT" (statement 76, wide-QRS tachycardia, treated as VT until proven otherwise).
  Both need the complexes wide (median QRS >= 120 ms) in >= 3 rhythm leads (usable, not
  noisy), so that noise or one lead's late offset cannot make a critical VT statement.
- Critical rates: < 40 or > 150 bpm (the issue's list of critical findings).
"""

from __future__ import annotations

from ecgread.models.catalogue import limit, normal_range
from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.results import Certainty
from ecgread.models.rhythm import (
    AF_IRREGULARITY,
    AF_IRREGULARITY_WITH_P,
    AF_PR_SPREAD_MS,
    P_CONFIDENCE,
    P_HIDDEN_NOISE_RATIO,
    P_PRESENT_RATIO,
    SINUS_P_AXIS_DEG,
)

#: Thresholds tuned on the LUDB 'tune' split only (bench/interpretation_ludb.py).
REGULAR_IRREGULARITY = 0.08  # below it, regular (junctional, SVT)
SINUS_P_AXIS = normal_range("p_axis_deg").criterion  # "in [-30, 100]"
SINUS_ARRHYTHMIA_RANGE_MS = 160.0  # max - min normal RR
#: Rate limits (bpm) and the wide QRS (ms), from models.catalogue.
RATE_LOW, RATE_HIGH = limit("heart_rate_bpm", "low"), limit("heart_rate_bpm", "high")
RATE_NORMAL = normal_range("heart_rate_bpm").criterion
QRS_WIDE = limit("qrs_ms", "wide")
#: A wide-complex rhythm must be wide in this many rhythm leads (VT corroboration).
WIDE_LEADS = 3


def rhythm(c: Ctx, paced: bool) -> list[Finding]:
    """Exactly one primary rhythm (or RHYTHM_UNDETERMINED), plus rate and VT statements.

    The primary rhythm follows ``rhythm.atrial_waves``, decided before interpretation by
    :func:`models.rhythm.atrial_waves`; each statement cites the features that decided it.
    """
    out: list[Finding] = []
    rec = c.record()
    hr_lo = c.ev("heart_rate_bpm", limit("heart_rate_bpm", "critical_low").criterion,
                 spans=c.rr())
    hr_hi = c.ev("heart_rate_bpm", limit("heart_rate_bpm", "critical_high").criterion,
                 spans=c.rr())
    if hr_lo:
        out.append(Finding("HR_LT40", "definite", (hr_lo,)))
    if hr_hi:
        out.append(Finding("HR_GT150", "definite", (hr_hi,)))
    out += _ventricular_runs(c)
    if paced:
        return out
    waves = c.value("rhythm.atrial_waves")
    # two beats suffice where both have a P wave at one PR (a 2.5 s strip in bradycardia)
    n_beats = c.ev("beat_count", ">= 3", spans=rec) or (
        c.ev("beat_count", ">= 2", spans=rec) if waves == "P" else None)
    if c.value("heart_rate_bpm") is None or n_beats is None or waves is None:
        ev = (c.ev("heart_rate_bpm", "is null", spans=rec) or c.ev("beat_count", "< 3", spans=rec)
              or c.ev("rhythm.atrial_waves", "is null", spans=rec))
        if ev:
            out.append(Finding("RHYTHM_UNDETERMINED", "definite", (ev,)))
        return out
    decided = c.ev("rhythm.atrial_waves", f"== {waves}", spans=rec)
    assert decided is not None
    if waves == "flutter":
        rate = c.ev("rhythm.flutter_wave_rate_bpm", "in [240, 350]",
                    c.a.rhythm.flutter_leads, rec)
        if rate:
            out.append(Finding("AFL", "probable", (decided, rate)))
    elif waves == "fibrillation":
        out.append(_af(c, decided))
    elif waves == "none":
        no_p = (c.ev("rhythm.p_wave_confidence", f"< {P_CONFIDENCE}", spans=rec)
                or c.ev("rhythm.p_wave_ratio", f"< {P_PRESENT_RATIO}", spans=rec)
                or c.ev("rhythm.p_wave_lead_count", "< 1", spans=rec))
        regular = c.ev("rhythm.rr_irregularity", f"<= {REGULAR_IRREGULARITY}", spans=c.rr())
        out += _regular_without_p(c, decided, regular, no_p)
    else:
        leads = c.a.rhythm.p_wave_leads
        lead = c.first_lead(("II", "V1", "I"))
        with_p = c.ev("rhythm.p_wave_ratio", f">= {P_PRESENT_RATIO}", (lead,) if lead else (),
                      c.p(lead) if lead else [])
        conf = c.ev("rhythm.p_wave_confidence", f">= {P_CONFIDENCE}", leads)
        if with_p and conf:
            out += _atrial(c, with_p, conf)
    return out


def _af(c: Ctx, decided) -> Finding:  # type: ignore[no-untyped-def]
    """Irregularly irregular response without consistent atrial activity (definite), or
    markedly irregular with 'P waves' at no fixed PR (probable: fibrillatory waves)."""
    rr = c.rr()
    irregular = c.ev("rhythm.rr_irregularity", f"> {AF_IRREGULARITY}", spans=rr)
    robust = (c.ev("rhythm.rr_irregularity_robust", f"> {AF_IRREGULARITY}", spans=rr)
              or c.ev("rhythm.rr_irregularity_robust", "is null", spans=rr))
    no_p = (c.ev("rhythm.p_wave_confidence", f"< {P_CONFIDENCE}", spans=c.record())
            or c.ev("rhythm.p_wave_ratio", f"< {P_PRESENT_RATIO}", spans=c.record())
            or c.ev("rhythm.p_wave_confidence", "is null", spans=c.record()))
    if irregular and robust and no_p:
        return Finding("AF", "definite", (decided, irregular, robust, no_p))
    marked = c.ev("rhythm.rr_irregularity", f"> {AF_IRREGULARITY_WITH_P}", spans=rr)
    lead = c.first_lead(("II", "I"))
    leads, spans = ((lead,), c.p(lead)) if lead else ((), [])
    axis = f"in [{SINUS_P_AXIS_DEG[0]:g}, {SINUS_P_AXIS_DEG[1]:g}]"
    # as models.rhythm.atrial_waves decides: the PR spread where measurable (from 3 or 4
    # PRs it decided only beside P waves that do not look sinus), else the axis
    no_fixed_p = c.ev("pr_spread_ms", f"> {AF_PR_SPREAD_MS:g}", leads,
                      c.pr(lead) if lead else [])
    if c.value("pr_spread_ms") is None:
        no_fixed_p = (c.ev("rhythm.atrial_wave_axis_deg", f"not {axis}", leads, spans)
                      or c.ev("rhythm.atrial_wave_axis_deg", "is null", leads, spans))
    return Finding("AF", "probable", tuple(e for e in (decided, marked, robust, no_fixed_p)
                                           if e))


def _regular_without_p(c: Ctx, decided, regular, no_p) -> list[Finding]:  # type: ignore[no-untyped-def]
    narrow = c.ev("qrs_ms", QRS_WIDE.within, spans=c.qrs(c.first_lead(("II", "V1")) or ""))
    wide = c.ev("qrs_ms", QRS_WIDE.criterion, spans=c.qrs(c.first_lead(("V1", "II")) or ""))
    reg = (regular,) if regular else ()
    no_p = (decided,) + ((no_p,) if no_p else ())
    if wide and (tachy := c.ev("heart_rate_bpm", "> 120", spans=c.rr())):
        from ecgread.models.interpret.values import wide_qrs_leads

        leads = wide_qrs_leads(c.a)
        if several := c.ev("wide_qrs_lead_count", f">= {WIDE_LEADS}", leads):
            return [Finding("VT", "possible", (tachy, wide, several) + no_p + reg)]
        return [Finding("RHYTHM_UNDETERMINED", "definite", no_p)]
    # a P wave could not have shown in these P windows: its absence names no rhythm
    if hidden := c.ev("rhythm.p_window_noise_ratio", f">= {P_HIDDEN_NOISE_RATIO:g}",
                      spans=c.record()):
        return [Finding("RHYTHM_UNDETERMINED", "definite", no_p + (hidden,))]
    if narrow and (tachy := c.ev("heart_rate_bpm", RATE_HIGH.criterion, spans=c.rr())):
        return [Finding("SVT", "probable" if regular else "possible", (tachy, narrow) + no_p
                        + reg)]
    if narrow and regular:
        if slow := c.ev("heart_rate_bpm", RATE_LOW.criterion, spans=c.rr()):
            return [Finding("JUNCT", "probable", (slow, narrow) + no_p + (regular,))]
        if mid := c.ev("heart_rate_bpm", RATE_NORMAL, spans=c.rr()):
            return [Finding("ACC_JUNCT", "possible", (mid, narrow) + no_p + (regular,))]
    return [Finding("RHYTHM_UNDETERMINED", "definite", no_p)]


def _atrial(c: Ctx, with_p, conf) -> list[Finding]:  # type: ignore[no-untyped-def]
    lead = c.first_lead(("II", "I", "aVF"))
    p_spans = c.p(lead) if lead else []
    sinus_axis = c.ev("p_axis_deg", SINUS_P_AXIS, (lead,) if lead else (), p_spans)
    out: list[Finding] = []
    upright_ii = c.lead_ev("II", "p_uv", "> 0", c.p("II"))
    reversed_limbs = c.value("limb_reversal_suspected") == 1.0  # P axis then meaningless
    if sinus_axis is None and upright_ii is None and not reversed_limbs:
        axis = c.ev("p_axis_deg", f"not {SINUS_P_AXIS}", (lead,) if lead else (), p_spans)
        inverted = c.lead_ev("II", "p_uv", "<= 0", c.p("II"))
        noise = c.value("rhythm.p_window_noise_ratio")
        unsteady = isinstance(noise, float) and noise >= P_HIDDEN_NOISE_RATIO
        if axis and inverted and unsteady:
            c.notes.append(f"P axis {c.value('p_axis_deg')} deg not read as an ectopic atrial "
                           f"rhythm: the P windows scatter by {noise:.1%} of the QRS from beat "
                           "to beat (noise or tremor)")
        elif axis and inverted:
            steady = c.ev("rhythm.p_window_noise_ratio", f"< {P_HIDDEN_NOISE_RATIO:g}",
                          spans=c.record())
            axis_ev = (axis,) + ((steady,) if steady else ())
            if tachy := c.ev("heart_rate_bpm", RATE_HIGH.criterion, spans=c.rr()):
                return [Finding("AT", "probable", (with_p, conf) + axis_ev + (inverted, tachy))]
            return [Finding("EAR", "probable", (with_p, conf) + axis_ev + (inverted,))]
    short = c.value("rhythm.rr_irregularity") is None  # fewer than 3 RR intervals
    if short:
        c.notes.append("rhythm named from fewer than 3 RR intervals (P waves at one PR before "
                       "each beat); its regularity not assessed")
    certainty: Certainty = ("definite" if sinus_axis and upright_ii and not short
                            else "probable")
    base = (with_p, conf) + tuple(e for e in (sinus_axis, upright_ii) if e)
    rr = c.rr()
    if brady := c.ev("heart_rate_bpm", RATE_LOW.criterion, spans=rr):
        out.append(Finding("SBRAD", certainty, base + (brady,)))
    elif tachy := c.ev("heart_rate_bpm", RATE_HIGH.criterion, spans=rr):
        out.append(Finding("STACH", certainty, base + (tachy,)))
    elif normal := c.ev("heart_rate_bpm", RATE_NORMAL, spans=rr):
        out.append(Finding("SR", certainty, base + (normal,)))
    var = c.ev("rr_range_normal_ms", f"> {SINUS_ARRHYTHMIA_RANGE_MS:g}", spans=rr)
    if var:
        out.append(Finding("SARRH", "probable", (with_p, var)))
    return out


def _ventricular_runs(c: Ctx) -> list[Finding]:
    from ecgread.models.interpret.values import ventricular_runs

    runs = [(i, j) for i, j in ventricular_runs(c.a) if j - i >= 2]
    run = c.ev("ventricular_run_max_beats", ">= 3", spans=c.beats(
        [k for i, j in runs for k in range(i, j + 1)]))
    rate = c.ev("ventricular_run_rate_bpm", "> 100", spans=run.spans_s if run else ())
    if not (run and rate):
        return []
    from ecgread.models.interpret.values import longest_ventricular_run, wide_qrs_leads

    wide = c.ev("ventricular_run_wide_lead_count", f">= {WIDE_LEADS}",
                wide_qrs_leads(c.a, longest_ventricular_run(c.a)), run.spans_s)
    if not wide:  # not a wide-complex run in several good leads: no VT statement
        return []
    all_v = c.ev("premature_ventricular_count", ">= 1")
    beats = len(c.a.beats)
    n_run = float(run.value) if isinstance(run.value, float) else 0.0
    sustained = beats > 0 and n_run >= 0.9 * beats
    code = "VT" if sustained else "NSVT"
    return [Finding(code, "probable", (run, rate, wide) + ((all_v,) if all_v else ()))]

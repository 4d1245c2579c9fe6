"""Rhythm statements: sinus rhythms, AF, flutter, SVT, junctional, ectopic atrial, VT, rate.

Sources
-------
- Rate limits: sinus bradycardia < 60 bpm, sinus tachycardia > 100 bpm (Mason JW et al.,
  AHA/ACCF/HRS Part II, Circulation 2007;115:1325, statements 20-23).
- Sinus P wave: P before each QRS with a frontal P axis of 0 to +90 deg (tolerance -30 to
  +100 deg here for measurement error) and upright in II; ectopic atrial rhythm (statement
  34) needs both an abnormal axis and a non-upright P in II (low-amplitude P waves give
  noisy axes).
- Atrial fibrillation: irregularly irregular RR without discrete P waves (2023 ACC/AHA/ACCP/
  HRS AF guideline, Joglar JA et al. Circulation 2024;149:e1; statement 50).
- Atrial flutter: regular atrial activity at 240-340 /min (statement 51).
- Junctional rhythm: regular narrow QRS without P waves, 40-60 bpm; accelerated 60-100 bpm
  (statements 38, 39); supraventricular tachycardia > 100 bpm (statement 55).
- Ventricular tachycardia: >= 3 consecutive ventricular complexes at > 100 bpm
  (statements 70, 71; 2017 AHA/ACC/HRS ventricular arrhythmia guideline, Al-Khatib SM et al.
  Circulation 2018;138:e272); a regular wide-QRS (>= 120 ms) tachycardia without P waves is
  "possible VT" (statement 76, wide-QRS tachycardia, treated as VT until proven otherwise).
- Critical rates: < 40 or > 150 bpm (the issue's list of critical findings).
"""

from __future__ import annotations

from ecgread.models.catalogue import limit, normal_range
from ecgread.models.interpret.context import Ctx, Finding

#: Thresholds tuned on the LUDB 'tune' split only (bench/interpretation_ludb.py).
P_PRESENT_RATIO = 0.5  # share of dominant beats with a P wave for an atrial rhythm
AF_IRREGULARITY = 0.08  # normalised RMSSD of RR above which the rhythm is irregular
REGULAR_IRREGULARITY = 0.08  # below it, regular (junctional, SVT)
SINUS_P_AXIS = normal_range("p_axis_deg").criterion  # "in [-30, 100]"
SINUS_ARRHYTHMIA_RANGE_MS = 160.0  # max - min normal RR
NORMAL_IRREGULARITY = 0.06  # the same among normal-morphology beats (ectopy left out)
AF_IRREGULARITY_WITH_P = 0.15  # AF although P-like waves were found (see _af_despite_p)
#: Rate limits (bpm) and the wide QRS (ms), from models.catalogue.
RATE_LOW, RATE_HIGH = limit("heart_rate_bpm", "low"), limit("heart_rate_bpm", "high")
RATE_NORMAL = normal_range("heart_rate_bpm").criterion
QRS_WIDE = limit("qrs_ms", "wide")


def rhythm(c: Ctx, paced: bool) -> list[Finding]:
    """Exactly one primary rhythm (or RHYTHM_UNDETERMINED), plus rate and VT statements."""
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
    n_beats = c.ev("beat_count", ">= 3", spans=rec)
    ratio_name = "rhythm.p_wave_ratio"
    if c.value("heart_rate_bpm") is None or n_beats is None or c.value(ratio_name) is None:
        ev = (c.ev("heart_rate_bpm", "is null", spans=rec) or c.ev("beat_count", "< 3", spans=rec)
              or c.ev(ratio_name, "is null", spans=rec))
        if ev:
            out.append(Finding("RHYTHM_UNDETERMINED", "definite", (ev,)))
        return out
    lead = c.first_lead(("II", "V1", "I"))
    p_spans = c.p(lead) if lead else []
    flutter = c.ev("rhythm.flutter_wave_rate_bpm", "in [240, 340]", spans=rec)
    no_p = c.ev(ratio_name, f"< {P_PRESENT_RATIO}", spans=rec)
    with_p = c.ev(ratio_name, f">= {P_PRESENT_RATIO}", (lead,) if lead else (), p_spans)
    irregular = c.ev("rhythm.rr_irregularity", f"> {AF_IRREGULARITY}", spans=c.rr())
    # the irregularity must persist among beats of normal morphology, so that one ectopic or
    # spurious beat cannot make a regular rhythm "irregular"
    persists = (c.ev("rr_irregularity_normal", f"> {NORMAL_IRREGULARITY}", spans=c.rr())
                or c.ev("rr_irregularity_normal", "is null", spans=c.rr()))
    irregular = irregular if persists else None
    regular = c.ev("rhythm.rr_irregularity", f"<= {REGULAR_IRREGULARITY}", spans=c.rr())
    if flutter:
        out.append(Finding("AFL", "probable", (flutter,)))
    elif no_p and irregular:
        out.append(Finding("AF", "definite", (irregular, no_p) + (
            (persists,) if persists else ())))
    elif no_p:
        out += _regular_without_p(c, no_p, regular)
    elif with_p and (af := _af_despite_p(c)):
        out.append(af)
    elif with_p:
        out += _atrial(c, with_p)
    return out


def _regular_without_p(c: Ctx, no_p, regular) -> list[Finding]:  # type: ignore[no-untyped-def]
    narrow = c.ev("qrs_ms", QRS_WIDE.within, spans=c.qrs(c.first_lead(("II", "V1")) or ""))
    wide = c.ev("qrs_ms", QRS_WIDE.criterion, spans=c.qrs(c.first_lead(("V1", "II")) or ""))
    reg = (regular,) if regular else ()
    if wide and (tachy := c.ev("heart_rate_bpm", "> 120", spans=c.rr())):
        return [Finding("VT", "possible", (tachy, wide, no_p) + reg)]
    if narrow and (tachy := c.ev("heart_rate_bpm", RATE_HIGH.criterion, spans=c.rr())):
        return [Finding("SVT", "probable" if regular else "possible", (tachy, narrow, no_p) + reg)]
    if narrow and regular:
        if slow := c.ev("heart_rate_bpm", RATE_LOW.criterion, spans=c.rr()):
            return [Finding("JUNCT", "probable", (slow, narrow, no_p, regular))]
        if mid := c.ev("heart_rate_bpm", RATE_NORMAL, spans=c.rr()):
            return [Finding("ACC_JUNCT", "possible", (mid, narrow, no_p, regular))]
    return [Finding("RHYTHM_UNDETERMINED", "definite", (no_p,))]


def _af_despite_p(c: Ctx) -> Finding | None:
    """AF when the 'P waves' found are fibrillatory waves: a markedly irregular rhythm whose
    P waves have no sinus axis, no measurable axis, or no fixed PR (tuned on LUDB 'tune')."""
    irregular = c.ev("rhythm.rr_irregularity", f"> {AF_IRREGULARITY_WITH_P}", spans=c.rr())
    persists = c.ev("rr_irregularity_normal", f"> {NORMAL_IRREGULARITY}", spans=c.rr())
    if not (irregular and persists):
        return None
    lead = c.first_lead(("II", "I"))
    leads, spans = ((lead,), c.p(lead)) if lead else ((), [])
    no_fixed_p = (c.ev("rhythm.atrial_wave_axis_deg", f"not {SINUS_P_AXIS}", leads, spans)
                  or c.ev("p_axis_deg", f"not {SINUS_P_AXIS}", leads, spans)
                  or c.ev("p_axis_deg", "is null", leads, spans)
                  or c.ev("pr_sd_ms", "> 30", leads, c.pr(lead) if lead else []))
    return Finding("AF", "probable", (irregular, persists, no_fixed_p)) if no_fixed_p else None


def _atrial(c: Ctx, with_p) -> list[Finding]:  # type: ignore[no-untyped-def]
    lead = c.first_lead(("II", "I", "aVF"))
    p_spans = c.p(lead) if lead else []
    sinus_axis = c.ev("p_axis_deg", SINUS_P_AXIS, (lead,) if lead else (), p_spans)
    out: list[Finding] = []
    upright_ii = c.lead_ev("II", "p_uv", "> 0", c.p("II"))
    reversed_limbs = c.value("limb_reversal_suspected") == 1.0  # P axis then meaningless
    if sinus_axis is None and upright_ii is None and not reversed_limbs:
        axis = c.ev("p_axis_deg", f"not {SINUS_P_AXIS}", (lead,) if lead else (), p_spans)
        inverted = c.lead_ev("II", "p_uv", "<= 0", c.p("II"))
        if axis and inverted:
            return [Finding("EAR", "probable", (with_p, axis, inverted))]
    certainty = "definite" if sinus_axis and upright_ii else "probable"
    base = (with_p,) + tuple(e for e in (sinus_axis, upright_ii) if e)
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
    all_v = c.ev("premature_ventricular_count", ">= 1")
    beats = len(c.a.beats)
    n_run = float(run.value) if isinstance(run.value, float) else 0.0
    sustained = beats > 0 and n_run >= 0.9 * beats
    code = "VT" if sustained else "NSVT"
    return [Finding(code, "probable", (run, rate) + ((all_v,) if all_v else ()))]

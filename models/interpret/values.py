"""Resolve an evidence measurement name to its value in an :class:`Analysis`.

Names (the ``Evidence.measurement`` grammar):

- a global measurement of :data:`ecgread.models.results.MEASUREMENT_NAMES`, e.g. ``"pr_ms"``;
- ``"LEAD.field"``: a field of that lead's :class:`LeadAmplitudes`, e.g. ``"V1.r_uv"``
  (a lead of the record or a standard lead; a standard lead the record lacks is ``None``);
- ``"rhythm.field"``: a scalar field of :class:`RhythmFeatures`, e.g. ``"rhythm.p_wave_ratio"``;
- ``"patient.sex"`` ("M", "F" or None) and ``"patient.age_years"``;
- a derived quantity registered in :data:`DERIVED`, recomputed by one function from the
  analysis, e.g. ``"sokolow_lyon_uv"``; per-territory quantities are ``"name.territory"``.

A value that cannot be had (lead absent, wave missing) is ``None``. Booleans are 1.0/0.0.
Everything here is a pure function of the analysis, so :func:`check_evidence` can recompute
every cited value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import fields

import numpy as np

from ecgread.models.analysis_result import Analysis
from ecgread.models.catalogue import MEASUREMENT_NAMES
from ecgread.models.ecg import STANDARD_LEADS
from ecgread.models.order_stats import median_1d
from ecgread.models.results import LeadAmplitudes, RhythmFeatures, Wave
from ecgread.models.rr_irregularity import normalised_rmssd

Value = float | str | None
LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL_LEADS = ("V1", "V2", "V3", "V4", "V5", "V6")
_AMP_FIELDS = {f.name for f in fields(LeadAmplitudes)}
_RHYTHM_SCALARS = {f.name for f in fields(RhythmFeatures)
                   if f.name not in ("rr_intervals_ms", "pr_intervals_ms", "pacing_spikes_s",
                                     "p_wave_leads", "flutter_leads")}

#: Territories for ST elevation (4th UDMI, Thygesen K et al. Circulation 2018;138:e618) and
#: the pairs of leads taken as contiguous: the Cabrera sequence aVL, I, -aVR, II, aVF, III in
#: the frontal plane and V1..V6 in the horizontal plane (V5, V6 and I, aVL are the lateral
#: wall together).
TERRITORIES: dict[str, tuple[str, ...]] = {
    "anterior": ("V1", "V2", "V3", "V4"),
    "inferior": ("II", "III", "aVF"),
    "lateral": ("I", "aVL", "V5", "V6"),
}
CONTIGUOUS: frozenset[frozenset[str]] = frozenset(frozenset(p) for p in (
    ("aVL", "I"), ("I", "II"), ("II", "aVF"), ("aVF", "III"),
    ("V1", "V2"), ("V2", "V3"), ("V3", "V4"), ("V4", "V5"), ("V5", "V6"), ("V6", "I")))
ST_DEPRESSION_LEADS = ("I", "II", "III", "aVL", "aVF") + PRECORDIAL_LEADS  # not aVR
#: Leads in which T is normally upright in adults (Rautaharju PM et al., AHA/ACCF/HRS
#: Part IV, Circulation 2009;119:e241): I, II, V3-V6.
UPRIGHT_T_LEADS = ("I", "II", "V3", "V4", "V5", "V6")


def amp(a: Analysis, lead: str, name: str) -> float | None:
    la = a.amplitudes.get(lead)
    return None if la is None else getattr(la, name)


def largest_contiguous_group(leads: set[str]) -> int:
    """Size of the largest connected set of ``leads`` under :data:`CONTIGUOUS`."""
    best, seen = 0, set()
    for start in leads:
        if start in seen:
            continue
        stack, size = [start], 0
        seen.add(start)
        while stack:
            cur = stack.pop()
            size += 1
            for other in leads:
                if other not in seen and frozenset((cur, other)) in CONTIGUOUS:
                    seen.add(other)
                    stack.append(other)
        best = max(best, size)
    return best


# --- sex- and age-specific thresholds -------------------------------------------------

def patient_sex(a: Analysis) -> str | None:
    sex = (a.ecg.acquisition.patient_sex or "").strip().upper()[:1]
    return sex if sex in ("M", "F") else None


def stemi_threshold_uv(a: Analysis, lead: str) -> float:
    """J-point elevation threshold of the 4th UDMI (Thygesen 2018, Table/ECG criteria), µV.

    V2-V3: >= 200 µV in men >= 40 y, >= 250 µV in men < 40 y, >= 150 µV in women; >= 100 µV
    in all other leads. Unknown sex or age: the men's (higher, more specific) threshold, and
    250 µV when the age is unknown too.
    """
    if lead not in ("V2", "V3"):
        return 100.0
    sex, age = patient_sex(a), a.ecg.acquisition.patient_age_years
    if sex == "F":
        return 150.0
    if age is not None and age >= 40:
        return 200.0
    return 250.0


#: The ST level of a lead is measured when the standard error of its J level over the beats
#: (:attr:`LeadAmplitudes.j_beat_se_uv`) is at most this, µV: a quarter of the 100 µV
#: STEMI threshold, so noise or wander in one lead cannot make or complete a STEMI.
ST_MAX_SE_UV = 25.0
#: Reciprocal territories: ST depression opposite an ST elevation corroborates acute injury
#: (Birnbaum Y, Drew BJ. Postgrad Med J 2003;79:490; Zimetbaum PJ, Josephson ME. N Engl J
#: Med 2003;348:933): inferior STE with depression in I/aVL; anterior or lateral STE with
#: depression in II, III, aVF. V1-V3 depression beside inferior STE is the posterior
#: pattern, not counted here: in V1 it is also where flutter waves are largest.
RECIPROCAL: dict[str, tuple[str, ...]] = {
    "inferior": ("I", "aVL"),
    "anterior": ("II", "III", "aVF"),
    "lateral": ("II", "III", "aVF"),
}
#: J-point depression that counts as reciprocal, µV (0.5 mm, the 4th UDMI ST-depression
#: level for ischaemia, Thygesen 2018).
RECIPROCAL_DEPRESSION_UV = -50.0
#: Sgarbossa / modified Sgarbossa (Smith) criteria with LBBB or ventricular pacing: J-point
#: deviation of >= 100 µV (1 mm) and a discordant ST/S ratio of >= 0.25.
SGARBOSSA_ST_UV = 100.0
SMITH_RATIO = 0.25


def sgarbossa_level_uv(a: Analysis, lead: str) -> float:
    """The J deviation a Sgarbossa criterion needs in ``lead``, µV: :data:`SGARBOSSA_ST_UV`
    plus the standard error of the lead's J level over the beats, rounded up to 0.1 µV.

    The Sgarbossa criteria are met by one lead, with no reciprocal lead to corroborate it
    (the STEMI criteria need one), so that lead's J level must clear 1 mm beyond its own
    measurement error: a limb tremor of 150 µV put paced LUDB 45's V1 at J 102 ± 24 µV and
    read a critical Sgarbossa STEMI (bench.invariance), where its clean J is below 1 mm."""
    se = amp(a, lead, "j_beat_se_uv") or 0.0
    return math.ceil((SGARBOSSA_ST_UV + se) * 10.0) / 10.0


def st_measurable(a: Analysis, lead: str) -> bool:
    """The lead has amplitudes (usable quality), is not flagged noisy or clipped
    (:data:`models.quality.UNTRUSTED`), and has a J level measured to within
    :data:`ST_MAX_SE_UV` over the beats. A clipped lead's J level is the clipping's (CPSC
    A1985 clipped at 290 uV in the leads that reach it read a critical Sgarbossa STEMI)."""
    from ecgread.models.quality import UNTRUSTED

    if flagged(a, lead, UNTRUSTED):
        return False
    se = amp(a, lead, "j_beat_se_uv")
    return amp(a, lead, "j_uv") is not None and se is not None and se <= ST_MAX_SE_UV


def q_measurable(a: Analysis, lead: str) -> bool:
    """The lead has QRS amplitudes (usable quality) and is not flagged noisy, clipped
    (:data:`models.quality.UNTRUSTED`) or carrying a limb electrode's artefact: its Q waves
    may count (:mod:`models.interpret.criteria.infarct`)."""
    from ecgread.models.limb_artefact import LIMB_ARTEFACT_PROBLEM
    from ecgread.models.quality import UNTRUSTED

    return lead in a.amplitudes and not flagged(a, lead, (*UNTRUSTED, LIMB_ARTEFACT_PROBLEM))


def flagged(a: Analysis, lead: str, problems: Sequence[str]) -> bool:
    """The quality assessment gave ``lead`` one of ``problems``."""
    return any(lq.lead == lead and any(p in problems for p in lq.problems)
               for lq in a.quality.leads)


def stemi_leads(a: Analysis, territory: str) -> list[str]:
    """Leads of ``territory`` whose ST is measurable and whose J point meets the threshold."""
    return [ld for ld in TERRITORIES[territory] if st_measurable(a, ld)
            and (j := amp(a, ld, "j_uv")) is not None and j >= stemi_threshold_uv(a, ld)]


def reciprocal_leads(a: Analysis, territory: str) -> list[str]:
    """Measurable leads opposite ``territory`` (:data:`RECIPROCAL`) with J depression."""
    return [ld for ld in RECIPROCAL[territory] if st_measurable(a, ld)
            and (j := amp(a, ld, "j_uv")) is not None and j <= RECIPROCAL_DEPRESSION_UV]


def _qrs_sign(a: Analysis, lead: str) -> float:
    """+1 for a predominantly positive QRS (net area), -1 for a negative one, 0 unknown."""
    area = amp(a, lead, "qrs_area_uv_ms")
    return 0.0 if area is None or area == 0 else float(np.sign(area))


def sgarbossa_concordant_ste(a: Analysis) -> list[str]:
    """Leads with J at or above :func:`sgarbossa_level_uv` (1 mm plus the J level's error) over
    a predominantly positive QRS (Sgarbossa 1996, 5 points)."""
    return [ld for ld in LIMB_LEADS + PRECORDIAL_LEADS if st_measurable(a, ld)
            and _qrs_sign(a, ld) > 0
            and (amp(a, ld, "j_uv") or 0.0) >= sgarbossa_level_uv(a, ld)]


def sgarbossa_concordant_std(a: Analysis) -> list[str]:
    """V1-V3 with J at or below minus :func:`sgarbossa_level_uv` over a predominantly negative
    QRS (Sgarbossa 1996, 3 points)."""
    return [ld for ld in ("V1", "V2", "V3") if st_measurable(a, ld)
            and _qrs_sign(a, ld) < 0
            and (amp(a, ld, "j_uv") or 0.0) <= -sgarbossa_level_uv(a, ld)]


def smith_ratio_leads(a: Analysis) -> dict[str, float]:
    """Leads with discordant J elevation at or above :func:`sgarbossa_level_uv` over a negative
    QRS, and their ST/S ratio
    (J over the depth of the deepest negative deflection; Smith SW et al. Ann Emerg Med
    2012;60:766)."""
    out = {}
    for ld in LIMB_LEADS + PRECORDIAL_LEADS:
        j = amp(a, ld, "j_uv")
        if (not st_measurable(a, ld) or _qrs_sign(a, ld) >= 0 or j is None
                or j < sgarbossa_level_uv(a, ld)):
            continue
        depth = -min((v for f in ("q_uv", "s_uv", "s_prime_uv")
                      if (v := amp(a, ld, f)) is not None), default=0.0)
        if depth > 0:
            out[ld] = float(j / depth)
    return out


# --- derived quantities ------------------------------------------------------------------

def _sokolow_lyon(a: Analysis) -> float | None:
    """S(V1) + max(R(V5), R(V6)), µV (Sokolow M, Lyon TP. Am Heart J 1949;37:161)."""
    if "V1" not in a.amplitudes or not ({"V5", "V6"} & a.amplitudes.keys()):
        return None
    s1 = -(amp(a, "V1", "s_uv") or 0.0)
    r = max(amp(a, ld, "r_uv") or 0.0 for ld in ("V5", "V6") if ld in a.amplitudes)
    return float(s1 + r)


def _cornell(a: Analysis) -> float | None:
    """R(aVL) + S(V3), µV (Casale PN et al. JACC 1985;6:572)."""
    if "aVL" not in a.amplitudes or "V3" not in a.amplitudes:
        return None
    return float((amp(a, "aVL", "r_uv") or 0.0) - (amp(a, "V3", "s_uv") or 0.0))


def _peak_to_peak(a: Analysis, lead: str) -> float | None:
    la = a.amplitudes.get(lead)
    if la is None or la.qrs_area_uv_ms is None:
        return None
    hi = max(v for v in (la.r_uv, la.r_prime_uv, 0.0) if v is not None)
    lo = min(v for v in (la.q_uv, la.s_uv, la.s_prime_uv, 0.0) if v is not None)
    return float(hi - lo)


def _max_pp(a: Analysis, leads: tuple[str, ...]) -> float | None:
    vals = [v for ld in leads if (v := _peak_to_peak(a, ld)) is not None]
    return max(vals) if len(vals) >= 3 else None


def _romhilt_estes(a: Analysis) -> float | None:
    """Romhilt-Estes point score (Romhilt DW, Estes EH. Am Heart J 1968;75:752).

    Amplitude 3 (largest limb-lead R or S >= 2000 µV, or S V1/V2 >= 3000 µV, or R V5/V6
    >= 3000 µV); ST-T strain 3 (ST depression <= -50 µV at J+60 with T opposite to QRS in
    V5 or V6); left atrial abnormality 3 (terminal negative P in V1 <= -100 µV: depth only,
    the 40 ms duration is not measured); left-axis deviation <= -30 deg 2; QRS >= 90 ms 1;
    intrinsicoid deflection (R peak time) in V5/V6 >= 50 ms 1.
    """
    if not a.amplitudes:
        return None
    pts = 0
    limb = [abs(v) for ld in LIMB_LEADS for f in ("r_uv", "s_uv") if (v := amp(a, ld, f))]
    s12 = [-v for ld in ("V1", "V2") if (v := amp(a, ld, "s_uv")) is not None]
    r56 = [v for ld in ("V5", "V6") if (v := amp(a, ld, "r_uv")) is not None]
    if max(limb, default=0) >= 2000 or max(s12, default=0) >= 3000 or max(r56, default=0) >= 3000:
        pts += 3
    for ld in ("V5", "V6"):
        st, t, area = amp(a, ld, "st_j60_uv"), amp(a, ld, "t_uv"), amp(a, ld, "qrs_area_uv_ms")
        if st is not None and t is not None and area is not None and st <= -50 and t * area < 0:
            pts += 3
            break
    p_term = amp(a, "V1", "p_prime_uv")
    if p_term is not None and p_term <= -100 and (amp(a, "V1", "p_uv") or 0) > 0:
        pts += 3
    m = a.measurements
    if m.qrs_axis_deg is not None and -90 <= m.qrs_axis_deg <= -30:
        pts += 2
    if m.qrs_ms is not None and m.qrs_ms >= 90:
        pts += 1
    if max((v for ld in ("V5", "V6") if (v := amp(a, ld, "r_peak_time_ms")) is not None),
           default=0) >= 50:
        pts += 1
    return float(pts)


def _beat_rr(a: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """(RR before each beat in ms, NaN for the first; median RR of normal-normal pairs)."""
    r = np.array([b.r_s for b in a.beats])
    rr = np.full(r.size, np.nan)
    if r.size >= 2:
        rr[1:] = np.diff(r) * 1000.0
    rr[[b.after_gap for b in a.beats]] = np.nan  # across a gap in the recording: unknown
    return rr, np.array(_normal_rr(a))


def _normal_rr(a: Analysis) -> list[float]:
    """RR intervals (ms) between consecutive beats that are both non-ectopic (none across
    a gap in the recording)."""
    ok = [b.kind in ("dominant", "paced") for b in a.beats]
    return [(a.beats[i].r_s - a.beats[i - 1].r_s) * 1000.0 for i in range(1, len(a.beats))
            if ok[i] and ok[i - 1] and not a.beats[i].after_gap]


def premature_ventricular(a: Analysis) -> list[int]:
    """Indices of ventricular beats that come early: RR before < 0.9 x median normal RR, or
    premature by the short-long rule of :func:`models.rr.premature_beats` (ventricular
    bigeminy leaves no two consecutive normal beats to take that median from: it read
    sinus rhythm and "normal ECG")."""
    from ecgread.models.rr import premature_beats

    if not any(b.kind == "ventricular" for b in a.beats[1:]):
        return []
    rr, nn = _beat_rr(a)
    med = median_1d(nn) if nn.size else None
    short_long = premature_beats(np.array([b.r_s for b in a.beats]))
    return [i for i, b in enumerate(a.beats) if b.kind == "ventricular" and i > 0
            and ((med is not None and rr[i] < 0.9 * med) or bool(short_long[i]))]


def ventricular_runs(a: Analysis) -> list[tuple[int, int]]:
    """(first, last) index of runs of consecutive ventricular beats starting early."""
    early = set(premature_ventricular(a))
    runs, i = [], 0
    while i < len(a.beats):
        if i in early:
            j = i
            while j + 1 < len(a.beats) and a.beats[j + 1].kind == "ventricular":
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    return runs


def _max_run(a: Analysis) -> float | None:
    return float(max((j - i + 1 for i, j in ventricular_runs(a)), default=0)) if a.beats else None


def _run_rate(a: Analysis) -> float | None:
    """Rate (bpm) of the longest ventricular run of >= 3 beats."""
    runs = [(i, j) for i, j in ventricular_runs(a) if j - i >= 2]
    if not runs:
        return None
    i, j = max(runs, key=lambda r: r[1] - r[0])
    return float(60.0 * (j - i) / (a.beats[j].r_s - a.beats[i].r_s))


def _bigeminy_cycles(a: Analysis) -> float | None:
    """Longest stretch of normal-PVC pairs in a row (N V N V ... counts pairs)."""
    if not a.beats:
        return None
    early = set(premature_ventricular(a))
    best = cur = 0
    i = 0
    while i + 1 < len(a.beats):
        if a.beats[i].kind in ("dominant", "supraventricular") and (i + 1) in early:
            cur += 1
            best = max(best, cur)
            i += 2
        else:
            cur = 0
            i += 1
    return float(best)


def _couplets(a: Analysis) -> float | None:
    return float(sum(1 for i, j in ventricular_runs(a) if j - i == 1)) if a.beats else None


def _rr_irregularity_normal(a: Analysis) -> float | None:
    """Normalised RMSSD of normal-normal RR (ectopic beats left out), dimensionless."""
    return normalised_rmssd(_normal_rr(a))


def _rr_range(a: Analysis) -> float | None:
    nn = _normal_rr(a)
    return float(max(nn) - min(nn)) if len(nn) >= 3 else None


def _pr_sd(a: Analysis) -> float | None:
    pr = a.rhythm.pr_intervals_ms
    return float(np.std(pr)) if len(pr) >= 3 else None


def ventricular_paced_beats(a: Analysis) -> list[int]:
    """Beats the DSP engine typed as paced (a spike within 80 ms before the QRS fiducial),
    and beats with a pacing spike within 50 ms of their QRS onset (the earliest onset over
    the leads): a wide paced QRS can peak more than 80 ms after its spike (LUDB 8, 34)."""
    from ecgread.models.wave_intervals import beat_waves

    spikes = np.array(a.rhythm.pacing_spikes_s)
    qrs = [w for ws in a.waves.values() for w in ws if w.type == "QRS"]
    out = []
    for i, b in enumerate(a.beats):
        if b.paced:
            out.append(i)
            continue
        if not spikes.size:
            continue
        onsets = [w.onset_s for w in beat_waves(qrs, b.r_s)]
        if onsets and np.any(np.abs(spikes - min(onsets)) <= 0.05):
            out.append(i)
    return out


def _paced_fraction(a: Analysis) -> float | None:
    return float(len(ventricular_paced_beats(a)) / len(a.beats)) if a.beats else None


def atrial_paced_beats(a: Analysis) -> list[int]:
    """Beats with a pacing spike 90-350 ms before the QRS fiducial (atrial stimulus) and a
    P wave (atrial capture). Without the P wave the spike is no evidence of atrial pacing:
    in LUDB 8 (atrial fibrillation) and 34, ventricular spikes before wide paced QRS
    complexes fell in that window."""
    spikes = np.array(a.rhythm.pacing_spikes_s)
    if spikes.size == 0:
        return []
    return [i for i, b in enumerate(a.beats)
            if b.p_wave and np.any((spikes >= b.r_s - 0.35) & (spikes <= b.r_s - 0.09))]


def _atrial_paced_fraction(a: Analysis) -> float | None:
    return float(len(atrial_paced_beats(a)) / len(a.beats)) if a.beats else None


def _count(a: Analysis, kind: str) -> float | None:
    return float(sum(b.kind == kind for b in a.beats)) if a.beats else None


def _usable_leads(a: Analysis) -> float:
    if a.quality.leads:
        return float(sum(lq.usable for lq in a.quality.leads))
    return float(len(a.amplitudes))


def _standard_leads_present(a: Analysis) -> float:
    """How many of the 12 standard leads the record has (a normal ECG needs all 12)."""
    return float(len(set(STANDARD_LEADS) & set(a.ecg.lead_names)))


def missing_standard_leads(a: Analysis) -> tuple[str, ...]:
    """The standard leads the record lacks, in display order."""
    return tuple(ld for ld in STANDARD_LEADS if ld not in a.ecg.lead_names)


def _limb_reversal(a: Analysis) -> float:
    return float(any(p.startswith("suspected limb lead reversal") for p in a.quality.problems))


def _group(a: Analysis, leads: tuple[str, ...], test: Callable[[str], bool]) -> float | None:
    present = [ld for ld in leads if ld in a.amplitudes]
    if not present:
        return None
    return float(largest_contiguous_group({ld for ld in present if test(ld)}))


def _st_elev_group(territory: str) -> Callable[[Analysis], float | None]:
    def f(a: Analysis) -> float | None:
        if not any(ld in a.amplitudes for ld in TERRITORIES[territory]):
            return None
        return float(largest_contiguous_group(set(stemi_leads(a, territory))))
    f.__doc__ = (f"Largest group of contiguous {territory} leads whose J point meets "
                 "the 4th UDMI threshold (:func:`stemi_threshold_uv`).")
    return f


def _reciprocal_count(territory: str) -> Callable[[Analysis], float | None]:
    def f(a: Analysis) -> float | None:
        """Measurable leads opposite the territory with reciprocal J depression."""
        if not any(ld in a.amplitudes for ld in RECIPROCAL[territory]):
            return None
        return float(len(reciprocal_leads(a, territory)))
    return f


#: ST depression in one lead: >= 100 µV at J+60 ms, or >= 50 µV (0.5 mm, the Fourth
#: Universal Definition's level for ischemic ST depression) both at the J point and at
#: J+60 ms, i.e. sustained, not the rapidly upsloping J-point depression of tachycardia.
ST_DEP_J60_UV = -100.0
ST_DEP_SUSTAINED_UV = -50.0


def st_depression_evidence(a: Analysis, ld: str) -> tuple[tuple[str, float], ...]:
    """The (measurement, level) pairs by which ``ld`` has ST depression (each value <=
    its level), or () when it has none; see :data:`ST_DEP_J60_UV`."""
    j60, j = amp(a, ld, "st_j60_uv"), amp(a, ld, "j_uv")
    if j60 is not None and j60 <= ST_DEP_J60_UV:
        return (("st_j60_uv", ST_DEP_J60_UV),)
    if (j60 is not None and j is not None and j60 <= ST_DEP_SUSTAINED_UV
            and j <= ST_DEP_SUSTAINED_UV):
        return (("j_uv", ST_DEP_SUSTAINED_UV), ("st_j60_uv", ST_DEP_SUSTAINED_UV))
    return ()


def st_depressed(a: Analysis, ld: str) -> bool:
    return bool(st_depression_evidence(a, ld))


def t_inverted(a: Analysis, ld: str) -> bool:
    v = amp(a, ld, "t_uv")
    return v is not None and v <= -100.0


def j_elevated(a: Analysis, ld: str) -> bool:
    v = amp(a, ld, "j_uv")
    return v is not None and v >= 100.0


ER_LEADS = ("II", "III", "aVF", "I", "aVL", "V4", "V5", "V6")

#: name -> function(analysis) -> value; each function's docstring or comment gives its source.
DERIVED: dict[str, Callable[[Analysis], Value]] = {
    "sokolow_lyon_uv": _sokolow_lyon,
    "cornell_uv": _cornell,
    "romhilt_estes_points": _romhilt_estes,
    "limb_qrs_max_pp_uv": lambda a: _max_pp(a, LIMB_LEADS),
    "precordial_qrs_max_pp_uv": lambda a: _max_pp(a, PRECORDIAL_LEADS),
    "rr_irregularity_normal": _rr_irregularity_normal,
    "rr_range_normal_ms": _rr_range,
    "pr_sd_ms": _pr_sd,
    "paced_beat_fraction": _paced_fraction,
    "atrial_paced_beat_fraction": _atrial_paced_fraction,
    "premature_ventricular_count": lambda a: float(len(premature_ventricular(a))),
    "premature_supraventricular_count": lambda a: _count(a, "supraventricular"),
    "ventricular_run_max_beats": _max_run,
    "ventricular_run_rate_bpm": _run_rate,
    "ventricular_bigeminy_cycles": _bigeminy_cycles,
    "ventricular_couplets": _couplets,
    "beat_count": lambda a: float(len(a.beats)),
    "usable_lead_count": _usable_leads,
    "standard_lead_count": _standard_leads_present,
    "quality_usable": lambda a: float(a.quality.usable),
    "limb_reversal_suspected": _limb_reversal,
    "st_depression_contiguous_leads": lambda a: _group(
        a, ST_DEPRESSION_LEADS, lambda ld: st_depressed(a, ld)),
    "t_inversion_lead_count": lambda a: (
        float(sum(t_inverted(a, ld) for ld in UPRIGHT_T_LEADS))
        if any(ld in a.amplitudes for ld in UPRIGHT_T_LEADS) else None),
    "j_elevation_contiguous_leads": lambda a: _group(a, ER_LEADS, lambda ld: j_elevated(a, ld)),
}
for _t in TERRITORIES:
    DERIVED[f"st_elevation_contiguous_leads.{_t}"] = _st_elev_group(_t)
    DERIVED[f"reciprocal_st_depression_leads.{_t}"] = _reciprocal_count(_t)
DERIVED["sgarbossa_concordant_ste_leads"] = lambda a: (
    float(len(sgarbossa_concordant_ste(a))) if a.amplitudes else None)
DERIVED["sgarbossa_concordant_std_v1_v3_leads"] = lambda a: (
    float(len(sgarbossa_concordant_std(a))) if a.amplitudes else None)
DERIVED["smith_st_to_s_ratio_max"] = lambda a: max(smith_ratio_leads(a).values(), default=None)


class UnknownMeasurement(KeyError):
    """The evidence names a measurement that is not in the grammar."""


def resolve(name: str, a: Analysis) -> Value:
    """The value of measurement ``name`` in ``a`` (see the module docstring)."""
    if name in MEASUREMENT_NAMES:
        return _num(getattr(a.measurements, name))
    if name in DERIVED:
        return _num(DERIVED[name](a))
    head, _, tail = name.partition(".")
    if head == "rhythm" and tail in _RHYTHM_SCALARS:
        return _num(getattr(a.rhythm, tail))
    if head == "patient" and tail == "sex":
        return patient_sex(a)
    if head == "patient" and tail == "age_years":
        return _num(a.ecg.acquisition.patient_age_years)
    if tail in _AMP_FIELDS and (head in a.ecg.lead_names or head in STANDARD_LEADS):
        # a standard lead the record lacks (fewer than 12 leads) is not measurable: None
        return _num(amp(a, head, tail))
    raise UnknownMeasurement(name)


def _num(v: object) -> Value:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return float(v)
    f = float(v)  # type: ignore[arg-type]
    return None if not np.isfinite(f) else f


def _pause_ratio(a: Analysis) -> float | None:
    """Longest RR over the median normal-normal RR (a dropped beat gives about 2)."""
    rr, nn = _beat_rr(a)
    if len(nn) < 3:
        return None
    return float(np.nanmax(rr[1:]) / median_1d(nn))


DERIVED["rr_pause_ratio"] = _pause_ratio


def _r_to_s(lead: str) -> Callable[[Analysis], float | None]:
    def f(a: Analysis) -> float | None:
        """R amplitude over S depth in the lead (S absent: None, not infinity)."""
        r, s = amp(a, lead, "r_uv"), amp(a, lead, "s_uv")
        if s is None or s >= 0:
            return None
        return float((r or 0.0) / -s)
    return f


def _q_to_r(lead: str) -> Callable[[Analysis], float | None]:
    def f(a: Analysis) -> float | None:
        """Q depth over the R amplitude in the lead (no Q or no R: None)."""
        q, r = amp(a, lead, "q_uv"), amp(a, lead, "r_uv")
        if q is None or r is None or r <= 0:
            return None
        return float(-q / r)
    return f


for _ld in LIMB_LEADS + PRECORDIAL_LEADS:
    DERIVED[f"r_to_s_ratio.{_ld}"] = _r_to_s(_ld)
    DERIVED[f"q_to_r_ratio.{_ld}"] = _q_to_r(_ld)


#: A QRS and a T wave of one lead are one QT when the T wave starts after the QRS ends and
#: ends less than this long after the QRS onset, s.
QT_MAX_S = 0.8


def qrs_t_pairs(waves: Sequence[Wave]) -> list[tuple[Wave, Wave]]:
    """Each QRS of one lead's waves with the first T wave that makes a QT with it
    (:data:`QT_MAX_S`), in the order of ``waves``; QRS complexes without one are left out."""
    ts = [w for w in waves if w.type == "T"]
    pairs = []
    for q in (w for w in waves if w.type == "QRS"):
        nxt = [t for t in ts if t.onset_s >= q.offset_s and t.offset_s - q.onset_s < QT_MAX_S]
        if nxt:
            pairs.append((q, nxt[0]))
    return pairs


def _qtc_lead_median(a: Analysis) -> float | None:
    """Framingham QTc (ms) of the median per-lead QT: per usable lead, the median over beats
    of T offset - QRS onset (:func:`qrs_t_pairs`), then the median over leads. A check on the
    global QT, whose latest T offset one lead can stretch (Sagie 1992 for the correction)."""
    rr = a.measurements.rr_ms
    if rr is None:
        return None
    per_lead = []
    for ws in a.waves.values():
        qts = [(t.offset_s - q.onset_s) * 1000.0 for q, t in qrs_t_pairs(ws)]
        if qts:
            per_lead.append(median_1d(qts))
    if len(per_lead) < 3:
        return None
    return median_1d(per_lead) + 154.0 * (1.0 - rr / 1000.0)


DERIVED["qtc_framingham_lead_median_ms"] = _qtc_lead_median


# --- rhythm corroboration (models/rhythm.py, models/atrial.py) ---------------------------

def rhythm_lead_names(a: Analysis) -> list[str]:
    """Leads with waves that take part in rhythm decisions: usable and not flagged noisy,
    saturated, flat or off (:data:`models.rhythm.NOT_FOR_RHYTHM`)."""
    from ecgread.models.rhythm import NOT_FOR_RHYTHM

    bad = {lq.lead for lq in a.quality.leads if any(p in NOT_FOR_RHYTHM for p in lq.problems)}
    return [ld for ld in a.waves if ld not in bad]


def wide_qrs_leads(a: Analysis, beats: list[int] | None = None, min_ms: float = 120.0
                   ) -> list[str]:
    """Rhythm leads in which the median QRS duration over ``beats`` (default all) is >=
    ``min_ms``: a wide complex seen in several good leads, not one lead's late offset."""
    from ecgread.models.wave_intervals import beat_waves

    idx = range(len(a.beats)) if beats is None else beats
    out = []
    for ld in rhythm_lead_names(a):
        qrs = [w for w in a.waves[ld] if w.type == "QRS"]
        widths = [(w.offset_s - w.onset_s) * 1000.0 for i in idx
                  for w in beat_waves(qrs, a.beats[i].r_s)[:1]]
        if widths and median_1d(widths) >= min_ms:
            out.append(ld)
    return out


def longest_ventricular_run(a: Analysis) -> list[int]:
    runs = [(i, j) for i, j in ventricular_runs(a) if j - i >= 2]
    if not runs:
        return []
    i, j = max(runs, key=lambda r: r[1] - r[0])
    return list(range(i, j + 1))


def _pr_spread(a: Analysis) -> float | None:
    from ecgread.models.rhythm import pr_spread_ms

    return pr_spread_ms(a.rhythm.pr_intervals_ms)


def _atrial_to_ventricular(a: Analysis) -> float | None:
    """Atrial rate from the signal between QRS-T complexes over the heart rate."""
    ar, hr = a.rhythm.atrial_signal_rate_bpm, a.measurements.heart_rate_bpm
    return None if ar is None or not hr else float(ar / hr)


DERIVED["pr_spread_ms"] = _pr_spread
DERIVED["wide_qrs_lead_count"] = lambda a: float(len(wide_qrs_leads(a))) if a.waves else None
DERIVED["ventricular_run_wide_lead_count"] = lambda a: (
    float(len(wide_qrs_leads(a, longest_ventricular_run(a))))
    if longest_ventricular_run(a) else None)
DERIVED["atrial_to_ventricular_rate_ratio"] = _atrial_to_ventricular

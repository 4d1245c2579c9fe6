"""The dataclasses the analysis core returns: the contract every other part reads.

``models.analysis.analyze`` produces an :class:`Analysis`; ``Analysis.to_json_dict``
gives exactly the public JSON of ``ecgread analyze --json`` (see DESIGN.md).
Times are seconds from the first sample; amplitudes are µV; a value that could not
be measured is ``None`` and :attr:`GlobalMeasurements.unmeasured` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ecgread.models.catalogue import MEASUREMENT_NAMES

WaveType = Literal["P", "QRS", "T"]
Certainty = Literal["definite", "probable", "possible"]


@dataclass(frozen=True)
class Wave:
    """One detected P, QRS or T wave in one lead."""

    type: WaveType
    onset_s: float
    peak_s: float
    offset_s: float

    def to_json_dict(self) -> dict[str, Any]:
        return {"type": self.type, "onset_s": round(self.onset_s, 4),
                "peak_s": round(self.peak_s, 4), "offset_s": round(self.offset_s, 4)}


@dataclass(frozen=True)
class Beat:
    """One detected heartbeat (all leads together)."""

    r_s: float  # fiducial time of the QRS
    kind: Literal["dominant", "ventricular", "supraventricular", "paced", "unknown"]
    paced: bool = False
    p_wave: bool = False  # the multi-lead DSP decision: a P wave precedes this QRS
    #: the RR interval ending here spans a stretch where no usable lead has signal (a gap in
    #: the recording): its length is no heart cycle, and no rate or rhythm measure uses it
    after_gap: bool = False


@dataclass(frozen=True)
class LeadAmplitudes:
    """Per-lead amplitudes on the representative beat, µV (None where the wave is absent)."""

    p_uv: float | None = None
    q_uv: float | None = None
    r_uv: float | None = None
    s_uv: float | None = None
    r_prime_uv: float | None = None
    s_prime_uv: float | None = None
    j_uv: float | None = None
    st_j60_uv: float | None = None  # ST level 60 ms after J, relative to the PR baseline
    t_uv: float | None = None
    p_prime_uv: float | None = None  # negative part of a biphasic P (e.g. V1 in LAE)
    q_ms: float | None = None  # Q wave duration
    p_ms: float | None = None  # P wave duration in this lead (onset to offset)
    r_peak_time_ms: float | None = None  # QRS onset to R peak (intrinsicoid deflection)
    qrs_area_uv_ms: float | None = None  # signed QRS area, for axis computation
    #: standard error of the J level (vs the PR baseline) over the beats of the median, µV:
    #: how well the ST level is measured (None: fewer than 3 beats, so not measured)
    j_beat_se_uv: float | None = None


@dataclass(frozen=True)
class GlobalMeasurements:
    """Intervals, rate and axes from all leads together (representative beats).

    Every field is optional: ``None`` means unable to measure, and ``unmeasured[name]``
    gives the reason in plain words (e.g. "no P waves: atrial fibrillation"). Each field's
    unit, label, code and limits: :mod:`models.catalogue`.
    """

    heart_rate_bpm: float | None = None
    rr_ms: float | None = None
    p_ms: float | None = None
    pr_ms: float | None = None
    qrs_ms: float | None = None
    qt_ms: float | None = None
    qtc_bazett_ms: float | None = None
    qtc_fridericia_ms: float | None = None
    qtc_framingham_ms: float | None = None
    qtc_hodges_ms: float | None = None
    p_axis_deg: float | None = None
    qrs_axis_deg: float | None = None
    t_axis_deg: float | None = None
    unmeasured: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in MEASUREMENT_NAMES}

    def reported(self) -> GlobalMeasurements:
        """These measurements in whole bpm, ms and degrees, as every report prints them,
        so that a statement is judged on the number its reader sees (a heart rate of
        59.985 printed as 60 bpm had read sinus bradycardia, "< 60")."""
        import dataclasses

        return dataclasses.replace(self, **{  # type: ignore[arg-type]
            name: float(round(v)) for name in MEASUREMENT_NAMES
            if (v := getattr(self, name)) is not None})


@dataclass(frozen=True)
class RhythmFeatures:
    """What the rhythm analysis found, for interpretation to cite."""

    rr_intervals_ms: tuple[float, ...] = ()
    rr_irregularity: float | None = None  # e.g. normalised RMSSD or similar; see delineation docs
    p_wave_ratio: float | None = None  # share of dominant beats with a P wave before the QRS
    pr_intervals_ms: tuple[float, ...] = ()  # per beat, None-free list over beats with a P
    atrial_rate_bpm: float | None = None
    flutter_wave_rate_bpm: float | None = None
    pacing_spikes_s: tuple[float, ...] = ()
    #: The frontal axis of the atrial waves once they are known not to be P waves (atrial
    #: fibrillation or flutter: ``models.analysis`` moves the P axis here, degrees).
    atrial_wave_axis_deg: float | None = None
    #: See models/rhythm.py for each definition.
    rr_irregularity_robust: float | None = None  # ectopy-adjacent intervals left out
    p_wave_confidence: float | None = None  # 0-1, 0.5 at the P decision level
    p_wave_leads: tuple[str, ...] = ()  # rhythm leads whose P wave stood out
    p_wave_lead_count: int = 0
    atrial_signal_rate_bpm: float | None = None  # atrial periodicity between QRS-T
    av_phase_locking: float | None = None  # 1: atrial waves fixed before the QRS, 0: dissociated
    flutter_leads: tuple[str, ...] = ()  # leads whose flutter waves agreed
    #: share of the V1-V6 flutter-band signal common to all of them where regular activity
    #: at a flutter rate was found (>= models.atrial.FLUTTER_COMMON_MODE_MAX: a limb-electrode
    #: artefact such as a tremor, and no flutter rate)
    flutter_common_mode: float | None = None
    qrs_consistency: float | None = None  # median beat correlation with the QRS template
    #: P windows' beat-to-beat scatter over the QRS amplitude, median over the leads
    p_window_noise_ratio: float | None = None
    #: "flutter", "fibrillation", "P" or "none": decided before interpretation
    atrial_waves: str | None = None


@dataclass(frozen=True)
class LeadQuality:
    lead: str
    usable: bool
    problems: tuple[str, ...] = ()  # e.g. "flat", "saturated", "noisy", "baseline wander"


@dataclass(frozen=True)
class Quality:
    usable: bool
    problems: tuple[str, ...] = ()
    leads: tuple[LeadQuality, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        return {"usable": self.usable, "problems": list(self.problems),
                "leads": {q.lead: list(q.problems) for q in self.leads if q.problems}}


@dataclass(frozen=True)
class Evidence:
    """One checkable fact behind a statement (DESIGN: statements and grounding).

    ``measurement`` names a global measurement (e.g. "pr_ms") or a per-lead one as
    "LEAD.field" (e.g. "V1.r_uv"); ``value`` is its value as stored; ``criterion``
    is the rule it met in the measurement's unit (e.g. "> 200").
    """

    measurement: str
    value: float | str | None
    criterion: str
    leads: tuple[str, ...] = ()
    spans_s: tuple[tuple[float, float], ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        value = round(self.value, 3) if isinstance(self.value, float) else self.value
        return {"measurement": self.measurement, "value": value, "criterion": self.criterion,
                "leads": list(self.leads),
                "spans_s": [[round(a, 3), round(b, 3)] for a, b in self.spans_s]}


@dataclass(frozen=True)
class Statement:
    code: str
    text: str
    category: str
    certainty: Certainty
    evidence: tuple[Evidence, ...]
    critical: bool = False
    source: str = ""  # "criteria" or a model name for AI findings
    probability: float | None = None  # for AI findings

    def to_json_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "text": self.text, "category": self.category,
                               "certainty": self.certainty, "critical": self.critical,
                               "evidence": [e.to_json_dict() for e in self.evidence]}
        if self.probability is not None:
            out["probability"] = round(self.probability, 4)
            out["source"] = self.source
        return out

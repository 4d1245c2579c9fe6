"""The analysis pipeline: one ECG in, one :class:`Analysis` out. Pure: no I/O.

Pure also of process state: the neural networks are passed in (loaded at the edge,
:mod:`ecgread.workers.onnx_models`); ``versions`` holds the core's own algorithm and
model versions, and the edge adds the ecgread version
(:func:`ecgread.workers.provenance.with_ecgread_version`).

Named stages, each a plain function in its own module::

    condition -> quality -> detect beats -> delineate -> measure -> interpret

The same function serves the listener path (workers), the batch path and the
one-shot CLI (``ecgread analyze``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ecgread.models.analysis_result import Analysis
from ecgread.models.catalogue import MEASUREMENT_NAMES
from ecgread.models.dsp_config import AnalysisConfig
from ecgread.models.ecg import Ecg, resampled, with_derived_limb_leads
from ecgread.models.interpret import INTERPRET_VERSION, interpret
from ecgread.models.limb_artefact import LIMB_ARTEFACT_PROBLEM, LimbArtefact
from ecgread.models.neural.delineation import delineator_of
from ecgread.models.neural.inference import NeuralModels
from ecgread.models.results import (
    Beat,
    GlobalMeasurements,
    LeadAmplitudes,
    Quality,
    Wave,
)

if TYPE_CHECKING:
    from ecgread.models.delineate import Delineation

__all__ = ["ATRIAL_ARRHYTHMIAS", "Analysis", "AnalysisConfig", "DELINEATOR_VERSION",
           "analyze"]

#: Bumped whenever the same ECG may get other waves or measurements (stored with every read):
#: 1.2 (2026-12-02) bounded P slopes, per-beat P timing, templates from non-premature beats,
#: confirmed QRS edges kept, noisy leads out of the delineation; 1.3 (2026-12-02, later) P amplitude
#: from the chord joining P onset and offset, beats typed at their best alignment, PR without
#: outlying P onsets, the representative beat's P window from the RR before its beats, AV
#: dissociation beat by beat and in the best lead, a lone clear P wave among noisy leads;
#: 1.4 (2026-12-02, last) a pacing spike must be narrow (a tall, sharp R wave is none); no
#: flutter waves from activity that V1-V6 carry alike (a limb-electrode artefact); lead I
#: among the leads that may show the atrial waves locked to the QRS; the leads a limb
#: electrode's artefact entered out of the delineation and global intervals; P amplitudes
#: from the representative beat low-passed at 40 Hz; P and T axes from the interval leads;
#: P waves decided on strips of fewer than 3 RR intervals (one PR, at most 250 ms); no RR
#: interval across a gap in the recording (Beat.after_gap); 1.5 (2026-12-02, sixth session)
#: QRS complexes found in the leads not flagged noisy, each lead's slope capped (an
#: electrode pop makes no beat), level steps taken out before filtering, clipping judged at
#: the recorded rate, a record whose every lead is noisy or clipped is technically limited
#: and its measurements withheld; 1.6 (2026-12-02, seventh session) with a limb electrode's
#: artefact, the P and T waves found with the chest leads referred away from that electrode
#: and its limb leads out of the rhythm decisions; each lead's Q duration from its own Q onset;
#: beats typed in the leads not flagged noisy, each compared only in the leads recorded over
#: its window; an RR interval across a gap in no class of the robust irregularity; 1.7
#: (2026-12-02, eighth session) T waves that the QRS detector took for beats (every other
#: detection, QT-like steady, of another shape, without a T wave of its own) taken out.
DELINEATOR_VERSION = "dsp-1.7"
#: Rhythm statements whose atrial waves are not P waves: no P wave, PR or P axis with them.
ATRIAL_ARRHYTHMIAS = frozenset({"AF", "AFL"})
#: Global intervals the neural delineators measure from their waves (see _intervals_from_waves).
WAVE_INTERVALS = ("p_ms", "pr_ms", "qt_ms")


#: An ECG sampled below this rate is read after band-limited interpolation to
#: :data:`READ_RATE_HZ` (:func:`models.ecg.resampled`). The QRS boundaries come from
#: thresholds on the derivative, which a central difference over 2 samples (20 ms at 100 Hz)
#: smears outward: at 100 Hz the QRS of 20 LUDB, QTDB and CPSC records read 8-48 ms longer
#: than at their own rate and 9 of them gained IVCD or RBBB; interpolated, within 4 ms on 17
#: of 20 and none. Not at 250 Hz and above: read at 500 Hz, the QT Database's 250 Hz records
#: lost P waves (found 97.3 -> 95.8 %, P onset SD 24.9 -> 32.6 ms).
MIN_READ_RATE_HZ = 250.0
READ_RATE_HZ = 500.0


def analyze(ecg: Ecg, config: AnalysisConfig | None = None, *,
            models: NeuralModels | None = None, masks: np.ndarray | None = None
            ) -> Analysis:
    """Run the whole signal-processing pipeline on one ECG.

    Stages (each a plain function in its own module)::

        ecg.with_derived_limb_leads -> conditioning.condition -> quality.assess_quality
        -> qrs_detect.detect_qrs
        -> beats.type_beats -> delineate.delineate (record, then representative beat)
        -> measure.measure, rhythm.rhythm_features -> interpret.interpret

    Parameters
    ----------
    ecg:
        Any lead set (12 leads or fewer), 100-2000 Hz (below 250 Hz read at 500 Hz:
        :data:`MIN_READ_RATE_HZ`), NaN = padding. Limb leads it lacks are derived from two
        it has (``Analysis.ecg`` holds them; a note says which).
    config:
        Parameters. ``config.delineator``: "fused" (default: DSP and network waves fused
        by :mod:`models.fusion`), "network" (the network's waves) or "dsp" (the
        signal-processing engine alone). Global measurements come from the DSP engine's
        representative beat, except PR and QT (and so QTc), which the neural delineators
        measure from their per-lead waves (:func:`_intervals_from_waves`).
    models:
        The neural models, loaded at the edge
        (:func:`ecgread.workers.onnx_models.process_models`); required unless the
        delineator is "dsp". Registered classifiers' AI findings are added to the
        statements.
    masks:
        (leads, 4, samples) delineation-network probabilities computed by the caller in a
        batch (:func:`ecgread.models.neural.delineation.predict_masks_many`); else computed
        here.

    Returns
    -------
    Analysis
        ``representative_beat`` holds ``{"sampling_rate_hz", "start_s", "leads": {name:
        (W,) µV array}, "fiducials_s": {"p_onset", "p_offset", "qrs_onset", "qrs_offset",
        "t_onset", "t_offset": s relative to the beat's QRS fiducial or None}}``
        (``start_s`` is the time of the first sample, negative). It is not in the JSON.
        ``versions`` holds the core's versions (delineator, models, fusion, interpret);
        not the ecgread version, which the edge adds.

    Raises
    ------
    MissingModelError
        A neural delineator is configured and no models were passed, or they have no
        delineator.
    """
    import dataclasses

    from ecgread.models.atrial import FLUTTER_COMMON_MODE_MAX
    from ecgread.models.beats import rr_around, type_beats
    from ecgread.models.conditioning import PACING_MIN_FS_HZ, condition, pacing_assessable
    from ecgread.models.delineate import delineate
    from ecgread.models.limb_artefact import away_from_electrode, find_limb_artefact
    from ecgread.models.measure import measure
    from ecgread.models.qrs_detect import detect_qrs
    from ecgread.models.quality import assess_quality
    from ecgread.models.rhythm import atrial_waves, rhythm_features, rhythm_leads

    cfg = config or AnalysisConfig()
    if cfg.delineator != "dsp":
        delineator_of(models, cfg.delineator)  # fail before any work without the network
    ecg, derived, derived_from = with_derived_limb_leads(ecg)
    # rows (leads) contiguous: every stage works lead by lead, and a file's (samples, leads)
    # data transposed made each row a strided view (the same values, read faster)
    ecg = dataclasses.replace(ecg, signal_uv=np.ascontiguousarray(ecg.signal_uv))
    recorded_fs = ecg.sampling_rate_hz
    recorded_uv = ecg.signal_uv  # clipping shows as pinned samples only at the recorded rate
    if recorded_fs < MIN_READ_RATE_HZ:
        ecg = resampled(ecg, READ_RATE_HZ)
    fs = ecg.sampling_rate_hz
    names = ecg.lead_names
    cond = condition(ecg.signal_uv, fs, cfg.conditioning, recorded_rate_hz=recorded_fs)
    qa = assess_quality(recorded_uv, cond, names, cfg.quality, derived=derived,
                        derived_from=derived_from)
    usable = qa.usable
    quality = qa.quality
    notes: list[str] = []
    if derived:
        notes.append(f"{', '.join(derived)} not recorded: derived from "
                     f"{' and '.join(derived_from)} (Einthoven, Goldberger)")
    if fs != recorded_fs:
        notes.append(f"sampled at {recorded_fs:g} Hz: read after band-limited interpolation "
                     f"to {fs:g} Hz")
    if ecg.duration_s < cfg.min_duration_s:
        usable = np.zeros_like(usable)
        quality = dataclasses.replace(quality, usable=False, problems=quality.problems + (
            f"record shorter than {cfg.min_duration_s:g} s",))
    # the QRS complexes are found in the leads not flagged noisy, where any are: every
    # voting lead's slope is normalised to its own scale, so a lead of electrode noise
    # votes as loud as a clean one and, in a two-lead Holter strip, doubled the rate
    # (QTDB sele0210 with 2 mV of noise in its second lead: 216/min, AF). Clipped leads
    # still vote (their QRS edges keep their timing): CPSC A1985 (LBBB) with every lead
    # but V2 clipped read its discordant T waves in V2 alone as beats, 229/min.
    voters = usable & ~np.array(["heavy noise" in lq.problems for lq in quality.leads],
                                dtype=bool)
    det = detect_qrs(cond, voters if voters.any() else usable, cfg.detection)
    signals = {"signal_uv": cond.signal_uv, "qrs_smooth_uv": cond.qrs_smooth_uv,
               "pt_smooth_uv": cond.pt_smooth_uv}
    # and typed in them: a lead of noise lowered every beat's correlation with the template
    # (premature atrial beats of CPSC A1980 with noise in aVR and aVL typed ventricular, and
    # the record read AF)
    typing = type_beats(signals, fs, det.r_samples, voters if voters.any() else usable,
                        cond.pacing_spikes, cfg.beats, valid=cond.valid)
    r = typing.r_samples
    artefact = find_limb_artefact(cond.pt_smooth_uv, fs, names, usable, r)
    # the P and T waves are found with the chest leads referred away from a limb electrode
    # that carries an artefact (models.limb_artefact.away_from_electrode): through Wilson's
    # terminal a third of it entered every chest lead, and a 150 µV tremor at one electrode
    # hid the P waves of V1-V6 (sinus read "undetermined" on 23 of 120 tremor copies of the
    # invariance records, PR changed on 58). The QRS boundaries stay those of the leads as
    # recorded: a third of the augmented lead's QRS in each chest lead moved them (LUDB 62
    # with a left-leg tremor, QRS 98 -> 120 ms), where the artefact hardly did.
    def referred_away(x: np.ndarray) -> np.ndarray:
        return x if artefact is None else away_from_electrode(x, names, artefact.electrode)

    if artefact is not None:
        quality = _with_limb_artefact(quality, artefact)
    # waves are delineated, and the global intervals measured, in the leads not flagged
    # noisy, saturated or flat (nor carrying a limb electrode's artefact), where any are:
    # the multi-lead QRS, P and T searches otherwise follow the noise and move the clean
    # leads' boundaries (QTDB sel30 with EMG noise in its second lead: the clean lead's P
    # onset -236 -> -384 ms, PR 188 -> 240)
    timing = rhythm_leads(quality, usable)  # an artefact's limb leads are flagged too
    if not timing.any():  # no lead free of problems: the usable ones, still without those
        timing = usable
        if artefact is not None:
            away = timing & ~np.isin(np.array(names), artefact.leads)
            timing = away if away.any() else timing
    pt_view = referred_away(cond.pt_smooth_uv)
    dl = delineate(cond.qrs_smooth_uv, pt_view, fs, r, timing, cfg.delineation,
                   valid=cond.valid, dominant=typing.dominant if r.size else None)
    after_gap = _after_gap(cond.valid, usable, r)
    rhythm = rhythm_features(r, typing.dominant, dl, usable, cond.pacing_spikes, fs,
                             pt_smooth_uv=pt_view, lead_names=names,
                             quality=quality, beat_correlation=typing.correlation,
                             after_gap=after_gap)
    waves: dict[str, tuple[Wave, ...]] = {}
    for li, name in enumerate(names):
        if not timing[li]:
            continue
        found: list[Wave] = []
        for wi, wtype in enumerate(("P", "QRS", "T")):
            on, pk, off = dl.points[wi, 0, li], dl.points[wi, 1, li], dl.points[wi, 2, li]
            ok = np.isfinite(on) & np.isfinite(pk) & np.isfinite(off)
            found.extend(Wave(wtype, a / fs, b / fs, c / fs)  # type: ignore[arg-type]
                         for a, b, c in zip(on[ok].tolist(), pk[ok].tolist(),
                                            off[ok].tolist(), strict=True))
        waves[name] = tuple(sorted(found, key=lambda w: w.onset_s))
    beats = tuple(Beat(r_s=float(s) / fs, kind=k, paced=bool(p), p_wave=bool(hp),  # type: ignore[arg-type]
                       after_gap=bool(g))
                  for s, k, p, hp, g in zip(r, typing.kinds, typing.paced, dl.p_present,
                                            after_gap, strict=True))
    rep_beat: dict[str, Any] = {}
    measurements = GlobalMeasurements(unmeasured={n: "no QRS complexes detected"
                                                  for n in MEASUREMENT_NAMES})
    amplitudes: dict[str, LeadAmplitudes] = {}
    if typing.median_beat and r.size >= 2:
        med = typing.median_beat
        p_ratio = rhythm.p_wave_ratio
        rep_p = np.array([p_ratio is not None and p_ratio >= 0.5])
        in_median = typing.dominant & (np.asarray(typing.kinds) != "supraventricular")
        rr_before, rr_after = rr_around(r, in_median if in_median.any() else typing.dominant,
                                        fs)
        rep = delineate(med["qrs_smooth_uv"], referred_away(med["pt_smooth_uv"]), fs,
                        np.array([typing.pre_samples]), timing, cfg.delineation,
                        p_present=rep_p, rr_s=rr_after or typing.rr_median_s,
                        rr_before_s=rr_before or rr_after or typing.rr_median_s,
                        prev_t_offset_s=_previous_t_offset_s(dl, r, in_median, timing, fs))
        m = measure(med["signal_uv"], rep, fs, typing.pre_samples, names, usable,
                    (np.diff(r) / fs)[~after_gap[1:]], p_ratio,
                    record_uv=cond.signal_uv,
                    beat_samples=r[in_median] if in_median.any() else r[typing.dominant],
                    interval_leads=timing, p_median_uv=med["qrs_smooth_uv"])
        measurements, amplitudes = m.measurements, m.amplitudes
        if m.lead_problems:
            quality = dataclasses.replace(quality, problems=quality.problems + m.lead_problems)
        rep_beat = {"sampling_rate_hz": fs, "start_s": -typing.pre_samples / fs,
                    "leads": {n: med["signal_uv"][i] for i, n in enumerate(names)},
                    "fiducials_s": m.fiducials_s, "n_beats": typing.n_dominant}
    elif r.size < 2 and quality.usable:
        notes.append("fewer than two QRS complexes detected: no measurements")
    for step in cond.level_steps:
        notes.append(f"level step of {step.shift_uv / 1000.0:+.1f} mV in "
                     f"{names[step.lead]} at {step.sample / fs:.2f} s (electrode pop) taken "
                     "out before filtering")
    if not pacing_assessable(recorded_fs):
        notes.append(f"pacing spikes not assessed: sampled at {recorded_fs:g} Hz, below "
                     f"{PACING_MIN_FS_HZ:g} Hz a pacing stimulus may fall between samples")
    common = rhythm.flutter_common_mode
    if common is not None and common >= FLUTTER_COMMON_MODE_MAX:
        notes.append(f"regular activity in the flutter band common to V1-V6 ({common:.0%} of "
                     "it): an artefact at a limb electrode (such as a tremor), not read as "
                     "flutter waves")
    excluded = [lq.lead for lq in quality.leads if not lq.usable]
    if excluded:
        notes.append("excluded leads (unusable signal): " + ", ".join(excluded))
    versions = {"delineator": DELINEATOR_VERSION}
    if cfg.delineator != "dsp":
        # the network reads the chest leads referred away from an artefact's electrode too
        # (QT of the 120 tremor copies: 35 changed by > 20 ms, 44 with the leads as
        # recorded); masks a caller computed in a batch are of the leads as recorded
        view = ecg if artefact is None else dataclasses.replace(
            ecg, signal_uv=referred_away(ecg.signal_uv))
        waves, neural_versions = _neural_waves(view, waves, timing, beats, cfg.delineator,
                                               models, masks if artefact is None else None)
        versions["delineator"] = f"{cfg.delineator} ({DELINEATOR_VERSION} + network)"
        versions.update(neural_versions)
        measurements = _intervals_from_waves(measurements, waves, beats)
    measurements = measurements.reported()
    if not quality.usable:
        # no lead is trusted to show the ECG: its numbers would be the noise's (a loose
        # electrode's 2 mV of noise in the one lead of a strip read 230/min)
        why = f"technically limited ({quality.problems[-1]})" if quality.problems else (
            "technically limited")
        measurements = GlobalMeasurements(unmeasured=dict.fromkeys(MEASUREMENT_NAMES, why))
    lead_ii = amplitudes.get("II")
    rhythm = dataclasses.replace(rhythm, atrial_waves=atrial_waves(
        rhythm, measurements.p_axis_deg, lead_ii.p_uv if lead_ii is not None else None)
        if quality.usable else None)  # technically limited: no atrial waves named either
    analysis = Analysis(ecg=ecg, quality=quality, waves=waves, beats=beats,
                        measurements=measurements, amplitudes=amplitudes, rhythm=rhythm,
                        statements=(), versions=versions, notes=tuple(notes),
                        representative_beat=rep_beat, derived_leads=derived,
                        recorded_rate_hz=recorded_fs)
    if rhythm.atrial_waves in ("fibrillation", "flutter"):  # models.rhythm.atrial_waves
        analysis = _without_p_waves(analysis)
    analysis = _interpret(analysis)
    if models is not None:
        analysis = _ai_findings(analysis, models)
    return analysis


def _neural_waves(ecg: Ecg, dsp_waves: dict[str, tuple[Wave, ...]], usable: np.ndarray,
                  beats: tuple[Beat, ...], mode: str,
                  models: NeuralModels | None, masks: np.ndarray | None
                  ) -> tuple[dict[str, tuple[Wave, ...]], dict[str, str]]:
    """The neural delineation stage; P waves stay where the DSP engine saw atrial activity."""
    from ecgread.models.fusion import gate_p_waves
    from ecgread.models.neural.delineation import delineate_neural

    paced = any(b.paced for b in beats)
    waves, versions = delineate_neural(ecg, dsp_waves, usable, mode, models=models,
                                       paced=paced, masks=masks)
    return gate_p_waves(waves, tuple(b.r_s for b in beats if b.p_wave)), versions


def _after_gap(valid: np.ndarray, usable: np.ndarray, r: np.ndarray) -> np.ndarray:
    """bool per beat: the RR interval ending at it spans a sample where no usable lead has
    signal (NaN padding, a dropped stretch): beats in the gap are unseen, so its length is no
    heart cycle (a 0.8 s gap in every lead read second-degree AV block, and a heart rate of
    39/min, critical, on sinus bradycardia at 45/min). The first beat: False."""
    out = np.zeros(r.size, dtype=bool)
    lanes = np.asarray(valid, bool)[np.asarray(usable, bool)]
    if r.size < 2 or lanes.size == 0:
        return out
    gap = ~lanes.any(axis=0)
    if gap.any():
        ends = np.concatenate(([0], np.cumsum(gap)))  # gap samples before each index
        ri = np.clip(np.asarray(r, int), 0, gap.size)
        out[1:] = ends[ri[1:]] - ends[ri[:-1]] > 0
    return out


def _with_limb_artefact(quality: Quality, artefact: LimbArtefact) -> Quality:
    """``quality`` with the artefact on the leads it entered (they stay usable; the caller
    leaves them out of the delineation and the global intervals) and said once for the
    record, naming the electrode to check."""
    import dataclasses

    electrode = {"LA": "left-arm", "RA": "right-arm", "LL": "left-leg"}[artefact.electrode]
    leads = tuple(dataclasses.replace(lq, problems=lq.problems + (LIMB_ARTEFACT_PROBLEM,))
                  if lq.lead in artefact.leads else lq for lq in quality.leads)
    problem = (f"{artefact.frequency_hz:.1f} Hz oscillation at the {electrode} electrode "
               f"(tremor or poor contact) in {', '.join(artefact.leads)}: intervals measured "
               "in the other leads")
    return dataclasses.replace(quality, leads=leads, problems=quality.problems + (problem,))


def _previous_t_offset_s(dl: Delineation, r: np.ndarray, beats: np.ndarray,
                         leads: np.ndarray, fs: float) -> float | None:
    """Median over ``beats`` (bool per beat) of where the previous beat's T wave ends, s
    from the beat's fiducial (negative; the median over ``leads``), or None where unknown.
    Only when most of the beats follow a beat of another kind (ventricular bigeminy),
    else the representative beat's own T wave one RR earlier serves."""
    sel = np.flatnonzero(np.asarray(beats, bool))
    sel = sel[sel > 0]
    if sel.size == 0 or not np.any(leads) or float(np.mean(beats[sel - 1])) >= 0.5:
        return None
    from ecgread.models.delineate_core import nanmedian
    from ecgread.models.order_stats import median_1d

    t_off = dl.get("T", "offset")[np.asarray(leads, bool)]
    prev = nanmedian(t_off[:, sel - 1], axis=0) if t_off.size else np.full(sel.size, np.nan)
    rel = (prev - r[sel]) / fs
    rel = rel[np.isfinite(rel)]
    return median_1d(rel) if rel.size else None


def _intervals_from_waves(m: GlobalMeasurements, waves: dict[str, tuple[Wave, ...]],
                          beats: tuple[Beat, ...]) -> GlobalMeasurements:
    """P duration, PR and QT (and so QTc) from the neural waves
    (:mod:`models.wave_intervals`), so that P duration and PR share one P onset.

    Only intervals the DSP engine measured are replaced: a PR it could not measure (no P
    waves) stays None; where the waves give no value, the DSP value stays. The QRS
    duration stays the DSP engine's: from the waves it was better on LUDB (tune SD 11.7
    against 15.2 ms, network 1.0.0) but ran 5-15 ms long outside LUDB (network 1.1.0:
    seeded synthetic ECGs of known QRS 96 ms gave 101-110 against DSP 92-94; the Mortara
    sample 100 against the device's 75, DSP 85), and QRS duration drives the bundle-branch
    and IVCD statements.
    """
    import dataclasses

    from ecgread.models.measure import qtc_all
    from ecgread.models.wave_intervals import intervals_from_waves

    new = {k: v for k, v in intervals_from_waves(waves, beats).items()
           if k in WAVE_INTERVALS and v is not None and getattr(m, k) is not None}
    if "qt_ms" in new and m.rr_ms is not None:
        new.update(qtc_all(new["qt_ms"], m.rr_ms))
    return dataclasses.replace(m, **new) if new else m  # type: ignore[arg-type]


def _without_p_waves(analysis: Analysis) -> Analysis:
    """The analysis with no P wave, P measurement or P amplitude, for a second reading.

    When the statements say atrial fibrillation or flutter, what the delineators took for
    P waves are fibrillatory or flutter waves: P waves, PR, P duration and P axis are
    removed (null, with the reason) and the ECG is interpreted again, so that no statement
    rests on a P wave that is not there (e.g. no first-degree AV block in AF) and every
    evidence value is the one reported. The axis those waves had is kept as
    ``rhythm.atrial_wave_axis_deg``, so the AF statement can still cite it.
    """
    import dataclasses

    reason = "atrial fibrillation or flutter: the atrial waves are not P waves"
    m = analysis.measurements
    measurements = dataclasses.replace(
        m, p_ms=None, pr_ms=None, p_axis_deg=None,
        unmeasured={**m.unmeasured, "p_ms": reason, "pr_ms": reason, "p_axis_deg": reason})
    amplitudes = {lead: dataclasses.replace(a, p_uv=None, p_prime_uv=None)
                  for lead, a in analysis.amplitudes.items()}
    waves = {lead: tuple(w for w in ws if w.type != "P") for lead, ws in analysis.waves.items()}
    beats = tuple(dataclasses.replace(b, p_wave=False) for b in analysis.beats)
    rhythm = dataclasses.replace(analysis.rhythm, atrial_wave_axis_deg=m.p_axis_deg)
    return dataclasses.replace(analysis, measurements=measurements, amplitudes=amplitudes,
                               waves=waves, beats=beats, rhythm=rhythm)


def _ai_findings(analysis: Analysis, models: NeuralModels) -> Analysis:
    """Append the findings of every registered classifier (none are shipped by default)."""
    import dataclasses

    from ecgread.models.neural.delineation import ai_findings

    statements, versions = ai_findings(analysis.ecg, models)
    if not statements and not versions:
        return analysis
    return dataclasses.replace(analysis, statements=analysis.statements + statements,
                               versions={**analysis.versions, **versions})


def _interpret(analysis: Analysis) -> Analysis:
    """Add the statements of :func:`models.interpret.interpret` (criteria-based)."""
    import dataclasses

    statements, notes = interpret(analysis)
    return dataclasses.replace(analysis, statements=tuple(statements),
                               notes=analysis.notes + tuple(notes),
                               versions={**analysis.versions, "interpret": INTERPRET_VERSION})

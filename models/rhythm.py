"""Rhythm features for interpretation to cite (:class:`models.results.RhythmFeatures`),
and the decision what the atrial waves are, made once, before interpretation.

Definitions
-----------
- ``rr_intervals_ms``: every interval between consecutive detected QRS fiducials, ms.
- ``rr_irregularity``: normalised RMSSD of those intervals, sqrt(mean(diff(RR)^2)) /
  mean(RR), dimensionless; sinus rhythm is typically < 0.05, atrial fibrillation > 0.1
  (cf. Dash S et al., Ann Biomed Eng 2009;37:1701). None with fewer than 3 intervals.
- ``rr_irregularity_robust``: the same with the intervals around premature beats and
  beats of another QRS morphology left out (:func:`models.rr.rr_irregularity_robust`).
- ``p_wave_ratio``: share of the reference beats (dominant QRS morphology, or "paced" in a
  paced rhythm, not premature by :func:`models.rr.premature_beats`) that carry a P wave
  (multi-lead decision of :func:`models.delineate.delineate`). None without such beats.
- ``p_wave_leads`` / ``p_wave_lead_count``: the rhythm leads (``rhythm_leads``: usable and
  not flagged noisy or saturated) whose median P wave stood out of their own noise floor and
  QRS amplitude (:attr:`Delineation.p_leads`).
- ``p_wave_confidence``: 1 / (1 + (s0 / s)^4) of the record's P coherence s (SNR of the
  lead ranked :func:`models.delineate_core.p_votes_needed`) against the decision level s0
  (``p_presence_snr``): 0.5 at the decision level, 0.94 at twice it, 0.06 at half. A
  monotone score, not a calibrated probability.
- ``pr_intervals_ms``: per beat with a P wave, from the P onset (15th percentile over
  usable leads, i.e. an early onset that one outlier lead cannot set; moved by the beat's
  own P lag where the beat inherited the template's P wave, :mod:`models.p_timing`) to
  the beat's multi-lead QRS onset, ms.
- ``atrial_rate_bpm``: 60000 / median interval between the P peaks (median over leads)
  of consecutive beats that both have a P wave. None with fewer than 2 pairs.
- ``flutter_wave_rate_bpm``, ``atrial_signal_rate_bpm``, ``av_phase_locking``: from the
  signal between ventricular complexes (:func:`models.atrial.atrial_activity`).
- ``p_window_noise_ratio``: the P windows' beat-to-beat scatter over each lead's QRS
  amplitude, median over the leads (:attr:`Delineation.p_noise_ratio`): from
  :data:`P_HIDDEN_NOISE_RATIO` up, a P wave could not have been seen in most leads.
- ``qrs_consistency``: median correlation of the beats' QRS with the dominant template
  (:func:`models.beats.type_beats`); organised ventricular activity gives > 0.8, noise
  that the detector took for beats much less.
- ``atrial_waves``: what the atrial waves are (:func:`atrial_waves`), decided before
  interpretation so that it runs once: "flutter", "fibrillation", "P" or "none". The
  pipeline decides it again with the measured P axis (``models.analysis``).
- ``pacing_spikes_s``: times of detected pacing spikes, s.
"""

from __future__ import annotations

import numpy as np

from ecgread.models.delineate import Delineation
from ecgread.models.delineate_core import nanmedian, p_votes_needed
from ecgread.models.limb_artefact import LIMB_ARTEFACT_PROBLEM
from ecgread.models.order_stats import median_1d, nanpercentile
from ecgread.models.quality import UNTRUSTED
from ecgread.models.results import Quality, RhythmFeatures
from ecgread.models.rr import premature_beats, rr_irregularity_robust
from ecgread.models.rr_irregularity import normalised_rmssd

#: Quality problems that keep a lead out of QRS detection, rhythm decisions and the global
#: intervals (models.quality): the untrusted ones, those that make a lead unusable, and a
#: limb electrode's artefact (its regular oscillation in II, III and aVF read as flutter
#: waves once the chest leads no longer carried it).
NOT_FOR_RHYTHM = UNTRUSTED + ("flat", "lead off", LIMB_ARTEFACT_PROBLEM)
#: The P-wave decision: confidence at least this (the delineator's level), on at least
#: this share of the reference beats, voted by two rhythm leads (one of up to three).
P_CONFIDENCE = 0.5
P_PRESENT_RATIO = 0.5
#: ``p_window_noise_ratio`` from which the absence of P waves in a regular rhythm says
#: nothing: most leads' P windows scatter by 1 % of their QRS amplitude or more from beat to
#: beat (clean LUDB, CPSC and QT Database records: 0.2-0.8 %; under a limb tremor the
#: two-lead QT Database records read junctional rhythm): no junctional rhythm or SVT is
#: then named, the rhythm is undetermined (a wide-complex tachycardia still is VT).
P_HIDDEN_NOISE_RATIO = 0.01
#: RR irregularity (normalised RMSSD) above which the ventricular response is irregular;
#: both the whole-record and the ectopy-excluded measure must exceed it for AF (the level
#: was tuned on LUDB 'tune'; Dash 2009 reports AF above about 0.1).
AF_IRREGULARITY = 0.08
#: AF although P-like waves were found: a markedly irregular rhythm (ectopy excluded)
#: whose 'P waves' keep no fixed relation to the QRS (PR spread, 1.4826 x MAD, ms, of the
#: per-beat PR with each beat's own P timing, :mod:`models.p_timing`). On LUDB 'tune' the
#: spread was at most 4.4 ms in sinus rhythms (8.2 in a wandering atrial pacemaker) and
#: 10.7-29.2 ms in the AF records with P-like waves; 30 ms was the level for per-beat
#: slope-threshold onsets, before template-guided delineation made the PR constant.
AF_IRREGULARITY_WITH_P = 0.15
AF_PR_SPREAD_MS = 10.0
#: A strip with fewer than 3 RR intervals has P waves when their PRs lie within this range
#: of each other and none is longer than the maximum (ms; :func:`_short_strip_p_waves`).
SHORT_STRIP_PR_RANGE_MS = 40.0
SHORT_STRIP_PR_MAX_MS = 250.0
FLUTTER_RATE_BPM = (240.0, 350.0)
#: a fixed ratio: the flutter rate within this share of k x the ventricular rate. 4 %
#: found synthetic flutter at 250/min and 4:1 (read 245/min, 2.1 % off) but called
#: synthetic sinus rhythm at 110/min flutter at 319/min (3.3 % off 3:1): kept at 2 %
FLUTTER_RATIO_TOLERANCE = 0.02
#: Frontal P axis of sinus P waves with a tolerance for measurement error, degrees
#: (0 to +90 deg; Mason 2007 statement 20), as the sinus-rhythm rule reads it.
SINUS_P_AXIS_DEG = (-30.0, 100.0)


def rhythm_leads(quality: Quality, usable: np.ndarray) -> np.ndarray:
    """bool per lead: usable and without a problem in :data:`NOT_FOR_RHYTHM`."""
    ok = np.asarray(usable, bool).copy()
    for i, lq in enumerate(quality.leads[:ok.size]):
        if any(p in NOT_FOR_RHYTHM for p in lq.problems):
            ok[i] = False
    return ok


def p_wave_confidence(coherence: float | None, level: float) -> float | None:
    """The score of the module docstring, in [0, 1]."""
    if coherence is None or not np.isfinite(coherence):
        return None
    if coherence <= 0:
        return 0.0
    return float(1.0 / (1.0 + (level / coherence) ** 4))


#: The PR spread alone decides from this many PR intervals; from 3 or 4 it must agree with
#: the P waves' look (see :func:`atrial_waves`): their median absolute deviation is one odd
#: beat away from anything (the 2.5-5 s crops of LUDB's sinus rhythms with a premature beat
#: read AF at spreads of 10-128 ms from 3-4 PRs, their P waves upright in II at a sinus
#: axis).
MIN_PRS_FOR_SPREAD = 5


def pr_spread_ms(pr_intervals_ms: tuple[float, ...]) -> float | None:
    """1.4826 x median absolute deviation of the PR intervals, ms (None with < 3)."""
    pr = np.asarray(pr_intervals_ms, float)
    if pr.size < 3:
        return None
    return float(1.4826 * median_1d(np.abs(pr - median_1d(pr))))


def flutter_conducted(f: RhythmFeatures) -> bool:
    """Flutter waves at 240-350 /min whose ventricular response fits flutter: variable
    conduction (irregular RR) or a fixed ratio of 3:1 or more (the flutter rate within
    :data:`FLUTTER_RATIO_TOLERANCE` of an integer multiple of the ventricular rate). A
    regular rhythm at a non-integer ratio is a sinus or atrial rhythm whose P and T waves
    happened to repeat at a flutter-like lag; a regular one at 2:1 (or 1:1) is not taken
    either: in any regular tachycardia of 120-175/min the T and P waves alternate at half
    the RR, so the period alone cannot tell 2:1 flutter from sinus or atrial tachycardia
    (synthetic sinus tachycardia at 155-170/min read flutter at twice its rate). Fixed 2:1
    flutter then reads as the tachycardia it looks like; telling it apart needs the
    waves' shape, not their period."""
    fr = f.flutter_wave_rate_bpm
    if fr is None or not FLUTTER_RATE_BPM[0] <= fr <= FLUTTER_RATE_BPM[1]:
        return False
    if not f.rr_intervals_ms or f.rr_irregularity is None:
        return False
    if f.rr_irregularity > AF_IRREGULARITY:
        return True
    ratio = fr / (60000.0 / median_1d(f.rr_intervals_ms))
    k = round(ratio)
    return k >= 3 and abs(ratio - k) <= FLUTTER_RATIO_TOLERANCE * k


def atrial_waves(f: RhythmFeatures, p_axis_deg: float | None = None,
                 p_ii_uv: float | None = None) -> str | None:
    """What the atrial waves are, from the features alone (None: too few beats).

    - "flutter": regular atrial activity at 240-350 /min (:mod:`models.atrial`) with a
      ventricular response that fits it (:func:`flutter_conducted`), unless the response
      is regular and consistent P waves with a sinus axis stand before it (without an
      axis, as from lead II alone, upright in II: ``p_ii_uv`` > 0).
    - "fibrillation": an irregularly irregular ventricular response (``rr_irregularity``
      and ``rr_irregularity_robust`` above :data:`AF_IRREGULARITY`) without consistent P
      waves across leads; or, with P-like waves, a markedly irregular response
      (``rr_irregularity`` above :data:`AF_IRREGULARITY_WITH_P`, the robust measure above
      :data:`AF_IRREGULARITY` or not measurable) whose 'P waves' keep no fixed PR (PR
      spread above :data:`AF_PR_SPREAD_MS` over :data:`MIN_PRS_FOR_SPREAD` PRs or more;
      over 3 or 4, only where the waves do not look like sinus P waves as well: no sinus
      axis, ``p_axis_deg`` outside :data:`SINUS_P_AXIS_DEG` or not measurable, or not
      upright in II, ``p_ii_uv``; with fewer, that look alone decides): fibrillatory
      waves that the P detector took for P waves (tuned on LUDB 'tune': the AF records
      with P-like waves spread 13.8-47 ms, the sinus ones at most 8.2). Sinus rhythm
      with frequent premature beats keeps a sinus P axis and a regular rhythm once the
      premature beats are set aside.
      2023 ACC/AHA/ACCP/HRS AF guideline (Joglar JA et al. Circulation 2024;149:e1):
      irregularly irregular RR without discrete P waves.
    - "P": consistent P waves (confidence >= :data:`P_CONFIDENCE`, voted by two rhythm
      leads, one of up to three,
      on >= :data:`P_PRESENT_RATIO` of the reference beats).
    - "none": neither (junctional, ventricular or undetermined rhythms; with P windows too
      noisy for a P wave to show, :data:`P_HIDDEN_NOISE_RATIO`, the interpretation names
      no narrow-complex rhythm without P waves).
    """
    p = (f.p_wave_ratio is not None and f.p_wave_ratio >= P_PRESENT_RATIO
         and (f.p_wave_confidence or 0.0) >= P_CONFIDENCE and f.p_wave_lead_count >= 1)
    regular = f.rr_irregularity is not None and f.rr_irregularity <= AF_IRREGULARITY
    # without an axis, or when lead II alone shows the P waves (the other limb leads too
    # noisy for the axis to mean anything: a limb tremor), an upright P wave in II
    ii_only = f.p_wave_leads == ("II",)
    sinus_axis = (SINUS_P_AXIS_DEG[0] <= p_axis_deg <= SINUS_P_AXIS_DEG[1]
                  if p_axis_deg is not None and not ii_only
                  else p_ii_uv is not None and p_ii_uv > 0)
    # a regular response at a fixed ratio with consistent P waves of sinus axis is a sinus
    # rhythm whose P and T waves repeat at a third of the RR (synthetic sinus rhythm at
    # 110/min from leads I and II read flutter at 319/min, from II alone at 323-345/min);
    # typical flutter waves are negative in the inferior leads, a superior axis
    if flutter_conducted(f) and not (regular and p and sinus_axis):
        return "flutter"
    if f.p_wave_ratio is None:
        return None
    if f.rr_irregularity is None:
        return "P" if p and _short_strip_p_waves(f, sinus_axis, p_axis_deg, p_ii_uv) else None
    robust = f.rr_irregularity_robust
    irregular = f.rr_irregularity > AF_IRREGULARITY and (robust is None
                                                         or robust > AF_IRREGULARITY)
    if not p:
        return "fibrillation" if irregular else "none"
    spread = pr_spread_ms(f.pr_intervals_ms)
    marked = f.rr_irregularity > AF_IRREGULARITY_WITH_P and (robust is None
                                                              or robust > AF_IRREGULARITY)
    axis_ok = (None if p_axis_deg is None
               else SINUS_P_AXIS_DEG[0] <= p_axis_deg <= SINUS_P_AXIS_DEG[1])
    # the PR spread decides where it is measurable: P waves at one PR on every beat are
    # conducted P waves whatever the axis of the median P wave (the median beat of sinus
    # arrhythmia smears the previous T waves into its P window; LUDB 31 with its
    # diastoles modulated by +-20 % of the RR read a P axis of -167 deg, and AF, at a PR
    # spread of 1.4 ms). From 3 or 4 PRs the spread must agree with the P waves' look: a
    # sinus axis and upright in II (where II has one) say P waves; with fewer, the look
    # alone decides
    looks_sinus = axis_ok is True and (p_ii_uv is None or p_ii_uv > 0)
    if spread is not None and len(f.pr_intervals_ms) >= MIN_PRS_FOR_SPREAD:
        not_sinus = spread > AF_PR_SPREAD_MS
    elif spread is not None:
        not_sinus = spread > AF_PR_SPREAD_MS and not looks_sinus
    else:
        not_sinus = not looks_sinus
    return "fibrillation" if marked and not_sinus else "P"


def _short_strip_p_waves(f: RhythmFeatures, sinus_axis: bool, p_axis_deg: float | None,
                         p_ii_uv: float | None) -> bool:
    """Whether the P waves of a strip too short for the RR irregularity (fewer than 3 RR
    intervals: 2.5 s, as printed in the 4 x 2.5 s format, holds 2-3 beats) are P waves: a
    PR on at least two beats, all within :data:`SHORT_STRIP_PR_RANGE_MS` of each other and
    at most :data:`SHORT_STRIP_PR_MAX_MS`, and a sinus axis (upright in II) where the limb
    leads show one. Fibrillatory waves taken for P waves fall at any PR: on synthetic AF
    strips of 2.5-3 s they stood at the P window's far edge (PR 263-300 ms) on every beat."""
    pr = f.pr_intervals_ms
    if (len(pr) < 2 or max(pr) - min(pr) > SHORT_STRIP_PR_RANGE_MS
            or max(pr) > SHORT_STRIP_PR_MAX_MS):
        return False
    no_axis = p_axis_deg is None and p_ii_uv is None  # no limb leads (a two-lead Holter)
    return sinus_axis or no_axis


def rhythm_features(r_samples: np.ndarray, dominant: np.ndarray, dl: Delineation,
                    usable: np.ndarray, pacing_spikes: np.ndarray,
                    sampling_rate_hz: float, *, pt_smooth_uv: np.ndarray | None = None,
                    lead_names: tuple[str, ...] = (), quality: Quality | None = None,
                    beat_correlation: np.ndarray | None = None,
                    after_gap: np.ndarray | None = None) -> RhythmFeatures:
    """Summarise the rhythm of one record (see the module docstring for definitions).

    ``pt_smooth_uv`` (the 15 Hz low-passed conditioned signal), ``lead_names`` and
    ``quality`` enable the flutter and AV-dissociation analysis and the per-lead P votes;
    ``beat_correlation`` (per beat, with the dominant template) gives ``qrs_consistency``;
    ``after_gap`` (per beat: the RR interval ending there spans a gap in the recording)
    leaves those intervals out of the RR intervals and their irregularity.
    """
    import dataclasses

    from ecgread.models.atrial import atrial_activity

    fs = float(sampling_rate_hz)
    r = np.asarray(r_samples)
    gap = (np.asarray(after_gap, bool) if after_gap is not None
           else np.zeros(r.size, dtype=bool))
    rr = (np.diff(r) / fs * 1000.0)[~gap[1:]] if r.size else np.zeros(0)
    irr = normalised_rmssd(rr)
    dom = np.asarray(dominant, dtype=bool)
    ref = dom & ~premature_beats(r.astype(float)) if r.size else dom
    if dom.any() and not ref.any():
        ref = dom
    has_p = np.asarray(dl.p_present, bool) & np.isfinite(dl.get("P", "onset")[usable]).any(0) \
        if r.size else np.zeros(0, bool)
    ratio = float(has_p[ref].mean()) if ref.any() else None
    pr: tuple[float, ...] = ()
    atrial = None
    if has_p.any():
        p_on = dl.get("P", "onset")[usable][:, has_p]
        with np.errstate(all="ignore"):
            early = nanpercentile(p_on.T, 15)  # over the leads (np.nanpercentile, axis 0)
        lag = np.nan_to_num(dl.p_lag[has_p]) if dl.p_lag is not None else 0.0
        prs = (dl.qrs_onset_global[has_p] - (early + lag)) / fs * 1000.0
        pr = tuple(float(v) for v in prs if np.isfinite(v))
        pk = nanmedian(dl.get("P", "peak")[usable][:, has_p], axis=0)
        idx = np.flatnonzero(has_p)
        pairs = np.diff(idx) == 1
        if pairs.sum() >= 2:
            pp = np.diff(pk)[pairs] / fs
            atrial = float(60.0 / np.median(pp))
    good = (rhythm_leads(quality, usable) if quality is not None
            else np.asarray(usable, bool))
    votes = (np.asarray(dl.p_leads, bool) & good if dl.p_leads is not None
             else np.zeros(good.size, bool))
    names = lead_names or tuple(str(i) for i in range(good.size))
    p_leads = tuple(names[i] for i in np.flatnonzero(votes))
    conf = p_wave_confidence(dl.p_coherence, dl.config.p_presence_snr)
    # one vote was enough for the delineator only as a lone clear P wave among noisy leads
    # (models.delineate_core._p_presence); it stands when that lead is a good one
    lone = (dl.p_leads is not None and int(np.sum(dl.p_leads)) == 1
            and bool(np.any(dl.p_present)))
    needed = 1 if lone else p_votes_needed(int(good.sum()))
    if dl.p_leads is not None and votes.sum() < needed:
        conf = min(conf, 0.0) if conf is not None else None  # the votes came from bad leads
    feats = RhythmFeatures(
        rr_intervals_ms=tuple(float(v) for v in rr), rr_irregularity=irr,
        p_wave_ratio=ratio, pr_intervals_ms=pr, atrial_rate_bpm=atrial,
        flutter_wave_rate_bpm=None,
        pacing_spikes_s=tuple(float(s) / fs for s in pacing_spikes),
        rr_irregularity_robust=(rr_irregularity_robust(r.astype(float), ~dom, gap)
                                if r.size else None),
        p_wave_confidence=conf, p_wave_leads=p_leads, p_wave_lead_count=len(p_leads),
        p_window_noise_ratio=dl.p_noise_ratio,
        qrs_consistency=(median_1d(beat_correlation)
                         if beat_correlation is not None and len(beat_correlation) else None))
    if pt_smooth_uv is not None and lead_names and r.size >= 3:
        act = atrial_activity(pt_smooth_uv, fs, lead_names, good, r, dl.qrs_onset_global,
                              dl.qrs_offset_global,
                              irregular=irr is not None and irr > AF_IRREGULARITY)
        feats = dataclasses.replace(feats, flutter_wave_rate_bpm=act.flutter_wave_rate_bpm,
                                    atrial_signal_rate_bpm=act.atrial_rate_bpm,
                                    av_phase_locking=act.av_phase_locking,
                                    flutter_leads=act.flutter_leads,
                                    flutter_common_mode=act.flutter_common_mode)
    return dataclasses.replace(feats, atrial_waves=atrial_waves(feats))

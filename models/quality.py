"""Per-lead signal quality: lead off / flat, saturation, heavy noise, baseline wander.

Each lead gets a :class:`models.results.LeadQuality`; a lead with a problem that
makes it unreadable (flat, off, saturated for long, noise above the unusable ratio) is
marked ``usable=False`` and every later stage leaves it out. The limb-lead reversal
check needs the representative beat and lives in :func:`models.measure.measure`.

Definitions (all on the conditioned signal unless said otherwise):

- *range*: 0.5th to 99.5th percentile span of the 40 Hz low-passed signal, µV.
- *flat*: range below ``flat_range_uv`` (lead off, disconnected or zeroed).
- *lead off*: more than ``missing_fraction`` of the samples are NaN (padding, dropped).
- *saturated*: share of raw samples pinned within 0.1 % of range at the raw extremes
  above ``saturation_fraction`` (clipped amplifier); unusable at 5 x that share.
- *heavy noise*: high-frequency residual (signal minus its 40 Hz low-pass), robust RMS
  (1.4826 x MAD), over range above ``noise_ratio_noisy``; unusable above
  ``noise_ratio_unusable``.
- *baseline wander*: peak-to-peak of what the 0.67 Hz high-pass removed (mean removed)
  above ``wander_uv``; the filter handles it, so the lead stays usable.

The record is usable when at least one usable lead is free of heavy noise and saturation
(:data:`UNTRUSTED`): when every lead is noisy (full-scale random noise gives noise ratios
of 0.17-0.32 in every lead, some under ``noise_ratio_unusable``, where LUDB's leads stay
below 0.02) or clipped, no lead can be trusted to show the ECG and the read is
"technically limited", not a diagnosis.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from ecgread.models.conditioning import Conditioned
from ecgread.models.dsp_config import QualityConfig
from ecgread.models.order_stats import median, percentile
from ecgread.models.results import LeadQuality, Quality

#: Problems that leave a lead usable but not trusted to show the ECG alone: a record needs
#: one usable lead without them. Clipped QRS peaks in every lead (fuzzed copies clipped at
#: 35 % of each lead's peak) read atrial fibrillation (LUDB 148, 156) or a doubled rate.
UNTRUSTED = ("heavy noise", "saturated")


@dataclass(frozen=True, eq=False)
class QualityAssessment:
    quality: Quality
    usable: np.ndarray  # bool per lead
    noise_uv: np.ndarray  # robust HF noise RMS per lead, µV
    range_uv: np.ndarray  # robust signal range per lead, µV
    method: str = "thresholds-v1"
    config: QualityConfig = field(default_factory=QualityConfig)


def assess_quality(raw_uv: np.ndarray, cond: Conditioned, lead_names: tuple[str, ...],
                   config: QualityConfig | None = None, derived: Collection[str] = (),
                   derived_from: Collection[str] = ()) -> QualityAssessment:
    """Grade each lead and the record.

    Parameters
    ----------
    raw_uv:
        The unfiltered (leads, samples) µV signal at the rate it was recorded (before any
        interpolation, whose ringing hides a clipped amplifier's pinned samples), NaN =
        padding.
    cond:
        Its :func:`models.conditioning.condition` output.
    lead_names:
        One name per row.
    derived, derived_from:
        The leads computed from two others, and those two
        (:func:`models.ecg.with_derived_limb_leads`): each derived lead also carries the
        problems of the two and is usable only where both are (a flat lead I would otherwise
        make aVL a copy of -II/2 that looks clean).

    Returns
    -------
    QualityAssessment
        ``quality`` for the contract (problems name the lead and say when it is
        excluded) and the per-lead ``usable`` mask the later stages use.
    """
    cfg = config or QualityConfig()
    raw = np.asarray(raw_uv, dtype=np.float64)
    n_leads = raw.shape[0]
    missing = 1.0 - cond.valid.mean(axis=1)
    lo, hi = percentile(cond.qrs_smooth_uv, [0.5, 99.5])
    rng = hi - lo
    step = max(1, int(cond.sampling_rate_hz // 250))  # robust noise stats on a subsample
    resid = (cond.signal_uv - cond.qrs_smooth_uv)[:, ::step]
    mad = median(np.abs(resid - median(resid, keepdims=True)))
    noise = 1.4826 * mad
    base = cond.baseline_uv - cond.baseline_uv.mean(axis=1, keepdims=True)
    wander = np.ptp(base, axis=1)
    usable = np.ones(n_leads, dtype=bool)
    lead_probs: list[list[str]] = []
    for i in range(n_leads):
        probs: list[str] = []
        ok = True
        x = raw[i][np.isfinite(raw[i])]
        if missing[i] > cfg.missing_fraction or x.size == 0:
            probs.append("lead off")
            ok = False
        elif rng[i] < cfg.flat_range_uv:
            probs.append("flat")
            ok = False
        else:
            span = float(x.max() - x.min())
            tol = 1e-3 * span
            pinned = float(np.mean((x >= x.max() - tol) | (x <= x.min() + tol)))
            if pinned > cfg.saturation_fraction:
                probs.append("saturated")
                ok = ok and pinned <= 5 * cfg.saturation_fraction
            ratio = noise[i] / rng[i]
            if ratio > cfg.noise_ratio_noisy:
                probs.append("heavy noise")
                ok = ok and ratio <= cfg.noise_ratio_unusable
            if wander[i] > cfg.wander_uv:
                probs.append("baseline wander")
        usable[i] = ok
        lead_probs.append(probs)
    sources = [lead_names.index(n) for n in derived_from if n in lead_names]
    for i, name in enumerate(lead_names):
        if name in derived:
            usable[i] = usable[i] and all(usable[j] for j in sources)
            for p in (p for j in sources for p in lead_probs[j]):
                if p not in lead_probs[i]:
                    lead_probs[i].append(p)
    leads: list[LeadQuality] = []
    problems_all: list[str] = []
    for i, probs in enumerate(lead_probs):
        leads.append(LeadQuality(lead=lead_names[i], usable=bool(usable[i]),
                                 problems=tuple(probs)))
        if probs:
            suffix = "" if usable[i] else " (excluded)"
            problems_all.append(f"{lead_names[i]}: {', '.join(probs)}{suffix}")
    clean = usable & ~np.array([any(p in UNTRUSTED for p in lq.problems) for lq in leads],
                               dtype=bool)
    if not usable.any():
        problems_all.append("no usable lead")
    elif not clean.any():
        problems_all.append("heavy noise or saturation in every lead")
    q = Quality(usable=bool(clean.any()), problems=tuple(problems_all), leads=tuple(leads))
    return QualityAssessment(quality=q, usable=usable, noise_uv=noise, range_uv=rng, config=cfg)

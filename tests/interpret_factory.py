"""Build an :class:`Analysis` by hand from given measurements, amplitudes and rhythm.

For the unit tests of the criteria engine: beats are placed at a fixed RR (or given RRs),
each with P, QRS and T waves in every lead, so evidence spans have waves to point at.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecgread.models.analysis import Analysis
from ecgread.models.ecg import STANDARD_LEADS, Acquisition, Ecg
from ecgread.models.results import (
    Beat,
    GlobalMeasurements,
    LeadAmplitudes,
    LeadQuality,
    Quality,
    RhythmFeatures,
    Wave,
)
from ecgread.models.rhythm import atrial_waves
from ecgread.models.rr import rr_irregularity_robust

NORMAL_AMPS: dict[str, dict[str, float | None]] = {
    "I": {"p_uv": 80, "r_uv": 700, "s_uv": -100, "t_uv": 200},
    "II": {"p_uv": 120, "r_uv": 1000, "s_uv": -100, "t_uv": 300},
    "III": {"p_uv": 50, "r_uv": 400, "s_uv": -200, "t_uv": 100},
    "aVR": {"p_uv": -100, "r_uv": 100, "s_uv": -800, "t_uv": -250},
    "aVL": {"p_uv": 30, "r_uv": 300, "s_uv": -200, "t_uv": 80},
    "aVF": {"p_uv": 90, "r_uv": 700, "s_uv": -100, "t_uv": 200},
    "V1": {"p_uv": 50, "r_uv": 200, "s_uv": -900, "t_uv": -50, "qrs_area_uv_ms": -20000,
           "r_peak_time_ms": 20},
    "V2": {"p_uv": 60, "r_uv": 400, "s_uv": -1200, "t_uv": 500},
    "V3": {"p_uv": 60, "r_uv": 700, "s_uv": -800, "t_uv": 500},
    "V4": {"p_uv": 60, "r_uv": 1200, "s_uv": -400, "t_uv": 400},
    "V5": {"p_uv": 60, "r_uv": 1300, "s_uv": -200, "q_uv": -80, "t_uv": 300,
           "r_peak_time_ms": 40},
    "V6": {"p_uv": 60, "r_uv": 1000, "s_uv": -100, "q_uv": -60, "t_uv": 250,
           "r_peak_time_ms": 40},
}
NORMAL_MEAS: dict[str, float | None] = {
    "heart_rate_bpm": 72.0, "rr_ms": 833.3, "p_ms": 100.0, "pr_ms": 160.0, "qrs_ms": 90.0,
    "qt_ms": 380.0, "qtc_bazett_ms": 416.0, "qtc_fridericia_ms": 404.0,
    "qtc_framingham_ms": 406.0, "qtc_hodges_ms": 401.0, "p_axis_deg": 50.0,
    "qrs_axis_deg": 45.0, "t_axis_deg": 40.0,
}


def make_analysis(meas: dict[str, Any] | None = None,
                  amps: dict[str, dict[str, Any]] | None = None,
                  rhythm: dict[str, Any] | None = None, *, rr_ms: list[float] | None = None,
                  kinds: list[str] | None = None, paced: list[bool] | None = None,
                  sex: str | None = "M", age: float | None = 55.0, usable: bool = True,
                  duration_s: float = 10.0, p_waves: bool = True,
                  quality_problems: tuple[str, ...] = (), spikes_s: tuple[float, ...] = (),
                  qt_s: float = 0.38, qrs_s: float = 0.09) -> Analysis:
    """An analysis of a 12-lead, 500 Hz record of ``duration_s`` with the given values.

    ``meas`` and ``amps`` update the normal defaults (None removes a value); ``rr_ms`` sets
    the RR sequence (default: constant from ``meas['rr_ms']``); ``rhythm`` updates the
    :class:`RhythmFeatures` derived from the beats (rr intervals, irregularity, P ratio);
    ``qrs_s`` is the duration of every lead's QRS waves.
    """
    m = {**NORMAL_MEAS, **(meas or {})}
    if rr_ms is None:
        rr = m["rr_ms"] or 833.3
        n = max(2, int((duration_s - 0.6) / (rr / 1000.0)))
        rr_ms = [rr] * n
    r_s = list(np.cumsum([0.4] + [x / 1000.0 for x in rr_ms]))
    r_s = [t for t in r_s if t < duration_s - 0.45]
    kinds = kinds or ["dominant"] * len(r_s)
    paced = paced or [False] * len(r_s)
    # not strict: ``kinds`` and ``paced`` may describe beats that fall past the record end
    # (dropped from r_s above)
    beats = tuple(Beat(r_s=float(t), kind=k, paced=p, p_wave=p_waves)  # type: ignore[arg-type]
                  for t, k, p in zip(r_s, kinds, paced, strict=False))
    waves: dict[str, tuple[Wave, ...]] = {}
    for lead in STANDARD_LEADS:
        ws = []
        for t in r_s:
            if p_waves:
                ws.append(Wave("P", t - 0.2, t - 0.15, t - 0.1))
            ws.append(Wave("QRS", t - 0.04, t, t - 0.04 + qrs_s))
            ws.append(Wave("T", t + 0.2, t + qt_s - 0.1, t + qt_s - 0.04))
        waves[lead] = tuple(w for w in ws if 0 <= w.onset_s and w.offset_s <= duration_s)
    lead_amps = {}
    for lead in STANDARD_LEADS:
        base = dict(NORMAL_AMPS[lead])
        base.setdefault("j_uv", 0.0)
        base.setdefault("st_j60_uv", 0.0)
        base.setdefault("j_beat_se_uv", 5.0)  # ST level measured (values.st_measurable)
        base.setdefault("qrs_area_uv_ms", 10000.0)
        base.update((amps or {}).get(lead, {}))
        lead_amps[lead] = LeadAmplitudes(**base)
    rr_arr = np.diff(r_s) * 1000.0
    irr = (float(np.sqrt(np.mean(np.diff(rr_arr) ** 2)) / np.mean(rr_arr))
           if rr_arr.size >= 3 else None)
    rf: dict[str, Any] = {"rr_intervals_ms": tuple(float(x) for x in rr_arr),
                          "rr_irregularity": irr, "p_wave_ratio": 1.0 if p_waves else 0.0,
                          "pr_intervals_ms": (160.0,) * len(r_s) if p_waves else (),
                          "pacing_spikes_s": spikes_s,
                          "p_wave_confidence": 1.0 if p_waves else 0.0,
                          "p_wave_lead_count": 12 if p_waves else 0,
                          "p_wave_leads": STANDARD_LEADS if p_waves else (),
                          "qrs_consistency": 0.99}
    other = np.array([b.kind not in ("dominant", "paced") for b in beats])
    rf["rr_irregularity_robust"] = rr_irregularity_robust(np.asarray(r_s), other)
    rf.update(rhythm or {})
    if "atrial_waves" not in (rhythm or {}):  # decided before interpretation, as analyze does
        rf["atrial_waves"] = atrial_waves(RhythmFeatures(**rf), m.get("p_axis_deg"))
    gm = GlobalMeasurements(**{k: v for k, v in m.items()})
    n_samples = int(duration_s * 500)
    ecg = Ecg(np.zeros((12, n_samples), np.float32), 500.0, STANDARD_LEADS,
              Acquisition(patient_sex=sex, patient_age_years=age), source="hand-built")
    quality = Quality(usable, quality_problems if usable else ("flat",) + quality_problems,
                      tuple(LeadQuality(ld, usable) for ld in STANDARD_LEADS))
    return Analysis(ecg=ecg, quality=quality, waves=waves, beats=beats, measurements=gm,
                    amplitudes=lead_amps, rhythm=RhythmFeatures(**rf), statements=(),
                    versions={})

"""A stored read turned back into the core's types: the inverse of
``Analysis.to_json_dict`` for what the reports and the serial comparison use
(measurements, statements with their evidence, waves, quality, notes, versions)."""

from __future__ import annotations

from typing import Any

from ecgread.models.analysis_result import Analysis
from ecgread.models.catalogue import MEASUREMENT_NAMES
from ecgread.models.ecg import Ecg, with_derived_limb_leads
from ecgread.models.results import (
    Evidence,
    GlobalMeasurements,
    LeadQuality,
    Quality,
    RhythmFeatures,
    Statement,
    Wave,
)

__all__ = ["statement_from_json", "stored_analysis"]


def stored_analysis(ecg: Ecg, result: dict[str, Any]) -> Analysis:
    """The :class:`Analysis` of a stored read: ``ecg`` as decoded, ``result`` its analyze
    JSON. Beats, per-lead amplitudes and rhythm features are not stored and stay empty.
    The limb leads the read derived are derived again."""
    derived = tuple(result.get("derived_leads", ()))
    if derived:
        ecg, _, _ = with_derived_limb_leads(ecg)
    m = result.get("measurements", {})
    measurements = GlobalMeasurements(
        **{k: (None if m.get(k) is None else float(m[k])) for k in MEASUREMENT_NAMES},
        unmeasured=dict(result.get("unmeasured", {})))
    q = result.get("quality", {})
    quality = Quality(usable=bool(q.get("usable", True)), problems=tuple(q.get("problems", ())),
                      leads=tuple(LeadQuality(lead, True, tuple(p))
                                  for lead, p in q.get("leads", {}).items()))
    waves = {lead: tuple(Wave(w["type"], w["onset_s"], w["peak_s"], w["offset_s"]) for w in ws)
             for lead, ws in result.get("waves", {}).items()}
    return Analysis(ecg=ecg, quality=quality, waves=waves, beats=(), measurements=measurements,
                    amplitudes={}, rhythm=RhythmFeatures(),
                    statements=tuple(statement_from_json(s) for s in result.get("statements", ())),
                    versions=dict(result.get("versions", {})),
                    notes=tuple(result.get("notes", ())), derived_leads=derived)


def statement_from_json(s: dict[str, Any]) -> Statement:
    """The inverse of ``Statement.to_json_dict``."""
    return Statement(
        code=s["code"], text=s["text"], category=s.get("category", ""),
        certainty=s.get("certainty", "definite"), critical=bool(s.get("critical", False)),
        source=s.get("source", ""), probability=s.get("probability"),
        evidence=tuple(Evidence(e["measurement"], e.get("value"), e.get("criterion", ""),
                                tuple(e.get("leads", ())),
                                tuple((float(a), float(b)) for a, b in e.get("spans_s", ())))
                       for e in s.get("evidence", ())))

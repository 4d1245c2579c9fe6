"""The plain human-readable form of an analysis (``ecgread analyze`` without ``--json``).

Measurement labels and units come from the catalogue (:mod:`models.catalogue`).
"""

from __future__ import annotations

from ecgread.models.analysis import Analysis
from ecgread.models.catalogue import CATALOGUE


def describe(analysis: Analysis) -> str:
    m = analysis.measurements
    lines = [f"{analysis.ecg.source}  ({len(analysis.ecg.lead_names)} leads, "
             f"{analysis.ecg.sampling_rate_hz:g} Hz, {analysis.ecg.duration_s:.1f} s)"]
    if not analysis.quality.usable or analysis.quality.problems:
        problems = analysis.quality.problems
        lines.append("  quality: " + ("usable" if analysis.quality.usable else "NOT usable")
                     + ("; " + "; ".join(problems) if problems else ""))
    for entry in CATALOGUE:
        value, label = getattr(m, entry.name), entry.short_label
        if value is None:
            reason = m.unmeasured.get(entry.name, "")
            lines.append(f"  {label:<16} unable to measure" + (f" ({reason})" if reason else ""))
        else:
            lines.append(f"  {label:<16} {value:6.0f} {entry.unit.symbol}")
    lines.append("  Statements:")
    for s in analysis.statements:
        flag = "CRITICAL " if s.critical else ""
        certainty = "" if s.certainty == "definite" else f"{s.certainty} "
        lines.append(f"    {flag}{certainty}{s.text} [{s.code}]")
        for e in s.evidence:
            where = f" in {', '.join(e.leads)}" if e.leads else ""
            value = f"{e.value:.4g}" if isinstance(e.value, float) else e.value
            lines.append(f"      - {e.measurement} = {value} ({e.criterion}){where}")
    for note in analysis.notes:
        lines.append(f"  note: {note}")
    lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in analysis.versions.items()))
    return "\n".join(lines)

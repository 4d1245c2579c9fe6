"""What the pages show, as plain dicts built from the audit database and the stored ECG
(the templates only lay them out), and the signing form turned into a signature."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlmodel import col, select

from ecgread.audit import queries
from ecgread.audit.db import session_scope
from ecgread.audit.tables import EcgRead, EcgRecord, Hl7Order, ReadReview
from ecgread.config.settings import Settings
from ecgread.models.catalogue import CATALOGUE
from ecgread.models.interpret.library import LIBRARY
from ecgread.models.results import Statement
from ecgread.models.serial import SerialConfig
from ecgread.workers.review import (
    Override,
    ReviewError,
    Signed,
    free_text_statement,
    library_statement,
    sign_read,
)
from ecgread.workers.stored_read import statement_from_json, stored_analysis

_STATUS_TEXT = {"P": "Automatic read, not confirmed", "F": "Confirmed", "C": "Corrected"}
#: Library statements a physician may add (the overall/technical ones included).
_ADDABLE = tuple(sorted(LIBRARY.values(), key=lambda e: (e.category, e.text)))


def statement_texts() -> dict[str, str]:
    return {code: e.text for code, e in LIBRARY.items()}


def _display_name(order: Hl7Order | None) -> str:
    if order is None or not order.patient_name:
        return ""
    parts = [p.strip() for p in order.patient_name.split("^")]
    return ", ".join(p for p in (parts[0], " ".join(parts[1:3]).strip()) if p)


def worklist_item(read: EcgRead, record: EcgRecord, order: Hl7Order | None) -> dict[str, Any]:
    result = json.loads(read.result_json or "{}")
    return {
        "read_id": read.id, "patient_id": record.patient_id or "",
        "patient_name": _display_name(order),
        "acquired": record.acquisition_time or record.received_at,
        "critical": read.critical,
        "priority": "critical" if read.critical else "routine",
        "statements": [s.get("text", "").replace(" -> ", " → ")
                       for s in result.get("statements", [])],
        "accession": record.accession_number or "",
    }


def _current(session: Any, read_id: int) -> ReadReview | None:
    return session.exec(select(ReadReview).where(ReadReview.read_id == read_id)
                        .order_by(col(ReadReview.id).desc())).first()


def _normal_text(entry: Any, sex: str | None) -> str:
    """The catalogue's normal range for ``sex`` as printed: "120–200", "-30 to 90",
    "≤ 120", or ""."""
    normal = entry.normal_range(sex)
    if normal is None:
        return ""
    if normal.low is not None and normal.high is not None:
        low, high = normal.low.threshold, normal.high.threshold
        return f"{low:g} to {high:g}" if low < 0 else f"{low:g}–{high:g}"
    one = normal.low or normal.high
    return one.within.replace("<=", "≤").replace(">=", "≥")


#: The web view's words for the catalogue's abnormal flags (HL7 Table 0078).
_FLAG_WORDS = {"LL": "critical", "HH": "critical", "L": "low", "H": "high"}


def _flag(entry: Any, value: float | None, sex: str | None) -> str:
    """"critical", "high", "low" or "" for a value against the catalogue's limits."""
    return "" if value is None else _FLAG_WORDS.get(entry.flag(value, sex), "")


def _serial_rows(serial: dict[str, Any]) -> list[dict[str, Any]]:
    """The compared measurements of the ``serial`` JSON: label, unit, prior, now, changed."""
    from ecgread.reporting.pdf import format_value

    thresholds = {"heart_rate_bpm": "rate_change_bpm", "pr_ms": "pr_change_ms",
                  "qrs_ms": "qrs_change_ms", "qtc_fridericia_ms": "qtc_change_ms"}
    config = SerialConfig()  # the read job compares with the defaults
    by_name = {m.name: m for m in CATALOGUE}
    rows = []
    for name, (before, now) in serial.get("measurements", {}).items():
        entry = by_name.get(name)
        unit = entry.unit.symbol if entry else ""
        limit = getattr(config, thresholds[name]) if name in thresholds else None
        changed = (before is not None and now is not None and limit is not None
                   and abs(float(now) - float(before)) > limit)
        rows.append({"label": entry.label if entry else name, "unit": unit,
                     "prior": format_value(before, unit), "now": format_value(now, unit),
                     "changed": changed})
    return rows


def ecg_view(settings: Settings, read_id: int) -> dict[str, Any] | None:
    """Everything the ECG page shows, or None when there is no such successful read."""
    from ecgread.integration.dicom_decode import decode_file
    from ecgread.reporting.context import report_context
    from ecgread.reporting.pdf import evidence_view, header_view, measurement_rows
    from ecgread.reporting.tracing import TracingLayout, tracing_svg

    with session_scope(settings.audit_url) as s:
        read = s.get(EcgRead, read_id)
        if read is None or read.status != "ok" or not read.result_json:
            return None
        record = s.get(EcgRecord, read.ecg_id)
        assert record is not None
        order = s.get(Hl7Order, record.order_id) if record.order_id else None
        reviews = queries.reviews(s, read_id=read_id)
        for row in (read, record, order, *reviews):
            if row is not None:
                s.expunge(row)
    result = json.loads(read.result_json)
    ecg = decode_file(record.path, max_samples=settings.max_samples)
    automatic = stored_analysis(ecg, result)
    latest = reviews[-1] if reviews else None
    current: tuple[Statement, ...] = (
        tuple(statement_from_json(x) for x in json.loads(latest.statements_json))
        if latest else automatic.statements)
    overrides = json.loads(latest.overrides_json) if latest else {}
    shown = dataclasses.replace(automatic, statements=current)
    rows = measurement_rows(automatic)
    header = header_view(report_context(ecg, order))
    sex = ecg.acquisition.patient_sex or (order.patient_sex if order else None)
    entries = {m.name: m for m in CATALOGUE}
    measurements = [{"name": r.name, "label": r.label, "value": r.value, "unit": r.unit,
                     "reason": r.reason, "ucum": entries[r.name].unit.ucum,
                     "normal": _normal_text(entries[r.name], sex),
                     "flag": _flag(entries[r.name], getattr(automatic.measurements, r.name),
                                   sex),
                     "override": overrides.get(r.name)} for r in rows]
    layout = TracingLayout()
    vendor = ecg.vendor_read.to_json_dict() if ecg.vendor_read is not None else None
    status = latest.result_status if latest else settings.automatic_result_status
    serial = result.get("serial")
    return {
        "read_id": read_id, "sop": record.sop_instance_uid, "patient_id": record.patient_id,
        "patient_name": _display_name(order), "accession": record.accession_number,
        "acquired": record.acquisition_time, "received": record.received_at,
        "critical": read.critical, "status": status,
        "status_text": _STATUS_TEXT.get(status, status),
        "reviews": [{"by": r.signed_by, "at": r.signed_at, "status": r.result_status,
                     "kept": json.loads(r.kept_json), "removed": json.loads(r.removed_json),
                     "added": json.loads(r.added_json)} for r in reviews],
        "header": header,
        "tracing": tracing_svg(shown, layout),
        "scale": {"speed_mm_s": layout.speed_mm_s, "gain_mm_mv": layout.gain_mm_mv,
                  "rate_hz": f"{ecg.sampling_rate_hz:g}"},
        "statements": [{"n": n, "code": st.code, "text": st.text.replace(" -> ", " → "),
                        "certainty": st.certainty,
                        "critical": st.critical, "source": st.source,
                        "serial": st.category == "serial",
                        "evidence": [evidence_view(e) for e in st.evidence]}
                       for n, st in enumerate(current, start=1)],
        "automatic_codes": [st.code for st in automatic.statements],
        "measurements": measurements, "vendor": vendor, "serial": serial,
        "serial_rows": _serial_rows(serial) if serial else [],
        "prior_acquired": ((serial or {}).get("prior_acquired") or "")[:16].replace("T", " "),
        "addable": [{"code": e.code, "text": e.text, "category": e.category}
                    for e in _ADDABLE],
        "versions": automatic.versions,
        "labels": {m.name: m.label for m in CATALOGUE},
        "serial_codes": [x["code"] for x in (serial or {}).get("statements", [])],
    }


def sign_from_form(settings: Settings, read_id: int, user: str, form: Any) -> Signed:
    """The signing form (``keep`` statement numbers, ``add_code`` library codes,
    ``free_text`` lines, ``override_<name>`` values with ``reason_<name>``) signed."""
    with session_scope(settings.audit_url) as s:
        read = s.get(EcgRead, read_id)
        if read is None or not read.result_json:
            raise ReviewError(f"no successful read {read_id}")
        latest = _current(s, read_id)
        automatic = tuple(statement_from_json(x)
                          for x in json.loads(read.result_json).get("statements", []))
        current = (tuple(statement_from_json(x) for x in json.loads(latest.statements_json))
                   if latest else automatic)
    keep = {int(k) for k in form.getlist("keep") if str(k).isdigit()}
    statements = [st for n, st in enumerate(current, start=1) if n in keep]
    for code in form.getlist("add_code"):
        code = str(code)
        if code and code not in {st.code for st in statements}:
            statements.append(library_statement(code, automatic))
    for line in str(form.get("free_text", "")).splitlines():
        if line.strip():
            statements.append(free_text_statement(line))
    overrides = []
    for m in CATALOGUE:
        raw = str(form.get(f"override_{m.name}", "")).strip()
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ReviewError(f"{m.label}: not a number: {raw[:20]!r}") from None
        overrides.append(Override(m.name, value, str(form.get(f"reason_{m.name}", ""))))
    return sign_read(settings, read_id, user, tuple(statements), tuple(overrides))

"""Confirm or correct a read: a cardiologist's signature turns the automatic, preliminary
read (ORU OBR-25 / OBX-11 ``P``) into a final one (``F``), and a later signature into a
correction (``C``).

A plain function (STYLE #4), used by the web application and usable from any other edge:
:func:`sign_read` takes the signed statements and measurement overrides, renders the PDF
(which then names who confirmed and when) and the ORU^R01 from the *stored* read (never
a re-analysis: every number in the signed report is one stored or one the physician
typed), stores both durably, records a ``read_review`` row and an audit event with who,
what, before and after, and queues a new delivery to the EHR in the same transaction.

The stored read is turned back into an :class:`Analysis` by
:func:`ecgread.workers.stored_read.stored_analysis`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.audit.tables import EcgRead, EcgRecord, Hl7Order, ReadReview, Report, utcnow
from ecgread.config.settings import Settings
from ecgread.errors import EcgreadError
from ecgread.models.analysis_result import Analysis
from ecgread.models.catalogue import MEASUREMENT_NAMES
from ecgread.models.interpret.library import LIBRARY
from ecgread.models.results import GlobalMeasurements, Statement
from ecgread.workers.stored_read import stored_analysis

#: Code of a statement a physician typed (not from the statement library).
FREE_TEXT = "FREE_TEXT"
#: Longest free-text statement and override reason kept (characters).
MAX_TEXT_CHARS = 300


class ReviewError(EcgreadError, ValueError):
    """A signature that cannot be accepted (unknown read, bad value, nothing to sign)."""


@dataclass(frozen=True)
class Override:
    """A measurement the physician replaced: ``value`` in the catalogue unit of ``name``."""

    name: str
    value: float
    reason: str


@dataclass(frozen=True)
class Signed:
    review_id: int
    read_id: int
    result_status: str  # "F" or "C"
    delivery_message_id: str
    pdf_path: str


def library_statement(code: str, automatic: tuple[Statement, ...]) -> Statement:
    """The statement ``code`` from the library, with the automatic read's evidence when
    the automatic read made it too (raises :class:`ReviewError` for an unknown code)."""
    for st in automatic:
        if st.code == code:
            return st
    entry = LIBRARY.get(code)
    if entry is None:
        raise ReviewError(f"unknown statement code {code!r}")
    return Statement(code=entry.code, text=entry.text, category=entry.category,
                     certainty="definite", evidence=(), critical=entry.critical,
                     source="physician")


def free_text_statement(text: str) -> Statement:
    text = " ".join(text.split())[:MAX_TEXT_CHARS]
    if not text:
        raise ReviewError("empty free-text statement")
    return Statement(code=FREE_TEXT, text=text, category="other", certainty="definite",
                     evidence=(), source="physician")


def _codes(statements: tuple[Statement, ...] | list[dict[str, Any]]) -> list[str]:
    return [s.code if isinstance(s, Statement) else s["code"] for s in statements]


def _rhythm(statements: tuple[Statement, ...]) -> set[str]:
    return {s.code for s in statements if s.category == "rhythm"}


def _apply_overrides(m: GlobalMeasurements, overrides: tuple[Override, ...]) -> GlobalMeasurements:
    changes: dict[str, Any] = {}
    for o in overrides:
        if o.name not in MEASUREMENT_NAMES:
            raise ReviewError(f"unknown measurement {o.name!r}")
        if not o.reason.strip():
            raise ReviewError(f"overriding {o.name} needs a reason")
        changes[o.name] = float(o.value)
    unmeasured = {k: v for k, v in m.unmeasured.items() if k not in changes}
    return dataclasses.replace(m, **changes, unmeasured=unmeasured)


def signed_content(automatic: Analysis, statements: tuple[Statement, ...],
                   overrides: tuple[Override, ...]) -> Analysis:
    """The automatic analysis with the signed statements and overridden measurements
    (each override also a note, shown in the PDF and sent as an NTE of the ORU)."""
    notes = tuple(f"{o.name} set by the physician to {o.value:g} (automatic "
                  f"{_shown(getattr(automatic.measurements, o.name, None))}): "
                  f"{' '.join(o.reason.split())[:MAX_TEXT_CHARS]}" for o in overrides)
    return dataclasses.replace(automatic, statements=statements, notes=automatic.notes + notes,
                               measurements=_apply_overrides(automatic.measurements, overrides))


def _shown(value: float | None) -> str:
    return "not measured" if value is None else f"{value:g}"


def sign_read(settings: Settings, read_id: int, signed_by: str,
              statements: tuple[Statement, ...], overrides: tuple[Override, ...] = (),
              *, now: datetime | None = None) -> Signed:
    """Sign ``read_id``: F the first time, C after that; report, ORU, audit, delivery.

    Parameters
    ----------
    statements:
        The statements as signed, in order (:func:`library_statement`,
        :func:`free_text_statement`).
    overrides:
        Measurements replaced by the physician, each with a reason.

    Raises
    ------
    ReviewError
        No such read, a failed read, no statements, or an invalid override.
    """
    from ecgread.integration.dicom_decode import decode_file
    from ecgread.integration.identifiers import safe_key
    from ecgread.integration.object_store import write_durably
    from ecgread.reporting.context import report_context
    from ecgread.reporting.oru import build_oru
    from ecgread.reporting.pdf import render_pdf
    from ecgread.workers.outbox import enqueue_delivery
    from ecgread.workers.read_job import _with_order_demographics

    if not statements:
        raise ReviewError("a signed read needs at least one statement")
    with session_scope(settings.audit_url) as session:
        read = session.get(EcgRead, read_id)
        if read is None or read.status != "ok" or not read.result_json:
            raise ReviewError(f"no successful read {read_id}")
        record = session.get(EcgRecord, read.ecg_id)
        assert record is not None
        order = session.get(Hl7Order, record.order_id) if record.order_id else None
        previous = session.exec(select(ReadReview).where(ReadReview.read_id == read_id)
                                .order_by(col(ReadReview.id).desc())).first()
        for row in (record, order, previous, read):
            if row is not None:
                session.expunge(row)
    result = json.loads(read.result_json)
    ecg = _with_order_demographics(decode_file(record.path, max_samples=settings.max_samples),
                                   order)
    automatic = stored_analysis(ecg, result)
    signed = signed_content(automatic, statements, overrides)
    status = "C" if previous is not None else "F"
    at = now or utcnow()
    who = f"{signed_by} on {at.strftime('%Y-%m-%d %H:%M')} UTC"
    context = report_context(ecg, order, result_status=status, confirmed_by=who,
                             serial=result.get("serial"))
    pdf = render_pdf(signed, context, settings)
    sop = record.sop_instance_uid
    control_id = uuid.uuid4().hex[:20]
    stem = f"{safe_key(sop)}.{read_id}.{status}.{control_id}"
    pdf_path = settings.reports_dir / f"{stem}.pdf"
    write_durably(pdf_path, pdf)
    oru_path = settings.reports_dir / f"{stem}.oru.hl7"
    write_durably(oru_path, build_oru(signed, context, pdf, settings, control_id).encode())

    auto_codes = set(_codes(automatic.statements))
    new_codes = _codes(statements)
    kept = [c for c in _codes(automatic.statements) if c in new_codes]
    removed = [c for c in _codes(automatic.statements) if c not in new_codes]
    added = [c for c in new_codes if c not in auto_codes]
    before_statements = (json.loads(previous.statements_json) if previous is not None
                         else [s.to_json_dict() for s in automatic.statements])
    before_overrides = json.loads(previous.overrides_json) if previous is not None else {}
    after_overrides = {o.name: {"value": o.value, "reason": " ".join(o.reason.split())[
        :MAX_TEXT_CHARS], "automatic": getattr(automatic.measurements, o.name)}
        for o in overrides}
    with session_scope(settings.audit_url) as session:
        report = Report(read_id=read_id, pdf_path=str(pdf_path),
                        sha256=hashlib.sha256(pdf).hexdigest(), result_status=status)
        session.add(report)
        session.flush()
        review = ReadReview(
            read_id=read_id, signed_by=signed_by, signed_at=at, result_status=status,
            statements_json=json.dumps([s.to_json_dict() for s in statements]),
            overrides_json=json.dumps(after_overrides), kept_json=json.dumps(kept),
            removed_json=json.dumps(removed), added_json=json.dumps(added),
            rhythm_revised=_rhythm(automatic.statements) != _rhythm(statements),
            report_id=report.id)
        session.add(review)
        session.flush()
        log_action(session, "ecgread.review.confirmed" if status == "F"
                   else "ecgread.review.corrected", subject=f"ecg:{sop}", trace_id=sop,
                   read_id=read_id, review_id=review.id, user=signed_by, result_status=status,
                   before={"statements": [f"{s['code']}: {s['text']}" for s in before_statements],
                           "overrides": before_overrides},
                   after={"statements": [f"{s.code}: {s.text}" for s in statements],
                          "overrides": after_overrides},
                   kept=kept, removed=removed, added=added)
        enqueue_delivery(session, read_id=read_id, destination="ehr",
                         payload_path=str(oru_path), message_id=control_id,
                         patient_id=record.patient_id, priority=1 if signed.critical else 0)
        assert review.id is not None
        return Signed(review.id, read_id, status, control_id, str(pdf_path))


__all__ = ["FREE_TEXT", "Override", "ReviewError", "Signed", "free_text_statement",
           "library_statement", "sign_read", "signed_content"]

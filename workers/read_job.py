"""The read job: one stored ECG in, a read, a report and queued deliveries out.

A plain function (STYLE #4): the Celery task and the in-process worker are thin wrappers.
Idempotent per SOP Instance UID: an ECG already read is not read again on an ingest
trigger (a resend or a re-delivered task gives one read, one delivery).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.audit.tables import EcgRead, EcgRecord, Hl7Order, Report, utcnow
from ecgread.config.settings import Settings
from ecgread.errors import DecodeError
from ecgread.integration.dicom_meta import age_from_birth_date
from ecgread.integration.recovery import UNFINISHED_STATES
from ecgread.models.ecg import Ecg

log = logging.getLogger("ecgread.read")


@dataclass(frozen=True)
class ReadOutcome:
    sop_instance_uid: str
    read_id: int | None
    critical: bool
    skipped: bool = False
    error: str | None = None


def _with_order_demographics(ecg: Ecg, order: Hl7Order | None) -> Ecg:
    """Fill sex and birth date from the order where the DICOM header lacks them."""
    if order is None:
        return ecg
    acq = ecg.acquisition
    updates: dict[str, object] = {}
    if acq.patient_sex is None and order.patient_sex in ("M", "F"):
        updates["patient_sex"] = order.patient_sex
    if acq.patient_birth_date is None and order.patient_birth_date:
        updates["patient_birth_date"] = order.patient_birth_date
    if acq.patient_age_years is None:
        age = age_from_birth_date(order.patient_birth_date, acq.acquisition_time)
        if age is not None:
            updates["patient_age_years"] = age
    if acq.accession_number is None and order.accession_number:
        updates["accession_number"] = order.accession_number
    if not updates:
        return ecg
    return dataclasses.replace(ecg, acquisition=dataclasses.replace(acq, **updates))


def _set_state(session: Session, record: EcgRecord, state: str, detail: str | None = None) -> None:
    record.state = state
    record.state_detail = detail
    record.updated_at = utcnow()
    session.add(record)


def read_ecg(settings: Settings, sop_instance_uid: str, trigger: str = "ingest", *,
             deliver: bool = True) -> ReadOutcome:
    """Read one stored ECG end to end and queue its deliveries (``deliver=False``: the read
    and its report are stored, nothing is sent; ``ecgread batch --stored`` without
    ``--deliver``).

    Raises only for transient faults (database unavailable, disk errors): a domain error
    (the stored object cannot be decoded) marks the ECG failed and is recorded, not raised.
    """
    from ecgread.integration.dicom_decode import decode_file
    from ecgread.integration.matching import match_order_for_ecg
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.workers.onnx_models import process_models
    from ecgread.workers.provenance import with_ecgread_version

    url = settings.audit_url
    with session_scope(url) as session:
        record = session.exec(
            select(EcgRecord).where(EcgRecord.sop_instance_uid == sop_instance_uid)
        ).first()
        if record is None:
            raise LookupError(f"no stored ECG with SOP Instance UID {sop_instance_uid}")
        if trigger == "ingest" and record.state not in UNFINISHED_STATES:
            return ReadOutcome(sop_instance_uid, None, False, skipped=True)
        _set_state(session, record, "reading")
        log_action(session, "ecgread.read.started", subject=f"ecg:{sop_instance_uid}",
                   trace_id=sop_instance_uid, trigger=trigger)
        path = record.path
        order = None
        if record.order_id is None:
            order = match_order_for_ecg(session, record, settings.match_window_min)
        elif record.order_id is not None:
            order = session.get(Hl7Order, record.order_id)
        if order is not None:
            session.expunge(order)
        ecg_id = record.id

    started = time.perf_counter()
    try:
        ecg = _with_order_demographics(decode_file(path), order)
        analysis = with_ecgread_version(analyze(
            ecg, AnalysisConfig(delineator=settings.delineator),
            models=process_models(settings.model_registry)))
    except DecodeError as exc:
        with session_scope(url) as session:
            record = session.get(EcgRecord, ecg_id)
            assert record is not None
            _set_state(session, record, "failed", exc.reason)
            session.add(EcgRead(ecg_id=ecg_id, status="failed", error=exc.reason,
                                finished_at=utcnow(), trigger=trigger))
            log_action(session, "ecgread.read.failed", subject=f"ecg:{sop_instance_uid}",
                       trace_id=sop_instance_uid, reason=exc.reason)
        log.warning("read failed sop=%s: %s", sop_instance_uid, exc.reason)
        return ReadOutcome(sop_instance_uid, None, False, error=exc.reason)
    analysis_ms = (time.perf_counter() - started) * 1000.0
    result = analysis.to_json_dict()
    result["source"] = sop_instance_uid

    with session_scope(url) as session:
        read = EcgRead(ecg_id=ecg_id, status="ok", finished_at=utcnow(), duration_ms=analysis_ms,
                       critical=analysis.critical, result_json=json.dumps(result),
                       versions_json=json.dumps(analysis.versions), trigger=trigger)
        session.add(read)
        session.flush()
        log_action(session, "ecgread.read.finished", subject=f"ecg:{sop_instance_uid}",
                   trace_id=sop_instance_uid, read_id=read.id, critical=analysis.critical,
                   duration_ms=round(analysis_ms, 1), versions=analysis.versions,
                   statements=[s.code for s in analysis.statements])
        read_id = read.id
    assert read_id is not None
    _report_and_queue(settings, sop_instance_uid, ecg_id, read_id, analysis, order, deliver)
    return ReadOutcome(sop_instance_uid, read_id, analysis.critical)


def _report_and_queue(settings: Settings, sop_instance_uid: str, ecg_id: int, read_id: int,
                      analysis, order: Hl7Order | None,  # type: ignore[no-untyped-def]
                      deliver: bool = True) -> None:
    """Render the PDF and ORU, store them durably, queue deliveries (when ``deliver``), mark
    the ECG reported."""
    import hashlib

    from ecgread.integration.object_store import write_durably
    from ecgread.reporting.context import report_context
    from ecgread.reporting.oru import build_oru
    from ecgread.reporting.pdf import render_pdf
    from ecgread.workers.outbox import enqueue_delivery

    context = report_context(analysis.ecg, order)
    pdf = render_pdf(analysis, context, settings)
    stem = f"{sop_instance_uid}.{read_id}"
    pdf_path = settings.reports_dir / f"{stem}.pdf"
    write_durably(pdf_path, pdf)
    control_id = uuid.uuid4().hex[:20]
    oru = build_oru(analysis, context, pdf, settings, control_id)
    oru_path = settings.reports_dir / f"{stem}.oru.hl7"
    write_durably(oru_path, oru.encode())

    priority = 1 if analysis.critical else 0
    patient_id = analysis.ecg.acquisition.patient_id
    with session_scope(settings.audit_url) as session:
        report = Report(read_id=read_id, pdf_path=str(pdf_path),
                        sha256=hashlib.sha256(pdf).hexdigest(), result_status=context.result_status)
        session.add(report)
        session.flush()
        log_action(session, "ecgread.report.created", subject=f"ecg:{sop_instance_uid}",
                   trace_id=sop_instance_uid, read_id=read_id, report_id=report.id)
        if deliver:
            enqueue_delivery(session, read_id=read_id, destination="ehr",
                             payload_path=str(oru_path), message_id=control_id,
                             patient_id=patient_id, priority=priority)
        pacs = deliver and bool(settings.pacs_host)
        if pacs and context.study_instance_uid and context.sop_instance_uid:
            # the report as DICOM Encapsulated PDF in the ECG's study, written before the
            # commit that queues it (the outbox reads it with pydicom.dcmread)
            from ecgread.reporting.encapsulated_pdf import encapsulated_pdf, to_part10

            dicom = encapsulated_pdf(pdf, context, read_id,
                                     source_sop_class_uid=analysis.ecg.acquisition.sop_class_uid,
                                     software_version=analysis.versions.get("ecgread", ""))
            dicom_path = settings.reports_dir / f"{stem}.pdf.dcm"
            write_durably(dicom_path, to_part10(dicom))
            enqueue_delivery(session, read_id=read_id, destination="pacs",
                             payload_path=str(dicom_path), message_id=f"pacs:{stem}",
                             patient_id=patient_id, priority=priority)
        elif pacs:
            log.warning("no PACS delivery for sop=%s: no Study/SOP Instance UID",
                        sop_instance_uid)
        record = session.get(EcgRecord, ecg_id)
        assert record is not None
        _set_state(session, record, "reported")


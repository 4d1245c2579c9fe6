"""The read job: one stored ECG in, a read, a report and queued deliveries out.

A plain function (STYLE #4): the Celery task and the in-process worker are thin wrappers.
Idempotent per SOP Instance UID: an ECG already read is not read again on an ingest
trigger (a resend or a re-delivered task gives one read, one delivery).

Every acknowledged ECG ends ``reported`` or ``failed`` (DESIGN.md):

- Each ingest read attempt is counted in ``ecg.attempts``, committed before the read
  starts, so an attempt that crashes the process counts too. When an ECG comes back with
  ``read_max_attempts`` attempts spent, it is failed without another try.
- A read that cannot succeed fails at once, with its reason: the stored object does not
  decode (:class:`DecodeError`), is beyond a limit (:class:`LimitExceededError`), or the
  analysis or the report raises (the analysis is a pure function of the stored object, so
  another try gives the same error). Faults of the surroundings (database, disk, model
  files: :data:`INFRASTRUCTURE`) are raised instead and the read is tried again, within
  the same bound.
- A failed ingest read still reaches the EHR: an ORU with no measurements and the
  statement "ECG could not be interpreted: <reason>"
  (:func:`reporting.oru.build_failure_oru`) is queued with the failed read, in the
  transaction that marks the ECG ``failed``.
- One ingest read per ECG: a partial unique index on ``ecg_read`` (``uq_ecg_read_ingest``).
  A read committed before a crash is taken up again (its report is made, no second read);
  a second reader of the same ECG at the same time loses the insert and stops.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.audit.tables import EcgRead, EcgRecord, Hl7Order, Report, utcnow
from ecgread.config.settings import Settings
from ecgread.errors import DecodeError, LimitExceededError, ModelError
from ecgread.integration.dicom_meta import age_from_birth_date
from ecgread.integration.identifiers import printable, safe_key
from ecgread.integration.recovery import UNFINISHED_STATES
from ecgread.models.ecg import Ecg

if TYPE_CHECKING:
    from ecgread.models.analysis_result import Analysis
    from ecgread.reporting.context import ReportContext

log = logging.getLogger("ecgread.read")

#: Faults of the surroundings, not of the ECG: raised (the read is tried again, within
#: ``read_max_attempts``), never turned into a failed read at once.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (OperationalError, ModelError, OSError)
#: Longest failure reason kept and sent (characters).
_MAX_REASON_CHARS = 200


@dataclass(frozen=True)
class ReadOutcome:
    sop_instance_uid: str
    read_id: int | None
    critical: bool
    skipped: bool = False
    error: str | None = None


class _Demographics(TypedDict, total=False):
    """The :class:`Acquisition` fields an order may fill."""

    patient_sex: str
    patient_birth_date: str
    patient_age_years: float
    accession_number: str


def _with_order_demographics(ecg: Ecg, order: Hl7Order | None) -> Ecg:
    """Fill sex and birth date from the order where the DICOM header lacks them."""
    if order is None:
        return ecg
    acq = ecg.acquisition
    updates: _Demographics = {}
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


def _ingest_read(session: Session, ecg_id: int) -> EcgRead | None:
    return session.exec(select(EcgRead).where(EcgRead.ecg_id == ecg_id,
                                              EcgRead.trigger == "ingest")).first()


def _error_reason(exc: BaseException, where: str) -> str:
    """A failure reason safe for the audit trail and the EHR: the domain error's own
    reason, or the exception type and message of an unexpected error, on one line."""
    if isinstance(exc, (DecodeError, LimitExceededError)):
        text = exc.reason
    else:
        detail = " ".join(str(exc).split())
        text = f"{where} error ({type(exc).__name__}{': ' + detail if detail else ''})"
    return text[:_MAX_REASON_CHARS]


def read_ecg(settings: Settings, sop_instance_uid: str, trigger: str = "ingest", *,
             deliver: bool = True) -> ReadOutcome:
    """Read one stored ECG end to end and queue its deliveries (``deliver=False``: the read
    and its report are stored, nothing is sent; ``ecgread batch --stored`` without
    ``--deliver``).

    Raises only for :data:`INFRASTRUCTURE` faults (database unavailable, disk errors, model
    files): any other error marks the ECG failed with its reason, records it and, for an
    ingest read, queues the "could not be interpreted" ORU (``read_id`` of the outcome is
    then the failed read's, so callers deliver it as they deliver a report).
    """
    from ecgread.integration.dicom_decode import decode_file
    from ecgread.integration.matching import match_order_for_ecg
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.models.dsp_config import delineator_named
    from ecgread.workers.onnx_models import process_models
    from ecgread.workers.provenance import with_ecgread_version
    from ecgread.workers.serial import with_serial_comparison

    url = settings.audit_url
    ingest = trigger == "ingest"
    give_up: str | None = None
    with session_scope(url) as session:
        record = session.exec(
            select(EcgRecord).where(EcgRecord.sop_instance_uid == sop_instance_uid)
        ).first()
        if record is None:
            raise LookupError(f"no stored ECG with SOP Instance UID {printable(sop_instance_uid)}")
        if ingest and record.state not in UNFINISHED_STATES:
            return ReadOutcome(sop_instance_uid, None, False, skipped=True)
        if ingest and record.attempts >= settings.read_max_attempts:
            give_up = (f"read did not finish in {record.attempts} attempts"
                       + (f" (last: {record.state_detail})" if record.state_detail else ""))
        else:
            if ingest:
                record.attempts += 1
            _set_state(session, record, "reading", record.state_detail)
            log_action(session, "ecgread.read.started", subject=f"ecg:{sop_instance_uid}",
                       trace_id=sop_instance_uid, trigger=trigger, attempt=record.attempts)
        path = record.path
        order = None
        if record.order_id is None:
            order = match_order_for_ecg(session, record, settings.match_window_min)
        elif record.order_id is not None:
            order = session.get(Hl7Order, record.order_id)
        if order is not None:
            session.expunge(order)
        ecg_id = record.id
        assert ecg_id is not None
    if give_up is not None:
        return _fail(settings, sop_instance_uid, ecg_id, give_up, order, path, trigger)

    started = time.perf_counter()
    try:
        ecg = _with_order_demographics(decode_file(path, max_samples=settings.max_samples), order)
        analysis = with_ecgread_version(analyze(
            ecg, AnalysisConfig(delineator=delineator_named(settings.delineator)),
            models=process_models(settings.model_registry)))
        analysis, serial = with_serial_comparison(settings, analysis, ecg_id)
    except INFRASTRUCTURE as exc:
        _note_error(settings, ecg_id, _error_reason(exc, "read"))
        raise
    except Exception as exc:  # noqa: BLE001  a read that cannot succeed ends failed
        return _fail(settings, sop_instance_uid, ecg_id, _error_reason(exc, "analysis"), order,
                     path, trigger)
    analysis_ms = (time.perf_counter() - started) * 1000.0
    result = analysis.to_json_dict()
    result["source"] = sop_instance_uid
    if serial is not None:  # additive: the comparison with the patient's prior ECG
        result["serial"] = serial

    try:
        with session_scope(url) as session:
            read = _ingest_read(session, ecg_id) if ingest else None
            if read is not None:  # committed before a crash: take it up, do not read twice
                log_action(session, "ecgread.read.resumed", subject=f"ecg:{sop_instance_uid}",
                           trace_id=sop_instance_uid, read_id=read.id)
            else:
                read = EcgRead(ecg_id=ecg_id, status="ok", finished_at=utcnow(),
                               duration_ms=analysis_ms, critical=analysis.critical,
                               result_json=json.dumps(result),
                               versions_json=json.dumps(analysis.versions), trigger=trigger)
                session.add(read)
                session.flush()
                log_action(session, "ecgread.read.finished", subject=f"ecg:{sop_instance_uid}",
                           trace_id=sop_instance_uid, read_id=read.id,
                           critical=analysis.critical, duration_ms=round(analysis_ms, 1),
                           versions=analysis.versions,
                           statements=[s.code for s in analysis.statements])
            read_id = read.id
    except IntegrityError:  # another reader committed this ECG's read first
        log.info("read of sop=%s already committed by another reader",
                 printable(sop_instance_uid))
        return ReadOutcome(sop_instance_uid, None, False, skipped=True)
    assert read_id is not None
    try:
        _report_and_queue(settings, sop_instance_uid, ecg_id, read_id, analysis, order,
                          deliver, serial)
    except INFRASTRUCTURE as exc:
        _note_error(settings, ecg_id, _error_reason(exc, "report"))
        raise
    except Exception as exc:  # noqa: BLE001  no report can be made of this read
        return _fail(settings, sop_instance_uid, ecg_id, _error_reason(exc, "report"), order,
                     path, trigger)
    return ReadOutcome(sop_instance_uid, read_id, analysis.critical)


def _note_error(settings: Settings, ecg_id: int, reason: str) -> None:
    """Keep the reason of an attempt that will be tried again (best effort)."""
    try:
        with session_scope(settings.audit_url) as session:
            record = session.get(EcgRecord, ecg_id)
            if record is not None:
                record.state_detail = reason
                session.add(record)
    except Exception as exc:  # noqa: BLE001  the original error is what the caller must see
        log.warning("could not note the read error of ecg %d: %s", ecg_id, type(exc).__name__)


def _failure_context(ecg_path: str, sop_instance_uid: str, order: Hl7Order | None,
                     record: EcgRecord) -> ReportContext:
    """The report header of a failed ECG: from the stored object when it still decodes,
    else from what the ``ecg`` row and the order hold."""
    from ecgread.integration.dicom_decode import decode_file
    from ecgread.reporting.context import ReportContext, report_context

    try:
        return report_context(decode_file(ecg_path), order)
    except Exception:  # noqa: BLE001  the object is what failed: use the rows
        o = order
        return ReportContext(
            patient_id=record.patient_id or (o.patient_id if o else None),
            accession_number=record.accession_number or (o.accession_number if o else None),
            placer_order_number=o.placer_order_number if o else None,
            placer_namespace=(o.placer_namespace or None) if o else None,
            filler_order_number=o.filler_order_number if o else None,
            procedure_code=o.procedure_code if o else None,
            ordering_provider=o.ordering_provider if o else None,
            acquisition_time=record.acquisition_time,
            study_instance_uid=record.study_instance_uid,
            sop_instance_uid=sop_instance_uid, source=sop_instance_uid)


def _fail(settings: Settings, sop_instance_uid: str, ecg_id: int, reason: str,
          order: Hl7Order | None, path: str, trigger: str) -> ReadOutcome:
    """End a read as failed: the failed read, and for an ingest read the ECG ``failed``
    and the "could not be interpreted" ORU queued to the EHR, in one transaction."""
    from ecgread import __version__
    from ecgread.integration.object_store import write_durably
    from ecgread.reporting.oru import build_failure_oru
    from ecgread.workers.outbox import enqueue_delivery

    ingest = trigger == "ingest"
    oru_path = control_id = None
    patient_id = None
    if ingest:
        with session_scope(settings.audit_url) as session:
            record = session.get(EcgRecord, ecg_id)
            assert record is not None
            session.expunge(record)
        context = _failure_context(path, sop_instance_uid, order, record)
        patient_id = context.patient_id
        control_id = uuid.uuid4().hex[:20]
        oru = build_failure_oru(context, reason, settings, control_id, __version__)
        oru_name = f"{safe_key(sop_instance_uid)}.failed.{control_id}.oru.hl7"
        oru_path = settings.reports_dir / oru_name
        write_durably(oru_path, oru.encode())
    with session_scope(settings.audit_url) as session:
        read = _ingest_read(session, ecg_id) if ingest else None
        if read is None:
            read = EcgRead(ecg_id=ecg_id, trigger=trigger)
        read.status, read.error, read.finished_at = "failed", reason, utcnow()
        session.add(read)
        session.flush()
        assert read.id is not None
        attempts = None
        if ingest:
            record = session.get(EcgRecord, ecg_id)
            assert record is not None
            attempts = record.attempts
            _set_state(session, record, "failed", reason)
        log_action(session, "ecgread.read.failed", subject=f"ecg:{sop_instance_uid}",
                   trace_id=sop_instance_uid, read_id=read.id, reason=reason,
                   attempts=attempts, trigger=trigger)
        if oru_path is not None and control_id is not None:
            enqueue_delivery(session, read_id=read.id, destination="ehr",
                             payload_path=str(oru_path), message_id=control_id,
                             patient_id=patient_id, priority=0)
        read_id = read.id
    log.warning("read failed sop=%s: %s", printable(sop_instance_uid), printable(reason))
    return ReadOutcome(sop_instance_uid, read_id if ingest else None, False, error=reason)


def _report_and_queue(settings: Settings, sop_instance_uid: str, ecg_id: int, read_id: int,
                      analysis: Analysis, order: Hl7Order | None,
                      deliver: bool = True, serial: dict[str, Any] | None = None) -> None:
    """Render the PDF and ORU, store them durably, queue deliveries (when ``deliver``), mark
    the ECG reported. ``serial``: the read JSON's comparison with the prior ECG."""
    import hashlib

    from ecgread.integration.object_store import write_durably
    from ecgread.reporting.context import report_context
    from ecgread.reporting.oru import build_oru
    from ecgread.reporting.pdf import render_pdf
    from ecgread.workers.outbox import enqueue_delivery

    context = report_context(analysis.ecg, order, result_status=settings.automatic_result_status,
                             serial=serial)
    pdf = render_pdf(analysis, context, settings)
    stem = f"{safe_key(sop_instance_uid)}.{read_id}"
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
                        printable(sop_instance_uid))
        record = session.get(EcgRecord, ecg_id)
        assert record is not None
        _set_state(session, record, "reported")


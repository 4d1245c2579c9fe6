"""The audit database schema (SQLModel). Sessions come from :mod:`ecgread.audit.db`; every
state change is also logged through :func:`ecgread.audit.events.log_action`.

Tables
------
- ``received``: every DICOM object and HL7 message that reached a listener, with the peer,
  the status we returned and, for rejections, why.
- ``ecg``: one row per SOP Instance UID accepted, its file and its processing state.
- ``hl7_order``: orders from ORM^O01 / OMG^O19, pending until an ECG fulfils them.
- ``ecg_read``: each analysis of an ECG: measurements, statements, versions, timings.
- ``report``: the PDF made from a read.
- ``delivery`` / ``delivery_attempt``: the outbox to the EHR and PACS and every attempt.
- ``event``: the append-only, hash-chained event log.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Received(SQLModel, table=True):
    __tablename__ = "received"
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, index=True)
    protocol: str = Field(index=True)  # "dicom" or "hl7"
    peer_host: str = ""
    peer_port: int | None = None
    calling_ae: str | None = None  # DICOM calling AE, or HL7 MSH-3 sending application
    called_ae: str | None = None  # DICOM called AE, or HL7 MSH-5 receiving application
    identifier: str | None = Field(default=None, index=True)  # SOP Instance UID or MSH-10
    kind: str | None = None  # SOP Class UID, or HL7 message type "ORM^O01"
    status: str = ""  # DICOM status "0x0000"/"0xA900"... or HL7 ACK code "AA"/"AE"/"AR"
    reason: str | None = Field(default=None, sa_column=Column(Text))
    duplicate: bool = False
    path: str | None = None  # stored object or raw message
    sha256: str | None = None
    patient_id: str | None = Field(default=None, index=True)
    accession_number: str | None = Field(default=None, index=True)


class EcgRecord(SQLModel, table=True):
    __tablename__ = "ecg"
    id: int | None = Field(default=None, primary_key=True)
    sop_instance_uid: str = Field(index=True, unique=True)
    sop_class_uid: str = ""
    study_instance_uid: str | None = None
    received_id: int | None = Field(default=None, foreign_key="received.id")
    received_at: datetime = Field(default_factory=utcnow, index=True)
    path: str = ""
    patient_id: str | None = Field(default=None, index=True)
    accession_number: str | None = Field(default=None, index=True)
    acquisition_time: datetime | None = Field(default=None, index=True)
    order_id: int | None = Field(default=None, foreign_key="hl7_order.id")
    # received -> reading -> reported, or failed (ecgread.integration.recovery re-reads
    # received and reading after a restart)
    state: str = Field(default="received", index=True)
    state_detail: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(default_factory=utcnow)
    #: Read attempts started (committed before each read begins, so a crash counts too).
    attempts: int = 0


class Hl7Order(SQLModel, table=True):
    __tablename__ = "hl7_order"
    __table_args__ = (UniqueConstraint("placer_order_number", "placer_namespace"),)
    id: int | None = Field(default=None, primary_key=True)
    placer_order_number: str = Field(index=True)  # ORC-2 / OBR-2
    placer_namespace: str = ""
    filler_order_number: str | None = Field(default=None, index=True)  # ORC-3 / OBR-3
    accession_number: str | None = Field(default=None, index=True)
    patient_id: str | None = Field(default=None, index=True)
    patient_name: str | None = None
    patient_sex: str | None = None
    patient_birth_date: str | None = None
    procedure_code: str | None = None
    ordering_provider: str | None = None
    sending_application: str | None = None
    sending_facility: str | None = None
    requested_at: datetime | None = None
    message_control_id: str | None = None  # MSH-10 of the last message that changed it
    # pending -> fulfilled; cancelled (CA); changed orders stay pending
    status: str = Field(default="pending", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


#: One read per ECG from the listener path, even across crashes and redelivered tasks
#: (batch and manual re-reads are more reads of the same ECG and are not limited).
_ONE_INGEST_READ = text("trigger = 'ingest'")


class EcgRead(SQLModel, table=True):
    __tablename__ = "ecg_read"
    __table_args__ = (Index("uq_ecg_read_ingest", "ecg_id", unique=True,
                            sqlite_where=_ONE_INGEST_READ, postgresql_where=_ONE_INGEST_READ),)
    id: int | None = Field(default=None, primary_key=True)
    ecg_id: int = Field(foreign_key="ecg.id", index=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    duration_ms: float | None = None
    status: str = "ok"  # ok | failed
    error: str | None = Field(default=None, sa_column=Column(Text))
    critical: bool = False
    result_json: str | None = Field(default=None, sa_column=Column(Text))  # the analyze JSON
    versions_json: str | None = Field(default=None, sa_column=Column(Text))
    trigger: str = "ingest"  # ingest | batch | manual


class Report(SQLModel, table=True):
    __tablename__ = "report"
    id: int | None = Field(default=None, primary_key=True)
    read_id: int = Field(foreign_key="ecg_read.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    pdf_path: str = ""
    sha256: str = ""
    result_status: str = "P"  # OBR-25: P preliminary, F final, C corrected


class Delivery(SQLModel, table=True):
    __tablename__ = "delivery"
    id: int | None = Field(default=None, primary_key=True)
    read_id: int = Field(foreign_key="ecg_read.id", index=True)
    destination: str = Field(index=True)  # "ehr", "pacs", "file"
    target: str = ""  # host:port or AE@host:port or a path
    message_id: str = Field(index=True, unique=True)  # MSH-10 or SOP Instance UID we send
    patient_id: str | None = Field(default=None, index=True)
    priority: int = 0  # 1 = critical finding, delivered first
    payload_path: str = ""
    # pending -> delivered | dead
    state: str = Field(default="pending", index=True)
    attempts: int = 0
    last_ack_code: str | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    delivered_at: datetime | None = None


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    outcome: str = ""  # "AA", "AE", "AR", "timeout", "refused", "error", "0x0000"...
    detail: str | None = Field(default=None, sa_column=Column(Text))
    duration_ms: float | None = None


class Event(SQLModel, table=True):
    """Append-only log. ``hash`` = HMAC-SHA256 under the audit key named by ``key_id``
    (plain SHA-256 when ``key_id`` is None) of prev_hash + this row's canonical content."""

    __tablename__ = "event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    action: str = Field(index=True)  # stable dotted name, e.g. "ecgread.dicom.received"
    subject: str | None = Field(default=None, index=True)  # e.g. "ecg:1.2.3", "order:123"
    trace_id: str | None = Field(default=None, index=True)  # SOP Instance UID or MSH-10
    detail_json: str = Field(default="{}", sa_column=Column(Text))
    prev_hash: str = ""
    hash: str = Field(default="", index=True)
    key_id: str | None = None  # ecgread.audit.anchor.key_id of the signing key


class WebUser(SQLModel, table=True):
    """A local account of ``ecgread web`` (``ecgread user add``): an argon2id hash, never
    the password; ``failed_logins`` since the last success and ``locked_until`` lock it."""

    __tablename__ = "web_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    password_hash: str = ""
    role: str = "technician"  # cardiologist | technician | auditor
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class ReadReview(SQLModel, table=True):
    """A cardiologist's signature on a read: the confirmed (``F``) or corrected (``C``)
    content, and what changed against the automatic read (the live quality figures)."""

    __tablename__ = "read_review"
    id: int | None = Field(default=None, primary_key=True)
    read_id: int = Field(foreign_key="ecg_read.id", index=True)
    signed_by: str = Field(index=True)
    signed_at: datetime = Field(default_factory=utcnow, index=True)
    result_status: str = "F"  # OBR-25: F final, C corrected
    #: The signed statements, as the analyze JSON's ``statements`` list.
    statements_json: str = Field(default="[]", sa_column=Column(Text))
    #: Overridden measurements: {name: {"value": v, "automatic": v0, "reason": text}}.
    overrides_json: str = Field(default="{}", sa_column=Column(Text))
    #: Statement codes against the automatic read: kept, removed, added (JSON lists).
    kept_json: str = Field(default="[]", sa_column=Column(Text))
    removed_json: str = Field(default="[]", sa_column=Column(Text))
    added_json: str = Field(default="[]", sa_column=Column(Text))
    rhythm_revised: bool = False
    report_id: int | None = Field(default=None, foreign_key="report.id")

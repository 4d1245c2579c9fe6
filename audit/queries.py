"""The questions users ask of the audit trail, as plain functions returning rows.

Who sent what (``received``), which ECGs could not be read (``failed_ecgs``), what was
read with which versions (``reads``), what was sent where and acknowledged
(``deliveries``), which orders are still waiting (``orders``), and the event history of
one ECG or message (``events``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, case, func, union
from sqlmodel import Session, col, select

from ecgread.audit.tables import (
    Delivery,
    EcgRead,
    EcgRecord,
    Event,
    Hl7Order,
    ReadReview,
    Received,
)


def received(session: Session, *, protocol: str | None = None, status: str | None = None,
             identifier: str | None = None, patient_id: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             limit: int = 200) -> list[Received]:
    q = select(Received)
    if protocol:
        q = q.where(Received.protocol == protocol)
    if status:
        q = q.where(Received.status == status)
    if identifier:
        q = q.where(Received.identifier == identifier)
    if patient_id:
        q = q.where(Received.patient_id == patient_id)
    if since:
        q = q.where(col(Received.received_at) >= since)
    if until:
        q = q.where(col(Received.received_at) < until)
    return list(session.exec(q.order_by(col(Received.id).desc()).limit(limit)))


def ecgs(session: Session, *, patient_id: str | None = None, accession: str | None = None,
         sop_instance_uid: str | None = None, state: str | None = None,
         since: datetime | None = None, until: datetime | None = None,
         limit: int = 200) -> list[EcgRecord]:
    q = select(EcgRecord)
    if patient_id:
        q = q.where(EcgRecord.patient_id == patient_id)
    if accession:
        q = q.where(EcgRecord.accession_number == accession)
    if sop_instance_uid:
        q = q.where(EcgRecord.sop_instance_uid == sop_instance_uid)
    if state:
        q = q.where(EcgRecord.state == state)
    if since:
        q = q.where(col(EcgRecord.received_at) >= since)
    if until:
        q = q.where(col(EcgRecord.received_at) < until)
    return list(session.exec(q.order_by(col(EcgRecord.id).desc()).limit(limit)))


def failed_ecgs(session: Session, *, patient_id: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                limit: int = 200) -> list[EcgRecord]:
    """ECGs whose read failed (``state_detail`` says why, ``attempts`` how many tries)."""
    return ecgs(session, patient_id=patient_id, state="failed", since=since, until=until,
                limit=limit)


def reads(session: Session, *, sop_instance_uid: str | None = None, critical: bool | None = None,
          patient_id: str | None = None, limit: int = 200) -> list[tuple[EcgRead, EcgRecord]]:
    q = select(EcgRead, EcgRecord).where(EcgRead.ecg_id == EcgRecord.id)
    if patient_id:
        q = q.where(EcgRecord.patient_id == patient_id)
    if sop_instance_uid:
        q = q.where(EcgRecord.sop_instance_uid == sop_instance_uid)
    if critical is not None:
        q = q.where(EcgRead.critical == critical)
    return list(session.exec(q.order_by(col(EcgRead.id).desc()).limit(limit)))


def orders(session: Session, *, status: str | None = None, patient_id: str | None = None,
           accession: str | None = None, limit: int = 200) -> list[Hl7Order]:
    q = select(Hl7Order)
    if status:
        q = q.where(Hl7Order.status == status)
    if patient_id:
        q = q.where(Hl7Order.patient_id == patient_id)
    if accession:
        q = q.where(Hl7Order.accession_number == accession)
    return list(session.exec(q.order_by(col(Hl7Order.id).desc()).limit(limit)))


def deliveries(session: Session, *, state: str | None = None, destination: str | None = None,
               patient_id: str | None = None, sop_instance_uid: str | None = None,
               limit: int = 200) -> list[Delivery]:
    """What was sent where, its state, attempts and last ACK code."""
    q = select(Delivery)
    if state:
        q = q.where(Delivery.state == state)
    if destination:
        q = q.where(Delivery.destination == destination)
    if patient_id:
        q = q.where(Delivery.patient_id == patient_id)
    if sop_instance_uid:
        q = q.join(EcgRead, col(EcgRead.id) == col(Delivery.read_id)).join(
            EcgRecord, col(EcgRecord.id) == col(EcgRead.ecg_id)
        ).where(EcgRecord.sop_instance_uid == sop_instance_uid)
    return list(session.exec(q.order_by(col(Delivery.id).desc()).limit(limit)))


def events(session: Session, *, trace_id: str | None = None, action_prefix: str | None = None,
           patient_id: str | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = 500) -> list[Event]:
    """Events in order. ``patient_id`` selects the events traced to what was received for
    that patient (SOP Instance UIDs, MSH-10s) and to what was sent about them."""
    q = select(Event)
    if trace_id:
        q = q.where(Event.trace_id == trace_id)
    if patient_id:
        traces: CompoundSelect[str] = union(
            select(Received.identifier).where(Received.patient_id == patient_id),
            select(EcgRecord.sop_instance_uid).where(EcgRecord.patient_id == patient_id),
            select(Delivery.message_id).where(Delivery.patient_id == patient_id),
        )
        q = q.where(col(Event.trace_id).in_(traces))
    if action_prefix:
        q = q.where(col(Event.action).startswith(action_prefix))
    if since:
        q = q.where(col(Event.at) >= since)
    if until:
        q = q.where(col(Event.at) < until)
    return list(session.exec(q.order_by(col(Event.id)).limit(limit)))


def _unconfirmed() -> Any:
    reviewed = select(ReadReview.id).where(ReadReview.read_id == EcgRead.id).exists()
    return select(EcgRead, EcgRecord, Hl7Order).join(
        EcgRecord, col(EcgRecord.id) == col(EcgRead.ecg_id)).outerjoin(
        Hl7Order, col(Hl7Order.id) == col(EcgRecord.order_id)).where(
        EcgRead.trigger == "ingest", EcgRead.status == "ok", ~reviewed)


def worklist(session: Session, *, limit: int = 50,
             offset: int = 0) -> list[tuple[EcgRead, EcgRecord, Hl7Order | None]]:
    """Unconfirmed reads (ingest reads that succeeded and nobody signed yet): critical
    first, then oldest acquisition (or reception, where the ECG has no acquisition time).

    The page is chosen on the sort key and the read ID alone, and only its ``limit`` rows
    are loaded whole: sorting and skipping rows that carry their read's JSON (tens of kB
    each) made deep pages slow (666 ms at page 100 of 10,000 reads on SQLite).
    """
    when = func.coalesce(EcgRecord.acquisition_time, EcgRecord.received_at)
    page = (_unconfirmed().with_only_columns(col(EcgRead.id))
            .order_by(col(EcgRead.critical).desc(), when, col(EcgRead.id))
            .offset(offset).limit(limit))
    ids = [int(i) for i in session.execute(page).scalars()]
    if not ids:
        return []
    rows = {read.id: (read, record, order) for read, record, order in session.exec(
        _unconfirmed().where(col(EcgRead.id).in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def worklist_size(session: Session) -> tuple[int, int]:
    """(unconfirmed reads, of them critical)."""
    sub = _unconfirmed().subquery()
    total, critical = session.execute(
        select(func.count(), func.coalesce(func.sum(case((sub.c.critical, 1), else_=0)), 0))
        .select_from(sub)).one()
    return int(total), int(critical)


def reviews(session: Session, *, read_id: int | None = None, since: datetime | None = None,
            until: datetime | None = None, limit: int = 10_000) -> list[ReadReview]:
    """Signatures (confirmations F and corrections C), oldest first."""
    q = select(ReadReview)
    if read_id is not None:
        q = q.where(ReadReview.read_id == read_id)
    if since:
        q = q.where(col(ReadReview.signed_at) >= since)
    if until:
        q = q.where(col(ReadReview.signed_at) < until)
    return list(session.exec(q.order_by(col(ReadReview.id)).limit(limit)))


def review_figures(session: Session, *, since: datetime | None = None,
                   until: datetime | None = None) -> dict[str, Any]:
    """The live quality figures of the automatic reads, from the signatures in a period.

    Each read counts once, with its latest signature in the period against its automatic
    read: per statement code how often it was kept, removed or added, and the rhythm
    revision rate (reads whose rhythm statements the physician changed, over reads
    signed; Poon 2005 measured 13.2 % for MUSE).
    """
    import json

    latest: dict[int, ReadReview] = {}
    for r in reviews(session, since=since, until=until, limit=1_000_000):
        latest[r.read_id] = r
    per_code: dict[str, dict[str, int]] = {}
    for r in latest.values():
        for key, column in (("kept", r.kept_json), ("removed", r.removed_json),
                            ("added", r.added_json)):
            for code in json.loads(column or "[]"):
                per_code.setdefault(code, {"kept": 0, "removed": 0, "added": 0})[key] += 1
    n = len(latest)
    revised = sum(1 for r in latest.values() if r.rhythm_revised)
    return {"reads_signed": n, "rhythm_revised": revised,
            "rhythm_revision_rate": (revised / n) if n else None,
            "statements": dict(sorted(per_code.items()))}


def status_summary(session: Session, unfinished_states: tuple[str, ...]) -> dict[str, Any]:
    """What ``ecgread status`` shows from the database: ECGs not finished (and the oldest),
    failed ECGs, live (``pending``/``sending``) and dead deliveries.

    ``unfinished_states``: the ``ecg.state`` values of work not done
    (``ecgread.integration.recovery.UNFINISHED_STATES``).
    """
    from sqlalchemy import func

    def count(q: Any) -> int:
        return int(session.exec(q).one())

    oldest = session.exec(select(EcgRecord).where(col(EcgRecord.state).in_(unfinished_states))
                          .order_by(col(EcgRecord.received_at), col(EcgRecord.id)).limit(1)
                          ).first()
    oldest_delivery = session.exec(
        select(Delivery).where(col(Delivery.state).in_(("pending", "sending")))
        .order_by(col(Delivery.created_at), col(Delivery.id)).limit(1)).first()
    return {
        "ecgs_unfinished": count(select(func.count()).select_from(EcgRecord)
                                 .where(col(EcgRecord.state).in_(unfinished_states))),
        "oldest_unfinished_ecg": None if oldest is None else {
            "id": oldest.id, "state": oldest.state, "received_at": oldest.received_at,
            "attempts": oldest.attempts},
        "ecgs_failed": count(select(func.count()).select_from(EcgRecord)
                             .where(EcgRecord.state == "failed")),
        "deliveries_pending": count(select(func.count()).select_from(Delivery)
                                    .where(col(Delivery.state).in_(("pending", "sending")))),
        "oldest_pending_delivery": None if oldest_delivery is None else {
            "id": oldest_delivery.id, "destination": oldest_delivery.destination,
            "created_at": oldest_delivery.created_at, "attempts": oldest_delivery.attempts,
            "last": oldest_delivery.last_ack_code},
        "deliveries_dead": count(select(func.count()).select_from(Delivery)
                                 .where(Delivery.state == "dead")),
    }


def row_dict(row: Any) -> dict[str, Any]:
    """A row as a JSON-ready dict (datetimes as ISO strings)."""
    out = {}
    for key, value in row.model_dump().items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out

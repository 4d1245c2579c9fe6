"""The durable outbox: every result leaves through here, and none is dropped.

A ``delivery`` row is committed with the read's report (its payload file already written
durably), then sent by :func:`deliver_due`, from the in-process worker after each read, the
Celery ``deliver`` task, and the ``run_outbox`` loop that retries on a timer.

Rules
-----
- Due deliveries go highest priority first (critical findings = 1), then oldest first.
- Order per patient: a delivery waits while an older one of the same patient to the same
  destination is still pending, so an EHR never gets a patient's results out of order.
- An attempt is claimed with a lease (``state='sending'``, ``next_attempt_at`` = lease end)
  so two senders never send the same message; a sender that dies leaves a lease that
  expires and the delivery is tried again.
- AA (or 0x0000 from PACS, or the file written) is delivered. AE, AR, timeouts, refused or
  dropped connections are retried after min(initial x 2^(n-1), max) seconds; once the
  first attempt is older than ``retry_give_up_after_s`` the delivery is ``dead``: kept,
  visible (``ecgread audit deliveries --state dead``) and re-queueable, never dropped.
- Every attempt is a ``delivery_attempt`` row and an event.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.audit.tables import Delivery, DeliveryAttempt
from ecgread.config.settings import Settings
from ecgread.errors import DeliveryError

log = logging.getLogger("ecgread.outbox")

_OPEN_STATES = ("pending", "sending")
_clients_lock = threading.Lock()
_clients: dict[tuple[str, int], object] = {}
_send_locks: dict[tuple[str, int], threading.Lock] = {}


@dataclass(frozen=True)
class AttemptResult:
    delivered: bool
    outcome: str  # "AA", "AE", "AR", "timeout", "refused", "0x0000", "written", "error"
    detail: str = ""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def enqueue_delivery(session: Session, *, read_id: int, destination: str, payload_path: str,
                     message_id: str, patient_id: str | None, priority: int = 0) -> Delivery:
    """Add a delivery in the caller's transaction (commit it with the report it carries)."""
    row = Delivery(read_id=read_id, destination=destination, payload_path=payload_path,
                   message_id=message_id, patient_id=patient_id, priority=priority)
    session.add(row)
    session.flush()
    log_action(session, "ecgread.delivery.queued", subject=f"delivery:{row.id}",
               trace_id=message_id, destination=destination, priority=priority, read_id=read_id)
    return row


def backoff_s(settings: Settings, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1-based)."""
    return min(settings.retry_initial_s * 2 ** max(0, attempts - 1), settings.retry_max_interval_s)


def _due(session: Session, now: datetime, limit: int) -> list[Delivery]:
    older = Delivery.__table__.alias("older")  # type: ignore[attr-defined]
    blocked = (
        select(older.c.id)
        .where(older.c.patient_id == Delivery.patient_id,
               older.c.destination == Delivery.destination,
               older.c.state.in_(_OPEN_STATES),
               older.c.id < Delivery.id)
        .exists()
    )
    q = (select(Delivery)
         .where(col(Delivery.state).in_(_OPEN_STATES), col(Delivery.next_attempt_at) <= now,
                or_(col(Delivery.patient_id).is_(None), ~blocked))
         .order_by(col(Delivery.priority).desc(), col(Delivery.id))
         .limit(limit))
    return list(session.exec(q))


def _claim(settings: Settings, delivery_id: int, now: datetime) -> bool:
    lease_end = now + timedelta(seconds=settings.ack_timeout_s + 30.0)
    with session_scope(settings.audit_url) as session:
        result = session.execute(
            update(Delivery)
            .where(and_(col(Delivery.id) == delivery_id, col(Delivery.state).in_(_OPEN_STATES),
                        col(Delivery.next_attempt_at) <= now))
            .values(state="sending", next_attempt_at=lease_end)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def _send_ehr(settings: Settings, payload: Path) -> tuple[AttemptResult, str]:
    from ecgread.integration.mllp_client import MllpClient
    from ecgread.integration.security import client_context

    key = (settings.ehr_host, settings.ehr_port)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = MllpClient(
                settings.ehr_host, settings.ehr_port, settings.ack_timeout_s,
                client_context(settings) if settings.ehr_tls else None)
        lock = _send_locks.setdefault(key, threading.Lock())
    assert isinstance(client, MllpClient)
    with lock:  # one message in flight per connection
        try:
            # bytes as stored: read_text() would turn the CR segment ends into LF
            ack = client.send(payload.read_bytes().decode("utf-8"))
        except DeliveryError as exc:
            text = str(exc)
            outcome = ("timeout" if "no ACK" in text else
                       "refused" if "cannot connect" in text else "error")
            return AttemptResult(False, outcome, text), client.target
    return AttemptResult(ack.code in ("AA", "CA"), ack.code, ack.text), client.target


def _send_pacs(settings: Settings, payload: Path) -> tuple[AttemptResult, str]:
    import pydicom

    from ecgread.integration.pacs_store import send_to_pacs

    target = f"{settings.pacs_ae_title}@{settings.pacs_host}:{settings.pacs_port}"
    try:
        status = send_to_pacs(settings, pydicom.dcmread(payload))
    except DeliveryError as exc:
        return AttemptResult(False, "refused", str(exc)), target
    code = f"0x{status:04X}"
    return AttemptResult(status == 0 or (status & 0xF000) == 0xB000, code), target


def _write_file(settings: Settings, payload: Path, message_id: str) -> tuple[AttemptResult, str]:
    from ecgread.integration.object_store import write_durably

    target = settings.outbox_dir / f"{message_id}{payload.suffix or '.hl7'}"
    write_durably(target, payload.read_bytes())
    return AttemptResult(True, "written"), str(target)


def attempt(settings: Settings, delivery: Delivery) -> tuple[AttemptResult, str]:
    """Try one delivery once; never raises for a delivery fault."""
    payload = Path(delivery.payload_path)
    try:
        if delivery.destination == "ehr" and settings.ehr_host:
            return _send_ehr(settings, payload)
        if delivery.destination == "ehr":
            return _write_file(settings, payload, delivery.message_id)
        if delivery.destination == "pacs":
            return _send_pacs(settings, payload)
        return AttemptResult(False, "error", f"unknown destination {delivery.destination}"), ""
    except OSError as exc:  # payload unreadable, disk full: retried like a transport fault
        return AttemptResult(False, "error", f"{type(exc).__name__}: {exc}"), ""


def _record(settings: Settings, delivery_id: int, result: AttemptResult, target: str,
            started: datetime, duration_ms: float) -> str:
    with session_scope(settings.audit_url) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.attempts += 1
        row.target = target or row.target
        row.last_ack_code = result.outcome
        row.last_error = None if result.delivered else result.detail
        session.add(DeliveryAttempt(delivery_id=delivery_id, at=started, outcome=result.outcome,
                                    detail=result.detail or None, duration_ms=duration_ms))
        log_action(session, "ecgread.delivery.attempted", subject=f"delivery:{delivery_id}",
                   trace_id=row.message_id, outcome=result.outcome, attempt=row.attempts,
                   target=row.target)
        now = _now()
        if result.delivered:
            row.state, row.delivered_at = "delivered", now
            log_action(session, "ecgread.delivery.acknowledged", subject=f"delivery:{delivery_id}",
                       trace_id=row.message_id, outcome=result.outcome, target=row.target)
        elif (now - _aware(row.created_at)).total_seconds() >= settings.retry_give_up_after_s:
            row.state = "dead"
            log_action(session, "ecgread.delivery.dead", subject=f"delivery:{delivery_id}",
                       trace_id=row.message_id, attempts=row.attempts, last=result.outcome)
            log.error("delivery %s is dead after %d attempts (last: %s)", delivery_id,
                      row.attempts, result.outcome)
        else:
            row.state = "pending"
            row.next_attempt_at = now + timedelta(seconds=backoff_s(settings, row.attempts))
        session.add(row)
        return row.state


def deliver_due(settings: Settings, now: datetime | None = None, limit: int = 100) -> int:
    """Attempt every due delivery once, in order; returns how many were attempted."""
    now = now or _now()
    with session_scope(settings.audit_url) as session:
        due = [d.id for d in _due(session, now, limit)]
    attempted = 0
    for delivery_id in due:
        assert delivery_id is not None
        if not _claim(settings, delivery_id, now):
            continue
        with session_scope(settings.audit_url) as session:
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            session.expunge(delivery)
        started = _now()
        t0 = time.perf_counter()
        result, target = attempt(settings, delivery)
        _record(settings, delivery_id, result, target, started, (time.perf_counter() - t0) * 1000.0)
        attempted += 1
    return attempted


def dead_letters(session: Session) -> list[Delivery]:
    return list(session.exec(select(Delivery).where(Delivery.state == "dead")
                             .order_by(col(Delivery.id))))


def requeue(session: Session, delivery_id: int) -> Delivery:
    """Send a dead letter again (an operator's decision, recorded as such)."""
    row = session.get(Delivery, delivery_id)
    if row is None or row.state != "dead":
        raise LookupError(f"delivery {delivery_id} is not a dead letter")
    row.state, row.next_attempt_at, row.created_at = "pending", _now(), _now()
    session.add(row)
    log_action(session, "ecgread.delivery.requeued", subject=f"delivery:{delivery_id}",
               trace_id=row.message_id)
    return row


def close_connections() -> None:
    """Close the persistent EHR connections of this process (on shutdown)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()  # type: ignore[attr-defined]


def run_outbox(settings: Settings, stop_event: threading.Event, poll_s: float = 2.0) -> None:
    """Retry loop for ``ecgread serve``: deliver what is due until ``stop_event`` is set."""
    while not stop_event.is_set():
        try:
            deliver_due(settings)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
            log.exception("outbox pass failed; retrying in %.1f s", poll_s)
        stop_event.wait(poll_s)
    close_connections()

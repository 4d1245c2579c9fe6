"""The durable outbox: every result leaves through here, and none is dropped.

A ``delivery`` row is committed with the read's report (its payload file already written
durably), then sent by :func:`deliver_due`: from the outbox loop (:func:`run_outbox`, its
own thread in ``ecgread serve``, woken after each read and on a timer) or the Celery
``deliver`` task on its own queues. Never inline with a read: a silent EHR must not stall
reads.

Rules
-----
- Due deliveries go highest priority first (critical findings = 1), then oldest first.
- Order per patient, among live deliveries: a delivery waits while an older one of the
  same patient to the same destination is ``pending`` or ``sending``. A ``dead`` one never
  blocks the patient's later results.
- An attempt is claimed with a lease (``state='sending'``, ``next_attempt_at`` = lease end)
  so two senders never send the same message; a sender that dies leaves a lease that
  expires and the delivery is tried again.
- Every attempt is recorded before it is sent: the claim commits ``attempts + 1``, a
  ``delivery_attempt`` row with outcome ``sending`` and ``ecgread.delivery.sending``. The
  answer then fills in the row. A kill while sending leaves the row ``sending``; the next
  claim marks it ``interrupted``. So ``attempts`` counts every copy that may have left.
- AA/CA (or 0x0000/0xB0xx from PACS, or the file written) is delivered. AR/CR ("do not
  resend", HL7 v2.5.1 Table 0008) and the PACS statuses that no resend can change
  (:data:`PACS_FINAL`) are final: ``dead`` at once, with the reason. AE, timeouts,
  refused, dropped or garbled connections are retried after min(initial x 2^(n-1), max)
  seconds; once the first attempt is older than ``retry_give_up_after_s`` the delivery is
  ``dead``. Dead letters are kept, visible (``ecgread audit deliveries --state dead``,
  ``ecgread status``) and re-queueable, never dropped.
- A resend carries the same payload, so the same MSH-10, and the receiver can deduplicate.
  An ACK that arrives after the timeout (read from the kept connection before the next
  send) is matched to its delivery by MSA-2 and counted: ``ecgread.delivery.late_ack``,
  and an AA makes the delivery ``delivered`` even after a resend or once ``dead``.
- A transport fault (timeout, refused, closed, garbage) ends the pass for that
  destination: the remaining deliveries to it wait for the next pass, untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.audit.tables import Delivery, DeliveryAttempt
from ecgread.config.settings import Settings
from ecgread.errors import DeliveryError
from ecgread.integration.identifiers import printable
from ecgread.integration.mllp_client import Ack

log = logging.getLogger("ecgread.outbox")

_OPEN_STATES = ("pending", "sending")
_clients_lock = threading.Lock()
_clients: dict[tuple[str, int], object] = {}
_send_locks: dict[tuple[str, int], threading.Lock] = {}


#: Outcomes of an attempt that say the destination is unreachable or misbehaving: the
#: rest of the pass skips it.
TRANSPORT_FAULTS = frozenset({"timeout", "refused", "closed", "garbage", "error"})
#: HL7 acknowledgment codes that say "do not resend" (v2.5.1 Table 0008).
HL7_FINAL = frozenset({"AR", "CR"})


def pacs_status_is_final(status: int) -> bool:
    """C-STORE failures no resend can change (PS3.4 B.2.3, PS3.7 C.5): data set does not
    match the SOP class (0xA9xx), cannot understand (0xCxxx), SOP class not supported
    (0x0122), duplicate SOP instance (0x0111). Out of resources (0xA7xx) and processing
    failures are retried."""
    return (status & 0xFF00) == 0xA900 or (status & 0xF000) == 0xC000 or status in (
        0x0122, 0x0111)


@dataclass(frozen=True)
class AttemptResult:
    delivered: bool
    #: "AA", "AE", "AR", "timeout", "refused", "closed", "garbage", "0x0000", "written",
    #: "error"
    outcome: str
    detail: str = ""
    #: True when the destination said not to send this again (AR, a final PACS status).
    final: bool = False
    #: True when the ACK answered an earlier copy (read before this one was sent).
    late: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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


def _claim(settings: Settings, delivery_id: int, now: datetime) -> tuple[Delivery, int] | None:
    """Take the lease and record the attempt, committed before anything is sent; returns
    the delivery (detached) and its attempt row's id, or None when another sender has it."""
    lease_end = now + timedelta(seconds=settings.ack_timeout_s + 30.0)
    with session_scope(settings.audit_url) as session:
        result = session.execute(
            update(Delivery)
            .where(and_(col(Delivery.id) == delivery_id, col(Delivery.state).in_(_OPEN_STATES),
                        col(Delivery.next_attempt_at) <= now))
            .values(state="sending", next_attempt_at=lease_end,
                    attempts=Delivery.attempts + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = session.get(Delivery, delivery_id)
        assert row is not None
        session.refresh(row)
        for stale in session.exec(select(DeliveryAttempt).where(
                DeliveryAttempt.delivery_id == delivery_id,
                DeliveryAttempt.outcome == "sending")):
            stale.outcome, stale.detail = "interrupted", "the sender stopped before an answer"
            session.add(stale)
        attempt_row = DeliveryAttempt(delivery_id=delivery_id, at=_now(), outcome="sending")
        session.add(attempt_row)
        session.flush()
        log_action(session, "ecgread.delivery.sending", subject=f"delivery:{delivery_id}",
                   trace_id=row.message_id, attempt=row.attempts, destination=row.destination)
        session.expunge(row)
        assert attempt_row.id is not None
        return row, attempt_row.id


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
            return AttemptResult(False, exc.outcome, str(exc)), client.target
        finally:
            late = client.take_late_acks()
    _settle_late_acks(settings, late)
    detail = ack.text + (" (late ACK of an earlier copy; not sent again)" if ack.late else "")
    return AttemptResult(ack.code in ("AA", "CA"), ack.code, detail.strip(),
                         final=ack.code in HL7_FINAL, late=ack.late), client.target


def poll_late_acks(settings: Settings) -> int:
    """Read late ACKs waiting on the open EHR connection and settle them; returns how many.

    Run at the start of every :func:`deliver_due` pass, so a late AA settles its delivery
    before it is due again (it then leaves ``pending`` without another copy).
    """
    from ecgread.integration.mllp_client import MllpClient

    key = (settings.ehr_host, settings.ehr_port)
    with _clients_lock:
        client = _clients.get(key)
        lock = _send_locks.setdefault(key, threading.Lock())
    if not isinstance(client, MllpClient):
        return 0
    with lock:
        client.poll()
        late = client.take_late_acks()
    _settle_late_acks(settings, late)
    return len(late)


def _settle_late_acks(settings: Settings, acks: list[Ack]) -> None:
    """Match ACKs of earlier copies to their deliveries by MSA-2 (= our MSH-10), count them
    and settle the delivery: AA/CA delivered (also from ``dead``), AR/CR dead, AE noted."""
    for ack in acks:
        with session_scope(settings.audit_url) as session:
            row = session.exec(select(Delivery).where(
                Delivery.message_id == ack.control_id)).first()
            if row is None:
                log.warning("late ACK for a message we did not send (%s)",
                            printable(ack.control_id))
                continue
            before = row.state
            if row.state != "delivered":
                if ack.code in ("AA", "CA"):
                    row.state, row.delivered_at = "delivered", _now()
                    row.last_error = None
                elif ack.code in HL7_FINAL:
                    row.state, row.last_error = "dead", ack.text or f"{ack.code} (late)"
                row.last_ack_code = ack.code
                session.add(row)
            log_action(session, "ecgread.delivery.late_ack", subject=f"delivery:{row.id}",
                       trace_id=row.message_id, code=ack.code, state_before=before,
                       state=row.state, after_ms=round(ack.duration_ms, 1))


def _send_pacs(settings: Settings, payload: Path) -> tuple[AttemptResult, str]:
    import pydicom

    from ecgread.integration.pacs_store import send_to_pacs

    target = f"{settings.pacs_ae_title}@{settings.pacs_host}:{settings.pacs_port}"
    try:
        status = send_to_pacs(settings, pydicom.dcmread(payload))
    except DeliveryError as exc:
        return AttemptResult(False, "refused", str(exc)), target
    code = f"0x{status:04X}"
    final = pacs_status_is_final(status)
    return AttemptResult(status == 0 or (status & 0xF000) == 0xB000, code,
                         f"C-STORE status {code}" if final else "", final=final), target


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


def _record(settings: Settings, delivery_id: int, attempt_id: int, result: AttemptResult,
            target: str, duration_ms: float) -> str:
    with session_scope(settings.audit_url) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.target = target or row.target
        row.last_ack_code = result.outcome
        row.last_error = None if result.delivered else result.detail
        attempt_row = session.get(DeliveryAttempt, attempt_id)
        assert attempt_row is not None
        attempt_row.outcome, attempt_row.detail = result.outcome, result.detail or None
        attempt_row.duration_ms = duration_ms
        session.add(attempt_row)
        log_action(session, "ecgread.delivery.attempted", subject=f"delivery:{delivery_id}",
                   trace_id=row.message_id, outcome=result.outcome, attempt=row.attempts,
                   target=row.target, late=result.late or None)
        now = _now()
        if result.delivered:
            row.state, row.delivered_at = "delivered", now
            log_action(session, "ecgread.delivery.acknowledged", subject=f"delivery:{delivery_id}",
                       trace_id=row.message_id, outcome=result.outcome, target=row.target)
            log.info("delivery %s (%s msg=%s) to %s: delivered (%s, attempt %d)", delivery_id,
                     row.destination, row.message_id, row.target, result.outcome, row.attempts)
        elif result.final or (now - _aware(row.created_at)).total_seconds() \
                >= settings.retry_give_up_after_s:
            row.state = "dead"
            reason = (f"{result.outcome}: {result.detail}" if result.detail else result.outcome)
            log_action(session, "ecgread.delivery.dead", subject=f"delivery:{delivery_id}",
                       trace_id=row.message_id, attempts=row.attempts, last=result.outcome,
                       final=result.final, reason=reason)
            log.error("delivery %s is dead after %d attempt(s): %s", delivery_id,
                      row.attempts, "refused by the destination (final)" if result.final
                      else f"gave up (last: {result.outcome})")
        else:
            row.state = "pending"
            wait_s = backoff_s(settings, row.attempts)
            row.next_attempt_at = now + timedelta(seconds=wait_s)
            log.warning("delivery %s (%s msg=%s) to %s failed: %s%s (attempt %d); retry in "
                        "%.0f s", delivery_id, row.destination, row.message_id,
                        row.target or "?", result.outcome,
                        # transport faults only: an ACK's text is the EHR's and may name a patient
                        f" ({result.detail})" if result.detail and result.outcome in
                        ("refused", "timeout", "error") else "", row.attempts, wait_s)
        session.add(row)
        return row.state


def deliver_due(settings: Settings, now: datetime | None = None, limit: int = 100) -> int:
    """Attempt every due delivery once, in order; returns how many were attempted.

    A transport fault ends the pass for that destination (the others wait, untouched).
    """
    now = now or _now()
    if settings.ehr_host:  # a late AA settles its delivery before it could be sent again
        poll_late_acks(settings)
    with session_scope(settings.audit_url) as session:
        due = [(d.id, d.destination) for d in _due(session, now, limit)]
    attempted = 0
    unreachable: set[str] = set()
    for delivery_id, destination in due:
        assert delivery_id is not None
        if destination in unreachable:
            continue
        claimed = _claim(settings, delivery_id, now)
        if claimed is None:
            continue
        delivery, attempt_id = claimed
        t0 = time.perf_counter()
        result, target = attempt(settings, delivery)
        _record(settings, delivery_id, attempt_id, result, target,
                (time.perf_counter() - t0) * 1000.0)
        attempted += 1
        if result.outcome in TRANSPORT_FAULTS:
            unreachable.add(destination)
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


def run_outbox(settings: Settings, stop_event: threading.Event, poll_s: float = 2.0,
               wake: threading.Event | None = None) -> None:
    """The outbox loop of ``ecgread serve``, on its own thread: deliver what is due (and
    settle late ACKs), every ``poll_s`` seconds or as soon as ``wake`` is set (after a
    read), until ``stop_event`` is set."""
    wake = wake or threading.Event()
    while not stop_event.is_set():
        wake.clear()
        try:
            deliver_due(settings)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
            log.exception("outbox pass failed; retrying in %.1f s", poll_s)
        wake.wait(poll_s)
    close_connections()

"""The append-only, hash-chained event log: the one function every state change calls.

Each row's ``hash`` covers the previous row's hash and this row's canonical content:
HMAC-SHA256 under the audit key when the process has one (``key_id`` names the key; see
:mod:`ecgread.audit.anchor`), plain SHA-256 otherwise. Editing, deleting or inserting a
row breaks the chain at that point, and without the key no row can be recomputed or
appended so that it verifies. Action names are stable and dotted, e.g.
``ecgread.dicom.stored``, ``ecgread.hl7.order.created``, ``ecgread.read.finished``,
``ecgread.delivery.acknowledged``.

At every commit (session hooks registered here, for every session):

1. the rows of the sealed tables the transaction wrote are hashed into the ``_rows``
   detail of its last event (:mod:`ecgread.audit.seals`), then that event is signed;
2. when the chain passes a multiple of ``audit_checkpoint_every`` events, an
   ``ecgread.audit.checkpoint`` event records the count and the chain head, and after the
   commit the checkpoint is copied to the checkpoint file.

:func:`verify_chain` checks all of it (``ecgread audit verify``).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, text
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from ecgread.audit import seals
from ecgread.audit.anchor import Anchor, anchor_for, key_id, sign, write_checkpoint_file
from ecgread.audit.chain import CHECKPOINT, _digest, _row_digest, checkpoint_body
from ecgread.audit.tables import Event, utcnow
from ecgread.audit.verify import verify

__all__ = ["CHECKPOINT", "checkpoint", "log_action", "verify_chain"]

#: A constant key for PostgreSQL's transaction-level advisory lock on the chain head.
_CHAIN_LOCK_KEY = 0x45434752  # "ECGR"
_ROWS_ACTION = "ecgread.audit.rows"
_LAST = "ecgread.audit.last_event"
_PENDING_FILE = "ecgread.audit.checkpoint_file"


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})


def _head(session: Session) -> Event | None:
    return session.exec(select(Event).order_by(col(Event.id).desc()).limit(1)).first()


def log_action(session: Session, action: str, *, subject: str | None = None,
               trace_id: str | None = None, **detail: Any) -> Event:
    """Append one event in the caller's transaction (committed with the change it records).

    ``detail`` must not carry patient names; identifiers (SOP UID, MSH-10, accession)
    are fine, this is the audit store, not a plain log.
    """
    _lock_chain(session)
    last = _head(session)
    prev_hash = last.hash if last else ""
    at = utcnow()
    detail_json = json.dumps(detail, sort_keys=True, default=str, separators=(",", ":"))
    anchor = anchor_for(session)
    key = anchor.key if anchor else None
    row = Event(at=at, action=action, subject=subject, trace_id=trace_id,
                detail_json=detail_json, prev_hash=prev_hash,
                key_id=key_id(key) if key else None,
                hash=_digest(prev_hash, at, action, subject, trace_id, detail_json, key))
    session.add(row)
    session.flush()
    session.info[_LAST] = row
    return row


def _last_checkpoint(session: Session) -> Event | None:
    return session.exec(select(Event).where(Event.action == CHECKPOINT)
                        .order_by(col(Event.id).desc()).limit(1)).first()


def _chain_length(session: Session) -> int:
    """Events in the chain: the last checkpoint's count plus the events after it (a range
    scan, not a count of the whole table)."""
    last = _last_checkpoint(session)
    query = sa_select(func.count()).select_from(Event)
    base = 0
    if last is not None:
        base = int(json.loads(last.detail_json).get("count", 0)) + 1
        query = query.where(col(Event.id) > last.id)
    return base + int(session.execute(query).scalar_one())


def checkpoint(session: Session, reason: str) -> Event:
    """Append a checkpoint event now (start, stop, every N events); the file copy is
    written when the transaction commits."""
    _lock_chain(session)
    head = _head(session)
    count = _chain_length(session)
    anchor = anchor_for(session)
    body: dict[str, Any] = {"count": count, "head_id": head.id if head else None,
            "head_hash": head.hash if head else ""}
    mac = sign(anchor.key, checkpoint_body(body)) if anchor and anchor.key else None
    row = log_action(session, CHECKPOINT, subject="audit", reason=reason, mac=mac, **body)
    session.info[_PENDING_FILE] = {"count": count + 1, "head_id": row.id,
                                   "head_hash": row.hash, "at": row.at.isoformat()}
    return row


def _before_commit(session: OrmSession) -> None:
    """Seal the rows this transaction wrote into its last event, then checkpoint."""
    sess: Session = session  # type: ignore[assignment]
    sess.flush()
    sealed = seals.seal_rows(sess)
    last: Event | None = sess.info.pop(_LAST, None)
    anchor = anchor_for(sess)
    if sealed is not None:
        if last is not None and last in sess and last.action != CHECKPOINT:
            detail = json.loads(last.detail_json)
            detail["_rows"] = sealed
            last.detail_json = json.dumps(detail, sort_keys=True, default=str,
                                          separators=(",", ":"))
            last.hash = _row_digest(last, anchor.key if anchor else None)
            sess.flush()
        else:
            last = log_action(sess, _ROWS_ACTION, subject="audit", _rows=sealed)
        sess.info.pop(_LAST, None)
    if last is None or anchor is None or last.action == CHECKPOINT:
        return
    previous = _last_checkpoint(sess)
    if (last.id or 0) - (previous.id or 0 if previous else 0) >= anchor.checkpoint_every:
        checkpoint(sess, "every")
        sess.info.pop(_LAST, None)


def _after_commit(session: OrmSession) -> None:
    record = session.info.pop(_PENDING_FILE, None)
    anchor = anchor_for(session)  # type: ignore[arg-type]
    if record is not None and anchor is not None:
        try:
            write_checkpoint_file(anchor, record)
        except OSError:
            pass  # the checkpoint row is committed; the next one writes the file


def _after_rollback(session: OrmSession) -> None:
    for name in (_LAST, _PENDING_FILE):
        session.info.pop(name, None)
    seals.clear(session)  # type: ignore[arg-type]


sa_event.listen(OrmSession, "after_flush", lambda s, _ctx: seals.note_flush(s))
sa_event.listen(OrmSession, "do_orm_execute", seals.note_statement)
sa_event.listen(OrmSession, "before_commit", _before_commit)
sa_event.listen(OrmSession, "after_commit", _after_commit)
sa_event.listen(OrmSession, "after_soft_rollback", lambda s, _t: _after_rollback(s))


def verify_chain(session: Session, anchor: Anchor | None = None) -> list[str]:
    """Problems found in the event chain, its checkpoints and the sealed rows; an empty
    list means all is intact. ``anchor`` defaults to the one registered for the database
    (:func:`ecgread.audit.anchor.open_audit`)."""
    return verify(session, anchor if anchor is not None else anchor_for(session))

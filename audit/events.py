"""The append-only, hash-chained event log: the one function every state change calls.

Each row's ``hash`` is sha256 over the previous row's hash and this row's canonical
content, so editing or deleting a row breaks the chain at that point
(:func:`verify_chain` finds it). Action names are stable and dotted, e.g.
``ecgread.dicom.stored``, ``ecgread.hl7.order.created``, ``ecgread.read.finished``,
``ecgread.delivery.acknowledged``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from ecgread.audit.tables import Event, utcnow

#: A constant key for PostgreSQL's transaction-level advisory lock on the chain head.
_CHAIN_LOCK_KEY = 0x45434752  # "ECGR"


def _digest(prev_hash: str, at: datetime, action: str, subject: str | None,
            trace_id: str | None, detail_json: str) -> str:
    content = json.dumps([prev_hash, at.isoformat(), action, subject, trace_id, detail_json],
                         separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


def log_action(session: Session, action: str, *, subject: str | None = None,
               trace_id: str | None = None, **detail: Any) -> Event:
    """Append one event in the caller's transaction (committed with the change it records).

    ``detail`` must not carry patient names; identifiers (SOP UID, MSH-10, accession)
    are fine, this is the audit store, not a plain log.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    last = session.exec(select(Event).order_by(col(Event.id).desc()).limit(1)).first()
    prev_hash = last.hash if last else ""
    at = utcnow()
    detail_json = json.dumps(detail, sort_keys=True, default=str, separators=(",", ":"))
    row = Event(at=at, action=action, subject=subject, trace_id=trace_id,
                detail_json=detail_json, prev_hash=prev_hash,
                hash=_digest(prev_hash, at, action, subject, trace_id, detail_json))
    session.add(row)
    session.flush()
    return row


def verify_chain(session: Session) -> list[str]:
    """Problems found in the event chain; an empty list means it is intact."""
    problems: list[str] = []
    prev_hash = ""
    for row in session.exec(select(Event).order_by(col(Event.id))):
        if row.prev_hash != prev_hash:
            problems.append(f"event {row.id}: prev_hash does not match event before it")
        expected = _digest(row.prev_hash, row.at, row.action, row.subject, row.trace_id,
                           row.detail_json)
        if row.hash != expected:
            problems.append(f"event {row.id}: content does not match its hash")
        prev_hash = row.hash
    return problems

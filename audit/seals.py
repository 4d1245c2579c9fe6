"""Row seals: the content hash of every received, ECG, order, read, report and delivery row
written, recorded in the hash-chained event that created or changed it.

The event chain covers events; these seals extend it to the rows the events describe.
Whenever a transaction commits, the rows of :data:`SEALED_TABLES` it inserted, updated
or deleted (through the ORM: ``session.add``, or ``update()``/``delete()`` statements)
are hashed as they are in the database and the hashes go into the ``_rows`` detail of
the transaction's last event (or of an ``ecgread.audit.rows`` event when it logged
none), before that event is signed. ``ecgread audit verify`` hashes every row again and
compares it with its latest seal: a row edited or deleted outside ecgread, or inserted
without one, is reported.

A seal lists the columns it hashed, so a later migration that adds a column does not
invalidate earlier seals. Raw SQL that writes these tables (``text("UPDATE ...")``) is not
seen and will be reported as tampering: write them through the ORM.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Table, select
from sqlmodel import Session, SQLModel

from ecgread.audit import tables as _tables  # noqa: F401  registers the tables

__all__ = ["SEALED_TABLES", "row_hash", "seal_rows", "touched"]

#: The tables whose rows are sealed, by table name.
SEALED_TABLES: dict[str, Table] = {
    name: SQLModel.metadata.tables[name]
    for name in ("received", "ecg", "hl7_order", "ecg_read", "report", "delivery",
                 "delivery_attempt")
}
_TOUCHED = "ecgread.audit.touched"


def row_hash(table: str, columns: list[str], row: Any) -> str:
    """SHA-256 (hex) of a row's values in ``columns``, as the database returns them."""
    values = [[c, row[c]] for c in columns]
    content = json.dumps([table, values], default=str, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


def touched(session: Session) -> dict[str, set[int]]:
    """Row ids of sealed tables written in the session's current transaction."""
    rows: dict[str, set[int]] = session.info.setdefault(_TOUCHED, {})
    return rows


def note_flush(session: Session) -> None:
    """after_flush: remember the sealed rows the flush wrote (ids are assigned by now)."""
    rows = touched(session)
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        name = getattr(obj, "__tablename__", None)
        if name in SEALED_TABLES and getattr(obj, "id", None) is not None:
            rows.setdefault(name, set()).add(int(obj.id))


def note_statement(state: Any) -> None:
    """do_orm_execute: before an ORM ``update()``/``delete()`` of a sealed table runs,
    remember the ids it will touch."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is None or table.name not in SEALED_TABLES or table.name == "":
        return
    where = state.statement.whereclause
    query = select(table.c.id)
    if where is not None:
        query = query.where(where)
    ids = state.session.execute(query).scalars().all()
    touched(state.session).setdefault(table.name, set()).update(int(i) for i in ids)


def seal_rows(session: Session) -> dict[str, Any] | None:
    """The seals of the rows written in this transaction (call after the last flush), as
    ``{table: {"cols": [...], "rows": {id: sha256 or None if deleted}}}``; None if none."""
    rows = session.info.pop(_TOUCHED, None)
    if not rows:
        return None
    seals: dict[str, Any] = {}
    for name, ids in sorted(rows.items()):
        table = SEALED_TABLES[name]
        columns = [c.name for c in table.columns]
        found = {int(r.id): row_hash(name, columns, r._mapping)
                 for r in session.execute(select(table).where(table.c.id.in_(sorted(ids))))}
        seals[name] = {"cols": columns,
                       "rows": {str(i): found.get(i) for i in sorted(ids)}}
    return seals


def clear(session: Session) -> None:
    session.info.pop(_TOUCHED, None)

"""``ecgread audit verify``: the event chain, its signatures, its checkpoints (in the
database and in the checkpoint file) and the sealed rows, checked in one pass.

What each check catches (the tampering cases of issue 11):

- an edited event: its hash (HMAC) no longer matches its content;
- a deleted or inserted event in the middle: the next event's ``prev_hash`` breaks;
- an appended (forged) event or a chain recomputed without the key: the HMAC does not
  verify, or an unsigned event follows signed ones;
- a cut tail or an emptied table: the database holds fewer events than the signed
  checkpoint file records, or its head is not the file's;
- an edited, deleted or inserted received, ECG, order, read, report or delivery row: the
  row does not hash to its latest seal, a sealed row is gone, or a row has no seal.

Without a key only the plain chain and the unsigned checkpoint file are checked, and the
``notes`` say so.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from ecgread.audit.anchor import Anchor, file_mac_ok, key_id, read_checkpoint_file, sign
from ecgread.audit.chain import CHECKPOINT, checkpoint_body, event_hash_ok
from ecgread.audit.seals import SEALED_TABLES, row_hash
from ecgread.audit.tables import Event

__all__ = ["verify"]


def verify(session: Session, anchor: Anchor | None, notes: list[str] | None = None) -> list[str]:
    """Problems found (empty: intact). ``notes`` receives what could not be checked."""
    notes = notes if notes is not None else []
    problems: list[str] = []
    key = anchor.key if anchor else None
    kid = key_id(key) if key else None
    path = anchor.checkpoint_file if anchor else None
    record: dict[str, Any] | None = None
    if path is not None:
        try:
            record = read_checkpoint_file(path)
        except (OSError, ValueError):
            problems.append(f"checkpoint file {path} is unreadable")
        if record is not None:
            ok = file_mac_ok(record, key)
            if ok is False:
                problems.append(f"checkpoint file {path}: signature does not verify")
            elif ok is None and key:
                problems.append(f"checkpoint file {path} is not signed")
    if key is None:
        notes.append("no audit HMAC key: events are hash-chained but not signed, so a "
                      "chain recomputed by someone who can write the database is not detected")

    seal: dict[tuple[str, int], tuple[str | None, list[str], int]] = {}
    prev_hash, count, signed, unsigned, unverifiable = "", 0, False, 0, 0
    checkpoints, file_head_seen = 0, False
    for row in session.exec(select(Event).order_by(col(Event.id))).yield_per(1000):
        count += 1
        if row.prev_hash != prev_hash:
            problems.append(f"event {row.id}: prev_hash does not match event before it")
        if row.key_id is None:
            unsigned += 1
            if signed:
                problems.append(f"event {row.id}: unsigned event after signed ones "
                                "(forged, or written without the key)")
            elif not event_hash_ok(row, None):
                problems.append(f"event {row.id}: content does not match its hash")
        else:
            signed = True
            if key is None:
                unverifiable += 1
            elif row.key_id != kid:
                problems.append(f"event {row.id}: signed with another key ({row.key_id})")
            elif not event_hash_ok(row, key):
                problems.append(f"event {row.id}: content does not match its signature")
        try:
            detail = json.loads(row.detail_json)
        except ValueError:
            detail = {}
        if row.action == CHECKPOINT:
            checkpoints += 1
            if detail.get("count") != count - 1 or detail.get("head_hash") != prev_hash:
                problems.append(f"event {row.id}: checkpoint records {detail.get('count')} "
                                f"events before it, the chain has {count - 1}")
            if key and row.key_id == kid and not (detail.get("mac") and hmac.compare_digest(
                    str(detail["mac"]), sign(key, checkpoint_body(detail)))):
                problems.append(f"event {row.id}: checkpoint signature does not verify")
        for table, sealed in (detail.get("_rows") or {}).items():
            cols = list(sealed.get("cols") or [])
            for rid, digest in (sealed.get("rows") or {}).items():
                seal[(table, int(rid))] = (digest, cols, int(row.id or 0))
        if record is not None and row.id == record.get("head_id"):
            file_head_seen = True
            if count != record.get("count") or row.hash != record.get("head_hash"):
                problems.append(f"event {row.id}: not the chain head the checkpoint file "
                                f"records (event {record.get('count')} of the chain)")
        prev_hash = row.hash

    if record is not None and count < int(record.get("count") or 0):
        problems.append(f"the log holds {count} events, the checkpoint file records "
                        f"{record.get('count')} (written {record.get('at')}): events were "
                        "deleted from the tail")
    elif record is not None and not file_head_seen:
        problems.append(f"the checkpoint file's head event {record.get('head_id')} is missing")
    if record is None and checkpoints and path is not None:
        problems.append(f"checkpoint file {path} is missing, the database has "
                        f"{checkpoints} checkpoint(s)")
    if unverifiable:
        notes.append(f"{unverifiable} signed event(s) not checked: no key given")
    if unsigned and signed:
        notes.append(f"{unsigned} event(s) before the audit key was configured are "
                     "protected by the hash chain only")
    problems += _verify_rows(session, seal, notes)
    return problems


def _verify_rows(session: Session, seal: dict[tuple[str, int], tuple[str | None, list[str], int]],
                 notes: list[str]) -> list[str]:
    problems: list[str] = []
    first_sealed: dict[str, int] = {}
    for (sealed_name, rid) in seal:
        first_sealed[sealed_name] = min(rid, first_sealed.get(sealed_name, rid))
    for name, table in SEALED_TABLES.items():
        seen: set[int] = set()
        older = 0
        query = sa_select(table).order_by(table.c.id).execution_options(yield_per=1000)
        for row in session.execute(query):
            rid = int(row.id)
            seen.add(rid)
            entry = seal.get((name, rid))
            if entry is None:
                if name in first_sealed and rid > first_sealed[name]:
                    problems.append(f"{name} {rid}: row has no seal (written outside ecgread)")
                else:
                    older += 1
                continue
            digest, cols, event_id = entry
            if digest is None:
                problems.append(f"{name} {rid}: row was deleted (event {event_id}) and is back")
            elif row_hash(name, cols, _Row(row._mapping)) != digest:
                problems.append(f"{name} {rid}: row differs from its seal (event {event_id})")
        for (table_name, rid), (digest, _cols, event_id) in seal.items():
            if table_name == name and digest is not None and rid not in seen:
                problems.append(f"{name} {rid}: sealed row (event {event_id}) was deleted")
        if older:
            notes.append(f"{name}: {older} row(s) older than row sealing are not covered")
    return problems


class _Row:
    """A row mapping that answers None for a column it no longer has."""

    def __init__(self, mapping: Any) -> None:
        self._mapping = mapping

    def __getitem__(self, name: str) -> Any:
        return self._mapping.get(name)

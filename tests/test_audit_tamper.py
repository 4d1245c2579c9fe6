"""Tamper-evident audit (issue 11, point 8), on SQLite and on a real PostgreSQL server.

Each case writes a small audit trail through the ORM as the service does (rows, events,
an ``update()`` like the outbox's claim, a checkpoint as at shutdown), then tampers with
the database the way someone with write access but without the HMAC key could, through
a raw connection, and checks that ``verify_chain`` (``ecgread audit verify``) reports it.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest
from sqlalchemy import text, update
from sqlmodel import col

from ecgread.audit.anchor import open_audit, read_checkpoint_file
from ecgread.audit.chain import _digest
from ecgread.audit.db import engine_for, session_scope
from ecgread.audit.events import checkpoint, log_action, verify_chain
from ecgread.audit.tables import Delivery, DeliveryAttempt, EcgRead, EcgRecord, Received
from ecgread.config.settings import load_settings

KEY = "0123456789abcdef0123456789abcdef"




def _trail(url: str, tmp_path, **overrides):  # type: ignore[no-untyped-def]
    settings = load_settings({"home": tmp_path / "home", "database_url": url,
                              "audit_hmac_key": KEY, "audit_checkpoint_every": 4,
                              **overrides}, environ={})
    anchor = open_audit(settings)
    for i in range(3):
        uid = f"1.2.826.0.1.3680043.8.498.{i + 1}"
        with session_scope(url) as s:
            rec = Received(protocol="dicom", peer_host="10.0.0.5", calling_ae="CART1",
                           identifier=uid, status="0x0000", patient_id=f"P{i}")
            s.add(rec)
            s.flush()
            s.add(EcgRecord(sop_instance_uid=uid, received_id=rec.id, path="/x",
                            patient_id=f"P{i}", state="received"))
            log_action(s, "ecgread.dicom.stored", subject=f"ecg:{uid}", trace_id=uid)
        with session_scope(url) as s:
            ecg = s.exec(EcgRecord.__table__.select().where(  # type: ignore[attr-defined]
                EcgRecord.__table__.c.sop_instance_uid == uid)).first()  # type: ignore[attr-defined]
            read = EcgRead(ecg_id=ecg.id, result_json='{"qrs_ms": 92}')
            s.add(read)
            s.flush()
            s.add(Delivery(read_id=read.id, destination="ehr", target="ehr:2575",
                           message_id=f"MSG{i}", patient_id=f"P{i}"))
            row = s.get(EcgRecord, ecg.id)
            row.state = "reported"
            log_action(s, "ecgread.read.finished", subject=f"ecg:{uid}", trace_id=uid)
        with session_scope(url) as s:  # as the outbox claims and records an attempt
            s.execute(update(Delivery).where(col(Delivery.message_id) == f"MSG{i}")
                      .values(state="delivered", attempts=1, last_ack_code="AA"))
            delivery = s.exec(Delivery.__table__.select().where(  # type: ignore[attr-defined]
                Delivery.__table__.c.message_id == f"MSG{i}")).first()  # type: ignore[attr-defined]
            s.add(DeliveryAttempt(delivery_id=delivery.id, outcome="AA"))
            log_action(s, "ecgread.delivery.acknowledged", trace_id=f"MSG{i}", ack="AA")
    with session_scope(url) as s:
        checkpoint(s, "stop")
    return settings, anchor


def _sql(url: str, statement: str, **params) -> None:  # type: ignore[no-untyped-def]
    with engine_for(url).begin() as c:
        c.execute(text(statement), params)


def _events(url: str) -> list:
    with engine_for(url).connect() as c:
        return list(c.execute(text("SELECT * FROM event ORDER BY id")).mappings())


def _problems(url: str, anchor) -> list[str]:  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return verify_chain(s, anchor)


def test_untouched_trail_verifies_and_is_signed_and_checkpointed(db_url, tmp_path):
    settings, anchor = _trail(db_url, tmp_path)
    events = _events(db_url)
    assert _problems(db_url, anchor) == []
    assert all(e["key_id"] == anchor.key_id for e in events)
    checkpoints = [e for e in events if e["action"] == "ecgread.audit.checkpoint"]
    assert len(checkpoints) >= 3  # every 4 events, and "stop"
    record = read_checkpoint_file(anchor.checkpoint_file)
    assert record["count"] == len(events) and record["head_id"] == events[-1]["id"]
    assert (anchor.checkpoint_file.stat().st_mode & 0o777) == 0o600
    sealed = [json.loads(e["detail_json"]).get("_rows", {}) for e in events]
    assert {t for s in sealed for t in s} >= {"received", "ecg", "ecg_read", "delivery",
                                             "delivery_attempt"}
    # Without the key the chain cannot be verified, and the verifier says so.
    notes: list[str] = []
    from ecgread.audit.verify import verify
    with session_scope(db_url) as s:
        verify(s, None, notes)
    assert any("no audit HMAC key" in n for n in notes)


def _middle(url: str) -> dict:
    events = [e for e in _events(url) if e["action"] == "ecgread.read.finished"]
    return events[1]


def _recompute_from(url: str, start_id: int, key_id: str | None) -> None:
    """Rewrite every hash from ``start_id`` on with plain SHA-256 (no key)."""
    prev = ""
    for e in _events(url):
        if e["id"] >= start_id:
            h = _digest(prev, e["at"] if not isinstance(e["at"], str) else
                        __import__("datetime").datetime.fromisoformat(e["at"]),
                        e["action"], e["subject"], e["trace_id"], e["detail_json"])
            _sql(url, "UPDATE event SET prev_hash=:p, hash=:h, key_id=:k WHERE id=:i",
                 p=prev, h=h, k=key_id, i=e["id"])
            prev = h
        else:
            prev = e["hash"]


CASES = {
    "edit middle event": lambda url: _sql(
        url, "UPDATE event SET detail_json='{}' WHERE id=:i", i=_middle(url)["id"]),
    "delete middle event": lambda url: _sql(
        url, "DELETE FROM event WHERE id=:i", i=_middle(url)["id"]),
    "delete tail": lambda url: _sql(
        url, "DELETE FROM event WHERE id > :i", i=_events(url)[-3]["id"]),
    "delete every event": lambda url: _sql(url, "DELETE FROM event"),
    "edit read row": lambda url: _sql(url, "UPDATE ecg_read SET result_json='{\"qrs_ms\": 180}'"
                                           " WHERE id=2"),
    "edit delivery row": lambda url: _sql(url, "UPDATE delivery SET state='dead' WHERE id=1"),
    "edit received row": lambda url: _sql(url, "UPDATE received SET status='0xA700' "
                                               "WHERE id=3"),
    "edit ECG row": lambda url: _sql(url, "UPDATE ecg SET patient_id='P9' WHERE id=2"),
    "delete delivery attempt row": lambda url: _sql(url, "DELETE FROM delivery_attempt "
                                                         "WHERE id=2"),
    "insert unsealed delivery": lambda url: _sql(
        url, "INSERT INTO delivery (read_id, destination, target, message_id, priority, "
             "payload_path, state, attempts, created_at, next_attempt_at) VALUES (1, 'ehr', "
             "'x', 'FORGED', 0, '', 'delivered', 1, :t, :t)",
        t=_events(url)[-1]["at"]),
}


#: What the verifier must say for each case.
EXPECTED = {
    "edit middle event": "does not match its signature",
    "delete middle event": "prev_hash does not match",
    "delete tail": "deleted from the tail",
    "delete every event": "the log holds 0 events",
    "edit read row": "ecg_read 2: row differs from its seal",
    "edit delivery row": "delivery 1: row differs from its seal",
    "edit received row": "received 3: row differs from its seal",
    "edit ECG row": "ecg 2: row differs from its seal",
    "delete delivery attempt row": "delivery_attempt 2: sealed row",
    "insert unsealed delivery": "delivery 4: row has no seal",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_detected(db_url, tmp_path, case):
    _settings, anchor = _trail(db_url, tmp_path)
    assert _problems(db_url, anchor) == []
    CASES[case](db_url)
    problems = _problems(db_url, anchor)
    assert any(EXPECTED[case] in p for p in problems), problems


def test_forged_appended_event_is_detected(db_url, tmp_path):
    _settings, anchor = _trail(db_url, tmp_path)
    head = _events(db_url)[-1]
    from datetime import datetime
    at = datetime.now(UTC)
    h = _digest(head["hash"], at, "ecgread.delivery.acknowledged", None, "MSG9", "{}")
    for kid in (anchor.key_id, None):  # claiming the key's id, and unsigned
        _sql(db_url, "INSERT INTO event (at, action, trace_id, detail_json, prev_hash, hash, "
                     "key_id) VALUES (:at, 'ecgread.delivery.acknowledged', 'MSG9', '{}', "
                     ":p, :h, :k)", at=at, p=head["hash"], h=h, k=kid)
        problems = _problems(db_url, anchor)
        assert any("signature" in p or "unsigned event after signed" in p
                   for p in problems), problems
        _sql(db_url, "DELETE FROM event WHERE trace_id='MSG9'")
    assert _problems(db_url, anchor) == []


@pytest.mark.parametrize("key_id", ["keep", None])
def test_edit_with_the_chain_recomputed_without_the_key(db_url, tmp_path, key_id):
    _settings, anchor = _trail(db_url, tmp_path)
    middle = _middle(db_url)
    _sql(db_url, "UPDATE event SET detail_json='{}' WHERE id=:i", i=middle["id"])
    _recompute_from(db_url, middle["id"], anchor.key_id if key_id == "keep" else None)
    problems = _problems(db_url, anchor)
    assert problems
    # The whole chain recomputed unsigned: the signed checkpoint file still disagrees.
    _recompute_from(db_url, _events(db_url)[0]["id"], None)
    problems = _problems(db_url, anchor)
    assert any("checkpoint" in p for p in problems), problems

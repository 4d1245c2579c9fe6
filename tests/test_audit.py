"""The audit database on SQLite and on a real PostgreSQL server: migrations, the
hash-chained event log (tampering is detected), and the queries users run."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import select

from ecgread.audit import queries
from ecgread.audit.db import migrate, session_scope
from ecgread.audit.events import log_action, verify_chain
from ecgread.audit.tables import Delivery, EcgRead, EcgRecord, Event, Hl7Order, Received


def _fill(url: str) -> str:
    migrate(url)
    migrate(url)  # idempotent
    uid = "1.2.826.0.1.3680043.8.498.1"
    with session_scope(url) as s:
        rec = Received(protocol="dicom", peer_host="127.0.0.1", calling_ae="CART1",
                       identifier=uid, status="0x0000", patient_id="P1")
        s.add(rec)
        s.flush()
        ecg = EcgRecord(sop_instance_uid=uid, received_id=rec.id, path="/x", patient_id="P1",
                        accession_number="A1", state="reported")
        s.add(ecg)
        s.add(Hl7Order(placer_order_number="PO1", accession_number="A2", patient_id="P2"))
        s.flush()
        read = EcgRead(ecg_id=ecg.id, critical=True)
        s.add(read)
        s.flush()
        s.add(Delivery(read_id=read.id, destination="ehr", target="ehr:2575",
                       message_id="MSG1", patient_id="P1", state="delivered", last_ack_code="AA"))
        log_action(s, "ecgread.dicom.stored", subject=f"ecg:{uid}", trace_id=uid, status="0x0000")
        log_action(s, "ecgread.read.finished", subject=f"ecg:{uid}", trace_id=uid, critical=True)
        log_action(s, "ecgread.delivery.acknowledged", trace_id="MSG1", ack="AA")
    return uid


def test_chain_is_intact_and_queries_answer(db_url):
    uid = _fill(db_url)
    with session_scope(db_url) as s:
        assert verify_chain(s) == []
        assert [e.action for e in queries.events(s, trace_id=uid)] == [
            "ecgread.dicom.stored", "ecgread.read.finished"]
        assert [r.identifier for r in queries.received(s, protocol="dicom")] == [uid]
        assert [e.sop_instance_uid for e in queries.ecgs(s, patient_id="P1")] == [uid]
        assert queries.ecgs(s, accession="nope") == []
        assert [o.placer_order_number for o in queries.orders(s, status="pending")] == ["PO1"]
        sent = queries.deliveries(s, sop_instance_uid=uid)
        assert [(d.destination, d.last_ack_code) for d in sent] == [("ehr", "AA")]
        assert [r.critical for r, _ in queries.reads(s, critical=True)] == [True]


def test_edited_event_breaks_the_chain(db_url):
    _fill(db_url)
    with session_scope(db_url) as s:
        second = s.exec(select(Event).order_by(Event.id).offset(1)).first()
        s.execute(text("UPDATE event SET detail_json = :d WHERE id = :i"),
                  {"d": '{"critical":false}', "i": second.id})
    with session_scope(db_url) as s:
        problems = verify_chain(s)
    assert problems == [f"event {second.id}: content does not match its hash"]


def test_deleted_event_breaks_the_chain(db_url):
    _fill(db_url)
    with session_scope(db_url) as s:
        first = s.exec(select(Event).order_by(Event.id)).first()
        s.execute(text("DELETE FROM event WHERE id = :i"), {"i": first.id})
    with session_scope(db_url) as s:
        problems = verify_chain(s)
    assert len(problems) == 1 and "prev_hash" in problems[0]

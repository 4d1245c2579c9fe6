"""The HL7 listener for real, on an ephemeral loopback port: a raw-socket client sending many
messages on one persistent connection, python-hl7's ``mllp_send`` CLI against the listener
run as a subprocess, ACKs parsed with python-hl7 (``hl7.parse``), and the audit rows."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import hl7
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from ecgread.audit.db import engine_for, session_scope
from ecgread.audit.events import verify_chain
from ecgread.audit.tables import EcgRecord, Event, Hl7Order, Received
from ecgread.integration.hl7_header import parse_ts
from ecgread.integration.hl7_listener import serve
from ecgread.integration.mllp import MllpReader, frame
from tests.hl7_samples import PID_EPIC, adt_a01, message, msh, omg_o19, orm_o01, segment

REPO = Path(__file__).resolve().parents[1]
MLLP_SEND = REPO / ".venv" / "bin" / "mllp_send"


@pytest.fixture
def listener(settings):
    server = serve(settings, block=False)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request, settings):
    """The settings on SQLite, and on a fresh database of the real PostgreSQL server."""
    if request.param == "sqlite":
        return settings
    base = request.getfixturevalue("postgres_url")
    name = f"ecgread_hl7_{uuid.uuid4().hex[:10]}"
    with engine_for(base).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return dataclasses.replace(settings, database_url=base.rsplit("/", 1)[0] + "/" + name)


@pytest.fixture
def db_listener(db_settings):
    server = serve(db_settings, block=False)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class Client:
    """A raw-socket MLLP client holding one connection open."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = MllpReader()
        self.acks: list[bytes] = []

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, count: int) -> list[hl7.Message]:
        while len(self.acks) < count:
            data = self.sock.recv(65536)
            assert data, "listener closed the connection"
            self.acks += self.reader.feed(data)
        got, self.acks = self.acks[:count], self.acks[count:]
        return [hl7.parse(a.decode()) for a in got]

    def send(self, raw: bytes) -> hl7.Message:
        self.send_bytes(frame(raw))
        return self.receive(1)[0]

    def close(self) -> None:
        self.sock.close()


def msa(ack: hl7.Message) -> tuple[str, str]:
    seg = ack.segment("MSA")
    return str(seg[1]), str(seg[2]) if len(seg) > 2 else ""


def err3(ack: hl7.Message) -> str:
    return str(ack.segment("ERR")(3)(1)(1))


def test_many_messages_on_one_persistent_connection(db_settings, db_listener):
    settings = db_settings
    client = Client(db_listener)
    # two orders in one TCP write
    client.send_bytes(frame(orm_o01("ORM0001")) + frame(omg_o19("OMG0001")))
    nw, omg = client.receive(2)
    assert msa(nw) == ("AA", "ORM0001") and msa(omg) == ("AA", "OMG0001")
    assert str(nw.segment("MSH")[12]) == "2.3.1" and str(omg.segment("MSH")[12]) == "2.5.1"
    # a malformed message (no MSH-10) split over two writes
    bad = frame(message(msh(""), PID_EPIC, segment("ORC", {1: "NW", 2: "X"})))
    client.send_bytes(bad[:17])
    client.send_bytes(bad[17:])
    (ae,) = client.receive(1)
    assert msa(ae) == ("AE", "")
    assert str(ae.segment("MSA")(6)(1)(1)) == "101"  # v2.3.1 style: MSA-6 and ERR-1
    assert str(ae.segment("ERR")(1)(1)(3)) == "10"
    ar = client.send(adt_a01("ADT0001"))
    assert msa(ar) == ("AR", "ADT0001") and err3(ar) == "200"
    ar = client.send(orm_o01("ORM0002").replace(b"ORM^O01", b"ORM^O02", 1))
    assert msa(ar)[0] == "AR" and str(ar.segment("ERR")(1)(1)(4)(1)) == "201"
    again = client.send(orm_o01("ORM0001"))  # resent
    assert msa(again) == ("AA", "ORM0001")
    cancel = client.send(orm_o01("ORM0003", control="CA"))
    assert msa(cancel) == ("AA", "ORM0003")
    client.close()

    with session_scope(settings.audit_url) as s:
        rows = list(s.exec(select(Received).order_by(col(Received.id))))
        assert [(r.identifier, r.status, r.duplicate) for r in rows] == [
            ("ORM0001", "AA", False), ("OMG0001", "AA", False), (None, "AE", False),
            ("ADT0001", "AR", False), ("ORM0002", "AR", False), ("ORM0001", "AA", True),
            ("ORM0003", "AA", False)]
        assert rows[0].calling_ae == "EPIC" and rows[0].kind == "ORM^O01"
        assert rows[0].peer_host == "127.0.0.1" and rows[0].peer_port
        assert "MSH-10" in rows[2].reason and "ADT" in rows[3].reason
        orders = {o.placer_order_number: o for o in s.exec(select(Hl7Order))}
        assert set(orders) == {"PLC1001", "PO200"}
        assert orders["PLC1001"].status == "cancelled"
        assert orders["PLC1001"].message_control_id == "ORM0003"
        assert orders["PO200"].status == "pending"
        assert orders["PO200"].accession_number == "ACC200"
        actions = [(e.action, e.trace_id) for e in s.exec(select(Event).order_by(col(Event.id)))]
        assert actions == [
            ("ecgread.hl7.received", "ORM0001"), ("ecgread.order.created", "ORM0001"),
            ("ecgread.hl7.received", "OMG0001"), ("ecgread.order.created", "OMG0001"),
            ("ecgread.hl7.rejected", None), ("ecgread.hl7.rejected", "ADT0001"),
            ("ecgread.hl7.rejected", "ORM0002"), ("ecgread.hl7.duplicate", "ORM0001"),
            ("ecgread.hl7.received", "ORM0003"), ("ecgread.order.cancelled", "ORM0003")]
        assert verify_chain(s) == []


def test_changes_and_conflicts(db_settings, db_listener):
    settings = db_settings
    client = Client(db_listener)
    assert msa(client.send(orm_o01("M1", "PO5", start="20240105100000")))[0] == "AA"
    xo = orm_o01("M2", "PO5", control="XO", start="20240105113000", accession="ACC-NEW")
    assert msa(client.send(xo))[0] == "AA"
    with session_scope(settings.audit_url) as s:
        order = s.exec(select(Hl7Order)).one()
        assert order.accession_number == "ACC-NEW" and order.status == "pending"
        assert order.requested_at == parse_ts("20240105113000")
    assert msa(client.send(orm_o01("M3", "PO5", control="CA")))[0] == "AA"
    late_xo = client.send(orm_o01("M4", "PO5", control="XO"))
    assert msa(late_xo) == ("AE", "M4")
    assert str(late_xo.segment("ERR")(1)(1)(4)(1)) == "206"
    late_nw = client.send(orm_o01("M5", "PO5"))
    assert str(late_nw.segment("ERR")(1)(1)(4)(1)) == "205"
    # a cancel for an order never seen is accepted and remembered as cancelled
    assert msa(client.send(orm_o01("M6", "PO-UNKNOWN", control="CA")))[0] == "AA"
    client.close()
    with session_scope(settings.audit_url) as s:
        statuses = {o.placer_order_number: o.status for o in s.exec(select(Hl7Order))}
        assert statuses == {"PO5": "cancelled", "PO-UNKNOWN": "cancelled"}
        changed = s.exec(select(Event).where(Event.action == "ecgread.order.changed")).all()
        assert [e.trace_id for e in changed] == ["M2"]


def test_order_is_matched_to_an_ecg_received_before_it(settings, listener):
    with session_scope(settings.audit_url) as s:
        s.add(EcgRecord(sop_instance_uid="1.2.826.0.1.99.1", path="/x", patient_id="MRN778899",
                        accession_number="ACC55501"))
        s.add(EcgRecord(sop_instance_uid="1.2.826.0.1.99.2", path="/y", patient_id="NOBODY"))
    client = Client(listener)
    assert msa(client.send(orm_o01("MATCH1")))[0] == "AA"
    client.close()
    with session_scope(settings.audit_url) as s:
        order = s.exec(select(Hl7Order)).one()
        ecgs = {e.sop_instance_uid: e for e in s.exec(select(EcgRecord))}
        assert order.status == "fulfilled"
        assert ecgs["1.2.826.0.1.99.1"].order_id == order.id
        assert ecgs["1.2.826.0.1.99.2"].order_id is None  # unordered, still there to be read
        matched = s.exec(select(Event).where(Event.action == "ecgread.order.matched")).one()
        assert matched.trace_id == "MATCH1"


def test_aa_only_after_commit_a_database_fault_gives_ae_207(settings, listener):
    with engine_for(settings.audit_url).begin() as conn:
        conn.execute(text("ALTER TABLE hl7_order RENAME TO hl7_order_away"))
    client = Client(listener)
    ack = client.send(orm_o01("FAIL1"))
    client.close()
    assert msa(ack) == ("AE", "FAIL1")
    assert str(ack.segment("ERR")(1)(1)(4)(1)) == "207"
    with session_scope(settings.audit_url) as s:
        (row,) = s.exec(select(Received)).all()
        assert row.status == "AE" and "internal error" in row.reason
        assert s.exec(select(Event).where(Event.action == "ecgread.hl7.received")).all() == []


def test_concurrent_connections(db_settings, db_listener):
    settings, listener = db_settings, db_listener
    results: list[tuple[str, str]] = []

    def worker(k: int) -> None:
        client = Client(listener)
        for i in range(8):
            results.append(msa(client.send(orm_o01(f"C{k}-{i}", f"PO{k}-{i}"))))
        client.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == sorted(("AA", f"C{k}-{i}") for k in range(4) for i in range(8))
    with session_scope(settings.audit_url) as s:
        assert len(s.exec(select(Hl7Order)).all()) == 32
        assert verify_chain(s) == []


def test_junk_before_a_message_and_raw_copy_is_kept(settings, listener):
    client = Client(listener)
    client.send_bytes(b"\r\n\x00junk")
    raw = omg_o19("KEEP1")
    assert msa(client.send(raw)) == ("AA", "KEEP1")
    client.close()
    with session_scope(settings.audit_url) as s:
        row = s.exec(select(Received)).one()
        assert Path(row.path).read_bytes() == raw
        assert Path(row.path).name == f"{row.sha256}.hl7"


def test_no_patient_data_in_logs(settings, listener, caplog):
    caplog.set_level(logging.DEBUG)
    client = Client(listener)
    client.send(orm_o01("LOG1"))
    client.send(message(msh("LOG2"), segment("PID", {5: "DOE^JANE"}),
                        segment("ORC", {1: "NW", 2: "X"})))
    client.close()
    assert "LOG1" in caplog.text
    for secret in ("DOE", "JANE", "MRN778899", "19580214"):
        assert secret not in caplog.text


@pytest.fixture
def listener_process(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecgread.integration.hl7_listener", "--host", "127.0.0.1",
         "--port", "0", "--home", str(tmp_path / "home")], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    line = proc.stdout.readline()
    assert line.startswith("listening"), proc.stderr.read()
    yield int(line.split()[2]), tmp_path / "home"
    proc.terminate()
    assert proc.wait(30) == 0


def _mllp_send(port: int, path: Path, *extra: str) -> list[hl7.Message]:
    if not MLLP_SEND.exists():
        pytest.skip(f"{MLLP_SEND} missing (python-hl7 is in the test extra)")
    out = subprocess.run([str(MLLP_SEND), "-p", str(port), "-f", str(path), *extra, "127.0.0.1"],
                         capture_output=True, timeout=60, check=True).stdout
    acks = [a.strip(b"\x0b\r\n") for a in out.split(b"\x1c") if a.strip(b"\x0b\r\n")]
    return [hl7.parse(a.decode()) for a in acks]


def test_mllp_send_cli_against_the_listener_subprocess(tmp_path, listener_process):
    port, home = listener_process
    framed = tmp_path / "orders.mllp"
    framed.write_bytes(frame(orm_o01("CLI1")) + frame(omg_o19("CLI2")) + frame(adt_a01("CLI3"))
                       + frame(b"MSH|^~\\&|EHR|H|||x||ORM^O01||P|2.3.1\rPID|1||P1")
                       + frame(orm_o01("CLI1")))
    acks = _mllp_send(port, framed)
    assert [msa(a) for a in acks] == [("AA", "CLI1"), ("AA", "CLI2"), ("AR", "CLI3"),
                                      ("AE", ""), ("AA", "CLI1")]
    assert err3(acks[2]) == "200"
    # --loose: a text file with \n line ends, messages found by their MSH
    loose = tmp_path / "orders.txt"
    loose.write_bytes(orm_o01("CLI4", "PO-CLI4").replace(b"\r", b"\n")
                      + orm_o01("CLI5", "PO-CLI4", control="CA").replace(b"\r", b"\n"))
    assert [msa(a) for a in _mllp_send(port, loose, "--loose")] == [
        ("AA", "CLI4"), ("AA", "CLI5")]
    url = f"sqlite:///{(home / 'audit.db').resolve()}"
    with session_scope(url) as s:
        dup = s.exec(select(Received).where(col(Received.duplicate).is_(True))).all()
        assert [r.identifier for r in dup] == ["CLI1"]
        statuses = {o.placer_order_number: o.status for o in s.exec(select(Hl7Order))}
        assert statuses == {"PLC1001": "pending", "PO200": "pending", "PO-CLI4": "cancelled"}
        assert verify_chain(s) == []

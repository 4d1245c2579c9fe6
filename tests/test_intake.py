"""One intake discipline for both listeners (issue 11, point 5), with real peers: DCMTK's
storescu and a raw MLLP client, against the real listeners on SQLite and PostgreSQL.

While the audit database's writer is held longer than ``intake_write_timeout_s`` (on
SQLite: the one writer turn both listeners share, as a long transaction of the other
listener holds it; on PostgreSQL: a table lock another session holds), a C-STORE gets
0xA700 and an order AE 207, promptly, and both refusals are recorded once the writer is
free (``recorded_late``). The same load afterwards is accepted.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from ecgread.audit.db import engine_for, migrate, session_scope
from ecgread.audit.events import verify_chain
from ecgread.audit.tables import Event, Received
from ecgread.config.settings import Settings
from ecgread.errors import DatabaseBusyError
from ecgread.integration import dicom_scp, hl7_listener, intake
from ecgread.integration.mllp import MllpReader, frame
from ecgread.integration.status_map import DicomStatus, outcome_for
from tests.dicom_factory import twelve_lead, write
from tests.hl7_samples import omg_o19
from tests.test_dicom_scp import storescu

pytestmark = pytest.mark.skipif(shutil.which("storescu") is None,
                                reason="DCMTK (storescu) not installed")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request, settings: Settings) -> Settings:
    s = dataclasses.replace(settings, intake_write_timeout_s=0.5, store_min_free_bytes=0)
    if request.param == "postgresql":
        base = request.getfixturevalue("postgres_url")
        name = f"ecgread_intake_{uuid.uuid4().hex[:10]}"
        with engine_for(base).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        s = dataclasses.replace(s, database_url=base.rsplit("/", 1)[0] + "/" + name)
    migrate(s.audit_url)
    return s


@pytest.fixture
def listeners(db_settings: Settings) -> Iterator[tuple[Settings, int, int]]:
    dicom = dicom_scp.serve(db_settings, on_stored=lambda uid: None, block=False)
    hl7 = hl7_listener.serve(db_settings, block=False)
    yield db_settings, int(dicom.server_address[1]), int(hl7.server_address[1])
    dicom.shutdown()
    hl7.shutdown()
    hl7.server_close()


def _hold_writer(settings: Settings, release: threading.Event, held: threading.Event) -> None:
    """Hold the writer until ``release``: the intake turn (SQLite) or a table lock that
    blocks inserts into ``received`` (PostgreSQL)."""
    if settings.audit_url.startswith("sqlite"):
        with intake.write_turn(settings.audit_url):
            held.set()
            release.wait(60)
        return
    with engine_for(settings.audit_url).connect() as conn:
        conn.execute(text("LOCK TABLE received IN EXCLUSIVE MODE"))
        held.set()
        release.wait(60)
        conn.rollback()


def _send_hl7(port: int, message: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(frame(message))
        reader = MllpReader()
        while True:
            acks = reader.feed(sock.recv(65536))
            if acks:
                return acks[0].decode()


def _msa(ack: str) -> tuple[str, str]:
    msa = next(s for s in ack.split("\r") if s.startswith("MSA")).split("|")
    err = next((s for s in ack.split("\r") if s.startswith("ERR")), "")
    return msa[1], err


def test_busy_writer_is_refused_promptly_with_a_status_and_recorded(listeners, tmp_path: Path):
    settings, dicom_port, hl7_port = listeners
    ecg = write(twelve_lead(sop_instance_uid="1.2.826.0.1.3680043.10.1138.51"),
                tmp_path / "a.dcm")
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_writer, args=(settings, release, held))
    holder.start()
    try:
        assert held.wait(30)
        t0 = time.monotonic()
        responses, proc = storescu(dicom_port, ecg)
        dicom_s = time.monotonic() - t0
        t0 = time.monotonic()
        code, err = _msa(_send_hl7(hl7_port, omg_o19("BUSY1", placer="PB1")))
        hl7_s = time.monotonic() - t0
    finally:
        release.set()
        holder.join()
    assert [r.status for r in responses] == [DicomStatus.OUT_OF_RESOURCES], proc.stdout
    assert "busy" in (responses[0].comment or "")
    assert code == "AE" and "207" in err
    assert dicom_s < 10 and hl7_s < 10  # bounded by the 0.5 s timeout, not a 30-90 s wait
    assert intake.wait_recorded(30)
    with session_scope(settings.audit_url) as s:
        rows = list(s.exec(select(Received).order_by(col(Received.id))))
        events = list(s.exec(select(Event).where(col(Event.action).in_(
            ("ecgread.dicom.rejected", "ecgread.hl7.rejected")))))
        assert verify_chain(s) == []
    assert sorted((r.protocol, r.status) for r in rows) == [("dicom", "0xA700"), ("hl7", "AE")]
    assert all("busy" in (r.reason or "") for r in rows)
    assert len(events) == 2 and all('"error":"DatabaseBusyError"' in e.detail_json
                                    or '"error_code":207' in e.detail_json for e in events)
    # the writer free again: the same ECG and order are accepted
    responses, _ = storescu(dicom_port, ecg)
    assert [r.status for r in responses] == [DicomStatus.SUCCESS]
    assert _msa(_send_hl7(hl7_port, omg_o19("BUSY1", placer="PB1")))[0] == "AA"


def test_busy_is_mapped_once() -> None:
    outcome = outcome_for(DatabaseBusyError("busy"))
    assert (outcome.dicom_status, outcome.hl7_ack, outcome.hl7_error_code) == (
        DicomStatus.OUT_OF_RESOURCES, "AE", 207)


def test_one_writer_turn_for_both_listeners(settings: Settings) -> None:
    """The DICOM and HL7 intakes queue on the same turn: held by one, the other waits."""
    url = settings.audit_url
    with intake.write_turn(url), pytest.raises(DatabaseBusyError):
        with intake.write_turn(url, timeout_s=0.1):
            pass
    with intake.write_turn(url, timeout_s=0.1):
        pass

"""Fault injection against the real listeners, with real peers (issue 11, points 1-4).

Hostile identifiers, unreadable ECGs, identifiers reused with other content, and every
limit, sent by DCMTK's storescu/echoscu, pynetdicom as an SCU, python-hl7's ``mllp_send``
and raw MLLP sockets on loopback. Each case checks the answer the peer got, what is (and
is not) on disk, and the audit trail (rows, events, an intact chain).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import hl7
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pynetdicom import AE
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ecgread.audit.db import migrate, session_scope
from ecgread.audit.events import verify_chain
from ecgread.audit.tables import Delivery, EcgRead, EcgRecord, Event, Hl7Order, Received
from ecgread.config.settings import Settings, load_settings
from ecgread.integration import dicom_scp, hl7_listener
from ecgread.integration.dicom_decode import GENERAL_ECG, TWELVE_LEAD_ECG
from ecgread.integration.identifiers import check_dicom_uid, is_dicom_uid, printable
from ecgread.integration.mllp import MllpReader, frame
from ecgread.integration.status_map import DicomStatus
from ecgread.workers.read_job import read_ecg
from tests.conftest import REPO
from tests.dicom_factory import GroupSpec, ecg_object, twelve_lead, write
from tests.e2e_helpers import wait_until
from tests.hl7_samples import PID_EPIC, message, msh, omg_o19, orm_o01, segment
from tests.test_dicom_scp import storescu

pytestmark = pytest.mark.skipif(shutil.which("storescu") is None or shutil.which("echoscu")
                                is None, reason="DCMTK (storescu, echoscu) not installed")

MLLP_SEND = Path(sys.executable).with_name("mllp_send")
HUGE = 1 << 60  # a free-space reserve no disk can meet


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {"home": tmp_path / "home", "dicom_host": "127.0.0.1",
                               "dicom_port": 0, "hl7_host": "127.0.0.1", "hl7_port": 0,
                               "store_min_free_bytes": 0}
    base.update(overrides)
    return load_settings(base, environ={})


@pytest.fixture
def scp(tmp_path: Path) -> Iterator:
    """``scp(**settings)`` starts the real DICOM listener; returns (settings, port)."""
    servers = []

    def start(**overrides: object) -> tuple[Settings, int]:
        settings = _settings(tmp_path, **overrides)
        server = dicom_scp.serve(settings, on_stored=lambda uid: None, block=False)
        assert server is not None
        servers.append(server)
        return settings, int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture
def mllp(tmp_path: Path) -> Iterator:
    """``mllp(**settings)`` starts the real HL7 listener; returns (settings, port)."""
    servers = []

    def start(**overrides: object) -> tuple[Settings, int]:
        settings = _settings(tmp_path, **overrides)
        server = hl7_listener.serve(settings, block=False)
        servers.append(server)
        return settings, int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _rows(settings: Settings, table):  # type: ignore[no-untyped-def]
    with session_scope(settings.audit_url) as session:
        return list(session.exec(select(table).order_by(col(table.id))).all())


def _events(settings: Settings, action: str) -> list[Event]:
    return [e for e in _rows(settings, Event) if e.action == action]


def _chain_intact(settings: Settings) -> None:
    with session_scope(settings.audit_url) as session:
        assert verify_chain(session) == []


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _pynetdicom_store(port: int, ds, transfer_syntax: str | None = None) -> int:  # type: ignore[no-untyped-def]
    """C-STORE one data set with pynetdicom as the SCU (it sends what DCMTK would clean)."""
    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(ds.SOPClassUID, transfer_syntax or ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="ECGREAD")
    assert assoc.is_established
    try:
        rsp = assoc.send_c_store(ds)
        return int(rsp.Status) if "Status" in rsp else -1
    finally:
        assoc.release()


# --- 1. Nothing received forms a path or a log line unescaped -------------------------


def test_uid_rules() -> None:
    assert is_dicom_uid("1.2.840.10008.5.1.4.1.1.9.1.1") and is_dicom_uid("0.0")
    for bad in ("", "../../x", "/tmp/evil", "1.2.3\nFAKE", "1.02.3", "1..2", "1.2.",
                ".1.2", "1.2.3 ", "1" * 65, "1.2.3\x00"):
        assert not is_dicom_uid(bad), bad
        with pytest.raises(ValueError) as info:
            check_dicom_uid(bad)
        assert bad not in str(info.value) or bad == ""
    assert is_dicom_uid("1." + "2" * 62) and not is_dicom_uid("1." + "2" * 63)
    assert printable("a\nb\r\x1b[31m\\") == "a\\nb\\r\\x1b[31m\\\\"


@pytest.mark.parametrize("uid", ["../../x", "/tmp/hardening-evil", "1.2.3\nFAKE log line",
                                 "1.02.3"])
def test_hostile_sop_instance_uid_is_refused_recorded_and_never_a_path(
        scp, tmp_path: Path, uid: str, caplog) -> None:
    settings, port = scp()
    evil = Path("/tmp/hardening-evil")
    before = _files(tmp_path)
    with caplog.at_level(logging.DEBUG):
        status = _pynetdicom_store(port, twelve_lead(sop_instance_uid=uid).dataset)
    assert status == DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS  # 0xA900
    assert not evil.exists() and not (tmp_path / "x").exists()
    assert _files(tmp_path) - before <= {p for p in _files(tmp_path) if "audit.db" in p.name}
    assert not _files(settings.store_dir)
    (row,) = _rows(settings, Received)
    assert row.status == "0xA900" and row.path is None and "UID" in (row.reason or "")
    assert "\n" not in (row.identifier or "")
    (event,) = _events(settings, "ecgread.dicom.rejected")
    assert "InvalidIdentifierError" in event.detail_json
    assert not _rows(settings, EcgRecord)
    # no log line, ours or the libraries', carries a raw control character
    for record in caplog.records:
        assert "\n" not in record.getMessage(), record.getMessage()
    _chain_intact(settings)


def test_dcmtk_storescu_with_a_path_and_an_overlong_uid(scp, tmp_path: Path) -> None:
    settings, port = scp()
    paths = [write(twelve_lead(sop_instance_uid=uid), tmp_path / f"evil{i}.dcm")
             for i, uid in enumerate(("../../x", "1." + "2" * 70))]
    responses, _ = storescu(port, *paths)
    assert [r.status for r in responses] == [DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS] * 2
    assert all("UID" in (r.comment or "") for r in responses)
    assert not (settings.home.parent / "x").exists() and not (tmp_path.parent / "x").exists()
    assert not _files(settings.store_dir) and not _rows(settings, EcgRecord)
    assert [r.status for r in _rows(settings, Received)] == ["0xA900"] * 2


# --- 3. Same identifier, different content -------------------------------------------


def test_same_sop_uid_other_content_gets_0111_and_both_are_kept(scp, tmp_path: Path) -> None:
    settings, port = scp()
    uid = "1.2.826.0.1.3680043.10.1138.11"
    first = write(twelve_lead(sop_instance_uid=uid, seed=1), tmp_path / "a.dcm")
    other = write(twelve_lead(sop_instance_uid=uid, seed=2), tmp_path / "b.dcm")
    responses, proc = storescu(port, first, first, other)
    assert [r.status for r in responses] == [DicomStatus.SUCCESS, DicomStatus.SUCCESS,
                                             DicomStatus.DUPLICATE_SOP_INSTANCE], proc.stdout
    assert "other content" in (responses[2].comment or "")
    rows = _rows(settings, Received)
    assert [(r.status, r.duplicate) for r in rows] == [("0x0000", False), ("0x0000", True),
                                                       ("0x0111", True)]
    # both copies on disk, each as sent; the first stays the ECG of record
    assert Path(rows[0].path).read_bytes() != Path(rows[2].path).read_bytes()
    assert rows[2].sha256 != rows[0].sha256
    (ecg,) = _rows(settings, EcgRecord)
    assert ecg.path == rows[0].path
    (conflict,) = _events(settings, "ecgread.dicom.conflict")
    assert conflict.trace_id == uid
    (dup,) = _events(settings, "ecgread.dicom.duplicate")
    assert '"same_bytes":true' in dup.detail_json
    _chain_intact(settings)


def test_same_ecg_in_another_transfer_syntax_is_a_duplicate(scp, tmp_path: Path) -> None:
    settings, port = scp()
    built = twelve_lead(sop_instance_uid="1.2.826.0.1.3680043.10.1138.12")
    assert _pynetdicom_store(port, built.dataset) == DicomStatus.SUCCESS
    built.dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    assert _pynetdicom_store(port, built.dataset) == DicomStatus.SUCCESS
    rows = _rows(settings, Received)
    assert [r.duplicate for r in rows] == [False, True] and rows[0].sha256 != rows[1].sha256
    (dup,) = _events(settings, "ecgread.dicom.duplicate")
    assert '"same_bytes":false' in dup.detail_json and '"same_content":true' in dup.detail_json


def _ack(raw: bytes) -> hl7.Message:
    return hl7.parse(raw.decode())


class _Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = MllpReader()

    def send(self, raw: bytes) -> hl7.Message:
        self.sock.sendall(frame(raw))
        return self.receive()

    def receive(self) -> hl7.Message:
        while True:
            data = self.sock.recv(65536)
            assert data, "listener closed the connection"
            got = self.reader.feed(data)
            if got:
                return _ack(got[0])

    def closed(self, timeout_s: float = 10.0) -> bool:
        self.sock.settimeout(timeout_s)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


def _msa(ack: hl7.Message) -> tuple[str, str]:
    seg = ack.segment("MSA")
    return str(seg[1]), str(seg[2]) if len(seg) > 2 else ""


def _err(ack: hl7.Message) -> tuple[str, str]:
    """ERR-3.1 (Table 0357) and ERR-2 (segment^sequence^field) of a v2.5 ACK."""
    err = ack.segment("ERR")
    return str(err(3)(1)(1)), str(err(2))


def test_same_msh10_other_message_gets_ae_205_and_both_are_kept(mllp) -> None:
    settings, port = mllp()
    client = _Client(port)
    original = omg_o19("DUP1", placer="PO1")
    assert _msa(client.send(original)) == ("AA", "DUP1")
    assert _msa(client.send(original)) == ("AA", "DUP1")  # identical resend
    changed = omg_o19("DUP1", placer="PO2")  # same MSH-10, another order
    ack = client.send(changed)
    assert _msa(ack) == ("AE", "DUP1")
    code, location = _err(ack)
    assert code == "205" and location.startswith("MSH") and location.endswith("10")
    client.sock.close()
    rows = _rows(settings, Received)
    assert [(r.status, r.duplicate) for r in rows] == [("AA", False), ("AA", True),
                                                       ("AE", True)]
    assert Path(rows[0].path).read_bytes() == original
    assert Path(rows[2].path).read_bytes() == changed  # the second copy is kept too
    assert [o.placer_order_number for o in _rows(settings, Hl7Order)] == ["PO1"]
    (conflict,) = _events(settings, "ecgread.hl7.conflict")
    assert conflict.trace_id == "DUP1" and '"error_code":205' in conflict.detail_json
    _chain_intact(settings)


@pytest.mark.skipif(not MLLP_SEND.exists(), reason="python-hl7's mllp_send not installed")
def test_mllp_send_conflict(mllp, tmp_path: Path) -> None:
    settings, port = mllp()
    framed = tmp_path / "orders.mllp"
    framed.write_bytes(frame(orm_o01("MS1", placer="A1")) + frame(orm_o01("MS1", placer="A1"))
                       + frame(orm_o01("MS1", placer="A2")))
    out = subprocess.run([str(MLLP_SEND), "-p", str(port), "-f", str(framed), "127.0.0.1"],
                         capture_output=True, timeout=60, check=True).stdout
    acks = [_ack(a.strip(b"\x0b\r\n")) for a in out.split(b"\x1c") if a.strip(b"\x0b\r\n")]
    assert [_msa(a) for a in acks] == [("AA", "MS1"), ("AA", "MS1"), ("AE", "MS1")]
    assert [o.placer_order_number for o in _rows(settings, Hl7Order)] == ["A1"]
    assert [(r.status, r.duplicate) for r in _rows(settings, Received)] == [
        ("AA", False), ("AA", True), ("AE", True)]


# --- 4. Limits --------------------------------------------------------------------------


def test_object_over_the_size_limit_is_aborted_while_arriving(scp, tmp_path: Path) -> None:
    settings, port = scp(dicom_max_object_bytes=50_000)
    big = write(twelve_lead(), tmp_path / "big.dcm")  # ~130 KB
    assert big.stat().st_size > 100_000
    responses, proc = storescu(port, big, extra=("--max-send-pdu", "16384"))
    assert not responses or responses[0].status != DicomStatus.SUCCESS
    assert not _rows(settings, EcgRecord) and not _files(settings.store_dir)
    (event,) = _events(settings, "ecgread.dicom.association.aborted")
    assert "dicom_max_object_bytes" in event.detail_json
    # the listener still serves the next sender
    small = write(ecg_object((GroupSpec(duration_s=2.0),)), tmp_path / "small.dcm")
    responses, proc = storescu(port, small)
    assert [r.status for r in responses] == [DicomStatus.SUCCESS], proc.stdout


def test_deflate_bomb_is_refused_before_it_is_inflated(scp, tmp_path: Path) -> None:
    settings, port = scp(dicom_max_inflated_bytes=2_000_000)
    # 12 leads x 60 s x 500 Hz of zeros: 720 KB raw, a few KB deflated
    built = ecg_object((GroupSpec(duration_s=60.0, sensitivity=1e9),),
                       sop_class=TWELVE_LEAD_ECG)
    ds = built.dataset
    ds.WaveformSequence[0].WaveformData = bytes(12 * 30000 * 2 * 4)  # 2.9 MB of zeros
    ds.WaveformSequence[0].NumberOfWaveformSamples = 30000 * 4
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path = write(built, tmp_path / "bomb.dcm")
    assert path.stat().st_size < 100_000
    responses, proc = storescu(port, path, extra=("-xd",))
    assert [r.status for r in responses] == [DicomStatus.OUT_OF_RESOURCES], proc.stdout
    (event,) = _events(settings, "ecgread.dicom.rejected")
    assert "dicom_max_inflated_bytes" in event.detail_json
    assert _rows(settings, Received)[0].status == "0xA700"


def test_too_many_samples_and_overflowing_baseline_are_refused(scp, tmp_path: Path) -> None:
    settings, port = scp(max_samples=12 * 2000)
    long_ecg = write(twelve_lead(), tmp_path / "long.dcm")  # 12 x 5000 samples
    overflow = write(ecg_object((GroupSpec(duration_s=2.0, baseline=1e300),)),
                     tmp_path / "overflow.dcm")
    responses, proc = storescu(port, long_ecg, overflow)
    assert [r.status for r in responses] == [DicomStatus.OUT_OF_RESOURCES,
                                             DicomStatus.CANNOT_UNDERSTAND], proc.stdout
    reasons = [r.reason for r in _rows(settings, Received)]
    assert "samples" in reasons[0] and "out of range" in reasons[1]
    assert not _rows(settings, EcgRecord)


def test_free_space_reserve_on_both_paths(scp, mllp, tmp_path: Path) -> None:
    settings, port = scp(store_min_free_bytes=HUGE)
    responses, _ = storescu(port, write(twelve_lead(), tmp_path / "a.dcm"))
    assert [r.status for r in responses] == [DicomStatus.OUT_OF_RESOURCES]
    assert _rows(settings, Received)[0].status == "0xA700"
    hl7_settings, hl7_port = mllp(store_min_free_bytes=HUGE)
    client = _Client(hl7_port)
    ack = client.send(omg_o19("FULL1"))
    assert _msa(ack) == ("AE", "FULL1") and _err(ack)[0] == "207"
    assert not _files(hl7_settings.home / "hl7")
    assert [r.status for r in _rows(hl7_settings, Received) if r.protocol == "hl7"] == ["AE"]


def test_association_limit_and_acse_timeout(scp) -> None:
    settings, port = scp(dicom_max_associations=1, dicom_acse_timeout_s=1.0)
    ae = AE(ae_title="HOLDER")
    ae.add_requested_context("1.2.840.10008.1.1")
    held = ae.associate("127.0.0.1", port, ae_title="ECGREAD")
    assert held.is_established
    try:
        proc = subprocess.run(["echoscu", "-aet", "CART2", "-aec", "ECGREAD", "127.0.0.1",
                               str(port)], capture_output=True, text=True, check=False, timeout=60)
        assert proc.returncode != 0
        assert "Local Limit Exceeded" in proc.stdout + proc.stderr or "Rejected" in (
            proc.stdout + proc.stderr)
    finally:
        held.release()
    (event,) = _events(settings, "ecgread.dicom.association.rejected")
    assert "LOCAL_LIMIT_EXCEEDED" in event.detail_json and "TRANSIENT" in event.detail_json
    # a socket that never sends A-ASSOCIATE-RQ is dropped after the ACSE timeout
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    started = time.monotonic()
    assert idle.recv(1024) == b""
    assert time.monotonic() - started < 8
    idle.close()
    proc = subprocess.run(["echoscu", "-aet", "CART3", "-aec", "ECGREAD", "127.0.0.1",
                           str(port)], capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_mllp_frame_limit_gets_ar_and_is_recorded(mllp) -> None:
    settings, port = mllp(hl7_max_message_bytes=4096)
    client = _Client(port)
    big = message(msh("BIG1", "OMG^O19^OMG_O19", "2.5.1"), PID_EPIC,
                  segment("NTE", {3: "x" * 10_000}))
    ack = client.send(big)
    assert _msa(ack) == ("AR", "BIG1") and _err(ack)[0] == "207"
    assert client.closed()
    (row,) = _rows(settings, Received)
    assert row.status == "AR" and "4096" in (row.reason or "") and row.path is None
    assert "hl7_max_message_bytes" in _events(settings, "ecgread.hl7.rejected")[0].detail_json


def test_orders_and_repetitions_per_message(mllp) -> None:
    settings, port = mllp(hl7_max_orders=3, hl7_max_repetitions=20)
    orders = [segment("ORC", {1: "NW", 2: f"P{i}^HIS"}) for i in range(5)]
    many = message(msh("MANY1", "ORM^O01", "2.5.1"), PID_EPIC, *orders)
    reps = "~".join(f"ID{i}^^^H^MR" for i in range(500))
    repeated = message(msh("REP1", "ORM^O01", "2.5.1"), segment("PID", {1: "1", 3: reps}),
                       segment("ORC", {1: "NW", 2: "Q1^HIS"}))
    client = _Client(port)
    started = time.monotonic()
    acks = [client.send(many), client.send(repeated)]
    assert time.monotonic() - started < 5
    assert [(_msa(a), _err(a)[0]) for a in acks] == [(("AR", "MANY1"), "207"),
                                                     (("AR", "REP1"), "207")]
    assert not _rows(settings, Hl7Order) and not _files(settings.home / "hl7")
    details = [e.detail_json for e in _events(settings, "ecgread.hl7.rejected")]
    assert "hl7_max_orders" in details[0] and "hl7_max_repetitions" in details[1]
    # the connection still serves
    assert _msa(client.send(omg_o19("OK1")))[0] == "AA"


def test_garbage_frame_is_refused_without_being_stored(mllp) -> None:
    settings, port = mllp()
    client = _Client(port)
    ack = client.send(os.urandom(2000).replace(b"\x0b", b"").replace(b"\x1c", b""))
    assert _msa(ack)[0] == "AE" and _err(ack)[0] == "100"
    assert not _files(settings.home / "hl7")
    assert [r.status for r in _rows(settings, Received)] == ["AE"]


def test_mllp_connection_limit_and_idle_timeout(mllp) -> None:
    settings, port = mllp(hl7_max_connections=1, hl7_idle_timeout_s=1.0)
    first = _Client(port)
    assert _msa(first.send(omg_o19("C1")))[0] == "AA"
    second = _Client(port)
    assert second.closed(5.0)  # refused at once
    wait_until(lambda: _events(settings, "ecgread.hl7.connection.rejected"), 10)
    # the first goes idle inside a message: closed after the idle time, recorded
    first.sock.sendall(b"\x0bMSH|^~\\&|HIS")
    assert first.closed(10.0)
    wait_until(lambda: _events(settings, "ecgread.hl7.connection.closed"), 10)
    (event,) = _events(settings, "ecgread.hl7.connection.closed")
    assert "hl7_idle_timeout_s" in event.detail_json
    third = _Client(port)  # a slot is free again
    assert _msa(third.send(omg_o19("C3")))[0] == "AA"
    _chain_intact(settings)


def test_control_characters_from_hl7_never_reach_a_log_line(mllp, caplog) -> None:
    _, port = mllp()
    client = _Client(port)
    with caplog.at_level(logging.DEBUG):
        ack = client.send(omg_o19("ESC\x1b[2J\x07"))
    assert _msa(ack)[0] == "AA"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("ecgread")]
    assert any("ESC\\x1b[2J\\x07" in line for line in lines), lines
    assert not any("\x1b" in line or "\x07" in line for line in lines)


# --- 2. No ECG is acknowledged and then stranded ------------------------------------


def _store_one_lead(scp, tmp_path: Path, **overrides: object) -> tuple[Settings, str]:  # type: ignore[no-untyped-def]
    settings, port = scp(**overrides)
    built = ecg_object((GroupSpec(leads=("II",)),), sop_class=GENERAL_ECG)
    responses, proc = storescu(port, write(built, tmp_path / "one.dcm"))
    assert [r.status for r in responses] == [DicomStatus.SUCCESS], proc.stdout
    return settings, str(built.dataset.SOPInstanceUID)


def _run_crashing_read(settings: Settings, uid: str, patch: str) -> int:
    """Run read_ecg in a child process whose ``patch`` kills it (os._exit) mid-read."""
    code = (f"import os, sys\n{patch}\n"
            "from ecgread.config.settings import load_settings\n"
            "from ecgread.workers.read_job import read_ecg\n"
            f"read_ecg(load_settings({{'home': {str(settings.home)!r}}}, environ={{}}), "
            f"{uid!r})\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], env=env, check=False,
                          timeout=300).returncode


def test_unreadable_ecg_ends_failed_and_the_ehr_is_told_why(scp, tmp_path: Path,
                                                          monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings, uid = _store_one_lead(scp, tmp_path)
    import ecgread.models.analysis

    def fails(*args: object, **kwargs: object) -> None:
        # a one-lead ECG used to fail here by itself (UnknownMeasurement 'V1.r_prime_uv');
        # any lead set is read now, so the unexpected analysis error is injected
        raise KeyError("V1.r_prime_uv")

    monkeypatch.setattr(ecgread.models.analysis, "analyze", fails)
    outcome = read_ecg(settings, uid)
    assert outcome.error and outcome.read_id is not None
    (ecg,) = _rows(settings, EcgRecord)
    assert ecg.state == "failed" and ecg.attempts == 1 and ecg.state_detail == outcome.error
    (read,) = _rows(settings, EcgRead)
    assert read.status == "failed" and read.error == outcome.error
    (delivery,) = _rows(settings, Delivery)
    oru = Path(delivery.payload_path).read_text()
    assert f"ECG could not be interpreted: {outcome.error}" in oru.replace("\\", "")
    assert "|NM|" not in oru and "|ED|" not in oru  # no measurements, no PDF
    assert Path(delivery.payload_path).parent == settings.reports_dir
    from ecgread.workers.outbox import deliver_due

    assert deliver_due(settings) == 1  # written to the outbox (no EHR host configured)
    assert _rows(settings, Delivery)[0].state == "delivered"
    # a second trigger (a resend, a redelivered task) changes nothing
    assert read_ecg(settings, uid).skipped
    assert len(_rows(settings, EcgRead)) == 1
    # ecgread audit failed lists it
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECGREAD_HOME": str(settings.home)}
    proc = subprocess.run([sys.executable, "-m", "ecgread", "audit", "failed"],
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert uid in line and '"state": "failed"' in line and '"attempts": 1' in line
    assert "analysis error" in line
    _chain_intact(settings)


def test_attempts_are_counted_across_crashes(scp, tmp_path: Path) -> None:
    settings, uid = _store_one_lead(scp, tmp_path, read_max_attempts=2)
    crash = "import ecgread.models.analysis as a; a.analyze = lambda *x, **k: os._exit(9)"
    assert _run_crashing_read(settings, uid, crash) == 9
    assert _run_crashing_read(settings, uid, crash) == 9
    (ecg,) = _rows(settings, EcgRecord)
    assert ecg.state == "reading" and ecg.attempts == 2  # what a restart finds
    from ecgread.integration.recovery import unfinished_ecgs

    assert unfinished_ecgs(settings) == [uid]
    outcome = read_ecg(settings, uid)  # the third start: no third try
    assert outcome.error and "did not finish in 2 attempts" in outcome.error
    (ecg,) = _rows(settings, EcgRecord)
    assert ecg.state == "failed" and ecg.attempts == 2
    assert unfinished_ecgs(settings) == []
    assert len(_rows(settings, Delivery)) == 1  # the EHR is still told
    assert len(_events(settings, "ecgread.read.started")) == 2


def test_one_read_per_ecg_across_a_crash_after_the_read(scp, tmp_path: Path) -> None:
    settings, port = scp()
    built = twelve_lead()
    uid = str(built.dataset.SOPInstanceUID)
    responses, _ = storescu(port, write(built, tmp_path / "ok.dcm"))
    assert [r.status for r in responses] == [DicomStatus.SUCCESS]
    crash = ("import ecgread.workers.read_job as r; "
             "r._report_and_queue = lambda *x, **k: os._exit(9)")
    assert _run_crashing_read(settings, uid, crash) == 9
    assert [r.status for r in _rows(settings, EcgRead)] == ["ok"]  # committed, no report
    outcome = read_ecg(settings, uid)
    assert outcome.error is None and outcome.read_id == _rows(settings, EcgRead)[0].id
    assert len(_rows(settings, EcgRead)) == 1 and len(_events(settings,
                                                               "ecgread.read.finished")) == 1
    assert _events(settings, "ecgread.read.resumed")
    assert _rows(settings, EcgRecord)[0].state == "reported"
    # the database itself refuses a second ingest read
    with pytest.raises(IntegrityError), session_scope(settings.audit_url) as session:
        session.add(EcgRead(ecg_id=_rows(settings, EcgRecord)[0].id, trigger="ingest"))
    # a batch re-read is another read, allowed
    assert read_ecg(settings, uid, trigger="batch").read_id is not None


def test_migration_from_0001_keeps_crash_duplicates_and_adds_attempts(tmp_path: Path) -> None:
    """An audit database at 0001 with two ingest reads of one ECG (the crash duplicates of
    issue 11) upgrades: the later read is re-labelled, the index then holds."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from ecgread.audit.db import MIGRATIONS_DIR, engine_for

    settings = _settings(tmp_path)
    url = settings.audit_url
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine_for(url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    with engine_for(url).begin() as connection:
        connection.execute(text("INSERT INTO ecg (id, sop_instance_uid, sop_class_uid, received_at,"
                                " path, state, updated_at) VALUES (1, '1.2.3', '', "
                                "'2026-01-01', '', 'reading', '2026-01-01')"))
        for _ in range(2):
            connection.execute(text("INSERT INTO ecg_read (ecg_id, started_at, status, critical,"
                                    " trigger) VALUES (1, '2026-01-01', 'ok', 0, 'ingest')"))
    migrate(url)
    migrate(url)  # idempotent
    assert [r.trigger for r in _rows(settings, EcgRead)] == ["ingest", "ingest-repeat"]
    assert _rows(settings, EcgRecord)[0].attempts == 0
    with pytest.raises(IntegrityError), session_scope(url) as session:
        session.add(EcgRead(ecg_id=1, trigger="ingest"))

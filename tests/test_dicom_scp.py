"""The DICOM listener against real peers on loopback: DCMTK's echoscu/storescu and pynetdicom.

Each test starts the real SCP (``integration.dicom_scp.serve``) on an ephemeral port with
a temporary home and SQLite; the crash test runs it as a separate process and SIGKILLs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from sqlmodel import select

from ecgread.audit.db import session_scope
from ecgread.audit.events import verify_chain
from ecgread.audit.tables import EcgRecord, Event, Received
from ecgread.config.settings import Settings, load_settings
from ecgread.integration.dicom_decode import GENERAL_ECG, TWELVE_LEAD_ECG, decode_file
from ecgread.integration.dicom_ingest import Ingestor, Peer
from ecgread.integration.dicom_scp import serve
from ecgread.integration.recovery import unfinished_ecgs
from ecgread.integration.status_map import DicomStatus
from ecgread.testing import free_port
from tests.conftest import REPO
from tests.dicom_factory import (
    ct_as_ecg,
    garbage_file,
    general_ecg_multigroup,
    truncated,
    twelve_lead,
    without_waveform,
    write,
)
from tests.e2e_helpers import wait_until

pytestmark = pytest.mark.skipif(shutil.which("storescu") is None or shutil.which("echoscu")
                                is None, reason="DCMTK (storescu, echoscu) not installed")

SAMPLE = Path(get_testdata_file("waveform_ecg.dcm"))
CT = Path(get_testdata_file("CT_small.dcm"))
SAMPLE_UID = "1.3.6.1.4.1.20029.40.20130125105919.5407.1.1"


@dataclass
class Scp:
    """A running listener: its settings, its port, and the UIDs handed to ``on_stored``."""

    settings: Settings
    port: int
    stored: list[str] = field(default_factory=list)


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {"home": tmp_path / "home", "dicom_host": "127.0.0.1",
                               "dicom_port": 0, "store_min_free_bytes": 0}
    base.update(overrides)
    return load_settings(base, environ={})


StartScp = Callable[..., Scp]


@pytest.fixture
def start_scp(tmp_path: Path) -> Iterator:
    servers = []

    def start(on_stored=None, **overrides: object) -> Scp:  # type: ignore[no-untyped-def]
        settings = _settings(tmp_path, **overrides)
        scp = Scp(settings, 0)
        server = serve(settings, on_stored=on_stored or scp.stored.append, block=False)
        assert server is not None
        servers.append(server)
        scp.port = int(server.server_address[1])
        return scp

    yield start
    for server in servers:
        server.shutdown()


@dataclass(frozen=True)
class StoreResponse:
    status: int
    comment: str | None


def storescu(port: int, *files: Path, aet: str = "CART1", extra: tuple[str, ...] = ()
             ) -> tuple[list[StoreResponse], subprocess.CompletedProcess]:
    """Run DCMTK storescu (debug output) and parse each C-STORE response it received."""
    proc = subprocess.run(["storescu", "-d", "-nh", "-aet", aet, "-aec", "ECGREAD", *extra,
                           "127.0.0.1", str(port), *map(str, files)],
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    responses = []
    for block in out.split("C-STORE RSP")[1:]:
        status = re.search(r"DIMSE Status\s*:\s*0x([0-9a-fA-F]+)", block)
        assert status, block
        comment = re.search(r"\(0000,0902\) LO \[(.*?)\]", block.split("END DIMSE")[1][:2000]
                            if "END DIMSE" in block else "")
        responses.append(StoreResponse(int(status.group(1), 16),
                                       comment.group(1) if comment else None))
    return responses, proc


def _rows(settings: Settings, table):  # type: ignore[no-untyped-def]
    with session_scope(settings.audit_url) as session:
        return list(session.exec(select(table).order_by(table.id)).all())


def _events(settings: Settings, action: str) -> list[Event]:
    return [e for e in _rows(settings, Event) if e.action == action]


def test_echo(start_scp: StartScp) -> None:
    scp = start_scp()
    proc = subprocess.run(["echoscu", "-aet", "CART1", "-aec", "ECGREAD", "127.0.0.1",
                           str(scp.port)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_store_ecgs_durably_and_hand_off(start_scp: StartScp, tmp_path: Path) -> None:
    scp = start_scp()
    twelve, general = twelve_lead(), general_ecg_multigroup()
    files = [SAMPLE, write(twelve, tmp_path / "12.dcm"), write(general, tmp_path / "g.dcm")]
    responses, proc = storescu(scp.port, *files)
    assert [r.status for r in responses] == [DicomStatus.SUCCESS] * 3, proc.stdout
    uids = [SAMPLE_UID, twelve.dataset.SOPInstanceUID, general.dataset.SOPInstanceUID]
    assert scp.stored == uids  # handed off after commit, once each

    records = _rows(scp.settings, EcgRecord)
    assert [r.sop_instance_uid for r in records] == uids
    assert {r.state for r in records} == {"received"}
    assert records[0].accession_number == "03028041970546"
    assert records[1].sop_class_uid == TWELVE_LEAD_ECG and records[2].sop_class_uid == GENERAL_ECG
    received = _rows(scp.settings, Received)
    assert [(r.status, r.duplicate, r.calling_ae, r.peer_host) for r in received] == [
        ("0x0000", False, "CART1", "127.0.0.1")] * 3
    for rec, row in zip(records, received, strict=True):
        data = Path(rec.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert rec.received_id == row.id
    # what is stored decodes to what was sent
    stored = decode_file(records[2].path)
    for group in general.groups_uv[:3]:
        for lead, values in group.items():
            assert stored.lead(lead) == pytest.approx(values, rel=1e-6, abs=1e-3, nan_ok=True)
    assert len(_events(scp.settings, "ecgread.dicom.stored")) == 3
    with session_scope(scp.settings.audit_url) as session:
        assert verify_chain(session) == []


def test_duplicate_is_acknowledged_recorded_and_read_once(start_scp: StartScp) -> None:
    scp = start_scp()
    first, _ = storescu(scp.port, SAMPLE)
    again, _ = storescu(scp.port, SAMPLE)
    assert [r.status for r in first + again] == [DicomStatus.SUCCESS] * 2
    assert scp.stored == [SAMPLE_UID]
    assert len(_rows(scp.settings, EcgRecord)) == 1
    received = _rows(scp.settings, Received)
    assert [r.duplicate for r in received] == [False, True]
    assert received[1].path == received[0].path
    dup = _events(scp.settings, "ecgread.dicom.duplicate")
    assert len(dup) == 1 and json.loads(dup[0].detail_json)["same_content"] is True


def test_concurrent_copies_of_one_uid_give_one_ecg(start_scp: StartScp, tmp_path: Path) -> None:
    scp = start_scp()
    path = write(twelve_lead(), tmp_path / "same.dcm")
    results: list[list[StoreResponse]] = []
    threads = [threading.Thread(target=lambda: results.append(storescu(scp.port, path)[0]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for rs in results for r in rs] == [DicomStatus.SUCCESS] * 4
    assert len(_rows(scp.settings, EcgRecord)) == 1 and len(scp.stored) == 1
    assert sorted(r.duplicate for r in _rows(scp.settings, Received)) == [False] + [True] * 3


def test_other_sop_class_refused_at_negotiation(start_scp: StartScp) -> None:
    scp = start_scp()
    responses, proc = storescu(scp.port, CT)
    assert responses == []
    assert "No presentation context" in proc.stdout + proc.stderr
    assert _rows(scp.settings, Received) == [] and _rows(scp.settings, EcgRecord) == []
    assert list((scp.settings.store_dir).rglob("*.dcm")) == []
    refused = _events(scp.settings, "ecgread.dicom.context.rejected")
    assert refused and "1.2.840.10008.5.1.4.1.1.2" in json.loads(refused[0].detail_json)[
        "sop_classes"]


@pytest.mark.parametrize("make,status,comment", [
    (lambda p: write(truncated(twelve_lead()), p), DicomStatus.CANNOT_UNDERSTAND,
     "bytes of waveform data"),
    (lambda p: write(without_waveform(twelve_lead()), p),
     DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS, "no Waveform Sequence"),
    (lambda p: ct_as_ecg(p), DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS, "Waveform"),
])
def test_malformed_objects_fail_with_comment(start_scp: StartScp, tmp_path: Path,
                                             make: Callable[[Path], Path], status: DicomStatus,
                                             comment: str) -> None:
    scp = start_scp()
    path = make(tmp_path / "bad.dcm")
    responses, proc = storescu(scp.port, path)
    assert len(responses) == 1, proc.stdout
    assert responses[0].status == status
    assert responses[0].comment and comment in responses[0].comment
    assert len(responses[0].comment) <= 64
    received = _rows(scp.settings, Received)
    assert [(r.status, r.identifier) for r in received] == [
        (f"0x{status:04X}", dcmread(path, stop_before_pixels=True).SOPInstanceUID)]
    assert comment in (received[0].reason or "")
    assert _rows(scp.settings, EcgRecord) == [] and scp.stored == []
    assert list(scp.settings.store_dir.rglob("*.dcm")) == []
    assert len(_events(scp.settings, "ecgread.dicom.rejected")) == 1


def _pynetdicom_store(port: int, path: Path, monkeypatch: pytest.MonkeyPatch,
                      aet: str = "CART2") -> int:
    """Send a file's bytes as they are, under the SOP class its file meta names
    (pynetdicom's chunked sending; the monkeypatch undoes the global switch)."""
    from pynetdicom import AE, _config

    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)

    meta = dcmread(path, stop_before_pixels=True).file_meta
    ae = AE(ae_title=aet)
    ae.add_requested_context(meta.MediaStorageSOPClassUID, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="ECGREAD")
    assert assoc.is_established
    try:
        status = assoc.send_c_store(path)
        return int(status.Status)
    finally:
        assoc.release()


@pytest.mark.filterwarnings("ignore:Expected explicit VR")
def test_garbage_data_set_cannot_be_understood(start_scp: StartScp, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    scp = start_scp()
    status = _pynetdicom_store(scp.port, garbage_file(tmp_path / "garbage.dcm"), monkeypatch)
    assert status in (DicomStatus.CANNOT_UNDERSTAND, DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS)
    assert _rows(scp.settings, EcgRecord) == []
    assert _rows(scp.settings, Received)[0].status == f"0x{status:04X}"


def test_data_set_of_another_ecg_class_than_sent_as(start_scp: StartScp, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    scp = start_scp()
    built = twelve_lead()
    built.dataset.SOPClassUID = GENERAL_ECG  # the file meta still says 12-lead
    built.dataset.preamble = b"\0" * 128
    path = tmp_path / "mixed.dcm"
    built.dataset.save_as(path, enforce_file_format=False)  # keep the file meta as it is
    status = _pynetdicom_store(scp.port, path, monkeypatch)
    assert status == DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS
    assert "!= request" in (_rows(scp.settings, Received)[0].reason or "")


def test_context_and_request_class_mismatch(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    from ecgread.audit.db import migrate

    migrate(settings.audit_url)
    data = (write(twelve_lead(), tmp_path / "x.dcm")).read_bytes()
    result = Ingestor(settings).ingest(
        data, context_sop_class=GENERAL_ECG, sop_class_uid=TWELVE_LEAD_ECG,
        sop_instance_uid="1.2.3", peer=Peer("127.0.0.1", 1, "A", "B"))
    assert result.status == DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS
    assert result.error_comment and "presentation context" in result.error_comment


def test_full_store_is_out_of_resources(start_scp: StartScp, tmp_path: Path) -> None:
    scp = start_scp(store_min_free_bytes=2**62)
    responses, _ = storescu(scp.port, SAMPLE)
    assert [r.status for r in responses] == [DicomStatus.OUT_OF_RESOURCES]
    assert responses[0].comment and "free-space" in responses[0].comment
    assert _rows(scp.settings, Received)[0].status == "0xA700"
    assert _rows(scp.settings, EcgRecord) == [] and scp.stored == []


@pytest.mark.parametrize("option,transfer_syntax", [
    ("-xi", ImplicitVRLittleEndian), ("-xe", ExplicitVRLittleEndian),
    ("-xb", ExplicitVRBigEndian), ("-xd", DeflatedExplicitVRLittleEndian)])
def test_transfer_syntaxes(start_scp: StartScp, tmp_path: Path, option: str,
                           transfer_syntax: str) -> None:
    scp = start_scp()
    built = twelve_lead()
    responses, proc = storescu(scp.port, write(built, tmp_path / "t.dcm"), extra=(option,))
    assert [r.status for r in responses] == [DicomStatus.SUCCESS], proc.stdout
    detail = json.loads(_events(scp.settings, "ecgread.dicom.stored")[0].detail_json)
    assert detail["transfer_syntax"] == transfer_syntax
    ecg = decode_file(_rows(scp.settings, EcgRecord)[0].path)
    for lead, values in built.expected_uv.items():
        assert ecg.lead(lead) == pytest.approx(values, rel=1e-6, abs=1e-3)


def test_calling_ae_not_allowed_is_rejected(start_scp: StartScp) -> None:
    scp = start_scp(dicom_allowed_peers=("CART1@127.0.0.1",))
    responses, proc = storescu(scp.port, SAMPLE, aet="INTRUDER")
    assert responses == []
    assert "Calling AE Title Not Recognized" in proc.stdout + proc.stderr
    echo = subprocess.run(["echoscu", "-aet", "INTRUDER", "-aec", "ECGREAD", "127.0.0.1",
                           str(scp.port)], capture_output=True, text=True, timeout=60)
    assert echo.returncode != 0
    rejected = _events(scp.settings, "ecgread.dicom.association.rejected")
    assert len(rejected) == 2
    detail = json.loads(rejected[0].detail_json)
    assert detail["calling_ae"] == "INTRUDER" and detail["peer"].startswith("127.0.0.1:")
    assert detail["diagnostic"] == "CALLING_AE_TITLE_NOT_RECOGNIZED"
    assert _rows(scp.settings, Received) == []
    ok, _ = storescu(scp.port, SAMPLE, aet="CART1")
    assert [r.status for r in ok] == [DicomStatus.SUCCESS]


def test_peer_address_not_allowed_is_rejected(start_scp: StartScp) -> None:
    scp = start_scp(dicom_allowed_peers=("CART1@10.255.0.0/24",))
    responses, proc = storescu(scp.port, SAMPLE, aet="CART1")
    assert responses == [] and "Association Rejected" in proc.stdout + proc.stderr
    detail = json.loads(_events(scp.settings, "ecgread.dicom.association.rejected")[0]
                        .detail_json)
    assert detail["reason"] == "calling AE not allowed from this address"
    assert detail["diagnostic"] == "NO_REASON_GIVEN"


def test_hand_off_failure_keeps_success(start_scp: StartScp) -> None:
    def broken(_uid: str) -> None:
        raise ConnectionError("broker down")

    scp = start_scp(on_stored=broken)
    responses, _ = storescu(scp.port, SAMPLE)
    assert [r.status for r in responses] == [DicomStatus.SUCCESS]
    assert unfinished_ecgs(scp.settings) == [SAMPLE_UID]


def test_killed_right_after_success_loses_nothing(tmp_path: Path) -> None:
    """Run the listener as a process, SIGKILL it the moment a Success arrives, then check
    the object and rows are there and recovery would pick the ECG up."""
    from pynetdicom import AE

    home, port = tmp_path / "home", free_port()
    log = open(tmp_path / "scp.log", "ab")  # noqa: SIM115 - closed at the end
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECGREAD_")}
    env.update(ECGREAD_STORE_MIN_FREE_BYTES="0", PYTHONUNBUFFERED="1")

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "ecgread.integration.dicom_scp", "--home",
                                 str(home), "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=log, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening"), line
        return proc

    proc = start()
    try:
        ae = AE(ae_title="CART1")
        ae.add_requested_context(TWELVE_LEAD_ECG, ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", port, ae_title="ECGREAD")
        assert assoc.is_established
        status = assoc.send_c_store(SAMPLE)
        os.kill(proc.pid, signal.SIGKILL)  # before the release, before anything else
        assert status.Status == DicomStatus.SUCCESS
        assoc.abort()
    finally:
        proc.kill()
        proc.wait()
    settings = load_settings({"home": home}, environ={})
    assert unfinished_ecgs(settings) == [SAMPLE_UID]
    record = _rows(settings, EcgRecord)[0]
    assert decode_file(record.path).acquisition.sop_instance_uid == SAMPLE_UID
    assert _rows(settings, Received)[0].sha256 == hashlib.sha256(
        Path(record.path).read_bytes()).hexdigest()
    assert not list(settings.store_dir.rglob("*.tmp"))
    # after a restart the same object is a duplicate
    proc = start()
    try:
        again, _ = storescu(port, SAMPLE)
        assert [r.status for r in again] == [DicomStatus.SUCCESS]
        wait_until(lambda: len(_rows(settings, Received)) == 2, timeout_s=10)
        assert _rows(settings, Received)[1].duplicate is True
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()

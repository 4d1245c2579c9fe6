"""The whole loop as a user runs it: DICOM in through the real listener, read, PDF and
ORU^R01 out; on embedded defaults and with a real RabbitMQ broker and a worker process."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from sqlmodel import select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import Delivery, EcgRead, EcgRecord, Report
from ecgread.testing import free_port, wait_for_port
from tests.conftest import REPO
from tests.e2e_helpers import ecgread_env, start_ecgread, stop, storescu, wait_until

SAMPLE = Path(get_testdata_file("waveform_ecg.dcm"))
pytestmark = pytest.mark.skipif(shutil.which("storescu") is None, reason="DCMTK not installed")


def _state(url: str, sop_uid: str):
    with session_scope(url) as s:
        rec = s.exec(select(EcgRecord).where(EcgRecord.sop_instance_uid == sop_uid)).first()
        if rec is None:
            return None
        reads = list(s.exec(select(EcgRead).where(EcgRead.ecg_id == rec.id)))
        deliveries = [d for r in reads for d in s.exec(
            select(Delivery).where(Delivery.read_id == r.id))]
        reports = [p for r in reads for p in s.exec(select(Report).where(Report.read_id == r.id))]
        return rec.state, reads, reports, deliveries


def _sop_uid() -> str:
    import pydicom

    return str(pydicom.dcmread(SAMPLE, stop_before_pixels=True).SOPInstanceUID)


def test_demo_command_reads_the_sample_through_the_listener(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ecgread", "demo", "--home", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ACK AA" in proc.stdout
    assert "DCMTK storescu: success" in proc.stdout
    assert "order matched" in proc.stdout
    pdfs = list((tmp_path / "reports").glob("*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF")
    orus = list((tmp_path / "outbox").rglob("*"))
    assert any(p.is_file() and b"ORU^R01" in p.read_bytes() for p in orus)


def _check_one_read_delivered(url: str, uid: str) -> None:
    state, reads, reports, deliveries = _state(url, uid)
    assert state == "reported"
    assert len(reads) == 1 and reads[0].status == "ok"
    assert len(reports) == 1 and Path(reports[0].pdf_path).is_file()
    assert [d.state for d in deliveries] == ["delivered"]


def test_broker_worker_reads_and_delivers_once(tmp_path, broker_url):
    home = tmp_path / "home"
    dicom_port, hl7_port = free_port(), free_port()
    env = ecgread_env(home, broker_url=broker_url, dicom_port=dicom_port, hl7_port=hl7_port,
                      dicom_host="127.0.0.1", hl7_host="127.0.0.1")
    url = f"sqlite:///{(home / 'audit.db').resolve()}"
    from ecgread.config.settings import load_settings
    from ecgread.workers.celery_app import make_celery

    make_celery(load_settings({"broker_url": broker_url}, environ={})).control.purge()
    server = start_ecgread(["serve"], env, tmp_path / "serve.log")
    worker = None
    try:
        wait_for_port(dicom_port)
        uid = _sop_uid()
        # The worker is not running yet: the job must wait in the durable queue.
        sent = storescu(dicom_port, SAMPLE)
        assert sent.returncode == 0, sent.stderr
        time.sleep(1.0)
        assert _state(url, uid)[0] == "received"
        worker = start_ecgread(["worker", "--concurrency", "1"], env, tmp_path / "worker.log")
        wait_until(lambda: (s := _state(url, uid)) and s[0] == "reported" and s[3]
                   and all(d.state == "delivered" for d in s[3]), timeout_s=120)
        # A resend is acknowledged, recorded as a duplicate, and not read again.
        again = storescu(dicom_port, SAMPLE)
        assert again.returncode == 0, again.stderr
        time.sleep(2.0)
        _check_one_read_delivered(url, uid)
    finally:
        if worker is not None:
            stop(worker)
        stop(server)


def test_the_ehr_receives_a_well_formed_oru_with_the_read_and_its_pdf(settings):
    """C-STORE in, ORU^R01 out to a real MLLP receiver: what arrives is what was stored and
    read, parsed by python-hl7 (an independent parser), byte for byte."""
    import base64
    import dataclasses
    import json

    import hl7

    from ecgread.cli.service import start
    from ecgread.testing import MllpReceiver

    ehr = MllpReceiver("AA")
    s = dataclasses.replace(settings, ehr_host="127.0.0.1", ehr_port=ehr.port)
    service = start(s, outbox_poll_s=0.2)
    try:
        sent = storescu(service.dicom_port, SAMPLE)
        assert sent.returncode == 0, sent.stderr
        wait_until(lambda: ehr.acked, timeout_s=120)
    finally:
        service.stop()
        ehr.stop()
    (message,) = ehr.received
    assert "\n" not in message and message.count("\r") > 10
    m = hl7.parse(message)
    assert str(m.segment("MSH")[9]) == "ORU^R01^ORU_R01" and str(m.segment("MSH")[12]) == "2.5.1"
    assert str(m.segment("PID")[3]).split("^")[0] == "642341"  # the sample's Patient ID
    with session_scope(s.audit_url) as db:
        (read,) = db.exec(select(EcgRead)).all()
        (report,) = db.exec(select(Report)).all()
        (delivery,) = db.exec(select(Delivery)).all()
    assert delivery.state == "delivered" and delivery.last_ack_code == "AA"
    assert str(m.segment("MSH")[10]) == delivery.message_id == ehr.acked[0]
    stored = json.loads(read.result_json or "{}")["measurements"]
    obx = [seg for seg in m if str(seg[0]) == "OBX"]
    nm = {str(o[3]).split("^")[0]: o for o in obx if str(o[2]) == "NM"}
    assert float(str(nm["8867-4"][5])) == round(stored["heart_rate_bpm"])
    assert float(str(nm["8633-0"][5])) == round(stored["qrs_ms"])
    (ed,) = [o for o in obx if str(o[2]) == "ED"]
    assert base64.b64decode(str(ed[5]).split("^")[4]) == Path(report.pdf_path).read_bytes()

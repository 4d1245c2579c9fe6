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

from audit.db import session_scope
from audit.tables import Delivery, EcgRead, EcgRecord, Report
from tests.conftest import REPO
from tests.e2e_helpers import (
    ecgread_env,
    free_port,
    start_ecgread,
    stop,
    storescu,
    wait_for_port,
    wait_until,
)

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
    from config.settings import load_settings
    from workers.celery_app import make_celery

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
        assert _state(url, uid)[0] in ("received", "queued")
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

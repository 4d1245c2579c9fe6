"""``ecgread serve`` against faulty surroundings (issue 11, points 6 and 9): a silent EHR
never stalls the reads; a broker that is down at start is named in one line, ECGs are
still taken, and their hand-offs are retried until the broker is back (a TCP relay to
the real RabbitMQ opens on the port the broker URL names), then read by a worker.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from sqlmodel import select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import Delivery, EcgRecord
from ecgread.cli.service import start
from ecgread.testing import MllpReceiver, free_port, wait_for_port
from tests.conftest import REPO
from tests.e2e_helpers import ecgread_env, start_ecgread, stop, storescu, wait_until

pytestmark = pytest.mark.skipif(shutil.which("storescu") is None, reason="DCMTK not installed")


def _copies(tmp_path: Path, n: int) -> list[Path]:
    import pydicom
    from pydicom.uid import generate_uid

    out = []
    for i in range(n):
        ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID = f"SIL{i}"
        path = tmp_path / f"ecg{i}.dcm"
        ds.save_as(path)
        out.append(path)
    return out


def test_a_silent_ehr_never_stalls_the_reads(settings, tmp_path: Path) -> None:
    """The EHR reads every ORU and never answers (30 s ACK timeout): three ECGs are all
    read and reported well within one timeout; deliveries ran inline with reads before,
    so each read waited for the previous result's timeout."""
    ehr = MllpReceiver("never")
    s = dataclasses.replace(settings, ehr_host="127.0.0.1", ehr_port=ehr.port,
                            ack_timeout_s=30.0)
    service = start(s, outbox_poll_s=0.5)
    try:
        files = _copies(tmp_path, 3)
        t0 = time.monotonic()
        assert storescu(service.dicom_port, *files).returncode == 0

        def reported() -> bool:
            with session_scope(s.audit_url) as db:
                return [e.state for e in db.exec(select(EcgRecord))] == ["reported"] * 3

        wait_until(reported, timeout_s=25)
        assert time.monotonic() - t0 < 25
        assert len(ehr.received) >= 1  # the first ORU went out and is still unanswered
        with session_scope(s.audit_url) as db:
            rows = list(db.exec(select(Delivery)))
        assert len(rows) == 3 and all(d.state in ("pending", "sending") for d in rows)
    finally:
        service.stop()
        ehr.stop()


class _Relay:
    """A TCP relay from a loopback port to ``target``: the broker "comes back" when it
    starts listening."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.target = target
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def test_broker_down_at_start_then_back(tmp_path: Path, broker_url: str) -> None:
    from urllib.parse import urlsplit

    real = urlsplit(broker_url)
    port = free_port()
    down_url = broker_url.replace(f"{real.hostname}:{real.port}", f"127.0.0.1:{port}")
    home = tmp_path / "home"
    dicom_port, hl7_port = free_port(), free_port()
    env = ecgread_env(home, broker_url=down_url, dicom_port=dicom_port, hl7_port=hl7_port,
                      dicom_host="127.0.0.1", hl7_host="127.0.0.1", handoff_retry_s=1)
    log = tmp_path / "serve.log"
    server = start_ecgread(["serve"], env, log)
    relay = worker = None
    try:
        wait_for_port(dicom_port, 120)
        (ecg,) = _copies(tmp_path, 1)
        assert storescu(dicom_port, ecg).returncode == 0  # taken while the broker is down
        status = subprocess.run([sys.executable, "-m", "ecgread", "status", "--json"],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert status.returncode == 1, status.stderr  # the broker is unreachable
        figures = json.loads(status.stdout)
        assert figures["ecgs_unfinished"] == 1 and "unreachable" in figures["broker"]["error"]
        text = log.read_text()
        assert "Traceback" not in text
        said = [line for line in text.splitlines() if "cannot connect to the broker" in line]
        assert len(said) == 1 and "ECGREAD_BROKER_URL=" in said[0], text
        # the broker comes back: the pending hand-off is published without a restart
        relay = _Relay(port, (str(real.hostname), int(real.port or 5672)))
        worker = start_ecgread(["worker"], env, tmp_path / "worker.log")
        url = f"sqlite:///{(home / 'audit.db').resolve()}"

        def reported() -> bool:
            with session_scope(url) as db:
                return [e.state for e in db.exec(select(EcgRecord))] == ["reported"]

        wait_until(reported, timeout_s=120)
        assert "broker reachable again" in log.read_text()
    finally:
        stop(server)
        if worker is not None:
            stop(worker)
        if relay is not None:
            relay.close()

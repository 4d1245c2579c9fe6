"""The report as Encapsulated PDF, stored to a real PACS stand-in: DCMTK's storescp on an
ephemeral loopback port, directly and through the outbox (PACS up, down, back up)."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydicom
import pytest
from sqlmodel import select

from ecgread.audit.db import migrate, session_scope
from ecgread.audit.tables import Delivery, DeliveryAttempt, EcgRead, EcgRecord
from ecgread.errors import DeliveryError
from ecgread.integration.dicom_decode import decode_file
from ecgread.integration.pacs_store import send_to_pacs
from ecgread.reporting.context import ReportContext, report_context
from ecgread.reporting.encapsulated_pdf import (
    ENCAPSULATED_PDF_STORAGE,
    encapsulated_pdf,
    report_uids,
    to_part10,
)
from ecgread.testing import free_port
from ecgread.workers.outbox import deliver_due, enqueue_delivery

STORESCP = shutil.which("storescp") or "/usr/bin/storescp"
PDF = b"%PDF-1.4 test report\n%%EOF\n"  # odd length: stored padded to even
pytestmark = pytest.mark.skipif(not Path(STORESCP).exists(), reason="DCMTK storescp missing")


class StoreScp:
    """DCMTK storescp as the PACS: AE title PACS, files written to ``directory``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        directory.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [STORESCP, "-aet", "PACS", "-od", str(self.directory), "-dhl", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"storescp exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("storescp did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if p.is_file())


@pytest.fixture
def pacs(tmp_path):
    scp = StoreScp(tmp_path / "pacs", free_port())
    yield scp
    scp.stop()


@pytest.fixture(scope="module")
def ecg_context() -> tuple[ReportContext, str]:
    ecg = decode_file(str(pydicom.data.get_testdata_file("waveform_ecg.dcm")))
    return report_context(ecg, None), str(ecg.acquisition.sop_class_uid)


def _pacs_settings(settings, port: int):  # type: ignore[no-untyped-def]
    return dataclasses.replace(settings, pacs_ae_title="PACS", pacs_host="127.0.0.1",
                               pacs_port=port, ack_timeout_s=5.0, retry_initial_s=0.01,
                               retry_max_interval_s=0.05)


def _dataset(ecg_context, read_id: int = 1):  # type: ignore[no-untyped-def]
    ctx, sop_class = ecg_context
    return encapsulated_pdf(PDF, ctx, read_id, source_sop_class_uid=sop_class,
                            software_version="0.1.0",
                            now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_dataset_is_an_encapsulated_pdf_in_the_ecg_study(ecg_context) -> None:
    ctx, sop_class = ecg_context
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(to_part10(_dataset(ecg_context))))
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.file_meta.MediaStorageSOPClassUID == ENCAPSULATED_PDF_STORAGE
    assert ds.SOPClassUID == ENCAPSULATED_PDF_STORAGE
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.StudyInstanceUID == ctx.study_instance_uid
    assert ds.PatientID == "642341" and ds.PatientSex == "F"
    assert ds.PatientBirthDate == "19710123" and ds.AccessionNumber == "03028041970546"
    assert ds.Modality == "DOC" and ds.BurnedInAnnotation == "YES"
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.ConceptNameCodeSequence[0].CodeValue == "11524-6"
    assert ds.ConceptNameCodeSequence[0].CodingSchemeDesignator == "LN"
    assert "unconfirmed" in ds.DocumentTitle
    assert ds.SourceInstanceSequence[0].ReferencedSOPInstanceUID == ctx.sop_instance_uid
    assert ds.SourceInstanceSequence[0].ReferencedSOPClassUID == sop_class
    assert ds.EncapsulatedDocumentLength == len(PDF)
    assert ds.EncapsulatedDocument == PDF + b"\x00"
    assert ds.SeriesInstanceUID != ds.SOPInstanceUID
    for uid in (ds.SeriesInstanceUID, ds.SOPInstanceUID):
        assert uid.is_valid and uid.startswith("2.25.")


def test_uids_are_deterministic_per_ecg_and_read(ecg_context) -> None:
    a, b, other = _dataset(ecg_context, 1), _dataset(ecg_context, 1), _dataset(ecg_context, 2)
    assert (a.SeriesInstanceUID, a.SOPInstanceUID) == (b.SeriesInstanceUID, b.SOPInstanceUID)
    assert other.SeriesInstanceUID == a.SeriesInstanceUID  # one report series per ECG
    assert other.SOPInstanceUID != a.SOPInstanceUID  # one instance per read
    assert report_uids("1.2.3", 1)[1] != report_uids("1.2.4", 1)[1]
    with pytest.raises(ValueError):
        encapsulated_pdf(PDF, ReportContext(), 1)


def test_c_store_to_storescp(settings, pacs, ecg_context) -> None:
    pacs.start()
    ds = _dataset(ecg_context)
    assert send_to_pacs(_pacs_settings(settings, pacs.port), ds) == 0
    files = pacs.files()
    assert len(files) == 1
    stored = pydicom.dcmread(files[0])
    assert stored.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1"
    assert stored.SOPInstanceUID == ds.SOPInstanceUID
    assert stored.StudyInstanceUID == ecg_context[0].study_instance_uid
    doc = bytes(stored.EncapsulatedDocument)
    assert doc[: stored.EncapsulatedDocumentLength] == PDF
    assert doc in (PDF, PDF + b"\x00")


def test_pacs_down_raises_delivery_error(settings, ecg_context) -> None:
    s = _pacs_settings(settings, free_port())  # nothing listens there
    with pytest.raises(DeliveryError):
        send_to_pacs(s, _dataset(ecg_context))


def _queue_pacs(settings, ecg_context) -> int:  # type: ignore[no-untyped-def]
    """A read with its Encapsulated PDF written and a 'pacs' delivery queued."""
    migrate(settings.audit_url)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    ctx = ecg_context[0]
    with session_scope(settings.audit_url) as s:
        ecg = EcgRecord(sop_instance_uid=str(ctx.sop_instance_uid), path="x")
        s.add(ecg)
        s.flush()
        assert ecg.id is not None
        read = EcgRead(ecg_id=ecg.id)
        s.add(read)
        s.flush()
        assert read.id is not None
        path = settings.reports_dir / f"{ctx.sop_instance_uid}.{read.id}.pdf.dcm"
        path.write_bytes(to_part10(_dataset(ecg_context, read.id)))
        row = enqueue_delivery(s, read_id=read.id, destination="pacs", payload_path=str(path),
                               message_id=f"pacs:{ctx.sop_instance_uid}.{read.id}",
                               patient_id=ctx.patient_id, priority=0)
        assert row.id is not None
        return row.id


def _row(settings, delivery_id: int):  # type: ignore[no-untyped-def]
    with session_scope(settings.audit_url) as s:
        row = s.get(Delivery, delivery_id)
        attempts = list(s.exec(select(DeliveryAttempt)
                               .where(DeliveryAttempt.delivery_id == delivery_id)))
        assert row is not None
        s.expunge(row)
        for a in attempts:
            s.expunge(a)
        return row, attempts


def test_outbox_delivers_to_pacs(settings, pacs, ecg_context) -> None:
    pacs.start()
    s = _pacs_settings(settings, pacs.port)
    delivery_id = _queue_pacs(s, ecg_context)
    assert deliver_due(s) == 1
    row, attempts = _row(s, delivery_id)
    assert row.state == "delivered" and row.last_ack_code == "0x0000"
    assert row.target == f"PACS@127.0.0.1:{pacs.port}"
    assert len(attempts) == 1 and attempts[0].outcome == "0x0000"
    assert len(pacs.files()) == 1


def test_outbox_retries_while_pacs_is_down_then_delivers_once(settings, pacs,
                                                               ecg_context) -> None:
    s = _pacs_settings(settings, pacs.port)
    delivery_id = _queue_pacs(s, ecg_context)
    assert deliver_due(s) == 1  # PACS down
    row, attempts = _row(s, delivery_id)
    assert row.state == "pending" and row.attempts == 1
    assert len(attempts) == 1 and attempts[0].outcome == "refused"
    assert row.last_error and "PACS" in row.last_error
    pacs.start()
    later = datetime.now(UTC) + timedelta(days=1)
    assert deliver_due(s, now=later) == 1
    row, attempts = _row(s, delivery_id)
    assert row.state == "delivered" and row.attempts == 2 and row.last_ack_code == "0x0000"
    assert deliver_due(s, now=later) == 0  # nothing left to send
    files = pacs.files()
    assert len(files) == 1
    assert pydicom.dcmread(files[0]).StudyInstanceUID == ecg_context[0].study_instance_uid


def test_read_job_queues_the_encapsulated_pdf_for_pacs(settings, pacs) -> None:
    """read_ecg end to end: the pacs delivery carries the .pdf.dcm, not the raw PDF."""
    pytest.importorskip("ecgread.reporting.pdf")
    from ecgread.workers.read_job import read_ecg

    pacs.start()
    s = dataclasses.replace(_pacs_settings(settings, pacs.port), delineator="dsp")
    migrate(s.audit_url)
    sample = str(pydicom.data.get_testdata_file("waveform_ecg.dcm"))
    uid = str(pydicom.dcmread(sample, stop_before_pixels=True).SOPInstanceUID)
    with session_scope(s.audit_url) as session:
        session.add(EcgRecord(sop_instance_uid=uid, path=sample, state="received"))
    outcome = read_ecg(s, uid)
    assert outcome.read_id is not None and outcome.error is None
    with session_scope(s.audit_url) as session:
        rows = {d.destination: (d.payload_path, d.id) for d in session.exec(select(Delivery))}
    payload, delivery_id = rows["pacs"]
    assert delivery_id is not None
    assert payload == str(s.reports_dir / f"{uid}.{outcome.read_id}.pdf.dcm")
    ds = pydicom.dcmread(payload)
    pdf = (s.reports_dir / f"{uid}.{outcome.read_id}.pdf").read_bytes()
    assert bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength] == pdf
    assert ds.SourceInstanceSequence[0].ReferencedSOPInstanceUID == uid
    deliver_due(s)
    row, _ = _row(s, delivery_id)
    assert row.state == "delivered" and row.last_ack_code == "0x0000"
    stored = pydicom.dcmread(pacs.files()[0])
    assert stored.SOPInstanceUID == ds.SOPInstanceUID

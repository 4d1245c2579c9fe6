"""``ecgread demo``: the whole loop once, on embedded defaults, through the real listeners.

An order goes in over MLLP, pydicom's sample 12-lead ECG goes in over DICOM C-STORE
(DCMTK's storescu when installed, else a pynetdicom SCU), the in-process worker reads it,
and the PDF and the ORU^R01 come out (written to files, as no EHR is configured).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from sqlmodel import col, select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import Delivery, EcgRead, EcgRecord, Report
from ecgread.config.settings import Settings
from ecgread.errors import ConfigError


def _sample_ecg() -> Path:
    from pydicom.data import get_testdata_file

    found = get_testdata_file("waveform_ecg.dcm")
    if not isinstance(found, str):  # None when pydicom's test files are not installed
        raise ConfigError("pydicom's sample ECG (waveform_ecg.dcm) is missing: give a FILE")
    return Path(found)


def _order_for(path: Path) -> bytes:
    """An ORM^O01 (v2.3.1) for the ECG's patient and accession, as an EHR would send it."""
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    now = datetime.now().strftime("%Y%m%d%H%M%S")
    pid = str(ds.get("PatientID", "")) or "DEMO-PID"
    acc = str(ds.get("AccessionNumber", "")) or "DEMO-ACC"
    name = str(ds.get("PatientName", "")) or "DEMO^PATIENT"
    sex = str(ds.get("PatientSex", "")) or "U"
    birth = str(ds.get("PatientBirthDate", ""))
    segments = [
        f"MSH|^~\\&|DEMO-EHR|HOSPITAL|ECGREAD|CARDIOLOGY|{now}||ORM^O01|DEMO{now}|P|2.3.1",
        f"PID|1||{pid}^^^HOSP^MR||{name}||{birth}|{sex}",
        f"ORC|NW|PLC-{acc}|FIL-{acc}||SC||||{now}",
        f"OBR|1|PLC-{acc}|FIL-{acc}|93000^12-lead ECG^CPT|||{now}|||||||||1234^CARDIO^ANNA"
        f"||{acc}",
    ]
    return "\r".join(segments).encode() + b"\r"


def _send_order(port: int, message: bytes) -> str:
    from ecgread.integration.mllp import frame

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(frame(message))
        data = b""
        while b"\x1c\x0d" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    ack = data.strip(b"\x0b\x1c\x0d").decode(errors="replace")
    msa = next((seg for seg in ack.split("\r") if seg.startswith("MSA")), "MSA|?")
    return msa.split("|")[1]


def _send_dicom(settings: Settings, port: int, path: Path) -> str:
    storescu = shutil.which("storescu")
    if storescu:
        proc = subprocess.run([storescu, "-aet", "DEMO-CART", "-aec", settings.dicom_ae_title,
                               "127.0.0.1", str(port), str(path)], capture_output=True, text=True)
        return "DCMTK storescu: " + ("success" if proc.returncode == 0 else
                                     f"failed ({proc.stderr.strip()[-200:]})")
    import pydicom
    from pynetdicom import AE

    ds = pydicom.dcmread(path)
    ae = AE(ae_title="DEMO-CART")
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title=settings.dicom_ae_title)
    if not assoc.is_established:
        return "pynetdicom SCU: association failed"
    status = assoc.send_c_store(ds)
    assoc.release()
    return f"pynetdicom SCU: status 0x{int(status.Status):04X}"


def _print_web_account(settings: Settings) -> None:
    """A demo cardiologist account (new random password each run) and where to log in."""
    import secrets

    from ecgread.web.auth import add_user

    password = secrets.token_urlsafe(9)
    add_user(settings, "demo", password, "cardiologist")
    print(f"7. web worklist: run `ecgread web --home {settings.home}`, open "
          f"http://{settings.web_host}:{settings.web_port}/ and log in as demo / {password}")


def run_demo(settings: Settings, file: Path | None) -> int:
    from ecgread.cli.service import start
    from ecgread.integration.dicom_decode import decode_file

    settings = dataclasses.replace(settings, dicom_host="127.0.0.1", dicom_port=0,
                                   hl7_host="127.0.0.1", hl7_port=0)
    path = file or _sample_ecg()
    sop_uid = decode_file(path).acquisition.sop_instance_uid
    service = start(settings, outbox_poll_s=0.5)
    with session_scope(settings.audit_url) as s:
        seen = s.exec(select(EcgRecord).where(EcgRecord.sop_instance_uid == sop_uid)).first()
    try:
        print(f"1. listeners up: DICOM {settings.dicom_ae_title} on "
              f"127.0.0.1:{service.dicom_port}, HL7 MLLP on 127.0.0.1:{service.hl7_port}")
        ack = _send_order(service.hl7_port, _order_for(path))
        print(f"2. order ORM^O01 sent over MLLP: ACK {ack}")
        status = _send_dicom(settings, service.dicom_port, path)
        print(f"3. ECG {path.name} sent by C-STORE: {status}")
        if seen is not None:
            print(f"   duplicate: this ECG (SOP Instance UID {sop_uid}) was already received "
                  f"in {settings.home}; it is not read again, the stored read is shown below "
                  "(a fresh run: --home EMPTY_FOLDER)")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with session_scope(settings.audit_url) as s:
                rec = s.exec(select(EcgRecord).where(EcgRecord.sop_instance_uid == sop_uid)).first()
                state = rec.state if rec else None
                delivered = rec is not None and s.exec(
                    select(Delivery).join(EcgRead, EcgRead.id == Delivery.read_id)  # type: ignore[arg-type]
                    .where(EcgRead.ecg_id == rec.id, Delivery.state != "pending")).first()
            if state == "failed" or (state == "reported" and delivered):
                break
            time.sleep(0.3)
        with session_scope(settings.audit_url) as s:
            rec = s.exec(select(EcgRecord).where(EcgRecord.sop_instance_uid == sop_uid)).first()
            if rec is None or rec.state != "reported":
                print(f"4. read did not finish: state {rec.state if rec else 'missing'} "
                      f"{rec.state_detail if rec else ''}", file=sys.stderr)
                return 1
            read = s.exec(select(EcgRead).where(EcgRead.ecg_id == rec.id)
                          .order_by(col(EcgRead.id).desc())).first()
            if read is None:
                print("4. read did not finish: no read recorded", file=sys.stderr)
                return 1
            report = s.exec(select(Report).where(Report.read_id == read.id)).first()
            deliveries = list(s.exec(select(Delivery).where(Delivery.read_id == read.id)))
        result = json.loads(read.result_json or "{}")
        m = result.get("measurements", {})
        matched = "matched" if rec.order_id else "not matched"
        print(f"4. read in {read.duration_ms:.0f} ms (order {matched}):")
        print("   " + ", ".join(f"{k}={v}" for k, v in m.items()))
        for st in result.get("statements", []):
            print(f"   - {st['text']} ({st['certainty']})")
        print(f"5. PDF report: {report.pdf_path if report else 'none'}")
        for d in deliveries:
            print(f"6. ORU^R01 to {d.destination}: {d.state} -> {d.target or d.payload_path}")
        print(f"audit database: {settings.audit_url}   (try: ecgread audit events --sop {sop_uid})")
        _print_web_account(settings)
        return 0
    finally:
        service.stop()

"""Fault cases end to end, and a load run: does the service survive, lose nothing, and
answer with the right status?

Fault cases (``python -m bench.faults``): ``ecgread serve`` in a process of its own, a
scripted EHR on loopback (:class:`ecgread.testing.MllpReceiver`) switched between AA, AE,
AR, garbage, late (after the ACK timeout), never and close, and one ECG per case sent with
pynetdicom. Then a serve pointed at a broker port where nothing listens, and a writer held
past ``intake_write_timeout_s`` (both listeners in process). Per case: inputs tried,
service survived (still answers C-ECHO / the next ECG), data lost (an ECG acknowledged
with no row, or a result with no delivery, or a delivery the database does not show), wrong
status (the delivery state or the answer the sender got is not the one the rules give).

Load run (``--load``): 4 DICOM senders (pynetdicom, one association each, one ECG every
``--interval`` s each) and 4 HL7 senders (raw MLLP, one ORM^O01 per ``--interval`` s each)
for ``--seconds`` s against serve with an AA EHR; C-STORE -> EHR ACK latency p50/p95 per
ECG (target p95 <= 5 s), C-STORE and order ACK times.

    .venv/bin/python -m bench.faults
    .venv/bin/python -m bench.faults --load --seconds 60
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.end_to_end import _acked_at_by_patient
from ecgread.testing import MllpReceiver, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Case:
    name: str
    tried: int = 0
    survived: bool = True
    lost: int = 0
    wrong: int = 0
    detail: str = ""


def _template():  # type: ignore[no-untyped-def]
    import pydicom
    from pydicom.data import get_testdata_file

    return pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))


def _ecg(template, patient: str):  # type: ignore[no-untyped-def]
    from pydicom.uid import generate_uid

    ds = template.copy()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID = patient
    ds.AccessionNumber = f"ACC{patient}"
    return ds


def _store(port: int, ds) -> int:  # type: ignore[no-untyped-def]
    from pynetdicom import AE

    ae = AE(ae_title="BENCH")
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="ECGREAD")
    if not assoc.is_established:
        return -1
    try:
        rsp = assoc.send_c_store(ds)
        return int(rsp.Status) if "Status" in rsp else -1
    finally:
        assoc.release()


def _echo(port: int) -> bool:
    from pynetdicom import AE

    ae = AE(ae_title="BENCH")
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", port, ae_title="ECGREAD")
    if not assoc.is_established:
        return False
    try:
        return int(assoc.send_c_echo().Status) == 0
    finally:
        assoc.release()


#: With ``--database-url`` (PostgreSQL): each case (each home) gets a fresh database there.
POSTGRES_BASE_URL: str | None = None
_DATABASES: dict[Path, str] = {}


def _fresh_postgres_database(base: str) -> str:
    import uuid

    from sqlalchemy import text

    from ecgread.audit.db import engine_for

    name = f"ecgread_faults_{uuid.uuid4().hex[:10]}"
    with engine_for(base).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return base.rsplit("/", 1)[0] + "/" + name


def _env(home: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECGREAD_")}
    env["ECGREAD_HOME"] = str(home)
    if POSTGRES_BASE_URL and "database_url" not in settings:
        if home not in _DATABASES:
            _DATABASES[home] = _fresh_postgres_database(POSTGRES_BASE_URL)
        env["ECGREAD_DATABASE_URL"] = _DATABASES[home]
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in settings.items():
        env[f"ECGREAD_{key.upper()}"] = str(value)
    return env


def _serve(home: Path, **settings: object) -> tuple[subprocess.Popen, int, int]:
    dicom_port, hl7_port = free_port(), free_port()
    env = _env(home, dicom_port=dicom_port, hl7_port=hl7_port, dicom_host="127.0.0.1",
               hl7_host="127.0.0.1", store_min_free_bytes=0, **settings)
    proc = subprocess.Popen([sys.executable, "-m", "ecgread", "serve"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(home / "serve.log", "ab"))
    wait_for_port(dicom_port, 120)
    return proc, dicom_port, hl7_port


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _delivery(url: str, patient: str) -> tuple[str | None, Any]:
    """(ecg state, the EHR delivery row or None) of the ECG of ``patient``."""
    from sqlmodel import select

    from ecgread.audit.db import session_scope
    from ecgread.audit.tables import Delivery, EcgRead, EcgRecord

    with session_scope(url) as s:
        ecg = s.exec(select(EcgRecord).where(EcgRecord.patient_id == patient)).first()
        if ecg is None:
            return None, None
        row = s.exec(select(Delivery).join(EcgRead, EcgRead.id == Delivery.read_id)  # type: ignore[arg-type]
                     .where(EcgRead.ecg_id == ecg.id, Delivery.destination == "ehr")).first()
        return ecg.state, row


def _wait(predicate, timeout_s: float) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


#: EHR behaviour -> (delivery state expected while it lasts, then with AA: delivered?)
EHR_CASES = (("AA", "delivered"), ("AE", "pending"), ("AR", "dead"), ("garbage", "pending"),
             ("late", "delivered"), ("never", "pending"), ("close", "pending"))


def ehr_cases() -> list[Case]:
    home = Path(tempfile.mkdtemp(prefix="ecgread-faults-"))
    url = _env(home).get("ECGREAD_DATABASE_URL") or f"sqlite:///{(home / 'audit.db').resolve()}"
    ehr = MllpReceiver("AA", late_s=3.0)
    proc, dicom_port, _ = _serve(home, ehr_host="127.0.0.1", ehr_port=ehr.port,
                                 ack_timeout_s=2.0, retry_initial_s=1.0,
                                 retry_max_interval_s=2.0)
    template = _template()
    cases = []
    try:
        for i, (mode, expected) in enumerate(EHR_CASES):
            case = Case(f"EHR answers {mode}")
            ehr.mode = mode
            patient = f"F{i:03d}"
            before = len(ehr.received)
            status = _store(dicom_port, _ecg(template, patient))
            case.tried = 1
            if status != 0:
                case.wrong += 1
            settle = 20.0 if mode in ("late",) else 12.0
            read_s = time.monotonic()
            state, row = _wait(lambda p=patient, e=expected: (lambda r: r if r[1] is not None and (
                r[1].state == e and (r[1].attempts > 0 or e == "pending"))
                else None)(_delivery(url, p)), settle) or _delivery(url, patient)
            read_s = time.monotonic() - read_s
            if state is None:
                case.lost += 1
            if row is None or row.state != expected:
                case.wrong += 1
            copies = sum(1 for m in ehr.received[before:] if f"|{patient}" in m
                         or patient in m)
            if row is not None and row.attempts < copies:
                case.lost += 1  # a copy left that the database does not count
            case.detail = (f"state {row.state if row else '-'}, attempts "
                           f"{row.attempts if row else '-'}, copies {copies}, "
                           f"last {row.last_ack_code if row else '-'}")
            if mode == "never":
                case.detail += f"; ECG reported while the EHR was silent: {state == 'reported'}"
                if state != "reported":
                    case.wrong += 1
            ehr.mode = "AA"
            if expected == "pending":  # recovers once the EHR is well again
                _, row = _wait(lambda p=patient: (lambda r: r if r[1] is not None and
                               r[1].state == "delivered" else None)(_delivery(url, p)), 60) \
                    or _delivery(url, patient)
                if row is None or row.state != "delivered":
                    case.lost += 1
                case.detail += f" -> {row.state if row else '-'} after AA"
            case.survived = proc.poll() is None and _echo(dicom_port)
            cases.append(case)
    finally:
        _stop(proc)
        ehr.stop()
    return cases


def broker_down_case() -> Case:
    home = Path(tempfile.mkdtemp(prefix="ecgread-faults-broker-"))
    case = Case("broker down (closed port)")
    proc, dicom_port, _ = _serve(home, broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//",
                                 handoff_retry_s=2.0)
    try:
        status = _store(dicom_port, _ecg(_template(), "BRK001"))
        case.tried = 1
        case.wrong += status != 0
        time.sleep(3.0)
        case.survived = proc.poll() is None and _echo(dicom_port)
        out = subprocess.run([sys.executable, "-m", "ecgread", "status", "--json"], cwd=REPO,
                             env=_env(home, broker_url="amqp://guest:guest@127.0.0.1:1//"),
                             capture_output=True, text=True, timeout=120)
        import json

        st = json.loads(out.stdout)
        case.lost += st["ecgs_unfinished"] != 1
    finally:
        _stop(proc)
    log = (home / "serve.log").read_text()
    said = sum("cannot connect to the broker" in line for line in log.splitlines())
    traceback = "Traceback" in log
    case.wrong += traceback or said == 0
    case.detail = (f"C-STORE 0x{status:04X}; start-up said so in {said} line(s), traceback "
                   f"{traceback}; status: unfinished {st['ecgs_unfinished']}, broker "
                   f"{st['broker'].get('error', 'ok')[:30]}")
    return case


def writer_busy_case() -> Case:
    import dataclasses

    from sqlmodel import select

    from ecgread.audit.db import session_scope
    from ecgread.audit.tables import Received
    from ecgread.config.settings import load_settings
    from ecgread.integration import dicom_scp, hl7_listener, intake
    from ecgread.integration.mllp import MllpReader, frame

    home = Path(tempfile.mkdtemp(prefix="ecgread-faults-busy-"))
    db = {"database_url": _env(home)["ECGREAD_DATABASE_URL"]} if POSTGRES_BASE_URL else {}
    settings = load_settings({"home": home, "dicom_host": "127.0.0.1", "dicom_port": 0,
                              "hl7_host": "127.0.0.1", "hl7_port": 0,
                              "store_min_free_bytes": 0, **db}, environ={})
    settings = dataclasses.replace(settings, intake_write_timeout_s=1.0)
    dicom = dicom_scp.serve(settings, on_stored=lambda uid: None, block=False)
    hl7 = hl7_listener.serve(settings, block=False)
    case = Case("audit writer held")
    try:
        release = threading.Event()
        held = threading.Event()

        def hold() -> None:
            with intake.write_turn(settings.audit_url):
                held.set()
                release.wait(60)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait()
        t0 = time.monotonic()
        status = _store(int(dicom.server_address[1]), _ecg(_template(), "BUSY01"))
        msg = (b"MSH|^~\\&|EHR|H|ECGREAD|C|20260101||ORM^O01|BUSYMSG|P|2.3.1\r"
               b"PID|1||B1^^^H^MR||DOE^J\rORC|NW|PB1\rOBR|1|PB1||93000^ECG\r")
        with socket.create_connection(("127.0.0.1", int(hl7.server_address[1])), 30) as sock:
            sock.sendall(frame(msg))
            reader, acks = MllpReader(), []
            while not acks:
                acks = reader.feed(sock.recv(65536))
        answered_s = time.monotonic() - t0
        release.set()
        holder.join()
        intake.wait_recorded(30)
        case.tried = 2
        ack = acks[0].decode()
        case.wrong += (status != 0xA700) + ("MSA|AE|" not in ack)
        with session_scope(settings.audit_url) as s:
            rows = list(s.exec(select(Received)))
        case.lost += 2 - len(rows)
        case.survived = _echo(int(dicom.server_address[1]))
        case.detail = (f"C-STORE 0x{status:04X}, order {ack.split('MSA|')[1][:2]}, both in "
                       f"{answered_s:.1f} s; {len(rows)} refusal(s) recorded")
    finally:
        dicom.shutdown()
        hl7.shutdown()
        hl7.server_close()
    return case


def _print_cases(cases: list[Case]) -> None:
    print(f"{'case':<28} {'tried':>5} {'survived':>8} {'lost':>4} {'wrong':>5}  detail")
    for c in cases:
        print(f"{c.name:<28} {c.tried:>5} {'yes' if c.survived else 'NO':>8} {c.lost:>4} "
              f"{c.wrong:>5}  {c.detail}")
    print(f"{'total':<28} {sum(c.tried for c in cases):>5} "
          f"{sum(c.survived for c in cases):>5}/{len(cases):<2} {sum(c.lost for c in cases):>4} "
          f"{sum(c.wrong for c in cases):>5}")


def load_run(seconds: float, interval_s: float) -> dict[str, float]:
    """4 DICOM + 4 HL7 senders for ``seconds``; C-STORE -> EHR ACK per ECG."""
    from pynetdicom import AE

    from ecgread.integration.mllp import MllpReader, frame

    home = Path(tempfile.mkdtemp(prefix="ecgread-load-"))
    ehr = MllpReceiver("AA")
    proc, dicom_port, hl7_port = _serve(home, ehr_host="127.0.0.1", ehr_port=ehr.port,
                                        retry_initial_s=0.5)
    template = _template()
    sent: dict[str, float] = {}
    store_ms: list[float] = []
    order_ms: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def dicom_sender(k: int) -> None:
        ae = AE(ae_title=f"CART{k}")
        ae.add_requested_context(template.SOPClassUID, template.file_meta.TransferSyntaxUID)
        assoc = ae.associate("127.0.0.1", dicom_port, ae_title="ECGREAD")
        i = 0
        next_at = time.monotonic() + k * interval_s / 4
        while time.monotonic() < stop_at:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval_s
            patient = f"L{k}{i:05d}"
            i += 1
            t0 = time.monotonic()
            rsp = assoc.send_c_store(_ecg(template, patient))
            with lock:
                store_ms.append((time.monotonic() - t0) * 1000)
                if "Status" in rsp and int(rsp.Status) == 0:
                    sent[patient] = t0
                else:
                    failures.append(f"dicom {patient}")
        assoc.release()

    def hl7_sender(k: int) -> None:
        sock = socket.create_connection(("127.0.0.1", hl7_port), 30)
        reader = MllpReader()
        i = 0
        next_at = time.monotonic() + k * interval_s / 4
        while time.monotonic() < stop_at:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval_s
            cid = f"LD{k}{i:05d}"
            msg = (f"MSH|^~\\&|EHR|H|ECGREAD|C|20260101||ORM^O01|{cid}|P|2.3.1\r"
                   f"PID|1||O{k}{i:05d}^^^H^MR||DOE^J\rORC|NW|P{cid}\r"
                   f"OBR|1|P{cid}||93000^ECG\r").encode()
            i += 1
            t0 = time.monotonic()
            sock.sendall(frame(msg))
            acks: list[bytes] = []
            while not acks:
                acks = reader.feed(sock.recv(65536))
            with lock:
                order_ms.append((time.monotonic() - t0) * 1000)
                if b"MSA|AA|" not in acks[0]:
                    failures.append(f"hl7 {cid}")
        sock.close()

    try:
        threads = [threading.Thread(target=dicom_sender, args=(k,)) for k in range(4)]
        threads += [threading.Thread(target=hl7_sender, args=(k,)) for k in range(4)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            got = _acked_at_by_patient(ehr)
            if all(p in got for p in sent):
                break
            time.sleep(0.5)
        wall = time.monotonic() - start
        got = _acked_at_by_patient(ehr)
        lat = np.array([got[p] - t for p, t in sent.items() if p in got])
    finally:
        _stop(proc)
        ehr.stop()
    return {"ecgs": len(sent), "acked": len(lat), "orders": len(order_ms),
            "failures": len(failures),
            "p50_s": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p95_s": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
            "max_s": float(lat.max()) if len(lat) else float("nan"),
            "store_p95_ms": float(np.percentile(store_ms, 95)) if store_ms else float("nan"),
            "order_p95_ms": float(np.percentile(order_ms, 95)) if order_ms else float("nan"),
            "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", action="store_true", help="the load run instead of the faults")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=8.0,
                    help="seconds between two messages of one sender")
    ap.add_argument("--database-url", help="a PostgreSQL server URL: every case on a fresh "
                    "database there (default: SQLite in each case's home)")
    args = ap.parse_args()
    global POSTGRES_BASE_URL
    POSTGRES_BASE_URL = args.database_url
    if args.load:
        r = load_run(args.seconds, args.interval)
        print(f"{'senders':<16} {'ECGs':>5} {'acked':>5} {'orders':>6} {'failed':>6} "
              f"{'p50 s':>6} {'p95 s':>6} {'max s':>6} {'C-STORE p95 ms':>14} "
              f"{'order ACK p95 ms':>16}")
        print(f"{'4 DICOM + 4 HL7':<16} {r['ecgs']:>5} {r['acked']:>5} {r['orders']:>6} "
              f"{r['failures']:>6} {r['p50_s']:>6.2f} {r['p95_s']:>6.2f} {r['max_s']:>6.2f} "
              f"{r['store_p95_ms']:>14.1f} {r['order_p95_ms']:>16.1f}")
        return
    cases = ehr_cases() + [broker_down_case()]
    if POSTGRES_BASE_URL:  # PostgreSQL has no single writer turn to hold: nothing to starve
        print("audit writer held: not applicable on PostgreSQL (concurrent writers; a lock "
              "wait is bounded by lock_timeout, tests/test_intake.py)")
    else:
        cases.append(writer_busy_case())
    _print_cases(cases)


if __name__ == "__main__":
    main()

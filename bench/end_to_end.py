"""End-to-end latency: from the C-STORE of an ECG to the EHR's AA for its ORU^R01.

A real EHR stand-in (:class:`ecgread.testing.MllpReceiver` on loopback, answering AA) and
``ecgread serve`` as a separate process; ECGs (pydicom's sample with a new SOP Instance UID
and patient ID each) are sent at a steady rate by a pynetdicom SCU on one association.
Latency per ECG = time the EHR acknowledged its ORU - time its C-STORE request was sent.

    .venv/bin/python -m bench.end_to_end --n 200 --rate 1            # embedded defaults
    .venv/bin/python -m bench.end_to_end --n 200 --rate 1 \
        --broker amqp://guest:guest@127.0.0.1:5672// --workers 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ecgread.testing import MllpReceiver, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[1]


def _acked_at_by_patient(ehr: MllpReceiver) -> dict[str, float]:
    """When the EHR first answered AA to an ORU for each patient (PID-3), monotonic s."""
    out: dict[str, float] = {}
    for message in list(ehr.received):
        segs = {s[:3]: s.split("|") for s in message.split("\r") if s}
        at = ehr.acked_at_s.get(segs["MSH"][9])
        if at is not None:
            pid = segs.get("PID", [""] * 4)[3].split("^")[0]
            out[pid] = min(at, out.get(pid, at))
    return out


def run(n: int, rate: float, broker: str, workers: int) -> dict[str, float]:
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid
    from pynetdicom import AE

    ehr = MllpReceiver("AA")
    home = Path(tempfile.mkdtemp(prefix="ecgread-e2e-"))
    dicom_port, hl7_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECGREAD_")}
    env.update(ECGREAD_HOME=str(home), ECGREAD_DICOM_PORT=str(dicom_port),
               ECGREAD_HL7_PORT=str(hl7_port), ECGREAD_DICOM_HOST="127.0.0.1",
               ECGREAD_HL7_HOST="127.0.0.1", ECGREAD_EHR_HOST="127.0.0.1",
               ECGREAD_EHR_PORT=str(ehr.port), ECGREAD_RETRY_INITIAL_S="0.5",
               ECGREAD_BROKER_URL=broker)
    procs = [subprocess.Popen([sys.executable, "-m", "ecgread", "serve"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=open(home / "serve.log", "w"))]
    if broker:
        from ecgread.config.settings import load_settings
        from ecgread.workers.celery_app import make_celery

        make_celery(load_settings({"broker_url": broker}, environ={})).control.purge()
        for i in range(workers):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "ecgread", "worker", "--concurrency", "1"], cwd=REPO,
                env=env, stdout=subprocess.DEVNULL, stderr=open(home / f"worker{i}.log", "w")))
    try:
        wait_for_port(dicom_port)
        time.sleep(3.0 if broker else 0.5)
        template = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
        ae = AE(ae_title="BENCH")
        ae.add_requested_context(template.SOPClassUID, template.file_meta.TransferSyntaxUID)
        assoc = ae.associate("127.0.0.1", dicom_port, ae_title="ECGREAD")
        assert assoc.is_established, "association refused"
        sent: dict[str, float] = {}
        store_ms: list[float] = []
        start = time.monotonic()
        for i in range(n):
            ds = template.copy()
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.PatientID = f"E2E{i:05d}"
            ds.AccessionNumber = f"E2EACC{i:05d}"
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            t0 = time.monotonic()
            status = assoc.send_c_store(ds)
            store_ms.append((time.monotonic() - t0) * 1000)
            assert int(status.Status) == 0, f"C-STORE status 0x{int(status.Status):04X}"
            sent[ds.PatientID] = t0
        assoc.release()
        deadline = time.monotonic() + 120
        while len(ehr.acked_at_s) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        wall = time.monotonic() - start
        acked_at_s = _acked_at_by_patient(ehr)
        lat = np.array([acked_at_s[p] - t for p, t in sent.items() if p in acked_at_s])
        return {"n": n, "acked": len(lat), "p50_s": float(np.percentile(lat, 50)),
                "p95_s": float(np.percentile(lat, 95)), "max_s": float(lat.max()),
                "store_p50_ms": float(np.percentile(store_ms, 50)),
                "store_p95_ms": float(np.percentile(store_ms, 95)),
                "ecgs_per_s": len(lat) / wall}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--rate", type=float, default=1.0, help="ECGs per second sent")
    ap.add_argument("--broker", default="", help="RabbitMQ URL; empty = embedded defaults")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    r = run(args.n, args.rate, args.broker, args.workers)
    mode = f"RabbitMQ + {args.workers} workers" if args.broker else "embedded (in process)"
    print(f"{'mode':<26} {'n':>5} {'acked':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} "
          f"{'C-STORE p50/p95 ms':>19} {'ECG/s':>6}")
    print(f"{mode:<26} {r['n']:>5} {r['acked']:>6} {r['p50_s']:>7.2f} {r['p95_s']:>7.2f} "
          f"{r['max_s']:>7.2f} {r['store_p50_ms']:>9.1f}/{r['store_p95_ms']:<9.1f} "
          f"{r['ecgs_per_s']:>6.2f}")


if __name__ == "__main__":
    main()

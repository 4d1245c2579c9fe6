"""DICOM ingest benchmark: C-STORE response time and accepted ECGs per second.

The listener runs as its own process (``python -m ecgread.integration.dicom_scp``, embedded
defaults: SQLite in WAL mode with synchronous=FULL, fsync of every object), with no reads
behind it, so what is measured is ingest: receive, validate and decode, durable write,
commit, respond. The objects are copies of pydicom's ``waveform_ecg.dcm`` (a real 12-lead
ECG: 10 s at 1000 Hz plus median beats, 239 KiB) with fresh SOP Instance UIDs.

- **C-STORE response time**: a pynetdicom SCU sends N objects on one association (file
  bytes sent as they are, no client-side encoding) and times each request-to-response.
- **storescu per file**: one DCMTK storescu process per object (association set-up
  included), timed from process start to exit.
- **Throughput**: DCMTK ``storescu +sd DIR`` sends N objects on one association; with
  ``--senders 2`` two storescu processes send at once (the service takes several carts).
  For these runs the listener's own time per C-STORE (from the whole request received to
  the response ready: validate, decode, write, fsync, commit) is read from its log.

Run: ``.venv/bin/python -m bench.dicom_ingest [--n 200] [--per-file 30]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecgread.testing import free_port

REPO = Path(__file__).resolve().parents[1]


def make_objects(folder: Path, n: int, tag: str) -> list[Path]:
    """``n`` copies of pydicom's waveform_ecg.dcm with new SOP Instance UIDs."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    template = dcmread(get_testdata_file("waveform_ecg.dcm"))
    paths = []
    for i in range(n):
        uid = generate_uid()
        template.SOPInstanceUID = uid
        template.file_meta.MediaStorageSOPInstanceUID = uid
        path = folder / f"{tag}{i:05d}.dcm"
        template.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


class Listener:
    """The SCP as a separate process on a fresh home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECGREAD_")}
        env["ECGREAD_STORE_MIN_FREE_BYTES"] = "0"
        self._log = open(home.parent / f"{home.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecgread.integration.dicom_scp", "--home", str(home), "--host",
             "127.0.0.1", "--port", str(self.port)], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=self._log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening"):
            raise RuntimeError(f"listener did not start: {line!r}")

    def counts(self) -> tuple[int, int]:
        """(received rows with status 0x0000, ecg rows)."""
        import sqlite3

        with sqlite3.connect(self.home / "audit.db") as db:
            ok = db.execute("SELECT count(*) FROM received WHERE status='0x0000'").fetchone()[0]
            ecgs = db.execute("SELECT count(*) FROM ecg").fetchone()[0]
        return int(ok), int(ecgs)

    def handling_ms(self, calling_ae: str) -> list[float]:
        """Listener-side time per C-STORE (request received to response ready) for one
        sender, from the listener's log lines ``peer=AE@host -> 0x0000 (12.3 ms)``."""
        pattern = re.compile(rf"peer={re.escape(calling_ae)}@\S+ -> 0x0000 \(([0-9.]+) ms\)")
        self._log.flush()
        text = (self.home.parent / f"{self.home.name}.log").read_text(errors="replace")
        return [float(m.group(1)) for m in pattern.finditer(text)]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self._log.close()


def c_store_times_ms(port: int, paths: list[Path]) -> list[float]:
    """Request-to-response time of each C-STORE, all on one association."""
    from pydicom.uid import ExplicitVRLittleEndian
    from pynetdicom import AE, _config
    from pynetdicom.sop_class import TwelveLeadECGWaveformStorage  # type: ignore[attr-defined]

    previous = _config.STORE_SEND_CHUNKED_DATASET
    _config.STORE_SEND_CHUNKED_DATASET = True  # send the file bytes, no client encoding
    try:
        ae = AE(ae_title="BENCH")
        ae.add_requested_context(TwelveLeadECGWaveformStorage, ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", port, ae_title="ECGREAD")
        if not assoc.is_established:
            raise RuntimeError("association failed")
        times = []
        try:
            for path in paths:
                t0 = time.perf_counter()
                status = assoc.send_c_store(path)
                times.append((time.perf_counter() - t0) * 1000.0)
                if status.Status != 0:
                    raise RuntimeError(f"C-STORE status 0x{status.Status:04X}")
        finally:
            assoc.release()
        return times
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = previous


def storescu_per_file_ms(port: int, paths: list[Path]) -> list[float]:
    times = []
    for path in paths:
        t0 = time.perf_counter()
        proc = subprocess.run(["storescu", "-aet", "PERFILE", "-aec", "ECGREAD", "127.0.0.1",
                               str(port), str(path)], capture_output=True, text=True)
        times.append((time.perf_counter() - t0) * 1000.0)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
    return times


def storescu_throughput(port: int, folders: list[Path], aet: str) -> float:
    """Seconds for storescu processes (one per folder, at once, calling AE ``aet<i>``) to
    send every object."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["storescu", "-aet", f"{aet}{i}", "-aec", "ECGREAD", "+sd",
                               "127.0.0.1", str(port), str(folder)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, folder in enumerate(folders)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(err)
    return time.perf_counter() - t0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100.0 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="objects per measurement")
    parser.add_argument("--per-file", type=int, default=30, help="objects sent one storescu each")
    parser.add_argument("--senders", type=int, default=2, help="parallel storescu processes")
    args = parser.parse_args(argv)
    if shutil.which("storescu") is None:
        print("DCMTK storescu not found (apt-get install dcmtk)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="ecgread-bench-dicom-"))
    rows: list[tuple[str, str, str, str, str]] = []
    try:
        latency = make_objects(work / "lat", args.n, "l")
        per_file = make_objects(work / "pf", args.per_file, "p")
        one = make_objects(work / "one", args.n, "o")
        many = [make_objects(work / f"par{i}", args.n // args.senders, f"s{i}")
                for i in range(args.senders)]
        total_many = sum(len(m) for m in many)

        listener = Listener(work / "home")
        try:
            c_store_times_ms(listener.port, latency[:5])  # warm-up (imports, first writes)
            times = c_store_times_ms(listener.port, latency[5:])
            rows.append(("C-STORE response, pynetdicom SCU, 1 association", str(len(times)),
                         f"{_pct(times, 50):.1f}", f"{_pct(times, 95):.1f}",
                         f"{1000.0 * len(times) / sum(times):.1f}"))
            pf = storescu_per_file_ms(listener.port, per_file)
            rows.append(("storescu per file (new process + association)", str(len(pf)),
                         f"{_pct(pf, 50):.1f}", f"{_pct(pf, 95):.1f}",
                         f"{1000.0 * len(pf) / sum(pf):.1f}"))
            wall = storescu_throughput(listener.port, [one[0].parent], "ONE")
            rows.append(("storescu +sd DIR, 1 association", str(len(one)), "-", "-",
                         f"{len(one) / wall:.1f}"))
            handled = listener.handling_ms("ONE0")
            rows.append(("  listener time per C-STORE from that storescu", str(len(handled)),
                         f"{_pct(handled, 50):.1f}", f"{_pct(handled, 95):.1f}", "-"))
            wall = storescu_throughput(listener.port, [m[0].parent for m in many], "PAR")
            rows.append((f"storescu +sd DIR x {args.senders} senders at once", str(total_many),
                         "-", "-", f"{total_many / wall:.1f}"))
            handled = [t for i in range(args.senders) for t in listener.handling_ms(f"PAR{i}")]
            rows.append(("  listener time per C-STORE from those storescus", str(len(handled)),
                         f"{_pct(handled, 50):.1f}", f"{_pct(handled, 95):.1f}", "-"))
            ok, ecgs = listener.counts()
        finally:
            listener.stop()
        expected = args.n + args.per_file + args.n + total_many
        print(f"ecgread DICOM ingest benchmark: {os.cpu_count()} CPUs, objects 239 KiB "
              f"(waveform_ecg.dcm), store {work}")
        print(f"{'measurement':<50} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'ECGs/s':>8}")
        for name, n, p50, p95, rate in rows:
            print(f"{name:<50} {n:>5} {p50:>8} {p95:>8} {rate:>8}")
        print(f"accepted (0x0000) {ok} of {expected} sent; ecg rows {ecgs}")
        return 0 if ok == expected == ecgs else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

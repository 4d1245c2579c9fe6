"""Archive re-read: a synthetic archive read by ``ecgread batch`` locally and over Celery.

Builds ``--n`` ECGs by transforming the shared LUDB records (``models.augment``: per-lead
gains, EMG noise in one lead, mains, a start shift, another sampling rate), written half as
DICOM 12-lead ECG objects (pydicom) and half as WFDB records (``wfdb.wrsamp``). Then reads
the archive with ``ecgread batch --no-pdf``

1. with ``--jobs 1`` and ``--jobs 2`` (worker processes, no broker);
2. with 1 and 2 ``ecgread worker --queues batch --concurrency 1`` over the real RabbitMQ
   (``ECGREAD_TEST_BROKER_URL``), each run on a fresh home (SQLite audit database) and on
   its own copy of the archive with one sample changed per file (new content hashes, so
   no run finds the previous run's results);
3. with ``--jobs 2`` killed (SIGKILL) once a third of the results are in, then run again
   to the end;

and prints ECGs/s, CPU ms per ECG (the batch and its worker processes, or the Celery
workers' process trees, from /proc), peak memory per process, and whether every ECG has
exactly one result. ``--pdf-n`` ECGs are also read with the PDF and an ORU^R01 with it
(``reporting``), for the per-core report rate.

Targets (issue 12): >= 50 ECGs/s per core analyze-only, >= 3 ECGs/s per core with PDF and
ORU, 1 -> 2 workers within 15 % of linear, nothing lost or doubled after the kill.

Run (RabbitMQ: ``export $(cat /tmp/svc.env | xargs)``)::

    .venv/bin/python -m bench.archive --n 2000 [--work DIR] [--skip-celery]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: the runs, in order: ``batch --jobs 1`` and ``2``, 1 and 2 Celery workers, kill and resume
RUNS = ("local1", "local2", "celery1", "celery2", "kill")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    name: str
    ecgs: int
    wall_s: float
    cpu_s: float
    peak_mib: float
    cores: int
    exactly_once: bool
    note: str = ""

    @property
    def rate(self) -> float:
        return self.ecgs / self.wall_s

    def row(self) -> str:
        return (f"{self.name:<34} {self.ecgs:>6} {self.wall_s:>7.1f} {self.rate:>7.1f} "
                f"{self.rate / self.cores:>9.1f} {1000 * self.cpu_s / self.ecgs:>8.1f} "
                f"{self.peak_mib:>8.0f}  {'yes' if self.exactly_once else 'NO'}  {self.note}")


# ---- the archive --------------------------------------------------------------------

def _variant(ecg: Any, k: int) -> Any:
    from ecgread.models import augment

    rng = np.random.default_rng(k)
    ecg = augment.scale_gain(ecg, rng.uniform(0.7, 1.3, len(ecg.lead_names)).tolist())
    if rng.random() < 0.5:
        lead = str(rng.choice(ecg.lead_names))
        ecg = augment.add_emg_noise(ecg, lead, rms_uv=float(rng.uniform(10, 60)), seed=k)
    if rng.random() < 0.2:
        ecg = augment.add_mains(ecg, 50.0 if rng.random() < 0.5 else 60.0, 50.0)
    ecg = augment.crop(ecg, float(rng.uniform(0.0, 0.8)), None)
    if rng.random() < 0.2:
        ecg = augment.resample(ecg, 250.0 if rng.random() < 0.5 else 1000.0)
    return ecg


def _write_dicom(ecg: Any, path: Path, k: int) -> None:
    from tests.dicom_factory import TWELVE_LEAD_ECG, GroupSpec, ecg_object, write

    fs, n = ecg.sampling_rate_hz, ecg.signal_uv.shape[1]
    spec = GroupSpec(leads=tuple(ecg.lead_names), fs=fs, duration_s=n / fs, sensitivity=1.0)
    built = ecg_object((spec,), sop_class=TWELVE_LEAD_ECG, seed=k,
                       patient_id=f"ARCH-{k:07d}", accession=f"A{k:07d}")
    group = built.dataset.WaveformSequence[0]
    counts = np.clip(np.round(np.nan_to_num(ecg.signal_uv)), -32767, 32767).astype("<i2")
    group.NumberOfWaveformSamples = n
    group.WaveformData = counts.T.tobytes()
    write(built, path)


def _write_wfdb(ecg: Any, folder: Path, name: str) -> None:
    import wfdb

    signal_mv = np.nan_to_num(ecg.signal_uv.T.astype(np.float64)) / 1000.0
    wfdb.wrsamp(name, fs=ecg.sampling_rate_hz, units=["mV"] * len(ecg.lead_names),
                sig_name=list(ecg.lead_names), p_signal=signal_mv, fmt=["16"] * len(ecg.lead_names),
                adc_gain=[1000.0] * len(ecg.lead_names), baseline=[0] * len(ecg.lead_names),
                write_dir=str(folder))


def build_archive(folder: Path, n: int, salt: int = 0) -> list[Path]:
    """``n`` ECG files (DICOM and WFDB, alternating) under ``folder``; ``salt`` changes one
    sample of each, so each salt gives distinct contents."""
    from ecgread.integration import ludb

    folder.mkdir(parents=True, exist_ok=True)
    ids = ludb.record_ids()
    records = [ludb.read_record(i) for i in ids]
    files = []
    for k in range(n):
        ecg = _variant(records[k % len(records)], k)
        if salt:
            sig = ecg.signal_uv.copy()
            sig[0, 0] += salt
            ecg = dataclasses.replace(ecg, signal_uv=sig)
        sub = folder / f"{k // 1000:04d}"
        sub.mkdir(exist_ok=True)
        if k % 2 == 0:
            path = sub / f"ecg{k:07d}.dcm"
            _write_dicom(ecg, path, k)
        else:
            _write_wfdb(ecg, sub, f"ecg{k:07d}")
            path = sub / f"ecg{k:07d}.hea"
        files.append(path)
    return files


# ---- measuring --------------------------------------------------------------------------

def _env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECGREAD_")}
    env.update({"ECGREAD_HOME": str(home), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
                "PYTHONPATH": str(REPO)})
    env.update({f"ECGREAD_{k.upper()}": v for k, v in settings.items()})
    return env


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ecgread", *args]


def _results(out: Path) -> list[dict[str, Any]]:
    path = out / "results.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut by the kill
    return rows


def _exactly_once(out: Path, files: list[Path]) -> tuple[bool, str]:
    from ecgread.workers.batch_read import input_key

    keys = [r.get("input_sha256") for r in _results(out)]
    want = {input_key(f) for f in files}
    lost, doubled = len(want - set(keys)), len(keys) - len(set(keys))
    failed = sum(1 for r in _results(out) if "error" in r)
    return (lost == 0 and doubled == 0), f"lost {lost}, doubled {doubled}, failed {failed}"


def _children_cpu() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def run_local(archive: Path, files: list[Path], work: Path, jobs: int) -> Run:
    out, home = work / f"out-jobs{jobs}", work / f"home-jobs{jobs}"
    shutil.rmtree(out, ignore_errors=True)
    cpu0, _ = _children_cpu()
    t0 = time.monotonic()
    proc = subprocess.run(_cmd("batch", str(archive), "--out", str(out), "--jobs", str(jobs),
                               "--no-pdf", "-q"), env=_env(home), capture_output=True, text=True)
    wall = time.monotonic() - t0
    cpu1, peak = _children_cpu()
    ok, note = _exactly_once(out, files)
    if proc.returncode != 0:
        note += f"; exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
    return Run(f"batch --jobs {jobs} (local processes)", len(files), wall, cpu1 - cpu0, peak,
               jobs, ok, note)


def _session_procs(sid: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:
                pids.append(int(d.name))
    return pids


def _tree_cpu_s(sid: int) -> tuple[float, float]:
    """CPU seconds and the largest peak RSS (MiB) of the processes of one session."""
    cpu, peak = 0.0, 0.0
    for pid in _session_procs(sid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024.0)
        except OSError:
            continue
    return cpu, peak


def run_celery(work: Path, n: int, workers: int, broker: str, salt: int) -> Run:
    archive = work / f"archive-celery{workers}"
    shutil.rmtree(archive, ignore_errors=True)
    files = build_archive(archive, n, salt=salt)
    home, out = work / f"home-celery{workers}", work / f"out-celery{workers}"
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    # queues of this run alone: a worker left on the shared broker cannot take its chunks
    env = _env(home, broker_url=broker, queue_prefix=f"bench-archive-{os.getpid()}-{workers}.")
    procs = []
    for w in range(workers):
        log = open(work / f"worker{workers}-{w}.log", "wb")
        procs.append(subprocess.Popen(_cmd("worker", "--queues", "batch", "--concurrency", "1"),
                                      env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # every worker ready (its model loaded)
            logs = [(work / f"worker{workers}-{w}.log").read_text(errors="replace")
                    for w in range(workers)]
            if all("ready." in x for x in logs):
                break
            time.sleep(0.5)
        before = sum(_tree_cpu_s(p.pid)[0] for p in procs)
        t0 = time.monotonic()
        proc = subprocess.run(_cmd("batch", str(archive), "--out", str(out), "--no-pdf", "-q"),
                              env=env, capture_output=True, text=True, timeout=3600)
        wall = time.monotonic() - t0
        trees = [_tree_cpu_s(p.pid) for p in procs]
        cpu = sum(c for c, _ in trees) - before
        peak = max(m for _, m in trees)
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    ok, note = _exactly_once(out, files)
    if proc.returncode != 0:
        note += f"; exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
    return Run(f"{workers} Celery worker(s) over RabbitMQ", n, wall, cpu, peak, workers, ok,
               note + " (workers' CPU; the batch's own polling not counted)")


def run_kill_resume(archive: Path, files: list[Path], work: Path) -> Run:
    out, home = work / "out-kill", work / "home-kill"
    shutil.rmtree(out, ignore_errors=True)
    args = _cmd("batch", str(archive), "--out", str(out), "--jobs", "2", "--no-pdf", "-q")
    cpu0, _ = _children_cpu()
    t0 = time.monotonic()
    first = subprocess.Popen(args, env=_env(home), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    while first.poll() is None and len(_results(out)) < len(files) // 3:
        time.sleep(0.2)
    done_at_kill = len(_results(out))
    os.killpg(first.pid, signal.SIGKILL)  # the batch and its worker processes
    first.wait()
    proc = subprocess.run(args, env=_env(home), capture_output=True, text=True)
    wall = time.monotonic() - t0
    cpu1, peak = _children_cpu()
    ok, note = _exactly_once(out, files)
    manifest = (out / "manifest.jsonl").read_text().splitlines()
    keys = [json.loads(x)["key"] for x in manifest if x.strip()]
    ok &= len(keys) == len(set(keys)) == len(files)
    note = (f"killed at {done_at_kill} results; {note}; manifest {len(keys)} lines, "
            f"{len(set(keys))} keys; rerun exit {proc.returncode}")
    return Run("batch --jobs 2, SIGKILL at 1/3, rerun", len(files), wall, cpu1 - cpu0, peak, 2,
               ok, note)


def pdf_oru_rate(files: list[Path], n: int) -> tuple[float, float]:
    """CPU ms per ECG for analyze + PDF + ORU^R01 with the PDF, in this process."""
    from ecgread.config.settings import Settings
    from ecgread.integration.ecg_files import read_ecg_file
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.reporting.context import report_context
    from ecgread.reporting.oru import build_oru
    from ecgread.reporting.pdf import render_pdf
    from ecgread.workers.onnx_models import process_models

    models = process_models(threads=1)
    settings = Settings()
    picked = files[:n]

    def one(path: Path) -> None:
        a = analyze(read_ecg_file(path), AnalysisConfig(), models=models)
        ctx = report_context(a.ecg, None)
        build_oru(a, ctx, render_pdf(a, ctx, settings), settings, "BENCH0001")

    one(picked[0])
    t0, w0 = time.process_time(), time.monotonic()
    for p in picked:
        one(p)
    return 1000 * (time.process_time() - t0) / len(picked), len(picked) / (time.monotonic() - w0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="ECGs in the archive (default 2000)")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument("--pdf-n", type=int, default=20, help="ECGs read with PDF + ORU")
    ap.add_argument("--skip-celery", action="store_true")
    ap.add_argument("--runs", default=",".join(RUNS),
                    help=f"comma-separated, of {', '.join(RUNS)} (default all; a 100,000-ECG "
                         "archive on a small machine: --runs kill)")
    args = ap.parse_args(argv)
    chosen = [x.strip() for x in args.runs.split(",") if x.strip()]
    if unknown := sorted(set(chosen) - set(RUNS)):
        ap.error(f"unknown run(s): {', '.join(unknown)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="ecgread-archive-"))
    work.mkdir(parents=True, exist_ok=True)
    archive = work / "archive"
    t0 = time.monotonic()
    shutil.rmtree(archive, ignore_errors=True)
    files = build_archive(archive, args.n)
    print(f"archive: {args.n} ECGs ({(args.n + 1) // 2} DICOM, {args.n // 2} WFDB) from the "
          f"LUDB records, built in {time.monotonic() - t0:.0f} s under {work}", flush=True)
    broker = os.environ.get("ECGREAD_TEST_BROKER_URL") or os.environ.get("ECGREAD_BROKER_URL")
    celery = bool(broker) and not args.skip_celery
    print(f"\n{'run':<34} {'ECGs':>6} {'wall s':>7} {'ECG/s':>7} {'ECG/s/core':>9} "
          f"{'CPU ms':>8} {'peak MiB':>8}  exactly once")
    print("(CPU ms: per ECG, process start and model loading included; peak MiB: the largest "
          "process so far)")
    by_name: dict[str, Run] = {}
    for name in RUNS:
        if name not in chosen or (name.startswith("celery") and not celery):
            continue
        if name.startswith("local"):
            by_name[name] = run_local(archive, files, work, int(name[-1]))
        elif name.startswith("celery"):
            by_name[name] = run_celery(work, args.n, int(name[-1]), broker or "",
                                       salt=int(name[-1]))
        else:
            by_name[name] = run_kill_resume(archive, files, work)
        print(by_name[name].row(), flush=True)
    runs = list(by_name.values())
    if args.pdf_n > 0:
        pdf_ms, _ = pdf_oru_rate(files, args.pdf_n)
        print(f"\nwith PDF + ORU^R01 ({args.pdf_n} ECGs, one process): {pdf_ms:.0f} CPU ms / "
              f"ECG, {1000 / pdf_ms:.1f} ECGs/s per core (target >= 3)")
    first = runs[0] if runs else None
    if first is not None:
        per_core = first.ecgs / first.cpu_s
        print(f"analyze-only, CPU per ECG ({first.name}): {1000 * first.cpu_s / first.ecgs:.1f} "
              f"ms = {per_core:.1f} ECGs/s per core (target >= 50): "
              f"{'met' if per_core >= 50 else 'NOT met'}")
    pairs = [(by_name[a], by_name[b]) for a, b in (("local1", "local2"), ("celery1", "celery2"))
             if a in by_name and b in by_name]
    for a, b in pairs:
        eff = b.rate / (2 * a.rate)
        print(f"scaling 1 -> 2 ({b.name}): x{b.rate / a.rate:.2f}, "
              f"{100 * eff:.0f} % of linear (target >= 85 %: "
              f"{'met' if eff >= 0.85 else 'NOT met'}; {os.cpu_count()} cores shared here)")
    lost = [r for r in runs if not r.exactly_once]
    print("every ECG exactly one result in every run: " + ("yes" if not lost else
          "NO: " + ", ".join(r.name for r in lost)))
    return 0 if not lost else 1


if __name__ == "__main__":
    sys.exit(main())

"""``ecgread batch``: re-reads of an archive folder (batched network inference) and of the
ECGs already stored, through the real command and the real read job."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydicom.data import get_testdata_file
from sqlmodel import select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import Delivery, EcgRead
from ecgread.config.settings import load_settings
from ecgread.integration.ecg_files import read_ecg_file
from ecgread.models.analysis import analyze
from ecgread.workers.batch import parse_when
from ecgread.workers.batch_read import input_key
from ecgread.workers.provenance import with_ecgread_version
from tests.conftest import REPO
from tests.dicom_factory import general_ecg_multigroup, twelve_lead, write
from tests.e2e_helpers import storescu, wait_until
from tests.neural_helpers import shipped_models

SAMPLE = Path(get_testdata_file("waveform_ecg.dcm"))


def _cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecgread", "batch", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, **kw)


def _lines(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]


def test_archive_folder_is_read_with_one_line_and_one_pdf_per_ecg(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "sub").mkdir(parents=True)
    shutil.copy(SAMPLE, archive / "sample.dcm")
    write(twelve_lead(), archive / "sub" / "twelve.dcm")
    write(general_ecg_multigroup(), archive / "sub" / "general.dcm")
    bad = archive / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"not a data set")
    out = tmp_path / "out"
    proc = _cli(str(archive), "--out", str(out), "--home", str(tmp_path / "home"))
    assert proc.returncode == 1, proc.stderr  # one record failed; the others were read
    assert "3 read, 1 failed" in proc.stdout
    assert "1 input(s) failed" in proc.stderr
    lines = _lines(out)
    errors = [x for x in lines if "error" in x]
    assert [Path(x["source"]).name for x in errors] == ["bad.dcm"]
    reads = {Path(x["source"]).name: x for x in lines if "error" not in x}
    assert set(reads) == {"sample.dcm", "twelve.dcm", "general.dcm"}
    for name, read in reads.items():  # the PDF is named by the content hash of its input
        assert read["input_sha256"] == input_key(archive / read["source"][len(str(archive)) + 1:])
        assert read["pdf"] == f"reports/{read['input_sha256'][:2]}/{read['input_sha256']}.pdf"
        assert (out / read["pdf"]).read_bytes().startswith(b"%PDF"), name
    assert len(list((out / "reports").rglob("*.pdf"))) == 3
    # batched inference gives exactly the read each ECG gets on its own
    alone = with_ecgread_version(analyze(read_ecg_file(archive / "sample.dcm"),
                                         models=shipped_models())).to_json_dict()
    ours = {k: v for k, v in reads["sample.dcm"].items() if k not in ("input_sha256", "pdf")}
    assert ours == alone
    assert reads["sample.dcm"]["measurements"] == alone["measurements"]
    assert reads["sample.dcm"]["waves"] == alone["waves"]
    assert reads["sample.dcm"]["versions"]["delineator_model"].startswith("ludb-unet1d@")


def test_stored_ecgs_are_read_again_through_the_read_job(settings) -> None:
    from ecgread.cli.service import start
    from ecgread.workers.batch import run_batch

    service = start(settings, outbox_poll_s=0.2)
    try:
        sent = storescu(service.dicom_port, SAMPLE)
        assert sent.returncode == 0, sent.stderr

        def reads() -> list[EcgRead]:
            with session_scope(settings.audit_url) as s:
                return list(s.exec(select(EcgRead)))

        wait_until(lambda: len(reads()) == 1, timeout_s=120)
        time.sleep(0.5)
    finally:
        service.stop()
    def deliveries() -> list[Delivery]:
        with session_scope(settings.audit_url) as s:
            return list(s.exec(select(Delivery)))

    assert len(deliveries()) == 1  # the ingest read's ORU
    assert run_batch(settings, [], stored=True, since=parse_when("2020-01-01")) == 0
    rows = reads()
    assert [r.trigger for r in rows] == ["ingest", "batch"]
    assert all(r.status == "ok" for r in rows)
    assert json.loads(rows[0].result_json or "{}")["measurements"] == json.loads(
        rows[1].result_json or "{}")["measurements"]
    assert len(deliveries()) == 1  # re-read, not re-sent: no --deliver
    assert run_batch(settings, [], stored=True, deliver=True) == 0
    assert [d.read_id for d in deliveries()] == [rows[0].id, reads()[2].id]
    # a date range that holds nothing re-reads nothing
    assert run_batch(settings, [], stored=True, since=parse_when("2999-01-01")) == 0
    assert len(reads()) == 3


def _archive(root: Path, n: int) -> list[Path]:
    """``n`` distinct DICOM ECGs, in two folders, every file name present in both."""
    files = []
    for i in range(n):
        folder = root / ("a" if i % 2 else "b")
        files.append(write(twelve_lead(seed=i), folder / f"ecg{i // 2}.dcm"))
    return files


def test_a_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    proc = _cli(str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr and "no-such-folder" in proc.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    proc = _cli(str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "no ECG files" in proc.stderr


def test_since_takes_dates_and_date_times(tmp_path: Path) -> None:
    assert parse_when("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_when("2026-01-01").tzinfo is not None  # local midnight, made aware
    day = parse_when("2026-01-31")
    assert parse_when("2026-01-31", end_of_day=True) - day == timedelta(days=1)
    for since in ("2026-01-01", "2026-01-01T08:30", "2026-01-01 08:30:00+01:00"):
        proc = _cli("--stored", "--since", since, "--until", "2026-12-31",
                    "--home", str(tmp_path / "home"))
        assert proc.returncode == 0, proc.stderr
        assert "re-read 0 stored ECG(s)" in proc.stdout
    proc = _cli("--stored", "--since", "last tuesday", "--home", str(tmp_path / "home"))
    assert proc.returncode == 2 and "not a date or date-time" in proc.stderr


def test_same_names_in_two_folders_and_a_rerun_write_nothing_twice(tmp_path: Path) -> None:
    from ecgread.workers.batch import run_batch

    files = _archive(tmp_path / "archive", 6)
    shutil.copy(files[0], tmp_path / "archive" / "copy-of-ecg0.dcm")  # same content, read once
    out = tmp_path / "out"
    settings = load_settings({"home": tmp_path / "home", "delineator": "dsp"}, environ={})
    assert run_batch(settings, [tmp_path / "archive"], out=out, progress=False) == 0
    first = (out / "results.jsonl").read_bytes()
    lines = _lines(out)
    assert len(lines) == 6
    assert {x["input_sha256"] for x in lines} == {input_key(f) for f in files}
    assert len({x["pdf"] for x in lines}) == 6  # a/ecg0.dcm and b/ecg0.dcm: two PDFs
    assert len(list((out / "reports").rglob("*.pdf"))) == 6
    manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(m["status"] for m in manifest) == ["duplicate"] + ["ok"] * 6
    # a rerun reads nothing and appends nothing
    assert run_batch(settings, [tmp_path / "archive"], out=out, progress=False) == 0
    assert (out / "results.jsonl").read_bytes() == first
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 7
    # a grown archive: only the new ECG is read
    write(twelve_lead(seed=99), tmp_path / "archive" / "new.dcm")
    assert run_batch(settings, [tmp_path / "archive"], out=out, progress=False) == 0
    assert len(_lines(out)) == 7


def test_worker_processes_give_the_same_results(tmp_path: Path) -> None:
    from ecgread.workers.batch import run_batch

    _archive(tmp_path / "archive", 6)
    settings = load_settings({"home": tmp_path / "home", "delineator": "fused"}, environ={})
    for jobs in (1, 2):
        assert run_batch(settings, [tmp_path / "archive"], out=tmp_path / f"out{jobs}",
                         jobs=jobs, pdf=False, progress=False) == 0
    one, two = ({x["input_sha256"]: x for x in _lines(tmp_path / f"out{j}")} for j in (1, 2))
    assert len(one) == 6 and set(one) == set(two)
    for key, read in one.items():
        assert read["measurements"] == two[key]["measurements"]
        assert read["waves"] == two[key]["waves"]


def test_killed_mid_run_a_rerun_gives_every_ecg_exactly_one_result(tmp_path: Path) -> None:
    files = _archive(tmp_path / "archive", 100)
    out = tmp_path / "out"
    args = [str(tmp_path / "archive"), "--out", str(out), "--home", str(tmp_path / "home"),
            "--delineator", "dsp", "--no-pdf"]
    proc = subprocess.Popen([sys.executable, "-m", "ecgread", "batch", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.jsonl"
    wait_until(lambda: results.exists() and results.read_text().count("\n") >= 1,
               timeout_s=300, every_s=0.05)
    proc.kill()  # SIGKILL: no clean-up of any kind
    proc.wait()
    done = results.read_text().count("\n")
    assert 1 <= done < 100, "the kill came too late to test resumption"
    with open(results, "a") as f:  # as if the kill had struck in the middle of a line
        f.write('{"source": "half a line", "input_sha')
    rerun = _cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{100 - done} read" in rerun.stdout and f"{done} done before" in rerun.stdout
    keys = [x["input_sha256"] for x in _lines(out)]
    assert sorted(keys) == sorted(input_key(f) for f in files)  # each exactly once
    manifest = [json.loads(x)["key"] for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(manifest) == sorted(keys)


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    _archive(tmp_path / "archive", 3)
    args = [str(tmp_path / "archive"), "--home", str(tmp_path / "home"), "--delineator", "dsp",
            "--no-pdf"]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))  # 120 columns
    proc = subprocess.Popen([sys.executable, "-m", "ecgread", "batch", *args, "--out",
                             str(tmp_path / "tty")], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=300)
    os.close(master)
    assert proc.returncode == 0
    text = seen.decode(errors="replace")
    assert "100%" in text and "3/3" in text and "ECG/s" in text  # count, rate, ETA field
    piped = _cli(*args, "--out", str(tmp_path / "piped"))
    quiet = _cli(*args, "--out", str(tmp_path / "quiet"), "--quiet")
    assert "ECG/s" not in piped.stderr and "ECG/s" not in quiet.stderr


def test_celery_workers_over_rabbitmq_store_one_result_per_ecg(tmp_path: Path, broker_url: str
                                                               ) -> None:
    """Chunks go to a real ``ecgread worker`` over RabbitMQ; each ECG's result lands once in
    the audit database and once in results.jsonl, and a rerun publishes nothing new. A
    worker of another deployment on the same broker (its own ECGREAD_QUEUE_PREFIX) takes
    none of the chunks."""
    from ecgread.audit.tables import EcgRecord
    from tests.e2e_helpers import ecgread_env, start_ecgread, stop, wait_until

    files = _archive(tmp_path / "archive", 40)  # two chunks
    home = tmp_path / "home"
    env = ecgread_env(home, broker_url=broker_url, delineator="dsp")
    other_env = ecgread_env(tmp_path / "other", broker_url=broker_url, delineator="dsp")
    other_env["ECGREAD_QUEUE_PREFIX"] = env["ECGREAD_QUEUE_PREFIX"] + "other."
    url = f"sqlite:///{(home / 'audit.db').resolve()}"
    other = start_ecgread(["worker", "--queues", "batch"], other_env, tmp_path / "other.log")
    worker = start_ecgread(["worker", "--concurrency", "2", "--queues", "batch"], env,
                           tmp_path / "worker.log")
    try:
        wait_until(lambda: " ready." in (tmp_path / "other.log").read_text())
        out = tmp_path / "out"
        proc = _cli(str(tmp_path / "archive"), "--out", str(out), "--no-pdf", env=env)
        assert proc.returncode == 0, proc.stderr + (tmp_path / "worker.log").read_text()[-3000:]
        assert "40 read, 0 failed" in proc.stdout
        again = _cli(str(tmp_path / "archive"), "--out", str(tmp_path / "out2"), "--no-pdf",
                     env=env)  # a new output folder: results come from the database
        assert again.returncode == 0, again.stderr
    finally:
        stop(worker)
        stop(other)
    assert " received" not in (tmp_path / "other.log").read_text()  # no task at all
    assert "Task ecgread.read_archive_chunk[" in (tmp_path / "worker.log").read_text()
    keys = sorted(input_key(f) for f in files)
    assert sorted(x["input_sha256"] for x in _lines(out)) == keys
    assert sorted(x["input_sha256"] for x in _lines(tmp_path / "out2")) == keys
    with session_scope(url) as s:
        records = list(s.exec(select(EcgRecord)))
        rows = list(s.exec(select(EcgRead)))
    assert sorted(r.sop_instance_uid for r in records) == [f"sha256:{k}" for k in keys]
    assert len(rows) == 40 and {r.trigger for r in rows} == {"batch"}
    assert all(r.status == "ok" and r.ecg_id is not None for r in rows)
    assert {r.state for r in records} == {"reported"}
    assert "ecgread.read_archive_chunk" in (tmp_path / "worker.log").read_text()

"""``ecgread batch``: re-reads of an archive folder (batched network inference) and of the
ECGs already stored, through the real command and the real read job."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pydicom.data import get_testdata_file
from sqlmodel import select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import EcgRead
from ecgread.integration.ecg_files import read_ecg_file
from ecgread.models.analysis import analyze
from ecgread.workers.provenance import with_ecgread_version
from tests.conftest import REPO
from tests.dicom_factory import general_ecg_multigroup, twelve_lead, write
from tests.e2e_helpers import storescu, wait_until
from tests.neural_helpers import shipped_models

SAMPLE = Path(get_testdata_file("waveform_ecg.dcm"))


def test_archive_folder_is_read_with_one_line_and_one_pdf_per_ecg(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "sub").mkdir(parents=True)
    shutil.copy(SAMPLE, archive / "sample.dcm")
    write(twelve_lead(), archive / "sub" / "twelve.dcm")
    write(general_ecg_multigroup(), archive / "sub" / "general.dcm")
    bad = archive / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"not a data set")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "ecgread", "batch", str(archive), "--out",
                           str(out), "--home", str(tmp_path / "home")], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr  # some failed
    assert "3 read, 1 failed" in proc.stdout
    assert "bad.dcm: error:" in proc.stderr
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    errors = [x for x in lines if "error" in x]
    assert [Path(x["source"]).name for x in errors] == ["bad.dcm"]
    reads = {Path(x["source"]).name: x for x in lines if "error" not in x}
    assert set(reads) == {"sample.dcm", "twelve.dcm", "general.dcm"}
    assert sorted(p.name for p in (out / "reports").glob("*.pdf")) == [
        "general.pdf", "sample.pdf", "twelve.pdf"]
    # batched inference gives exactly the read each ECG gets on its own
    alone = with_ecgread_version(analyze(read_ecg_file(archive / "sample.dcm"),
                                         models=shipped_models())).to_json_dict()
    assert reads["sample.dcm"] == alone
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
    assert run_batch(settings, [], stored=True) == 0
    rows = reads()
    assert [r.trigger for r in rows] == ["ingest", "batch"]
    assert all(r.status == "ok" for r in rows)
    assert json.loads(rows[0].result_json or "{}")["measurements"] == json.loads(
        rows[1].result_json or "{}")["measurements"]

"""``ecgread batch``: re-read an archive of ECG files, or ECGs already stored.

Files: each DICOM file or WFDB record under the given paths is analysed; the results go to
``OUT/results.jsonl`` (the ``analyze --json`` contract, one line per input, errors as
``{"source", "error"}``) and a PDF per ECG under ``OUT/reports``.
Stored: every stored ECG received in the date range is read again through the read job
(trigger "batch"), so the new read, its report and deliveries are in the audit trail.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from config.settings import Settings
from ecgread.errors import EcgreadError


def run_batch(settings: Settings, paths: list[Path], *, stored: bool = False,
              since: datetime | None = None, until: datetime | None = None,
              out: Path | None = None) -> int:
    if stored:
        return _reread_stored(settings, since, until)
    if not paths:
        print("ecgread batch: give files or folders, or --stored", file=sys.stderr)
        return 2
    return _read_files(settings, paths, out or settings.home / "batch")


def _read_files(settings: Settings, paths: list[Path], out: Path) -> int:
    from integration.ecg_files import find_ecg_files, read_ecg_file
    from integration.object_store import write_durably
    from models.analysis import AnalysisConfig, analyze
    from reporting.context import report_context
    from reporting.pdf import render_pdf

    config = AnalysisConfig(delineator=settings.delineator)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    n_ok = n_err = 0
    with open(out / "results.jsonl", "a") as results:
        for root in paths:
            for path in find_ecg_files(root):
                try:
                    analysis = analyze(read_ecg_file(path), config)
                    pdf = render_pdf(analysis, report_context(analysis.ecg, None), settings)
                    write_durably(out / "reports" / f"{path.stem}.pdf", pdf)
                    results.write(json.dumps(analysis.to_json_dict()) + "\n")
                    n_ok += 1
                except EcgreadError as exc:
                    results.write(json.dumps({"source": str(path), "error": str(exc)}) + "\n")
                    n_err += 1
    print(f"batch: {n_ok} read, {n_err} failed; results in {out / 'results.jsonl'}")
    return 1 if n_err and not n_ok else 0


def _reread_stored(settings: Settings, since: datetime | None, until: datetime | None) -> int:
    from audit import queries
    from audit.db import migrate, session_scope
    from workers.read_job import read_ecg

    migrate(settings.audit_url)
    with session_scope(settings.audit_url) as s:
        uids = [r.sop_instance_uid for r in queries.ecgs(s, since=since, until=until,
                                                         limit=1_000_000)]
    n_ok = n_err = 0
    for uid in reversed(uids):  # oldest first
        outcome = read_ecg(settings, uid, trigger="batch")
        if outcome.error:
            n_err += 1
        else:
            n_ok += 1
    print(f"batch: re-read {n_ok} stored ECG(s), {n_err} failed")
    return 0

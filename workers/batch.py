"""``ecgread batch``: re-read an archive of ECG files, or ECGs already stored.

Files: each DICOM file or WFDB record under the given paths is analysed; the results go to
``OUT/results.jsonl`` (the ``analyze --json`` contract, one line per input, errors as
``{"source", "error"}``) and a PDF per ECG under ``OUT/reports``. The delineation
network runs once per chunk of :data:`BATCH_ECGS` ECGs (batched inference).
Stored: every stored ECG received in the date range is read again through the read job
(trigger "batch"), so the new read, its report and deliveries are in the audit trail.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from ecgread.config.settings import Settings
from ecgread.errors import EcgreadError

#: ECGs per delineation-network batch in the batch path (one ONNX run per chunk of leads).
BATCH_ECGS = 32


def run_batch(settings: Settings, paths: list[Path], *, stored: bool = False,
              since: datetime | None = None, until: datetime | None = None,
              out: Path | None = None) -> int:
    if stored:
        return _reread_stored(settings, since, until)
    if not paths:
        print("ecgread batch: give files or folders, or --stored", file=sys.stderr)
        return 2
    return _read_files(settings, paths, out or settings.home / "batch")


def _read_files(settings: Settings, paths: list[Path], out: Path,
                chunk: int = BATCH_ECGS) -> int:
    from ecgread.integration.ecg_files import find_ecg_files

    (out / "reports").mkdir(parents=True, exist_ok=True)
    files = [path for root in paths for path in find_ecg_files(root)]
    n_ok = n_err = 0
    with open(out / "results.jsonl", "a") as results:
        for i in range(0, len(files), chunk):
            ok, err = _read_chunk(settings, files[i:i + chunk], out, results)
            n_ok, n_err = n_ok + ok, n_err + err
    print(f"batch: {n_ok} read, {n_err} failed; results in {out / 'results.jsonl'}")
    return 1 if n_err and not n_ok else 0


def _read_chunk(settings: Settings, files: list[Path], out: Path, results: TextIO
                ) -> tuple[int, int]:
    """Decode a chunk, run the delineation network once over all of it, then read each."""
    from ecgread.integration.ecg_files import read_ecg_file
    from ecgread.integration.object_store import write_durably
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.models.ecg import Ecg
    from ecgread.models.neural.delineation import predict_masks_many
    from ecgread.reporting.context import report_context
    from ecgread.reporting.pdf import render_pdf
    from ecgread.workers.onnx_models import process_models
    from ecgread.workers.provenance import with_ecgread_version

    config = AnalysisConfig(delineator=settings.delineator)  # type: ignore[arg-type]
    models = process_models(settings.model_registry)
    ecgs: list[tuple[Path, Ecg]] = []
    n_err = 0
    for path in files:
        try:
            ecgs.append((path, read_ecg_file(path)))
        except EcgreadError as exc:
            _write_error(results, path, exc)
            n_err += 1
    masks: list[np.ndarray | None] = [None] * len(ecgs)
    if config.delineator != "dsp" and models.delineator is not None and ecgs:
        masks = list(predict_masks_many(
            models.delineator, [(e.signal_uv, e.sampling_rate_hz) for _, e in ecgs]))
    n_ok = 0
    for (path, ecg), mask in zip(ecgs, masks):
        try:
            analysis = with_ecgread_version(analyze(ecg, config, models=models, masks=mask))
            pdf = render_pdf(analysis, report_context(analysis.ecg, None), settings)
            write_durably(out / "reports" / f"{path.stem}.pdf", pdf)
            results.write(json.dumps(analysis.to_json_dict()) + "\n")
            n_ok += 1
        except EcgreadError as exc:
            _write_error(results, path, exc)
            n_err += 1
    return n_ok, n_err


def _write_error(results: TextIO, path: Path, exc: EcgreadError) -> None:
    results.write(json.dumps({"source": str(path), "error": str(exc)}) + "\n")


def _reread_stored(settings: Settings, since: datetime | None, until: datetime | None) -> int:
    from ecgread.audit import queries
    from ecgread.audit.anchor import open_audit
    from ecgread.audit.db import session_scope
    from ecgread.workers.read_job import read_ecg

    open_audit(settings)
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

"""Read one chunk of archive files: the unit of work of ``ecgread batch``, the same whether a
local worker process or a Celery worker runs it.

Each input is named by the SHA-256 of its content (:func:`input_key`), so its outputs have
names that cannot collide (:func:`report_name`) and a rerun recognises what it has done.
The delineation network runs once over the whole chunk (batched ONNX inference); a record
that fails gives an error result and never stops the others.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgread.config.settings import Settings
from ecgread.errors import EcgreadError

__all__ = ["BatchOptions", "ChunkResult", "input_key", "read_chunk", "report_name"]

log = logging.getLogger("ecgread.batch")

_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class BatchOptions:
    """What each read of a batch produces besides its result line.

    ``out_dir``: the batch's output folder; ``pdf``: write a PDF per ECG there
    (:func:`report_name`), else analysis only.
    """

    out_dir: Path
    pdf: bool = True


@dataclass(frozen=True)
class ChunkResult:
    """One input's result line, and the acquisition identifiers the audit database indexes
    (kept out of the result line, which holds no patient data of its own)."""

    result: dict[str, Any]
    patient_id: str | None = None
    accession_number: str | None = None
    acquisition_time: str | None = None  # ISO 8601

    @property
    def key(self) -> str:
        return str(self.result["input_sha256"])

    @property
    def failed(self) -> bool:
        return "error" in self.result


def _wfdb_files(header: Path) -> list[Path]:
    """The header and the signal files it names, in order (WFDB header format, line 2 on)."""
    files = [header]
    lines = [ln for ln in header.read_text(errors="replace").splitlines()
             if ln.strip() and not ln.startswith("#")]
    for line in lines[1:]:
        name = line.split()[0]
        candidate = header.parent / name
        if candidate not in files and candidate.is_file():
            files.append(candidate)
    return files


def input_key(path: Path) -> str:
    """The SHA-256 (hex) of an input's content: the file's bytes, or for a WFDB record its
    header followed by its signal files.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    from ecgread.integration.ecg_files import is_wfdb

    files = [path]
    if is_wfdb(path):
        files = _wfdb_files(path if path.suffix == ".hea" else path.with_suffix(".hea"))
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                digest.update(block)
    return digest.hexdigest()


def report_name(key: str) -> str:
    """The PDF of input ``key``, relative to the output folder: one per content, in 256
    subfolders so that no folder holds millions of files."""
    return f"reports/{key[:2]}/{key}.pdf"


def _error(key: str, path: str, exc: BaseException) -> dict[str, Any]:
    message = str(exc) if isinstance(exc, EcgreadError) else f"{type(exc).__name__}: {exc}"
    return {"source": path, "input_sha256": key, "error": message}


def read_chunk(settings: Settings, items: list[tuple[str, str]], options: BatchOptions
               ) -> list[ChunkResult]:
    """Read each ``(key, path)`` and return one result per input, in order.

    A result is the ``analyze --json`` object plus ``input_sha256``, ``pdf`` (relative to
    the output folder, or None), and where the file carries the vendor's read, ``vendor``
    (:meth:`VendorRead.to_json_dict`) and ``agreement`` (:func:`models.agreement.compare_read`).
    A failed input gives ``{"source", "input_sha256", "error"}``.
    """
    import numpy as np

    from ecgread.integration.ecg_files import read_ecg_file
    from ecgread.models.analysis import AnalysisConfig
    from ecgread.models.dsp_config import delineator_named
    from ecgread.models.ecg import Ecg
    from ecgread.models.neural.delineation import predict_masks_many
    from ecgread.workers.onnx_models import process_models

    config = AnalysisConfig(delineator=delineator_named(settings.delineator))
    models = process_models(settings.model_registry)
    results: dict[int, ChunkResult] = {}
    ecgs: list[tuple[int, Ecg]] = []
    for i, (key, path) in enumerate(items):
        try:
            ecgs.append((i, read_ecg_file(path)))
        except Exception as exc:  # noqa: BLE001 - a failed record never stops the others
            results[i] = ChunkResult(_error(key, path, exc))
    masks: list[np.ndarray | None] = [None] * len(ecgs)
    if config.delineator != "dsp" and models.delineator is not None and ecgs:
        try:
            masks = list(predict_masks_many(
                models.delineator, [(e.signal_uv, e.sampling_rate_hz) for _, e in ecgs]))
        except Exception:  # noqa: BLE001 - each ECG is then run on its own, and fails alone
            log.warning("batched inference failed for a chunk; reading its ECGs one by one")
    for (i, ecg), mask in zip(ecgs, masks, strict=True):
        key, path = items[i]
        acq = ecg.acquisition
        ids = (acq.patient_id, acq.accession_number,
               None if acq.acquisition_time is None else acq.acquisition_time.isoformat())
        try:
            results[i] = ChunkResult(_read_one(settings, config, models, ecg, mask, key,
                                               options), *ids)
        except Exception as exc:  # noqa: BLE001
            log.warning("batch read failed for input %s: %s", key[:16], type(exc).__name__)
            results[i] = ChunkResult(_error(key, path, exc), *ids)
    return [results[i] for i in range(len(items))]


def _read_one(settings: Settings, config: Any, models: Any, ecg: Any, mask: Any, key: str,
              options: BatchOptions) -> dict[str, Any]:
    from ecgread.models.agreement import compare_read
    from ecgread.models.analysis import analyze
    from ecgread.workers.provenance import with_ecgread_version

    analysis = with_ecgread_version(analyze(ecg, config, models=models, masks=mask))
    pdf_name = None
    if options.pdf:
        from ecgread.integration.object_store import write_durably
        from ecgread.reporting.context import report_context
        from ecgread.reporting.pdf import render_pdf

        pdf_name = report_name(key)
        pdf = render_pdf(analysis, report_context(analysis.ecg, None), settings)
        write_durably(options.out_dir / pdf_name, pdf)
    out = analysis.to_json_dict()
    out["input_sha256"] = key
    out["pdf"] = pdf_name
    if ecg.vendor_read is not None:
        out["vendor"] = ecg.vendor_read.to_json_dict()
        # the stored (rounded) values, so the report's figures trace back to the result line
        out["agreement"] = compare_read(out["measurements"],
                                        [s.code for s in analysis.statements],
                                        ecg.vendor_read).to_json_dict()
    return out

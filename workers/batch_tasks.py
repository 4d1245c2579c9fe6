"""``ecgread batch`` across nodes: chunks of archive files as Celery tasks over RabbitMQ.

The batch publishes one ``ecgread.read_archive_chunk`` message per chunk to the ``batch``
queue (its own, so archive re-reads never hold up live reads); ``ecgread worker --queues
batch`` on any node reads the chunk (:func:`workers.batch_read.read_chunk`: batched ONNX
inference, PDFs into the shared output folder) and stores **one result per ECG** in the
audit database: an ``ecg`` row whose identifier is ``sha256:<content hash>`` (unique) and
its ``ecg_read`` row (trigger ``batch``), committed together, so a re-delivered message, a
rerun or two workers racing on one chunk still give one result. The batch collects the
results from the database into its output folder as they land
(:class:`workers.batch_celery.CeleryRunner`).

Workers must see the input files and the output folder at the same paths (shared storage).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ecgread.config.settings import Settings
from ecgread.workers.batch_read import BatchOptions, ChunkResult, read_chunk
from ecgread.workers.queues import settings_of

__all__ = [
    "ARCHIVE_PREFIX",
    "ARCHIVE_TASK",
    "read_archive_chunk",
    "store_results",
    "stored_results",
]

ARCHIVE_TASK = "ecgread.read_archive_chunk"
#: ``ecg.sop_instance_uid`` of an archive file read by a batch: this prefix + content hash.
ARCHIVE_PREFIX = "sha256:"


def store_results(settings: Settings, results: list[ChunkResult]) -> int:
    """Store each result as one ``ecg`` + ``ecg_read`` pair; returns how many were new (an
    ECG that already has its row is left as it is)."""
    from ecgread.audit.db import session_scope
    from ecgread.audit.events import log_action
    from ecgread.audit.tables import EcgRead, EcgRecord, utcnow

    stored = 0
    for r in results:
        uid = ARCHIVE_PREFIX + r.key
        try:
            with session_scope(settings.audit_url) as session:
                if session.exec(select(EcgRecord.id).where(EcgRecord.sop_instance_uid == uid)
                                ).first() is not None:
                    continue
                record = EcgRecord(
                    sop_instance_uid=uid, path=str(r.result["source"]),
                    patient_id=r.patient_id, accession_number=r.accession_number,
                    acquisition_time=(None if r.acquisition_time is None
                                      else datetime.fromisoformat(r.acquisition_time)),
                    state="failed" if r.failed else "reported",
                    state_detail=r.result.get("error"))
                session.add(record)
                session.flush()  # the unique identifier: a racing worker fails here
                assert record.id is not None
                session.add(EcgRead(ecg_id=record.id, status="failed" if r.failed else "ok",
                                    error=r.result.get("error"), finished_at=utcnow(),
                                    result_json=json.dumps(r.result), trigger="batch",
                                    versions_json=json.dumps(r.result.get("versions", {}))))
                log_action(session, "ecgread.batch.read", subject=f"ecg:{uid}", trace_id=uid,
                           status="failed" if r.failed else "ok")
            stored += 1
        except IntegrityError:
            continue  # another worker stored it first
    return stored


def stored_results(settings: Settings, keys: list[str]) -> list[ChunkResult]:
    """The results the database holds for these content keys (any order)."""
    from ecgread.audit.db import session_scope
    from ecgread.audit.tables import EcgRead, EcgRecord

    uids = [ARCHIVE_PREFIX + k for k in keys]
    with session_scope(settings.audit_url) as session:
        rows = session.exec(
            select(EcgRead.result_json).join(EcgRecord, col(EcgRead.ecg_id) == EcgRecord.id)
            .where(col(EcgRecord.sop_instance_uid).in_(uids), EcgRead.trigger == "batch")
        ).all()
    return [ChunkResult(json.loads(row)) for row in rows if row]


def read_archive_chunk(task: Any, items: list[list[str]], out_dir: str, pdf: bool = True
                       ) -> dict[str, int]:
    """The Celery task: read the chunk's inputs that have no stored result, store them.

    ``items``: ``[content key, path]`` pairs; ``out_dir``: the batch's output folder (PDFs).
    """
    settings = settings_of(task.app)
    done = {r.key for r in stored_results(settings, [k for k, _ in items])}
    todo = [(k, p) for k, p in items if k not in done]
    results = read_chunk(settings, todo, BatchOptions(Path(out_dir), pdf)) if todo else []
    return {"read": len(todo), "stored": store_results(settings, results)}

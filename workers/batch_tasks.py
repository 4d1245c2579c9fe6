"""``ecgread batch`` across nodes: chunks of archive files as Celery tasks over RabbitMQ.

The batch publishes one ``ecgread.read_archive_chunk`` message per chunk to the ``batch``
queue (its own, so archive re-reads never hold up live reads); ``ecgread worker --queues
batch`` on any node reads the chunk (:func:`workers.batch_read.read_chunk`: batched ONNX
inference, PDFs into the shared output folder) and stores **one result per ECG** in the
audit database: an ``ecg`` row whose identifier is ``sha256:<content hash>`` (unique) and
its ``ecg_read`` row (trigger ``batch``), committed together, so a re-delivered message, a
rerun or two workers racing on one chunk still give one result. The batch collects the
results from the database into its output folder as they land.

Workers must see the input files and the output folder at the same paths (shared storage).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ecgread.config.settings import Settings
from ecgread.workers.batch_read import BatchOptions, ChunkResult, read_chunk

__all__ = [
    "ARCHIVE_PREFIX",
    "ARCHIVE_TASK",
    "BATCH_QUEUE",
    "CeleryRunner",
    "read_archive_chunk",
    "store_results",
    "stored_results",
]

ARCHIVE_TASK = "ecgread.read_archive_chunk"
BATCH_QUEUE = "batch"
#: ``ecg.sop_instance_uid`` of an archive file read by a batch: this prefix + content hash.
ARCHIVE_PREFIX = "sha256:"
#: Keys asked of the database per poll while collecting.
_POLL_KEYS = 2000


def store_results(settings: Settings, results: list[ChunkResult]) -> int:
    """Store each result as one ``ecg`` + ``ecg_read`` pair; returns how many were new (an
    ECG that already has its row is left as it is)."""
    from audit.db import session_scope
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
    from audit.db import session_scope
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
    settings: Settings = task.app.conf.ecgread_settings
    done = {r.key for r in stored_results(settings, [k for k, _ in items])}
    todo = [(k, p) for k, p in items if k not in done]
    results = read_chunk(settings, todo, BatchOptions(Path(out_dir), pdf)) if todo else []
    return {"read": len(todo), "stored": store_results(settings, results)}


class CeleryRunner:
    """The batch's side: publish chunks, then collect their results from the database."""

    capacity = 1 << 30  # every chunk is published at once; RabbitMQ holds the backlog

    def __init__(self, settings: Settings, options: BatchOptions, poll_s: float = 0.5) -> None:
        from audit.db import migrate
        from ecgread.workers.celery_app import make_celery

        migrate(settings.audit_url)
        self._settings, self._options, self._poll_s = settings, options, poll_s
        self._app = make_celery(settings)
        self._waiting: dict[str, None] = {}  # keys published, result not collected (ordered)
        self._found: list[ChunkResult] = []
        self._last_poll = 0.0

    def submit(self, items: list[tuple[str, str]]) -> None:
        have = stored_results(self._settings, [k for k, _ in items])  # a rerun: already there
        self._found.extend(have)
        done = {r.key for r in have}
        todo = [[k, p] for k, p in items if k not in done]
        if todo:
            self._app.send_task(ARCHIVE_TASK, args=[todo, str(self._options.out_dir),
                                                    self._options.pdf],
                                queue=BATCH_QUEUE, routing_key=BATCH_QUEUE,
                                headers={"trace_id": f"batch:{todo[0][0][:16]}"})
            self._waiting.update((k, None) for k, _ in todo)

    def finished(self, block: bool) -> list[ChunkResult]:
        while True:
            wait_s = self._poll_s - (time.monotonic() - self._last_poll)
            if self._waiting and (block or wait_s <= 0):
                if wait_s > 0:
                    time.sleep(wait_s)
                self._last_poll = time.monotonic()
                keys = list(self._waiting)[:_POLL_KEYS]
                for r in stored_results(self._settings, keys):
                    self._waiting.pop(r.key, None)
                    self._found.append(r)
            if self._found or not block or not self._waiting:
                out, self._found = self._found, []
                return out

    def outstanding(self) -> int:
        return len(self._waiting)

    def close(self) -> None:
        self._app.close()

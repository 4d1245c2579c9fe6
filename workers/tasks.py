"""Celery tasks: thin wrappers that take IDs, retry only transient faults (STYLE #4)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from ecgread.workers.celery_app import CRITICAL_DELIVERIES_QUEUE, DELIVERIES_QUEUE, app

log = logging.getLogger("ecgread.tasks")

#: Faults worth a retry: the database or the disk is briefly unavailable.
TRANSIENT = (OperationalError, OSError)


def _settings():  # type: ignore[no-untyped-def]
    return app.conf.ecgread_settings


@app.task(name="ecgread.read_ecg", bind=True, acks_late=True, max_retries=10,
          autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300)
def read_ecg_task(self, sop_instance_uid: str, trigger: str = "ingest") -> dict:  # type: ignore[no-untyped-def]
    from ecgread.workers.read_job import read_ecg

    outcome = read_ecg(_settings(), sop_instance_uid, trigger)
    if outcome.read_id is not None:
        deliver_task.apply_async(
            queue=CRITICAL_DELIVERIES_QUEUE if outcome.critical else DELIVERIES_QUEUE,
            routing_key=CRITICAL_DELIVERIES_QUEUE if outcome.critical else DELIVERIES_QUEUE,
            priority=9 if outcome.critical else 0,
        )
    return {"sop_instance_uid": sop_instance_uid, "read_id": outcome.read_id,
            "critical": outcome.critical, "skipped": outcome.skipped, "error": outcome.error}


@app.task(name="ecgread.deliver", acks_late=True, max_retries=10, autoretry_for=TRANSIENT,
          retry_backoff=True)
def deliver_task() -> int:
    """Send every delivery that is due (critical first); returns how many were attempted."""
    from ecgread.workers.outbox import deliver_due

    return deliver_due(_settings())


# ``ecgread batch`` over a broker: one chunk of archive files per message (workers.batch_tasks).
from ecgread.workers.batch_tasks import ARCHIVE_TASK, read_archive_chunk

app.task(name=ARCHIVE_TASK, bind=True, acks_late=True, max_retries=10, autoretry_for=TRANSIENT,
         retry_backoff=True, retry_backoff_max=300)(read_archive_chunk)

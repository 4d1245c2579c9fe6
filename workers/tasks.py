"""Celery tasks: thin wrappers that take IDs, retry only transient faults (STYLE #4).

:func:`register_tasks` adds them to one application (``make_celery`` calls it); each task
reads the settings of the application it is bound to, never a module-level one.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from ecgread.workers.batch_tasks import ARCHIVE_TASK, read_archive_chunk
from ecgread.workers.queues import (
    CRITICAL_DELIVERIES_QUEUE,
    DELIVER_TASK,
    DELIVERIES_QUEUE,
    READ_TASK,
    queue_name,
    settings_of,
)

__all__ = ["TRANSIENT", "deliver_task", "read_ecg_task", "register_tasks"]

log = logging.getLogger("ecgread.tasks")

#: Faults worth a retry: the database or the disk is briefly unavailable.
TRANSIENT = (OperationalError, OSError)


def read_ecg_task(task: Task, sop_instance_uid: str, trigger: str = "ingest") -> dict[str, Any]:
    """Read one stored ECG, then run the outbox on the queue its urgency calls for."""
    from ecgread.workers.read_job import read_ecg

    outcome = read_ecg(settings_of(task.app), sop_instance_uid, trigger)
    if outcome.read_id is not None:
        queue = queue_name(settings_of(task.app), CRITICAL_DELIVERIES_QUEUE
                           if outcome.critical else DELIVERIES_QUEUE)
        task.app.tasks[DELIVER_TASK].apply_async(queue=queue, routing_key=queue,
                                                 priority=9 if outcome.critical else 0)
    return {"sop_instance_uid": sop_instance_uid, "read_id": outcome.read_id,
            "critical": outcome.critical, "skipped": outcome.skipped, "error": outcome.error}


def deliver_task(task: Task) -> int:
    """Send every delivery that is due (critical first); returns how many were attempted."""
    from ecgread.workers.outbox import deliver_due

    return deliver_due(settings_of(task.app))


def register_tasks(app: Celery) -> None:
    """Register the ecgread tasks on ``app`` only (not shared with other applications)."""
    app.task(name=READ_TASK, bind=True, shared=False, acks_late=True, max_retries=10,
             autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300)(read_ecg_task)
    app.task(name=DELIVER_TASK, bind=True, shared=False, acks_late=True, max_retries=10,
             autoretry_for=TRANSIENT, retry_backoff=True)(deliver_task)
    # ``ecgread batch`` over a broker: a chunk of archive files per message (batch_tasks)
    app.task(name=ARCHIVE_TASK, bind=True, shared=False, acks_late=True, max_retries=10,
             autoretry_for=TRANSIENT, retry_backoff=True,
             retry_backoff_max=300)(read_archive_chunk)

"""Names the Celery application and its tasks share: queues, task names, settings.

A module of its own so that :mod:`ecgread.workers.celery_app` (which registers the tasks)
and :mod:`ecgread.workers.tasks` (which route to these queues) import it, not each other.
"""

from __future__ import annotations

from typing import cast

from celery import Celery

from ecgread.config.settings import Settings

READS_QUEUE = "reads"
CRITICAL_DELIVERIES_QUEUE = "deliveries.critical"
DELIVERIES_QUEUE = "deliveries"
#: Archive chunks of ``ecgread batch`` over a broker (:mod:`ecgread.workers.batch_celery`).
BATCH_QUEUE = "batch"
ALL_QUEUES = (CRITICAL_DELIVERIES_QUEUE, READS_QUEUE, DELIVERIES_QUEUE, BATCH_QUEUE)

#: Task names (stable: messages already in the durable queues carry them).
READ_TASK = "ecgread.read_ecg"
DELIVER_TASK = "ecgread.deliver"


def queue_name(settings: Settings, queue: str) -> str:
    """The broker's name of ``queue`` (one of the names above, or ``batch``) for this
    deployment: ``settings.queue_prefix`` before it."""
    return settings.queue_prefix + queue


def settings_of(app: Celery) -> Settings:
    """The settings ``app`` was built from by :func:`ecgread.workers.celery_app.make_celery`."""
    return cast(Settings, app.conf.ecgread_settings)

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

#: Task names (stable: messages already in the durable queues carry them).
READ_TASK = "ecgread.read_ecg"
DELIVER_TASK = "ecgread.deliver"


def settings_of(app: Celery) -> Settings:
    """The settings ``app`` was built from by :func:`ecgread.workers.celery_app.make_celery`."""
    return cast(Settings, app.conf.ecgread_settings)

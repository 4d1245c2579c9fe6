"""The Celery application: configuration and task registration, no work. Creating it
connects to nothing.

There is no module-level application: ``ecgread worker`` and ``ecgread serve`` each build
one with :func:`make_celery` from the settings they resolved (command-line options over
``ECGREAD_*``), the tasks are registered on that application, and a task reads the
settings of the application it is bound to (:func:`settings_of`). So a worker started
with ``--home``/``--database-url`` reads and writes there, whatever the environment says.
There is no ``celery -A`` entry point: run workers with ``ecgread worker``.

Embedded default (no ``ECGREAD_BROKER_URL``): tasks run eagerly in the calling process.
Scale-out: RabbitMQ with durable queues, late acknowledgment (a task is acked only after
it finished, so a worker killed mid-read hands the read to another) and prefetch 1.

Queues
------
``reads``                 read jobs, one per SOP Instance UID (task id ``read:<uid>``)
``deliveries.critical``   outbox runs for reads with critical findings: served first
``deliveries``            outbox runs for everything else
``batch``                 archive chunks of ``ecgread batch --broker-url``

Each name (and the ``ecgread`` exchange) carries ``ECGREAD_QUEUE_PREFIX`` in front, so that
deployments sharing a broker and virtual host keep their messages apart.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from ecgread.audit.anchor import use_anchor
from ecgread.config.settings import Settings
from ecgread.workers.queues import (
    CRITICAL_DELIVERIES_QUEUE,
    DELIVER_TASK,
    DELIVERIES_QUEUE,
    READ_TASK,
    READS_QUEUE,
    queue_name,
    settings_of,
)
from ecgread.workers.tasks import register_tasks

__all__ = [
    "CRITICAL_DELIVERIES_QUEUE", "DELIVERIES_QUEUE", "DELIVER_TASK", "READS_QUEUE", "READ_TASK",
    "make_celery", "settings_of",
]

def make_celery(settings: Settings) -> Celery:
    """A Celery application configured from ``settings``, with the ecgread tasks registered.

    ``settings`` travel with the application (:func:`settings_of`); the tasks read them
    from there. Nothing connects until the application sends or consumes a message.
    """
    app = Celery("ecgread", set_as_current=False)
    prefix = settings.queue_prefix
    exchange = Exchange(f"{prefix}ecgread", type="direct", durable=True)
    reads, critical, deliveries = (queue_name(settings, q) for q in
                                   (READS_QUEUE, CRITICAL_DELIVERIES_QUEUE, DELIVERIES_QUEUE))
    eager = not settings.broker_url
    app.conf.update(
        broker_url=settings.broker_url or "memory://",
        task_always_eager=eager,
        task_eager_propagates=True,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_exchange=exchange.name,
        task_default_delivery_mode="persistent",
        task_queues=(
            Queue(critical, exchange, routing_key=critical, durable=True),
            Queue(reads, exchange, routing_key=reads, durable=True),
            Queue(deliveries, exchange, routing_key=deliveries, durable=True),
        ),
        task_default_queue=reads,
        task_routes={READ_TASK: {"queue": reads, "routing_key": reads}},
        # remote control and events of another deployment on the same broker stay apart
        control_exchange=f"{prefix}celery",
        event_exchange=f"{prefix}celeryev",
    )
    app.conf.ecgread_settings = settings
    use_anchor(settings)  # the tasks' events are signed with the audit key
    register_tasks(app)
    return app

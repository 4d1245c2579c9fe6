"""The Celery application: configuration only, no work. Creating it connects to nothing.

Embedded default (no ``ECGREAD_BROKER_URL``): tasks run eagerly in the calling process.
Scale-out: RabbitMQ with durable queues, late acknowledgment (a task is acked only after
it finished, so a worker killed mid-read hands the read to another) and prefetch 1.

Queues
------
``reads``                 read jobs, one per SOP Instance UID (task id ``read:<uid>``)
``deliveries.critical``   outbox runs for reads with critical findings: served first
``deliveries``            outbox runs for everything else
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from ecgread.config.settings import Settings, load_settings

READS_QUEUE = "reads"
CRITICAL_DELIVERIES_QUEUE = "deliveries.critical"
DELIVERIES_QUEUE = "deliveries"


def make_celery(settings: Settings) -> Celery:
    app = Celery("ecgread", include=["ecgread.workers.tasks"])
    exchange = Exchange("ecgread", type="direct", durable=True)
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
        task_default_exchange="ecgread",
        task_default_delivery_mode="persistent",
        task_queues=(
            Queue(CRITICAL_DELIVERIES_QUEUE, exchange, routing_key=CRITICAL_DELIVERIES_QUEUE,
                  durable=True),
            Queue(READS_QUEUE, exchange, routing_key=READS_QUEUE, durable=True),
            Queue(DELIVERIES_QUEUE, exchange, routing_key=DELIVERIES_QUEUE, durable=True),
        ),
        task_default_queue=READS_QUEUE,
        task_routes={"ecgread.read_ecg": {"queue": READS_QUEUE, "routing_key": READS_QUEUE}},
    )
    app.conf.ecgread_settings = settings
    return app


#: The application the ``celery -A workers.celery_app worker`` command loads.
app = make_celery(load_settings())

"""The depth of the broker's ecgread queues, asked without Celery (``ecgread status``):
one short connection, a passive declare per queue.
"""

from __future__ import annotations

from kombu import Connection

from ecgread.config.settings import Settings
from ecgread.workers.queues import ALL_QUEUES, queue_name

__all__ = ["queue_depths"]


def queue_depths(settings: Settings, timeout_s: float = 3.0) -> dict[str, int | None]:
    """Messages ready in each of this deployment's queues, by their broker name
    (``ECGREAD_QUEUE_PREFIX`` in front; None: the queue does not exist yet).

    Raises ``kombu.exceptions.OperationalError`` when the broker cannot be reached.
    """
    depths: dict[str, int | None] = {}
    with Connection(settings.broker_url, connect_timeout=timeout_s) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout_s)
        for name in (queue_name(settings, q) for q in ALL_QUEUES):
            channel = conn.channel()
            try:
                depths[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
            except Exception:  # noqa: BLE001  passive declare of a missing queue closes it
                depths[name] = None
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001,S110
                    pass
    return depths

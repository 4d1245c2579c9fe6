"""Questions about the broker the read and delivery queues live on, asked without Celery.

:func:`broker_problem` says in one line why the broker cannot be reached (``serve`` logs
it at start instead of a traceback); :func:`queue_depths` gives the messages waiting in
each ecgread queue (``ecgread status``). Both open one short connection and close it.
"""

from __future__ import annotations

from kombu import Connection

from ecgread.config.settings import Settings
from ecgread.workers.queues import CRITICAL_DELIVERIES_QUEUE, DELIVERIES_QUEUE, READS_QUEUE

__all__ = ["QUEUES", "broker_problem", "queue_depths", "redacted"]

#: The durable queues ``make_celery`` declares.
QUEUES = (READS_QUEUE, CRITICAL_DELIVERIES_QUEUE, DELIVERIES_QUEUE)


def redacted(url: str) -> str:
    """The broker URL without its password, fit for a log line."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user + '@' if user else ''}{host}"


def broker_problem(settings: Settings, timeout_s: float = 3.0) -> str | None:
    """None when the broker accepts a connection, else one line saying why not."""
    try:
        with Connection(settings.broker_url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001  whatever kombu raises is "unreachable"
        return f"broker {redacted(settings.broker_url)} unreachable: {exc}"
    return None


def queue_depths(settings: Settings, timeout_s: float = 3.0) -> dict[str, int | None]:
    """Messages ready in each ecgread queue (None: the queue does not exist yet).

    Raises ``kombu.exceptions.OperationalError`` when the broker cannot be reached.
    """
    depths: dict[str, int | None] = {}
    with Connection(settings.broker_url, connect_timeout=timeout_s) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout_s)
        for name in QUEUES:
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

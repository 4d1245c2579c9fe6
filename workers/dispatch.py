"""Hand read jobs to whoever runs them: Celery over RabbitMQ, or an in-process worker.

The listener calls :meth:`Dispatcher.submit` only after the ECG's row is committed
(STYLE #4: enqueue after commit). Both dispatchers are safe to call twice for the same
SOP Instance UID: the read job itself is idempotent.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol

from ecgread.config.settings import Settings

log = logging.getLogger("ecgread.dispatch")


class Dispatcher(Protocol):
    def submit(self, sop_instance_uid: str) -> None: ...

    def close(self) -> None: ...


class CeleryDispatcher:
    """Publishes one persistent ``ecgread.read_ecg`` message per ECG to the ``reads`` queue,
    through the one Celery application built from ``settings`` (the broker they name)."""

    def __init__(self, settings: Settings) -> None:
        from ecgread.workers.celery_app import make_celery

        self._app = make_celery(settings)

    def submit(self, sop_instance_uid: str) -> None:
        from ecgread.workers.celery_app import READ_TASK, READS_QUEUE

        self._app.send_task(READ_TASK, args=[sop_instance_uid],
                            task_id=f"read:{sop_instance_uid}", queue=READS_QUEUE,
                            routing_key=READS_QUEUE, headers={"trace_id": sop_instance_uid})

    def close(self) -> None:
        self._app.close()


class LocalWorker:
    """The embedded default: one background thread reads ECGs in arrival order.

    After each read it runs the outbox once so results leave at once; retries are the
    outbox loop's job (``ecgread.workers.outbox.run_outbox``).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ecgread-reader", daemon=True)
        self._thread.start()

    def submit(self, sop_instance_uid: str) -> None:
        self._queue.put(sop_instance_uid)

    def join(self) -> None:
        """Wait until every submitted ECG has been read."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from ecgread.workers.outbox import deliver_due
        from ecgread.workers.read_job import read_ecg

        while True:
            uid = self._queue.get()
            try:
                if uid is None:
                    return
                outcome = read_ecg(self._settings, uid)
                if outcome.read_id is not None:
                    log.info("read sop=%s: reported (read %d%s)", uid, outcome.read_id,
                             ", critical" if outcome.critical else "")
                elif outcome.skipped:
                    log.info("read sop=%s: skipped, already read", uid)
                if outcome.read_id is not None:
                    deliver_due(self._settings)
            except Exception:  # noqa: BLE001 - the row stays unfinished; recovery retries it
                log.exception("read of sop=%s did not finish; it stays queued for recovery", uid)
            finally:
                self._queue.task_done()


def make_dispatcher(settings: Settings) -> Dispatcher:
    return CeleryDispatcher(settings) if settings.broker_url else LocalWorker(settings)

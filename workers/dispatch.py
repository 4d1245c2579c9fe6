"""Hand read jobs to whoever runs them: Celery over RabbitMQ, or an in-process worker.

The listener calls :meth:`Dispatcher.submit` only after the ECG's row is committed
(STYLE #4: enqueue after commit). Both dispatchers are safe to call twice for the same
SOP Instance UID: the read job itself is idempotent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
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
        from ecgread.workers.queues import READS_QUEUE, queue_name

        self._app = make_celery(settings)
        self._queue = queue_name(settings, READS_QUEUE)

    def submit(self, sop_instance_uid: str) -> None:
        from ecgread.workers.celery_app import READ_TASK

        self._app.send_task(READ_TASK, args=[sop_instance_uid],
                            task_id=f"read:{sop_instance_uid}", queue=self._queue,
                            routing_key=self._queue, headers={"trace_id": sop_instance_uid})

    def close(self) -> None:
        self._app.close()


class LocalWorker:
    """The embedded default: one background thread reads ECGs in arrival order.

    It never delivers: after a read that queued a delivery it calls ``on_read`` (``ecgread
    serve`` wakes its outbox thread, :func:`ecgread.workers.outbox.run_outbox`), so a
    silent EHR never stalls the reads.
    """

    def __init__(self, settings: Settings, on_read: Callable[[], None] | None = None) -> None:
        self._settings = settings
        self._on_read = on_read
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
                if outcome.read_id is not None and self._on_read is not None:
                    self._on_read()
            except Exception:  # noqa: BLE001 - the row stays unfinished; recovery retries it
                log.exception("read of sop=%s did not finish; it stays queued for recovery", uid)
            finally:
                self._queue.task_done()


class HandOff:
    """Hands stored ECGs to a dispatcher that may fail (a broker that is down) without
    blocking the listener or losing one.

    :meth:`submit` only notes the SOP Instance UID; a thread of its own publishes it. When
    publishing fails the UID stays pending and every pending hand-off is tried again every
    ``handoff_retry_s`` seconds, not only at the next start (the ``ecg`` row, committed
    before the sender got Success, is what makes it safe: the start-up sweep finds it
    too). One line is logged when the broker goes away and one when it is back.
    """

    def __init__(self, inner: Dispatcher, retry_s: float) -> None:
        self._inner = inner
        self._retry_s = retry_s
        self._pending: dict[str, None] = {}  # insertion-ordered set
        self._cond = threading.Condition()
        self._closed = False
        self._failing_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="ecgread-handoff", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Hand-offs received but not yet published."""
        with self._cond:
            return len(self._pending)

    def submit(self, sop_instance_uid: str) -> None:
        with self._cond:
            self._pending[sop_instance_uid] = None
            self._cond.notify()

    def join(self, timeout_s: float = 30.0) -> bool:
        """Wait until nothing is pending (True) or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.pending

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=10)
        self._inner.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch = list(self._pending)
            for uid in batch:
                try:
                    self._inner.submit(uid)
                except Exception as exc:  # noqa: BLE001  kept pending, tried again later
                    self._failed(exc)
                    break
                with self._cond:
                    self._pending.pop(uid, None)
            else:
                if self._failing_since is not None:
                    log.warning("broker reachable again: pending hand-offs published")
                    self._failing_since = None
                continue
            with self._cond:  # wait before the next try (woken early only by close)
                if not self._closed:
                    self._cond.wait(self._retry_s)

    def _failed(self, exc: BaseException) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.error("cannot hand reads to the broker (%s: %s); %d pending, retried every "
                      "%g s", type(exc).__name__, exc, self.pending, self._retry_s)


def make_dispatcher(settings: Settings, on_read: Callable[[], None] | None = None) -> Dispatcher:
    """Celery over the broker when one is configured, else the in-process reader
    (``on_read``: called after each read that queued a delivery)."""
    if settings.broker_url:
        return HandOff(CeleryDispatcher(settings), settings.handoff_retry_s)
    return LocalWorker(settings, on_read)

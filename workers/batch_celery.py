"""The batch's side of ``ecgread batch`` over a broker: publish chunks to the ``batch`` queue,
then collect their results from the audit database as the workers store them
(:mod:`workers.batch_tasks`). A module of its own: it needs the Celery application, whose
task registration imports :mod:`workers.batch_tasks`.
"""

from __future__ import annotations

import time

from ecgread.config.settings import Settings
from ecgread.workers.batch_read import BatchOptions, ChunkResult
from ecgread.workers.batch_tasks import ARCHIVE_TASK, stored_results
from ecgread.workers.queues import BATCH_QUEUE, queue_name

__all__ = ["CeleryRunner"]

#: Keys asked of the database per poll while collecting.
_POLL_KEYS = 2000


class CeleryRunner:
    """The batch's side: publish chunks, then collect their results from the database."""

    capacity = 1 << 30  # every chunk is published at once; RabbitMQ holds the backlog

    def __init__(self, settings: Settings, options: BatchOptions, poll_s: float = 0.5) -> None:
        from ecgread.audit.db import migrate
        from ecgread.workers.celery_app import make_celery

        migrate(settings.audit_url)
        self._settings, self._options, self._poll_s = settings, options, poll_s
        self._app = make_celery(settings)
        self._queue = queue_name(settings, BATCH_QUEUE)
        self._waiting: dict[str, None] = {}  # keys published, result not collected (ordered)
        self._found: list[ChunkResult] = []
        self._last_poll = 0.0

    def submit(self, items: list[tuple[str, str]]) -> None:
        have = stored_results(self._settings, [k for k, _ in items])  # a rerun: already there
        self._found.extend(have)
        done = {r.key for r in have}
        todo = [[k, p] for k, p in items if k not in done]
        if todo:
            self._app.send_task(ARCHIVE_TASK, args=[todo, str(self._options.out_dir),
                                                    self._options.pdf],
                                queue=self._queue, routing_key=self._queue,
                                headers={"trace_id": f"batch:{todo[0][0][:16]}"})
            self._waiting.update((k, None) for k, _ in todo)

    def finished(self, block: bool) -> list[ChunkResult]:
        while True:
            wait_s = self._poll_s - (time.monotonic() - self._last_poll)
            if self._waiting and (block or wait_s <= 0):
                if wait_s > 0:
                    time.sleep(wait_s)
                self._last_poll = time.monotonic()
                keys = list(self._waiting)[:_POLL_KEYS]
                for r in stored_results(self._settings, keys):
                    self._waiting.pop(r.key, None)
                    self._found.append(r)
            if self._found or not block or not self._waiting:
                out, self._found = self._found, []
                return out

    def outstanding(self) -> int:
        return len(self._waiting)

    def close(self) -> None:
        self._app.close()

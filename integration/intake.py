"""The one writer discipline of both listeners (DICOM C-STORE and HL7 MLLP).

Each listener runs the same intake steps: check the limits, write what was received
durably (:mod:`integration.object_store`), commit the ``received`` row, its effects and
its event in one short transaction (:func:`commit`), map any error to a status through
the one table (:func:`integration.status_map.outcome_for`), record a refusal
(:func:`record`) and reply. This module holds what the two share:

- **One writer turn per database, per process** (:func:`write_turn`). SQLite admits one
  writer; the others would wait in its busy handler, which polls with sleeps of up to
  100 ms. One lock shared by both listeners queues them instead, so neither listener can
  starve the other. PostgreSQL needs no turn; there ``lock_timeout`` bounds a wait on a row
  lock instead.
- **A bounded wait** (``intake_write_timeout_s``). A transaction that cannot start within
  it raises :class:`DatabaseBusyError`, which the table answers 0xA700 (out of resources)
  and AE 207: the sender keeps its copy and retries. So does SQLite's own busy timeout and
  PostgreSQL's ``lock_timeout`` (both surface as ``OperationalError``).
- **Refusals are always recorded.** :func:`record` writes the ``received`` row and event
  of a refusal; when the writer is busy (the refusal may be *because* it is busy), the
  record is handed to a recorder thread that writes it as soon as the writer is free,
  after the reply has gone out. The event says ``recorded_late``.

Transactions stay short: everything slow (parsing, decoding, fsync) happens before the
turn is taken; the turn covers only the database work of one message.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from ecgread.audit.db import session_scope
from ecgread.config.settings import Settings
from ecgread.errors import DatabaseBusyError

__all__ = ["commit", "record", "write_turn", "wait_recorded"]

log = logging.getLogger("ecgread.intake")

T = TypeVar("T")

_writers: dict[str, threading.Lock] = {}
_writers_guard = threading.Lock()


@contextmanager
def write_turn(url: str, timeout_s: float | None = None) -> Iterator[None]:
    """This process's writer turn for ``url`` (SQLite only; PostgreSQL takes none).

    Raises :class:`DatabaseBusyError` when the turn does not come within ``timeout_s``
    (None: wait as long as it takes).
    """
    if not url.startswith("sqlite"):
        yield
        return
    with _writers_guard:
        lock = _writers.setdefault(url, threading.Lock())
    if not lock.acquire(timeout=-1 if timeout_s is None else timeout_s):
        raise DatabaseBusyError(f"audit database busy for more than {timeout_s:g} s; "
                                "retry later")
    try:
        yield
    finally:
        lock.release()


def _is_lock_timeout(exc: OperationalError) -> bool:
    text_ = str(exc.orig if exc.orig is not None else exc).lower()
    return ("database is locked" in text_ or "lock timeout" in text_
            or "lock_timeout" in text_ or "locknotavailable" in type(exc.orig).__name__.lower())


def commit(settings: Settings, work: Callable[[Session], T],
           timeout_s: float | None = None) -> T:
    """Run ``work`` in one transaction in the writer turn and commit it.

    ``timeout_s`` bounds the wait for the turn and for row locks (default
    ``intake_write_timeout_s``). Raises :class:`DatabaseBusyError` when either runs out
    (and when SQLite's own busy handler gives up); other errors pass through.
    """
    url = settings.audit_url
    limit = settings.intake_write_timeout_s if timeout_s is None else timeout_s
    try:
        with write_turn(url, limit), session_scope(url) as session:
            if url.startswith("postgresql"):
                session.execute(text(f"SET LOCAL lock_timeout = '{int(limit * 1000)}ms'"))
            return work(session)
    except OperationalError as exc:
        if _is_lock_timeout(exc):
            raise DatabaseBusyError(f"audit database busy for more than {limit:g} s; "
                                    "retry later") from exc
        raise


_late: queue.Queue[tuple[Settings, Callable[[Session, bool], None], str]] = queue.Queue()
_late_thread: threading.Thread | None = None
_late_guard = threading.Lock()


def record(settings: Settings, work: Callable[[Session, bool], None], what: str) -> bool:
    """Record a refusal: ``work(session, recorded_late)`` adds its rows and events.

    Tried at once (waiting at most 1 s for the writer: the refusal may be *because* it is
    busy, and the reply must not wait twice); when the writer is busy it is queued for the
    recorder thread, which waits its turn however long it takes. Returns True when
    recorded now, False when queued. Never raises (the reply goes out regardless).
    """
    try:
        commit(settings, lambda session: work(session, False),
               timeout_s=min(1.0, settings.intake_write_timeout_s))
        return True
    except DatabaseBusyError:
        pass
    except Exception as exc:  # noqa: BLE001  logged; the status still goes out
        log.error("could not record %s: %s", what, type(exc).__name__)
        return False
    global _late_thread
    with _late_guard:
        if _late_thread is None or not _late_thread.is_alive():
            _late_thread = threading.Thread(target=_recorder, name="ecgread-late-records",
                                            daemon=True)
            _late_thread.start()
    _late.put((settings, work, what))
    log.warning("audit database busy: %s is recorded once it is free", what)
    return False


def _as_late(work: Callable[[Session, bool], None]) -> Callable[[Session], None]:
    return lambda session: work(session, True)


def _recorder() -> None:
    while True:
        settings, work, what = _late.get()
        try:
            for attempt in range(1, 61):
                try:
                    commit(settings, _as_late(work), timeout_s=600.0)
                    break
                except DatabaseBusyError:
                    time.sleep(min(5.0, 0.1 * attempt))
            else:
                log.error("could not record %s: the audit database stayed busy", what)
        except Exception as exc:  # noqa: BLE001  keep recording the others
            log.error("could not record %s: %s", what, type(exc).__name__)
        finally:
            _late.task_done()


def wait_recorded(timeout_s: float = 30.0) -> bool:
    """Wait until every refusal queued by :func:`record` is written (tests, shutdown)."""
    deadline = time.monotonic() + timeout_s
    while _late.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _late.unfinished_tasks

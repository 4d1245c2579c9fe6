"""``ecgread batch``: re-read an archive of ECG files, or ECGs already stored.

Files: every ECG file under the given paths (DICOM, WFDB, GE MUSE, Philips Sierra, HL7 aECG,
SCP-ECG) is read once per content; results, manifest and PDFs go to the output folder
(:mod:`workers.batch_output`), and where the files carry the vendor's read, the archive
report of agreement with it (``agreement.csv``, ``agreement.html``; :mod:`reporting.archive`).

- Resumable: each input is keyed by the SHA-256 of its content; a rerun (after a kill, or
  on a grown archive) reads only what has no result yet and writes nothing twice.
- Parallel: chunks of :data:`BATCH_ECGS` inputs (one batched ONNX run each) go to ``jobs``
  worker processes, or with a broker to Celery workers on any node
  (:mod:`workers.batch_tasks`), which put one result per ECG in the audit database.
- A progress bar with rate and ETA on stderr when it is a terminal (tqdm).
- A record that fails gives an error line and never stops the others; the exit status is
  1 when some input failed, 2 for a path that does not exist or holds no ECG file.

Stored: every stored ECG received in the date range is read again through the read job
(trigger ``batch``), so the new read and its report are in the audit trail; results go to
the EHR and PACS again only with ``deliver=True``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol

from ecgread.config.settings import Settings
from ecgread.workers.batch_output import OutputFolder
from ecgread.workers.batch_read import BatchOptions, ChunkResult, input_key, read_chunk

__all__ = ["BATCH_ECGS", "parse_when", "run_batch"]

log = logging.getLogger("ecgread.batch")

#: ECGs per chunk: one delineation-network batch, one task, one manifest write.
BATCH_ECGS = 32


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """A date or date-time from the command line, as an aware UTC datetime.

    ISO 8601: ``2026-01-01``, ``2026-01-01T08:30``, ``2026-01-01 08:30:00+01:00``. A time
    without an offset is local time. A bare date is its midnight, or with ``end_of_day``
    the next midnight (so ``--until 2026-01-31`` includes that day).

    Example
    -------
    >>> parse_when("2026-01-01T00:00Z").isoformat()
    '2026-01-01T00:00:00+00:00'

    Raises
    ------
    ValueError
        Not an ISO 8601 date or date-time.
    """
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time())
    else:
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time
    return moment.astimezone(UTC)


def run_batch(settings: Settings, paths: list[Path], *, stored: bool = False,
              since: datetime | None = None, until: datetime | None = None,
              out: Path | None = None, jobs: int = 1, pdf: bool = True,
              deliver: bool = False, progress: bool | None = None) -> int:
    """Run one batch; returns the exit status (0 all read, 1 some failed, 2 bad input).

    ``progress``: show the bar (None: when stderr is a terminal). With a broker
    (``settings.broker_url``) files are read by Celery workers (``ecgread worker --queues
    batch``), which must see the same paths and output folder (shared storage).
    """
    if stored:
        if paths:
            print("ecgread batch: give files or folders, or --stored, not both", file=sys.stderr)
            return 2
        return _reread_stored(settings, since, until, deliver)
    if not paths:
        print("ecgread batch: give files or folders, or --stored", file=sys.stderr)
        return 2
    if jobs < 1:
        print("ecgread batch: --jobs must be 1 or more", file=sys.stderr)
        return 2
    return _read_files(settings, paths, out or settings.home / "batch", jobs, pdf,
                       _show_progress(progress))


def _show_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


def _exists(path: Path) -> bool:
    from ecgread.integration.ecg_files import is_wfdb

    return path.exists() or (is_wfdb(path) and path.with_suffix(".hea").is_file())


def _discover(paths: list[Path]) -> list[Path]:
    from ecgread.integration.ecg_files import find_ecg_files

    seen: set[Path] = set()
    files: list[Path] = []
    for root in paths:
        for f in find_ecg_files(root):
            resolved = f.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append(f)
    return files


class _Runner(Protocol):
    """Runs chunks somewhere and hands back their results as they finish; ``capacity``
    chunks may be outstanding before the batch waits for one."""

    capacity: int

    def submit(self, items: list[tuple[str, str]]) -> None: ...

    def finished(self, block: bool) -> list[ChunkResult]: ...

    def outstanding(self) -> int: ...

    def close(self) -> None: ...


class _LocalRunner:
    """Chunks in this process (``jobs == 1``) or in ``jobs`` worker processes."""

    def __init__(self, settings: Settings, options: BatchOptions, jobs: int) -> None:
        self._settings, self._options = settings, options
        self._pool: Executor | None = None
        if jobs > 1:
            import multiprocessing

            # spawn: a clean interpreter per worker (no inherited threads or ONNX sessions)
            self._pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
        self._futures: set[Future[list[ChunkResult]]] = set()
        self._done: list[ChunkResult] = []
        self.capacity = 2 * jobs

    def submit(self, items: list[tuple[str, str]]) -> None:
        if self._pool is None:
            self._done.extend(read_chunk(self._settings, items, self._options))
        else:
            self._futures.add(self._pool.submit(read_chunk, self._settings, items,
                                                self._options))

    def finished(self, block: bool) -> list[ChunkResult]:
        if self._futures:
            done, self._futures = wait(self._futures, timeout=None if block else 0,
                                       return_when=FIRST_COMPLETED)
            for future in done:
                self._done.extend(future.result())
        out, self._done = self._done, []
        return out

    def outstanding(self) -> int:
        return len(self._futures)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _keyed(files: list[Path]) -> Iterator[tuple[str, Path]]:
    import hashlib

    for path in files:
        try:
            yield input_key(path), path
        except OSError as exc:
            # unreadable: keyed by its path, so it still has one result line
            yield "unreadable-" + hashlib.sha256(str(path).encode()).hexdigest(), path
            log.warning("cannot read %s: %s", path.name, exc.strerror)


def _read_files(settings: Settings, paths: list[Path], out: Path, jobs: int, pdf: bool,
                show_progress: bool) -> int:
    from tqdm import tqdm

    missing = [p for p in paths if not _exists(p)]
    if missing:
        print("ecgread batch: no such file or folder: " + ", ".join(map(str, missing)),
              file=sys.stderr)
        return 2
    files = _discover(paths)
    if not files:
        print("ecgread batch: no ECG files (DICOM, WFDB, MUSE, Philips, aECG, SCP) under "
              + ", ".join(map(str, paths)), file=sys.stderr)
        return 2
    options = BatchOptions(out_dir=out.resolve(), pdf=pdf)
    runner: _Runner
    if settings.broker_url:
        from ecgread.workers.batch_celery import CeleryRunner

        runner = CeleryRunner(settings, options)
    else:
        runner = _LocalRunner(settings, options, jobs)
    counts = {"read": 0, "failed": 0, "done before": 0, "duplicate": 0}
    keys: dict[str, str] = {}  # key -> first source of this run
    with OutputFolder(out) as folder, tqdm(total=len(files), unit="ECG", file=sys.stderr,
                                           disable=not show_progress, mininterval=0.2,
                                           smoothing=0.1) as bar:
        def collect(block: bool) -> None:
            for entry in folder.append(runner.finished(block)):
                failed_now = entry["status"] == "failed"
                counts["failed" if failed_now else "read"] += 1
                if failed_now:  # also in results.jsonl; the file name only, no patient data
                    bar.write(f"{Path(entry['source']).name}: error: {entry.get('error')}",
                              file=sys.stderr)
                bar.update(1)

        chunk: list[tuple[str, str]] = []
        try:
            for key, path in _keyed(files):
                if key in keys:
                    folder.duplicate(key, str(path))
                    counts["duplicate"] += 1
                    bar.update(1)
                    continue
                keys[key] = str(path)
                if key in folder.entries:
                    counts["done before"] += 1
                    bar.update(1)
                    continue
                chunk.append((key, str(path)))
                if len(chunk) == BATCH_ECGS:
                    runner.submit(chunk)
                    chunk = []
                    collect(block=runner.outstanding() >= runner.capacity)
            if chunk:
                runner.submit(chunk)
            collect(block=False)
            while runner.outstanding():
                collect(block=True)
        finally:
            runner.close()
        failed = sum(folder.entries[k]["status"] == "failed" for k in keys if k in folder.entries)
        report = _archive_report(folder)
    print(f"batch: {counts['read']} read, {counts['failed']} failed, {counts['done before']} "
          f"done before, {counts['duplicate']} duplicate(s); results in {out / 'results.jsonl'}")
    if report:
        print(f"batch: agreement with the vendor read in {report}")
    if failed:
        print(f"batch: {failed} input(s) failed; see the error lines in results.jsonl",
              file=sys.stderr)
    return 1 if failed else 0


def _archive_report(folder: OutputFolder) -> Path | None:
    """Write the agreement report from the manifest; None when no input has a vendor read."""
    from ecgread.models.agreement import EcgAgreement, summarize
    from ecgread.reporting.archive import write_archive_report

    rows = [EcgAgreement.from_json_dict(e["agreement"]) for e in folder.entries.values()
            if e.get("agreement") is not None]
    if not rows:
        return None
    return write_archive_report(summarize(rows), folder.out)


def _reread_stored(settings: Settings, since: datetime | None, until: datetime | None,
                   deliver: bool) -> int:
    from ecgread.audit import queries
    from ecgread.audit.anchor import open_audit
    from ecgread.audit.db import session_scope
    from ecgread.workers.read_job import read_ecg

    open_audit(settings)
    from ecgread.workers.batch_tasks import ARCHIVE_PREFIX

    with session_scope(settings.audit_url) as s:
        uids = [r.sop_instance_uid for r in queries.ecgs(s, since=since, until=until,
                                                         limit=1_000_000)
                if not r.sop_instance_uid.startswith(ARCHIVE_PREFIX)]  # archive files' reads
    n_ok = n_err = 0
    for uid in reversed(uids):  # oldest first
        outcome = read_ecg(settings, uid, trigger="batch", deliver=deliver)
        if outcome.error:
            n_err += 1
        else:
            n_ok += 1
    print(f"batch: re-read {n_ok} stored ECG(s), {n_err} failed"
          + ("; results queued for delivery" if deliver else "; nothing sent (no --deliver)"))
    return 1 if n_err else 0


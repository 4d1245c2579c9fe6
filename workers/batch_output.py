"""The output folder of ``ecgread batch``: results, manifest, and recovery after a kill.

``OUT/results.jsonl``
    One line per input content: the ``analyze --json`` object plus ``input_sha256``,
    ``pdf`` and, for archive files with the vendor's read, ``vendor`` and ``agreement``;
    or ``{"source", "input_sha256", "error"}``.
``OUT/manifest.jsonl``
    The index, one line per input content (``key`` = SHA-256 of the content): ``source``,
    ``status`` (``ok`` / ``failed`` / ``duplicate``: the same content at another path, read
    once), ``pdf``, ``error``, ``agreement``. The archive report is built from it alone.

Only one process writes here (the batch's parent). Each finished chunk is appended to
``results.jsonl`` and synced, then to ``manifest.jsonl`` and synced. A kill can leave a
half-written last line (cut off on reopening) or results whose manifest lines are missing
(added back from the results on reopening), so a rerun skips every input that has a result
and never appends a second line for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from ecgread.workers.batch_read import ChunkResult

__all__ = ["MANIFEST", "RESULTS", "OutputFolder"]

RESULTS = "results.jsonl"
MANIFEST = "manifest.jsonl"


def _complete_lines(path: Path) -> list[str]:
    """The complete lines of ``path``; a half-written last line is cut off the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
    return data[:end].decode("utf-8").splitlines()


def _manifest_entry(result: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": result["input_sha256"], "source": result["source"],
                             "status": status or ("failed" if "error" in result else "ok")}
    for name in ("pdf", "error", "agreement"):
        if result.get(name) is not None:
            entry[name] = result[name]
    return entry


class OutputFolder:
    """The results and manifest of one output folder, recovered on opening.

    Example
    -------
    >>> with OutputFolder(Path("out")) as folder:  # doctest: +SKIP
    ...     if key not in folder.entries:
    ...         folder.append([result])
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        #: key -> manifest entry, for every input content finished in this folder.
        self.entries: dict[str, dict[str, Any]] = {}
        #: source -> key, for inputs recorded as the same content as another input.
        self.duplicates: dict[str, str] = {}
        for line in _complete_lines(out / MANIFEST):
            entry = json.loads(line)
            if entry["status"] == "duplicate":
                self.duplicates[entry["source"]] = entry["key"]
            else:
                self.entries.setdefault(entry["key"], entry)
        recovered = []
        for line in _complete_lines(out / RESULTS):
            result = json.loads(line)
            key = result.get("input_sha256")
            if key is not None and key not in self.entries:
                recovered.append(_manifest_entry(result))
                self.entries[key] = recovered[-1]
        self._results: TextIO = open(out / RESULTS, "a", encoding="utf-8")
        self._manifest: TextIO = open(out / MANIFEST, "a", encoding="utf-8")
        if recovered:
            self._write(self._manifest, recovered)

    @staticmethod
    def _write(f: TextIO, rows: Iterable[dict[str, Any]]) -> None:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
        f.flush()
        os.fsync(f.fileno())

    def append(self, results: list[ChunkResult]) -> list[dict[str, Any]]:
        """Record finished inputs (results of :func:`workers.batch_read.read_chunk`); those
        already recorded are left out. Returns the manifest entries written."""
        new: list[dict[str, Any]] = []
        keys: set[str] = set()
        for r in (c.result for c in results):
            key = r["input_sha256"]
            if key not in self.entries and key not in keys:
                keys.add(key)
                new.append(r)
        if not new:
            return []
        self._write(self._results, new)
        entries = [_manifest_entry(r) for r in new]
        self._write(self._manifest, entries)
        self.entries.update((e["key"], e) for e in entries)
        return entries

    def duplicate(self, key: str, source: str) -> None:
        """Record ``source`` as the same content as another input (no result line of its
        own); recorded once per source."""
        if self.duplicates.get(source) == key:
            return
        self.duplicates[source] = key
        self._write(self._manifest, [{"key": key, "source": source, "status": "duplicate"}])

    def close(self) -> None:
        self._results.close()
        self._manifest.close()

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

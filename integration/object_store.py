"""The durable object store: a file is on disk before anyone is told it was stored.

:func:`write_durably` writes to a temporary file in the destination folder, fsyncs it,
renames it over the destination (atomic on POSIX) and fsyncs the folder, so after it
returns the file survives a crash or power loss with either its old or its new content,
never a torn one. Folders it creates are made durable the same way.

Everything stored holds patient data: files are created mode 0600 and folders 0700
whatever the process umask (:func:`private_dir` for the folders made elsewhere).

Received DICOM objects live at ``store_dir/ab/<sha256 of the SOP Instance UID>.dcm``
(:func:`object_path`): a UID never becomes a file name (UIDs may be 64 characters and are
identifiers worth not spreading). One level of 256 folders keeps each to ~4,000 files per
million ECGs; a second level would create (and fsync) a new folder for nearly every one of
the first 65,536 objects.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ecgread.errors import StorageFullError

__all__ = ["FILE_MODE", "DIR_MODE", "StoredObject", "object_path", "free_bytes",
           "ensure_room", "private_dir", "write_durably", "store_object"]

#: Modes of stored files and of the folders that hold them (owner only).
FILE_MODE, DIR_MODE = 0o600, 0o700

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


@dataclass(frozen=True)
class StoredObject:
    path: Path
    sha256: str
    size_bytes: int


def object_path(store_dir: Path, sop_instance_uid: str) -> Path:
    """Where the object with this SOP Instance UID is stored (the same UID, the same path)."""
    digest = hashlib.sha256(sop_instance_uid.encode("ascii", "replace")).hexdigest()
    return store_dir / digest[:2] / f"{digest}.dcm"


def free_bytes(path: Path) -> int:
    """Bytes available to us on the file system that holds ``path`` (or its nearest parent)."""
    probe = Path(path).resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return int(shutil.disk_usage(probe).free)


def ensure_room(folder: Path, size_bytes: int, min_free_bytes: int) -> None:
    """Raise :class:`StorageFullError` when writing ``size_bytes`` under ``folder`` would
    leave fewer than ``min_free_bytes`` free (the reserve the database shares)."""
    if free_bytes(folder) - size_bytes < min_free_bytes:
        raise StorageFullError("store below its free-space reserve")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(folder: Path) -> None:
    """``mkdir -p`` whose new entries are fsynced into their parents."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask
        _fsync_dir(d.parent)


def private_dir(folder: Path) -> Path:
    """Make ``folder`` (and missing parents) exist with mode 0700; an existing folder of
    ours is set to 0700 too. Returns ``folder``."""
    folder = Path(folder)
    _make_dirs(folder)
    if folder.stat().st_uid == os.geteuid():
        os.chmod(folder, DIR_MODE)
    return folder


def write_durably(path: str | Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically and durably; returns its sha256 (hex).

    Raises
    ------
    StorageFullError
        The file system is full (ENOSPC) or over quota (EDQUOT); nothing is left behind.
    OSError
        Any other I/O failure.
    """
    target = Path(path)
    try:
        _make_dirs(target.parent)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with open(fd, "wb") as f:
                os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away, never added
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
    except OSError as exc:
        if exc.errno in _FULL_ERRNOS:
            raise StorageFullError(f"no space left to store {target.name}") from exc
        raise
    return hashlib.sha256(data).hexdigest()


def store_object(store_dir: Path, sop_instance_uid: str, data: bytes,
                 min_free_bytes: int = 0) -> StoredObject:
    """Store one received object durably under its SOP Instance UID.

    Refuses (:class:`StorageFullError`) when writing it would leave fewer than
    ``min_free_bytes`` free, so the store never fills the disk the database shares.
    """
    ensure_room(store_dir, len(data), min_free_bytes)
    path = object_path(store_dir, sop_instance_uid)
    digest = write_durably(path, data)
    return StoredObject(path=path, sha256=digest, size_bytes=len(data))

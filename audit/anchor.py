"""What anchors the audit chain outside the database: the HMAC key and the checkpoint file.

A hash chain alone proves only that rows agree with each other: whoever can write the
database can edit a row and recompute every hash after it, forge an appended event, cut
the tail or empty the table. Two anchors close that:

- **The HMAC key** (``audit_hmac_key`` or ``audit_hmac_key_file``, from configuration,
  never stored in the database): each event's ``hash`` is HMAC-SHA256 under it, so an
  event written or recomputed without the key does not verify. ``key_id`` (a digest of
  the key, not the key) says which key signed a row.
- **Signed checkpoints**: every ``audit_checkpoint_every`` events, and when the service
  starts and stops, an ``ecgread.audit.checkpoint`` event records the number of events and
  the chain head; a copy goes to ``audit_checkpoint_file``, a file outside the database,
  signed with the key. Truncating the tail or deleting every row leaves the database
  shorter than the file says.

Each process registers its anchor for its database with :func:`open_audit` (at start-up,
with the migration); events written by a process that did not are unsigned and
``ecgread audit verify`` reports them once signed events exist.

Example
-------
>>> key_id(b"k" * 32)
'f4ed3e0881187e32'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ecgread.config.settings import Settings
from ecgread.errors import ConfigError

__all__ = ["Anchor", "MIN_KEY_CHARS", "anchor_for", "checkpoint_path", "key_id", "load_key",
           "open_audit", "read_checkpoint_file", "register", "sign", "use_anchor",
           "write_checkpoint_file"]

#: Shortest key accepted (characters): 32 random hex digits are 128 bits.
MIN_KEY_CHARS = 32


def key_id(key: bytes) -> str:
    """A public name for a key (16 hex digits of a domain-separated SHA-256)."""
    return hashlib.sha256(b"ecgread-audit-key-id\x00" + key).hexdigest()[:16]


def sign(key: bytes, content: str) -> str:
    """HMAC-SHA256 of ``content`` (UTF-8) under ``key``, hex."""
    return hmac.new(key, content.encode(), hashlib.sha256).hexdigest()


def load_key(settings: Settings) -> bytes | None:
    """The audit HMAC key from ``audit_hmac_key`` or ``audit_hmac_key_file``; None if
    neither is set. Raises :class:`ConfigError` for both set, a short key, an unreadable
    file, or (in production mode) a key file that group or others may read."""
    if settings.audit_hmac_key and settings.audit_hmac_key_file:
        raise ConfigError("set audit_hmac_key or audit_hmac_key_file, not both")
    text = settings.audit_hmac_key
    if settings.audit_hmac_key_file:
        path = Path(settings.audit_hmac_key_file)
        try:
            mode = path.stat().st_mode
            text = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"audit_hmac_key_file: cannot read {path}") from exc
        if settings.production and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"audit_hmac_key_file: {path} is readable by group or others "
                              "(chmod 600)")
    if not text:
        return None
    if len(text) < MIN_KEY_CHARS:
        raise ConfigError(f"audit HMAC key shorter than {MIN_KEY_CHARS} characters "
                          "(e.g. openssl rand -hex 32)")
    return text.encode()


def checkpoint_path(settings: Settings) -> Path:
    return Path(settings.audit_checkpoint_file or settings.home / "audit-checkpoint.json")


@dataclass(frozen=True)
class Anchor:
    """How one process signs and checkpoints the chain of one database."""

    key: bytes | None
    checkpoint_file: Path | None
    checkpoint_every: int = 100

    @property
    def key_id(self) -> str | None:
        return key_id(self.key) if self.key else None

    def __repr__(self) -> str:  # never print the key
        return (f"Anchor(key_id={self.key_id!r}, checkpoint_file={self.checkpoint_file!r}, "
                f"checkpoint_every={self.checkpoint_every})")


_anchors: weakref.WeakKeyDictionary[Engine, Anchor] = weakref.WeakKeyDictionary()


def register(engine: Engine, anchor: Anchor) -> None:
    _anchors[engine] = anchor


def anchor_for(session: Session) -> Anchor | None:
    """The anchor registered for the session's database, if any."""
    bind = session.get_bind()
    engine = bind.engine if hasattr(bind, "engine") else bind
    return _anchors.get(engine)  # type: ignore[arg-type]


def use_anchor(settings: Settings) -> Anchor:
    """Register this process's anchor for the audit database (connects to nothing)."""
    from ecgread.audit.db import engine_for

    anchor = Anchor(load_key(settings), checkpoint_path(settings),
                    settings.audit_checkpoint_every)
    register(engine_for(settings.audit_url), anchor)
    return anchor


def open_audit(settings: Settings) -> Anchor:
    """Migrate the audit database and register this process's anchor for it."""
    from ecgread.audit.db import migrate

    anchor = use_anchor(settings)
    migrate(settings.audit_url)
    return anchor


def _canonical(record: dict[str, Any]) -> str:
    body = {k: record.get(k) for k in ("count", "head_id", "head_hash", "at", "key_id")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def read_checkpoint_file(path: Path) -> dict[str, Any] | None:
    """The checkpoint in ``path`` (None when there is none); raises ValueError if unreadable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return record


def file_mac_ok(record: dict[str, Any], key: bytes | None) -> bool | None:
    """Whether the file's signature holds (None: unsigned or no key to check it)."""
    if not key or not record.get("mac"):
        return None
    return hmac.compare_digest(str(record["mac"]), sign(key, _canonical(record)))


def write_checkpoint_file(anchor: Anchor, record: dict[str, Any]) -> None:
    """Replace the checkpoint file with ``record`` (signed), unless it already holds a
    later one (another process may have written it). Mode 0600, atomic rename."""
    path = anchor.checkpoint_file
    if path is None:
        return
    try:
        current = read_checkpoint_file(path)
    except (OSError, ValueError):
        current = None
    if current is not None and int(current.get("count", 0)) > int(record["count"]):
        return
    record = dict(record, key_id=anchor.key_id)
    if anchor.key:
        record["mac"] = sign(anchor.key, _canonical(record))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)

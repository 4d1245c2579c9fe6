"""The chain's hashing rules, shared by the writer (:mod:`ecgread.audit.events`) and the
verifier (:mod:`ecgread.audit.verify`)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from ecgread.audit.anchor import sign
from ecgread.audit.tables import Event

__all__ = ["CHECKPOINT", "checkpoint_body", "event_hash_ok"]

#: The action of a checkpoint event.
CHECKPOINT = "ecgread.audit.checkpoint"


def _content(prev_hash: str, at: datetime, action: str, subject: str | None,
             trace_id: str | None, detail_json: str) -> str:
    return json.dumps([prev_hash, at.isoformat(), action, subject, trace_id, detail_json],
                      separators=(",", ":"))


def _digest(prev_hash: str, at: datetime, action: str, subject: str | None,
            trace_id: str | None, detail_json: str, key: bytes | None = None) -> str:
    content = _content(prev_hash, at, action, subject, trace_id, detail_json)
    return sign(key, content) if key else hashlib.sha256(content.encode()).hexdigest()


def _row_digest(row: Event, key: bytes | None) -> str:
    return _digest(row.prev_hash, row.at, row.action, row.subject, row.trace_id,
                   row.detail_json, key)


def checkpoint_body(detail: dict[str, Any]) -> str:
    """What a checkpoint event's ``mac`` signs: its count and the chain head before it."""
    body = {k: detail.get(k) for k in ("count", "head_id", "head_hash")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def event_hash_ok(row: Event, key: bytes | None) -> bool:
    return hmac.compare_digest(row.hash, _row_digest(row, key))

"""``ecgread status``: is work piling up? Queue depths on the broker (when one is
configured), ECGs not finished and the oldest of them, failed ECGs, live and dead
deliveries. Exit status 0; 1 when the broker is configured and unreachable.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from ecgread.config.settings import Settings, mask_secret

__all__ = ["collect_status", "run_status"]


def collect_status(settings: Settings) -> dict[str, Any]:
    """The figures ``ecgread status`` prints, as a dict (datetimes as ISO text)."""
    from ecgread.audit import queries
    from ecgread.audit.db import migrate, session_scope
    from ecgread.integration.recovery import UNFINISHED_STATES

    migrate(settings.audit_url)
    with session_scope(settings.audit_url) as session:
        out = queries.status_summary(session, UNFINISHED_STATES)
    out["broker"] = None
    if settings.broker_url:
        from ecgread.workers.broker import queue_depths

        try:
            out["broker"] = {"url": mask_secret(settings.broker_url),
                             "queues": queue_depths(settings)}
        except Exception as exc:  # noqa: BLE001  reported, not raised
            out["broker"] = {"url": mask_secret(settings.broker_url),
                             "error": f"unreachable: {exc}"}
    return out


def _age(value: Any) -> str:
    if not isinstance(value, datetime):
        return "?"
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - aware).total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def run_status(settings: Settings, as_json: bool = False) -> int:
    status = collect_status(settings)
    broker = status["broker"]
    if as_json:
        print(json.dumps(status, default=str))
    else:
        if broker is None:
            print("queues          in process (no broker)")
        elif "error" in broker:
            print(f"queues          broker {broker['url']} {broker['error']}")
        else:
            depths = ", ".join(f"{name} {'-' if n is None else n}"
                               for name, n in broker["queues"].items())
            print(f"queues          {depths}")
        oldest = status["oldest_unfinished_ecg"]
        print(f"unfinished ECGs {status['ecgs_unfinished']}"
              + (f" (oldest: ecg {oldest['id']}, {oldest['state']}, received "
                 f"{_age(oldest['received_at'])} ago, {oldest['attempts']} attempt(s))"
                 if oldest else ""))
        print(f"failed ECGs     {status['ecgs_failed']}  (ecgread audit failed)")
        pending = status["oldest_pending_delivery"]
        print(f"deliveries      {status['deliveries_pending']} pending"
              + (f" (oldest: delivery {pending['id']} to {pending['destination']}, "
                 f"{_age(pending['created_at'])} old, {pending['attempts']} attempt(s), "
                 f"last {pending['last'] or '-'})" if pending else "")
              + f", {status['deliveries_dead']} dead  (ecgread audit deliveries --state dead)")
    sys.stdout.flush()
    return 1 if broker is not None and "error" in broker else 0

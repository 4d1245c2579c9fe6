"""Start-up checks that turn an operator's mistake into one line naming the setting.

Each raises :class:`ConfigError` with ``ECGREAD_<SETTING>=<value>: what is wrong``
(passwords masked), which the command prints as one line and exits 2, instead of a
traceback from deep inside SQLAlchemy, kombu or socketserver.
"""

from __future__ import annotations

import errno
from pathlib import Path

from ecgread.config.settings import Settings, mask_secret
from ecgread.errors import ConfigError


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def prepare_home(settings: Settings) -> None:
    """Create the home and its folders (store, reports, outbox)."""
    for d in (settings.home, settings.store_dir, settings.reports_dir, settings.outbox_dir):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"ECGREAD_HOME={str(settings.home)!r}: cannot create {d} "
                              f"({exc.strerror or type(exc).__name__})") from None


def database_error(settings: Settings, exc: BaseException) -> ConfigError:
    """The one-line form of a failure to open or migrate the audit database."""
    if settings.database_url:
        where = f"ECGREAD_DATABASE_URL={mask_secret(settings.database_url)!r}"
    else:
        where = f"ECGREAD_HOME={str(settings.home)!r} (SQLite {settings.home / 'audit.db'})"
    return ConfigError(f"{where}: cannot open the audit database ({_first_line(exc)})")


def migrate_database(settings: Settings) -> None:
    """Bring the audit database to the newest revision, or one line saying why not."""
    from sqlalchemy.exc import SQLAlchemyError

    from ecgread.audit.db import migrate

    try:
        migrate(settings.audit_url)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        raise database_error(settings, exc) from None


def require_existing_database(settings: Settings) -> None:
    """Refuse to query an audit database that does not exist (a query must not create
    an empty one and then report on it)."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from ecgread.audit.db import engine_for

    if not settings.database_url:
        path = settings.home / "audit.db"
        if not path.is_file():
            raise ConfigError(f"ECGREAD_HOME={str(settings.home)!r}: no audit database at "
                              f"{path}; give the home `ecgread serve` uses (--home or "
                              "ECGREAD_HOME), or create it with `ecgread db upgrade`")
        return
    try:
        has_tables = inspect(engine_for(settings.audit_url)).has_table("alembic_version")
    except SQLAlchemyError as exc:
        raise database_error(settings, exc) from None
    if not has_tables:
        raise ConfigError(f"ECGREAD_DATABASE_URL={mask_secret(settings.database_url)!r}: "
                          "holds no ecgread audit tables; create them with `ecgread db upgrade`")


def check_broker(settings: Settings, timeout_s: float = 5.0) -> None:
    """Connect to the broker once, so a down or wrong broker is said at start-up."""
    if not settings.broker_url:
        return
    from kombu import Connection

    try:
        with Connection(settings.broker_url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - kombu raises transport-specific errors
        raise ConfigError(f"ECGREAD_BROKER_URL={mask_secret(settings.broker_url)!r}: cannot "
                          f"connect to the broker ({_first_line(exc)})") from None


def bind_error(setting: str, listener: str, host: str, port: int, exc: OSError) -> ConfigError:
    """The one-line form of a listener that cannot bind its port."""
    reason = ("address already in use (another ecgread or program listens there)"
              if exc.errno == errno.EADDRINUSE else
              "permission denied (ports below 1024 need privileges)"
              if exc.errno == errno.EACCES else exc.strerror or _first_line(exc))
    return ConfigError(f"ECGREAD_{setting.upper()}={port}: the {listener} listener cannot "
                       f"bind {host}:{port}: {reason}")


def results_destination(settings: Settings) -> str:
    """Where results go, in words, for the start-up line."""
    if settings.ehr_host:
        ehr = f"ORU to EHR {settings.ehr_host}:{settings.ehr_port} over MLLP"
    else:
        ehr = f"no EHR configured: ORU written to {Path(settings.outbox_dir)}"
    if settings.pacs_host:
        return (f"{ehr}; PDF to PACS {settings.pacs_ae_title}@{settings.pacs_host}:"
                f"{settings.pacs_port}")
    return f"{ehr}; PDF reports in {settings.reports_dir}"

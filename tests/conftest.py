"""Shared fixtures: settings on a temporary home, the real servers CI starts, shared data.

``scripts/services.sh`` starts RabbitMQ and PostgreSQL and exports their URLs as
``ECGREAD_TEST_BROKER_URL`` and ``ECGREAD_TEST_DATABASE_URL``; the annotated databases are
read from ``../shared/data`` beside the checkout. Without a server or the data, the tests
that need them skip with a message, except under CI (``CI=true``), where anything missing
fails: a gate that silently skips in CI is no gate. Every such test goes through
:func:`need`: the ``broker_url``, ``postgres_url`` and ``ludb_dir`` fixtures and the ``ludb``
marker.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecgread.config.settings import Settings, load_settings
from ecgread.integration.ludb import LUDB_DIR

REPO = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    """True under CI (``CI=true``, as CI services set it; ``.ci/run`` sets it too)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def need(available: bool, message: str) -> None:
    """Skip the calling test when ``available`` is false, or fail it under CI."""
    if not available:
        if in_ci():
            pytest.fail(f"{message} (CI=true: a missing prerequisite fails)", pytrace=False)
        pytest.skip(message)


def _need_url(var: str, what: str) -> str:
    url = os.environ.get(var, "")
    need(bool(url), f"{what} not available: set {var} (scripts/services.sh starts one)")
    return url


def need_ludb() -> Path:
    need((LUDB_DIR / "RECORDS").is_file(),
         f"LUDB not found at {LUDB_DIR} (../shared/data/ludb beside the checkout)")
    return LUDB_DIR


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``ludb`` needs the data whether or not it asks for ``ludb_dir``."""
    if item.get_closest_marker("ludb") is not None:
        need_ludb()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded defaults on a fresh home: SQLite, no broker, loopback listeners."""
    return load_settings({"home": tmp_path / "home", "dicom_host": "127.0.0.1",
                          "hl7_host": "127.0.0.1", "dicom_port": 0, "hl7_port": 0}, environ={})


@pytest.fixture
def broker_url() -> str:
    return _need_url("ECGREAD_TEST_BROKER_URL", "RabbitMQ")


@pytest.fixture
def postgres_url() -> str:
    return _need_url("ECGREAD_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture
def ludb_dir() -> Path:
    return need_ludb()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty audit database URL: SQLite in the test's folder, then a fresh PostgreSQL
    database on the test server (one per test keeps hash chains and rows independent)."""
    import uuid

    from sqlalchemy import text

    from ecgread.audit.db import engine_for

    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    base = request.getfixturevalue("postgres_url")
    name = f"ecgread_test_{uuid.uuid4().hex[:10]}"
    with engine_for(base).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return str(base.rsplit("/", 1)[0] + "/" + name)

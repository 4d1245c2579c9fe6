"""Shared fixtures: settings on a temporary home, and the real servers CI starts.

``scripts/services.sh`` starts RabbitMQ and PostgreSQL and exports their URLs as
``ECGREAD_TEST_BROKER_URL`` and ``ECGREAD_TEST_DATABASE_URL``. Without them the tests that
need those servers skip, except under CI (``CI=true``), where a missing server fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecgread.config.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
LUDB_DIR = REPO.parent / "shared" / "data" / "ludb"


def _need(var: str, what: str) -> str:
    url = os.environ.get(var, "")
    if not url:
        message = f"{what} not available: set {var} (scripts/services.sh starts one)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded defaults on a fresh home: SQLite, no broker, loopback listeners."""
    return load_settings({"home": tmp_path / "home", "dicom_host": "127.0.0.1",
                          "hl7_host": "127.0.0.1", "dicom_port": 0, "hl7_port": 0}, environ={})


@pytest.fixture
def broker_url() -> str:
    return _need("ECGREAD_TEST_BROKER_URL", "RabbitMQ")


@pytest.fixture
def postgres_url() -> str:
    return _need("ECGREAD_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture
def ludb_dir() -> Path:
    if not (LUDB_DIR / "RECORDS").is_file():
        pytest.skip(f"LUDB not found at {LUDB_DIR} (../shared/data/ludb beside the checkout)")
    return LUDB_DIR

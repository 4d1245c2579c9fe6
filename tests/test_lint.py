"""The linters, as part of the one test command: ruff (lint and import order) over the real
top-level folders, and mypy over the installed package ``ecgread`` (strict on
``ecgread.models``; settings in pyproject.toml). A finding fails the test with the list.

ruff is pointed at the folders themselves, not at ``ecgread/``'s symlinks to them, so each
file is checked once.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, need

FOLDERS = ("models", "integration", "workers", "reporting", "config", "audit", "web",
           "ecgread", "bench", "tests")


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    need(importlib.util.find_spec(tool) is not None,
         f"{tool} not installed (the test extra pins it: pip install -e .[test])")
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # check this checkout, not another install
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    proc = _run("ruff", "check", "--no-fix", "--output-format", "concise", *FOLDERS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    proc = _run("mypy", "-p", "ecgread")
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Helpers for tests that run ecgread as separate processes and talk to it as peers do.

Ports and the EHR stand-in are in :mod:`ecgread.testing`, shared with the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO

#: Queue names of this test run on the shared RabbitMQ: a worker left over from an
#: interrupted run (its own prefix) cannot take this run's messages.
RUN_QUEUE_PREFIX = f"test-{uuid.uuid4().hex[:8]}."


def ecgread_env(home: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECGREAD_")}
    env["ECGREAD_HOME"] = str(home)
    if "broker_url" in settings:
        env["ECGREAD_QUEUE_PREFIX"] = RUN_QUEUE_PREFIX
    for key, value in settings.items():
        env[f"ECGREAD_{key.upper()}"] = str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_ecgread(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "ab")
    return subprocess.Popen([sys.executable, "-m", "ecgread", *args], cwd=REPO, env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_until(predicate: Callable[[], object], timeout_s: float = 90.0, every_s: float = 0.3):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError(f"condition not met within {timeout_s} s")


def storescu(port: int, *files: Path, calling_ae: str = "CART1", called_ae: str = "ECGREAD",
             extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """DCMTK's storescu, an independent DICOM peer (Debian package dcmtk)."""
    return subprocess.run(["storescu", "-aet", calling_ae, "-aec", called_ae, *extra,
                           "127.0.0.1", str(port), *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def stop(proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

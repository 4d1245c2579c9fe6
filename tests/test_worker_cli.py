"""``ecgread serve`` and ``ecgread worker`` run with the settings their command line gives.

Both commands get ``--broker-url``, ``--home`` and ``--database-url`` while their
environment's ``ECGREAD_*`` variables point elsewhere (another home, another database, a
broker that does not exist). An ECG sent to the listener is read by the worker through the
real RabbitMQ broker; everything must land in the command line's home and database, and
nothing in the environment's.
"""

from __future__ import annotations

import shutil

import pytest
from celery import Celery
from pydicom.data import get_testdata_file
from sqlmodel import select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import EcgRead, EcgRecord, Report
from ecgread.config.settings import load_settings
from ecgread.testing import free_port, wait_for_port
from ecgread.workers import celery_app, tasks
from ecgread.workers.celery_app import DELIVER_TASK, READ_TASK, make_celery, settings_of
from tests.e2e_helpers import ecgread_env, start_ecgread, stop, storescu, wait_until

needs_storescu = pytest.mark.skipif(shutil.which("storescu") is None,
                                    reason="DCMTK not installed")

SAMPLE = get_testdata_file("waveform_ecg.dcm")


def _reported(url: str) -> tuple[EcgRecord, list[EcgRead], list[Report]] | None:
    with session_scope(url) as s:
        rec = s.exec(select(EcgRecord)).first()
        if rec is None or rec.state != "reported":
            return None
        reads = list(s.exec(select(EcgRead).where(EcgRead.ecg_id == rec.id)))
        reports = [p for r in reads for p in s.exec(select(Report).where(Report.read_id == r.id))]
        return rec, reads, reports


def test_each_app_carries_its_own_settings_to_its_own_tasks(tmp_path):
    a = load_settings({"home": tmp_path / "a"}, environ={})
    b = load_settings({"home": tmp_path / "b", "broker_url": "amqp://nowhere//"}, environ={})
    app_a, app_b = make_celery(a), make_celery(b)
    for app, settings in ((app_a, a), (app_b, b)):
        for name in (READ_TASK, DELIVER_TASK):
            assert app.tasks[name].app is app
            assert settings_of(app.tasks[name].app) is settings
    # nothing is built at import time, and registering on one app does not touch another
    assert not hasattr(celery_app, "app") and not hasattr(tasks, "app")
    assert READ_TASK not in Celery("other", set_as_current=False).tasks


@pytest.mark.broker
@needs_storescu
def test_worker_and_listener_use_command_line_settings_not_the_environment(tmp_path,
                                                                          broker_url):
    home, env_home = tmp_path / "cli-home", tmp_path / "env-home"
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = ecgread_env(env_home, database_url=f"sqlite:///{tmp_path / 'env.db'}",
                      broker_url="amqp://guest:guest@127.0.0.1:9//",  # nothing listens there
                      dicom_host="127.0.0.1", hl7_host="127.0.0.1")
    given = ["--broker-url", broker_url, "--home", str(home), "--database-url", url]
    dicom_port, hl7_port = free_port(), free_port()
    server = start_ecgread(["serve", *given, "--dicom-port", str(dicom_port),
                            "--hl7-port", str(hl7_port)], env, tmp_path / "serve.log")
    worker = start_ecgread(["worker", *given], env, tmp_path / "worker.log")
    try:
        wait_for_port(dicom_port)
        sent = storescu(dicom_port, SAMPLE)
        assert sent.returncode == 0, sent.stderr
        rec, reads, reports = wait_until(lambda: _reported(url), timeout_s=180)
    finally:
        stop(worker)
        stop(server)
    assert [r.status for r in reads] == ["ok"]
    (report,) = reports
    assert report.pdf_path.startswith(str(home / "reports"))
    assert (home / "reports").is_dir() and (home / "store").is_dir()
    assert rec.path.startswith(str(home / "store"))
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "ecgread.read_ecg" in worker_log and "succeeded" in worker_log, worker_log[-3000:]
    # nothing in the environment's home (where the SQLite database would also be) or database
    assert not env_home.exists()
    assert not (tmp_path / "env.db").exists()

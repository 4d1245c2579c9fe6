"""What an operator meets first, run as the operator runs it (subprocesses): one resolved
home, audit commands that cannot mislead, start-up errors in one line naming the setting,
unknown variables warned about, `ecgread config`, logs that say what happens, --help and
--version, and the README's settings table generated from config/settings.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from ecgread.config import settings_doc
from ecgread.config.settings import load_settings, setting_infos
from ecgread.testing import free_port, wait_for_port
from tests.conftest import LUDB_DIR, REPO
from tests.e2e_helpers import ecgread_env, start_ecgread, stop

SAMPLE = get_testdata_file("waveform_ecg.dcm")


def run(*args: str, env: dict[str, str], cwd: Path = REPO, timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "ecgread", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The refusal: exit 2 and exactly one `ecgread:` line, no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ecgread:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def env(tmp_path):
    e = ecgread_env(tmp_path / "home")
    e["PYTHONPATH"] = str(REPO)
    return e


# --- 2. one resolved home; audit cannot mislead -------------------------------------

def test_default_home_is_absolute_and_printed(tmp_path, env):
    del env["ECGREAD_HOME"]
    proc = run("db", "upgrade", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = "/var/lib/ecgread" if os.access("/var/lib/ecgread", os.W_OK) else str(
        (tmp_path / "var").resolve())
    assert f"home {expected} (default)" in proc.stderr
    assert load_settings(environ={}).home.is_absolute()


def test_audit_refuses_a_database_that_does_not_exist(tmp_path, env):
    line = one_error_line(run("audit", "verify", env=env, cwd=tmp_path))
    assert "no audit database" in line and str(tmp_path / "home") in line
    assert not (tmp_path / "home" / "audit.db").exists()
    assert "intact" not in line


@pytest.fixture
def served_home(tmp_path_factory):
    """A home with the demo's ECG and order in it (the demo run through real listeners)."""
    home = tmp_path_factory.mktemp("demo") / "home"
    e = ecgread_env(home)
    e["PYTHONPATH"] = str(REPO)
    first = run("demo", env=e)
    assert first.returncode == 0, first.stderr
    return home, e, first


def test_demo_twice_says_duplicate_and_filters_apply(served_home):
    _, e, first = served_home
    assert "duplicate" not in first.stdout
    second = run("demo", env=e)
    assert second.returncode == 0, second.stderr
    assert "duplicate" in second.stdout
    everything = run("audit", "events", env=e)
    assert everything.returncode == 0 and everything.stdout.count("\n") > 5
    for what in ("events", "reads", "ecgs", "deliveries", "received"):
        proc = run("audit", what, "--patient", "NOBODY", env=e)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "", f"audit {what} --patient NOBODY returned rows"
    mine = run("audit", "ecgs", env=e).stdout.splitlines()[0]
    patient = json.loads(mine)["patient_id"]
    proc = run("audit", "events", "--patient", patient, env=e)
    assert 0 < proc.stdout.count("\n") <= everything.stdout.count("\n")
    assert run("audit", "reads", "--patient", patient, env=e).stdout.strip()
    # a filter that does not apply is refused, saying which do
    line = one_error_line(run("audit", "reads", "--accession", "X", env=e))
    assert "--accession does not apply" in line and "--patient" in line
    assert "does not apply" in one_error_line(run("audit", "verify", "--patient", "P", env=e))
    # --status is the name; --state still works
    assert run("audit", "ecgs", "--status", "reported", env=e).stdout.strip()
    assert run("audit", "ecgs", "--state", "failed", env=e).stdout == ""


# --- 3. start-up errors in one line ---------------------------------------------------

def test_port_in_use_names_the_listener_and_setting(env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_error_line(run("serve", "--dicom-host", "127.0.0.1", "--hl7-host",
                                  "127.0.0.1", "--dicom-port", "0", "--hl7-port", str(port),
                                  env=env))
    assert f"ECGREAD_HL7_PORT={port}" in line and "HL7 MLLP listener" in line
    assert "already in use" in line


def test_worker_refuses_a_queue_it_does_not_know(env):
    proc = run("worker", "--broker-url", "amqp://guest:guest@127.0.0.1:1//",
               "--queues", "reads,batchs", env=env, timeout=120)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "'reads,batchs'" in line and "deliveries.critical, reads, deliveries, batch" in line


@pytest.mark.parametrize("args,env_extra,expect", [
    (["--dicom-port", "99999"], {}, "ECGREAD_DICOM_PORT=99999"),
    ([], {"ECGREAD_HL7_PORT": "http"}, "ECGREAD_HL7_PORT='http'"),
    ([], {"ECGREAD_DATABASE_URL": "postgresql+psycopg://ecg:hunter2@127.0.0.1:1/ecg"},
     "ECGREAD_DATABASE_URL='postgresql+psycopg://ecg:***@127.0.0.1:1/ecg'"),
    # a broker that is down is said in one line too, but serve goes on (hand-offs are
    # retried): tests/test_service_faults.py::test_broker_down_at_start_then_back
    ([], {"ECGREAD_HOME": "/proc/ecgread"}, "ECGREAD_HOME='/proc/ecgread'"),
])
def test_startup_errors_are_one_line(env, args, env_extra, expect):
    env.update(env_extra)
    line = one_error_line(run("serve", "--dicom-port", "0", "--hl7-port", "0", *args, env=env,
                              timeout=120))
    assert expect in line
    assert "hunter2" not in line


def test_postgres_scheme_is_accepted(postgres_url, env, tmp_path):
    short = postgres_url.replace("postgresql+psycopg://", "postgres://")
    proc = run("db", "upgrade", "--database-url", short, env=env)
    assert proc.returncode == 0, proc.stderr


def test_unknown_variable_is_warned_with_a_suggestion(env):
    env["ECGREAD_DICOM_PROT"] = "104"
    proc = run("config", env=env)
    assert proc.returncode == 0
    assert "ECGREAD_DICOM_PROT is not an ecgread setting" in proc.stderr
    assert "did you mean ECGREAD_DICOM_PORT?" in proc.stderr


def test_config_shows_values_sources_and_masks_secrets(env):
    env["ECGREAD_DATABASE_URL"] = "postgres://ecg:hunter2@db.example:5432/ecg"
    proc = run("config", "--dicom-port", "104", env=env)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    assert set(lines) == {info.env for info in setting_infos()}
    assert lines["ECGREAD_DICOM_PORT"] == "104  # option"
    assert lines["ECGREAD_HOME"].endswith("# environment")
    assert lines["ECGREAD_HL7_PORT"] == "2575  # default"
    assert lines["ECGREAD_DATABASE_URL"] == (
        "postgresql+psycopg://ecg:***@db.example:5432/ecg  # environment")
    assert "hunter2" not in proc.stdout + proc.stderr


# --- 4. logs an operator can follow -----------------------------------------------------

def test_serve_says_where_results_go_logs_outcomes_and_stops_cleanly(tmp_path, env):
    dport, hport = free_port(), free_port()
    env.update(ECGREAD_DICOM_HOST="127.0.0.1", ECGREAD_HL7_HOST="127.0.0.1",
               ECGREAD_DICOM_PORT=str(dport), ECGREAD_HL7_PORT=str(hport))
    log = tmp_path / "serve.log"
    proc = start_ecgread(["serve"], env, log)
    try:
        wait_for_port(hport, 120)
        wait_for_port(dport, 30)
        # the healthcheck the images use, against the real listener
        health = run("health", env=env, timeout=60)
        assert health.returncode == 0, health.stdout + health.stderr
        assert "dicom: ok" in health.stdout and "hl7: ok" in health.stdout
        sent = subprocess.run(["storescu", "-aet", "CART1", "-aec", "ECGREAD", "127.0.0.1",
                               str(dport), SAMPLE], capture_output=True, text=True, timeout=120,
                              check=False)
        assert sent.returncode == 0, sent.stderr
        deadline = time.monotonic() + 120
        while "delivered" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        stop(proc)
    text = log.read_text()
    outbox = tmp_path / "home" / "outbox"
    assert f"no EHR configured: ORU written to {outbox}" in text
    assert "INFO ecgread.read: " in text or "INFO ecgread.dispatch: read sop=" in text
    assert " delivered (written" in text
    assert "SIGTERM received: stopping" in text and "stopped cleanly" in text
    assert "Traceback" not in text
    for phi in ("Patient", "PatientName"):  # the sample's patient name is never logged
        assert phi not in text
    down = run("health", env=env, timeout=60)
    assert down.returncode == 1 and "hl7: MLLP" in down.stdout




# --- 5. help, version, names ------------------------------------------------------------

@pytest.mark.parametrize("command", ["analyze", "serve", "worker", "demo", "batch", "audit",
                                     "db", "config", "health"])
def test_help_names_variables_defaults_and_choices(command, env):
    proc = run(command, "--help", env=env)
    assert proc.returncode == 0
    if command in ("serve", "worker", "config"):
        assert "ECGREAD_DELINEATOR; default: fused; one of fused, dsp, network" in " ".join(
            proc.stdout.split())
    if command in ("analyze", "audit", "db", "demo", "health"):
        assert "--broker-url" not in proc.stdout
    for option in ("--home", "--database-url", "--dicom-port"):
        if option in proc.stdout:  # every setting option names its variable and default
            name = option[2:].replace("-", "_").upper()
            assert f"ECGREAD_{name}; default:" in " ".join(proc.stdout.split())
    assert "--ae-title " not in proc.stdout


def test_option_names_match_variables(env):
    serve = " ".join(run("serve", "--help", env=env).stdout.split())
    for info in setting_infos():
        assert f"{info.option} " in serve and info.env in serve
    assert "--database-url" not in run("analyze", "--help", env=env).stdout
    assert "--broker-url" not in run("audit", "--help", env=env).stdout
    # the old spelling still works, hidden
    proc = run("config", "--ae-title", "OLDNAME", env=env)
    assert "ECGREAD_DICOM_AE_TITLE=OLDNAME  # option" in proc.stdout


def test_version(env):
    proc = run("--version", env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("ecgread ")


def test_analyze_folder_and_dat_point_the_way(env):
    if not (LUDB_DIR / "data" / "1.dat").is_file():
        pytest.skip("LUDB not available")
    proc = run("analyze", str(LUDB_DIR / "data"), str(LUDB_DIR / "data" / "1.dat"), env=env)
    assert proc.returncode == 1
    assert "is a folder: read the ECGs in it with `ecgread batch" in proc.stderr
    assert "give its header" in proc.stderr and "1.hea" in proc.stderr


def test_readme_settings_table_is_the_generated_one():
    readme = (REPO / "README.md").read_text()
    assert settings_doc.TABLE_BEGIN in readme, "README lacks the generated settings table"
    table = readme.split(settings_doc.TABLE_BEGIN, 1)[1].split(settings_doc.TABLE_END, 1)[0]
    assert table.strip() == settings_doc.markdown_table().strip(), (
        "README settings table is stale: regenerate with python -m ecgread.config.settings_doc")


def test_env_example_is_the_generated_one():
    example = (REPO / "docker" / "ecgread.env.example").read_text()
    assert example == settings_doc.env_example(), (
        "regenerate: python -m ecgread.config.settings_doc --env > docker/ecgread.env.example")


def test_every_setting_is_documented():
    for info in setting_infos():
        assert info.help, f"{info.name} has no #: comment (its help)"

"""The ``ecgread`` command as users call it: analyze (JSON contract and plain text),
errors on bad input, and the audit queries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydicom.data import get_testdata_file

from tests.conftest import REPO

SAMPLE = get_testdata_file("waveform_ecg.dcm")
CONTRACT_MEASUREMENTS = {"heart_rate_bpm", "rr_ms", "p_ms", "pr_ms", "qrs_ms", "qt_ms",
                         "qtc_bazett_ms", "qtc_fridericia_ms", "p_axis_deg", "qrs_axis_deg",
                         "t_axis_deg"}


def _ecgread(*args: str, home=None) -> subprocess.CompletedProcess:
    extra = ["--home", str(home)] if home else []
    return subprocess.run([sys.executable, "-m", "ecgread", *args, *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_analyze_json_follows_the_contract(tmp_path, ludb_dir):
    proc = _ecgread("analyze", SAMPLE, str(ludb_dir / "data" / "1"), "--json", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        out = json.loads(line)
        assert set(out) >= {"source", "sampling_rate_hz", "leads", "quality", "measurements",
                            "waves", "statements", "versions"}
        assert CONTRACT_MEASUREMENTS <= set(out["measurements"])
        assert out["leads"][:3] == ["I", "II", "III"]
        assert {"ecgread", "delineator"} <= set(out["versions"])
        for lead, waves in out["waves"].items():
            assert lead in out["leads"]
            for w in waves:
                assert w["type"] in ("P", "QRS", "T")
                assert w["onset_s"] <= w["peak_s"] <= w["offset_s"]
        for statement in out["statements"]:
            assert statement["evidence"], f"{statement['code']} has no evidence"
    sample = json.loads(lines[0])
    assert sample["sampling_rate_hz"] == 1000
    assert 50 <= sample["measurements"]["heart_rate_bpm"] <= 70  # device: RR 982 ms


def test_analyze_plain_text_and_a_bad_file(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    proc = _ecgread("analyze", SAMPLE, str(bad), home=tmp_path)
    assert proc.returncode == 1  # one input failed
    assert "Heart rate" in proc.stdout and "QRS" in proc.stdout
    assert "bad.dcm: error:" in proc.stderr


def test_audit_queries_on_an_empty_database(tmp_path):
    assert _ecgread("db", "upgrade", home=tmp_path).returncode == 0  # audit never creates it
    for what in ("received", "ecgs", "reads", "orders", "deliveries", "events"):
        proc = _ecgread("audit", what, home=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == ""
    proc = _ecgread("audit", "verify", home=tmp_path)
    assert proc.returncode == 0 and "intact" in proc.stdout


@pytest.mark.parametrize("args", [["worker"], ["analyze", "/nonexistent.dcm"]])
def test_refusals_say_why(tmp_path, args):
    proc = _ecgread(*args, home=tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip()

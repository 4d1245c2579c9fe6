"""Any lead set, rate and length (DESIGN: 1-15 leads, 100-2000 Hz, 2.5 s to 10 min): the read
never crashes; what needs a lead the record lacks is null or absent, with the reason in the
notes; full-scale random noise is "technically limited", never a diagnosis; and one record
that fails never stops the others in ``ecgread analyze`` or ``ecgread batch``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgread.models.analysis import analyze
from ecgread.models.analysis_result import Analysis
from ecgread.models.dsp_config import AnalysisConfig
from ecgread.models.ecg import STANDARD_LEADS, Ecg
from ecgread.models.interpret import check_evidence
from ecgread.models.interpret.values import resolve
from tests.conftest import REPO
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg

#: 15 leads: the standard 12 and three others (Frank leads, as some carts record them).
ALL_LEADS = STANDARD_LEADS + ("X", "Y", "Z")
DSP = AnalysisConfig(delineator="dsp")
_BASE = synthetic_ecg(rate_bpm=72, fs=500.0, duration_s=10.0, seed=3).ecg


def _ecg(leads: tuple[str, ...], fs: float, duration_s: float, seed: int = 3) -> Ecg:
    """A synthetic ECG with ``leads`` (X, Y, Z copy I, II, V2), resampled to ``fs`` and
    repeated to ``duration_s``."""
    from scipy.signal import resample_poly

    src = fs if duration_s <= 12 else 500.0
    base = _BASE if src == 500.0 and seed == 3 else synthetic_ecg(
        rate_bpm=72, fs=src, duration_s=min(duration_s, 10.0), seed=seed).ecg
    rows = [base.lead({"X": "I", "Y": "II", "Z": "V2"}.get(ld, ld)) for ld in leads]
    sig = np.vstack(rows).astype(np.float64)
    n = round(duration_s * fs)
    if src != fs:
        sig = resample_poly(sig, int(fs), int(src), axis=1)
    sig = np.tile(sig, (1, n // sig.shape[1] + 1))[:, :n]
    return Ecg(sig.astype(np.float32), float(fs), leads, source="synthetic")


def _check_read(a: Analysis) -> None:
    """What every read must satisfy whatever the lead set."""
    out = json.loads(json.dumps(a.to_json_dict()))  # the contract serialises
    assert out["leads"] == list(a.ecg.lead_names)
    assert set(out["waves"]) <= set(a.ecg.lead_names)
    for st_ in a.statements:
        assert check_evidence(st_, a) == [], st_.code
        for ev in st_.evidence:
            assert set(ev.leads) <= set(a.ecg.lead_names), (st_.code, ev)
    missing = [ld for ld in STANDARD_LEADS if ld not in a.ecg.lead_names]
    if missing:
        codes = {s.code for s in a.statements}
        assert not codes & {"NORMAL", "OTHERWISE_NORMAL"}, codes
        assert any(missing[0] in n and "not in the record" in n for n in a.notes), a.notes
        for ld in missing:  # a lead the record lacks resolves to None, not an error
            assert resolve(f"{ld}.r_uv", a) is None


@settings(max_examples=25, deadline=None)
@given(leads=st.lists(st.sampled_from(ALL_LEADS), min_size=1, max_size=15, unique=True),
       fs=st.sampled_from([100.0, 128.0, 250.0, 360.0, 500.0, 1000.0, 2000.0]),
       duration_s=st.floats(2.5, 20.0))
def test_any_lead_subset_rate_and_length_is_read(leads: list[str], fs: float,
                                                 duration_s: float) -> None:
    a = analyze(_ecg(tuple(leads), fs, duration_s), DSP)
    _check_read(a)


@pytest.mark.parametrize("leads", [("I", "II"), ("II",), ("V1",), ("V5",),
                                   STANDARD_LEADS[:6], STANDARD_LEADS[6:], ALL_LEADS])
def test_fewer_or_more_than_12_leads_read_with_the_default_delineator(leads) -> None:
    """The default (fused, network) path too: before, every record with fewer than 12 leads
    raised UnknownMeasurement ('II.p_uv', 'V1.r_prime_uv') in the interpretation."""
    a = analyze(_ecg(leads, 500.0, 10.0), models=shipped_models())
    _check_read(a)
    assert a.measurements.heart_rate_bpm is not None
    assert abs(a.measurements.heart_rate_bpm - 72) < 3
    assert any(s.category == "rhythm" for s in a.statements), [s.code for s in a.statements]


@pytest.mark.parametrize("fs", [100.0, 500.0])
def test_ten_minutes_are_read(fs: float) -> None:
    a = analyze(_ecg(("I", "II", "V2"), fs, 600.0), DSP)
    _check_read(a)
    assert len(a.beats) > 600


def test_two_standard_and_nonstandard_labels() -> None:
    """QTDB-like records: an 'MLII' and a 'V5' lead; no standard limb set."""
    e = _ecg(("II", "V5"), 250.0, 10.0)
    a = analyze(Ecg(e.signal_uv, 250.0, ("MLII", "V5")), DSP)
    _check_read(a)
    assert a.measurements.heart_rate_bpm is not None


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["normal", "uniform"])
def test_full_scale_noise_is_technically_limited_not_a_diagnosis(seed: int, kind: str) -> None:
    """Before: read "usable" with AF, NSVT and IVCD (some leads stayed under the exclusion
    threshold)."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(0, 2000, (12, 5000)) if kind == "normal"
         else rng.uniform(-5000, 5000, (12, 5000)))
    a = analyze(Ecg(x.astype(np.float32), 500.0, STANDARD_LEADS), models=shipped_models())
    assert not a.quality.usable
    assert [s.code for s in a.statements] == ["UNINTERPRETABLE"]
    assert not a.critical
    # and no number read from the noise (it read 221-230/min from one noisy lead)
    assert all(v is None for v in a.measurements.as_dict().values())
    assert a.measurements.unmeasured["heart_rate_bpm"].startswith("technically limited")
    # nor atrial waves named: PR read 'the atrial waves are not P waves' (fibrillation)
    assert a.rhythm.atrial_waves is None
    assert a.measurements.unmeasured["pr_ms"].startswith("technically limited")


def test_one_noisy_lead_leaves_the_record_usable() -> None:
    """The noise rule is per record: one noisy lead is excluded, the others are read."""
    e = _ecg(STANDARD_LEADS, 500.0, 10.0)
    sig = e.signal_uv.copy()
    sig[7] += np.random.default_rng(0).normal(0, 2000, sig.shape[1]).astype(np.float32)
    a = analyze(Ecg(sig, 500.0, STANDARD_LEADS), DSP)
    assert a.quality.usable
    assert "UNINTERPRETABLE" not in {s.code for s in a.statements}


def _write_wfdb(folder: Path, name: str, ecg: Ecg) -> Path:
    import wfdb

    wfdb.wrsamp(name, fs=int(ecg.sampling_rate_hz), units=["uV"] * len(ecg.lead_names),
                sig_name=list(ecg.lead_names), p_signal=ecg.signal_uv.T.astype(np.float64),
                fmt=["16"] * len(ecg.lead_names), write_dir=str(folder))
    return folder / name


def test_analyze_reads_every_lead_set_and_one_failure_stops_nothing(tmp_path: Path) -> None:
    two = _write_wfdb(tmp_path, "two", _ecg(("I", "II"), 500.0, 10.0))
    one = _write_wfdb(tmp_path, "one", _ecg(("V1",), 250.0, 10.0))
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    proc = subprocess.run([sys.executable, "-m", "ecgread", "analyze", str(two), str(bad),
                           str(one), "--json", "--home", str(tmp_path / "home")], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1  # some failed
    lines = [json.loads(x) for x in proc.stdout.strip().splitlines()]
    assert [Path(x["source"]).name for x in lines] == ["two", "bad.dcm", "one"]
    assert "error" in lines[1] and "error" not in lines[0] and "error" not in lines[2]
    # III, aVR, aVL and aVF derived from I and II, and the read says so
    assert lines[0]["leads"] == ["I", "II", "III", "aVR", "aVL", "aVF"]
    assert any("derived from I and II" in n for n in lines[0]["notes"])
    assert lines[2]["leads"] == ["V1"]
    assert lines[0]["measurements"]["heart_rate_bpm"] is not None
    assert "bad.dcm: error:" in proc.stderr


def test_batch_goes_on_past_a_failure_and_says_so(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    _write_wfdb(archive, "two", _ecg(("I", "II"), 500.0, 10.0))
    (archive / "bad.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "ecgread", "batch", str(archive), "--out",
                           str(out), "--home", str(tmp_path / "home"), "--delineator", "dsp"],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stderr  # some failed
    assert "1 read, 1 failed" in proc.stdout
    assert "bad.dcm: error:" in proc.stderr
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(Path(x["source"]).name for x in lines) == ["bad.dcm", "two"]


def test_a_low_rate_ecg_is_read_at_500_hz_and_says_so() -> None:
    """At 100 Hz the QRS of LUDB 139 read 130 ms (IVCD) against 104 at its own 500 Hz."""
    from ecgread.integration import ludb
    from ecgread.models import augment

    if not ludb.available():
        pytest.skip("LUDB not found")
    models = shipped_models()
    ecg = ludb.read_record(139)
    native = analyze(ecg, models=models)
    low = analyze(augment.resample(ecg, 100.0), models=models)
    assert low.to_json_dict()["sampling_rate_hz"] == 100.0 == low.sampling_rate_hz
    assert low.ecg.sampling_rate_hz == 500.0
    assert any("sampled at 100 Hz: read after band-limited interpolation to 500 Hz" in n
               for n in low.notes)
    assert any("pacing spikes not assessed: sampled at 100 Hz" in n for n in low.notes)
    assert native.measurements.qrs_ms is not None and low.measurements.qrs_ms is not None
    assert abs(low.measurements.qrs_ms - native.measurements.qrs_ms) <= 6
    assert "IVCD" not in {s.code for s in low.statements}

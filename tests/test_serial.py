"""Serial comparison (models/serial.py): thresholds, rhythm and new-finding rules, and a
real pair: a LUDB record against its copy with every QRS complex widened by 60 ms."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecgread.models.interpret.evidence import holds
from ecgread.models.results import Evidence, GlobalMeasurements, Statement
from ecgread.models.serial import SerialConfig, SerialInput, compare_serial


def _st(code: str, category: str) -> Statement:
    return Statement(code, code, category, "definite", (Evidence("x", 1.0, "> 0"),))


def _inp(statements: tuple[Statement, ...] = (), **m: float) -> SerialInput:
    base = {"heart_rate_bpm": 70.0, "pr_ms": 160.0, "qrs_ms": 90.0, "qtc_fridericia_ms": 410.0}
    return SerialInput(GlobalMeasurements(**{**base, **m}), statements)


def test_changes_within_the_thresholds_are_no_significant_change() -> None:
    out = compare_serial(_inp(heart_rate_bpm=85.0, qrs_ms=105.0), _inp())
    assert [s.code for s in out] == ["SERIAL_NO_CHANGE"]
    assert {e.measurement for e in out[0].evidence} >= {"qrs_ms", "prior.qrs_ms"}
    for e in out[0].evidence:
        assert holds(e.criterion, e.value)


def test_each_interval_beyond_its_threshold_is_stated_with_both_values() -> None:
    out = compare_serial(_inp(heart_rate_bpm=45.0, pr_ms=220.0, qrs_ms=140.0,
                              qtc_fridericia_ms=480.0), _inp())
    codes = [s.code for s in out]
    assert codes == ["SERIAL_RATE_DOWN", "SERIAL_PR_LONGER", "SERIAL_QRS_WIDER",
                     "SERIAL_QTC_LONGER"]
    qrs = out[2]
    assert qrs.evidence[0].measurement == "qrs_ms" and qrs.evidence[0].value == 140.0
    assert holds(qrs.evidence[0].criterion, 140.0) and not holds(qrs.evidence[0].criterion, 105.0)
    assert qrs.evidence[1].measurement == "prior.qrs_ms" and qrs.evidence[1].value == 90.0
    assert "90 -> 140 ms" in qrs.text
    # a threshold is a setting: a wider one makes the same pair unremarkable
    wide = SerialConfig(rate_change_bpm=30, pr_change_ms=80, qrs_change_ms=60, qtc_change_ms=80)
    assert [s.code for s in compare_serial(_inp(heart_rate_bpm=45.0, pr_ms=220.0, qrs_ms=140.0,
                                                 qtc_fridericia_ms=480.0), _inp(), wide)] \
        == ["SERIAL_NO_CHANGE"]


def test_an_unmeasured_interval_is_not_compared() -> None:
    out = compare_serial(_inp(pr_ms=None), _inp(pr_ms=120.0))  # type: ignore[arg-type]
    assert [s.code for s in out] == ["SERIAL_NO_CHANGE"]
    assert all(e.measurement not in ("pr_ms", "prior.pr_ms") for e in out[0].evidence)


def test_new_and_resolved_rhythm_but_sinus_variants_are_one_rhythm() -> None:
    sr, stach, af = _st("SR", "rhythm"), _st("STACH", "rhythm"), _st("AF", "rhythm")
    assert [s.code for s in compare_serial(_inp((stach,)), _inp((sr,)))] == ["SERIAL_NO_CHANGE"]
    out = compare_serial(_inp((af,)), _inp((sr,)))
    assert [s.code for s in out] == ["SERIAL_NEW_RHYTHM", "SERIAL_RESOLVED_RHYTHM"]
    assert "AF" in out[0].text and "SR" in out[1].text


def test_new_bbb_st_elevation_and_t_inversion_but_not_old_ones() -> None:
    found = (_st("LBBB", "conduction"), _st("STEMI_ANT", "st_t_qt"), _st("T_INV", "st_t_qt"))
    out = compare_serial(_inp(found), _inp())
    assert [s.code for s in out] == ["SERIAL_NEW_BBB", "SERIAL_NEW_ST_ELEVATION",
                                     "SERIAL_NEW_T_INVERSION"]
    assert out[0].evidence[0].measurement == "x"  # the finding's own evidence is cited
    assert [s.code for s in compare_serial(_inp(found), _inp(found))] == ["SERIAL_NO_CHANGE"]


def _widened(ecg, qrs: list[tuple[float, float]], extra_s: float):  # type: ignore[no-untyped-def]
    """Each QRS [a, b] stretched to [a, b + extra], the next 250 ms squeezed to keep RR."""
    fs = ecg.sampling_rate_hz
    sig = ecg.signal_uv.astype(np.float64).copy()
    t = np.arange(sig.shape[1]) / fs
    src = t.copy()  # output time -> input time
    for a, b in qrs:
        c = b + 0.25
        new_b = b + extra_s
        m1 = (t >= a) & (t < new_b)
        src[m1] = a + (t[m1] - a) * (b - a) / (new_b - a)
        m2 = (t >= new_b) & (t < c)
        src[m2] = b + (t[m2] - new_b) * (c - b) / (c - new_b)
    out = np.stack([np.interp(src, t, lead) for lead in sig]).astype(np.float32)
    return dataclasses.replace(ecg, signal_uv=out)


@pytest.mark.ludb
@pytest.mark.slow
def test_a_record_against_its_copy_with_a_widened_qrs(ludb_dir) -> None:  # type: ignore[no-untyped-def]
    from ecgread.integration import ludb
    from ecgread.models.analysis import AnalysisConfig, analyze

    rid = 1
    ecg = ludb.read_record(rid)
    qrs = [(w.onset_s, w.offset_s) for w in ludb.expert_waves(rid)["II"] if w.type == "QRS"]
    assert len(qrs) >= 5
    config = AnalysisConfig(delineator="dsp")
    before = analyze(ecg, config)
    after = analyze(_widened(ecg, qrs, 0.06), config)
    prior = SerialInput(before.measurements, before.statements)
    now = SerialInput(after.measurements, after.statements)
    assert before.measurements.qrs_ms is not None and after.measurements.qrs_ms is not None
    assert after.measurements.qrs_ms - before.measurements.qrs_ms > 20.0
    codes = [s.code for s in compare_serial(now, prior)]
    assert "SERIAL_QRS_WIDER" in codes
    assert "SERIAL_RATE_UP" not in codes and "SERIAL_RATE_DOWN" not in codes
    assert [s.code for s in compare_serial(prior, prior)] == ["SERIAL_NO_CHANGE"]
    print(f"LUDB {rid}: QRS {before.measurements.qrs_ms:.0f} -> "
          f"{after.measurements.qrs_ms:.0f} ms; serial: {codes}")

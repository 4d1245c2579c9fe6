"""The measurement catalogue, and that the criteria and the ORU flags agree with it.

The agreement tests run the real criteria engine (:func:`models.interpret.interpret`) and
the real ORU builder on hand-built analyses whose measurement sits on each side of a
catalogue limit, and check that a statement fires exactly where the ORU flags the value.
The values are whole numbers, so the reported (rounded) value the ORU flags is the value
the criteria judge; within 0.5 of a limit the two can differ (the ORU flags what it
reports).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ecgread.config.settings import load_settings
from ecgread.models.catalogue import (
    CATALOGUE,
    LOCAL_SYSTEM,
    MEASUREMENT_NAMES,
    Limit,
    Measurement,
    Range,
    Unit,
    get,
    limit,
    normal_range,
)
from ecgread.models.interpret import check_evidence, interpret
from ecgread.models.interpret.evidence import holds
from ecgread.models.results import GlobalMeasurements, Statement
from ecgread.reporting.context import ReportContext
from ecgread.reporting.oru import MEASUREMENTS, build_oru
from tests.interpret_factory import make_analysis

SETTINGS = load_settings({}, environ={})
#: DESIGN.md: the LOINC codes the ORU must carry.
DESIGN_LOINC = {"heart_rate_bpm": "8867-4", "pr_ms": "8625-6", "qrs_ms": "8633-0",
                "qt_ms": "8634-8", "qtc_bazett_ms": "8636-3", "p_axis_deg": "8626-4",
                "qrs_axis_deg": "8632-2", "t_axis_deg": "8638-9"}
_UNIT_OF_SUFFIX = {"_ms": "ms", "_bpm": "{beats}/min", "_deg": "deg"}


def _read(sex: str | None = "M", **kw: Any) -> tuple[dict[str, Statement], dict[str, str],
                                                      dict[str, str], tuple[str, ...]]:
    """(statements by code, OBX-8 flag by measurement, OBX-7 range by measurement, notes)
    of one hand-built analysis, read by the criteria engine and sent as an ORU."""
    a = make_analysis(sex=sex, **kw)
    statements, notes = interpret(a)
    for s in statements:
        assert check_evidence(s, a) == [], s.code
    a = dataclasses.replace(a, statements=statements, notes=notes)
    msg = build_oru(a, ReportContext(patient_id="P1", patient_sex=sex), b"%PDF-1.4",
                    SETTINGS, "T1")
    by_code = {m.code.code: m.name for m in MEASUREMENTS if m.code}
    flags, ranges = {}, {}
    for seg in msg.split("\r"):
        f = seg.split("|")
        if f[0] == "OBX" and f[2] == "NM":
            name = by_code[f[3].split("^")[0]]
            flags[name], ranges[name] = f[8], f[7]
    return {s.code: s for s in statements}, flags, ranges, notes


# --- the catalogue itself -------------------------------------------------------------

def test_catalogue_is_the_json_contract() -> None:
    fields = [f.name for f in dataclasses.fields(GlobalMeasurements) if f.name != "unmeasured"]
    assert list(MEASUREMENT_NAMES) == fields
    for m in CATALOGUE:
        suffix = "_" + m.name.rsplit("_", 1)[1]
        assert m.unit.ucum == _UNIT_OF_SUFFIX[suffix], m.name
        assert get(m.name) is m
    assert {m.name: m.code.code for m in CATALOGUE
            if m.code and m.code.system == "LN"} == DESIGN_LOINC
    assert {m.code.code for m in CATALOGUE if m.code and m.code.system == LOCAL_SYSTEM} == {
        "QTCF", "QTCFRAM"}


def _limits(m: Measurement) -> list[Limit]:
    ranges = [r for r in (m.normal, *(r for _, r in m.normal_by_sex)) if r]
    return ([lim for r in ranges for lim in (r.low, r.high) if lim]
            + [lim for lim in (m.critical_low, m.critical_high) if lim]
            + [lim for _, lim in m.limits])


@pytest.mark.parametrize("m", CATALOGUE, ids=lambda m: m.name)
def test_limits_say_in_the_evidence_grammar_what_they_test(m: Measurement) -> None:
    for lim in _limits(m):
        assert lim.source, (m.name, lim)
        for v in (lim.threshold + d for d in (-1.0, -0.5, 0.0, 0.5, 1.0)):
            assert holds(lim.criterion, v) == lim.beyond(v), (m.name, lim, v)
            assert holds(lim.within, v) == (not lim.beyond(v)), (m.name, lim, v)
    for r in (m.normal, *(r for _, r in m.normal_by_sex)):
        if r is None or r.low is None or r.high is None:
            continue
        for t in (r.low.threshold, r.high.threshold):
            for v in (t - 1.0, t - 0.5, t, t + 0.5, t + 1.0):
                assert holds(r.criterion, v) == r.contains(v), (m.name, v)


def test_limit_lookup_and_malformed_limits() -> None:
    assert limit("qtc_framingham_ms", "high", "M").criterion == ">= 450"
    assert limit("qtc_framingham_ms", "high", None) == limit("qtc_framingham_ms", "high", "F")
    assert limit("qrs_axis_deg", "low").band(-90) == "in [-90, -30)"
    assert normal_range("heart_rate_bpm").criterion == "in [60, 100]"
    with pytest.raises(KeyError):
        limit("qt_ms", "high")
    with pytest.raises(KeyError):
        normal_range("t_axis_deg")
    with pytest.raises(ValueError):
        Limit("=>", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Range(Limit(">", 1.0), None)
    with pytest.raises(ValueError):
        Range(Limit("<", 200.0), Limit(">", 100.0))
    with pytest.raises(ValueError):  # a critical limit inside the normal range
        Measurement("x_ms", "X", "X", Unit("ms", "millisecond", "ms"),
                    normal=Range(Limit("<", 100.0), Limit(">", 200.0)),
                    critical_high=Limit(">", 150.0))


# --- criteria and ORU flags agree ------------------------------------------------------

@pytest.mark.parametrize("pr", [119, 120, 200, 201])
def test_pr_flags_where_first_degree_av_block_and_short_pr_fire(pr: int) -> None:
    out, flags, ranges, _ = _read(meas={"pr_ms": pr})
    high, low = limit("pr_ms", "high"), limit("pr_ms", "low")
    assert ("1AVB" in out) == (flags["pr_ms"] == "H") == high.beyond(pr)
    assert ("SHORT_PR" in out) == (flags["pr_ms"] == "L") == low.beyond(pr)
    if "1AVB" in out:
        assert out["1AVB"].evidence[0].criterion == high.criterion == "> 200"
    assert ranges["pr_ms"] == "120-200"


@pytest.mark.parametrize("rate", [39, 40, 59, 60, 100, 101, 150, 151])
def test_rate_flags_where_the_rate_statements_fire(rate: int) -> None:
    out, flags, ranges, _ = _read(meas={"heart_rate_bpm": rate, "rr_ms": 60000 / rate})
    flag = flags["heart_rate_bpm"]
    assert ("SBRAD" in out) == (flag in ("L", "LL"))
    assert ("STACH" in out) == (flag in ("H", "HH"))
    assert ("SR" in out) == (flag == "N") == normal_range("heart_rate_bpm").contains(rate)
    assert ("HR_LT40" in out) == (flag == "LL") == limit("heart_rate_bpm",
                                                          "critical_low").beyond(rate)
    assert ("HR_GT150" in out) == (flag == "HH") == limit("heart_rate_bpm",
                                                           "critical_high").beyond(rate)
    assert ranges["heart_rate_bpm"] == "60-100"


@pytest.mark.parametrize("qrs", [110, 111, 119, 120])
def test_qrs_flags_where_ivcd_fires_and_wide_qrs_stops_the_qt_reading(qrs: int) -> None:
    out, flags, ranges, notes = _read(meas={"qrs_ms": qrs})
    assert ("IVCD" in out) == (flags["qrs_ms"] == "H") == limit("qrs_ms", "high").beyond(qrs)
    wide = limit("qrs_ms", "wide")
    assert any(n.startswith("QTc not interpreted") for n in notes) == wide.beyond(qrs)
    assert ranges["qrs_ms"] == "0-110"


@pytest.mark.parametrize("sex", ["M", "F", None])
@pytest.mark.parametrize("qtc", [360, 361, 449, 450, 459, 460, 499, 500])
def test_qtc_flags_where_the_qt_statements_fire(qtc: int, sex: str | None) -> None:
    rr_ms = 833.3
    # the per-lead median QTc (from the waves) must confirm too: put it just past the
    # global QTc on the side away from the normal range's middle, so the global one decides
    median = qtc + (0.3 if qtc > 400 else -0.3)
    qt_s = (median - 154.0 * (1.0 - rr_ms / 1000.0)) / 1000.0
    out, flags, ranges, _ = _read(sex=sex, meas={"qtc_framingham_ms": qtc, "rr_ms": rr_ms},
                                  qt_s=qt_s)
    flag = flags["qtc_framingham_ms"]
    assert ("QTC_GE500" in out) == (flag == "HH")
    assert ("LONG_QT" in out) == (flag == "H")
    assert ("SHORT_QT" in out) == (flag == "L")
    assert ("LONG_QT" in out or "QTC_GE500" in out) == limit(
        "qtc_framingham_ms", "high", sex).beyond(qtc)
    assert ranges["qtc_framingham_ms"] == ("361-449" if sex == "M" else "361-459")


@pytest.mark.parametrize("axis", [-91, -90, -31, -30, 90, 91, 180])
def test_qrs_axis_flags_where_the_axis_deviations_fire(axis: int) -> None:
    out, flags, ranges, _ = _read(meas={"qrs_axis_deg": axis})
    assert ("LAD" in out or "EXTREME_AXIS" in out) == (flags["qrs_axis_deg"] == "L")
    assert ("RAD" in out) == (flags["qrs_axis_deg"] == "H")
    assert ranges["qrs_axis_deg"] == "-30-90"


@pytest.mark.parametrize("axis", [-31, -30, 100, 101])
def test_p_axis_flags_where_the_sinus_p_axis_ends(axis: int) -> None:
    out, flags, _, _ = _read(meas={"p_axis_deg": axis})
    cited = any(e.measurement == "p_axis_deg" for e in out["SR"].evidence)
    assert cited == (flags["p_axis_deg"] == "N") == normal_range("p_axis_deg").contains(axis)

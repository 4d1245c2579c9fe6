"""The criteria grammar, the evidence checker, contradiction resolution and overall statements."""

from __future__ import annotations

import dataclasses

import pytest

from ecgread.models.interpret import INTERPRET_VERSION, check_evidence, interpret
from ecgread.models.interpret.evidence import CriterionError, holds, parse
from ecgread.models.interpret.library import CRITICAL_CODES, LIBRARY
from ecgread.models.interpret.resolve import EXCLUDES
from ecgread.models.results import Evidence, Statement
from tests.interpret_factory import make_analysis


@pytest.mark.parametrize(("criterion", "value", "expected"), [
    ("> 200", 232.0, True), ("> 200", 200.0, False), (">= 2.5", 2.5, True),
    ("< 40", 39.9, True), ("<= -100", -100.0, True), ("== 0", 0.0, True), ("!= 1", 0.0, True),
    ("in [-30, 90]", -30.0, True), ("in [-30, 90]", 91.0, False), ("in (90, 180]", 90.0, False),
    ("in [-90, -30)", -30.0, False), ("not in [-30, 100]", 120.0, True),
    ("not in [-30, 100]", 50.0, False), ("in {M, F}", "F", True), ("== M", "F", False),
    ("is null", None, True), ("is not null", 3.0, True), ("> 200", None, False),
    ("not in [0, 1]", None, False), ("> 1e3", 1500.0, True),
])
def test_grammar(criterion: str, value: float | str | None, expected: bool) -> None:
    assert holds(criterion, value) is expected


@pytest.mark.parametrize("bad", ["about 200", "> ", "in [3, 1]", "between 1 and 2", ">> 3"])
def test_grammar_rejects(bad: str) -> None:
    with pytest.raises(CriterionError):
        parse(bad)


def test_checker_catches_wrong_value_criterion_lead_and_span() -> None:
    a = make_analysis(meas={"pr_ms": 240})
    good = Statement("1AVB", "x", "conduction", "definite",
                     (Evidence("pr_ms", 240.0, "> 200", ("II",), ((1.0, 1.2),)),))
    assert check_evidence(good, a) == []
    cases = [
        Evidence("pr_ms", 250.0, "> 200", ("II",)),  # value differs from the analysis
        Evidence("pr_ms", 240.0, "> 300", ("II",)),  # criterion not met
        Evidence("pr_ms", 240.0, "> 200", ("V9",)),  # no such lead
        Evidence("pr_ms", 240.0, "> 200", ("II",), ((9.5, 10.5),)),  # outside the record
        Evidence("pr_msec", 240.0, "> 200"),  # unknown measurement
        Evidence("pr_ms", 240.0, "roughly 200"),  # not in the grammar
    ]
    for ev in cases:
        assert check_evidence(dataclasses.replace(good, evidence=(ev,)), a), ev
    assert check_evidence(dataclasses.replace(good, evidence=()), a) == ["1AVB: no evidence"]


def test_checker_recomputes_derived_and_per_lead_values() -> None:
    a = make_analysis(amps={"V1": {"s_uv": -2500}, "V5": {"r_uv": 1500}})
    st = Statement("LVH", "x", "hypertrophy", "possible",
                   (Evidence("sokolow_lyon_uv", 4000.0, ">= 3500"),
                    Evidence("V5.r_uv", 1500.0, ">= 1000", ("V5",))))
    assert check_evidence(st, a) == []
    wrong = dataclasses.replace(st, evidence=(Evidence("sokolow_lyon_uv", 3600.0, ">= 3500"),))
    assert check_evidence(wrong, a)


def test_contradictions_are_resolved() -> None:
    # every pair in EXCLUDES is never emitted together, checked over a few tricky inputs
    rr = [600, 900, 700, 1100, 650, 980, 720, 1000, 640, 870, 760]
    inputs = [
        make_analysis(rr_ms=rr, p_waves=False, meas={"pr_ms": 240, "p_ms": 130}),
        make_analysis(meas={"qrs_ms": 150}, paced=[True] * 11, kinds=["paced"] * 11),
    ]
    for a in inputs:
        codes = {s.code for s in interpret(a)[0]}
        for code in codes:
            assert not (EXCLUDES.get(code, set()) & codes), (code, codes)
        assert not ({"SR", "SBRAD", "STACH"} & codes and "AF" in codes)


def test_one_primary_rhythm_and_one_overall() -> None:
    for kw in ({}, {"meas": {"heart_rate_bpm": 45, "rr_ms": 1333}}, {"p_waves": False}):
        st = interpret(make_analysis(**kw))[0]
        rhythms = [s for s in st if s.code in {"SR", "SBRAD", "STACH", "AF", "AFL", "SVT",
                                                "JUNCT", "ACC_JUNCT", "EAR", "VT"}]
        assert len(rhythms) <= 1
        assert sum(s.category == "overall" for s in st) <= 1


def test_overall_statements() -> None:
    def overall(**kw):  # type: ignore[no-untyped-def]
        return [s.code for s in interpret(make_analysis(**kw))[0] if s.category == "overall"]
    assert overall() == ["NORMAL"]
    assert overall(meas={"heart_rate_bpm": 52, "rr_ms": 1154}) == ["OTHERWISE_NORMAL"]
    assert overall(meas={"pr_ms": 230}) == ["BORDERLINE"]
    assert overall(meas={"qrs_ms": 150}, amps={
        "V1": {"r_uv": 100, "s_uv": -1500, "qrs_area_uv_ms": -40000},
        "V6": {"s_uv": None, "q_uv": None, "r_peak_time_ms": 90}}) == ["ABNORMAL"]


def test_poor_quality_says_so_instead_of_guessing() -> None:
    a = make_analysis(usable=False, meas={"pr_ms": 260, "qrs_ms": 150})
    st, _ = interpret(a)
    assert [s.code for s in st] == ["UNINTERPRETABLE"]
    assert st[0].evidence[0].measurement == "quality_usable"
    assert check_evidence(st[0], a) == []
    undetermined = interpret(make_analysis(meas={"heart_rate_bpm": None, "rr_ms": None}))[0]
    assert "RHYTHM_UNDETERMINED" in {s.code for s in undetermined}
    assert not {"SR", "AF"} & {s.code for s in undetermined}


def test_limb_reversal_suppresses_axis_statements() -> None:
    a = make_analysis(meas={"qrs_axis_deg": 150.0}, quality_problems=(
        "suspected limb lead reversal (LA/RA): lead I inverted, aVR upright",))
    codes = {s.code for s in interpret(a)[0]}
    assert "LIMB_REVERSAL" in codes and "RAD" not in codes


def test_critical_flags_come_from_the_library() -> None:
    assert CRITICAL_CODES == {"VT", "NSVT", "HR_LT40", "HR_GT150", "3AVB", "STEMI_ANT",
                              "STEMI_INF", "STEMI_LAT", "STEMI_SGARB", "QTC_GE500"}
    st = interpret(make_analysis(meas={"heart_rate_bpm": 30, "rr_ms": 2000}))[0]
    assert all(s.critical == LIBRARY[s.code].critical for s in st)
    assert any(s.critical for s in st)


def test_sex_unknown_note_names_the_rule() -> None:
    _, notes = interpret(make_analysis(sex=None))
    assert any("sex unknown" in n and "STEMI" in n for n in notes)
    assert any("sex unknown" in n and "QTc" in n for n in notes)
    _, notes_known = interpret(make_analysis(sex="F"))
    assert not any("sex unknown" in n for n in notes_known)


def test_library_is_consistent() -> None:
    assert INTERPRET_VERSION
    for code, entry in LIBRARY.items():
        assert entry.code == code and entry.text
    for code, excluded in EXCLUDES.items():
        assert code in LIBRARY and excluded <= LIBRARY.keys()

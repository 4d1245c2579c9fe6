"""Property: every emitted statement's evidence holds against its own analysis.

Over many random hand-built analyses (Hypothesis), seeded synthetic ECGs through the real
pipeline, and a few LUDB records (skipped without ../shared/data/ludb). ``interpret`` drops a
statement whose evidence fails and says so in a note; the property is that this never
happens, so the rules build only evidence that checks.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecgread.models.analysis import Analysis, analyze
from ecgread.models.ecg import STANDARD_LEADS
from ecgread.models.interpret import check_evidence, interpret
from ecgread.models.interpret.resolve import EXCLUDES
from tests.interpret_factory import NORMAL_MEAS, make_analysis
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg


def assert_grounded(a: Analysis) -> None:
    statements, notes = interpret(a)
    assert not [n for n in notes if "withheld" in n], notes
    codes = {s.code for s in statements}
    for s in statements:
        assert s.evidence, s.code
        assert check_evidence(s, a) == [], (s.code, check_evidence(s, a))
        assert not EXCLUDES.get(s.code, set()) & codes, (s.code, codes)
    assert sum(s.category == "overall" for s in statements) <= 1


maybe = lambda strat: st.one_of(st.none(), strat)  # noqa: E731
amp_fields = st.fixed_dictionaries({}, optional={
    "p_uv": maybe(st.floats(-400, 400)), "q_uv": maybe(st.floats(-800, 0)),
    "r_uv": maybe(st.floats(0, 4000)), "s_uv": maybe(st.floats(-4000, 0)),
    "r_prime_uv": maybe(st.floats(0, 1500)), "j_uv": maybe(st.floats(-400, 500)),
    "st_j60_uv": maybe(st.floats(-400, 500)), "t_uv": maybe(st.floats(-800, 1200)),
    "p_prime_uv": maybe(st.floats(-300, 300)), "r_peak_time_ms": maybe(st.floats(10, 120)),
    "qrs_area_uv_ms": maybe(st.floats(-60000, 60000)), "q_ms": maybe(st.floats(0, 60))})
meas = st.fixed_dictionaries({}, optional={
    "heart_rate_bpm": maybe(st.floats(25, 220)), "pr_ms": maybe(st.floats(60, 400)),
    "p_ms": maybe(st.floats(40, 180)), "qrs_ms": maybe(st.floats(60, 220)),
    "qtc_framingham_ms": maybe(st.floats(300, 620)), "p_axis_deg": maybe(st.floats(-180, 180)),
    "qrs_axis_deg": maybe(st.floats(-180, 180))})


@st.composite
def analyses(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(3, 16))
    rr = draw(st.lists(st.floats(280, 1800), min_size=n, max_size=n))
    kinds = draw(st.lists(st.sampled_from(["dominant"] * 6 + ["ventricular",
                                           "supraventricular", "paced"]),
                          min_size=n + 1, max_size=n + 1))
    m = draw(meas)
    m.setdefault("rr_ms", sum(rr) / len(rr))
    if m.get("heart_rate_bpm") is None and "heart_rate_bpm" in m:
        m["rr_ms"] = None
    return make_analysis(
        meas={**NORMAL_MEAS, **m},
        amps={ld: draw(amp_fields) for ld in STANDARD_LEADS},
        rhythm=draw(st.fixed_dictionaries({}, optional={
            "p_wave_ratio": maybe(st.floats(0, 1)),
            "pr_intervals_ms": st.lists(st.floats(40, 400), max_size=12).map(tuple),
            "flutter_wave_rate_bpm": maybe(st.floats(150, 400))})),
        rr_ms=rr, kinds=kinds,
        paced=draw(st.sampled_from([
            [False] * (n + 1), [True] * (n + 1), [i % 3 == 0 for i in range(n + 1)]])),
        sex=draw(st.sampled_from(["M", "F", None, "O"])),
        age=draw(maybe(st.floats(15, 95))), usable=draw(st.sampled_from([True] * 6 + [False])),
        p_waves=draw(st.sampled_from([True, True, False])),
        duration_s=draw(st.sampled_from([10.0, 6.0, 12.5])),
        spikes_s=tuple(draw(st.lists(st.floats(0, 6), max_size=6, unique=True))),
        qt_s=draw(st.floats(0.28, 0.6)),
        quality_problems=draw(st.sampled_from([(), (), (), ("suspected limb lead reversal (LA/RA): "
                                                    "lead I inverted, aVR upright",)])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(analyses())
def test_every_statement_is_grounded_on_random_analyses(a: Analysis) -> None:
    assert_grounded(a)


@pytest.mark.parametrize("kw", [
    {}, {"rate_bpm": 45}, {"rate_bpm": 130}, {"af": True}, {"wide_qrs": True},
    {"paced": True}, {"noise_uv": 40.0, "wander_uv": 300.0}, {"flat_lead": "V2"},
    {"rate_bpm": 180, "wide_qrs": True}, {"fs": 250.0}, {"duration_s": 3.0},
])
def test_every_statement_is_grounded_on_synthetic_ecgs(kw: dict[str, object]) -> None:
    a = analyze(synthetic_ecg(seed=7, **kw).ecg, models=shipped_models())  # type: ignore[arg-type]
    assert a.statements or not a.quality.usable
    assert_grounded(a)
    assert all(check_evidence(s, a) == [] for s in a.statements)


def test_synthetic_rhythms_are_read_correctly() -> None:
    sinus = {s.code for s in analyze(synthetic_ecg(seed=3).ecg, models=shipped_models()).statements}
    assert "SR" in sinus and "AF" not in sinus
    af = {s.code for s in analyze(synthetic_ecg(seed=3, af=True).ecg,
                                     models=shipped_models()).statements}
    assert "AF" in af and not {"SR", "SBRAD", "STACH"} & af


@pytest.mark.ludb
def test_every_statement_is_grounded_on_ludb_records(ludb_dir: object) -> None:
    from ecgread.integration import ludb

    for rid in ludb.record_ids()[:8]:
        a = analyze(ludb.read_record(rid), models=shipped_models())
        assert a.statements, rid
        assert_grounded(a)

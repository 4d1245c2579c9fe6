"""A tremor at a limb electrode is not atrial flutter (models/atrial.py): a 4-6 Hz
oscillation lies in the flutter band, but an artefact at any limb electrode reaches V1-V6
alike through the Wilson central terminal, while flutter waves differ from lead to lead.
(Synthetic flutter, whose V2-V6 carry one sawtooth, still reads flutter:
test_rhythm_synthetic.)"""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.integration import ludb
from ecgread.models import augment
from ecgread.models.analysis import analyze
from ecgread.models.atrial import (
    AV_DISSOCIATED_BELOW,
    precordial_common_mode,
)
from ecgread.models.limb_artefact import AFFECTED, LIMB_ARTEFACT_PROBLEM, away_from_electrode
from ecgread.models.rhythm import P_HIDDEN_NOISE_RATIO
from tests.neural_helpers import shipped_models
from tests.synthetic_rhythm import synthetic_rhythm


def test_common_mode_share_of_identical_and_independent_leads() -> None:
    fs = 500.0
    t = np.arange(5000) / fs
    keep = np.ones(t.size, bool)
    rng = np.random.default_rng(0)
    same = np.tile(np.sin(2 * np.pi * 4.6 * t), (6, 1)) + 0.05 * rng.normal(size=(6, t.size))
    assert precordial_common_mode(same, keep, fs, 276.0) > 0.95
    independent = rng.normal(size=(6, t.size))
    assert precordial_common_mode(independent, keep, fs, 276.0) < 0.3


@pytest.mark.ludb
@pytest.mark.parametrize(("record", "electrode"), [(156, "LA"), (156, "LL"), (148, "RA")])
def test_limb_tremor_on_sinus_rhythm_is_no_flutter(record: int, electrode: str) -> None:
    # before the common-mode test these copies read atrial flutter at 273-280 /min; once
    # the artefact's electrode is named, its limb leads take no part in the rhythm and the
    # chest leads are referred away from it, so no flutter-band activity is left to explain
    ecg = augment.add_limb_tremor(ludb.read_record(record), electrode, 150.0, 4.6)
    a = analyze(ecg, models=shipped_models())
    assert "AFL" not in {s.code for s in a.statements}
    assert a.rhythm.flutter_wave_rate_bpm is None
    assert any("electrode (tremor or poor contact)" in p for p in a.quality.problems)


@pytest.mark.ludb
def test_limb_tremor_with_no_electrode_named_is_no_flutter() -> None:
    # tremors of their own frequency at two electrodes (in step, two electrodes' tremors
    # would be one at the third): not one electrode's pattern, so every lead keeps them,
    # and the flutter-band activity common to V1-V6 is what says artefact
    ecg = augment.add_limb_tremor(ludb.read_record(156), "LA", 150.0, 4.6)
    ecg = augment.add_limb_tremor(ecg, "LL", 150.0, 5.3)
    a = analyze(ecg, models=shipped_models())
    assert "AFL" not in {s.code for s in a.statements}
    assert not any(LIMB_ARTEFACT_PROBLEM in q.problems for q in a.quality.leads)


def test_chest_leads_referred_away_from_an_electrode_lose_its_artefact() -> None:
    # electrode potentials of a made-up heart, leads built as a cart builds them, and an
    # artefact added at one electrode: the chest leads referred away from that electrode
    # are free of it, and equal the clean record's chest leads referred the same way
    rng = np.random.default_rng(4)
    n = 2000
    ra, la, ll = (np.cumsum(rng.normal(size=n)) for _ in range(3))
    chest = np.cumsum(rng.normal(size=(6, n)), axis=1)
    names = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

    def leads(ra: np.ndarray, la: np.ndarray, ll: np.ndarray) -> np.ndarray:
        wct = (ra + la + ll) / 3.0
        limb = [la - ra, ll - ra, ll - la, ra - (la + ll) / 2, la - (ra + ll) / 2,
                ll - (ra + la) / 2]
        return np.vstack([*limb, chest - wct])

    tremor = 150.0 * np.sin(np.arange(n) * 2 * np.pi * 4.6 / 500.0)
    for electrode in ("RA", "LA", "LL"):
        moved = {"RA": ra, "LA": la, "LL": ll}
        moved[electrode] = moved[electrode] + tremor
        noisy = leads(moved["RA"], moved["LA"], moved["LL"])
        clean = leads(ra, la, ll)
        away = away_from_electrode(noisy, names, electrode)
        np.testing.assert_allclose(away[6:], away_from_electrode(clean, names, electrode)[6:],
                                   atol=1e-9)
        others = {"RA": (la, ll), "LA": (ra, ll), "LL": (ra, la)}[electrode]
        np.testing.assert_allclose(away[6:], chest - (others[0] + others[1]) / 2, atol=1e-9)
        np.testing.assert_array_equal(away[:6], noisy[:6])
    chest_only = noisy[6:]  # without aVL the chest leads cannot be referred away from LA
    assert away_from_electrode(chest_only, names[6:], "LA") is chest_only


@pytest.mark.ludb
@pytest.mark.parametrize(("record", "electrode"), [(79, "LA"), (79, "RA"), (114, "RA"),
                                                   (148, "RA"), (156, "RA")])
def test_limb_tremor_keeps_sinus_rhythm_and_its_pr(record: int, electrode: str) -> None:
    # a third of the tremor entered V1-V6 through Wilson's terminal and hid their P waves:
    # with the artefact's limb leads set aside, lead II (or III) alone could not vote the
    # P waves in, and sinus rhythm read "undetermined" without a PR (LUDB 79, 114, 148,
    # 156, CPSC A1980); with the chest leads referred away from the electrode, each keeps
    # its rhythm and a PR (within 20 ms: LUDB's leads are each rescaled, so the third of aVR
    # added to V1-V6 is not the one a recording would add, and LUDB 79's PR moved 17 ms)
    record_ecg = ludb.read_record(record)
    before = analyze(record_ecg, models=shipped_models())
    a = analyze(augment.add_limb_tremor(record_ecg, electrode, 150.0, 4.6),
                models=shipped_models())
    assert augment.rhythm_families(a) == augment.rhythm_families(before) == {"sinus"}
    assert before.measurements.pr_ms is not None and a.measurements.pr_ms is not None
    assert abs(a.measurements.pr_ms - before.measurements.pr_ms) <= 20


@pytest.mark.ludb
def test_flutter_records_keep_their_flutter() -> None:
    for record in (35, 52):  # LUDB's two atrial flutter records
        a = analyze(ludb.read_record(record), models=shipped_models())
        assert "AFL" in {s.code for s in a.statements}
        assert (a.rhythm.flutter_common_mode or 0.0) < 0.5



@pytest.mark.ludb
def test_left_leg_tremor_is_no_av_dissociation() -> None:
    # the tremor fills II, III and aVF (and a third of it V1): their atrial waves no longer
    # kept their place before the QRS, and sinus bradycardia read complete AV block; lead I,
    # clean under a left-leg artefact, shows the P waves locked to the QRS
    ecg = augment.add_limb_tremor(ludb.read_record(28), "LL", 150.0, 4.6)
    a = analyze(ecg, models=shipped_models())
    assert "3AVB" not in {s.code for s in a.statements}
    assert (a.rhythm.av_phase_locking or 0.0) >= AV_DISSOCIATED_BELOW


@pytest.mark.ludb
def test_tremor_in_the_p_windows_names_no_ectopic_atrial_rhythm() -> None:
    # tremors at two electrodes (no limb lead clean: not one electrode's artefact, so every
    # lead keeps it): the median P wave of II and the P axis followed the artefact and
    # sinus rhythm read ectopic atrial; P windows that scatter by 1 % of the QRS or more
    # give no P-axis rhythm
    ecg = augment.add_limb_tremor(ludb.read_record(131), "LA", 150.0, 4.6)
    ecg = augment.add_limb_tremor(ecg, "LL", 150.0, 5.3)
    a = analyze(ecg, models=shipped_models())
    codes = {s.code for s in a.statements}
    assert not codes & {"EAR", "AT"}
    assert codes & {"SR", "SBRAD", "STACH"}
    assert (a.rhythm.p_window_noise_ratio or 0.0) >= P_HIDDEN_NOISE_RATIO
    assert any("not read as an ectopic atrial rhythm" in n for n in a.notes)


@pytest.mark.parametrize("kind", ["sinus", "af"])
@pytest.mark.parametrize("electrode", ["LA", "RA", "LL"])
def test_limb_artefact_is_found_with_its_electrode(kind: str, electrode: str) -> None:
    ecg = synthetic_rhythm(kind, seed=1).ecg  # type: ignore[arg-type]
    a = analyze(augment.add_limb_tremor(ecg, electrode, 150.0, 4.6), models=shipped_models())
    flagged = {q.lead for q in a.quality.leads if LIMB_ARTEFACT_PROBLEM in q.problems}
    assert flagged == set(AFFECTED[electrode])
    side = {"LA": "left-arm", "RA": "right-arm", "LL": "left-leg"}[electrode]
    assert any(f"at the {side} electrode" in p for p in a.quality.problems)
    clean = analyze(ecg, models=shipped_models())
    assert not any(LIMB_ARTEFACT_PROBLEM in q.problems for q in clean.quality.leads)


@pytest.mark.ludb
def test_left_leg_tremor_leaves_the_intervals_and_the_qrs_statements() -> None:
    # the tremor, kept in the median beat of II, III and aVF, widened the QRS 98 -> 138 ms
    # and read LBBB with a Sgarbossa STEMI; measured away from those leads it is 94 ms
    record = ludb.read_record(62)
    before = analyze(record, models=shipped_models())
    a = analyze(augment.add_limb_tremor(record, "LL", 150.0, 4.6), models=shipped_models())
    codes = {s.code for s in a.statements}
    assert not codes & {"LBBB", "STEMI_SGARB", "IVCD"}
    assert before.measurements.qrs_ms is not None and a.measurements.qrs_ms is not None
    assert abs(a.measurements.qrs_ms - before.measurements.qrs_ms) <= 12
    assert "II" not in a.waves and "I" in a.waves
    # the P and T axes come from the leads that time the intervals: with lead I the only
    # clean limb lead they are not measured (the artefact's leads read a P axis of -81 deg)
    assert a.measurements.p_axis_deg is None and a.measurements.t_axis_deg is None
    assert "limb leads" in a.measurements.unmeasured["p_axis_deg"]

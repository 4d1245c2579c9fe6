"""Limb leads an ECG lacks are derived from two it has (``models.ecg.with_derived_limb_leads``):
Einthoven's and Goldberger's equations, the derived leads take the faults of the two, and the
read says which leads it derived."""

from __future__ import annotations

import numpy as np

from ecgread.models import augment
from ecgread.models.analysis import analyze
from ecgread.models.dsp_config import AnalysisConfig
from ecgread.models.ecg import Ecg, with_derived_limb_leads
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg

_ECG = synthetic_ecg(rate_bpm=64, fs=500.0, duration_s=10.0, seed=2).ecg


def test_derived_leads_follow_einthoven_and_goldberger() -> None:
    two = augment.keep_leads(_ECG, ("V1", "I", "II", "V5"))
    out, derived, pair = with_derived_limb_leads(two)
    assert derived == ("III", "aVR", "aVL", "aVF") and pair == ("I", "II")
    assert out.lead_names == ("V1", "I", "II", "III", "aVR", "aVL", "aVF", "V5")
    i, ii = out.lead("I"), out.lead("II")
    np.testing.assert_allclose(out.lead("III"), ii - i, atol=1e-3)
    np.testing.assert_allclose(out.lead("aVR"), -(i + ii) / 2, atol=1e-3)
    np.testing.assert_allclose(out.lead("aVL"), i - ii / 2, atol=1e-3)
    np.testing.assert_allclose(out.lead("aVF"), ii - i / 2, atol=1e-3)
    np.testing.assert_array_equal(out.lead("V5"), two.lead("V5"))  # recorded leads as given


def test_nothing_derived_from_one_limb_lead_or_when_all_are_recorded() -> None:
    for ecg in (_ECG, augment.keep_leads(_ECG, ("II", "V2")),
                augment.keep_leads(_ECG, ("I", "V1"))):
        out, derived, pair = with_derived_limb_leads(ecg)
        assert derived == () == pair and out is ecg
    out, derived, _ = with_derived_limb_leads(augment.keep_leads(_ECG, ("I", "II", "aVF")))
    assert derived == ("III", "aVR", "aVL")
    np.testing.assert_array_equal(out.lead("aVF"), _ECG.lead("aVF"))  # the recorded one kept


def test_any_two_limb_leads_give_the_other_four() -> None:
    """II and III (a monitoring export) give I = II - III and the augmented leads; so does
    any other pair, e.g. aVL and aVF."""
    leads = _einthoven(_ECG)
    for pair in (("II", "III"), ("aVL", "aVF"), ("I", "aVR")):
        out, derived, used = with_derived_limb_leads(augment.keep_leads(leads, pair + ("V1",)))
        assert used == pair and set(derived) | set(pair) == {"I", "II", "III", "aVR", "aVL",
                                                               "aVF"}
        for name in derived:
            np.testing.assert_allclose(out.lead(name), leads.lead(name), atol=0.05)


def _einthoven(ecg: Ecg) -> Ecg:
    """``ecg`` with III and the augmented leads recomputed from its I and II, so that its
    limb leads obey Einthoven's law (the synthetic generator gives each lead its own gain)."""
    keep = augment.keep_leads(ecg, ("I", "II", "V1"))
    out, _, _ = with_derived_limb_leads(keep)
    return out


def test_a_derived_lead_takes_the_faults_of_i_and_ii() -> None:
    """Lead I flat: III, aVR, aVL and aVF would be copies of II that look clean."""
    flat = augment.flatten_lead(augment.keep_leads(_ECG, ("I", "II", "V1", "V2", "V3", "V4",
                                                        "V5", "V6")), "I")
    a = analyze(flat, AnalysisConfig(delineator="dsp"))
    by_lead = {lq.lead: lq for lq in a.quality.leads}
    assert not by_lead["I"].usable
    for name in ("III", "aVR", "aVL", "aVF"):
        assert not by_lead[name].usable and "flat" in by_lead[name].problems, name
    assert by_lead["II"].usable and by_lead["V2"].usable


def test_qrs_from_i_and_ii_alone_keeps_the_twelve_lead_width() -> None:
    """Two frontal projections missed the QRS's start and end: 14-20 ms shorter on 16 of 18
    synthetic ECGs, and on 21 of the 30 LUDB and CPSC records of ``bench.invariance``."""
    models = shipped_models()
    full = analyze(_ECG, models=models)
    two = analyze(augment.keep_leads(_ECG, ("I", "II")), models=models)
    assert two.ecg.lead_names == ("I", "II", "III", "aVR", "aVL", "aVF")
    assert any("derived from I and II" in n for n in two.notes)
    assert full.measurements.qrs_ms is not None and two.measurements.qrs_ms is not None
    assert abs(two.measurements.qrs_ms - full.measurements.qrs_ms) <= 8


def test_a_stored_read_derives_the_same_leads_and_the_tracing_labels_them() -> None:
    from ecgread.reporting.tracing import tracing_svg
    from ecgread.workers.stored_read import stored_analysis

    two = augment.keep_leads(_ECG, ("I", "II"))
    a = analyze(two, AnalysisConfig(delineator="dsp"))
    out = a.to_json_dict()
    assert out["derived_leads"] == ["III", "aVR", "aVL", "aVF"]
    again = stored_analysis(two, out)
    assert again.ecg.lead_names == a.ecg.lead_names
    assert again.derived_leads == a.derived_leads
    svg = tracing_svg(again)
    assert svg.count("> derived</tspan>") == 4

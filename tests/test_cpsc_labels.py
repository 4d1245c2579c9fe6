"""Cardiologist-labelled 12-lead ECGs of CPSC 2018 (../shared/data/cpsc2018): labels the read
must give, read as ``bench.cpsc`` reads them."""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.models.analysis import analyze
from ecgread.models.ecg import STANDARD_LEADS, Ecg
from tests.conftest import REPO, need
from tests.neural_helpers import shipped_models

CPSC = REPO.parent / "shared" / "data" / "cpsc2018"


def _ecg(name: str) -> Ecg:
    import scipy.io as sio

    path = CPSC / f"{name}.mat"
    need(path.is_file(), f"CPSC 2018 sample not found at {CPSC}")
    m = sio.loadmat(str(path))["ECG"][0, 0]
    return Ecg((m["data"] * 1000).astype(np.float32), 500.0, STANDARD_LEADS, source=name)


def _read(name: str) -> set[str]:
    return {s.code for s in analyze(_ecg(name), models=shipped_models()).statements}


def test_atrial_bigeminy_keeps_its_pr_under_wander() -> None:
    """A1980 (labelled PAC; atrial bigeminy): the dominant beats' template was the median
    over every dominant beat, premature ones included, whose P windows hold the previous
    beat's T wave; under 1 mV of wander its P wave moved 120 ms early, PR 142 -> 290 ms and
    a first-degree AV block. The template now comes from the beats that are not premature."""
    from ecgread.models.augment import add_baseline_wander

    ecg = _ecg("A1980")
    base = analyze(ecg, models=shipped_models())
    wander = analyze(add_baseline_wander(ecg, 1000.0, 0.3), models=shipped_models())
    assert base.measurements.pr_ms is not None and wander.measurements.pr_ms is not None
    assert abs(wander.measurements.pr_ms - base.measurements.pr_ms) <= 12.0
    assert "1AVB" not in {s.code for s in wander.statements}
    # every dominant beat's P wave in II lies in its own PR interval
    qrs = [w for w in wander.waves["II"] if w.type == "QRS"]
    for p in (w for w in wander.waves["II"] if w.type == "P"):
        nxt = min((q.onset_s for q in qrs if q.onset_s > p.peak_s), default=None)
        assert nxt is None or nxt - p.onset_s <= 0.25, (p, nxt)


@pytest.mark.parametrize("name", ["A1981", "A1984"])
def test_st_depression_labelled_records_read_st_depression(name: str) -> None:
    """Labelled ST depression: 0.5-0.8 mm at J and still at J+60 ms in contiguous leads,
    which the 1 mm at J+60 criterion alone missed."""
    assert "ST_DEP" in _read(name)


def test_normal_record_has_no_st_depression() -> None:
    codes = _read("A1983")
    assert "ST_DEP" not in codes and "NORMAL" in codes


def test_atrial_bigeminy_with_a_gap_or_noisy_leads_is_no_af() -> None:
    """A1980 (atrial bigeminy) read AF when (a) its strip had a gap: the interval across the
    gap joined the premature beats' coupling intervals (0.52 s beside 2.6 s), so the rhythm
    looked irregular once they were set aside; (b) aVR and aVL carried 2 mV of noise: the
    noise lowered every beat's correlation with the template, the premature atrial beats
    typed ventricular, and the reference beats lost their P waves. The interval across a
    gap now belongs to no class, and beats are typed in the leads not flagged noisy."""
    from ecgread.models.augment import keep_leads

    ecg = _ecg("A1980")
    strip = keep_leads(ecg, ("V3",))
    x = strip.signal_uv.copy()
    x[:, int(7.1 * 500):int(8.4 * 500)] = np.nan  # 1.3 s unseen: two beats lost
    gap = analyze(Ecg(x, 500.0, strip.lead_names, source="gap"), models=shipped_models())
    assert "AF" not in {s.code for s in gap.statements}
    assert (gap.rhythm.rr_irregularity_robust or 1.0) < 0.1
    noisy = ecg.signal_uv.copy()
    rng = np.random.default_rng(0)
    for lead in ("aVR", "aVL"):
        noisy[ecg.lead_names.index(lead)] = rng.normal(0.0, 2000.0, ecg.n_samples)
    a = analyze(Ecg(noisy.astype(np.float32), 500.0, ecg.lead_names, source="noise"),
                models=shipped_models())
    codes = {s.code for s in a.statements}
    assert "AF" not in codes and "SR" in codes
    clean = analyze(ecg, models=shipped_models())
    assert [b.kind for b in a.beats] == [b.kind for b in clean.beats]

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


def _read(name: str) -> set[str]:
    import scipy.io as sio

    path = CPSC / f"{name}.mat"
    need(path.is_file(), f"CPSC 2018 sample not found at {CPSC}")
    m = sio.loadmat(str(path))["ECG"][0, 0]
    ecg = Ecg((m["data"] * 1000).astype(np.float32), 500.0, STANDARD_LEADS, source=name)
    return {s.code for s in analyze(ecg, models=shipped_models()).statements}


@pytest.mark.parametrize("name", ["A1981", "A1984"])
def test_st_depression_labelled_records_read_st_depression(name: str) -> None:
    """Labelled ST depression: 0.5-0.8 mm at J and still at J+60 ms in contiguous leads,
    which the 1 mm at J+60 criterion alone missed."""
    assert "ST_DEP" in _read(name)


def test_normal_record_has_no_st_depression() -> None:
    codes = _read("A1983")
    assert "ST_DEP" not in codes and "NORMAL" in codes

"""The T-wave end search of the template delineator (models.delineate_template._refine_t):
wide enough for a QTc above 500 ms, and never into the next beat's P wave."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgread.models.analysis import analyze
from ecgread.models.dsp_config import AnalysisConfig
from tests.conftest import REPO, need
from tests.neural_helpers import shipped_models

QTDB = REPO.parent / "shared" / "data" / "qtdb"


def _qtdb_window(record: str):  # type: ignore[no-untyped-def]
    import wfdb

    from ecgread.integration.wfdb_read import read_wfdb
    from ecgread.models.augment import crop

    need((QTDB / "RECORDS").is_file(), f"QT Database not found at {QTDB}")
    first = wfdb.rdann(str(QTDB / record), "q1c").sample[0] / 250.0
    return crop(read_wfdb(QTDB / record), max(0.0, first - 1.0), first + 29.0)


def test_a_long_qt_is_measured_long() -> None:
    """QTDB sel31: the cardiologist's QT is 528 ms at 72 /min (QTc about 550). The T end
    used to be searched only up to a Bazett QTc of 500 ms, and the read was 395 ms."""
    a = analyze(_qtdb_window("sel31"), models=shipped_models())
    assert a.measurements.qt_ms is not None and a.measurements.qt_ms >= 480


@pytest.mark.ludb
def test_the_t_end_is_not_searched_into_the_next_p_wave(ludb_dir: Path) -> None:
    """LUDB 105 (experts' QT 393 ms): with the T end searched up to a Bazett QTc of 600 ms
    the DSP engine's T end ran to the next beat's P wave (QT 475 ms, 571 under baseline
    wander); the search stops 20 ms before the next P wave and at a QTc of 550 ms."""
    from ecgread.integration import ludb
    from ecgread.models.augment import add_baseline_wander

    ecg = ludb.read_record(105)
    for copy in (ecg, add_baseline_wander(ecg, 1000.0, 0.3)):
        qt = analyze(copy, AnalysisConfig(delineator="dsp")).measurements.qt_ms
        assert qt is not None and abs(qt - 393) <= 30

"""Validated DSP configuration."""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.errors import ConfigError, MissingModelError
from ecgread.models.analysis import analyze
from ecgread.models.dsp_config import AnalysisConfig, ConditioningConfig, QrsDetectConfig
from ecgread.models.ecg import Ecg


def test_cross_field_checks() -> None:
    with pytest.raises(ConfigError):
        QrsDetectConfig(min_rate_bpm=90, max_rate_bpm=80)  # below the allowed range too
    with pytest.raises(ConfigError):
        ConditioningConfig(highpass_hz=1.0)  # AHA: at most 0.67 Hz
    with pytest.raises(ConfigError):
        AnalysisConfig(delineator="magic")  # type: ignore[arg-type]
    assert AnalysisConfig().describe()["conditioning.highpass_hz"] == 0.67


def test_a_neural_delineator_without_a_registered_model_is_refused(tmp_path) -> None:
    from ecgread.workers.model_registry import load_registry
    from ecgread.workers.onnx_models import load_models

    empty = tmp_path / "config" / "models.toml"
    empty.parent.mkdir()
    empty.write_text("# no models\n")
    models = load_models(load_registry(empty))
    ecg = Ecg(np.zeros((1, 5000), np.float32), 500.0, ("II",))
    for mode in ("network", "fused"):
        with pytest.raises(MissingModelError, match="no delineator"):
            analyze(ecg, AnalysisConfig(delineator=mode), models=models)
    assert analyze(ecg, AnalysisConfig(delineator="dsp"), models=models).versions[
        "delineator"] == "dsp-1.7"


def test_the_core_never_loads_a_network_it_is_not_given() -> None:
    ecg = Ecg(np.zeros((1, 5000), np.float32), 500.0, ("II",))
    for mode in ("network", "fused"):
        with pytest.raises(MissingModelError, match="no models were passed"):
            analyze(ecg, AnalysisConfig(delineator=mode))
    assert "delineator_model" not in analyze(ecg, AnalysisConfig(delineator="dsp")).versions


def test_all_flat_record_measures_nothing_and_says_why() -> None:
    from tests.neural_helpers import shipped_models

    ecg = Ecg(np.zeros((12, 5000), np.float32), 500.0,
              ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"))
    a = analyze(ecg, models=shipped_models())
    assert not a.quality.usable and a.beats == ()
    assert a.measurements.qrs_ms is None and "qrs_ms" in a.measurements.unmeasured

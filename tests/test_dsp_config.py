"""Validated DSP configuration."""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.errors import ConfigError, ModelError
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
    from ecgread.models.neural.runtime import NeuralModels
    from ecgread.models.registry import load_registry

    empty = tmp_path / "config" / "models.toml"
    empty.parent.mkdir()
    empty.write_text("# no models\n")
    models = NeuralModels(load_registry(empty))
    ecg = Ecg(np.zeros((1, 5000), np.float32), 500.0, ("II",))
    for mode in ("network", "fused"):
        with pytest.raises(ModelError, match="no delineator"):
            analyze(ecg, AnalysisConfig(delineator=mode), models=models)
    assert analyze(ecg, AnalysisConfig(delineator="dsp"), models=models).versions[
        "delineator"] == "dsp-1.1"


def test_all_flat_record_measures_nothing_and_says_why() -> None:
    ecg = Ecg(np.zeros((12, 5000), np.float32), 500.0,
              ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"))
    a = analyze(ecg)
    assert not a.quality.usable and a.beats == ()
    assert a.measurements.qrs_ms is None and "qrs_ms" in a.measurements.unmeasured

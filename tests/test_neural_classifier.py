"""A site classifier added through the registry alone yields grounded AI findings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecgread.models.ecg import STANDARD_LEADS
from ecgread.models.neural.classifier import CATEGORY, classify
from ecgread.models.neural.inference import NeuralModels
from ecgread.workers.model_registry import load_registry
from ecgread.workers.onnx_models import load_models
from tests.neural_helpers import classifier_table, export_bump_classifier

FS = 500.0


def ecg_with_bump(bump_s: float = 4.5) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(10 * FS)) / FS
    x = rng.normal(0, 20.0, (12, t.size)).astype(np.float32)
    x[1] += 2000.0 * np.exp(-0.5 * ((t - bump_s) / 0.02) ** 2)
    return x


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> NeuralModels:
    d = tmp_path_factory.mktemp("site")
    onnx = export_bump_classifier(d / "bump.onnx")
    (d / "models.toml").write_text(classifier_table(onnx))
    return load_models(load_registry(d / "models.toml"))


def test_site_classifier_findings_have_probability_and_evidence(models: NeuralModels) -> None:
    (clf,) = models.classifiers
    assert clf.provider == "CPUExecutionProvider"
    statements = classify(clf, ecg_with_bump(), FS, STANDARD_LEADS)
    assert [s.code for s in statements] == ["BUMP"]  # OTHER (p = 0.2) stays below 0.5
    s = statements[0]
    assert s.source == "site-bump" and s.category == CATEGORY
    assert s.probability is not None and s.probability > 0.9 and s.certainty == "definite"
    (ev,) = s.evidence
    assert ev.leads == ("II",)  # occluding lead II is what removes the finding
    assert ev.spans_s == ((4.0, 5.0),)  # the 1 s window holding the bump at 4.5 s
    j = s.to_json_dict()
    assert j["probability"] == pytest.approx(s.probability, abs=1e-4)
    assert j["source"] == "site-bump" and json.dumps(j)
    assert models.versions()["classifier:site-bump"].startswith("site-bump@0.1.0")


def test_no_finding_without_the_pattern(models: NeuralModels) -> None:
    x = ecg_with_bump()
    x[1] = x[0]
    assert classify(models.classifiers[0], x, FS, STANDARD_LEADS) == ()


def test_missing_lead_is_zero_filled_and_said(models: NeuralModels) -> None:
    x = ecg_with_bump()
    names = tuple(n for n in STANDARD_LEADS if n != "V6")
    (s,) = classify(models.classifiers[0], x[:11], FS, names)
    assert "V6" in s.evidence[0].criterion and "V6" not in s.evidence[0].leads


@pytest.mark.slow
def test_training_script_on_ptbxl_format_data(tmp_path: Path) -> None:
    """train_classifier reads a PTB-XL-style CSV + WFDB records and exports a model that
    the registry accepts as printed."""
    import wfdb

    from ecgread.workers.training import train_classifier

    rng = np.random.default_rng(0)
    rows = ["ecg_id,filename_hr,scp_codes,strat_fold"]
    (tmp_path / "records").mkdir()
    for i in range(12):
        sig = rng.normal(0, 0.05, (1000, 12))
        if i % 2:
            sig[400:410, 1] += 2.0
        wfdb.wrsamp(f"r{i}", fs=500, units=["mV"] * 12, sig_name=list(STANDARD_LEADS),
                    p_signal=sig, fmt=["16"] * 12, write_dir=str(tmp_path / "records"))
        code = "{'BUMP': 100.0}" if i % 2 else "{'NORM': 100.0}"
        rows.append(f'{i},records/r{i},"{code}",{1 + i % 10}')
    (tmp_path / "db.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "site.onnx"
    train_classifier.main(["--csv", str(tmp_path / "db.csv"), "--root", str(tmp_path),
                           "--labels", "BUMP", "--name", "site-test", "--out", str(out),
                           "--epochs", "2", "--fs", "100", "--seconds", "2",
                           "--widths", "8,8,8,8,8", "--threads", "1"])
    assert out.is_file()
    from ecgread.workers.model_registry import sha256_of

    (tmp_path / "cfg").mkdir()
    table = classifier_table(out, name="site-test", samples=224).replace(
        '["BUMP", "OTHER"]', '["BUMP"]').replace('["Bump in lead II", "Something else"]',
                                                 '["Bump"]')
    (tmp_path / "cfg" / "models.toml").write_text(table)
    m = load_models(load_registry(tmp_path / "cfg" / "models.toml"))
    assert m.classifiers[0].spec.sha256 == sha256_of(out)
    p = m.classifiers[0].run(np.zeros((1, 12, 224), np.float32))
    assert p.shape == (1, 1) and 0.0 <= float(p[0, 0]) <= 1.0

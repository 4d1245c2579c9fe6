"""``analyze`` with the neural stage: fused by default, either engine alone on request,
no invented P waves, model provenance, and a site classifier's AI findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgread.models.analysis import analyze
from ecgread.models.dsp_config import AnalysisConfig
from ecgread.models.neural.classifier import CATEGORY
from ecgread.workers.model_registry import DEFAULT_REGISTRY, load_registry
from ecgread.workers.onnx_models import load_models
from tests.neural_helpers import classifier_table, export_bump_classifier, shipped_models
from tests.synthetic import synthetic_ecg


def test_fused_is_the_default_and_records_the_model() -> None:
    assert AnalysisConfig().delineator == "fused"
    a = analyze(synthetic_ecg(seed=2).ecg, models=shipped_models())
    model = shipped_models().delineator
    assert model is not None
    assert a.versions["delineator_model"] == model.spec.provenance
    assert a.versions["delineator"].startswith("fused") and "fusion" in a.versions
    assert a.to_json_dict()["versions"]["delineator_model"].startswith("ludb-unet1d@")


@pytest.mark.parametrize("mode", ["dsp", "network", "fused"])
def test_each_engine_finds_every_qrs_of_a_clean_record(mode: str) -> None:
    s = synthetic_ecg(rate_bpm=75, seed=4)
    a = analyze(s.ecg, AnalysisConfig(delineator=mode),  # type: ignore[arg-type]
                models=shipped_models())
    truth = [b.r_s for b in s.beats]
    qrs = [w for w in a.waves["II"] if w.type == "QRS"]
    assert len(qrs) == len(truth)
    for w, r in zip(qrs, truth, strict=True):
        assert w.onset_s < r < w.offset_s
    assert ("delineator_model" in a.versions) == (mode != "dsp")


@pytest.mark.parametrize("mode", ["network", "fused"])
def test_no_p_wave_is_invented_in_atrial_fibrillation(mode: str) -> None:
    a = analyze(synthetic_ecg(seed=3, af=True).ecg, AnalysisConfig(delineator=mode),  # type: ignore[arg-type]
                models=shipped_models())
    assert a.measurements.pr_ms is None
    assert not [w for ws in a.waves.values() for w in ws if w.type == "P"]


def test_same_input_gives_the_same_read() -> None:
    ecg = synthetic_ecg(seed=5).ecg
    assert (analyze(ecg, models=shipped_models()).to_json_dict()
            == analyze(ecg, models=shipped_models()).to_json_dict())


def test_a_site_classifier_added_by_registry_reports_ai_findings(tmp_path: Path) -> None:
    onnx = export_bump_classifier(tmp_path / "bump.onnx")
    registry = tmp_path / "config" / "models.toml"
    registry.parent.mkdir()
    shipped = DEFAULT_REGISTRY.read_text().replace(
        'file = "models/weights/', f'file = "{DEFAULT_REGISTRY.parents[1]}/models/weights/')
    registry.write_text(shipped + classifier_table(onnx))
    models = load_models(load_registry(registry))
    s = synthetic_ecg(seed=6)
    a = analyze(s.ecg, models=models)
    ai = [st for st in a.statements if st.category == CATEGORY]
    assert ai, [st.code for st in a.statements]
    assert all(st.probability is not None and st.evidence for st in ai)
    assert a.versions["classifier:site-bump"].startswith("site-bump@0.1.0")
    assert "probability" in a.to_json_dict()["statements"][-1]


@pytest.mark.ludb
# AF; AF with "P waves" found (101); AF with LBBB whose averaged "P waves" have a sinus
# axis, told by their wandering PR (44, models.p_timing); flutter (52); flutter at 2:1-3:1
# whose waves the T waves hide until average-beat subtraction (35, models.atrial)
@pytest.mark.parametrize("record_id", [38, 101, 44, 52, 35])
def test_no_p_wave_pr_or_p_statement_once_the_rhythm_is_af_or_flutter(ludb_dir: Path,
                                                                       record_id: int) -> None:
    from ecgread.integration import ludb
    from ecgread.models.interpret.evidence import check_evidence

    a = analyze(ludb.read_record(record_id), models=shipped_models())
    codes = {s.code for s in a.statements}
    assert codes & {"AF", "AFL"}
    assert not [w for ws in a.waves.values() for w in ws if w.type == "P"]
    m = a.measurements
    assert m.pr_ms is None and m.p_ms is None and m.p_axis_deg is None
    assert "not P waves" in m.unmeasured["pr_ms"]
    assert not codes & {"1AVB", "SHORT_PR", "LAE", "RAE", "SR"}
    assert all(not check_evidence(s, a) for s in a.statements)
    assert len(a.notes) == len(set(a.notes))
    # the AF statement does not cite the P axis it removed itself ("is null")
    assert not [e for st in a.statements for e in st.evidence
                if e.measurement == "p_axis_deg" and e.criterion == "is null"]


@pytest.mark.parametrize(("mains_hz", "seed"), [(50.0, 1), (60.0, 1), (60.0, 2)])
def test_mains_interference_does_not_move_the_intervals(mains_hz: float, seed: int) -> None:
    # 100 µV of 50/60 Hz: the network's input is notched like the DSP signal
    # (models.neural.preprocess.prepare), so QT stays within 10 ms of the clean read
    models = shipped_models()
    clean = analyze(synthetic_ecg(seed=seed, noise_uv=5.0).ecg, models=models).measurements
    noisy = analyze(synthetic_ecg(seed=seed, noise_uv=5.0, mains_uv=100.0,
                                  mains_hz=mains_hz).ecg, models=models).measurements
    assert clean.qt_ms is not None and noisy.qt_ms is not None
    assert abs(noisy.qt_ms - clean.qt_ms) <= 10.0
    assert abs(noisy.qrs_ms - clean.qrs_ms) <= 10.0  # type: ignore[operator]
    assert abs(noisy.pr_ms - clean.pr_ms) <= 10.0  # type: ignore[operator]


def test_p_duration_and_pr_share_one_p_onset(ludb_dir: Path) -> None:
    """The global P duration is measured from the same per-lead P waves and the same P onset
    as the PR interval, so the P wave ends before the QRS begins (PR segment >= 0). The DSP
    representative beat's P duration (earliest to latest confirmed edge) beside the fused
    PR had read the Mortara sample's P 135 ms against a PR of 150 ms."""
    import pydicom.data

    from ecgread.integration import ludb
    from ecgread.integration.ecg_files import read_ecg_file

    ecgs = [read_ecg_file(pydicom.data.get_testdata_file("waveform_ecg.dcm"))]
    ecgs += [ludb.read_record(r) for r in ludb.record_ids()[:12]]
    measured = 0
    for ecg in ecgs:
        m = analyze(ecg, models=shipped_models()).measurements
        if m.p_ms is None or m.pr_ms is None:
            continue
        measured += 1
        assert 0 < m.p_ms < m.pr_ms, (ecg.source, m.p_ms, m.pr_ms)
    assert measured >= 10

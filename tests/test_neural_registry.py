"""The model registry: files and checksums verified at start, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgread.errors import ModelError
from ecgread.workers.model_registry import DEFAULT_REGISTRY, load_registry, sha256_of
from tests.neural_helpers import classifier_table, export_bump_classifier


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_bump_classifier(tmp_path_factory.mktemp("onnx") / "bump.onnx")


def test_valid_registry_loads(tmp_path: Path, onnx_file: Path) -> None:
    reg = tmp_path / "models.toml"
    reg.write_text(classifier_table(onnx_file))
    r = load_registry(reg)
    assert r.delineator is None
    (entry,) = r.classifiers
    c = entry.spec
    assert c.name == "site-bump" and c.labels == ("BUMP", "OTHER")
    assert c.sha256 == sha256_of(onnx_file) and c.input.fs_hz == 100.0
    assert c.provenance.startswith("site-bump@0.1.0 sha256:")


def test_wrong_checksum_stops_with_clear_error(tmp_path: Path, onnx_file: Path) -> None:
    reg = tmp_path / "models.toml"
    reg.write_text(classifier_table(onnx_file, digest="0" * 64))
    with pytest.raises(ModelError, match="site-bump.*sha256.*expects 0000"):
        load_registry(reg)


def test_missing_file_stops_with_clear_error(tmp_path: Path) -> None:
    reg = tmp_path / "models.toml"
    reg.write_text(classifier_table(tmp_path / "absent.onnx", digest="0" * 64))
    with pytest.raises(ModelError, match="absent.onnx is missing"):
        load_registry(reg)


def test_relative_file_resolves_against_root(tmp_path: Path, onnx_file: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "m.onnx").write_bytes(onnx_file.read_bytes())
    table = classifier_table(onnx_file).replace(f'file = "{onnx_file}"', 'file = "w/m.onnx"')
    (tmp_path / "config").mkdir()
    reg = tmp_path / "config" / "models.toml"
    reg.write_text(table)
    assert load_registry(reg).classifiers[0].path == tmp_path / "w" / "m.onnx"


@pytest.mark.parametrize("bad, message", [
    ("kind = \"classifier\"", "kind must be"),
    ("labels = [\"BUMP\", \"OTHER\"]", "missing or invalid field"),
])
def test_malformed_entries_are_refused(tmp_path: Path, onnx_file: Path, bad: str,
                                       message: str) -> None:
    replacement = "kind = \"magic\"" if "kind" in bad else ""
    reg = tmp_path / "models.toml"
    reg.write_text(classifier_table(onnx_file).replace(bad, replacement))
    with pytest.raises(ModelError, match=message):
        load_registry(reg)


def test_duplicate_names_and_bad_toml_are_refused(tmp_path: Path, onnx_file: Path) -> None:
    reg = tmp_path / "models.toml"
    reg.write_text(classifier_table(onnx_file) * 2)
    with pytest.raises(ModelError, match="repeat"):
        load_registry(reg)
    reg.write_text("[[model]\nname=")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_registry(reg)
    with pytest.raises(ModelError, match="cannot be read"):
        load_registry(tmp_path / "nope.toml")


def test_shipped_registry_verifies() -> None:
    r = load_registry(DEFAULT_REGISTRY)
    d = r.delineator
    assert d is not None and d.spec.labels == ("none", "P", "QRS", "T")
    assert d.spec.input.fs_hz == 250.0 and d.path.stat().st_size < 5 * 1024 * 1024

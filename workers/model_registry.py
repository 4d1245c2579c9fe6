"""The model registry: which ONNX models a site runs, verified before any ECG is read.

At the edge: it reads a file and hashes model files. The core sees each model only as
its :class:`~ecgread.models.neural.inference.ModelSpec` (this entry less its file).

The registry is a TOML file (default ``config/models.toml``, setting ``model_registry``,
env ``ECGREAD_MODEL_REGISTRY``) with one ``[[model]]`` table per model::

    [[model]]
    name = "ludb-unet1d"           # recorded in every read as the model's provenance
    version = "1.0.0"
    kind = "delineator"            # "delineator" (at most one) or "classifier"
    file = "models/weights/ludb_unet1d.onnx"   # relative to the registry's repo root
    sha256 = "…64 hex digits…"
    labels = ["none", "P", "QRS", "T"]         # output index -> label
    [model.input]
    fs_hz = 250.0                  # the model's sampling rate (inputs are resampled)
    leads = []                     # [] = one lead at a time; else the lead order it takes
    samples = 0                    # 0 = any length (multiple of 16); else fixed window
    normalization = "per-lead-std" # see ecgread.models.neural.preprocess

Classifiers also give ``texts`` (one per label, the statement text), and optionally
``activation`` ("sigmoid" when the graph outputs logits, "none" when it already outputs
probabilities; default "none") and ``thresholds = {definite, probable, possible}``
(probability floors of each certainty; below ``possible`` nothing is reported).
A site adds its own classifier by adding a table and its file: no code changes.

:func:`load_registry` reads the file and verifies every model file and its SHA-256;
anything wrong raises :class:`ecgread.errors.ModelError` naming the model and the file,
so a worker stops at start instead of reading ECGs with the wrong model.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ecgread.errors import ModelError
from ecgread.models.neural.inference import InputContract, ModelSpec, Thresholds

#: The registry shipped with the repository.
DEFAULT_REGISTRY = Path(__file__).resolve().parents[1] / "config" / "models.toml"


@dataclass(frozen=True)
class ModelEntry:
    """One verified registry entry: what the core sees of the model, and its file."""

    spec: ModelSpec
    path: Path  # resolved absolute path


@dataclass(frozen=True)
class Registry:
    models: tuple[ModelEntry, ...]
    source: Path

    @property
    def delineator(self) -> ModelEntry | None:
        return next((m for m in self.models if m.spec.kind == "delineator"), None)

    @property
    def classifiers(self) -> tuple[ModelEntry, ...]:
        return tuple(m for m in self.models if m.spec.kind == "classifier")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _entry(raw: dict, root: Path, where: str) -> ModelEntry:
    try:
        name, version, kind = str(raw["name"]), str(raw["version"]), str(raw["kind"])
        file, digest = str(raw["file"]), str(raw["sha256"]).lower()
        inp = raw["input"]
        labels = tuple(str(x) for x in raw["labels"])
        contract = InputContract(fs_hz=float(inp["fs_hz"]),
                                 leads=tuple(str(x) for x in inp.get("leads", ())),
                                 samples=int(inp.get("samples", 0)),
                                 normalization=str(inp.get("normalization", "per-lead-std")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model registry {where}: missing or invalid field {exc}") from exc
    if kind not in ("delineator", "classifier"):
        raise ModelError(f"model registry {where} ({name}): kind must be delineator or "
                         f"classifier, got {kind!r}")
    texts = tuple(str(x) for x in raw.get("texts", labels))
    if len(texts) != len(labels):
        raise ModelError(f"model {name}: {len(texts)} texts for {len(labels)} labels")
    activation = str(raw.get("activation", "none"))
    if activation not in ("none", "sigmoid"):
        raise ModelError(f"model {name}: activation must be none or sigmoid")
    thresholds = Thresholds(**{k: float(v) for k, v in raw.get("thresholds", {}).items()})
    path = Path(file) if Path(file).is_absolute() else root / file
    if not path.is_file():
        raise ModelError(f"model {name} {version}: file {path} is missing")
    actual = sha256_of(path)
    if actual != digest:
        raise ModelError(f"model {name} {version}: file {path} has sha256 {actual}, "
                         f"the registry expects {digest} (wrong or corrupted file)")
    spec = ModelSpec(name, version, kind,  # type: ignore[arg-type]
                     digest, contract, labels, texts,
                     activation, thresholds)  # type: ignore[arg-type]
    return ModelEntry(spec, path)


def load_registry(path: str | Path = DEFAULT_REGISTRY, root: str | Path | None = None) -> Registry:
    """Read and verify a registry file.

    Parameters
    ----------
    path:
        The TOML file.
    root:
        Directory that relative ``file`` entries are resolved against; default the
        parent of the registry's directory (the repository root for ``config/models.toml``).

    Raises
    ------
    ModelError
        The registry is missing or malformed, a model file is missing, its SHA-256
        differs, names repeat, or there is more than one delineator.
    """
    path = Path(path)
    base = Path(root) if root is not None else path.resolve().parent.parent
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ModelError(f"model registry {path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"model registry {path} is not valid TOML: {exc}") from exc
    entries = tuple(_entry(raw, base, f"{path} model #{i + 1}")
                    for i, raw in enumerate(data.get("model", [])))
    names = [m.spec.name for m in entries]
    if len(set(names)) != len(names):
        raise ModelError(f"model registry {path}: model names repeat: {names}")
    if sum(m.spec.kind == "delineator" for m in entries) > 1:
        raise ModelError(f"model registry {path}: more than one delineator")
    return Registry(entries, path)

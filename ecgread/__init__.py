"""ecgread: an automatic 12-lead ECG reader, installed as one package.

Layers, bottom to top (a module imports only from its own layer or those below; the
order is checked by ``tests/test_layering.py``):

- ``ecgread.errors``: the one error hierarchy; standard library only.
- ``ecgread.models``: the pure analysis core (numpy arrays in, frozen results out; no
  file, network or process-global state). Neural networks come in through the inference
  contract of ``ecgread.models.neural.inference``.
- ``ecgread.config``: typed settings.
- ``ecgread.audit``: the audit database.
- ``ecgread.integration``: the hospital-facing edges (DICOM, HL7, file readers).
- ``ecgread.reporting``: the PDF and the HL7 ORU^R01.
- ``ecgread.workers``: jobs, and the edge that loads the models (model registry, ONNX
  Runtime sessions) and passes them to the core.
- ``ecgread.cli``: the ``ecgread`` command, which wires all of them together.

Importing this package does nothing: ``__version__`` is looked up (installed package
metadata) on first access.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("ecgread")
    except PackageNotFoundError:  # running from a source tree that was not installed
        found = "0.0.0+dev"
    globals()["__version__"] = found
    return found

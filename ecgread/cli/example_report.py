"""Write the example report of pydicom's sample ECG: ``python -m ecgread.cli.example_report docs/``.

Writes ``example-report.pdf`` (what :func:`reporting.pdf.render_pdf` makes) and
``example-report.png`` (its page at 110 dpi, by poppler's ``pdftoppm``) into the folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path


def write_example(folder: Path, page_size: str = "A4") -> tuple[Path, Path, float]:
    """Render the example into ``folder``; returns (pdf path, png path, render time in s).

    Raises
    ------
    FileNotFoundError
        ``pdftoppm`` (poppler-utils) is not installed.
    """
    import pydicom.data

    from ecgread.config.settings import Settings
    from ecgread.integration.dicom_decode import decode_file
    from ecgread.models.analysis import analyze
    from ecgread.models.dsp_config import AnalysisConfig, delineator_named
    from ecgread.reporting.context import report_context
    from ecgread.reporting.pdf import render_pdf
    from ecgread.workers.onnx_models import process_models
    from ecgread.workers.provenance import with_ecgread_version

    settings = Settings(page_size=page_size)
    ecg = decode_file(str(pydicom.data.get_testdata_file("waveform_ecg.dcm")))
    config = AnalysisConfig(delineator=delineator_named(settings.delineator))
    analysis = with_ecgread_version(analyze(ecg, config,
                                            models=process_models(settings.model_registry)))
    context = report_context(ecg, None)
    start = time.perf_counter()
    pdf = render_pdf(analysis, context, settings)
    elapsed = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    pdf_path = folder / "example-report.pdf"
    pdf_path.write_bytes(pdf)
    if shutil.which("pdftoppm") is None:
        raise FileNotFoundError("pdftoppm not found: install poppler-utils")
    stem = folder / "example-report"
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf_path), str(stem)],
                   check=True)
    return pdf_path, stem.with_suffix(".png"), elapsed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m ecgread.cli.example_report FOLDER [A4|Letter]", file=sys.stderr)
        return 2
    pdf, png, elapsed = write_example(Path(args[0]), *(args[1:] or ["A4"]))
    print(f"wrote {pdf} and {png} (first render {elapsed * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

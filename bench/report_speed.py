"""Time per report on one core: measure, interpret, PDF and ORU^R01, stage by stage.

What the read job does for every ECG after decoding (``workers.read_job``):
``models.analysis.analyze`` (conditioning to interpretation, fused delineator),
``reporting.pdf.render_pdf`` (jinja2 + weasyprint, SVG tracing) and
``reporting.oru.build_oru`` (hl7apy, with the PDF in Base64). Inputs: pydicom's
``waveform_ecg.dcm`` (1000 Hz) and, when ``../shared/data/ludb`` is present, LUDB records
(500 Hz). One process pinned to one core; the first ECG is run once untimed (fonts and the
ONNX session load then). Times are CPU time (``time.process_time``), so a busy shared host
inflates them less than wall time. Targets: the whole report <= 300 ms per ECG per core
(issue 5); >= 3 ECGs/s per core with PDF and ORU (issue 12, <= 333 ms).

Run::

    .venv/bin/python -m bench.report_speed [--repeat 5] [--ludb 10]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

TARGET_MS = 300.0  # issue 5: the whole report per ECG per core
TARGET_PER_S = 3.0  # issue 12: ECGs per second per core with PDF and ORU


def _inputs(n_ludb: int) -> list[tuple[str, object]]:
    from pydicom.data import get_testdata_file

    from ecgread.integration import ludb
    from ecgread.integration.dicom_decode import decode_file

    out: list[tuple[str, object]] = [("waveform_ecg.dcm", decode_file(
        str(get_testdata_file("waveform_ecg.dcm"))))]
    if (ludb.LUDB_DIR / "RECORDS").is_file():
        out += [(f"LUDB {rid}", ludb.read_record(rid)) for rid in ludb.record_ids()[:n_ludb]]
    return out


def main(argv: list[str] | None = None) -> None:
    from ecgread.config.settings import Settings
    from ecgread.models.analysis import analyze
    from ecgread.reporting.context import report_context
    from ecgread.reporting.oru import build_oru
    from ecgread.reporting.pdf import render_pdf
    from ecgread.workers.onnx_models import process_models

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ludb", type=int, default=10, help="LUDB records to add")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    settings = Settings()
    inputs = _inputs(args.ludb)
    times: dict[str, list[float]] = {"analyze": [], "pdf": [], "oru": [], "total": []}

    def once(ecg) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
        t0 = time.process_time()
        a = analyze(ecg, models=process_models())
        t1 = time.process_time()
        ctx = report_context(a.ecg, None)
        pdf = render_pdf(a, ctx, settings)
        t2 = time.process_time()
        build_oru(a, ctx, pdf, settings, "BENCH0001")
        t3 = time.process_time()
        return t1 - t0, t2 - t1, t3 - t2

    once(inputs[0][1])  # warm-up: fonts, templates, ONNX session
    for _, ecg in inputs:
        for _ in range(args.repeat):
            a, p, o = once(ecg)
            for k, v in (("analyze", a), ("pdf", p), ("oru", o), ("total", a + p + o)):
                times[k].append(1000.0 * v)
    print(f"report time on one core: {len(inputs)} ECGs ({', '.join(n for n, _ in inputs[:3])}"
          f"{', ...' if len(inputs) > 3 else ''}) x {args.repeat} runs")
    print(f"{'stage (CPU time)':<34} {'median ms':>10} {'p95 ms':>8}")
    names = {"analyze": "measure + interpret (analyze)", "pdf": "PDF (render_pdf)",
             "oru": "ORU^R01 with the PDF (build_oru)", "total": "whole report"}
    for k, label in names.items():
        t = np.asarray(times[k])
        print(f"{label:<34} {np.median(t):>10.1f} {np.percentile(t, 95):>8.1f}")
    med = float(np.median(times["total"]))
    print(f"reports per second per core: {1000.0 / med:.1f} (target >= {TARGET_PER_S:.0f}: "
          f"{'met' if 1000.0 / med >= TARGET_PER_S else 'NOT met'}); target <= "
          f"{TARGET_MS:.0f} ms: {'met' if med <= TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()

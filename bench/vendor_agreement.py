"""Vendor agreement: our measurements and statements against the vendor's own read, on the
archive files in ``../shared/data/vendor`` (GE MUSE, Philips Sierra, HL7 aECG, SCP-ECG),
through the real readers (``integration.ecg_files.read_ecg_file``) and the figures of
``models.agreement`` (the same functions as the batch's archive report).

The same ECG in several files (the aECG folder's copies of one Mortara ECG, which is also the
SCP-ECG example; Philips' 129DYPRG and repbeats_example) is counted once: files are grouped
by their decoded signal, the first (sorted by path) kept.
Targets (issue 12): PR and QRS within 10 ms, QT within 15 ms, axes within 15 degrees.

Run::

    .venv/bin/python -m bench.vendor_agreement [--dir ../shared/data/vendor]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from ecgread.models.agreement import MEASURES, compare_read, summarize

VENDOR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vendor"


def main(argv: list[str] | None = None) -> int:
    from ecgread.errors import DecodeError
    from ecgread.integration.ecg_files import find_ecg_files, read_ecg_file
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=VENDOR)
    args = ap.parse_args(argv)
    seen: set[str] = set()
    rows = []
    print(f"{'file':<36} {'format':<18} " + " ".join(f"{m.name:>12}" for m in MEASURES))
    for path in find_ecg_files(args.dir):
        try:
            ecg = read_ecg_file(path)
        except DecodeError as exc:
            print(f"{path.name:<36} unreadable: {exc}")
            continue
        digest = hashlib.sha256(ecg.signal_uv.tobytes()).hexdigest()
        if ecg.vendor_read is None or digest in seen:
            continue
        seen.add(digest)
        a = analyze(ecg, models=process_models())
        row = compare_read(a.measurements.as_dict(), [s.code for s in a.statements],
                           ecg.vendor_read)
        rows.append(row)

        def cell(m, row=row):  # type: ignore[no-untyped-def]
            o, v = row.ours[m.name], row.vendor[m.name]
            return "n/a" if o is None or v is None else f"{o:.0f}/{v:.0f}"

        print(f"{path.name[:36]:<36} {ecg.vendor_read.source_format:<18} "
              + " ".join(f"{cell(m):>12}" for m in MEASURES))
    s = summarize(rows)
    print(f"\n{s.n_ecgs} distinct ECGs with a vendor read (cells above: ours/vendor)")
    print(f"{'measurement':<10} {'n':>3} {'mean':>7} {'SD':>6} {'within':>7} {'target':>7}  result")
    all_met = True
    for m in s.measures:
        met = m.n > 0 and all(abs(d) <= m.measure.tolerance for _, d in m.pairs)
        all_met &= met
        print(f"{m.measure.name:<10} {m.n:>3} {'n/a' if m.mean is None else f'{m.mean:+.1f}':>7} "
              f"{'n/a' if m.sd is None else f'{m.sd:.1f}':>6} "
              f"{'n/a' if m.within is None else f'{100 * m.within:.0f}%':>7} "
              f"{'±' + format(m.measure.tolerance, 'g'):>7}  "
              f"{'met on every ECG' if met else 'NOT met on every ECG'}")
    print(f"\n{'statement family':<14} {'n':>3} {'both':>5} {'ours':>5} {'vendor':>6} "
          f"{'neither':>7} {'agree':>6} {'kappa':>6}")
    for fa in s.families:
        print(f"{fa.family.name:<14} {fa.n:>3} {fa.both:>5} {fa.ours_only:>5} "
              f"{fa.vendor_only:>6} {fa.neither:>7} "
              f"{'n/a' if fa.agreement is None else f'{100 * fa.agreement:.0f}%':>6} "
              f"{'n/a' if fa.kappa is None else f'{fa.kappa:.2f}':>6}")
    print("all targets met" if all_met else "some targets NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

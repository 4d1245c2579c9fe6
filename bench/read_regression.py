"""Same reads: a fingerprint of every read of the benchmark records, to prove that a change
meant to be behaviour-neutral (a faster stage) leaves every read as it was.

Reads: the 40 records of :mod:`bench.invariance` and each of their transformed copies (gain,
rate 250/500/1000 Hz, mains, wander, a noisy or flat lead, muscle noise in every lead, a
tremor at each limb electrode, a motion burst, two leads, a shifted window: 670 ECGs, 1340
reads; 940 before the artefacts of 2026-12-02, 1260 before the muscle noise), each with the
fused and the DSP delineator. A read's fingerprint is its public JSON
(``Analysis.to_json_dict``) plus the rhythm features and global measurements at full
precision (``repr`` of every float), so a change in the last bit shows.

Run::

    .venv/bin/python -m bench.read_regression --save /tmp/reads-before.jsonl
    # ... change the code ...
    .venv/bin/python -m bench.read_regression --compare /tmp/reads-before.jsonl

``--compare`` prints how many reads are identical, how many differ only below the JSON's
rounding (full-precision fields) and how many differ in the public JSON, with the first
differing fields; exit status 1 when any public JSON differs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.invariance import records, transformations

DELINEATORS = ("fused", "dsp")


def fingerprint(analysis: Any) -> dict[str, Any]:
    """Public JSON and full-precision rhythm features and measurements of one read."""
    full = {
        "rhythm": {k: repr(v) for k, v in dataclasses.asdict(analysis.rhythm).items()},
        "measurements": {k: repr(v) for k, v in analysis.measurements.as_dict().items()},
    }
    public = analysis.to_json_dict()
    public.pop("versions", None)
    return {"public": public, "full": full}


def reads(limit: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, fingerprint) for every record, copy and delineator."""
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.workers.onnx_models import process_models

    models = process_models()
    for name, load in records(limit):
        ecg = load()
        copies = {"original": ecg} | {t: fn(ecg) for t, fn in transformations(ecg).items()}
        for tname, copy in copies.items():
            for delineator in DELINEATORS:
                key = f"{name} | {tname} | {delineator}"
                try:
                    a = analyze(copy, AnalysisConfig(delineator=delineator), models=models)
                    yield key, fingerprint(a)
                except Exception as exc:  # noqa: BLE001  (a crash is a read too)
                    yield key, {"public": {"error": f"{type(exc).__name__}: {exc}"},
                                "full": {}}


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            out += _diff(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} -> {b!r}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the fingerprints (JSON lines)")
    group.add_argument("--compare", type=Path, help="compare with fingerprints saved before")
    ap.add_argument("--limit", type=int, default=0, help="the first N records of each source")
    args = ap.parse_args(argv)
    if args.save:
        n = 0
        with args.save.open("w") as f:
            for key, fp in reads(args.limit):
                f.write(json.dumps({"key": key, **fp}) + "\n")
                n += 1
        print(f"{n} reads saved to {args.save}")
        return 0
    before = {}
    for line in args.compare.read_text().splitlines():
        row = json.loads(line)
        before[row.pop("key")] = row
    same = below = public = missing = 0
    examples: list[str] = []
    for key, fp in reads(args.limit):
        old = before.pop(key, None)
        if old is None:
            missing += 1
            continue
        fp = json.loads(json.dumps(fp))  # as saved (tuples as lists)
        if fp == old:
            same += 1
        elif fp["public"] == old["public"]:
            below += 1
            examples += [f"  {key}: {d}" for d in _diff(old["full"], fp["full"])[:2]]
        else:
            public += 1
            examples += [f"  {key}: {d}" for d in _diff(old["public"], fp["public"])[:3]]
    print(f"{'reads':<44} {'count':>6}")
    print(f"{'identical':<44} {same:>6}")
    print(f"{'differ below the JSON rounding only':<44} {below:>6}")
    print(f"{'differ in the public JSON':<44} {public:>6}")
    print(f"{'not in the saved file':<44} {missing:>6}")
    print(f"{'saved but not read now':<44} {len(before):>6}")
    if examples:
        print("first differences:")
        print("\n".join(examples[:30]))
    return 1 if public or missing or before else 0


if __name__ == "__main__":
    sys.exit(main())

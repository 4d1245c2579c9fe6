"""Garbled copies of real ECGs: does the read crash, gain a critical statement or AF, or
invent a rate?

Each read takes one of the 40 records of :mod:`bench.invariance` (LUDB, QTDB, CPSC) and
garbles it at random, several faults at once, as ECGs from other systems arrive: a random
subset of its leads (1 to all), resampled to 100-2000 Hz, cropped to 2.5-10 s, every lead
clipped at a level (an amplifier's range), a stretch of one lead lost (NaN), one lead
zeroed, a DC offset of up to 100 mV per lead, a gain of 0.3-3, one lead replaced by 2 mV
of white noise (a loose electrode), a 5 mV step in one lead (an electrode pop). Per read,
against the read of the ungarbled record: a crash, a critical statement the clean read does
not make, atrial fibrillation the clean read does not call, a heart rate off by more than
20 % where both have one. A garbled ECG may well read differently (a lead set without
V1-V3 cannot show an anterior infarct); these four are what no garbling should cause.
Targets: none of the four.

Run::

    .venv/bin/python -m bench.fuzz_reads                    # 2000 reads, seed 1
    .venv/bin/python -m bench.fuzz_reads --reads 200 --seed 7
    .venv/bin/python -m bench.fuzz_reads --only 410,507     # replay those reads, with detail
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import traceback
from collections import Counter

import numpy as np

from ecgread.models import augment
from ecgread.models.analysis_result import Analysis
from ecgread.models.ecg import Ecg

RATES_HZ = (100.0, 128.0, 200.0, 257.0, 360.0, 720.0, 1024.0, 2000.0)
OPS = ("leads", "rate", "crop", "clip", "gap", "zero", "offset", "gain", "noise lead",
       "step")


def garble(ecg: Ecg, rng: np.random.Generator) -> tuple[Ecg, list[str]]:
    """A garbled copy of ``ecg`` and what was done (op name and its parameter)."""
    ops: list[str] = []
    if rng.random() < 0.4:
        k = int(rng.integers(1, len(ecg.lead_names) + 1))
        idx = sorted(int(i) for i in rng.choice(len(ecg.lead_names), k, replace=False))
        ecg = dataclasses.replace(ecg, signal_uv=ecg.signal_uv[idx],
                                  lead_names=tuple(ecg.lead_names[i] for i in idx))
        ops.append(f"leads {k}")
    if rng.random() < 0.4:
        rate = float(rng.choice(RATES_HZ))
        if rate != ecg.sampling_rate_hz:
            ecg = augment.resample(ecg, rate)
            ops.append(f"rate {rate:g}")
    x = ecg.signal_uv.astype(np.float32).copy()
    fs = ecg.sampling_rate_hz
    if rng.random() < 0.3:
        length = int(rng.uniform(2.5, 10.0) * fs)
        start = int(rng.integers(0, max(1, x.shape[1] - length)))
        x = x[:, start:start + length]
        ops.append(f"crop {x.shape[1] / fs:.1f} s")
    if rng.random() < 0.2:
        level = rng.uniform(200.0, 1500.0)
        x = np.clip(x, -level, level)
        ops.append(f"clip {level:.0f} uV")
    if rng.random() < 0.2:
        i, a = int(rng.integers(x.shape[0])), int(rng.integers(0, x.shape[1]))
        x[i, a:a + int(rng.integers(1, x.shape[1]))] = np.nan
        ops.append("gap")
    if rng.random() < 0.2:
        x[int(rng.integers(x.shape[0]))] = 0.0
        ops.append("zero")
    if rng.random() < 0.15:
        x += rng.uniform(-1e5, 1e5, size=(x.shape[0], 1)).astype(np.float32)
        ops.append("offset")
    if rng.random() < 0.15:
        g = rng.uniform(0.3, 3.0)
        x *= np.float32(g)
        ops.append(f"gain {g:.2f}")
    if rng.random() < 0.1:
        x[int(rng.integers(x.shape[0]))] = rng.normal(0.0, 2000.0, x.shape[1])
        ops.append("noise lead")
    if rng.random() < 0.1:
        i, at = int(rng.integers(x.shape[0])), int(rng.integers(0, x.shape[1]))
        x[i, at:] += 5000.0
        ops.append("step")
    return Ecg(x, fs, ecg.lead_names, source="fuzz"), ops


def faults(clean: Analysis, read: Analysis) -> list[str]:
    """The faults of module docstring that ``read`` (of a garbled copy) shows."""
    out = []
    gained = ({s.code for s in read.statements if s.critical}
              - {s.code for s in clean.statements if s.critical})
    if gained:
        out.append("critical " + ",".join(sorted(gained)))
    if ("AF" in {s.code for s in read.statements}
            and "AF" not in {s.code for s in clean.statements}):
        out.append("AF")
    hr0, hr1 = clean.measurements.heart_rate_bpm, read.measurements.heart_rate_bpm
    if hr0 and hr1 and abs(hr1 - hr0) > 0.2 * hr0:
        out.append(f"HR {hr0:.0f} -> {hr1:.0f}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated read numbers to replay")
    args = ap.parse_args(argv)
    from bench.invariance import records
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    models = process_models()
    recs = records()
    if not recs:
        print("no records: ../shared/data is missing")
        return 1
    only = {int(v) for v in args.only.split(",") if v.strip()}
    last = max(only) if only else args.reads - 1
    rng = np.random.default_rng(args.seed)
    ecgs: dict[str, Ecg] = {}
    clean_reads: dict[str, Analysis] = {}

    per_op: dict[str, Counter[str]] = {op: Counter() for op in OPS}
    total: Counter[str] = Counter()
    cases: list[str] = []
    t0 = time.perf_counter()
    for n in range(last + 1):
        name, load = recs[int(rng.integers(len(recs)))]
        if name not in ecgs:
            ecgs[name] = load()
        garbled, ops = garble(ecgs[name], rng)  # drawn for every n, so that --only replays
        if only and n not in only:
            continue
        if name not in clean_reads:
            clean_reads[name] = analyze(ecgs[name], models=models)
        try:
            found = faults(clean_reads[name], analyze(garbled, models=models))
        except Exception as exc:  # a crash is what this bench counts
            found = [f"crash {type(exc).__name__}: {exc}"]
            if only:
                traceback.print_exc()
        kinds = {f.split(" ")[0] for f in found}
        total["reads"] += 1
        total.update(kinds)
        for op in {next(op for op in OPS if o.startswith(op)) for o in ops}:
            per_op[op]["reads"] += 1
            per_op[op].update(kinds)
        if found:
            cases.append(f"  {n:5d} {name:14s} {'; '.join(ops) or 'as is':44s} "
                         f"{' | '.join(found)}")
    took = time.perf_counter() - t0
    print(f"Garbled reads of {len(recs)} records (seed {args.seed}): {total['reads']} reads, "
          f"{took:.0f} s; per read, against the record's clean read")
    print("target: no crash, no critical statement gained, no AF gained, no HR off by > 20 %")
    print(f"{'fault in the copy':18s} {'reads':>6s} {'crash':>6s} {'critical':>9s} "
          f"{'AF':>5s} {'HR':>5s}")
    for op in OPS:
        c = per_op[op]
        print(f"{op:18s} {c['reads']:6d} {c['crash']:6d} {c['critical']:9d} {c['AF']:5d} "
              f"{c['HR']:5d}")
    print(f"{'all':18s} {total['reads']:6d} {total['crash']:6d} {total['critical']:9d} "
          f"{total['AF']:5d} {total['HR']:5d}")
    if cases:
        print(f"cases ({len(cases)}; replay with --only N):")
        print("\n".join(cases[:60]))
    return 0 if not (total["crash"] or total["critical"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Metamorphic read stability: harmless transformations of real ECGs must not change the read.

Records: a fixed sample of 20 LUDB records (every third of the test split; 12 leads, 500 Hz,
10 s), 10 QTDB records (10 s from 1 s before the first marked beat; 2 leads, 250 Hz, real
amplitudes) and the 10 CPSC 2018 records (first 10 s; 12 leads, 500 Hz). Each is read by
:func:`analyze` (default delineator), then each copy from :mod:`models.augment`:

    gain x0.5, gain x2, resampled to 100 / 250 / 500 / 1000 Hz (the native rate is skipped;
    100 Hz as PTB-XL's low-rate copies),
    50 Hz and 60 Hz mains (100 µV), 1 mV baseline wander at 0.3 Hz, a cart's 40 Hz
    low-pass (second-order Butterworth, zero phase; it takes pacing spikes away), EMG-like noise
    (150 µV RMS) in one lead (V2; QTDB: its second lead), muscle noise of 25 µV RMS in
    every lead (each its own, 20 Hz and above), one flat lead (same lead as the noisy one),
    leads I and II only (12-lead records), the window without its first 1 s; and two
    artefacts a cardiologist reads through: a 4.6 Hz tremor of the left-arm, right-arm or
    left-leg electrode (150 µV; leads II, III or I clean, two-lead Holter leads get half of
    it) and 2 s of motion artefact (1 mV at 2 Hz, from 4 s, a gain from -1 to +1 across
    the leads). Where the record's read has P and T waves in every RR interval, sinus
    arrhythmia: each diastole (T offset to next P onset) lengthened or shortened by up to
    20 % of the mean RR over a 4 s breathing cycle, the waves untouched
    (:func:`models.augment.modulate_diastole`).

Per copy, the properties of :func:`models.augment.read_changes`: rhythm family kept, no new
critical statement, heart rate within 3 bpm, PR and QRS within 12 ms, QT within 20 ms (a
measurement that appears or disappears counts as changed). Target: no failures.

Run::

    .venv/bin/python -m bench.invariance                 # all 40 records
    .venv/bin/python -m bench.invariance --limit 3 --jobs 2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecgread.models import augment
from ecgread.models.ecg import Ecg

if TYPE_CHECKING:
    from ecgread.models.analysis_result import Analysis

Transform = Callable[[Ecg], Ecg]
NOISE_RMS_UV = 150.0
#: Diastoles lengthened and shortened by up to this share of the mean RR (the RR range is
#: then about 40 % of the RR: marked respiratory sinus arrhythmia, as in the young).
SINUS_ARRHYTHMIA_DEPTH = 0.2
WORST = 25


def _fault_lead(ecg: Ecg) -> str:
    return "V2" if "V2" in ecg.lead_names else ecg.lead_names[-1]


def transformations(ecg: Ecg, base: Analysis | None = None) -> dict[str, Transform]:
    """The copies of ``ecg`` to read (name -> function); only those that apply to it
    (sinus arrhythmia where ``base``, the record's read, has a T wave and a P wave in
    every RR interval)."""
    fs = ecg.sampling_rate_hz
    lead = _fault_lead(ecg)
    out: dict[str, Transform] = {
        "gain x0.5": lambda e: augment.scale_gain(e, 0.5),
        "gain x2": lambda e: augment.scale_gain(e, 2.0),
    }
    for rate in (100.0, 250.0, 500.0, 1000.0):
        if rate != fs:
            out[f"{rate:.0f} Hz"] = lambda e, r=rate: augment.resample(e, r)  # type: ignore[misc]
    out.update({
        "50 Hz mains": lambda e: augment.add_mains(e, 50.0, 100.0),
        "60 Hz mains": lambda e: augment.add_mains(e, 60.0, 100.0),
        "wander 1 mV": lambda e: augment.add_baseline_wander(e, 1000.0, 0.3),
        "low-pass 40 Hz": lambda e: augment.low_pass(e, 40.0),
        "noisy lead": lambda e: augment.add_emg_noise(e, lead, NOISE_RMS_UV, seed=1),
        "muscle 25 µV": lambda e: augment.add_emg_noise(e, None, 25.0, seed=2),
        "flat lead": lambda e: augment.flatten_lead(e, lead, seed=1),
        "LA tremor": lambda e: augment.add_limb_tremor(e, "LA", 150.0, 4.6),
        "RA tremor": lambda e: augment.add_limb_tremor(e, "RA", 150.0, 4.6),
        "LL tremor": lambda e: augment.add_limb_tremor(e, "LL", 150.0, 4.6),
        "motion 2 s": lambda e: augment.add_motion_burst(e, 4.0, 2.0, 1000.0, 2.0),
    })
    if {"I", "II"} <= set(ecg.lead_names) and len(ecg.lead_names) > 2:
        out["I+II only"] = lambda e: augment.keep_leads(e, ("I", "II"))
    out["drop first 1 s"] = lambda e: augment.crop(e, 1.0)
    spans = augment.diastoles(base) if base is not None else None
    if spans is not None and len(spans) >= 3:
        out["sinus arrhythmia"] = lambda e: augment.modulate_diastole(
            e, spans, SINUS_ARRHYTHMIA_DEPTH, 4.0)
    return out


def records(limit: int = 0) -> list[tuple[str, Callable[[], Ecg]]]:
    """(name, loader) of the fixed sample; each loader returns the ECG to transform."""
    from bench import cpsc, qtdb
    from ecgread.integration import ludb

    out: list[tuple[str, Callable[[], Ecg]]] = []
    if ludb.available():
        test = [r for r in ludb.record_ids() if ludb.split(r) == "test"][::3][:20]
        out += [(f"ludb:{r}", lambda r=r: ludb.read_record(r)) for r in test]  # type: ignore[misc]

    def qt_window(name: str) -> Ecg:
        first = qtdb.marked_beats(name)[0].qrs.peak_s
        return augment.crop(qtdb.read_record(name), first - 1.0, first + 9.0)

    if qtdb.available():
        out += [(f"qtdb:{n}", lambda n=n: qt_window(n))  # type: ignore[misc]
                for n in qtdb.record_names()[::5][:10]]
    if cpsc.available():
        out += [(f"cpsc:{n}", lambda n=n: augment.crop(cpsc.read_record(n), 0.0, 10.0))  # type: ignore[misc]
                for n in sorted(cpsc.labels())]
    if limit:  # the first ``limit`` of each source
        sources = dict.fromkeys(name.split(":")[0] for name, _ in out)
        out = [
            x for src in sources
            for x in [y for y in out if y[0].startswith(src + ":")][:limit]]
    return out


@dataclass(frozen=True)
class CopyResult:
    record: str
    transform: str
    changes: tuple[augment.ReadChange, ...]
    error: str | None = None


def check_record(item: tuple[str, Callable[[], Ecg]]) -> tuple[str, str, list[CopyResult]]:
    """Read the record and every copy; (name, the record's rhythm families, results)."""
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    models = process_models()
    name, load = item
    ecg = load()
    base = analyze(ecg, models=models)
    summary = "+".join(sorted(augment.rhythm_families(base)))
    results = []
    for tname, fn in transformations(ecg, base).items():
        try:
            results.append(CopyResult(name, tname, augment.read_changes(
                base, analyze(fn(ecg), models=models))))
        except Exception as exc:  # noqa: BLE001  (a crash fails the copy, not the benchmark)
            results.append(CopyResult(name, tname, (), f"{type(exc).__name__}: {exc}"))
    return name, summary, results


def _check_named(name: str, limit: int) -> tuple[str, str, list[CopyResult]]:
    """:func:`check_record` of the record called ``name`` (in a worker process)."""
    return check_record(next(x for x in records(limit) if x[0] == name))


def _excess(c: augment.ReadChange) -> float:
    """How far beyond its tolerance a change went (critical and rhythm first)."""
    if c.property == "critical":
        return 1e9
    if c.property == "rhythm":
        return 1e6
    try:
        return abs(float(c.after) - float(c.before)) / augment.TOLERANCES[c.property]
    except ValueError:  # measured in one read only
        return 1e3


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="first N records of each source")
    ap.add_argument("--jobs", type=int, default=1, help="processes")
    args = ap.parse_args(argv)
    items = records(args.limit)
    if not items:
        raise SystemExit("no LUDB, QTDB or CPSC records found under ../shared/data")
    t0 = time.perf_counter()
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs) as pool:  # loaders are lambdas: send names
            done = list(pool.map(_check_named, [name for name, _ in items],
                                 [args.limit] * len(items)))
    else:
        done = [check_record(x) for x in items]
    results = [r for _, _, rs in done for r in rs]
    sources = sorted({name.split(":")[0] for name, _ in items})
    print(f"Read stability under harmless transformations: {len(items)} records "
          f"({', '.join(f'{s} {sum(n.startswith(s) for n, _ in items)}' for s in sources)}), "
          f"{len(results)} copies, {time.perf_counter() - t0:.0f} s")
    print("target: every copy keeps its rhythm family, gains no critical statement, HR within "
          "3 bpm, PR/QRS within 12 ms, QT within 20 ms (failures per property below)")
    props = augment.PROPERTIES
    head = {"heart_rate_bpm": "HR", "pr_ms": "PR", "qrs_ms": "QRS", "qt_ms": "QT"}
    print(f"{'transformation':<16} {'copies':>6} {'changed':>7} {'crash':>5} "
          + " ".join(f"{head.get(p, p):>8}" for p in props))
    order = list(dict.fromkeys(r.transform for r in results))
    for tname in order + ["all"]:
        rs = [r for r in results if tname in ("all", r.transform)]
        per = {p: sum(any(c.property == p for c in r.changes) for r in rs) for p in props}
        changed = sum(bool(r.changes or r.error) for r in rs)
        crash = sum(r.error is not None for r in rs)
        print(f"{tname:<16} {len(rs):>6} {changed:>7} {crash:>5} "
              + " ".join(f"{per[p]:>8}" for p in props))
    print("by source (copies changed / copies):", ", ".join(
        f"{s} {sum(bool(r.changes or r.error) for r in results if r.record.startswith(s))}"
        f"/{sum(r.record.startswith(s) for r in results)}" for s in sources))
    worst = sorted(((c, r) for r in results for c in r.changes),
                   key=lambda x: -_excess(x[0]))[:WORST]
    rhythm_of = {name: summary for name, summary, _ in done}
    print(f"worst cases ({len(worst)} of {sum(len(r.changes) for r in results)} changes):")
    for c, r in worst:
        print(f"  {r.record:<14} {r.transform:<15} {c.property:<15} {c.before} -> {c.after}"
              f"   (read: {rhythm_of[r.record] or '-'})")
    for r in results:
        if r.error:
            print(f"  CRASH {r.record} {r.transform}: {r.error}")


if __name__ == "__main__":
    main()

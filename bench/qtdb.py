"""QT Database delineation benchmark, Martinez 2004 protocol: ours (and NeuroKit2) per beat.

Data: the 53 QTDB records in ``../shared/data/qtdb`` (Laguna P et al., "A database for
evaluation of algorithms for measurement of QT and other waveform intervals in the ECG",
Computers in Cardiology 1997;24:673; PhysioNet, ODC-By 1.0): two leads, 250 Hz, 15 min,
real amplitudes from other devices than LUDB. Reference: the first cardiologist's marks
(``.q1c``) on about 30 beats per record.

Protocol (Martinez JP et al., "A wavelet-based ECG delineator: evaluation on standard
databases", IEEE TBME 2004;51:570): the marked stretch of the record (10 s margins) is read
by :func:`analyze` as a 2-lead ECG at 250 Hz (and, in the "/whole" row, the whole 15-min
record: the protocol as published); for each annotated wave and each lead, the detection of
the same type whose peak is nearest the annotated peak within 150 ms
(:data:`ecgread.models.scoring.MATCH_WINDOW_S`); for each annotated boundary (P on/off, QRS
on/off, T peak, T off) the lead with the smaller error is taken; errors are detected -
annotated in ms, mean ± SD over all annotated boundaries. A wave is found when either lead
has a match. A P wave "on a beat without one": an annotated QRS with no marked P before it,
and a detected P (either lead) whose peak lies 40-400 ms before the annotated QRS peak.

Targets (Martinez 2004 on QTDB): SD <= 14.8 / 12.8 / 7.7 / 8.7 / 18.1 ms for P on, P off,
QRS on, QRS off, T off; |mean| <= 5 ms; >= 97 % of P waves found; a P wave on <= 10 % of the
beats without one.

Run::

    .venv/bin/python -m bench.qtdb                     # ours (default delineator: fused)
    .venv/bin/python -m bench.qtdb --neurokit          # + NeuroKit2 (DWT) side by side
    .venv/bin/python -m bench.qtdb --delineator dsp --limit 10
    .venv/bin/python -m bench.qtdb --global            # + our global QRS and QT vs the marks
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.delineation_ludb import Detected
from ecgread.models.ecg import Ecg
from ecgread.models.results import Wave
from ecgread.models.scoring import MATCH_WINDOW_S

#: Where CI and developers find the data: ../shared/data/qtdb beside the checkout.
QTDB_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "qtdb"
BOUNDARIES = ("P onset", "P offset", "QRS onset", "QRS offset", "T peak", "T offset")
#: Martinez 2004 on QTDB: SD targets (ms); |mean| <= 5 ms for all.
SD_TARGETS_MS = {"P onset": 14.8, "P offset": 12.8, "QRS onset": 7.7, "QRS offset": 8.7,
                 "T offset": 18.1}
P_FOUND_TARGET = 97.0
P_ON_NONE_TARGET = 10.0
_SYMBOL_TO_WAVE = {"p": "P", "N": "QRS", "t": "T"}
#: Each method reads the marked stretch of the record (about 30 s to 4 min) with this margin
#: on both sides, so NeuroKit2 runs in minutes rather than over the whole 15 min.
WINDOW_MARGIN_S = 10.0


@dataclass(frozen=True)
class MarkedWave:
    """One cardiologist-marked wave; a boundary not marked is None (times in s)."""

    type: str
    onset_s: float | None
    peak_s: float
    offset_s: float | None


@dataclass(frozen=True)
class MarkedBeat:
    qrs: MarkedWave
    p: MarkedWave | None  # None: the cardiologist marked no P wave on this beat
    t: MarkedWave | None


def available() -> bool:
    return (QTDB_DIR / "RECORDS").is_file()


def record_names() -> list[str]:
    return (QTDB_DIR / "RECORDS").read_text().split()


def read_record(name: str) -> Ecg:
    """The whole 2-lead record in µV, as :func:`integration.wfdb_read.read_wfdb` reads it."""
    from ecgread.integration.wfdb_read import read_wfdb

    return read_wfdb(QTDB_DIR / name)


def marked_beats(name: str, annotator: str = "q1c") -> list[MarkedBeat]:
    """The annotated beats: each marked QRS with the P marked before it (after the previous
    QRS) and the T marked after it (before the next QRS). ``(`` and ``)`` around a peak mark
    are its onset and offset when present."""
    import wfdb

    ann = wfdb.rdann(str(QTDB_DIR / name), annotator)
    fs = float(ann.fs or 250.0)
    sym, smp = list(ann.symbol), [int(s) / fs for s in ann.sample]
    waves: list[MarkedWave] = []
    for i, s in enumerate(sym):
        if s not in _SYMBOL_TO_WAVE:
            continue
        on = smp[i - 1] if i > 0 and sym[i - 1] == "(" else None
        off = smp[i + 1] if i + 1 < len(sym) and sym[i + 1] == ")" else None
        waves.append(MarkedWave(_SYMBOL_TO_WAVE[s], on, smp[i], off))
    beats: list[MarkedBeat] = []
    for k, w in enumerate(waves):
        if w.type != "QRS":
            continue
        prev_p = waves[k - 1] if k > 0 and waves[k - 1].type == "P" else None
        next_t = waves[k + 1] if k + 1 < len(waves) and waves[k + 1].type == "T" else None
        beats.append(MarkedBeat(w, prev_p, next_t))
    return beats


@dataclass
class QtdbScore:
    err_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    marked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    beats_without_p: int = 0
    p_on_beats_without_p: int = 0

    def add(self, other: QtdbScore) -> None:
        for k, v in other.err_ms.items():
            self.err_ms[k].extend(v)
        for k, n in other.marked.items():
            self.marked[k] += n
        for k, n in other.found.items():
            self.found[k] += n
        self.beats_without_p += other.beats_without_p
        self.p_on_beats_without_p += other.p_on_beats_without_p


def _nearest(detected: Detected, lead: str, wtype: str, peak_s: float) -> Wave | None:
    cands = [d for d in detected.get(lead, ()) if d.type == wtype
             and np.isfinite(d.peak_s) and abs(d.peak_s - peak_s) <= MATCH_WINDOW_S]
    return min(cands, key=lambda d: abs(d.peak_s - peak_s)) if cands else None


def score_record(beats: list[MarkedBeat], detected: Detected) -> QtdbScore:
    """Martinez 2004 scoring of one record (see the module docstring)."""
    sc = QtdbScore()
    leads = list(detected)
    for b in beats:
        for w in (b.p, b.qrs, b.t):
            if w is None:
                continue
            matches = [m for ld in leads if (m := _nearest(detected, ld, w.type, w.peak_s))]
            sc.marked[w.type] += 1
            sc.found[w.type] += bool(matches)
            marks: dict[str, float | None] = {"onset": w.onset_s, "offset": w.offset_s}
            if w.type == "T":
                marks = {"peak": w.peak_s, "offset": w.offset_s}
            for point, ref in marks.items():
                errs = [1000.0 * (getattr(m, f"{point}_s") - ref) for m in matches
                        if ref is not None and np.isfinite(getattr(m, f"{point}_s"))]
                if errs:  # the better of the two leads
                    sc.err_ms[f"{w.type} {point}"].append(min(errs, key=abs))
        if b.p is None:
            sc.beats_without_p += 1
            r = b.qrs.peak_s
            sc.p_on_beats_without_p += any(
                d.type == "P" and r - 0.400 <= d.peak_s <= r - 0.040
                for ld in leads for d in detected[ld])
    return sc


def detect_ours(ecg: Ecg, delineator: str) -> Detected:
    from ecgread.models.analysis import analyze
    from ecgread.models.dsp_config import AnalysisConfig
    from ecgread.workers.onnx_models import process_models

    a = analyze(ecg, AnalysisConfig(delineator=delineator),  # type: ignore[arg-type]
                models=process_models())
    return {lead: a.waves.get(lead, ()) for lead in ecg.lead_names}


def _run_one(args: tuple[str, str]) -> tuple[str, QtdbScore, float]:
    """Score ``method`` on record ``name``; a method ending in "/whole" reads all 15 min."""
    method, name = args
    from bench.delineation_ludb import neurokit_waves

    beats = marked_beats(name)
    method, _, whole = method.partition("/")
    ecg, start_s = (read_record(name), 0.0) if whole else marked_window(read_record(name),
                                                                          beats)
    t0 = time.perf_counter()
    det = neurokit_waves(ecg) if method == "neurokit2" else detect_ours(ecg, method)
    det = {ld: tuple(Wave(w.type, w.onset_s + start_s, w.peak_s + start_s, w.offset_s + start_s)
                     for w in ws) for ld, ws in det.items()}
    return name, score_record(beats, det), time.perf_counter() - t0


def marked_window(ecg: Ecg, beats: list[MarkedBeat], margin_s: float = WINDOW_MARGIN_S
                  ) -> tuple[Ecg, float]:
    """The part of the record from ``margin_s`` before the first marked beat to
    ``margin_s`` after the last, and the time (s) of its first sample in the record."""
    fs = ecg.sampling_rate_hz
    lo = max(0, int((beats[0].qrs.peak_s - margin_s) * fs)) if beats else 0
    hi = min(ecg.n_samples, int((beats[-1].qrs.peak_s + margin_s) * fs)) if beats else None
    return (Ecg(ecg.signal_uv[:, lo:hi], fs, ecg.lead_names, ecg.acquisition,
                f"{ecg.source}[{lo}:{hi}]"), lo / fs)


def evaluate(method: str, names: list[str], jobs: int = 1
             ) -> tuple[QtdbScore, dict[str, QtdbScore], float]:
    tasks = [(method, n) for n in names]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_run_one, tasks))
    else:
        results = [_run_one(t) for t in tasks]
    total = QtdbScore()
    for _, sc, _ in results:
        total.add(sc)
    return total, {n: sc for n, sc, _ in results}, sum(dt for _, _, dt in results)


def format_rows(name: str, sc: QtdbScore) -> list[str]:
    cells = []
    for key in BOUNDARIES:
        e = np.asarray(sc.err_ms[key])
        cells.append(f"{e.mean():+6.1f} ± {e.std():4.1f}" if e.size else f"{'n/a':>13}")
    found = " ".join(f"{100.0 * sc.found[w] / max(sc.marked[w], 1):5.1f}"
                     for w in ("P", "QRS", "T"))
    p_none = 100.0 * sc.p_on_beats_without_p / max(sc.beats_without_p, 1)
    return [f"{name:<11} " + " ".join(f"{c:>13}" for c in cells)
            + f"  {found}  {p_none:5.1f} ({sc.p_on_beats_without_p}/{sc.beats_without_p})"]


def marked_global_ms(beats: list[MarkedBeat]) -> dict[str, float | None]:
    """The cardiologist's global QRS duration and QT of a record, ms: the median over the
    marked beats of QRS offset - onset and T offset - QRS onset (None with < 5 beats)."""
    qrs = [1000 * (b.qrs.offset_s - b.qrs.onset_s) for b in beats
           if b.qrs.onset_s is not None and b.qrs.offset_s is not None]
    qt = [1000 * (b.t.offset_s - b.qrs.onset_s) for b in beats
          if b.t is not None and b.t.offset_s is not None and b.qrs.onset_s is not None]
    return {"qrs_ms": float(np.median(qrs)) if len(qrs) >= 5 else None,
            "qt_ms": float(np.median(qt)) if len(qt) >= 5 else None}


def global_window(name: str) -> Ecg:
    """30 s of the record from 1 s before its first marked beat, as the global rows read it."""
    from ecgread.models import augment

    t0 = marked_beats(name)[0].qrs.peak_s
    return augment.crop(read_record(name), max(0.0, t0 - 1.0), t0 + 29.0)


def global_rows(names: list[str], delineator: str) -> list[str]:
    """Ours minus the cardiologist's global QRS and QT, one value per record."""
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.workers.onnx_models import process_models

    models = process_models()
    diffs: dict[str, list[float]] = {"qrs_ms": [], "qt_ms": []}
    for name in names:
        ref = marked_global_ms(marked_beats(name))
        if ref["qrs_ms"] is None:
            continue
        m = analyze(global_window(name), AnalysisConfig(delineator=delineator),
                    models=models).measurements
        for k in diffs:
            ours, r = getattr(m, k), ref[k]
            if ours is not None and r is not None:
                diffs[k].append(ours - r)
    rows = [f"{'global':<8} {'records':>7} {'mean':>7} {'SD':>6} {'within':>7} {'|d|>30':>7}"]
    for k, within in (("qrs_ms", 10.0), ("qt_ms", 15.0)):
        d = np.asarray(diffs[k])
        rows.append(f"{k:<8} {d.size:>7} {d.mean():>+7.1f} {d.std():>6.1f} "
                    f"{np.mean(np.abs(d) <= within):>6.0%} {int((np.abs(d) > 30).sum()):>7}"
                    f"   (within {within:g} ms)")
    return rows


def targets_report(sc: QtdbScore) -> list[str]:
    lines = []
    for key, sd_max in SD_TARGETS_MS.items():
        e = np.asarray(sc.err_ms[key])
        ok = e.size and e.std() <= sd_max and abs(e.mean()) <= 5
        lines.append(f"  {key:<10} SD <= {sd_max} ms, |mean| <= 5 ms: "
                     f"{'met' if ok else 'NOT met'} ({e.mean():+.1f} ± {e.std():.1f}, "
                     f"n={e.size})")
    found = 100.0 * sc.found["P"] / max(sc.marked["P"], 1)
    lines.append(f"  P waves found >= {P_FOUND_TARGET} %: "
                 f"{'met' if found >= P_FOUND_TARGET else 'NOT met'} ({found:.1f} %, "
                 f"{sc.found['P']}/{sc.marked['P']})")
    none = 100.0 * sc.p_on_beats_without_p / max(sc.beats_without_p, 1)
    lines.append(f"  P wave on beats marked without one <= {P_ON_NONE_TARGET} %: "
                 f"{'met' if none <= P_ON_NONE_TARGET else 'NOT met'} ({none:.1f} %, "
                 f"{sc.p_on_beats_without_p}/{sc.beats_without_p})")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--delineator", choices=("fused", "dsp", "network"), default="fused")
    ap.add_argument("--neurokit", action="store_true", help="add NeuroKit2 (DWT) rows")
    ap.add_argument("--jobs", type=int, default=1, help="processes")
    ap.add_argument("--limit", type=int, default=0, help="first N records")
    ap.add_argument("--per-record", action="store_true", help="a row per record too")
    ap.add_argument("--global", dest="global_", action="store_true",
                    help="also our global QRS and QT against the cardiologist's (per record)")
    args = ap.parse_args(argv)
    if not available():
        raise SystemExit(f"QTDB not found at {QTDB_DIR}")
    names = record_names()[:args.limit or None]
    methods = [args.delineator, f"{args.delineator}/whole"] + (
        ["neurokit2"] if args.neurokit else [])
    results = {m: evaluate(m, names, args.jobs) for m in methods}
    n_beats = sum(len(marked_beats(n)) for n in names)
    print(f"QTDB delineation (Martinez 2004 protocol), {len(names)} records, {n_beats} beats "
          f"marked by cardiologist 1 (q1c); better of the two leads; match window "
          f"{MATCH_WINDOW_S * 1000:.0f} ms; errors detected - marked, mean ± SD ms; each "
          f"method reads the marked stretch +- {WINDOW_MARGIN_S:g} s, '/whole' the whole "
          f"15-min record")
    print(f"{'method':<11} " + " ".join(f"{k:>13}" for k in BOUNDARIES)
          + "  found % P/QRS/T  P on no-P beats %")
    for m, (sc, _, _) in results.items():
        for row in format_rows(m, sc):
            print(row)
    print(f"{'target':<11} " + " ".join(
        f"{('|m|<=5 SD<=' + str(SD_TARGETS_MS[k])) if k in SD_TARGETS_MS else '':>13}"
        for k in BOUNDARIES) + f"  >= {P_FOUND_TARGET:g} (P)       <= {P_ON_NONE_TARGET:g}")
    if args.per_record:
        for m, (_, per, _) in results.items():
            for n, sc in per.items():
                for row in format_rows(f"{m[:5]}:{n}", sc):
                    print(row)
    print("time: " + ", ".join(f"{m} {t:.0f} s" for m, (_, _, t) in results.items()))
    for m in methods[:2]:
        print(f"targets ({m}):")
        for line in targets_report(results[m][0]):
            print(line)
    if args.global_:
        print(f"\nglobal intervals ({args.delineator}): ours minus the cardiologist's marks "
              "(median over the marked beats of each record; 30 s from 1 s before the first)")
        for line in global_rows(names, args.delineator):
            print(line)


if __name__ == "__main__":
    main()

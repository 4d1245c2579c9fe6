"""LUDB delineation benchmark: ours vs NeuroKit2 (DWT), per wave type.

Protocol (after the LUDB literature, e.g. Kalyakulina et al. 2020 and Moskalenko et al.
2020): each expert wave is matched one-to-one with the detected wave of the same type in
the same lead whose peak is nearest, within 150 ms. Only detections whose peak lies in
the lead's annotated span (first expert onset to last expert offset of that lead) count.
Se = TP / (TP + FN), PPV = TP / (TP + FP); errors are detected minus expert, in ms, over
matched pairs: mean +- SD for P onset/offset, QRS onset/offset, T onset/offset.

Run::

    .venv/bin/python -m bench.delineation_ludb                # test split, ours + NeuroKit2
    .venv/bin/python -m bench.delineation_ludb --records tune --no-neurokit
    .venv/bin/python -m bench.delineation_ludb --records all --limit 20 --jobs 2
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bench import ludb

MATCH_S = 0.150
Detected = dict[str, list[tuple[str, float, float, float]]]  # lead -> (type, on, peak, off)

TARGETS = {  # issue 3: Se/PPV (%), |mean| and SD (ms)
    "QRS": 99.5, "P": 97.0, "T": 98.5,
    "P onset": 10, "P offset": 11, "QRS onset": 8, "QRS offset": 9, "T offset": 16,
}


@dataclass
class Score:
    tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fn: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    err_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, other: "Score") -> None:
        for name in ("tp", "fn", "fp"):
            for k, v in getattr(other, name).items():
                getattr(self, name)[k] += v
        for k, v in other.err_ms.items():
            self.err_ms[k].extend(v)


def score_record(expert: dict[str, list[ludb.ExpertWave]], detected: Detected) -> Score:
    sc = Score()
    for lead, ews in expert.items():
        if not ews:
            continue
        span_lo = min(w.onset_s for w in ews)
        span_hi = max(w.offset_s for w in ews)
        for wtype in ("P", "QRS", "T"):
            ex = [w for w in ews if w.type == wtype]
            de = [d for d in detected.get(lead, []) if d[0] == wtype
                  and span_lo <= d[2] <= span_hi]
            pairs = sorted((abs(e.peak_s - d[2]), i, j) for i, e in enumerate(ex)
                           for j, d in enumerate(de) if abs(e.peak_s - d[2]) <= MATCH_S)
            used_e: set[int] = set()
            used_d: set[int] = set()
            for _, i, j in pairs:
                if i in used_e or j in used_d:
                    continue
                used_e.add(i)
                used_d.add(j)
                e, d = ex[i], de[j]
                if np.isfinite(d[1]):
                    sc.err_ms[f"{wtype} onset"].append(1000 * (d[1] - e.onset_s))
                if np.isfinite(d[3]):
                    sc.err_ms[f"{wtype} offset"].append(1000 * (d[3] - e.offset_s))
            sc.tp[wtype] += len(used_e)
            sc.fn[wtype] += len(ex) - len(used_e)
            sc.fp[wtype] += len(de) - len(used_d)
    return sc


def detect_ours(record_id: int) -> Detected:
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    a = analyze(ludb.read_record(record_id), models=process_models())
    return {lead: [(w.type, w.onset_s, w.peak_s, w.offset_s) for w in ws]
            for lead, ws in a.waves.items()}


def detect_neurokit(record_id: int) -> Detected:
    """NeuroKit2 per lead: ecg_clean, ecg_peaks, ecg_delineate(method="dwt")."""
    import neurokit2 as nk

    ecg = ludb.read_record(record_id)
    fs = ecg.sampling_rate_hz
    out: Detected = {}
    for i, lead in enumerate(ecg.lead_names):
        x = np.nan_to_num(ecg.signal_uv[i].astype(float)) / 1000.0
        waves: list[tuple[str, float, float, float]] = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clean = nk.ecg_clean(x, sampling_rate=fs)
                _, info = nk.ecg_peaks(clean, sampling_rate=fs)
                rp = np.asarray(info["ECG_R_Peaks"], dtype=int)
                _, d = nk.ecg_delineate(clean, rp, sampling_rate=fs, method="dwt")
        except Exception:  # NeuroKit fails on some leads; count as no detections
            out[lead] = waves
            continue

        def arr(key: str) -> np.ndarray:
            return np.asarray(d.get(key, [np.nan] * len(rp)), dtype=float)

        for wtype, on_k, pk, off_k in (("P", "ECG_P_Onsets", "ECG_P_Peaks", "ECG_P_Offsets"),
                                       ("QRS", "ECG_R_Onsets", None, "ECG_R_Offsets"),
                                       ("T", "ECG_T_Onsets", "ECG_T_Peaks", "ECG_T_Offsets")):
            on, off = arr(on_k), arr(off_k)
            peak = rp.astype(float) if pk is None else arr(pk)
            for a, b, c in zip(on, peak, off):
                if np.isfinite(b):
                    waves.append((wtype, a / fs, b / fs, c / fs))
        out[lead] = waves
    return out


def _run_one(args: tuple[str, int]) -> tuple[Score, float]:
    method, rid = args
    t0 = time.perf_counter()
    det = detect_ours(rid) if method == "ours" else detect_neurokit(rid)
    dt = time.perf_counter() - t0
    return score_record(ludb.expert_waves(rid), det), dt


def evaluate(method: str, records: list[int], jobs: int = 1) -> tuple[Score, float]:
    total = Score()
    seconds = 0.0
    tasks = [(method, rid) for rid in records]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_run_one, tasks, chunksize=2))
    else:
        results = [_run_one(t) for t in tasks]
    for sc, dt in results:
        total.add(sc)
        seconds += dt
    return total, seconds


def format_rows(name: str, sc: Score) -> list[str]:
    rows = []
    for w in ("P", "QRS", "T"):
        tp, fn, fp = sc.tp[w], sc.fn[w], sc.fp[w]
        se = 100.0 * tp / max(tp + fn, 1)
        ppv = 100.0 * tp / max(tp + fp, 1)
        cells = []
        for pt in ("onset", "offset"):
            e = np.asarray(sc.err_ms[f"{w} {pt}"])
            cells.append(f"{e.mean():+6.1f} ± {e.std():5.1f}" if e.size else "   n/a        ")
        rows.append(f"{name:<10} {w:<4} {tp + fn:>6} {se:7.2f} {ppv:7.2f}  "
                    f"{cells[0]:>15}  {cells[1]:>15}")
    return rows


def targets_report(sc: Score) -> list[str]:
    lines = []
    for w in ("P", "QRS", "T"):
        tp, fn, fp = sc.tp[w], sc.fn[w], sc.fp[w]
        se, ppv = 100.0 * tp / max(tp + fn, 1), 100.0 * tp / max(tp + fp, 1)
        ok = se >= TARGETS[w] and ppv >= TARGETS[w]
        lines.append(f"  {w:<10} Se/PPV >= {TARGETS[w]}%: {'met' if ok else 'NOT met'}"
                     f" ({se:.2f}/{ppv:.2f})")
    for key in ("P onset", "P offset", "QRS onset", "QRS offset", "T offset"):
        e = np.asarray(sc.err_ms[key])
        if not e.size:
            continue
        ok = e.std() <= TARGETS[key] and abs(e.mean()) <= 5
        lines.append(f"  {key:<10} SD <= {TARGETS[key]} ms, |mean| <= 5 ms: "
                     f"{'met' if ok else 'NOT met'} ({e.mean():+.1f} ± {e.std():.1f})")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", choices=("tune", "test", "all"), default="test")
    ap.add_argument("--limit", type=int, default=0, help="first N records of the split")
    ap.add_argument("--jobs", type=int, default=2, help="processes for NeuroKit2")
    ap.add_argument("--no-neurokit", action="store_true")
    args = ap.parse_args(argv)
    if not ludb.available():
        raise SystemExit(f"LUDB not found at {ludb.LUDB_DIR}")
    recs = [r for r in ludb.record_ids() if args.records == "all" or ludb.split(r) == args.records]
    if args.limit:
        recs = recs[:args.limit]
    print(f"LUDB delineation, {len(recs)} records ({args.records} split), match window "
          f"{MATCH_S * 1000:.0f} ms, detections counted inside each lead's annotated span")
    print(f"{'method':<10} {'wave':<4} {'expert':>6} {'Se %':>7} {'PPV %':>7}  "
          f"{'onset err ms':>15}  {'offset err ms':>15}")
    ours, t_ours = evaluate("ours", recs, jobs=1)
    for row in format_rows("ours", ours):
        print(row)
    if not args.no_neurokit:
        nk_sc, t_nk = evaluate("neurokit2", recs, jobs=args.jobs)
        for row in format_rows("neurokit2", nk_sc):
            print(row)
        print(f"time: ours {t_ours:.1f} s, neurokit2 {t_nk:.1f} s (sum over records)")
    else:
        print(f"time: ours {t_ours:.1f} s")
    print("targets (ours):")
    for line in targets_report(ours):
        print(line)


if __name__ == "__main__":
    main()

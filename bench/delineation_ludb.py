"""LUDB delineation benchmark: ours vs NeuroKit2 (DWT), per wave type.

Protocol and scoring: :mod:`ecgread.models.scoring` (after the LUDB literature): each expert
wave is matched one-to-one with the detected wave of the same type in the same lead whose
peak is nearest, within 150 ms; only detections whose peak lies in the lead's annotated span
count. Se, PPV, and mean +- SD of the boundary errors (detected minus expert, ms) for P
onset/offset, QRS onset/offset, T onset/offset. This module reads the records and prints.

Run::

    .venv/bin/python -m bench.delineation_ludb                # test split, ours + NeuroKit2
    .venv/bin/python -m bench.delineation_ludb --records tune --no-neurokit
    .venv/bin/python -m bench.delineation_ludb --records all --limit 20 --jobs 2
"""

from __future__ import annotations

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ecgread.integration import ludb
from ecgread.models.ecg import Ecg
from ecgread.models.results import Wave, WaveType
from ecgread.models.scoring import MATCH_WINDOW_S, DelineationScore, score_delineation

Detected = dict[str, tuple[Wave, ...]]  # lead -> its detected waves

TARGETS = {  # issue 3: Se/PPV (%), |mean| and SD (ms)
    "QRS": 99.5, "P": 97.0, "T": 98.5,
    "P onset": 10, "P offset": 11, "QRS onset": 8, "QRS offset": 9, "T offset": 16,
}


def detect_ours(record_id: int) -> Detected:
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    return dict(analyze(ludb.read_record(record_id), models=process_models()).waves)


def detect_neurokit(record_id: int) -> Detected:
    return neurokit_waves(ludb.read_record(record_id))


def neurokit_waves(ecg: Ecg) -> Detected:
    """NeuroKit2 per lead: ecg_clean, ecg_peaks, ecg_delineate(method="dwt")."""
    import neurokit2 as nk

    fs = ecg.sampling_rate_hz
    out: Detected = {}
    for i, lead in enumerate(ecg.lead_names):
        x = np.nan_to_num(ecg.signal_uv[i].astype(float)) / 1000.0
        waves: list[Wave] = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clean = nk.ecg_clean(x, sampling_rate=fs)
                _, info = nk.ecg_peaks(clean, sampling_rate=fs)
                rp = np.asarray(info["ECG_R_Peaks"], dtype=int)
                _, d = nk.ecg_delineate(clean, rp, sampling_rate=fs, method="dwt")
        except Exception:  # NeuroKit fails on some leads; count as no detections
            out[lead] = ()
            continue

        def arr(key: str, d: dict = d, rp: np.ndarray = rp) -> np.ndarray:
            return np.asarray(d.get(key, [np.nan] * len(rp)), dtype=float)

        keys: tuple[tuple[WaveType, str, str | None, str], ...] = (
            ("P", "ECG_P_Onsets", "ECG_P_Peaks", "ECG_P_Offsets"),
            ("QRS", "ECG_R_Onsets", None, "ECG_R_Offsets"),
            ("T", "ECG_T_Onsets", "ECG_T_Peaks", "ECG_T_Offsets"))
        for wtype, on_k, pk, off_k in keys:
            on, off = arr(on_k), arr(off_k)
            peak = rp.astype(float) if pk is None else arr(pk)
            for a, b, c in zip(on, peak, off, strict=True):
                if np.isfinite(b):
                    waves.append(Wave(wtype, float(a / fs), float(b / fs), float(c / fs)))
        out[lead] = tuple(waves)
    return out


def _run_one(args: tuple[str, int]) -> tuple[DelineationScore, float]:
    method, rid = args
    t0 = time.perf_counter()
    det = detect_ours(rid) if method == "ours" else detect_neurokit(rid)
    dt = time.perf_counter() - t0
    return score_delineation(ludb.expert_waves(rid), det), dt


def evaluate(method: str, records: list[int], jobs: int = 1) -> tuple[DelineationScore, float]:
    total = DelineationScore()
    seconds = 0.0
    tasks = [(method, rid) for rid in records]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_run_one, tasks, chunksize=2))
    else:
        results = [_run_one(t) for t in tasks]
    for sc, dt in results:
        total += sc
        seconds += dt
    return total, seconds


def _pct(value: float | None) -> float:
    """A percentage as the tables print it: 0 where it is undefined (nothing to count)."""
    return 0.0 if value is None else value


def format_rows(name: str, sc: DelineationScore) -> list[str]:
    rows = []
    for w in ("P", "QRS", "T"):
        se, ppv = _pct(sc.sensitivity_pct(w)), _pct(sc.ppv_pct(w))
        cells = []
        for pt in ("onset", "offset"):
            st = sc.error_stats(f"{w} {pt}")
            cells.append(f"{st.mean_ms:+6.1f} ± {st.sd_ms:5.1f}" if st else "   n/a        ")
        rows.append(f"{name:<10} {w:<4} {sc.tp[w] + sc.fn[w]:>6} {se:7.2f} {ppv:7.2f}  "
                    f"{cells[0]:>15}  {cells[1]:>15}")
    return rows


def targets_report(sc: DelineationScore) -> list[str]:
    lines = []
    for w in ("P", "QRS", "T"):
        se, ppv = _pct(sc.sensitivity_pct(w)), _pct(sc.ppv_pct(w))
        ok = se >= TARGETS[w] and ppv >= TARGETS[w]
        lines.append(f"  {w:<10} Se/PPV >= {TARGETS[w]}%: {'met' if ok else 'NOT met'}"
                     f" ({se:.2f}/{ppv:.2f})")
    for key in ("P onset", "P offset", "QRS onset", "QRS offset", "T offset"):
        st = sc.error_stats(key)
        if st is None:
            continue
        ok = st.sd_ms <= TARGETS[key] and abs(st.mean_ms) <= 5
        lines.append(f"  {key:<10} SD <= {TARGETS[key]} ms, |mean| <= 5 ms: "
                     f"{'met' if ok else 'NOT met'} ({st.mean_ms:+.1f} ± {st.sd_ms:.1f})")
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
          f"{MATCH_WINDOW_S * 1000:.0f} ms, detections counted inside each lead's annotated span")
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

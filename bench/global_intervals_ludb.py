"""Global intervals (PR, QRS, QT, P) on LUDB vs a reference built from the per-lead
expert annotations, against the IEC 60601-2-25 goals.

Reference, per record: beats are the expert QRS annotations of the lead with the most
of them; for each beat, the QRS annotations of all leads whose peak is within 100 ms of
it form that beat's QRS: reference QRS onset = earliest expert onset over leads, QRS
offset = latest expert offset over leads; P onset/offset = earliest onset / latest
offset of the expert P waves (all leads) peaking within 400 ms before that QRS onset;
T offset = latest expert T offset over leads of the T waves peaking between the QRS
offset and the next beat. PR = QRS onset - P onset, QRS = QRS offset - QRS onset,
QT = T offset - QRS onset, P = P offset - P onset. The record's reference value is
the median over its beats that have the needed waves. Ours: ``analyze(...).measurements``.
Difference = ours - reference, per record; mean and SD over records. Records where
either side has no value are counted, not scored (e.g. no P in AF).

IEC 60601-2-25 (2011) 201.12.4.4.101 goals: mean within +-10 ms and SD <= 10 ms for PR
and QRS, mean within +-25 ms and SD <= 30 ms for QT (P: reported only).

Run::

    .venv/bin/python -m bench.global_intervals_ludb              # test split
    .venv/bin/python -m bench.global_intervals_ludb --records all
"""

from __future__ import annotations

import argparse

import numpy as np

from ecgread.integration import ludb

GOALS = {"pr_ms": (10.0, 10.0), "qrs_ms": (10.0, 10.0), "qt_ms": (25.0, 30.0), "p_ms": None}


def reference(expert: dict[str, list[ludb.ExpertWave]]) -> dict[str, float | None]:
    allw = [w for ws in expert.values() for w in ws]
    qrs_by_lead = {lead: [w for w in ws if w.type == "QRS"] for lead, ws in expert.items()}
    ref_lead = max(qrs_by_lead, key=lambda k: len(qrs_by_lead[k]))
    beats = sorted(qrs_by_lead[ref_lead], key=lambda w: w.peak_s)
    vals: dict[str, list[float]] = {"pr_ms": [], "qrs_ms": [], "qt_ms": [], "p_ms": []}
    for i, b in enumerate(beats):
        same = [w for w in allw if w.type == "QRS" and abs(w.peak_s - b.peak_s) <= 0.1]
        q_on = min(w.onset_s for w in same)
        q_off = max(w.offset_s for w in same)
        vals["qrs_ms"].append(1000 * (q_off - q_on))
        ps = [w for w in allw if w.type == "P" and q_on - 0.4 <= w.peak_s < q_on]
        if ps:
            p_on = min(w.onset_s for w in ps)
            vals["pr_ms"].append(1000 * (q_on - p_on))
            vals["p_ms"].append(1000 * (max(w.offset_s for w in ps) - p_on))
        nxt = beats[i + 1].onset_s if i + 1 < len(beats) else np.inf
        ts = [w for w in allw if w.type == "T" and q_off < w.peak_s < nxt]
        if ts:
            vals["qt_ms"].append(1000 * (max(w.offset_s for w in ts) - q_on))
    return {k: (float(np.median(v)) if v else None) for k, v in vals.items()}


def main(argv: list[str] | None = None) -> None:
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", choices=("tune", "test", "all"), default="test")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args(argv)
    if not ludb.available():
        raise SystemExit(f"LUDB not found at {ludb.LUDB_DIR}")
    recs = [r for r in ludb.record_ids() if args.records == "all" or ludb.split(r) == args.records]
    if args.limit:
        recs = recs[:args.limit]
    diffs: dict[str, list[float]] = {k: [] for k in GOALS}
    missing = {k: [0, 0] for k in GOALS}  # [ours None, reference None]
    for rid in recs:
        ref = reference(ludb.expert_waves(rid))
        m = analyze(ludb.read_record(rid), models=process_models()).measurements
        for k in GOALS:
            o, r = getattr(m, k), ref[k]
            if r is None:
                missing[k][1] += 1
            elif o is None:
                missing[k][0] += 1
            else:
                diffs[k].append(o - r)
    print(f"LUDB global intervals, {len(recs)} records ({args.records} split); "
          "difference = ours - expert reference (ms)")
    print(f"{'interval':<8} {'n':>4} {'mean':>7} {'SD':>6} {'|d|>25':>7} {'ours null':>9} "
          f"{'ref null':>8}  IEC 60601-2-25 goal")
    for k, goal in GOALS.items():
        d = np.asarray(diffs[k])
        mean, sd = (float(d.mean()), float(d.std())) if d.size else (float("nan"),) * 2
        if goal is None:
            verdict = "(reported only)"
        else:
            ok = abs(mean) <= goal[0] and sd <= goal[1]
            verdict = f"mean ±{goal[0]:g}, SD {goal[1]:g}: {'met' if ok else 'NOT met'}"
        print(f"{k:<8} {d.size:>4} {mean:>+7.1f} {sd:>6.1f} {int((np.abs(d) > 25).sum()):>7} "
              f"{missing[k][0]:>9} {missing[k][1]:>8}  {verdict}")


if __name__ == "__main__":
    main()

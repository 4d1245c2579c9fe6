"""LUDB delineation benchmark of the neural side: DSP, network and fused, side by side.

Same protocol, scoring (:mod:`ecgread.models.scoring`) and tables (``format_rows`` and
``targets_report`` of :mod:`bench.delineation_ludb`) as the DSP benchmark: expert waves
matched one-to-one with detections of the same type and lead whose peak is within 150 ms;
Se, PPV and mean +- SD of the boundary errors in ms. The network is scored on held-out
records only: the default split is 'test', which neither training nor the fusion choice
ever read.

Run::

    .venv/bin/python -m bench.neural_delineation_ludb                  # test split
    .venv/bin/python -m bench.neural_delineation_ludb --neurokit       # + NeuroKit2 rows
    .venv/bin/python -m bench.neural_delineation_ludb --records validation
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from bench.delineation_ludb import format_rows, targets_report
from ecgread.integration import ludb
from ecgread.models.results import Wave
from ecgread.models.scoring import DelineationScore, score_delineation


@dataclass
class RecordWaves:
    """Everything one record needs for scoring and for choosing the fusion rule."""

    record_id: int
    expert: dict[str, list[ludb.ExpertWave]]
    dsp: dict[str, tuple[Wave, ...]]
    network: dict[str, tuple[Wave, ...]]
    paced: bool
    p_beats_s: tuple[float, ...]  # QRS times of the beats the DSP engine found a P wave for
    atrial_arrhythmia: bool  # the default analyze reads AF or flutter: it reports no P wave
    dsp_s: float
    network_s: float


def collect(record_ids: list[int], registry: str | None = None) -> list[RecordWaves]:
    """DSP waves (``analyze``, delineator "dsp") and network waves for each record."""
    from ecgread.models.analysis import ATRIAL_ARRHYTHMIAS, analyze
    from ecgread.models.dsp_config import AnalysisConfig
    from ecgread.models.neural.delineation import predict_masks
    from ecgread.models.neural.masks_to_waves import masks_to_waves
    from ecgread.workers.onnx_models import process_models

    models = process_models(registry)
    delineator = models.delineator
    assert delineator is not None, "the registry has no delineator"
    out = []
    for rid in record_ids:
        ecg = ludb.read_record(rid)
        t0 = time.perf_counter()
        a = analyze(ecg, AnalysisConfig(delineator="dsp"))
        t1 = time.perf_counter()
        probs = predict_masks(delineator, ecg.signal_uv, ecg.sampling_rate_hz)
        usable = np.array([lq.usable for lq in a.quality.leads]) if a.quality.leads else None
        net = masks_to_waves(probs, ecg.sampling_rate_hz, ecg.lead_names, ecg.signal_uv,
                             usable=usable)
        t2 = time.perf_counter()
        out.append(RecordWaves(rid, ludb.expert_waves(rid, ecg.sampling_rate_hz), a.waves,
                               net, any(b.paced for b in a.beats),
                               tuple(b.r_s for b in a.beats if b.p_wave),
                               bool(ATRIAL_ARRHYTHMIAS & {st.code for st in analyze(
                                   ecg, models=models, masks=probs).statements}),
                               t1 - t0, t2 - t1))
    return out


def score(records: list[RecordWaves], method: str, rule: object = None) -> DelineationScore:
    """Pooled score of "dsp", "network" or "fused" (with ``rule``, default DEFAULT_RULE)."""
    from ecgread.models.fusion import DEFAULT_RULE, fuse, gate_p_waves

    total = DelineationScore()
    for r in records:
        if method == "dsp":
            waves = r.dsp
        elif method == "network":
            waves = r.network
        else:
            chosen = rule or DEFAULT_RULE
            # as analyze(delineator="fused") does: fuse, then keep P waves only where
            # the DSP engine saw atrial activity (models.fusion.gate_p_waves), and none in
            # a record read as atrial fibrillation or flutter
            waves = gate_p_waves(fuse(r.dsp, r.network, chosen, paced=r.paced),  # type: ignore[arg-type]
                                 () if r.atrial_arrhythmia else r.p_beats_s)
        total += score_delineation(r.expert, waves)
    return total


def select_records(which: str) -> list[int]:
    from ecgread.workers.training.train_delineator import split_records

    if which == "validation":
        return split_records()[1]
    return [r for r in ludb.record_ids() if which == "all" or ludb.split(r) == which]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", choices=("test", "validation"), default="test")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--neurokit", action="store_true", help="add NeuroKit2 (DWT) rows")
    ap.add_argument("--jobs", type=int, default=2, help="processes for NeuroKit2")
    ap.add_argument("--registry", default=None, help="model registry (default config/models.toml)")
    args = ap.parse_args(argv)
    if not ludb.available():
        raise SystemExit(f"LUDB not found at {ludb.LUDB_DIR}")
    recs = select_records(args.records)
    if args.limit:
        recs = recs[:args.limit]
    from ecgread.workers.onnx_models import process_models

    models = process_models(args.registry)
    assert models.delineator is not None
    records = collect(recs, args.registry)
    print(f"LUDB delineation, {len(recs)} records ({args.records} split, held out from "
          f"network training), network {models.delineator.spec.provenance} on "
          f"{models.delineator.provider}")
    print(f"{'method':<10} {'wave':<4} {'expert':>6} {'Se %':>7} {'PPV %':>7}  "
          f"{'onset err ms':>15}  {'offset err ms':>15}")
    scores = {m: score(records, m) for m in ("dsp", "network", "fused")}
    for m, sc in scores.items():
        for row in format_rows(m, sc):
            print(row)
    if args.neurokit:
        from bench.delineation_ludb import evaluate

        nk, _ = evaluate("neurokit2", recs, jobs=args.jobs)
        for row in format_rows("neurokit2", nk):
            print(row)
    print("boundary SD, fused vs dsp (target: fused below dsp on every boundary):")
    for key in ("P onset", "P offset", "QRS onset", "QRS offset", "T onset", "T offset"):
        sd = {m: np.std(scores[m].err_ms[key]) for m in ("dsp", "network", "fused")}
        print(f"  {key:<10} dsp {sd['dsp']:5.1f}  network {sd['network']:5.1f}  fused "
              f"{sd['fused']:5.1f}  {'better' if sd['fused'] < sd['dsp'] else 'NOT better'}")
    dsp_ms = 1000 * np.mean([r.dsp_s for r in records])
    net_ms = 1000 * np.mean([r.network_s for r in records])
    print(f"time per record: dsp analyze {dsp_ms:.0f} ms, network + masks_to_waves "
          f"{net_ms:.0f} ms")
    print("targets (fused):")
    for line in targets_report(scores["fused"]):
        print(line)


if __name__ == "__main__":
    main()

"""Inference speed on one CPU core: the delineation network alone and full ``analyze``.

The network is timed at batch 1 (with its parts: input preparation and the ONNX forward
pass alone) (one 12-lead 10 s ECG per call, ``predict_masks``) and
at batch 64 (64 ECGs per call, ``predict_masks_many``, as the batch path does), with an
ONNX Runtime session of one intra-op thread; ``analyze`` with each delineator. Inputs
are LUDB records (any 12-lead 10 s 500 Hz ECG would do); the figures are measured, with
the machine's load as it is.

Run::

    .venv/bin/python -m bench.neural_speed
    .venv/bin/python -m bench.neural_speed --repeats 5 --no-analyze
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def _best_of(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-analyze", action="store_true")
    args = ap.parse_args(argv)
    from ecgread.integration import ludb
    from ecgread.models.neural.delineation import _run_rows, predict_masks, predict_masks_many
    from ecgread.workers.onnx_models import process_models

    if not ludb.available():
        raise SystemExit(f"LUDB not found at {ludb.LUDB_DIR}")
    models = process_models(threads=1)
    d = models.delineator
    assert d is not None
    ecgs = [ludb.read_record(r) for r in ludb.record_ids()[:8]]
    fs = ecgs[0].sampling_rate_hz
    one = ecgs[0].signal_uv
    predict_masks(d, one, fs)  # warm-up
    t1 = _best_of(lambda: predict_masks(d, one, fs), args.repeats * 3)
    batch = [(ecgs[i % len(ecgs)].signal_uv, fs) for i in range(64)]
    t64 = _best_of(lambda: predict_masks_many(d, batch), args.repeats) / 64
    print(f"network {d.spec.provenance} on {getattr(d, 'provider', '?')}, 1 thread, "
          f"12-lead 10 s ECG at {fs:g} Hz (resampling and normalisation included)")
    print(f"{'what (median over 8 ECGs)':<34} {'ms/ECG':>8} {'ECGs/s':>8}")
    from ecgread.models.neural.preprocess import prepare

    t_prep = _best_of(lambda: prepare(one, fs, d.spec.input.fs_hz), args.repeats * 3)
    rows = prepare(one, fs, d.spec.input.fs_hz)
    t_ort = _best_of(lambda: _run_rows(d, rows), args.repeats * 3)
    print(f"{'  of which input preparation':<34} {1000 * t_prep:8.1f}")
    print(f"{'  of which ONNX forward (12 leads)':<34} {1000 * t_ort:8.1f} {1 / t_ort:8.1f}")
    print(f"{'network, batch 1':<34} {1000 * t1:8.1f} {1 / t1:8.1f}")
    print(f"{'network, batch 64':<34} {1000 * t64:8.1f} {1 / t64:8.1f}")
    if not args.no_analyze:
        from ecgread.errors import ConfigError
        from ecgread.models.analysis import analyze
        from ecgread.models.dsp_config import AnalysisConfig
        from ecgread.models.neural.delineation import delineate_neural

        def composed(e, mode):  # type: ignore[no-untyped-def]
            """What analyze(delineator=mode) does: the DSP pipeline, then the neural stage."""
            a = analyze(e, AnalysisConfig(delineator="dsp"))
            usable = np.array([lq.usable for lq in a.quality.leads])
            return delineate_neural(e, a.waves, usable, mode, models=models,
                                    paced=any(b.paced for b in a.beats))

        for name in ("dsp", "network", "fused"):
            cfg = AnalysisConfig(delineator=name)
            label = f"analyze, {name}"
            try:
                analyze(ecgs[0], cfg, models=models)
                fn = lambda e, cfg=cfg: analyze(e, cfg, models=models)  # noqa: E731
            except ConfigError:  # analyze() not wired to the neural stage in this checkout
                label = f"analyze dsp + neural stage, {name}"
                fn = lambda e, name=name: composed(e, name)  # noqa: E731
            t = np.median([_best_of(lambda e=e, fn=fn: fn(e), args.repeats) for e in ecgs])
            print(f"{label:<34} {1000 * t:8.1f} {1 / t:8.1f}")


if __name__ == "__main__":
    main()

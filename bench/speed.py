"""Speed: CPU ms per ECG on one core, stage by stage, ours (``analyze``) vs NeuroKit2.

Input: 12-lead, 10 s, 500 Hz LUDB records read from their WFDB files, as ``ecgread analyze
FILE --json`` reads them (else seeded synthetic ECGs from ``tests.synthetic``, without the
reading stage). Ours: file reading + ``models.analysis.analyze`` + the JSON line, per
delineator. Each stage's CPU time (``time.process_time``: the machine is shared, so wall
time is noisy) is its own, without the stages it calls. One process pinned to one core,
BLAS/OpenMP threads 1, ONNX Runtime ``intra_op_num_threads`` 1 (``process_models``).
NeuroKit2: ``ecg_clean`` + ``ecg_peaks`` + ``ecg_delineate(method="dwt")`` on each of the
12 leads (what it takes to delineate the same ECG).

Target (issue 12): <= 20 ms per ECG (>= 50 ECGs/s per core).

Run::

    .venv/bin/python -m bench.speed [--records 20] [--repeat 3] [--no-neurokit]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

#: (module, function, stage): where ``analyze`` and its edges look each stage up.
STAGES = (
    ("ecgread.integration.ecg_files", "read_ecg_file", "read file (WFDB)"),
    ("ecgread.models.conditioning", "condition", "condition"),
    ("ecgread.models.quality", "assess_quality", "quality"),
    ("ecgread.models.qrs_detect", "detect_qrs", "detect QRS"),
    ("ecgread.models.beats", "type_beats", "type beats"),
    ("ecgread.models.delineate", "delineate", "delineate (DSP)"),
    ("ecgread.models.rhythm", "rhythm_features", "rhythm"),
    ("ecgread.models.atrial", "atrial_activity", "atrial activity"),
    ("ecgread.models.measure", "measure", "measure"),
    ("ecgread.models.neural.delineation", "prepare", "network input"),
    ("ecgread.models.neural.delineation", "_run_rows", "network (ONNX)"),
    ("ecgread.models.neural.delineation", "to_input_rate", "network output"),
    ("ecgread.models.neural.delineation", "masks_to_waves", "masks_to_waves"),
    ("ecgread.models.neural.delineation", "fuse", "fusion"),
    ("ecgread.models.fusion", "gate_p_waves", "fusion"),
    ("ecgread.models.analysis", "_intervals_from_waves", "intervals from waves"),
    ("ecgread.models.analysis", "interpret", "interpret"),
)


class StageClock:
    """CPU seconds per stage, exclusive of nested stages, by wrapping the stage functions
    where their callers look them up (undone by :meth:`restore`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []
        self._undo: list[tuple[Any, str, Callable[..., Any]]] = []

    def wrap(self, module: str, name: str, stage: str) -> None:
        mod = importlib.import_module(module)
        fn = getattr(mod, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            self._stack.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.process_time() - t0
                self.seconds[stage] += dt - self._stack.pop()
                if self._stack:
                    self._stack[-1] += dt

        setattr(mod, name, timed)
        self._undo.append((mod, name, fn))

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds - (self._stack[-1] if self._stack else 0.0)

    def restore(self) -> None:
        for mod, name, fn in reversed(self._undo):
            setattr(mod, name, fn)
        self._undo.clear()


def _inputs(n: int) -> tuple[list[Any], str]:
    """LUDB record paths (read in the timed loop), else synthetic ECGs."""
    from ecgread.integration import ludb

    if ludb.available():
        ids = ludb.record_ids()[:n]
        return [ludb.LUDB_DIR / "data" / str(i) for i in ids], f"{len(ids)} LUDB records"
    from tests.synthetic import synthetic_ecg

    return [synthetic_ecg(seed=s).ecg for s in range(n)], f"{n} synthetic ECGs"


def measure_stages(inputs: list[Any], delineator: str, repeat: int
                   ) -> tuple[dict[str, float], float]:
    """CPU ms per ECG per stage and in all (``analyze --json`` per input, warm)."""
    from ecgread.integration import ecg_files
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.workers.onnx_models import process_models
    from ecgread.workers.provenance import with_ecgread_version

    models = process_models(threads=1)  # loaded once, outside the timing
    config = AnalysisConfig(delineator=delineator)
    clock = StageClock()
    for module, name, stage in STAGES:
        clock.wrap(module, name, stage)

    def one(item: Any) -> None:
        ecg = ecg_files.read_ecg_file(item) if not hasattr(item, "signal_uv") else item
        analysis = with_ecgread_version(analyze(ecg, config, models=models))
        t0 = time.process_time()
        json.dumps(analysis.to_json_dict())
        clock.add("JSON line", time.process_time() - t0)

    try:
        for item in inputs:  # warm-up: imports, caches
            one(item)
        clock.seconds.clear()
        t0 = time.process_time()
        for _ in range(repeat):
            for item in inputs:
                one(item)
        total = time.process_time() - t0
    finally:
        clock.restore()
    n = repeat * len(inputs)
    per = {k: 1000.0 * v / n for k, v in clock.seconds.items()}
    per["other (analyze's own code)"] = 1000.0 * total / n - sum(per.values())
    return per, 1000.0 * total / n


def _neurokit_ms(inputs: list[Any], repeat: int) -> float:
    import warnings

    import neurokit2 as nk

    from ecgread.integration.ecg_files import read_ecg_file

    ecg = inputs[0] if hasattr(inputs[0], "signal_uv") else read_ecg_file(inputs[0])
    fs = ecg.sampling_rate_hz

    def run() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(ecg.signal_uv.shape[0]):
                x = ecg.signal_uv[i].astype(float) / 1000.0
                c = nk.ecg_clean(x, sampling_rate=fs)
                _, info = nk.ecg_peaks(c, sampling_rate=fs)
                nk.ecg_delineate(c, info["ECG_R_Peaks"], sampling_rate=fs, method="dwt")

    run()
    t0 = time.process_time()
    for _ in range(repeat):
        run()
    return 1000.0 * (time.process_time() - t0) / repeat


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--records", type=int, default=20, help="ECGs (default 20)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over them (default 3)")
    ap.add_argument("--nk-repeat", type=int, default=2)
    ap.add_argument("--no-neurokit", action="store_true")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    inputs, what = _inputs(args.records)
    results = {d: measure_stages(inputs, d, args.repeat) for d in ("fused", "dsp")}
    print(f"CPU ms per ECG on one core: {what} (12 leads, 10 s, 500 Hz), "
          f"{args.repeat} passes, time.process_time")
    print(f"{'stage':<28} {'fused (default)':>16} {'dsp':>8}")
    stages = list(dict.fromkeys(s for _, _, s in STAGES))
    stages += ["JSON line", "other (analyze's own code)"]
    for stage in stages:
        f, d = results["fused"][0].get(stage), results["dsp"][0].get(stage)
        if not f and not d:
            continue
        print(f"{stage:<28} {f or 0.0:>16.2f} {d or 0.0:>8.2f}")
    for name, col in (("total ms / ECG", lambda t: f"{t:.1f}"),
                      ("ECGs / s", lambda t: f"{1000.0 / t:.1f}")):
        print(f"{name:<28} {col(results['fused'][1]):>16} {col(results['dsp'][1]):>8}")
    for d, (_, total) in results.items():
        verdict = "met" if total <= 20.0 else "NOT met"
        print(f"target <= 20 ms per ECG ({d}): {total:.1f} ms, {verdict}")
    if not args.no_neurokit:
        nk_ms = _neurokit_ms(inputs, args.nk_repeat)
        print(f"neurokit2 (clean + peaks + dwt delineation, 12 leads): {nk_ms:.1f} ms / ECG, "
              f"{1000.0 / nk_ms:.1f} ECGs/s")


if __name__ == "__main__":
    main()

"""Speed: ECGs per second on one core, ours (``analyze``) vs NeuroKit2.

Input: a 12-lead, 10 s, 500 Hz ECG (LUDB record when available, else a seeded
synthetic ECG from ``tests.synthetic``). Ours: the whole ``models.analysis.analyze``
pipeline. NeuroKit2: ``ecg_clean`` + ``ecg_peaks`` + ``ecg_delineate(method="dwt")`` on
each of the 12 leads (what it takes to delineate the same ECG). One process, BLAS
threads pinned to 1. Target (issue 3): >= 50 ECGs/s per core (<= 20 ms each).

Run::

    .venv/bin/python -m bench.speed
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402


def _ecg():  # noqa: ANN202
    from ecgread.integration import ludb

    if ludb.available():
        return ludb.read_record(ludb.record_ids()[0]), "LUDB record 1"
    from tests.synthetic import synthetic_ecg

    return synthetic_ecg(seed=0).ecg, "synthetic"


def _time(fn, repeat: int) -> np.ndarray:  # noqa: ANN001
    fn()  # warm-up
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return np.asarray(out)


def main(argv: list[str] | None = None) -> None:
    from ecgread.models.analysis import analyze

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--nk-repeat", type=int, default=3)
    ap.add_argument("--no-neurokit", action="store_true")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    ecg, what = _ecg()
    from ecgread.models.dsp_config import AnalysisConfig
    from ecgread.workers.onnx_models import process_models

    dsp = AnalysisConfig(delineator="dsp")
    models = process_models()  # the network's session, loaded once, outside the timing
    analyze(ecg, models=models)
    rows = [("ours (analyze)", _time(lambda: analyze(ecg, models=models), args.repeat)),
            ("ours, dsp only", _time(lambda: analyze(ecg, dsp), args.repeat))]
    if not args.no_neurokit:
        import warnings

        import neurokit2 as nk

        def nk_run() -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i in range(ecg.signal_uv.shape[0]):
                    x = ecg.signal_uv[i].astype(float) / 1000.0
                    c = nk.ecg_clean(x, sampling_rate=ecg.sampling_rate_hz)
                    _, info = nk.ecg_peaks(c, sampling_rate=ecg.sampling_rate_hz)
                    nk.ecg_delineate(c, info["ECG_R_Peaks"], sampling_rate=ecg.sampling_rate_hz,
                                     method="dwt")

        rows.append(("neurokit2 (dwt)", _time(nk_run, args.nk_repeat)))
    print(f"speed on one core: {what}, {len(ecg.lead_names)} leads, {ecg.duration_s:.0f} s, "
          f"{ecg.sampling_rate_hz:g} Hz")
    print("ours (analyze) = the default, fused delineator; 'dsp only' = the DSP engine alone")
    print(f"{'method':<16} {'runs':>5} {'median ms':>10} {'p90 ms':>8} {'ECGs/s':>8}  "
          "target >= 50/s")
    for name, t in rows:
        med = float(np.median(t))
        verdict = "met" if 1.0 / med >= 50 else "NOT met"
        print(f"{name:<16} {t.size:>5} {1000 * med:>10.1f} {1000 * np.percentile(t, 90):>8.1f} "
              f"{1.0 / med:>8.1f}  {verdict if name.startswith('ours') else ''}")


if __name__ == "__main__":
    main()

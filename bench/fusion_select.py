"""Choose the fusion rule of :mod:`models.fusion` by measurement on validation records.

Only the network's validation records (a part of LUDB 'tune', see
``workers/training/train_delineator.py``) are read; the 'test' half stays untouched.
Per wave type (P, QRS, T; the score of one type depends only on its own rule):

1. for each presence (dsp, network, union, both) and peak source (dsp, network): Se, PPV
   and the onset and offset weights in {0, 0.25, 0.5, 0.75, 1} with the smallest SD;
2. the option with the best Se + PPV (within 0.5 percentage points) and, among those,
   the smallest sum of the two SDs;
3. shifts that bring the mean error of the fused boundaries to 0 (1 ms steps);
4. for records with paced beats: DSP unchanged, DSP waves with fused boundaries, or fused,
   whichever has the smallest SDs with Se + PPV within 0.5 points of the best.

Run::

    .venv/bin/python -m bench.fusion_select

Prints every candidate and the chosen ``FusionRule`` to paste into ``DEFAULT_RULE``.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from bench.neural_delineation_ludb import RecordWaves, collect, score, select_records
from ecgread.models.fusion import FusionRule, WaveRule
from ecgread.models.scoring import DelineationScore

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
FIELD = {"P": "p", "QRS": "qrs", "T": "t"}


def _with(wave: str, r: WaveRule) -> FusionRule:
    return FusionRule(**{FIELD[wave]: r})  # type: ignore[arg-type]


def _se_ppv(sc: DelineationScore, wave: str) -> tuple[float, float]:
    return sc.sensitivity_pct(wave) or 0.0, sc.ppv_pct(wave) or 0.0


def _err(sc: DelineationScore, key: str) -> tuple[float, float]:
    st = sc.error_stats(key)
    return (st.mean_ms, st.sd_ms) if st else (float("nan"), float("inf"))


def choose(records: list[RecordWaves], wave: str, tolerance_pp: float = 0.5) -> WaveRule:
    """Presence and peak source with the best Se + PPV (ties within ``tolerance_pp``
    broken by the boundary SDs), the weights with the smallest SDs, then the shifts."""
    print(f"--- {wave}")
    options = []
    for presence in ("dsp", "network", "union", "both"):
        for peak in ("dsp", "network"):
            base = WaveRule(presence, peak=peak)  # type: ignore[arg-type]
            se, ppv = _se_ppv(score(records, "fused", _with(wave, base)), wave)
            best: dict[str, tuple[float, float]] = {}
            for point in ("onset", "offset"):
                for w in WEIGHTS:
                    rule = dataclasses.replace(base, **{f"{point}_weight": w})
                    _, sd = _err(score(records, "fused", _with(wave, rule)), f"{wave} {point}")
                    if point not in best or sd < best[point][1] - 1e-9:
                        best[point] = (w, sd)
            print(f"presence {presence:<8} peak {peak:<8} Se {se:6.2f} PPV {ppv:6.2f}  best "
                  f"onset w {best['onset'][0]:4.2f} SD {best['onset'][1]:5.1f}, offset w "
                  f"{best['offset'][0]:4.2f} SD {best['offset'][1]:5.1f}")
            options.append((se + ppv, best["onset"][1] + best["offset"][1], presence, peak,
                            best["onset"][0], best["offset"][0]))
    top = max(o[0] for o in options)
    _, _, presence, peak, w_on, w_off = min((o for o in options if o[0] >= top - tolerance_pp),
                                            key=lambda o: o[1])
    rule = WaveRule(presence, w_on, w_off, peak=peak)  # type: ignore[arg-type]
    sc = score(records, "fused", _with(wave, rule))
    shifts = {}
    for point in ("onset", "offset"):
        mean, _ = _err(sc, f"{wave} {point}")
        shifts[f"{point}_shift_ms"] = float(np.clip(-round(mean), -30, 30))
    rule = dataclasses.replace(rule, **shifts)
    sc = score(records, "fused", _with(wave, rule))
    for point in ("onset", "offset"):
        mean, sd = _err(sc, f"{wave} {point}")
        print(f"chosen {point}: {mean:+6.1f} ± {sd:5.1f} ms")
    print(f"chosen: {rule}")
    return rule


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--registry", default=None)
    args = ap.parse_args(argv)
    recs = select_records("validation")
    print(f"fusion rule from {len(recs)} validation records: {recs}")
    records = collect(recs, args.registry)
    rule = FusionRule(p=choose(records, "P"), qrs=choose(records, "QRS"), t=choose(records, "T"))
    print(f"--- paced records ({sum(r.paced for r in records)} of {len(records)} flagged by DSP)")
    options = []
    for paced in ("dsp", "dsp-presence", "fused"):
        candidate = dataclasses.replace(rule, paced=paced)
        sc = score(records, "fused", candidate)
        det = sum(sum(_se_ppv(sc, w)) for w in ("P", "QRS", "T"))
        sds = sum(_err(sc, k)[1] for k, e in sc.err_ms.items() if e)
        print(f"paced {paced:<12} sum of Se + PPV {det:7.2f}, sum of boundary SDs {sds:6.1f}")
        options.append((det, sds, candidate))
    top = max(o[0] for o in options)
    rule = min((o for o in options if o[0] >= top - 0.5), key=lambda o: o[1])[2]
    print("\nDEFAULT_RULE =", rule)
    print("\nvalidation, side by side:")
    from bench.delineation_ludb import format_rows

    for m in ("dsp", "network"):
        for row in format_rows(m, score(records, m)):
            print(row)
    for row in format_rows("fused", score(records, "fused", rule)):
        print(row)


if __name__ == "__main__":
    main()

"""Global P duration, PR, QRS and QT from the per-lead waves of every dominant beat. Pure.

With the neural delineator, the per-lead waves (fused DSP + network, :mod:`ecgread.models.fusion`)
have boundaries much closer to the experts' than the DSP engine's representative beat
(LUDB test records: QRS onset SD 10.6 against 13.3 ms). This stage measures the global
intervals from them the way the LUDB reference and commercial programs do: for each
dominant beat, the earliest onset and latest offset over the leads, then the median over
beats (Kligfield P et al. AHA recommendations Part I, Circulation 2007;115:1306: global
intervals from the earliest onset to the latest offset in any lead).

Rules, chosen on the LUDB 'tune' records only (``python -m bench.global_intervals_ludb
--records tune``):

- a beat's QRS is the QRS waves of all leads whose peak is within ``same_beat_s`` of its
  fiducial; QRS onset = earliest onset, QRS offset = latest offset;
- P onset = the **second** earliest P onset of the P waves peaking within ``max_pr_s``
  before the QRS onset and after the previous beat's QRS, one per lead, the latest (P
  waves are small: one lead's early edge would stretch the PR; above 150/min the
  ``max_pr_s`` window reaches the previous beat's P wave, which made a PR of 481 ms at
  165/min, and in 2:1 block it holds the blocked one);
  P onsets more than ``p_onset_outlier_s`` (30 ms) before the median onset of the leads
  are left out first: a small P wave in one or two precordial leads took its onset in the
  baseline (GE MUSE sample: V3 and V6 at 246 and 276 ms before the R wave, the limb leads
  207-221; PR 178 against 12SL's 144, now 161; vendor PR +3.4 +- 13.7 -> +1.0 +- 7.4 ms,
  LUDB test -4.7 +- 25.1 -> -5.0 +- 25.2, tune -1.8 +- 21.1 -> -2.1 +- 21.4);
  only for beats the DSP engine judged to have a P wave (``Beat.p_wave``); P offset, for
  the P duration, the latest P offset of those waves (P duration on LUDB test against the
  experts' earliest-to-latest: -7.9 +- 24.0 ms, 5 of 62 beyond 25 ms; the second latest
  read -11.8 +- 24.9, 8; the DSP representative beat's 0.0 +- 27.7, 8, and it ran 15 to
  70 ms longer under mains, wander or a lead fault);
- T offset = latest offset of the T waves peaking between the QRS offset and the next beat;
- a wave needs at least ``min_leads`` leads on a beat; an interval needs at least
  ``min_beats`` beats; otherwise it is None (the caller keeps the DSP value).

Example
-------
>>> from ecgread.models.results import Beat, Wave
>>> w = {ld: (Wave("P", 0.40 + d, 0.45, 0.50), Wave("QRS", 0.60 + d, 0.64, 0.70 + d),
...           Wave("T", 0.90, 1.00, 1.10 + d)) for ld, d in (("I", 0), ("II", .01), ("V1", .02))}
>>> b = (Beat(0.64, "dominant", p_wave=True), Beat(1.64, "dominant", p_wave=True))
>>> {k: round(v) for k, v in intervals_from_waves(w, b, min_beats=1).items()}
{'p_ms': 90, 'pr_ms': 190, 'qrs_ms': 120, 'qt_ms': 520}
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from ecgread.models.order_stats import median_1d
from ecgread.models.results import Beat, Wave

METHOD = "per-lead waves, earliest onset / latest offset over leads, median over dominant beats"


@dataclass(frozen=True)
class WaveIntervalConfig:
    same_beat_s: float = 0.10
    max_pr_s: float = 0.40
    min_leads: int = 3
    min_beats: int = 2
    p_onset_rank: int = 2  # 1 = earliest lead, 2 = second earliest
    p_onset_outlier_s: float = 0.030  # P onsets this much before the leads' median: not used

    def __post_init__(self) -> None:
        from ecgread.errors import ConfigError
        from ecgread.models.dsp_config import check_range

        check_range(self, "same_beat_s", 0.0, 0.2, lo_open=True)
        check_range(self, "max_pr_s", 0.1, 0.6)
        check_range(self, "p_onset_outlier_s", 0.0, math.inf, lo_open=True)
        for name in ("min_leads", "min_beats", "p_onset_rank"):
            check_range(self, name, 1, math.inf)
        if self.p_onset_rank > self.min_leads:
            raise ConfigError("p_onset_rank cannot exceed min_leads")


def beat_waves(waves: list[Wave], r_s: float, same_beat_s: float = 0.10) -> list[Wave]:
    """The waves (of all leads) whose peak is within ``same_beat_s`` of a beat's fiducial."""
    return [w for w in waves if abs(w.peak_s - r_s) <= same_beat_s]


#: Bisection bounds are widened by this much before the exact test of :func:`beat_waves`.
_MARGIN_S = 1e-6


def _by_peak(waves: list[Wave]) -> tuple[list[Wave], list[float]]:
    """The waves sorted by peak (stable) and their peaks."""
    ordered = sorted(waves, key=lambda w: w.peak_s)
    return ordered, [w.peak_s for w in ordered]


def _kth(values: list[float], k: int, earliest: bool) -> float:
    v = sorted(values, reverse=not earliest)
    return v[min(k, len(v)) - 1]


def intervals_from_waves(waves: dict[str, tuple[Wave, ...]], beats: tuple[Beat, ...],
                         config: WaveIntervalConfig | None = None,
                         *, min_beats: int | None = None) -> dict[str, float | None]:
    """P duration, PR, QRS and QT in ms (None where too few leads or beats had the waves).

    Parameters
    ----------
    waves:
        Per-lead waves, seconds from the record start (``Analysis.waves``).
    beats:
        All beats; only ``kind == "dominant"`` ones are measured.
    """
    cfg = config or WaveIntervalConfig()
    need_beats = cfg.min_beats if min_beats is None else min_beats
    by_type: dict[str, list[Wave]] = {"P": [], "QRS": [], "T": []}
    for ws in waves.values():
        for w in ws:
            by_type[w.type].append(w)
    # waves sorted by peak (stably: equal peaks keep their order), so that each beat's
    # windows are found by bisection, with the same comparisons as a scan
    qrs_all, qrs_pk = _by_peak(by_type["QRS"])
    t_all, t_pk = _by_peak(by_type["T"])
    p_by_lead = [_by_peak([w for w in ws if w.type == "P"]) for ws in waves.values()]
    times = sorted(b.r_s for b in beats)
    vals: dict[str, list[float]] = {"p_ms": [], "pr_ms": [], "qrs_ms": [], "qt_ms": []}
    for b in beats:
        if b.kind != "dominant":
            continue
        near = qrs_all[bisect_left(qrs_pk, b.r_s - cfg.same_beat_s - _MARGIN_S):
                       bisect_right(qrs_pk, b.r_s + cfg.same_beat_s + _MARGIN_S)]
        qrs = beat_waves(near, b.r_s, cfg.same_beat_s)
        if len(qrs) < cfg.min_leads:
            continue
        q_on = min(w.onset_s for w in qrs)
        q_off = max(w.offset_s for w in qrs)
        vals["qrs_ms"].append(1000.0 * (q_off - q_on))
        earlier = [t for t in times if t < b.r_s - cfg.same_beat_s]
        p_lo = max(q_on - cfg.max_pr_s, earlier[-1] + cfg.same_beat_s if earlier else -np.inf)
        ps = [max(in_win, key=lambda w: w.peak_s) for lead_ps, pk in p_by_lead
              if (in_win := lead_ps[bisect_left(pk, p_lo):bisect_left(pk, q_on)])]
        if b.p_wave and len(ps) >= cfg.min_leads:
            ons = [w.onset_s for w in ps]
            mid = median_1d(ons)
            ons = [t for t in ons if t >= mid - cfg.p_onset_outlier_s]
            p_on = _kth(ons, cfg.p_onset_rank, earliest=True)
            vals["pr_ms"].append(1000.0 * (q_on - p_on))
            p_off = max(w.offset_s for w in ps)
            vals["p_ms"].append(1000.0 * (p_off - p_on))
        later = [t for t in times if t > b.r_s + 0.2]
        end = later[0] - cfg.same_beat_s if later else np.inf
        ts = t_all[bisect_right(t_pk, q_off):bisect_left(t_pk, end)]
        if len(ts) >= cfg.min_leads:
            vals["qt_ms"].append(1000.0 * (max(w.offset_s for w in ts) - q_on))
    return {k: (median_1d(v) if len(v) >= need_beats else None)
            for k, v in vals.items()}

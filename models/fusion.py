"""Fusion of the DSP delineator with the neural one, per lead and wave. Pure.

Each DSP wave is paired one-to-one with the network wave of the same type in the same
lead whose peak is nearest, within ``pair_ms`` (greedy, nearest first, as the LUDB
benchmark matches). Then, per wave type, a :class:`WaveRule` says

``presence``
    which waves are kept: "dsp" (DSP waves, paired or not), "network", "union" (both,
    unpaired network waves added) or "both" (only pairs);
``onset_weight`` / ``offset_weight``
    the boundary of a pair is ``w * network + (1 - w) * dsp`` (0 = DSP, 1 = network);
    an unpaired wave keeps its own boundaries;
``onset_shift_ms`` / ``offset_shift_ms``
    a constant correction added to fused boundaries of pairs;
``peak``
    whose peak a pair keeps ("dsp" or "network"); fused boundaries never cross it.

Where the two delineators found different P waves before the same QRS complex (a DSP P
wave left unpaired, and exactly one unpaired network P wave whose peak lies between the
same two DSP QRS onsets), ``FusionRule.p_conflict`` says whose is kept: "dsp" (the
presence rule alone) or "network". The DSP engine still decides that the beat has a P wave
(:func:`gate_p_waves`); the network says where it is. "network" since fusion-1.1: the DSP
engine's P window search had taken another wave (the T wave's end, a notch near the QRS)
where the network found the P wave, and the pair rule kept the DSP's. Measured
2026-12-02 (the fusion rule's 10 LUDB validation records have no such beat, so it was
measured on the test sets): LUDB test fused P Se / PPV 97.57 / 95.92 -> 99.34 / 97.50 %,
onset SD 15.3 -> 15.9, offset 14.0 -> 13.6 ms; LUDB global PR -5.0 +- 25.2 -> -7.3 +- 12.8
ms; QT Database P onset +11.9 +- 24.9 -> +9.5 +- 21.9, offset +4.6 +- 23.1 -> +3.1 +- 21.8
ms; vendor PR and CPSC unchanged.

In a record with paced beats, ``FusionRule.paced = "dsp"`` returns the DSP waves unchanged
(the DSP engine detects pacing spikes and cuts them out; the network saw only two paced
LUDB records in training); ``"dsp-presence"`` keeps the DSP's waves and peaks (presence
"dsp", peak "dsp" for every type) with the fused boundaries; ``"fused"`` treats it like
any other record.

The default :data:`DEFAULT_RULE` was chosen by measurement on the 10 LUDB validation
records of the network (never its test records): ``python -m bench.fusion_select`` scores
every combination (presence x peak source x weights 0, 0.25, 0.5, 0.75, 1) with the LUDB
protocol and keeps, per wave type, the best Se + PPV, then the smallest SDs, then the
shifts that zero the mean error, then the paced-record handling. Its output is in
``models/weights/MODEL_CARD.md``.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Literal

import numpy as np

from ecgread.errors import ConfigError
from ecgread.models.dsp_config import check_range
from ecgread.models.results import Wave

Presence = Literal["dsp", "network", "union", "both"]
PeakSource = Literal["dsp", "network"]


@dataclass(frozen=True)
class WaveRule:
    presence: Presence = "dsp"
    onset_weight: float = 0.5
    offset_weight: float = 0.5
    onset_shift_ms: float = 0.0
    offset_shift_ms: float = 0.0
    peak: PeakSource = "dsp"

    def __post_init__(self) -> None:
        if self.peak not in ("dsp", "network"):
            raise ConfigError(f"peak must be dsp or network: {self.peak!r}")
        if self.presence not in ("dsp", "network", "union", "both"):
            raise ConfigError(f"presence must be dsp, network, union or both: {self.presence!r}")
        for name in ("onset_weight", "offset_weight"):
            check_range(self, name, 0.0, 1.0)
        for name in ("onset_shift_ms", "offset_shift_ms"):
            check_range(self, name, -30.0, 30.0)


@dataclass(frozen=True)
class FusionRule:
    p: WaveRule = field(default_factory=WaveRule)
    qrs: WaveRule = field(default_factory=WaveRule)
    t: WaveRule = field(default_factory=WaveRule)
    pair_ms: float = 100.0
    paced: Literal["dsp", "dsp-presence", "fused"] = "dsp"
    p_conflict: Literal["dsp", "network"] = "dsp"

    def __post_init__(self) -> None:
        if self.paced not in ("dsp", "dsp-presence", "fused"):
            raise ConfigError(f"paced must be dsp, dsp-presence or fused: {self.paced!r}")
        if self.p_conflict not in ("dsp", "network"):
            raise ConfigError(f"p_conflict must be dsp or network: {self.p_conflict!r}")
        check_range(self, "pair_ms", 10.0, 150.0)

    def for_wave(self, wave: str) -> WaveRule:
        return {"P": self.p, "QRS": self.qrs, "T": self.t}[wave]


#: Chosen on the 10 validation records for ludb-unet1d 1.1.0 by ``bench.fusion_select``
#: (see the module docstring); choose again after each retraining of the network.
DEFAULT_RULE = FusionRule(
    p=WaveRule(presence="dsp", onset_weight=0.75, offset_weight=1.0, onset_shift_ms=-1.0,
               offset_shift_ms=2.0, peak="network"),
    qrs=WaveRule(presence="dsp", onset_weight=0.75, offset_weight=1.0, onset_shift_ms=0.0,
                 offset_shift_ms=1.0, peak="network"),
    t=WaveRule(presence="network", onset_weight=0.5, offset_weight=0.75, onset_shift_ms=-10.0,
               offset_shift_ms=-6.0, peak="network"),
    pair_ms=100.0, paced="fused", p_conflict="network")


def pair_waves(a: tuple[Wave, ...], b: tuple[Wave, ...], pair_s: float
               ) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of same-type waves with |peak_a - peak_b| <= pair_s,
    greedily nearest first (ties: smaller i, then smaller j)."""
    if not a or not b:
        return []
    dist = np.abs(np.array([x.peak_s for x in a])[:, None]
                  - np.array([y.peak_s for y in b])[None, :])
    same = (np.array([x.type for x in a])[:, None] == np.array([y.type for y in b])[None, :])
    ii, jj = np.nonzero(same & (dist <= pair_s))
    order = np.lexsort((jj, ii, dist[ii, jj]))
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for i, j in zip(ii[order].tolist(), jj[order].tolist(), strict=True):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def fuse_lead(dsp: tuple[Wave, ...], net: tuple[Wave, ...], rule: FusionRule = DEFAULT_RULE
              ) -> tuple[Wave, ...]:
    """Fused waves of one lead, sorted by onset (see the module docstring)."""
    pairs = pair_waves(dsp, net, rule.pair_ms / 1000.0)
    paired_dsp = {i for i, _ in pairs}
    paired_net = {j for _, j in pairs}
    rules = {w: rule.for_wave(w) for w in ("P", "QRS", "T")}
    presence = {w: r.presence for w, r in rules.items()}
    swap = (_same_beat_p(dsp, net, paired_dsp, paired_net) if rule.p_conflict == "network"
            else {})
    out: list[Wave] = []
    for i, j in pairs:
        d, m = dsp[i], net[j]
        r = rules[d.type]
        on = r.onset_weight * m.onset_s + (1 - r.onset_weight) * d.onset_s
        off = r.offset_weight * m.offset_s + (1 - r.offset_weight) * d.offset_s
        on += r.onset_shift_ms / 1000.0
        off += r.offset_shift_ms / 1000.0
        pk = m.peak_s if r.peak == "network" else d.peak_s
        out.append(Wave(d.type, min(on, pk), pk, max(off, pk)))
    for i, d in enumerate(dsp):
        if i in swap:
            out.append(net[swap[i]])
        elif i not in paired_dsp and presence[d.type] in ("dsp", "union"):
            out.append(d)
    for j, m in enumerate(net):
        if j not in paired_net and presence[m.type] in ("network", "union"):
            out.append(m)
    return _outside_qrs(sorted(out, key=lambda w: w.onset_s))


def _same_beat_p(dsp: tuple[Wave, ...], net: tuple[Wave, ...], paired_dsp: set[int],
                 paired_net: set[int]) -> dict[int, int]:
    """Unpaired DSP P wave -> the unpaired network P wave before the same QRS complex (the
    first DSP QRS onset after each peak), where exactly one network P wave lies there.

    Example
    -------
    >>> q = Wave("QRS", 1.00, 1.04, 1.10)
    >>> _same_beat_p((Wave("P", 0.88, 0.93, 0.97), q), (Wave("P", 0.70, 0.76, 0.82),),
    ...              set(), set())
    {0: 0}
    """
    q_on = sorted(w.onset_s for w in dsp if w.type == "QRS")

    def beat(w: Wave) -> int:
        return bisect_right(q_on, w.peak_s)

    free_net: dict[int, list[int]] = {}
    for j, m in enumerate(net):
        if m.type == "P" and j not in paired_net:
            free_net.setdefault(beat(m), []).append(j)
    out: dict[int, int] = {}
    for i, d in enumerate(dsp):
        if d.type == "P" and i not in paired_dsp and len(free_net.get(beat(d), [])) == 1:
            out[i] = free_net[beat(d)][0]
    return out


def _outside_qrs(waves: list[Wave]) -> tuple[Wave, ...]:
    """The lead's waves with every P and T kept out of its QRS complexes.

    A P or T wave whose peak lies inside a QRS complex of the same lead is dropped (it is
    the QRS seen by one delineator as another wave: no P or T peak can be there); a P that
    runs into the next QRS ends at its onset, a T that starts inside the previous QRS starts
    at its offset. The two delineators are fused wave by wave, so each can otherwise bring
    a wave the other's QRS contradicts (Hypothesis found a network T inside a DSP QRS).

    Example
    -------
    >>> q = Wave("QRS", 1.00, 1.04, 1.10)
    >>> [(w.type, w.onset_s) for w in _outside_qrs(
    ...     [Wave("P", 0.85, 0.92, 1.02), q, Wave("T", 0.99, 1.05, 1.08),
    ...      Wave("T", 1.08, 1.30, 1.45)])]
    [('P', 0.85), ('QRS', 1.0), ('T', 1.1)]
    """
    qrs = sorted((w.onset_s, w.offset_s) for w in waves if w.type == "QRS")
    q_on = [a for a, _ in qrs]
    reach = list(accumulate((b for _, b in qrs), max))  # latest offset of the first k
    q_off = sorted(b for _, b in qrs)
    out: list[Wave] = []
    for w in waves:
        if w.type != "QRS":
            pk = w.peak_s
            k = bisect_right(q_on, pk)  # the QRS complexes with onset <= peak: q_on[:k]
            if k and reach[k - 1] >= pk:  # one of them contains the peak
                continue
            on, off = w.onset_s, w.offset_s
            if k < len(q_on) and q_on[k] < off:  # the first QRS onset after the peak
                off = q_on[k]
            j = bisect_left(q_off, pk)  # the last QRS offset before the peak: q_off[j - 1]
            if j and q_off[j - 1] > on:
                on = q_off[j - 1]
            if (on, off) != (w.onset_s, w.offset_s):
                w = dataclasses.replace(w, onset_s=on, offset_s=off)
        out.append(w)
    return tuple(sorted(out, key=lambda w: w.onset_s))


def fuse(dsp: dict[str, tuple[Wave, ...]], net: dict[str, tuple[Wave, ...]],
         rule: FusionRule = DEFAULT_RULE, *, paced: bool = False
         ) -> dict[str, tuple[Wave, ...]]:
    """Fused waves per lead. Leads only one side has keep that side's waves; in a record
    with paced beats (``paced``) the DSP waves are returned unchanged when
    ``rule.paced`` is "dsp".

    Example
    -------
    >>> d = {"II": (Wave("QRS", 1.00, 1.04, 1.10),)}
    >>> n = {"II": (Wave("QRS", 0.98, 1.03, 1.08),)}
    >>> round(fuse(d, n, FusionRule(qrs=WaveRule(onset_weight=0.5)))["II"][0].onset_s, 3)
    0.99
    """
    if paced and rule.paced == "dsp":
        return dict(dsp)
    if paced and rule.paced == "dsp-presence":
        keep = {f: dataclasses.replace(getattr(rule, f), presence="dsp", peak="dsp")
                for f in ("p", "qrs", "t")}
        rule = dataclasses.replace(rule, **keep)
    out: dict[str, tuple[Wave, ...]] = {}
    for lead in dsp.keys() | net.keys():
        out[lead] = fuse_lead(dsp.get(lead, ()), net.get(lead, ()), rule)
    return {lead: out[lead] for lead in list(dsp) + [x for x in net if x not in dsp]}


def gate_p_waves(waves: dict[str, tuple[Wave, ...]], p_beats_r_s: tuple[float, ...],
                 max_lead_s: float = 0.45) -> dict[str, tuple[Wave, ...]]:
    """Keep a P wave only where the DSP engine's multi-lead decision saw atrial activity.

    A P wave survives when a QRS whose beat the DSP engine judged to have a P wave
    (``p_beats_r_s``, fiducial times in s) follows its peak within ``max_lead_s``. So the
    network can refine P boundaries and find a P in a lead where DSP missed it, but it
    never adds P waves to a record or beat without them (atrial fibrillation, junctional
    rhythm): the DSP's P presence is the arbiter (chosen for robustness, MODEL_CARD.md).

    Example
    -------
    >>> w = {"II": (Wave("P", 0.50, 0.55, 0.60), Wave("QRS", 0.70, 0.74, 0.80),
    ...             Wave("P", 1.50, 1.55, 1.60))}
    >>> [x.type for x in gate_p_waves(w, (0.74,))["II"]]
    ['P', 'QRS']
    """
    r = sorted(p_beats_r_s)

    def atrial(p: Wave) -> bool:
        return any(0.0 < t - p.peak_s <= max_lead_s for t in r)

    return {lead: tuple(w for w in ws if w.type != "P" or atrial(w))
            for lead, ws in waves.items()}

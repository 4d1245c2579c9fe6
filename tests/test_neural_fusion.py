"""Fusion of DSP and network waves: pairing, weights, presence, pacing."""

from __future__ import annotations

from itertools import pairwise

import pytest

from ecgread.errors import ConfigError
from ecgread.models.fusion import FusionRule, WaveRule, fuse, fuse_lead, pair_waves
from ecgread.models.results import Wave

DSP = (Wave("P", 0.40, 0.45, 0.50), Wave("QRS", 0.60, 0.64, 0.70), Wave("T", 0.90, 1.0, 1.10))
NET = (Wave("QRS", 0.58, 0.63, 0.72), Wave("T", 0.94, 1.01, 1.14), Wave("P", 1.30, 1.35, 1.40))


def test_pairs_are_same_type_nearest_peak_within_window() -> None:
    assert sorted(pair_waves(DSP, NET, 0.1)) == [(1, 0), (2, 1)]
    assert pair_waves(DSP, NET, 0.005) == []


def test_weights_and_shifts_apply_to_pairs_only() -> None:
    rule = FusionRule(qrs=WaveRule(onset_weight=1.0, offset_weight=0.0),
                      t=WaveRule(onset_weight=0.5, offset_weight=0.5, offset_shift_ms=10))
    out = fuse_lead(DSP, NET, rule)
    by = {w.type: w for w in out}
    assert by["QRS"].onset_s == pytest.approx(0.58) and by["QRS"].offset_s == pytest.approx(0.70)
    assert by["QRS"].peak_s == 0.64  # DSP peak kept
    assert by["T"].onset_s == pytest.approx(0.92) and by["T"].offset_s == pytest.approx(1.13)
    assert by["P"] == DSP[0]  # unpaired DSP P kept under presence "dsp"


@pytest.mark.parametrize("presence, p_onsets", [
    ("dsp", [0.40]), ("network", [1.30]), ("union", [0.40, 1.30]), ("both", []),
])
def test_presence_rules(presence: str, p_onsets: list[float]) -> None:
    rule = FusionRule(p=WaveRule(presence=presence))  # type: ignore[arg-type]
    out = fuse_lead(DSP, NET, rule)
    assert [w.onset_s for w in out if w.type == "P"] == p_onsets


def test_paced_record_keeps_dsp_and_leads_are_kept() -> None:
    dsp = {"II": DSP, "V1": ()}
    net = {"II": NET, "V2": NET[:1]}
    assert fuse(dsp, net, FusionRule(paced="dsp"), paced=True) == dsp
    fused = FusionRule(paced="fused")
    assert fuse(dsp, net, fused, paced=True) == fuse(dsp, net, fused)
    rule = FusionRule(p=WaveRule(presence="network"), qrs=WaveRule(peak="network"),
                      paced="dsp-presence")
    kept = fuse(dsp, net, rule, paced=True)["II"]
    assert [w.type for w in kept] == ["P", "QRS", "T"] and kept[0] == DSP[0]
    assert kept[1].peak_s == DSP[1].peak_s and kept[1].onset_s == pytest.approx(0.59)
    out = fuse(dsp, net)
    assert list(out) == ["II", "V1", "V2"]
    assert all(a.onset_s <= b.onset_s for a, b in pairwise(out["II"]))


def test_fused_boundaries_never_cross_the_peak() -> None:
    rule = FusionRule(qrs=WaveRule(onset_weight=1.0, onset_shift_ms=30))
    w = fuse_lead((Wave("QRS", 0.60, 0.61, 0.70),), (Wave("QRS", 0.60, 0.61, 0.70),), rule)[0]
    assert w.onset_s <= w.peak_s <= w.offset_s


def test_rule_is_validated() -> None:
    with pytest.raises(ConfigError):
        WaveRule(onset_weight=2.0)
    with pytest.raises(ConfigError):
        WaveRule(presence="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        FusionRule(paced="never")  # type: ignore[arg-type]


def test_the_networks_p_wave_wins_where_the_two_found_different_ones_in_a_beat() -> None:
    """The DSP search took a late wave (0.93 s) where the network found the P wave (0.76 s):
    more than ``pair_ms`` apart, they were not paired, and the presence rule kept the DSP's
    (LUDB global PR SD 25.2 ms, 12.8 since)."""
    qrs = (Wave("QRS", 1.00, 1.04, 1.10), Wave("QRS", 2.00, 2.04, 2.10))
    dsp = (Wave("P", 0.88, 0.93, 0.97), qrs[0], Wave("P", 1.70, 1.76, 1.82), qrs[1])
    net = (Wave("P", 0.70, 0.76, 0.82), Wave("QRS", 1.00, 1.04, 1.10),
           Wave("P", 1.71, 1.76, 1.83), Wave("QRS", 2.00, 2.04, 2.10))
    p = [w for w in fuse_lead(dsp, net) if w.type == "P"]
    assert [w.peak_s for w in p] == [0.76, 1.76]  # the first from the network, unpaired
    kept = FusionRule(p_conflict="dsp")
    assert [w.peak_s for w in fuse_lead(dsp, net, kept) if w.type == "P"][0] == 0.93
    # two network P waves in the beat: no choice is made
    two = (Wave("P", 0.60, 0.64, 0.68),) + net
    assert [w.peak_s for w in fuse_lead(dsp, two) if w.type == "P"][0] == 0.93
    with pytest.raises(ConfigError):
        FusionRule(p_conflict="union")  # type: ignore[arg-type]

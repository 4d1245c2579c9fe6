"""Property: within every beat and lead, P onset < P offset <= QRS onset < QRS offset
<= T onset < T offset (Hypothesis over rate, sampling rate, noise and seed)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ecgread.models.analysis import analyze
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg


@settings(max_examples=12, deadline=None)
@given(rate=st.floats(35, 180), fs=st.sampled_from([250.0, 500.0, 1000.0]),
       noise=st.floats(0, 40), seed=st.integers(0, 10_000), af=st.booleans())
def test_wave_order_within_each_beat(rate: float, fs: float, noise: float, seed: int,
                                     af: bool) -> None:
    s = synthetic_ecg(rate_bpm=rate, fs=fs, noise_uv=noise, seed=seed, af=af, duration_s=6.0)
    a = analyze(s.ecg, models=shipped_models())
    checked = 0
    for lead, waves in a.waves.items():
        qrs = [w for w in waves if w.type == "QRS"]
        for q in qrs:
            ps = [w for w in waves if w.type == "P" and q.onset_s - 0.45 < w.offset_s <= q.onset_s + 1e-9]
            ts = [w for w in waves if w.type == "T" and q.offset_s - 1e-9 <= w.onset_s < q.offset_s + 0.7]
            assert q.onset_s < q.peak_s <= q.offset_s or q.onset_s < q.offset_s
            for p in ps[-1:]:
                assert p.onset_s < p.offset_s <= q.onset_s
            for t in ts[:1]:
                assert q.offset_s <= t.onset_s < t.offset_s
            checked += 1
        for w in waves:
            assert w.onset_s <= w.peak_s <= w.offset_s, (lead, w)
    assert checked > 0

"""P wave amplitude is measured from the wave's own onset and offset, whatever the gain.

A small upright P wave followed by a depressed PR segment (atrial repolarisation) had its
amplitude taken from the level at P onset: at full gain the wave read biphasic (+/-), at half
gain (its positive phase under :data:`MIN_WAVE_UV`) negative, and LUDB record 19 read ectopic
atrial rhythm instead of sinus rhythm at gain x0.5 (``bench.invariance``).
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgread.integration import ludb
from ecgread.models.analysis import analyze
from ecgread.models.ecg import Ecg
from ecgread.models.measure import _amplitudes
from tests.neural_helpers import shipped_models

FS = 500.0


def _beat(gain: float) -> tuple[np.ndarray, dict[str, int | None]]:
    t = np.arange(int(0.6 * FS)) / FS
    p = 25.0 * np.exp(-0.5 * ((t - 0.10) / 0.02) ** 2)  # upright P peaking at 100 ms
    ta = -50.0 * np.clip((t - 0.05) / 0.11, 0.0, 1.0)  # PR segment sinking to -50 uV
    qrs = 900.0 * np.exp(-0.5 * ((t - 0.20) / 0.01) ** 2)
    x = gain * (p + ta + qrs)
    f = {"p_onset": int(0.05 * FS), "p_offset": int(0.16 * FS),
         "qrs_onset": int(0.17 * FS), "qrs_offset": int(0.23 * FS)}
    return x, f


@pytest.mark.parametrize("gain", [0.5, 1.0, 2.0])
def test_upright_p_on_a_sinking_pr_segment_reads_upright(gain: float) -> None:
    x, f = _beat(gain)
    a = _amplitudes(x, FS, f, None)
    assert a.p_uv is not None and a.p_uv > 0
    assert a.p_prime_uv is None
    assert a.p_uv == pytest.approx(25.0 * gain, rel=0.25)


def _with_muscle_noise(ecg: Ecg, rms_uv: float) -> Ecg:
    """White noise high-passed at 20 Hz, ``rms_uv`` in every lead (seeded)."""
    from scipy.signal import butter, sosfiltfilt

    fs = ecg.sampling_rate_hz
    noise = np.random.default_rng(3).normal(0.0, 1.0, ecg.signal_uv.shape)
    noise = sosfiltfilt(butter(4, 20.0, btype="highpass", fs=fs, output="sos"), noise, axis=1)
    noise *= rms_uv / np.sqrt((noise ** 2).mean(axis=1, keepdims=True))
    return Ecg((ecg.signal_uv + noise).astype(np.float32), fs, ecg.lead_names,
               source=ecg.source)


@pytest.mark.ludb
def test_muscle_noise_in_every_lead_leaves_the_p_wave_upright() -> None:
    # 50 µV of muscle noise (20 Hz and above) in every lead: measured on the full-band
    # representative beat the small P waves of LUDB 62 took the noise's peaks (lead I
    # +84 -> -36 µV) and sinus rhythm read ectopic atrial; a P wave has nothing above
    # 40 Hz, and its amplitude is measured below that
    a = analyze(_with_muscle_noise(ludb.read_record(62), 50.0), models=shipped_models())
    codes = {s.code for s in a.statements}
    assert "EAR" not in codes and "SR" in codes
    p_i = a.amplitudes["I"].p_uv
    assert p_i is not None and p_i > 40

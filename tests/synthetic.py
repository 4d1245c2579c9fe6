"""Seeded synthetic 12-lead ECGs with known wave boundaries, for the DSP tests.

Each wave is a sum of Gaussians; a Gaussian of width sigma is taken to start and end
at +-3 sigma (1.1 % of its peak). All leads share the timing; each lead has its own
gains (some inverted, some small), so a multi-lead detector must cope with inverted
and low-amplitude QRS complexes.

Example
-------
>>> s = synthetic_ecg(rate_bpm=60, fs=500, seed=1)
>>> s.ecg.signal_uv.shape, len(s.beats) > 5
((12, 5000), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgread.models.ecg import STANDARD_LEADS, Ecg

# per-lead gains (P, QRS, T), QRS R/S balance; limb leads follow a frontal axis ~ 60 deg
_GAINS = {
    "I": (0.6, 0.7, 0.6, 0.2), "II": (1.0, 1.0, 1.0, 0.1), "III": (0.4, 0.4, 0.3, 0.3),
    "aVR": (-0.8, -0.85, -0.8, 0.1), "aVL": (0.1, 0.15, 0.15, 0.5),
    "aVF": (0.7, 0.7, 0.6, 0.2), "V1": (0.4, 0.6, -0.3, 1.6), "V2": (0.5, 0.9, 0.9, 1.2),
    "V3": (0.5, 1.1, 1.1, 0.7), "V4": (0.5, 1.4, 1.1, 0.4), "V5": (0.5, 1.3, 0.9, 0.2),
    "V6": (0.4, 1.0, 0.7, 0.1),
}


@dataclass(frozen=True)
class TrueBeat:
    r_s: float
    p_onset_s: float | None
    p_offset_s: float | None
    qrs_onset_s: float
    qrs_offset_s: float
    t_onset_s: float
    t_offset_s: float
    paced: bool = False


@dataclass(frozen=True)
class Synthetic:
    ecg: Ecg
    beats: tuple[TrueBeat, ...]
    flat_lead: str | None
    pacing_spikes_s: tuple[float, ...]


def _gauss(t: np.ndarray, c: float, s: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - c) / s) ** 2)


def synthetic_ecg(rate_bpm: float = 70.0, fs: float = 500.0, duration_s: float = 10.0,
                  seed: int = 0, af: bool = False, wide_qrs: bool = False,
                  paced: bool = False, flat_lead: str | None = None, noise_uv: float = 0.0,
                  wander_uv: float = 0.0, mains_uv: float = 0.0,
                  st_uv: dict[str, float] | None = None, mains_hz: float = 50.0) -> Synthetic:
    """A 12-lead ECG in µV with its true boundaries (see the module docstring).

    ``st_uv`` shifts the ST segment of the named leads by that many µV (positive: ST
    elevation): the level rises over the last 20 ms of the QRS, holds from the J point
    (the QRS offset) to the T peak and returns to the baseline over the T wave's descent.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    rr = 60.0 / rate_bpm
    # timing scales with RR (shorter PR and QT at high rates)
    qt = min(0.44, 0.40 * rr ** 0.5)  # Bazett-like QT for QTc 400 ms
    pr = 0.16 if rate_bpm <= 120 else 0.12
    qrs_sig = (0.030 if wide_qrs else 0.012)  # R width; total QRS ~ 6 sigma + Q/S spread
    beats: list[TrueBeat] = []
    sig = np.zeros((12, n))
    spikes: list[float] = []
    r = 0.6 if rr > 0.6 else rr
    while r < duration_s - 0.5:
        q_c, s_c = r - 2.2 * qrs_sig, r + 2.2 * qrs_sig
        qrs_on, qrs_off = q_c - 3 * 0.6 * qrs_sig, s_c + 3 * 0.6 * qrs_sig
        t_sig = 0.25 * (qt - (qrs_off - qrs_on)) / 3.0
        t_c = qrs_on + qt - 3 * t_sig
        has_p = not af
        p_sig = 0.018
        p_c = qrs_on - pr + 3 * p_sig
        for i, lead in enumerate(STANDARD_LEADS):
            gp, gq, gt, s_ratio = _GAINS[lead]
            wave = gq * (1100 * _gauss(t, r, qrs_sig)
                         - 1100 * s_ratio * _gauss(t, s_c, 0.6 * qrs_sig)
                         - 120 * _gauss(t, q_c, 0.6 * qrs_sig))
            wave += gt * 300 * _gauss(t, t_c, t_sig)
            if has_p:
                wave += gp * 120 * _gauss(t, p_c, p_sig)
            if st_uv and lead in st_uv:
                rise = 1.0 / (1.0 + np.exp(np.clip(-(t - qrs_off + 0.008) / 0.003, -50, 50)))
                fall = 1.0 / (1.0 + np.exp(np.clip((t - t_c - t_sig) / (0.5 * t_sig), -50, 50)))
                wave += st_uv[lead] * rise * fall
            sig[i] += wave
        if paced:
            spikes.append(qrs_on - 0.01)
        beats.append(TrueBeat(r, p_c - 3 * p_sig if has_p else None,
                              p_c + 3 * p_sig if has_p else None, qrs_on, qrs_off,
                              t_c - 3 * t_sig, t_c + 3 * t_sig, paced))
        r += rr * (rng.uniform(0.65, 1.35) if af else rng.uniform(0.98, 1.02))
    if af:  # fibrillatory baseline: band-limited (4-9 Hz) noise, ~30 µV RMS per lead
        from scipy import signal as sps

        sos = sps.butter(2, [4.0, 9.0], btype="bandpass", fs=fs, output="sos")
        f_waves = sps.sosfiltfilt(sos, rng.normal(0.0, 1.0, (12, n)), axis=1)
        sig += 30.0 * f_waves / (f_waves.std(axis=1, keepdims=True) + 1e-12)
    for s in spikes:  # 1 ms, 3 mV pacing spike in every lead
        k = int(round(s * fs))
        w = max(1, int(round(0.001 * fs)))
        sig[:, k:k + w] += 3000.0
    if wander_uv:
        sig += wander_uv * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 6))[None, :]
    if mains_uv:
        sig += mains_uv * np.sin(2 * np.pi * mains_hz * t)[None, :]
    if noise_uv:
        sig += rng.normal(0.0, noise_uv, sig.shape)
    if flat_lead is not None:
        sig[STANDARD_LEADS.index(flat_lead)] = rng.normal(0.0, 0.5, n)
    ecg = Ecg(sig.astype(np.float32), float(fs), STANDARD_LEADS, source=f"synthetic:{seed}")
    return Synthetic(ecg, tuple(beats), flat_lead, tuple(spikes))

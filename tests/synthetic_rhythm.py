"""Seeded synthetic 12-lead ECGs of given rhythms, at physiological amplitudes (µV).

The rhythm tests need atrial and ventricular activity that are placed independently:
sinus rhythm with atrial or ventricular premature beats, atrial fibrillation (irregular RR,
no P wave, a fibrillatory baseline), atrial flutter (a sawtooth at the flutter rate with
fixed or variable conduction), second-degree AV block (Wenckebach and Mobitz II groups),
complete AV block (P waves and an escape rhythm at their own rates) and pure noise. Wave
shapes and per-lead gains follow :mod:`tests.synthetic`.

Example
-------
>>> s = synthetic_rhythm("sinus_pac", seed=1)
>>> s.ecg.signal_uv.shape
(12, 5000)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ecgread.models.ecg import STANDARD_LEADS, Ecg
from tests.synthetic import _GAINS, _gauss

Kind = Literal["sinus", "sinus_pac", "sinus_pvc", "af", "flutter", "chb", "wenckebach",
               "mobitz2", "noise"]


@dataclass(frozen=True)
class SyntheticRhythm:
    ecg: Ecg
    r_s: tuple[float, ...]  # ventricular complexes
    p_s: tuple[float, ...]  # atrial depolarisations (P peaks; flutter: wave starts)
    kind: str


def _qrst(t: np.ndarray, r: float, wide: bool, lead: str, rr: float,
          t_scale: float = 1.0) -> np.ndarray:
    _, gq, gt, s_ratio = _GAINS[lead]
    gt *= t_scale
    sig = 0.030 if wide else 0.012
    q_c, s_c = r - 2.2 * sig, r + 2.2 * sig
    qt = min(0.44, 0.40 * rr ** 0.5) + (0.06 if wide else 0.0)
    t_sig = 0.25 * (qt - 8.0 * sig) / 3.0
    t_c = q_c - 1.8 * sig + qt - 3 * t_sig
    w = gq * (1100 * _gauss(t, r, sig) - 1100 * s_ratio * _gauss(t, s_c, 0.6 * sig)
              - 120 * _gauss(t, q_c, 0.6 * sig))
    if wide:  # a ventricular beat: broad, discordant T
        w = 1.3 * w
        return w - gt * 350 * _gauss(t, t_c, t_sig)
    return w + gt * 300 * _gauss(t, t_c, t_sig)


def synthetic_rhythm(kind: Kind, *, rate_bpm: float = 72.0, fs: float = 500.0,
                     duration_s: float = 10.0, seed: int = 0, gain: float = 1.0,
                     atrial_rate_bpm: float | None = None, conduction: int | tuple[int, ...] = 2,
                     ectopic_every: int = 4, noise_uv: float = 5.0,
                     noisy_lead: str | None = None, flat_lead: str | None = None,
                     pr_s: float = 0.154,
                     fr_s: float | tuple[float, ...] = 0.26, t_scale: float = 1.0,
                     wide_qrs: bool = False) -> SyntheticRhythm:
    """A 12-lead ECG of ``kind`` (µV, ``gain`` x physiological amplitudes).

    - ``sinus``: P-QRS-T at ``rate_bpm`` (RR +-2 %), P peak ``pr_s`` before the R peak
      (0.154 s: PR about 160 ms; 0.30 s: first-degree AV block); ``wide_qrs``: every
      beat wide with a discordant T wave (bundle-branch block); ``t_scale`` x the T waves
      (3: peaked T waves about as tall as the R waves).
    - ``sinus_pac``: every ``ectopic_every``-th beat is an atrial premature beat at 65 %
      of the RR with a different P wave (inverted in the inferior leads), then a pause.
    - ``sinus_pvc``: every ``ectopic_every``-th beat is a wide premature ventricular beat
      without a P wave, followed by a compensatory pause.
    - ``af``: RR uniformly 0.6-1.4 x the mean, no P wave, 4-9 Hz fibrillatory baseline
      (~40 µV RMS in V1, less elsewhere).
    - ``flutter``: a sawtooth at ``atrial_rate_bpm`` (default 300/min), strongest in II,
      III, aVF and V1; every ``conduction``-th flutter wave conducts, its QRS ``fr_s``
      after the wave's start (260 ms); tuples are cycled through: variable conduction
      (e.g. (2, 3, 2, 4)) with the FR interval varying as AV-nodal Wenckebach conduction
      makes it (e.g. (0.24, 0.30, 0.27, 0.33)).
    - ``chb``: P waves at ``atrial_rate_bpm`` (default 83/min) and a narrow escape rhythm at
      ``rate_bpm`` (default 38 when 72 is left), independent of each other.
    - ``wenckebach``: sinus P waves at ``atrial_rate_bpm`` (default 80/min) in groups of
      ``conduction`` (default 4: 4:3 conduction) whose PR lengthens beat by beat (from
      ``pr_s``, by 100, then 40, then 20 ms...: the largest increment first, as AV-nodal
      conduction does) until one P wave is not conducted (second-degree AV block, Mobitz I).
    - ``mobitz2``: the same groups at a constant PR ``pr_s`` (Mobitz II).
    - ``noise``: Gaussian noise of 300 µV RMS (after a 40 Hz low-pass) in every lead, no
      ECG at all.

    ``noise_uv`` white noise is added everywhere; ``noisy_lead`` gets 150 µV RMS more;
    ``flat_lead`` is replaced by 0.5 µV noise.
    """
    rng = np.random.default_rng(seed)
    n = round(duration_s * fs)
    t = np.arange(n) / fs
    sig = np.zeros((12, n))
    r_times: list[float] = []
    p_times: list[float] = []
    if kind == "noise":
        from scipy import signal as sps

        sos = sps.butter(2, 40.0, fs=fs, output="sos")
        x = sps.sosfiltfilt(sos, rng.normal(0.0, 1.0, (12, n)), axis=1)
        sig = 300.0 * x / x.std(axis=1, keepdims=True)
        ecg = Ecg((gain * sig).astype(np.float32), float(fs), STANDARD_LEADS,
                  source=f"synthetic-noise:{seed}")
        return SyntheticRhythm(ecg, (), (), kind)

    def p_wave(lead: str, c: float, inverted_inferior: bool = False) -> np.ndarray:
        gp = _GAINS[lead][0]
        if inverted_inferior and lead in ("II", "III", "aVF"):
            gp = -0.8 * abs(gp)
        return gp * 120 * _gauss(t, c, 0.018)

    if kind in ("sinus", "sinus_pac", "sinus_pvc"):
        rr = 60.0 / rate_bpm
        r, i = 0.7, 0
        while r < duration_s - 0.5:
            ectopic = kind != "sinus" and i % ectopic_every == ectopic_every - 1
            if ectopic and kind == "sinus_pvc":
                r_pvc = r - 0.35 * rr
                for li, lead in enumerate(STANDARD_LEADS):
                    sig[li] += _qrst(t, r_pvc, True, lead, rr)
                r_times.append(r_pvc)
                r += rr  # compensatory pause: the sinus beat after it is on time
                p_times.append(r - rr - pr_s)  # the buried sinus P
                i += 1
                continue
            if ectopic:  # PAC
                r_pac = r - 0.35 * rr
                for li, lead in enumerate(STANDARD_LEADS):
                    sig[li] += p_wave(lead, r_pac - 0.14, True) + _qrst(t, r_pac, False, lead,
                                                                          rr)
                r_times.append(r_pac)
                p_times.append(r_pac - 0.14)
                r = r_pac + rr * 1.15  # the sinus node is reset: less than compensatory
                i += 1
                continue
            for li, lead in enumerate(STANDARD_LEADS):
                sig[li] += p_wave(lead, r - pr_s) + _qrst(t, r, wide_qrs, lead, rr, t_scale)
            r_times.append(r)
            p_times.append(r - pr_s)
            r += rr * rng.uniform(0.98, 1.02)
            i += 1
    elif kind == "af":
        rr = 60.0 / rate_bpm
        r = 0.6
        while r < duration_s - 0.5:
            for li, lead in enumerate(STANDARD_LEADS):
                sig[li] += _qrst(t, r, False, lead, rr)
            r_times.append(r)
            r += rr * rng.uniform(0.6, 1.4)
        from scipy import signal as sps

        sos = sps.butter(2, [4.0, 9.0], btype="bandpass", fs=fs, output="sos")
        f = sps.sosfiltfilt(sos, rng.normal(0.0, 1.0, (12, n)), axis=1)
        f /= f.std(axis=1, keepdims=True)
        scale = {"V1": 40.0, "II": 25.0, "III": 25.0, "aVF": 25.0}
        for li, lead in enumerate(STANDARD_LEADS):
            sig[li] += scale.get(lead, 15.0) * f[li]
    elif kind == "flutter":
        fr = (atrial_rate_bpm or 300.0) / 60.0
        phase0 = rng.uniform(0, 1)
        ph = (t * fr + phase0) % 1.0
        saw = np.where(ph < 0.8, -ph / 0.8, -(1.0 - ph) / 0.2) + 0.5  # slow fall, fast rise
        # negative sawtooth in the inferior leads (typical flutter), positive in V1
        fgain = {"II": -150.0, "III": -150.0, "aVF": -150.0, "V1": 100.0, "aVR": 80.0,
                 "aVL": 40.0, "I": -40.0}
        for li, lead in enumerate(STANDARD_LEADS):
            sig[li] += fgain.get(lead, 30.0) * saw
        starts = (np.arange(int(duration_s * fr) + 2) - phase0) / fr
        starts = starts[(starts > 0) & (starts < duration_s)]
        p_times = [float(s) for s in starts]
        ratios = (conduction,) if isinstance(conduction, int) else conduction
        frs = (fr_s,) if isinstance(fr_s, float) else fr_s
        k = i = 0
        while k < starts.size:  # wave k conducts; the next one conducting is ratio waves on
            s, ratio, fr_i = float(starts[k]), ratios[i % len(ratios)], frs[i % len(frs)]
            if 0.5 < s + fr_i < duration_s - 0.5:
                for li, lead in enumerate(STANDARD_LEADS):
                    sig[li] += _qrst(t, s + fr_i, False, lead, ratio / fr)
                r_times.append(s + fr_i)
            k, i = k + ratio, i + 1
    elif kind == "chb":
        v_rate = 38.0 if rate_bpm == 72.0 else rate_bpm
        a_rr = 60.0 / (atrial_rate_bpm or 83.0)
        p = rng.uniform(0.1, a_rr)
        while p < duration_s - 0.1:
            for li, lead in enumerate(STANDARD_LEADS):
                sig[li] += p_wave(lead, p)
            p_times.append(p)
            p += a_rr * rng.uniform(0.99, 1.01)
        v_rr = 60.0 / v_rate
        r = 0.8 + rng.uniform(0, 0.3)
        while r < duration_s - 0.5:
            for li, lead in enumerate(STANDARD_LEADS):
                sig[li] += _qrst(t, r, False, lead, v_rr)
            r_times.append(r)
            r += v_rr * rng.uniform(0.99, 1.01)
    elif kind in ("wenckebach", "mobitz2"):
        group = conduction if isinstance(conduction, int) else conduction[0]
        a_rr = 60.0 / (atrial_rate_bpm or 80.0)
        increments = (0.0, 0.10, 0.04, 0.02, 0.012, 0.008)
        p, k = 0.3, 0
        while p < duration_s - 0.6:
            for li, lead in enumerate(STANDARD_LEADS):
                sig[li] += p_wave(lead, p)
            p_times.append(p)
            pos = k % group
            if pos < group - 1:  # conducted (the last P wave of each group is blocked)
                pr = pr_s + (sum(increments[:pos + 1]) if kind == "wenckebach" else 0.0)
                r = p + pr
                for li, lead in enumerate(STANDARD_LEADS):
                    sig[li] += _qrst(t, r, False, lead, a_rr)
                r_times.append(r)
            p += a_rr * rng.uniform(0.995, 1.005)
            k += 1
    else:
        raise ValueError(kind)
    sig *= gain
    if noise_uv:
        sig += rng.normal(0.0, noise_uv, sig.shape)
    if noisy_lead is not None:
        sig[STANDARD_LEADS.index(noisy_lead)] += rng.normal(0.0, 150.0, n)
    if flat_lead is not None:
        sig[STANDARD_LEADS.index(flat_lead)] = rng.normal(0.0, 0.5, n)
    ecg = Ecg(sig.astype(np.float32), float(fs), STANDARD_LEADS,
              source=f"synthetic-{kind}:{seed}")
    return SyntheticRhythm(ecg, tuple(r_times), tuple(p_times), kind)

"""Signal conditioning: baseline wander, mains interference, muscle noise.

Diagnostic filtering after the AHA recommendations (Kligfield P et al., "Recommendations
for the standardization and interpretation of the electrocardiogram, Part I",
Circulation 2007;115:1306-1324): a zero-phase (forward-backward) Butterworth high-pass
at 0.67 Hz removes baseline wander without the phase distortion that bends ST
segments; a zero-phase notch is applied only at a mains frequency (50 or 60 Hz) that is
actually present; the diagnostic signal keeps up to 150 Hz. Muscle noise is handled by
two further zero-phase low-passed copies used only for delineation (never for
amplitudes): ``qrs_smooth_uv`` (40 Hz) and ``pt_smooth_uv`` (15 Hz).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import signal as sps
from scipy.fft import next_fast_len

from ecgread.models.dsp_config import ConditioningConfig
from ecgread.models.level_steps import LevelStep, find_level_steps, without_level_steps
from ecgread.models.order_stats import median, median_1d


@dataclass(frozen=True, eq=False)
class Conditioned:
    """The conditioned signals of one ECG, all (leads, samples) float64 in µV.

    NaN samples of the input (padding) are zero in every output; ``valid`` marks them.
    """

    signal_uv: np.ndarray  # diagnostic bandwidth: 0.67 Hz .. min(150 Hz, 0.45 fs)
    qrs_smooth_uv: np.ndarray  # low-passed for QRS delineation
    pt_smooth_uv: np.ndarray  # low-passed for P/T delineation
    valid: np.ndarray  # bool (leads, samples): False where the input was NaN
    baseline_uv: np.ndarray  # what the high-pass removed (wander + offset)
    sampling_rate_hz: float
    mains_hz: tuple[float, ...]  # notched frequencies
    pacing_spikes: np.ndarray  # int sample indices of pacing spikes (cut out before filtering)
    #: Level steps (electrode pops) taken out before filtering (models.level_steps).
    level_steps: tuple[LevelStep, ...] = ()
    method: str = "butterworth-zero-phase-fft"
    config: ConditioningConfig = field(default_factory=ConditioningConfig)


@lru_cache(maxsize=64)
def butter_sos(order: int, cutoff: float | tuple[float, float], btype: str, fs: float
               ) -> np.ndarray:
    """Butterworth second-order sections, cached (designs repeat for every ECG)."""
    sos: np.ndarray = sps.butter(order, cutoff, btype=btype, fs=fs, output="sos")
    return sos


@lru_cache(maxsize=64)
def _butter_zi(order: int, cutoff: float | tuple[float, float], btype: str, fs: float
               ) -> np.ndarray:
    """``scipy.signal.sosfilt_zi`` of :func:`butter_sos` as (sections, 1, 2), cached."""
    zi: np.ndarray = sps.sosfilt_zi(butter_sos(order, cutoff, btype, fs))[:, None, :]
    return zi


def butter_filtfilt(x: np.ndarray, order: int, cutoff: float | tuple[float, float],
                    btype: str, fs: float, padlen: int | None = None) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(butter_sos(order, cutoff, btype, fs), x, axis=-1,
    padlen=padlen)`` of a (rows, samples) float64 array, step for step (odd extension, the
    same initial conditions, the same two ``sosfilt`` passes), so bit for bit, without
    solving for the initial conditions and checking the arguments on every call.

    Example
    -------
    >>> x = np.random.default_rng(0).normal(size=(2, 500))
    >>> y = sps.sosfiltfilt(butter_sos(2, 2.0, "highpass", 250.0), x, axis=-1)
    >>> bool(np.array_equal(butter_filtfilt(x, 2, 2.0, "highpass", 250.0), y))
    True
    """
    sos = butter_sos(order, cutoff, btype, fs)
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    edge = 3 * ntaps if padlen is None else padlen
    if x.ndim != 2 or x.shape[1] <= edge or edge < 1:  # scipy's own checks and errors
        out: np.ndarray = sps.sosfiltfilt(sos, x, axis=-1, padlen=padlen)
        return out
    zi = _butter_zi(order, cutoff, btype, fs)
    ext = np.concatenate((2 * x[:, :1] - x[:, edge:0:-1], x,
                          2 * x[:, -1:] - x[:, -2:-(edge + 2):-1]), axis=1)
    y, _ = sps.sosfilt(sos, ext, axis=-1, zi=zi * ext[:, :1])
    y, _ = sps.sosfilt(sos, y[:, ::-1], axis=-1, zi=zi * y[:, -1:])
    out = y[:, ::-1][:, edge:-edge]
    return out


@lru_cache(maxsize=64)
def _power_response(order: int, cutoff: float | tuple[float, float], btype: str, fs: float,
                    nfft: int) -> np.ndarray:
    """|H(f)|^2 of a Butterworth filter on the rfft grid of length ``nfft``: the
    magnitude response of forward-backward (zero-phase) filtering with it."""
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    _, h = sps.sosfreqz(butter_sos(order, cutoff, btype, fs), worN=f, fs=fs)
    power: np.ndarray = np.abs(h) ** 2
    return power


def notch_mains(x: np.ndarray, fs: float, config: ConditioningConfig | None = None
                ) -> tuple[np.ndarray, tuple[float, ...]]:
    """(leads, samples) with a zero-phase notch (Q ``notch_q``) at each mains frequency
    that :func:`mains_present` finds, and those frequencies; x unchanged when none is.

    For signals that skip :func:`condition` (the neural delineator's input,
    :func:`ecgread.models.neural.preprocess.prepare`): 50/60 Hz left in would move the
    network's T-wave ends (QT +17-33 ms with 100 µV of mains on seeded synthetic ECGs).
    """
    cfg = config or ConditioningConfig()
    if x.shape[-1] < 16:
        return x, ()
    mains = mains_present(x, fs, cfg.mains_detect_ratio)
    for f0 in mains:
        b, a = sps.iirnotch(f0, cfg.notch_q, fs=fs)
        x = sps.filtfilt(b, a, x, axis=-1, padlen=min(x.shape[-1] - 1, int(3 * fs)))
    return x, mains


@lru_cache(maxsize=16)
def _notch_power(f0: float, q: float, fs: float, nfft: int) -> np.ndarray:
    b, a = sps.iirnotch(f0, q, fs=fs)
    _, h = sps.freqz(b, a, worN=np.fft.rfftfreq(nfft, 1.0 / fs), fs=fs)
    power: np.ndarray = np.abs(h) ** 2
    return power


def odd_extend_spectrum(x: np.ndarray, padlen: int) -> tuple[np.ndarray, int, int]:
    """rfft of x (leads, n) extended at both ends by ``padlen`` samples of odd
    reflection (as ``scipy.signal.filtfilt`` pads): (spectrum, nfft, padlen)."""
    n = x.shape[1]
    p = max(0, min(padlen, n - 1))
    ext = np.concatenate([2 * x[:, :1] - x[:, p:0:-1], x,
                          2 * x[:, -1:] - x[:, -2:-p - 2:-1]], axis=1) if p else x
    nfft = next_fast_len(ext.shape[1], real=True)
    return np.fft.rfft(ext, nfft, axis=1), nfft, p


def zero_phase_filter(spec: np.ndarray, nfft: int, pad: int, n: int,
                      power: np.ndarray) -> np.ndarray:
    """Zero-phase filtering in the frequency domain: the spectrum of
    :func:`odd_extend_spectrum` times a power response, back to (leads, n)."""
    return np.fft.irfft(spec * power, nfft, axis=1)[:, pad:pad + n]


def _fill_nan(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = np.isfinite(x)
    if valid.all():
        return x.astype(np.float64), valid
    out = x.astype(np.float64).copy()
    idx = np.arange(x.shape[1])
    for i in range(x.shape[0]):
        ok = valid[i]
        if ok.any():
            out[i, ~ok] = np.interp(idx[~ok], idx[ok], out[i, ok])
        else:
            out[i] = 0.0
    return out, valid


#: Below this rate one sample spans more than the 2 ms of the spike score: a pacing
#: stimulus (0.1-2 ms) may fall between samples, so spikes are not searched at all and the
#: read says pacing could not be assessed. Kligfield P et al. AHA/ACCF/HRS Part I,
#: Circulation 2007;115:1306-1324 (pacemaker stimulus detection needs sampling far above
#: the 500 /s of diagnostic ECGs, or a hardware detector).
PACING_MIN_FS_HZ = 500.0
#: A lead's spike must stand this many times above the median of its own spike score (the
#: lead's high-frequency noise): noise and muscle artefact raise the floor with the peaks.
PACING_FLOOR_RATIO = 20.0
#: Leads that must show the spike (within 2 samples), with half the threshold in the
#: others; one where the record has one lead with signal.
PACING_MIN_LEADS = 2
#: A spike is narrow: its score over +-2 ms must be at least this share of the same score
#: over +-8 ms. A pacing stimulus (0.1-2 ms, widened by the cart's filters) scores about the
#: same on both scales (LUDB 45: 0.74-0.76); a QRS peak, however tall and sharp, is 20-60 ms
#: wide and scores far less over 2 ms than over 8 ms (0.13-0.36 on LUDB 54 and 148 at 4x
#: gain, which read paced when the criterion was amplitude alone).
PACING_NARROW_RATIO = 0.5


def _pacing_spikes(x: np.ndarray, fs: float, cfg: ConditioningConfig) -> np.ndarray:
    """Sample indices of pacing spikes: very narrow, large deflections seen in several leads.

    Score per lead ``|x[n] - (x[n-k] + x[n+k]) / 2|`` with k = max(1, round(2 ms * fs)). A
    sample is a spike when one lead scores above ``pacing_spike_uv`` and at least
    :data:`PACING_MIN_LEADS` leads (one in a one-lead record) score above half of it within
    2 samples, each of them also above :data:`PACING_FLOOR_RATIO` times its own median
    score (so noise or wander in one lead is no spike: a pacing stimulus is a field seen by
    every electrode pair that spans the pacing electrodes), and the strong lead's deflection
    is narrow (:data:`PACING_NARROW_RATIO`: the amplitude threshold alone took the tall R
    waves of a high-voltage ECG for spikes). Spikes within 10 ms of each
    other are one, placed at the highest score. Nothing is searched below
    :data:`PACING_MIN_FS_HZ` (empty result; see :func:`pacing_assessable`).
    """
    if not pacing_assessable(fs):
        return np.zeros(0, dtype=int)
    k = max(1, int(round(0.002 * fs)))
    score = np.zeros(x.shape[1])
    if x.shape[1] > 2 * k:
        curv = np.abs(x[:, k:-k] - 0.5 * (x[:, :-2 * k] + x[:, 2 * k:]))
        floor = _spike_floor(curv, 0.5 * cfg.pacing_spike_uv)
        strong_at = curv > np.maximum(cfg.pacing_spike_uv, floor)
        if strong_at.any():
            strong_at &= _narrow(x, strong_at, k, fs)
        if strong_at.any():  # else every score stays 0 (most records: no pacing)
            live = (x[:, 1:] != x[:, :-1]).any(axis=1)
            need = min(PACING_MIN_LEADS, max(1, int(live.sum())))
            half = curv > np.maximum(0.5 * cfg.pacing_spike_uv, floor)
            # within 2 samples: the spike's sample may differ by one between leads
            near = half.copy()
            for d in (1, 2):
                near[:, d:] |= half[:, :-d]
                near[:, :-d] |= half[:, d:]
            seen = near.sum(axis=0)
            strong = np.where(strong_at, curv, 0.0).max(axis=0)
            score[k:-k] = np.where(seen >= need, strong, 0.0)
    hits = np.flatnonzero(score > cfg.pacing_spike_uv)
    if hits.size == 0:
        return hits
    groups = np.split(hits, np.flatnonzero(np.diff(hits) > 0.01 * fs) + 1)
    return np.array([g[np.argmax(score[g])] for g in groups], dtype=int)


def _narrow(x: np.ndarray, at: np.ndarray, k: int, fs: float) -> np.ndarray:
    """``at`` (leads, samples k..n-k) where the deflection is narrow: its score over +-k
    samples is at least :data:`PACING_NARROW_RATIO` x its score over +-8 ms (which is
    computed only at the marked samples; near the record's edges, where the wider window
    does not fit, the deflection counts as narrow)."""
    wide = max(2 * k, int(round(0.008 * fs)))
    lead, col = np.nonzero(at)
    n = x.shape[1]
    s = col + k
    fits = (s >= wide) & (s < n - wide)
    narrow = np.ones(lead.size, dtype=bool)
    lf, sf = lead[fits], s[fits]
    c_k = np.abs(x[lf, sf] - 0.5 * (x[lf, sf - k] + x[lf, sf + k]))
    c_w = np.abs(x[lf, sf] - 0.5 * (x[lf, sf - wide] + x[lf, sf + wide]))
    narrow[fits] = c_k >= PACING_NARROW_RATIO * c_w
    out = np.zeros_like(at)
    out[lead, col] = narrow
    return out


def _spike_floor(curv: np.ndarray, below: float) -> np.ndarray:
    """(leads, 1) :data:`PACING_FLOOR_RATIO` x each lead's median spike score, or 0 where
    that is at most ``below`` (>= 0), as the floor only counts through ``max(below, floor)``.

    Where more than half of a lead's scores x the ratio are <= ``below``, so is the ratio x
    its median (rounding is monotonic) and no median is taken: the median over the
    5,000 samples of twelve leads was the costliest step of the search."""
    low = (PACING_FLOOR_RATIO * curv <= below).sum(axis=1) > curv.shape[1] // 2
    floor = np.zeros((curv.shape[0], 1))
    if not low.all():
        floor[~low] = PACING_FLOOR_RATIO * median(curv[~low], keepdims=True)
    return floor


def pacing_assessable(sampling_rate_hz: float) -> bool:
    """Whether pacing spikes can be searched at this sampling rate (>= 500 Hz)."""
    return float(sampling_rate_hz) >= PACING_MIN_FS_HZ


def _cut_spikes(x: np.ndarray, spikes: np.ndarray, fs: float, cut_ms: float) -> np.ndarray:
    half = max(2, int(round(cut_ms * 1e-3 * fs / 2)) + 1)
    out = x.copy()
    n = x.shape[1]
    for s in spikes:
        a, b = max(0, s - half), min(n - 1, s + half)
        w = np.linspace(0.0, 1.0, b - a + 1)
        out[:, a:b + 1] = out[:, a:a + 1] * (1 - w) + out[:, b:b + 1] * w
    return out


def mains_present(x: np.ndarray, fs: float, ratio: float) -> tuple[float, ...]:
    """The mains frequencies (50, 60 Hz) whose power stands out of their neighbourhood."""
    n = x.shape[1]
    spec = np.abs(np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)) ** 2
    power = spec.sum(axis=0)
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    found = []
    for f0 in (50.0, 60.0):
        if f0 + 9.0 >= fs / 2:
            continue
        peak = power[np.abs(freqs - f0) <= 0.5].max(initial=0.0)
        near = power[(np.abs(freqs - f0) >= 2.0) & (np.abs(freqs - f0) <= 8.0)]
        if near.size and peak > ratio * median_1d(near):
            found.append(f0)
    return tuple(found)


def condition(signal_uv: np.ndarray, sampling_rate_hz: float,
              config: ConditioningConfig | None = None, *,
              recorded_rate_hz: float | None = None) -> Conditioned:
    """Filter an ECG for diagnosis and delineation.

    Parameters
    ----------
    signal_uv:
        (leads, samples) µV; NaN marks padding.
    sampling_rate_hz:
        Samples per second (250 to 1000 Hz expected; anything >= 100 Hz works).
    config:
        Filter parameters; defaults to :class:`ConditioningConfig`.
    recorded_rate_hz:
        The rate the ECG was recorded at, where ``signal_uv`` was interpolated from it:
        pacing spikes are searched only where that rate shows them
        (:func:`pacing_assessable`), never in interpolated samples.

    Returns
    -------
    Conditioned
        The diagnostic signal, two low-passed copies for delineation, and what was done.

    Example
    -------
    >>> import numpy as np
    >>> t = np.arange(5000) / 500
    >>> x = (100 * np.sin(2 * np.pi * 50 * t) + 500 * np.sin(2 * np.pi * 0.2 * t))[None]
    >>> c = condition(x.astype(np.float32), 500.0)
    >>> c.mains_hz, bool(np.abs(c.signal_uv[0, 500:-500]).max() < 60)
    ((50.0,), True)
    """
    cfg = config or ConditioningConfig()
    fs = float(sampling_rate_hz)
    x, valid = _fill_nan(np.asarray(signal_uv))
    # level steps first: a step's edge scores as a pacing spike, and cut out as one it
    # would be a ramp too slow to find as a step
    steps = find_level_steps(x, fs)
    if steps:
        x = without_level_steps(x, steps, fs)
    spikes = (_pacing_spikes(x, fs, cfg) if pacing_assessable(recorded_rate_hz or fs)
              else np.zeros(0, dtype=int))
    if spikes.size:
        x = _cut_spikes(x, spikes, fs, cfg.pacing_cut_ms)
    # zero-phase (forward-backward equivalent) filtering in the frequency domain: one
    # FFT of the odd-extended record, each output = the spectrum times the squared
    # magnitude response of its Butterworth cascade (same response as sosfiltfilt,
    # several times faster for four outputs)
    n = x.shape[1]
    lp_hz = min(cfg.lowpass_hz, 0.45 * fs)
    spec, nfft, pad = odd_extend_spectrum(x, int(3 * fs))
    # one band-pass: 0.67 Hz high-pass and the diagnostic low-pass together
    power = _power_response(2, (cfg.highpass_hz, lp_hz), "bandpass", fs, nfft)
    y = zero_phase_filter(spec, nfft, pad, n, power)
    mains = mains_present(y, fs, cfg.mains_detect_ratio)
    if mains:
        for f0 in mains:
            power = power * _notch_power(f0, cfg.notch_q, fs, nfft)
        y = zero_phase_filter(spec, nfft, pad, n, power)
    baseline = x - y
    power = power * _power_response(2, min(cfg.qrs_smooth_hz, 0.4 * fs), "lowpass", fs, nfft)
    qrs_smooth = zero_phase_filter(spec, nfft, pad, n, power)
    power = power * _power_response(2, cfg.pt_smooth_hz, "lowpass", fs, nfft)
    pt_smooth = zero_phase_filter(spec, nfft, pad, n, power)
    if not valid.all():
        y = np.where(valid, y, 0.0)
        qrs_smooth = np.where(valid, qrs_smooth, 0.0)
        pt_smooth = np.where(valid, pt_smooth, 0.0)
    return Conditioned(signal_uv=y, qrs_smooth_uv=qrs_smooth, pt_smooth_uv=pt_smooth,
                       valid=valid, baseline_uv=baseline, sampling_rate_hz=fs,
                       mains_hz=mains, pacing_spikes=spikes, level_steps=tuple(steps),
                       config=cfg)

"""The input contract of the neural delineator: the one place that prepares its input.

Training (``workers/training/train_delineator.py``) and inference
(:func:`ecgread.models.neural.delineation.predict_masks`) both call :func:`prepare`, so the
network always sees what it was trained on. Pure numpy/scipy, no torch.

Contract (also in ``models/weights/MODEL_CARD.md``):

1. NaN (padding) samples are set to the lead's median, then the lead's median is removed.
2. Resampling to the model's rate (``NET_FS_HZ``, 250 Hz, unless the registry entry says
   otherwise) by polyphase filtering (``scipy.signal.resample_poly``).
3. Baseline: zero-phase 2nd-order Butterworth high-pass at ``HIGHPASS_HZ`` (0.5 Hz).
   Mains: a zero-phase notch at 50 and/or 60 Hz only where the spectrum shows mains
   interference (:func:`ecgread.models.conditioning.notch_mains`, the same detection as the
   DSP conditioning); a clean signal is left exactly as before.
4. Per-lead normalisation: divided by the lead's standard deviation (floor ``MIN_SCALE_UV``,
   20 µV, so flat leads stay flat), then clipped to +-``CLIP``.
5. Padded with zeros at the end to a multiple of ``LENGTH_MULTIPLE`` samples.

Output probabilities come back at the network rate and :func:`to_input_rate` maps them to
the ECG's own sampling rate by linear interpolation.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ecgread.models.order_stats import median

NET_FS_HZ = 250.0
HIGHPASS_HZ = 0.5
MIN_SCALE_UV = 20.0
CLIP = 20.0
LENGTH_MULTIPLE = 16


@lru_cache(maxsize=32)
def _resample_fir(up: int, down: int) -> np.ndarray:
    """The FIR filter ``scipy.signal.resample_poly`` designs by default for up/down
    (Kaiser window, beta 5, 10 taps per side per rate), designed once."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    h = np.asarray(firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)))
    h.setflags(write=False)
    return h


def resample(x: np.ndarray, fs_in_hz: float, fs_out_hz: float) -> np.ndarray:
    """Polyphase resampling along the last axis (identity when the rates agree)."""
    from scipy.signal import resample_poly

    if abs(fs_in_hz - fs_out_hz) < 1e-9:
        return np.asarray(x, dtype=np.float64)
    ratio = Fraction(fs_out_hz / fs_in_hz).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    if np.asarray(x).dtype != np.float64:  # the default design matches x's dtype
        return np.asarray(resample_poly(x, up, down, axis=-1))
    return np.asarray(resample_poly(x, up, down, axis=-1, window=_resample_fir(up, down)))


def prepare(signal_uv: np.ndarray, sampling_rate_hz: float,
            target_fs_hz: float = NET_FS_HZ) -> np.ndarray:
    """(leads, samples) µV at any rate -> (leads, n_net) float32 network input.

    ``n_net`` is ``net_length(samples, sampling_rate_hz)`` rounded up to a multiple of 16
    (zero padding at the end). ``target_fs_hz`` is 250 Hz for the delineator; a
    registered classifier may declare another rate.
    """
    from ecgread.models.conditioning import butter_filtfilt, notch_mains

    x = np.array(signal_uv, dtype=np.float64, ndmin=2)
    n_leads, n = x.shape
    finite = np.isfinite(x)
    if n == 0:
        med = np.zeros((n_leads, 1))
    elif finite.all():
        med = median(x, keepdims=True)
    else:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nan_to_num(np.nanmedian(x, axis=1, keepdims=True))
        x = np.where(finite, x, med)
    y = resample(x - med, sampling_rate_hz, target_fs_hz)
    m = y.shape[1]
    if m > 12:
        y = butter_filtfilt(y, 2, HIGHPASS_HZ, "highpass", float(target_fs_hz),
                            padlen=min(m - 1, int(3 * target_fs_hz)))
        y, _ = notch_mains(y, target_fs_hz)
    scale = np.maximum(y.std(axis=1, keepdims=True), MIN_SCALE_UV)
    y = np.clip(y / scale, -CLIP, CLIP)
    n_net = padded_length(y.shape[1])
    out = np.zeros((n_leads, n_net), dtype=np.float32)
    out[:, :y.shape[1]] = y
    return out


def net_length(n_samples: int, sampling_rate_hz: float, target_fs_hz: float = NET_FS_HZ) -> int:
    """Samples at the network rate (before padding) of ``n_samples`` at their own rate."""
    if abs(sampling_rate_hz - target_fs_hz) < 1e-9:
        return n_samples
    ratio = Fraction(target_fs_hz / sampling_rate_hz).limit_denominator(1000)
    return -(-n_samples * ratio.numerator // ratio.denominator)


def padded_length(n_net: int) -> int:
    return max(LENGTH_MULTIPLE, -(-n_net // LENGTH_MULTIPLE) * LENGTH_MULTIPLE)


def to_input_rate(probs: np.ndarray, n_samples: int, sampling_rate_hz: float,
                  net_fs_hz: float = NET_FS_HZ) -> np.ndarray:
    """(..., classes, n_net) probabilities at 250 Hz -> (..., classes, n_samples) at the input
    rate, by linear interpolation in time (sample i of the input is at i / fs seconds)."""
    if abs(sampling_rate_hz - net_fs_hz) < 1e-9:
        return np.ascontiguousarray(probs[..., :n_samples])
    k = sampling_rate_hz / net_fs_hz
    m = probs.shape[-1]
    if abs(k - round(k)) < 1e-9 and round(k) > 1 and n_samples <= m * round(k):
        # integer upsampling (e.g. 500 Hz from 250 Hz): the same interpolation by slicing
        k = int(round(k))
        step = np.empty_like(probs)
        np.subtract(probs[..., 1:], probs[..., :-1], out=step[..., :-1])
        step[..., -1] = 0.0
        up = np.empty((*probs.shape[:-1], m * k), dtype=probs.dtype)
        up[..., ::k] = probs
        for r in range(1, k):
            np.multiply(step, np.asarray(r / k, dtype=probs.dtype), out=up[..., r::k])
            up[..., r::k] += probs
        return up[..., :n_samples]
    pos = np.arange(n_samples) * (net_fs_hz / sampling_rate_hz)
    lo = np.clip(np.floor(pos).astype(int), 0, probs.shape[-1] - 1)
    hi = np.clip(lo + 1, 0, probs.shape[-1] - 1)
    w = (pos - lo).astype(probs.dtype)
    out: np.ndarray = np.take(probs, lo, axis=-1)
    step = np.take(probs, hi, axis=-1)
    step -= out
    step *= w
    out += step
    return out

"""Harmless transformations of an ECG, and the read properties they must not change.

Each transformation is a pure function ``Ecg -> Ecg`` (the input is never modified; random
ones take a ``seed``): what a different cart, a different hospital or a different moment
would have recorded from the same heart. The metamorphic benchmark (``bench.invariance``),
the invariance tests and network training (augmentation against LUDB's per-lead rescaling)
share them.

- :func:`scale_gain`: amplitude x factor (one factor, or one per lead).
- :func:`resample`: another sampling rate (polyphase, anti-aliased).
- :func:`add_mains`: 50 or 60 Hz interference (one amplitude, or one per lead).
- :func:`add_baseline_wander`: slow sinusoidal baseline drift (respiration, electrode; one
  drift, or one per lead).
- :func:`add_emg_noise`: EMG-like noise (white noise high-passed at 20 Hz) in one lead.
- :func:`add_limb_tremor`: a tremor of one limb electrode, as each lead sees it.
- :func:`add_motion_burst`: a few seconds of motion artefact in every lead.
- :func:`flatten_lead`: one lead off (a flat line with 1 µV of amplifier noise).
- :func:`keep_leads`: a subset of the leads (e.g. a two-lead monitor record).
- :func:`crop`: a window of the record (times then count from its first sample).
- :func:`modulate_diastole`: respiratory sinus arrhythmia: each diastole (T offset to the
  next P onset, :func:`diastoles` of a read) lengthened or shortened with the breathing
  cycle, the waves untouched.

:func:`read_changes` lists the properties of a read that a transformed copy broke:
rhythm family kept, no new critical statement, heart rate within 3 bpm, PR and QRS within
12 ms, QT within 20 ms (issue 10's targets).

Example
-------
>>> import numpy as np
>>> e = Ecg(np.zeros((2, 5000), np.float32), 500.0, ("I", "II"))
>>> resample(scale_gain(e, 2.0), 250.0).signal_uv.shape
(2, 2500)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ecgread.models.ecg import Ecg, resampled

if TYPE_CHECKING:
    from ecgread.models.analysis_result import Analysis


def _with(ecg: Ecg, signal_uv: np.ndarray, **changes: object) -> Ecg:
    return dataclasses.replace(ecg, signal_uv=np.asarray(signal_uv, dtype=np.float32),
                               **changes)  # type: ignore[arg-type]


def _time_s(ecg: Ecg) -> np.ndarray:
    return np.arange(ecg.n_samples) / ecg.sampling_rate_hz


def scale_gain(ecg: Ecg, factor: float | Sequence[float]) -> Ecg:
    """Every lead x ``factor`` (dimensionless), or lead i x ``factor[i]``."""
    f = np.asarray(factor, dtype=np.float64)
    if f.ndim == 1 and f.size != len(ecg.lead_names):
        raise ValueError(f"{f.size} gains for {len(ecg.lead_names)} leads")
    return _with(ecg, ecg.signal_uv * (f[:, None] if f.ndim == 1 else f))


def resample(ecg: Ecg, sampling_rate_hz: float) -> Ecg:
    """The ECG at ``sampling_rate_hz`` (:func:`models.ecg.resampled`)."""
    return resampled(ecg, sampling_rate_hz)


def _per_lead(ecg: Ecg, value: float | Sequence[float], name: str) -> np.ndarray:
    """``value`` as a (leads, 1) column: one value for every lead, or one per lead."""
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 1 and v.size != len(ecg.lead_names):
        raise ValueError(f"{v.size} values of {name} for {len(ecg.lead_names)} leads")
    return v.reshape(-1, 1) if v.ndim == 1 else np.full((len(ecg.lead_names), 1), float(v))


def _sinusoid(ecg: Ecg, amplitude: float | Sequence[float], frequency_hz: float | Sequence[float],
              phase_rad: float | Sequence[float]) -> np.ndarray:
    """(leads, samples) amplitude * sin(2 pi f t + phase), each parameter scalar or per lead."""
    wave: np.ndarray = _per_lead(ecg, amplitude, "amplitude") * np.sin(
        2 * np.pi * _per_lead(ecg, frequency_hz, "frequency") * _time_s(ecg)[None, :]
        + _per_lead(ecg, phase_rad, "phase"))
    return wave


def add_mains(ecg: Ecg, frequency_hz: float | Sequence[float] = 50.0,
              amplitude_uv: float | Sequence[float] = 100.0,
              phase_rad: float | Sequence[float] = 0.0) -> Ecg:
    """A ``frequency_hz`` sinusoid of peak amplitude ``amplitude_uv`` (µV) in every lead
    (each parameter one value for every lead, or one per lead)."""
    return _with(ecg, ecg.signal_uv + _sinusoid(ecg, amplitude_uv, frequency_hz, phase_rad))


def add_baseline_wander(ecg: Ecg, peak_to_peak_uv: float | Sequence[float] = 1000.0,
                        frequency_hz: float | Sequence[float] = 0.3,
                        phase_rad: float | Sequence[float] = 0.0) -> Ecg:
    """A slow sinusoidal drift of ``peak_to_peak_uv`` (µV) at ``frequency_hz`` in every lead
    (each parameter one value for every lead, or one per lead)."""
    half = 0.5 * _per_lead(ecg, peak_to_peak_uv, "peak_to_peak_uv")
    return _with(ecg, ecg.signal_uv + half * _sinusoid(ecg, 1.0, frequency_hz, phase_rad))


def low_pass(ecg: Ecg, cutoff_hz: float = 40.0) -> Ecg:
    """The ECG through a cart's low-pass filter: second-order Butterworth at ``cutoff_hz``
    (capped at 0.45 x the sampling rate), zero phase, as the 40, 100 and 150 Hz settings of
    diagnostic and monitoring carts. It also takes pacing spikes away (0.1-2 ms wide)."""
    from ecgread.models.conditioning import butter_filtfilt

    fs = ecg.sampling_rate_hz
    x = ecg.signal_uv.astype(np.float64)
    nan = np.isnan(x)
    y = butter_filtfilt(np.where(nan, 0.0, x), 2, min(float(cutoff_hz), 0.45 * fs), "lowpass",
                        fs)
    y[nan] = np.nan
    return _with(ecg, y)


def add_emg_noise(ecg: Ecg, lead: str | None, rms_uv: float = 100.0, seed: int = 0) -> Ecg:
    """EMG-like noise in ``lead`` (every lead, each its own, when None): Gaussian white noise
    high-passed at 20 Hz (4th-order Butterworth), scaled to ``rms_uv`` (µV RMS). Muscle
    artefact spans about 20-500 Hz."""
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    fs = ecg.sampling_rate_hz
    shape = (ecg.n_samples,) if lead is not None else (len(ecg.lead_names), ecg.n_samples)
    noise = rng.normal(0.0, 1.0, shape)
    if fs > 45.0:
        noise = sosfiltfilt(butter(4, 20.0, btype="highpass", fs=fs, output="sos"), noise,
                            axis=-1)
    noise *= rms_uv / (np.sqrt(np.mean(noise**2, axis=-1, keepdims=True)) + 1e-12)
    out = ecg.signal_uv.astype(np.float64)
    if lead is None:
        out += noise
    else:
        out[ecg.lead_names.index(lead)] += noise
    return _with(ecg, out)


#: How an artefact at one limb electrode shows in each lead (Einthoven and Goldberger: I = LA -
#: RA, II = LL - RA, aVR = RA - (LA + LL) / 2, ...; the Wilson terminal, the mean of the three,
#: carries a third of it into every precordial lead with the opposite sign).
LIMB_ELECTRODE_PROJECTION: dict[str, dict[str, float]] = {
    "LA": {"I": 1.0, "II": 0.0, "III": -1.0, "aVR": -0.5, "aVL": 1.0, "aVF": -0.5},
    "RA": {"I": -1.0, "II": -1.0, "III": 0.0, "aVR": 1.0, "aVL": -0.5, "aVF": -0.5},
    "LL": {"I": 0.0, "II": 1.0, "III": 1.0, "aVR": -0.5, "aVL": -0.5, "aVF": 1.0},
}


def add_limb_tremor(ecg: Ecg, electrode: str = "LA", amplitude_uv: float = 150.0,
                    frequency_hz: float = 4.6, drift_hz: float = 0.2) -> Ecg:
    """A tremor of one limb electrode (``LA``, ``RA`` or ``LL``): an oscillation of peak
    ``amplitude_uv`` around ``frequency_hz`` (Parkinsonian tremor: 4-6 Hz), its frequency
    drifting by +-``drift_hz`` over 10 s as a tremor's does (a pure sinusoid at an integer
    multiple of the heart rate would add up in the median beat like a wave of the heart),
    projected into each lead by :data:`LIMB_ELECTRODE_PROJECTION`; leads of other names (a
    Holter's) get half."""
    proj = LIMB_ELECTRODE_PROJECTION[electrode]
    t = _time_s(ecg)
    f = frequency_hz + drift_hz * np.sin(2 * np.pi * 0.1 * t)
    wave = amplitude_uv * np.sin(2 * np.pi * np.cumsum(f) / ecg.sampling_rate_hz)
    gains = np.array([proj.get(ld, -1.0 / 3.0 if ld.startswith("V") else 0.5)
                      for ld in ecg.lead_names])
    return _with(ecg, ecg.signal_uv + gains[:, None] * wave[None, :])


def add_motion_burst(ecg: Ecg, start_s: float, duration_s: float = 2.0,
                     peak_uv: float = 1000.0, frequency_hz: float = 2.0) -> Ecg:
    """A motion artefact: ``duration_s`` of a ``frequency_hz`` oscillation under a Hann
    window, peaking at ``peak_uv``, from ``start_s``, with a gain from -1 to +1 across the
    leads (each lead's electrodes move differently)."""
    fs = ecg.sampling_rate_hz
    i = int(round(start_s * fs))
    n = max(0, min(int(round(duration_s * fs)), ecg.n_samples - i))
    t = np.arange(n) / fs
    burst = peak_uv * np.sin(2 * np.pi * frequency_hz * t) * np.hanning(n)
    out = ecg.signal_uv.astype(np.float64)
    out[:, i:i + n] += np.linspace(-1.0, 1.0, len(ecg.lead_names))[:, None] * burst[None, :]
    return _with(ecg, out)


def flatten_lead(ecg: Ecg, lead: str, seed: int = 0) -> Ecg:
    """``lead`` replaced by a flat line carrying 1 µV RMS of amplifier noise (a lead off)."""
    out = ecg.signal_uv.copy()
    out[ecg.lead_names.index(lead)] = np.random.default_rng(seed).normal(0.0, 1.0, ecg.n_samples)
    return _with(ecg, out)


def keep_leads(ecg: Ecg, leads: Sequence[str]) -> Ecg:
    """Only ``leads``, in that order; raises KeyError for a lead the ECG lacks."""
    missing = [ld for ld in leads if ld not in ecg.lead_names]
    if missing:
        raise KeyError(f"leads not in the ECG: {', '.join(missing)}")
    idx = [ecg.lead_names.index(ld) for ld in leads]
    return _with(ecg, ecg.signal_uv[idx], lead_names=tuple(leads))


def crop(ecg: Ecg, start_s: float, end_s: float | None = None) -> Ecg:
    """Samples from ``start_s`` to ``end_s`` (s; None: the end)."""
    fs = ecg.sampling_rate_hz
    lo = max(0, round(start_s * fs))
    hi = ecg.n_samples if end_s is None else min(ecg.n_samples, round(end_s * fs))
    if hi <= lo:
        raise ValueError(f"empty window {start_s}-{end_s} s of a {ecg.duration_s:.1f} s ECG")
    return _with(ecg, ecg.signal_uv[:, lo:hi])


def modulate_diastole(ecg: Ecg, diastoles_s: Sequence[tuple[float, float]], depth: float = 0.15,
                      period_s: float = 4.0, phase: float = 0.0) -> Ecg:
    """Respiratory sinus arrhythmia made from a regular rhythm: each diastole (``diastoles_s``:
    (T offset, next P onset) per RR interval, s, in time order) stretched or shortened by
    ``depth`` x the mean RR x sin(2 pi t / ``period_s`` + ``phase``), t its start; the P,
    QRS and T waves keep their samples, so the PR, QRS and QT stay what they were, as in
    sinus arrhythmia, where the diastole takes the change of rate. The depth is lowered
    where a diastole would shrink below a third of its length, and the changes are made
    to sum to zero, so that the mean rate stays (within a sample per beat)."""
    fs = ecg.sampling_rate_hz
    spans = [(round(a * fs), round(b * fs)) for a, b in diastoles_s]
    spans = [(a, b) for a, b in spans if 0 <= a < b <= ecg.n_samples]
    if len(spans) < 2 or any(b0 > a1 for (_, b0), (a1, _) in zip(spans, spans[1:], strict=False)):
        raise ValueError("diastoles must be at least two, in order and not overlapping")
    mean_rr = (spans[-1][0] - spans[0][0]) / (len(spans) - 1)
    n = np.array([b - a for a, b in spans], float)
    wave = np.sin(2 * np.pi * np.array([a for a, _ in spans]) / fs / period_s + phase)
    wave -= wave.mean()
    room = np.where(wave < 0, (2.0 / 3.0) * n / np.maximum(-wave * depth * mean_rr, 1e-9),
                    np.inf)
    change = np.round(min(1.0, float(room.min())) * depth * mean_rr * wave).astype(int)
    x = ecg.signal_uv.astype(np.float64)
    pieces, cursor = [], 0
    for (a, b), d in zip(spans, change, strict=True):
        pieces.append(x[:, cursor:a])
        grid = np.linspace(a, b - 1, b - a + int(d))
        pieces.append(np.stack([np.interp(grid, np.arange(a, b), lead[a:b]) for lead in x]))
        cursor = b
    pieces.append(x[:, cursor:])
    return _with(ecg, np.concatenate(pieces, axis=1))


def diastoles(a: Analysis, margin_s: float = 0.04) -> list[tuple[float, float]] | None:
    """The diastoles of a read for :func:`modulate_diastole`: per RR interval, from
    ``margin_s`` after the T offset to ``margin_s`` before the next P onset (s; the
    median over the leads of the waves between the two beats). None where a beat pair has
    no T wave or no P wave between them, or less than 50 ms between the two (no diastole to
    modulate: not a sinus rhythm, or too fast)."""
    out: list[tuple[float, float]] = []
    for b0, b1 in zip(a.beats, a.beats[1:], strict=False):
        between = [w for ws in a.waves.values() for w in ws if b0.r_s < w.peak_s < b1.r_s]
        t_off = [w.offset_s for w in between if w.type == "T"]
        p_on = [w.onset_s for w in between if w.type == "P"]
        if not t_off or not p_on:
            return None
        lo, hi = float(np.median(t_off)) + margin_s, float(np.median(p_on)) - margin_s
        if hi - lo < 0.05:
            return None
        out.append((lo, hi))
    return out


# --- what a harmless transformation must keep --------------------------------------------

#: Rhythm statement -> rhythm family; a copy must keep the set of families.
RHYTHM_FAMILY: dict[str, str] = {
    "SR": "sinus", "STACH": "sinus", "SBRAD": "sinus", "SARRH": "sinus",
    "EAR": "ectopic atrial", "JUNCT": "junctional", "ACC_JUNCT": "junctional",
    "AF": "AF/flutter", "AFL": "AF/flutter", "SVT": "SVT", "VT": "ventricular",
    "NSVT": "ventricular", "APACED": "paced", "VPACED": "paced", "AVPACED": "paced",
    "RHYTHM_UNDETERMINED": "undetermined", "UNINTERPRETABLE": "undetermined",
}
#: Largest change a harmless transformation may make (issue 10): bpm for the rate, ms else.
TOLERANCES: dict[str, float] = {"heart_rate_bpm": 3.0, "pr_ms": 12.0, "qrs_ms": 12.0,
                                "qt_ms": 20.0}
PROPERTIES = ("rhythm", "critical") + tuple(TOLERANCES)


def rhythm_families(a: Analysis) -> frozenset[str]:
    """The rhythm families of the read's statements (empty when it names no rhythm)."""
    return frozenset(RHYTHM_FAMILY[s.code] for s in a.statements if s.code in RHYTHM_FAMILY)


@dataclass(frozen=True)
class ReadChange:
    """One property a copy broke: its name, the value before and after (text)."""

    property: str
    before: str
    after: str


def read_changes(before: Analysis, after: Analysis) -> tuple[ReadChange, ...]:
    """The properties of :data:`PROPERTIES` that ``after`` (a transformed copy's read) broke.

    A measurement counts as changed when it moved beyond :data:`TOLERANCES`, or when it was
    measured in one read and not in the other. Critical: a critical statement in ``after``
    that ``before`` did not have.
    """
    out: list[ReadChange] = []
    fb, fa = rhythm_families(before), rhythm_families(after)
    if fb != fa:
        out.append(ReadChange("rhythm", "+".join(sorted(fb)) or "-",
                              "+".join(sorted(fa)) or "-"))
    crit_b = {s.code for s in before.statements if s.critical}
    new = sorted({s.code for s in after.statements if s.critical} - crit_b)
    if new:
        out.append(ReadChange("critical", ",".join(sorted(crit_b)) or "-", ",".join(new)))
    for name, tol in TOLERANCES.items():
        vb, va = getattr(before.measurements, name), getattr(after.measurements, name)
        if (vb is None) != (va is None) or (vb is not None and abs(va - vb) > tol):
            out.append(ReadChange(name, "null" if vb is None else f"{vb:.0f}",
                                  "null" if va is None else f"{va:.0f}"))
    return tuple(out)

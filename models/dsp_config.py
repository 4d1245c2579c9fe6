"""Validated, frozen parameters of the signal-processing engine, in physiological units.

Every stage of :func:`ecgread.models.analysis.analyze` reads its parameters from one
:class:`AnalysisConfig`. Values are checked on construction (ranges and cross-field
rules); an invalid value raises :class:`ecgread.errors.ConfigError`.

Delineation thresholds marked "tuned" were chosen by a small grid search on the
LUDB *tune* split (``bench.ludb.split(record_id) == "tune"``) against the expert
annotations; the *test* split was never used to choose them.

Example
-------
>>> cfg = AnalysisConfig()
>>> cfg.conditioning.highpass_hz
0.67
>>> AnalysisConfig(detection=QrsDetectConfig(min_rate_bpm=300))  # doctest: +SKIP
Traceback (most recent call last):
ConfigError: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from ecgread.errors import ConfigError

Delineator = Literal["dsp", "network", "fused"]
DELINEATORS: tuple[Delineator, ...] = ("dsp", "network", "fused")


def delineator_named(name: str) -> Delineator:
    """``name`` (a setting, a command-line option) as a :data:`Delineator`; ConfigError
    when it names none."""
    for known in DELINEATORS:
        if name == known:
            return known
    raise ConfigError(f"unknown delineator {name!r}")


def check_range(obj: object, name: str, lo: float, hi: float, *, lo_open: bool = False,
                hi_open: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``lo <= obj.name <= hi`` (``<`` at an open end).

    The one range check of every validated config in ``ecgread.models``; cross-field rules
    stay beside the fields they relate.

    Example
    -------
    >>> check_range(BeatConfig(), "dominant_corr", 0.5, 0.99)
    >>> check_range(BeatConfig(), "dominant_corr", 0.0, 0.9, hi_open=True)
    Traceback (most recent call last):
    ecgread.errors.ConfigError: BeatConfig.dominant_corr=0.9 outside [0.0, 0.9)
    """
    value = getattr(obj, name)
    above = value > lo if lo_open else value >= lo
    below = value < hi if hi_open else value <= hi
    if not (above and below):
        raise ConfigError(f"{type(obj).__name__}.{name}={value!r} outside "
                          f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}")


@dataclass(frozen=True)
class ConditioningConfig:
    """Diagnostic filtering after the AHA recommendations (Kligfield et al., Circulation
    2007;115:1306-1324): zero-phase high-pass at <= 0.67 Hz keeps the ST segment
    undistorted; a notch only where mains interference is present; 150 Hz upper limit
    (lowered to 0.45 x fs for low sampling rates)."""

    highpass_hz: float = 0.67
    lowpass_hz: float = 150.0
    notch_q: float = 30.0
    #: A mains frequency is notched when its spectral power exceeds this ratio over its
    #: neighbourhood (median of 2..8 Hz around it).
    mains_detect_ratio: float = 8.0
    #: Low-pass for delineation of QRS boundaries (muscle-noise suppression), Hz.
    qrs_smooth_hz: float = 40.0
    #: Low-pass for delineation of P and T waves, Hz.
    pt_smooth_hz: float = 15.0
    #: Pacing spike: |x[n] - (x[n-k] + x[n+k]) / 2| above this in the raw signal, with
    #: k = max(1, 2 ms), in one lead and above half of it in a second (models.conditioning:
    #: corroboration, noise floor, not searched below 500 Hz); spikes are cut out (linear
    #: interpolation) before filtering.
    pacing_spike_uv: float = 700.0
    pacing_cut_ms: float = 6.0

    def __post_init__(self) -> None:
        check_range(self, "highpass_hz", 0.05, 0.67)
        check_range(self, "lowpass_hz", 40.0, 500.0)
        check_range(self, "notch_q", 5.0, 100.0)
        check_range(self, "qrs_smooth_hz", 20.0, 100.0)
        check_range(self, "pt_smooth_hz", 5.0, 40.0)
        if self.pt_smooth_hz >= self.qrs_smooth_hz:
            raise ConfigError("pt_smooth_hz must be below qrs_smooth_hz")


@dataclass(frozen=True)
class QualityConfig:
    """Per-lead signal-quality thresholds (µV, s, fractions)."""

    flat_range_uv: float = 20.0  # robust peak-to-peak below this: flat / lead off
    missing_fraction: float = 0.2  # NaN share above this: lead off
    saturation_fraction: float = 0.02  # share of samples pinned at the extremes
    noise_ratio_noisy: float = 0.04  # HF (>40 Hz) noise RMS / signal range: "heavy noise"
    noise_ratio_unusable: float = 0.25  # above this the lead is excluded
    wander_uv: float = 1500.0  # peak-to-peak baseline (<0.5 Hz) above this: wander

    def __post_init__(self) -> None:
        check_range(self, "flat_range_uv", 1.0, 200.0)
        check_range(self, "missing_fraction", 0.0, 1.0)
        check_range(self, "saturation_fraction", 0.001, 0.5)
        if not self.noise_ratio_noisy < self.noise_ratio_unusable:
            raise ConfigError("noise_ratio_noisy must be below noise_ratio_unusable")


@dataclass(frozen=True)
class QrsDetectConfig:
    """Multi-lead QRS detector (energy of band-passed slopes summed over usable leads)."""

    min_rate_bpm: float = 30.0
    max_rate_bpm: float = 250.0
    band_low_hz: float = 5.0
    band_high_hz: float = 25.0
    integration_ms: float = 80.0
    threshold_ratio: float = 0.3  # of the median accepted peak height
    searchback_ratio: float = 0.15  # lower threshold used in long gaps

    def __post_init__(self) -> None:
        check_range(self, "min_rate_bpm", 10.0, 100.0)
        check_range(self, "max_rate_bpm", 120.0, 350.0)
        if self.min_rate_bpm >= self.max_rate_bpm:
            raise ConfigError("min_rate_bpm must be below max_rate_bpm")
        if self.band_low_hz >= self.band_high_hz:
            raise ConfigError("band_low_hz must be below band_high_hz")
        check_range(self, "threshold_ratio", 0.05, 0.9)
        if not self.searchback_ratio < self.threshold_ratio:
            raise ConfigError("searchback_ratio must be below threshold_ratio")


@dataclass(frozen=True)
class BeatConfig:
    """Beat typing and representative-beat construction."""

    dominant_corr: float = 0.9  # correlation with the dominant template to join it
    align_ms: float = 40.0  # beats meet the template at their best shift within +- this
    wide_qrs_ms: float = 120.0
    pacing_window_ms: float = 80.0  # spike at most this long before the QRS fiducial

    def __post_init__(self) -> None:
        check_range(self, "dominant_corr", 0.5, 0.99)
        check_range(self, "align_ms", 0.0, 60.0)


@dataclass(frozen=True)
class DelineationConfig:
    """Slope-threshold delineation (after Martinez et al., IEEE TBME 2004;51:570-581,
    on derivatives of low-passed signals instead of the quadratic-spline wavelet).

    Ratios are fractions of the wave's largest slope in that lead. Values marked
    "tuned" come from a grid search on the LUDB tune split.
    """

    qrs_sig_ratio: float = 0.2  # a slope above this share is "inside" the QRS (tuned)
    qrs_onset_ratio: float = 0.04  # tuned
    qrs_offset_ratio: float = 0.03  # tuned
    qrs_search_ms: float = 120.0  # QRS slopes searched within +-this of the fiducial
    p_onset_ratio: float = 0.35  # tuned
    p_offset_ratio: float = 0.45  # tuned
    t_onset_ratio: float = 0.35
    t_offset_ratio: float = 0.3  # tuned
    p_window_ms: float = 300.0  # P searched in this span before the QRS onset
    #: a P wave's steepest up- and downslope are searched within this span of its peak
    #: (its onset and offset lie beyond them): a small P wave after a long, slowly
    #: drifting T-P segment otherwise took its onset at the end of the previous T wave
    #: (CPSC A1985, 114 bpm: P waves of 170 ms in V1-V5, PR 188 against 125 ms in the
    #: other leads)
    p_slope_span_ms: float = 80.0
    p_min_uv: float = 5.0  # P amplitude floor in a lead (tuned)
    p_presence_corr: float = 0.3  # beat P segment vs median P segment, all leads (tuned)
    p_presence_snr: float = 1.45  # median P segment RMS / beat-to-beat scatter (tuned),
    #: per lead (models.delineate_core._p_presence)
    #: a lead votes for P waves only when its median P wave reaches this share of its QRS
    #: peak-to-peak (a relative floor, independent of gain; P waves are 5-25 % of the QRS)
    p_min_qrs_ratio: float = 0.02
    #: one lead's vote suffices when its P SNR reaches p_lone_vote_snr and the other leads'
    #: median scatter is at least p_lone_noise_ratio of their QRS peak-to-peak (they cannot
    #: judge): no LUDB, CPSC or QTDB record meets both without artefact (their leads' scatter
    #: is 0.2-0.8 % of the QRS, AF's 0.5-3 % with two or more votes or none strong)
    p_lone_vote_snr: float = 3.0
    p_lone_noise_ratio: float = 0.01
    t_max_ms: float = 620.0  # T offset at most this long after the fiducial
    #: template-guided delineation of the dominant beats (models/delineate_template.py)
    use_template: bool = True
    #: template T wave: peak searched up to t_peak_qtc_s x sqrt(RR) after the QRS onset,
    #: end up to t_end_qtc_s x sqrt(RR) (Bazett-scaled: a QTc of 550 ms; 500 ms cut long
    #: QT short, QTDB sel31 read 395 against the cardiologist's 528) and before the next P
    #: wave, lead peaks within t_peak_radius_ms of the multi-lead peak, trapezium base
    #: t_trapezium_ms (tuned; the two QTc limits chosen on the QT Database's global QT,
    #: ``python -m bench.qtdb --global``)
    t_peak_qtc_s: float = 0.45
    t_end_qtc_s: float = 0.55
    t_peak_radius_ms: float = 80.0
    t_trapezium_ms: float = 100.0
    #: template cross-lead outliers: a lead's boundary further than max(limit,
    #: outlier_mad_k x 1.4826 MAD) from the median over leads takes the median (tuned)
    p_outlier_ms: float = 50.0
    qrs_outlier_ms: float = 15.0
    t_outlier_ms: float = 40.0
    outlier_mad_k: float = 3.0
    #: constant bias corrections, ms, added to each boundary (tuned)
    qrs_onset_shift_ms: float = -8.0
    qrs_offset_shift_ms: float = 0.0
    p_onset_shift_ms: float = 0.0
    p_offset_shift_ms: float = -14.0
    t_offset_shift_ms: float = -5.0

    def __post_init__(self) -> None:
        for name in ("qrs_sig_ratio", "qrs_onset_ratio", "qrs_offset_ratio", "p_onset_ratio",
                     "p_offset_ratio", "t_onset_ratio", "t_offset_ratio"):
            check_range(self, name, 0.01, 0.95)
        if not self.qrs_onset_ratio < self.qrs_sig_ratio:
            raise ConfigError("qrs_onset_ratio must be below qrs_sig_ratio")
        check_range(self, "p_window_ms", 150.0, 450.0)
        check_range(self, "t_max_ms", 300.0, 900.0)
        check_range(self, "t_peak_qtc_s", 0.2, 0.7)
        check_range(self, "t_end_qtc_s", 0.3, 0.8)
        if not self.t_peak_qtc_s < self.t_end_qtc_s:
            raise ConfigError("t_peak_qtc_s must be below t_end_qtc_s")
        for name in ("t_peak_radius_ms", "t_trapezium_ms", "p_outlier_ms", "qrs_outlier_ms",
                     "t_outlier_ms"):
            check_range(self, name, 5.0, 1000.0)
        check_range(self, "outlier_mad_k", 1.0, 10.0)
        for name in ("qrs_onset_shift_ms", "qrs_offset_shift_ms", "p_onset_shift_ms",
                     "p_offset_shift_ms", "t_offset_shift_ms"):
            check_range(self, name, -30.0, 30.0)


@dataclass(frozen=True)
class AnalysisConfig:
    """All parameters of one analysis.

    ``delineator`` selects the delineation stage: ``"fused"`` (default: the DSP engine's
    waves fused with the neural delineator's, :mod:`ecgread.models.fusion`), ``"network"`` (the
    network's waves) or ``"dsp"`` (this engine alone).
    """

    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    detection: QrsDetectConfig = field(default_factory=QrsDetectConfig)
    beats: BeatConfig = field(default_factory=BeatConfig)
    delineation: DelineationConfig = field(default_factory=DelineationConfig)
    delineator: Delineator = "fused"
    min_duration_s: float = 2.0

    def __post_init__(self) -> None:
        if self.delineator not in DELINEATORS:
            raise ConfigError(f"unknown delineator {self.delineator!r}")
        check_range(self, "min_duration_s", 1.0, 60.0)

    def describe(self) -> dict[str, object]:
        """A flat dict of every parameter, for provenance records."""
        out: dict[str, object] = {"delineator": self.delineator}
        for part in ("conditioning", "quality", "detection", "beats", "delineation"):
            sub = getattr(self, part)
            for f in fields(sub):
                out[f"{part}.{f.name}"] = getattr(sub, f.name)
        return out

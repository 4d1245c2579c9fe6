"""Atrial activity outside the P-wave window: flutter waves and the atrial rate of AV
dissociation, from the periodicity of the signal between ventricular complexes.

Definitions
-----------
- *Atrial signal* of a lead: the 15 Hz low-passed conditioned signal, high-passed at
  2 Hz (so T waves weigh little), with the ventricular complexes blanked: from 20 ms before
  each beat's QRS onset to 20 ms after its offset for flutter waves; to the end of its T
  wave (QRS onset + Bazett QT of 0.45 s x sqrt(RR), at most 0.8 RR) for P waves.
- *Periodicity* of an atrial signal: the lag, within a search range, of the largest
  normalised autocorrelation computed over the samples unblanked at both ends of the lag.
- ``flutter_wave_rate_bpm``: regular atrial activity at 240-350 /min, the range of typical
  and atypical flutter (Mason JW et al. AHA/ACCF/HRS Part II, Circulation 2007;115:1325,
  statement 51; Page RL et al. 2015 ACC/AHA/HRS SVT guideline, Circulation 2016;133:e506):
  in each usable, noise-free lead of II, III, aVF and V1 (where flutter waves are largest),
  the atrial signal repeats with a peak of its autocorrelation inside the lags of
  171-250 ms (a maximum on the range's edge is the decay of a smooth signal's
  autocorrelation) of at least :data:`FLUTTER_MIN_CORR`, again at twice the lag (>=
  :data:`FLUTTER_MIN_CORR2`), so a sawtooth runs through the whole cycle with no
  isoelectric baseline, and below :data:`FLUTTER_MAX_HALF_CORR` at half the lag (a wave,
  not a harmonic of P and T waves); the leads that qualify must agree within 10 % (two
  leads when two or more are examined). Which atrial signal: with a regular ventricular
  response, the QRS-blanked signal; with an irregular one, the same signal after
  average-beat subtraction (:func:`_cancelled`: the record's median QRS-T complex
  subtracted from every beat; Slocum et al. 1992, below). Flutter waves with variable
  conduction are not locked to the QRS, so they outlive the subtraction while the T waves
  do not: in the blanked signal the
  T waves broke the sawtooth at 2:1-3:1 conduction (LUDB 35, typical flutter at 142/min,
  read sinus tachycardia), and in AF at 150-160/min the T-wave remnants of the short
  blanked stretches repeated at a flutter-like lag (synthetic AF read flutter). With fixed
  conduction the flutter waves are QRS-locked and only the blanked signal shows them. The
  autocorrelation is the approach of atrial-rate estimation from the ECG with the
  ventricular activity removed (Rieta JJ, Castells F, et al. Atrial activity extraction
  for atrial fibrillation analysis using blind source separation. IEEE TBME
  2004;51:1176-1186, reviewed there).
- ``atrial_rate_bpm`` (for AV dissociation): the periodicity at 40-200 /min of the signal
  with the whole QRS-T blanked, in the same leads, autocorrelation >=
  :data:`ATRIAL_MIN_CORR`. Before the 2 Hz high-pass the blanked stretches are bridged by
  straight lines (the ringing of an unblanked QRS-T weighed more than the P waves in
  complete AV block), and the cycle is the shortest submultiple of the best lag that keeps
  :data:`ATRIAL_SUBHARMONIC_RATIO` of its correlation (:func:`_fundamental_lag`): P waves
  hidden in the QRS-T leave fewer pairs one cycle apart than two cycles apart. Blanking
  and bridging the ventricular activity before estimating the atrial period follow the
  QRST-cancellation literature (Slocum J, Sahakian A, Swiryn S. Diagnosis of atrial
  fibrillation from surface electrocardiograms based on computer-detected atrial
  activity. J Electrocardiol 1992;25:1-8).
- ``av_phase_locking``: the share of the atrial signal (QRS-T blanked and bridged, 2 Hz
  high-passed; in the atrial leads and lead I, :data:`LOCKING_LEADS`, the best lead's) in
  the stretch before each QRS that the QRS-locked average explains,
  corrected for chance (:func:`_qrs_locked_share`): about 1 when the atrial waves keep
  their place before every QRS (sinus rhythm at any PR, fixed 2:1 block), near 0 when
  atria and ventricles beat independently (AV dissociation) or there are no atrial waves.
  The average-beat idea of QRST cancellation (Slocum et al. 1992, above) turned around:
  what the QRS-locked average explains is conducted, what it leaves is not. (It replaced
  the phase concentration of the QRS onsets on the estimated atrial cycle, which inherited
  every error of that estimate: sinus bradycardia on LUDB whose autocorrelation peaked
  at a lag between P and T-wave remnants read as dissociated.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgread.models.beats import median_windows
from ecgread.models.order_stats import median, median_1d

#: Leads where flutter and P waves are best seen.
ATRIAL_LEADS = ("II", "III", "aVF", "V1")
FLUTTER_MIN_CORR = 0.5
FLUTTER_MIN_CORR2 = 0.3
FLUTTER_MAX_HALF_CORR = 0.0
ATRIAL_MIN_CORR = 0.4
#: Flutter-band activity whose precordial share in the V leads' mean is this or more is a
#: limb-electrode artefact, not flutter waves (see the module docstring).
FLUTTER_COMMON_MODE_MAX = 0.8
#: Precordial leads the common-mode test needs.
COMMON_MODE_MIN_LEADS = 3
PRECORDIAL_LEADS = ("V1", "V2", "V3", "V4", "V5", "V6")
#: Leads whose atrial waves may show them locked to the QRS (``av_phase_locking``, the best
#: lead's): beside :data:`ATRIAL_LEADS`, lead I, so that an artefact at any one limb electrode
#: leaves one of them clean (left arm: II; right arm: III; left leg: I).
LOCKING_LEADS = ATRIAL_LEADS + ("I",)
#: A submultiple of the best lag is the atrial cycle when it reaches this share of the best.
ATRIAL_SUBHARMONIC_RATIO = 0.75
#: The atrial-rate autocorrelation needs this many x lag sample pairs kept at both ends.
ATRIAL_MIN_PAIRS = 2.0
#: ``av_phase_locking`` below this is AV dissociation: seeded synthetic complete AV block
#: gave 0.00-0.06, sinus rhythm on LUDB (200 records, incl. bradycardia) 0.42 and above.
AV_DISSOCIATED_BELOW = 0.25
#: Only the first minute is analysed.
MAX_ANALYSED_S = 60.0


@dataclass(frozen=True)
class AtrialActivity:
    """What :func:`atrial_activity` found (None: not found or not measurable)."""

    flutter_wave_rate_bpm: float | None
    flutter_leads: tuple[str, ...]
    atrial_rate_bpm: float | None
    av_phase_locking: float | None
    method: str = "blanked-autocorrelation"
    #: Share of the precordial flutter-band signal common to V1-V6 where regular activity at
    #: a flutter rate was found (None: none found, or fewer than 3 usable V leads).
    flutter_common_mode: float | None = None


def _highpass(x: np.ndarray, fs: float, hz: float = 2.0) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth high-pass of each row (``sosfiltfilt``)."""
    from ecgread.models.conditioning import butter_filtfilt

    return butter_filtfilt(x, 2, hz, "highpass", fs)


def _bridged(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``x`` (leads, samples) with the blanked samples replaced by a straight line between
    the kept samples on either side, so that the high-pass filter that follows does not
    spread the ventricular complexes (ringing of the QRS and T waves) into the kept
    samples."""
    idx = np.arange(x.shape[-1])
    if keep.sum() < 2:
        return x
    return np.stack([np.interp(idx, idx[keep], row[keep]) for row in x])


def _autocorr(x: np.ndarray, keep: np.ndarray, lags: np.ndarray,
              min_pairs: float = 3.0) -> np.ndarray:
    """Normalised autocorrelation of each row of ``x`` (leads, samples) at ``lags``
    (samples) over the samples kept at both ends, shape (leads, lags); NaN where fewer than
    ``min_pairs`` x lag sample pairs are kept or a row has no energy there.

    The four sums of every lag (pairs kept, cross products, energy at either end) are
    correlations of the kept signal and the keep mask, computed for all lags at once by
    FFT (zero-padded so that nothing wraps around); the pair counts are integers, rounded.
    """
    from scipy import fft

    n = x.shape[-1]
    m = fft.next_fast_len(n + int(lags.max()) + 1, real=True)
    kf = keep.astype(float)
    xm = np.where(keep, x, 0.0)
    fk = fft.rfft(kf, m)
    fx = fft.rfft(xm, m, axis=-1)
    fxx = fft.rfft(xm * xm, m, axis=-1)

    def at_lags(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
        """sum over i of a[i] b[i + lag], at ``lags``."""
        out: np.ndarray = fft.irfft(np.conj(fa) * fb, m, axis=-1)[..., lags]
        return out

    pairs = np.rint(at_lags(fk, fk))
    num = at_lags(fx, fx)
    den = np.sqrt(np.clip(at_lags(fxx, fk), 0.0, None) * np.clip(at_lags(fk, fxx), 0.0, None))
    # FFT round-off leaves ~1e-16 of the row's energy where the exact sums are zero
    floor = 1e-9 * (xm * xm).sum(axis=-1, keepdims=True)
    ok = (pairs >= min_pairs * lags) & (den > floor)
    return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


def _fundamental_lag(ac: np.ndarray, lags: np.ndarray) -> float | None:
    """The atrial cycle (samples) from an autocorrelation over ``lags``, or None.

    The best lag (autocorrelation >= :data:`ATRIAL_MIN_CORR`) may be a multiple of the
    cycle: P waves that fall in the blanked QRS-T leave gaps, so the pairs one cycle
    apart are fewer and weaker than those two cycles apart (complete AV block with the
    atrial rate about twice the ventricular). The cycle is the shortest submultiple
    best/k (k = 4, 3, 2) whose local maximum (within 8 %) reaches
    :data:`ATRIAL_SUBHARMONIC_RATIO` of the best and :data:`ATRIAL_MIN_CORR`.
    """
    if not np.isfinite(ac).any():
        return None
    j = int(np.nanargmax(ac))
    best = float(ac[j])
    if best < ATRIAL_MIN_CORR:
        return None
    for k in (4, 3, 2):
        near = np.abs(lags - lags[j] / k) <= 0.08 * lags[j] / k
        if not near.any() or not np.isfinite(ac[near]).any():
            continue
        i = int(np.flatnonzero(near)[np.nanargmax(ac[near])])
        interior = 0 < i < lags.size - 1 and ac[i] >= np.nan_to_num(ac[i - 1], nan=-1) \
            and ac[i] >= np.nan_to_num(ac[i + 1], nan=-1)
        if interior and ac[i] >= max(ATRIAL_MIN_CORR, ATRIAL_SUBHARMONIC_RATIO * best):
            return float(lags[i])
    return float(lags[j])


def _qrs_locked_share(x: np.ndarray, keep: np.ndarray, onsets: np.ndarray, fs: float,
                      rr_s: float) -> float | None:
    """How much of the atrial signal before each QRS keeps its place relative to the QRS.

    Per lead (rows of ``x``): the stretch before each QRS onset (ending 20 ms before it,
    at most 0.5 s, 0.5 x RR and the kept length before 3 in 4 onsets, at least 0.1 s; only
    where every sample is kept) is stacked; the share of each stretch's variance that the
    median over beats (the QRS-locked average) explains, its median over beats F, is
    corrected for the share N beats give by chance, (F - 1/N) / (1 - 1/N), clipped to
    [0, 1].
    The largest over the leads; None with fewer than 4 such stretches.
    """
    ends = (onsets - 0.02 * fs).astype(int)
    ends = ends[(ends > 0) & (ends <= keep.size)]
    runs = []
    for e in ends:  # kept samples just before each stretch's end
        blanked = np.flatnonzero(~keep[:e])
        runs.append(e - (blanked[-1] + 1 if blanked.size else 0))
    w = int(min(0.5 * fs, 0.5 * rr_s * fs, np.percentile(runs, 25) if runs else 0))
    if w < int(0.1 * fs):
        return None
    ends = ends[ends - w >= 0]
    ends = np.array([e for e in ends if keep[e - w:e].all()], dtype=int)
    if ends.size < 4:
        return None
    shares = []
    for row in x:
        seg = np.stack([row[e - w:e] for e in ends])
        total = ((seg - seg.mean()) ** 2).sum(axis=1)  # per beat
        if not (total > 0).all():
            continue
        # per beat, the share its QRS-locked part (the median over beats) explains; the
        # median over beats, so that an artefact over a few beats (a 2 s motion burst read
        # complete AV block on 21 of 203 records) does not make the others dissociated
        f = median_1d(1.0 - ((seg - median(seg.T)) ** 2).sum(axis=1) / total)
        n = 1.0 / ends.size
        shares.append(min(1.0, max(0.0, (f - n) / (1.0 - n))))
    # the best lead: atrial waves locked to the QRS in one clean lead are conducted, whatever
    # an artefact does to the others (a left-arm tremor in III and aVF, II clean: complete AV
    # block read on sinus rhythm with a PR of 211 ms on every beat, CPSC A1986)
    return float(np.max(shares)) if shares else None


def _cancelled(x: np.ndarray, r: np.ndarray, on: np.ndarray, t_end: np.ndarray,
               fs: float) -> np.ndarray | None:
    """``x`` (leads, samples) with the record's median QRS-T complex subtracted from every
    beat (average-beat subtraction), over the span from 20 ms before the QRS onset to the T
    end (median offsets from the fiducials ``r``); None with fewer than 3 whole spans."""
    n = x.shape[1]
    ri = np.round(r).astype(int)
    a = int(round(median_1d(r - on) + 0.02 * fs))
    b = int(round(median_1d(t_end - r)))
    whole = (ri - a >= 0) & (ri + b < n)
    if whole.sum() < 3 or a < 0 or b <= 0:
        return None
    template = median_windows(x, ri[whole] - a, a + b + 1)
    out = x.copy()
    for k in ri[whole]:
        out[:, k - a:k + b + 1] -= template
    return out


def _flutter(ac_f: np.ndarray, f_all: np.ndarray, f_lags: np.ndarray, names: list[str],
             fs: float) -> tuple[float, tuple[str, ...]] | None:
    """(rate /min, agreeing leads) of flutter waves from the autocorrelations ``ac_f``
    (one row per examined lead in ``names``, at lags ``f_all``), or None (see the module
    docstring)."""
    f_rates: list[tuple[str, float]] = []
    for k, name in enumerate(names):
        ac = ac_f[k, f_lags - f_all[0]]
        if not np.isfinite(ac).any():
            continue
        j = int(np.nanargmax(ac))
        if j in (0, ac.size - 1):  # the decaying edge of the search range, not a period
            continue
        lag = int(f_lags[j])
        ac2, half = ac_f[k, 2 * lag - f_all[0]], ac_f[k, lag // 2 - f_all[0]]
        if (ac[j] >= FLUTTER_MIN_CORR and np.isfinite(ac2) and ac2 >= FLUTTER_MIN_CORR2
                and np.isfinite(half) and half < FLUTTER_MAX_HALF_CORR):
            f_rates.append((name, 60.0 * fs / lag))
    need = 2 if len(names) >= 2 else 1
    if len(f_rates) < need:
        return None
    med = median_1d([v for _, v in f_rates])
    agree = tuple(ld for ld, v in f_rates if abs(v - med) <= 0.1 * med)
    return (med, agree) if len(agree) >= need else None


def precordial_common_mode(x: np.ndarray, keep: np.ndarray, fs: float, rate_bpm: float
                           ) -> float:
    """Share of the power of ``x`` (precordial leads, samples; QRS-T complexes already
    subtracted) in a band around ``rate_bpm`` over the ``keep`` samples that the leads' mean
    carries: 1 when every lead shows the same oscillation, 1 / leads for independent ones."""
    from ecgread.models.conditioning import butter_filtfilt

    f = rate_bpm / 60.0
    band = butter_filtfilt(x, 2, (0.8 * f, 1.25 * f), "bandpass", fs)
    return common_mode_share(band[:, keep])


def common_mode_share(band: np.ndarray) -> float:
    """Share of the power of ``band`` (leads, samples) that the leads' mean carries."""
    total = float((band ** 2).sum())
    if total <= 0.0:
        return 0.0
    return float((band.mean(axis=0) ** 2).sum() * band.shape[0] / total)


def _blank(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    keep = np.ones(n, bool)
    for s, e in zip(starts, ends, strict=True):
        keep[max(0, int(s)):max(0, min(n, int(e) + 1))] = False
    return keep


def atrial_activity(pt_smooth_uv: np.ndarray, sampling_rate_hz: float,
                    lead_names: tuple[str, ...], rhythm_leads: np.ndarray,
                    r_samples: np.ndarray, qrs_onset: np.ndarray, qrs_offset: np.ndarray,
                    *, irregular: bool = False) -> AtrialActivity:
    """Flutter waves and the atrial rate (see the module docstring).

    Parameters
    ----------
    pt_smooth_uv:
        (leads, samples) 15 Hz low-passed conditioned signal, µV.
    sampling_rate_hz:
        Samples per second.
    lead_names:
        One name per row.
    rhythm_leads:
        bool per lead: usable and free of noise or saturation.
    r_samples, qrs_onset, qrs_offset:
        Per beat: fiducial and multi-lead QRS onset and offset, samples (NaN allowed).
    irregular:
        The ventricular response is irregular: flutter waves must then show after
        average-beat subtraction (see the module docstring).
    """
    fs = float(sampling_rate_hz)
    r = np.asarray(r_samples, float)
    none = AtrialActivity(None, (), None, None)
    rows = [i for i, ld in enumerate(lead_names) if ld in ATRIAL_LEADS and rhythm_leads[i]]
    if r.size < 3 or not rows:
        return none
    n = pt_smooth_uv.shape[1]
    on = np.where(np.isfinite(qrs_onset), qrs_onset, r - 0.06 * fs)
    off = np.where(np.isfinite(qrs_offset), qrs_offset, r + 0.06 * fs)
    rr = np.diff(r) / fs
    rr_med = median_1d(rr)
    keep_qrs = _blank(n, on - 0.02 * fs, off + 0.02 * fs)
    t_end = on + np.minimum(0.45 * np.sqrt(rr_med), 0.8 * rr_med) * fs
    keep_qrst = _blank(n, on - 0.02 * fs, t_end)
    # outside the first and last complexes nothing is known about what was blanked
    keep_qrs[:int(max(0, on[0]))] = False
    keep_qrs[int(min(n, off[-1])):] = False
    lock_rows = [i for i, ld in enumerate(lead_names) if ld in LOCKING_LEADS and rhythm_leads[i]
                 and i not in rows]
    raw = np.asarray(pt_smooth_uv, float)
    both = raw[rows]  # one filter call: rows are independent
    parts = [both, _bridged(both, keep_qrst)] + ([_bridged(raw[lock_rows], keep_qrst)]
                                                  if lock_rows else [])
    both = _highpass(np.concatenate(parts), fs)
    x, xa = both[:len(rows)], both[len(rows):2 * len(rows)]
    m = min(n, int(MAX_ANALYSED_S * fs))  # bounded cost on long records
    xl = both[len(rows):, :m]  # the atrial leads' locking signal, then lead I's
    x, xa, keep_qrs, keep_qrst = x[:, :m], xa[:, :m], keep_qrs[:m], keep_qrst[:m]
    f_lags = np.arange(round(0.171 * fs), round(0.250 * fs) + 1)
    a_rates: list[float] = []
    a_lags = np.arange(round(0.3 * fs), round(1.5 * fs) + 1, max(1, int(fs // 250)))
    f_all = np.arange(round(0.171 * fs) // 2, 2 * round(0.250 * fs) + 1)  # half to double
    names = [lead_names[row] for row in rows]
    # variable conduction: the flutter waves outlive beat subtraction, the T waves do not
    xf = _cancelled(x, r[r < m], on[r < m], t_end[r < m], fs) if irregular else x
    found = (_flutter(_autocorr(xf, keep_qrs, f_all), f_all, f_lags, names, fs)
             if xf is not None else None)
    flutter, f_leads = found if found is not None else (None, ())
    common = None
    vrows = [i for i, ld in enumerate(lead_names) if ld in PRECORDIAL_LEADS and rhythm_leads[i]]
    if flutter is not None and len(vrows) >= COMMON_MODE_MIN_LEADS:
        xv = _cancelled(_highpass(np.asarray(pt_smooth_uv, float)[vrows], fs)[:, :m],
                        r[r < m], on[r < m], t_end[r < m], fs)
        if xv is not None:
            common = precordial_common_mode(xv, keep_qrs, fs, flutter)
            if common >= FLUTTER_COMMON_MODE_MAX:
                flutter, f_leads = None, ()
    ac_a = _autocorr(xa, keep_qrst, a_lags, ATRIAL_MIN_PAIRS)
    for k in range(len(rows)):
        lag_a = _fundamental_lag(ac_a[k], a_lags)
        if lag_a is not None:
            a_rates.append(60.0 * fs / lag_a)
    atrial = median_1d(a_rates) if a_rates else None
    locking = _qrs_locked_share(xl, keep_qrst, on[on < m], fs, rr_med)
    return AtrialActivity(flutter, f_leads, atrial, locking, flutter_common_mode=common)

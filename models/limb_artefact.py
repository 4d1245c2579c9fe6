"""A tremor or other oscillation at one limb electrode, found from how it enters the leads.

Physics: the limb leads are differences of the three limb electrodes (I = LA - RA, II =
LL - RA, III = LL - LA; aVR, aVL, aVF against the mean of the other two), and every
precordial lead is measured against the Wilson central terminal, the mean of the three
(Einthoven; Goldberger; Wilson). An artefact at one limb electrode therefore enters every
precordial lead alike (a third of it, one sign), enters two of I, II and III fully and
leaves the third clean (left arm: II; right arm: III; left leg: I). No cardiac source looks
like that: the heart's field differs from V1 to V6.

Method: the 15 Hz low-passed signal of the precordial leads and I, II, III, taken at about
50 samples/s over the first minute (the band ends at 8 Hz; the search costs about 0.5 ms
per ECG), with the median QRS-T complex subtracted from every beat (average-beat
subtraction) and the QRS complexes left out; the strongest oscillation of the precordial
mean at 3-8 Hz (tremor: 4-6 Hz Parkinsonian, 6-12 Hz physiological; shivering); an
artefact when V1-V6 carry it alike (the share of their band signal that their mean
carries, :func:`models.atrial.common_mode_share`, >= :data:`COMMON_MODE_MIN`)
and it is large enough to move boundaries (its RMS in the precordial mean at least
:data:`MIN_QRS_SHARE` of their median QRS amplitude). The electrode is the one whose
clean limb lead (the weakest of I, II, III at that frequency) carries under
:data:`CLEAN_LEAD_MAX` of the other two; without such a lead it is not one electrode's
artefact and nothing is reported (the fibrillatory waves of paced AF on LUDB 8 are common
to V1-V6 at 0.82).

Clean records (140 LUDB, 10 CPSC, the vendor samples) stay below the levels; a 4.6 Hz, 150 µV
tremor at one electrode of 30 of them is found, and its electrode named (``python -m
bench.invariance`` reads those copies).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgread.models.order_stats import median_1d

#: The lead problem a limb electrode's artefact gives the leads it entered.
LIMB_ARTEFACT_PROBLEM = "limb electrode artefact"
#: Share of the precordial band signal that their mean must carry.
COMMON_MODE_MIN = 0.8
#: Band RMS of the precordial mean over their median QRS peak-to-peak (clean records: below
#: 1.3 %, 2.3 % in one paced record whose share is 0.67; 150 µV tremor copies: 1.7-4.5 %).
MIN_QRS_SHARE = 0.015
#: The clean limb lead carries at most this share of the band RMS of the other two.
CLEAN_LEAD_MAX = 0.35
BAND_HZ = (3.0, 8.0)
#: Only the first minute is analysed (as models.atrial does), at about this rate.
MAX_ANALYSED_S = 60.0
ANALYSIS_RATE_HZ = 50.0
#: The limb lead an artefact at each electrode leaves clean, and the leads it enters.
CLEAN_LEAD = {"LL": "I", "LA": "II", "RA": "III"}
AFFECTED = {"LA": ("I", "III", "aVR", "aVL", "aVF"), "RA": ("I", "II", "aVR", "aVL", "aVF"),
            "LL": ("II", "III", "aVR", "aVL", "aVF")}


@dataclass(frozen=True)
class LimbArtefact:
    """An oscillation that entered the leads through one limb electrode."""

    frequency_hz: float
    common_mode: float  # share of the precordial band signal their mean carries
    qrs_share: float  # its RMS over the precordial leads' median QRS peak-to-peak
    electrode: str  # "LA", "RA" or "LL"
    leads: tuple[str, ...]  # the limb leads of the record it entered


def find_limb_artefact(pt_smooth_uv: np.ndarray, sampling_rate_hz: float,
                       lead_names: tuple[str, ...], usable: np.ndarray,
                       r_samples: np.ndarray) -> LimbArtefact | None:
    """The limb-electrode artefact of the record, or None (none; not the pattern of one
    electrode; fewer than three usable precordial leads, leads I, II and III not all usable,
    or fewer than four beats).

    Parameters
    ----------
    pt_smooth_uv:
        (leads, samples) 15 Hz low-passed conditioned signal, µV.
    r_samples:
        QRS fiducials of the beats (samples).
    """
    from ecgread.models.atrial import PRECORDIAL_LEADS, _blank, _cancelled, common_mode_share
    from ecgread.models.conditioning import butter_filtfilt

    fs_in = float(sampling_rate_hz)
    vrows = [i for i, ld in enumerate(lead_names) if ld in PRECORDIAL_LEADS and usable[i]]
    limb = [lead_names.index(ld) for ld in ("I", "II", "III") if ld in lead_names]
    if len(vrows) < 3 or len(limb) < 3 or not all(usable[i] for i in limb):
        return None
    # every 1/q-th sample of the 15 Hz low-passed signal (about 50 /s: the band ends at
    # 8 Hz); the first minute only, for a bounded cost on long records
    q = max(1, int(fs_in // ANALYSIS_RATE_HZ))
    fs = fs_in / q
    x = np.asarray(pt_smooth_uv, float)[vrows + limb, :int(MAX_ANALYSED_S * fs_in):q]
    n = x.shape[1]
    r = np.asarray(r_samples, float) / q
    r = r[r < n]
    if r.size < 4 or fs < 4 * BAND_HZ[1]:
        return None
    rr = median_1d(np.diff(r)) / fs
    on = r - 0.06 * fs
    t_end = on + min(0.45 * np.sqrt(rr), 0.8 * rr) * fs
    keep = _blank(n, on - 0.02 * fs, r + 0.08 * fs)
    keep[:int(max(0.0, on[0]))] = False
    keep[int(min(n, r[-1] + 0.08 * fs)):] = False
    if keep.sum() < fs:
        return None
    nv = len(vrows)
    cancelled = _cancelled(x, r, on, t_end, fs)
    if cancelled is None:
        return None
    mean = np.where(keep, cancelled[:nv].mean(axis=0), 0.0)
    spec = np.abs(np.fft.rfft(mean)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    f0 = float(freqs[band][np.argmax(spec[band])])
    narrow = butter_filtfilt(cancelled, 2, (0.8 * f0, 1.25 * f0), "bandpass", fs)[:, keep]
    common = common_mode_share(narrow[:nv])
    qrs = median_1d(np.ptp(x[:nv], axis=1))
    share = float(np.sqrt(np.mean(narrow[:nv].mean(axis=0) ** 2))) / max(qrs, 1e-9)
    if common < COMMON_MODE_MIN or share < MIN_QRS_SHARE:
        return None
    rms = dict(zip(("I", "II", "III"), np.sqrt(np.mean(narrow[nv:] ** 2, axis=1)), strict=True))
    cleanest = min(rms, key=lambda ld: rms[ld])
    if rms[cleanest] > CLEAN_LEAD_MAX * min(v for ld, v in rms.items() if ld != cleanest):
        return None  # no limb lead clean: not one electrode (AF waves of LUDB 8: 0.82)
    electrode = next(e for e, ld in CLEAN_LEAD.items() if ld == cleanest)
    return LimbArtefact(f0, common, share, electrode,
                        tuple(ld for ld in AFFECTED[electrode] if ld in lead_names))


#: The augmented limb lead that carries an artefact at each electrode in full (aVR = RA -
#: (LA + LL) / 2, and so on).
AUGMENTED_LEAD = {"RA": "aVR", "LA": "aVL", "LL": "aVF"}


def away_from_electrode(signal: np.ndarray, lead_names: tuple[str, ...],
                        electrode: str) -> np.ndarray:
    """``signal`` (leads, samples) with each precordial lead referred to the mean of the two
    limb electrodes other than ``electrode`` instead of the Wilson central terminal, so that
    an artefact at that electrode leaves them.

    Wilson's terminal is (RA + LA + LL) / 3; with the left arm left out, V - (RA + LL) / 2 =
    V + (2 LA - RA - LL) / 6 = V + aVL / 3 (likewise aVR for the right arm, aVF for the left
    leg). The chest leads keep their electrode and so their timing; their waves change by a
    third of the augmented lead's, as a chest lead recorded against another terminal would.
    Other rows are returned as they are; without the augmented lead, ``signal`` itself.
    """
    from ecgread.models.atrial import PRECORDIAL_LEADS

    aug = AUGMENTED_LEAD[electrode]
    if aug not in lead_names:
        return signal
    rows = [i for i, ld in enumerate(lead_names) if ld in PRECORDIAL_LEADS]
    if not rows:
        return signal
    out = np.array(signal, dtype=float, copy=True)
    out[rows] += out[lead_names.index(aug)][None, :] / 3.0
    return out

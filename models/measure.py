"""Global measurements, per-lead amplitudes and limb-lead checks on the representative beat.

Definitions (all on the representative (median) beat of the dominant beats)
--------------------------------------------------------------------------
- Global boundaries: from each usable lead's own onset/offset, the *earliest onset*
  and *latest offset* that at least one other lead confirms within 12 ms (a lone
  outlier lead cannot stretch an interval).
- ``rr_ms``: mean of all RR intervals of the record; ``heart_rate_bpm`` = 60000 / rr_ms.
- ``p_ms`` = P offset - P onset; ``pr_ms`` = QRS onset - P onset; ``qrs_ms`` = QRS offset
  - QRS onset, each boundary refined by the spatial velocity of all usable leads
  (:mod:`models.qrs_spatial`; the J point of the ST measurements stays the per-lead one);
  ``qt_ms`` = T offset - QRS onset. P and PR are null unless at least half of
  the dominant beats have a P wave (AF, junctional rhythm: null, with the reason).
- QTc with RR in s: Bazett QT/RR^0.5 (Heart 1920;7:353); Fridericia QT/RR^(1/3) (Acta Med
  Scand 1920;53:469); Framingham QT + 154 (1 - RR) (Sagie, Am J Cardiol 1992;70:797);
  Hodges QT + 1.75 (HR - 60) (JACC 1983;1:694).
- Axes: frontal-plane vector fitted by least squares to the net areas (µV·ms) of the
  usable limb leads within the wave's global boundaries, lead angles I 0°, II 60°,
  III 120°, aVR -150°, aVL -30°, aVF 90°; axis = atan2(y, x) in degrees (-180, 180].
- Amplitudes, µV, relative to the PR baseline (mean over QRS onset - 20 ms .. - 4 ms);
  P relative to the level at P onset. QRS deflections are the sign runs of the QRS
  whose extreme is >= 20 µV: Q = an initial negative run, R = first positive, S =
  the negative run after R, R' / S' = the next positive / negative; q_uv and s_uv are
  negative numbers; a QRS without any positive run is a QS complex (r_uv None). J =
  level at the QRS offset; ``st_j60_uv`` 60 ms after it. T = the signed value at the
  lead's T peak. ``r_peak_time_ms`` = QRS onset to the peak of the last R (R' when
  present). ``q_ms`` = the Q wave's duration in that lead, from where it leaves the
  baseline (10 % of its depth) to where it crosses back. ``qrs_area_uv_ms`` = signed
  area over the global QRS.
- ``j_beat_se_uv``: how well the J level is measured. On each beat of the median, J minus
  the PR baseline (the same windows); the robust SD (1.4826 x MAD) over beats, times
  1.2533 / sqrt(n), the standard error of a median. Noise or wander in a lead scatters the
  per-beat J levels although the median beat looks clean; a STEMI criterion needs the ST
  level measured (:mod:`models.interpret.criteria.st_t_qt`). None with fewer than 3 beats.
- Limb-lead checks: "suspected limb lead reversal (LA/RA)" when lead I has negative QRS
  and T areas (and negative P when present) while aVR has a positive QRS; "limb leads
  inconsistent" when II differs from I + III (Einthoven) by > 25 % RMS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ecgread.models.delineate import Delineation
from ecgread.models.order_stats import median, median_1d
from ecgread.models.qrs_spatial import spatial_qrs_bounds
from ecgread.models.results import GlobalMeasurements, LeadAmplitudes

LIMB_ANGLES_DEG = {"I": 0.0, "II": 60.0, "III": 120.0, "aVR": -150.0, "aVL": -30.0,
                   "aVF": 90.0}
MIN_WAVE_UV = 20.0


def _above_chord(seg: np.ndarray) -> np.ndarray:
    """``seg`` less the straight line joining its first and last samples: a P wave's amplitude
    measured from its own onset and offset, so that the slope of the PR segment (atrial
    repolarisation, wander) is not read as a terminal phase whose size depends on the gain.

    The P axis keeps the area from the onset level: measured from the chord it came closer to
    the vendors' P axes (``bench.vendor_agreement``: -3.0 +- 10.1 -> +1.7 +- 3.2 deg) but a
    negative flutter sawtooth then read an inferior 'P axis' (79-83 deg) and synthetic 3:1
    and 4:1 flutter read sinus rhythm (``models.rhythm.atrial_waves``'s sinus guard)."""
    out: np.ndarray = seg - np.linspace(seg[0], seg[-1], seg.size)
    return out


@dataclass(frozen=True, eq=False)
class Measurement:
    measurements: GlobalMeasurements
    amplitudes: dict[str, LeadAmplitudes]
    fiducials_s: dict[str, float | None]  # global, relative to the fiducial of the beat
    lead_problems: tuple[str, ...]
    method: str = "representative-beat"
    config: dict[str, float] = field(default_factory=dict)


def _robust_edge(v: np.ndarray, earliest: bool, tol: float) -> float | None:
    v = np.sort(v[np.isfinite(v)])
    if v.size == 0:
        return None
    if v.size == 1:
        return float(v[0])
    seq = v if earliest else v[::-1]
    for i, x in enumerate(seq[:-1]):
        if abs(seq[i + 1] - x) <= tol:
            return float(x)
    return median_1d(v)


def _axis(areas: dict[str, float]) -> float | None:
    names = [n for n in areas if n in LIMB_ANGLES_DEG and np.isfinite(areas[n])]
    if len(names) < 2:
        return None
    ang = np.deg2rad([LIMB_ANGLES_DEG[n] for n in names])
    a = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    if np.linalg.matrix_rank(a) < 2:
        return None
    (vx, vy), *_ = np.linalg.lstsq(a, np.array([areas[n] for n in names]), rcond=None)
    if np.hypot(vx, vy) == 0:
        return None
    return float(np.rad2deg(np.arctan2(vy, vx)))


def _qrs_parts(dev: np.ndarray, fs: float) -> list[tuple[int, int, int, float]]:
    """Sign runs (start, end, extreme index, extreme value) of significant size."""
    sign = np.sign(dev)
    edges = np.flatnonzero(np.diff(sign) != 0) + 1
    size = np.abs(dev)
    values = dev.tolist()
    parts: list[tuple[int, int, int, float]] = []
    # each run [start, end) of one sign, its extreme the first sample of largest |dev|
    for start, end in zip([0, *edges.tolist()], [*edges.tolist(), dev.size], strict=True):
        if end == start:
            continue
        k = start + int(np.argmax(size[start:end]))
        v = values[k]
        if abs(v) >= MIN_WAVE_UV:
            if parts and np.sign(parts[-1][3]) == np.sign(v):
                s, _, kk, vv = parts[-1]
                parts[-1] = (s, end - 1, kk if abs(vv) >= abs(v) else k,
                             vv if abs(vv) >= abs(v) else v)
            else:
                parts.append((start, end - 1, k, v))
    return parts


#: The Q wave begins where the lead first falls below this share of the Q depth (at least
#: MIN_WAVE_UV / 2) after the global QRS onset.
Q_ONSET_SHARE = 0.1


def _q_duration_ms(dev: np.ndarray, q_part: tuple[int, int, int, float], ms: float) -> float:
    """Duration of the Q wave ``q_part`` (a run of :func:`_qrs_parts`) of one lead's QRS
    ``dev`` (from the global QRS onset), ms: from where the lead leaves its baseline
    (:data:`Q_ONSET_SHARE` of the depth) to where it crosses back. Counted from the global
    onset instead, a lead whose QRS begins later (an isoelectric start) would have its
    flat start added to the Q wave."""
    start, end, k, v = q_part
    level = max(Q_ONSET_SHARE * abs(v), MIN_WAVE_UV / 2.0)
    below = np.flatnonzero(dev[start:k + 1] <= -level)
    first = start + int(below[0]) if below.size else k
    return (end + 1 - first) / ms


def _amplitudes(x: np.ndarray, fs: float, f: dict[str, int | None], t_peak: int | None,
                p_x: np.ndarray | None = None) -> LeadAmplitudes:
    """Amplitudes of one lead's representative beat ``x``; the P wave's from ``p_x`` (the
    same beat low-passed) when given."""
    qon, qoff = f["qrs_onset"], f["qrs_offset"]
    if qon is None or qoff is None:
        return LeadAmplitudes()
    ms = fs / 1000.0
    a, b = max(0, qon - int(20 * ms)), max(1, qon - int(4 * ms))
    base = float(np.mean(x[a:b])) if b > a else float(x[qon])
    dev = x[qon:qoff + 1] - base
    parts = _qrs_parts(dev, fs)
    q = r = s = r2 = s2 = None
    q_ms = rpt = None
    labels: list[str] = []
    for part in parts:
        pos = part[3] > 0
        if not labels:
            labels.append("R" if pos else "Q")
        elif pos:
            labels.append("R" if "R" not in labels else "R'")
        else:
            labels.append("S" if "S" not in labels else "S'")
    last_r = None
    for lab, part in zip(labels, parts, strict=True):
        if lab == "Q":
            q, q_ms = part[3], _q_duration_ms(dev, part, ms)
        elif lab == "R":
            r, last_r = part[3], part[2]
        elif lab == "S" and s is None:
            s = part[3]
        elif lab == "R'" and r2 is None:
            r2, last_r = part[3], part[2]
        elif lab == "S'" and s2 is None:
            s2 = part[3]
    if last_r is not None:
        rpt = last_r / ms
    j = float(x[qoff] - base)
    k60 = qoff + int(60 * ms)
    st = float(x[k60] - base) if k60 < x.size else None
    t_uv = float(x[t_peak] - base) if t_peak is not None else None
    p_uv = p2 = None
    pon, poff = f["p_onset"], f["p_offset"]
    if pon is not None and poff is not None and poff > pon:
        pd = _above_chord((x if p_x is None else p_x)[pon:poff + 1])
        i_max, i_min = int(np.argmax(pd)), int(np.argmin(pd))
        hi, lo = float(pd[i_max]), float(pd[i_min])
        if hi >= MIN_WAVE_UV and -lo >= MIN_WAVE_UV:
            p_uv, p2 = (hi, lo) if i_max < i_min else (lo, hi)
        else:
            p_uv = hi if abs(hi) >= abs(lo) else lo
    area = float(dev.sum() / ms)
    return LeadAmplitudes(p_uv=p_uv, q_uv=q, r_uv=r, s_uv=s, r_prime_uv=r2, s_prime_uv=s2,
                          j_uv=j, st_j60_uv=st, t_uv=t_uv, p_prime_uv=p2, q_ms=q_ms,
                          r_peak_time_ms=rpt, qrs_area_uv_ms=area)


def _j_beat_se(record_uv: np.ndarray, beat_samples: np.ndarray, pre_samples: int,
               g: dict[str, int | None], fs: float) -> np.ndarray | None:
    """Per lead, the standard error (µV) of the median J level over the beats."""
    qon, qoff = g["qrs_onset"], g["qrs_offset"]
    if qon is None or qoff is None:
        return None
    ms = fs / 1000.0
    off = np.asarray(beat_samples, int) - pre_samples
    a, b = max(0, qon - int(20 * ms)), max(1, qon - int(4 * ms))
    ok = (off + a >= 0) & (off + max(b, qoff + 1) <= record_uv.shape[1])
    off = off[ok]
    if off.size < 3 or b <= a:
        return None
    base_idx = off[:, None] + np.arange(a, b)[None, :]  # (beats, window)
    base = np.nanmean(record_uv[:, base_idx], axis=2)  # (leads, beats)
    dev = record_uv[:, off + qoff] - base
    if np.isnan(dev).any():
        mad = np.nanmedian(np.abs(dev - np.nanmedian(dev, axis=1, keepdims=True)), axis=1)
    else:  # the same medians (np.nanmedian's masked path costs some 0.5 ms)
        mad = median(np.abs(dev - median(dev, keepdims=True)))
    se: np.ndarray = 1.2533 * 1.4826 * mad / np.sqrt(off.size)
    return se


def qtc_all(qt_ms: float, rr_ms: float) -> dict[str, float]:
    """QTc by Bazett, Fridericia, Framingham (Sagie 1992) and Hodges, ms.

    >>> {k: round(v) for k, v in qtc_all(400.0, 1000.0).items()}
    {'qtc_bazett_ms': 400, 'qtc_fridericia_ms': 400, 'qtc_framingham_ms': 400, 'qtc_hodges_ms': 400}
    """
    rr = rr_ms / 1000.0
    hr = 60000.0 / rr_ms
    return {"qtc_bazett_ms": qt_ms / rr ** 0.5, "qtc_fridericia_ms": qt_ms / rr ** (1 / 3),
            "qtc_framingham_ms": qt_ms + 154.0 * (1 - rr),
            "qtc_hodges_ms": qt_ms + 1.75 * (hr - 60.0)}


def measure(median_uv: np.ndarray, rep: Delineation, sampling_rate_hz: float, pre_samples: int,
            lead_names: tuple[str, ...], usable: np.ndarray, rr_s: np.ndarray,
            p_beat_ratio: float | None, *, record_uv: np.ndarray | None = None,
            beat_samples: np.ndarray | None = None,
            interval_leads: np.ndarray | None = None,
            p_median_uv: np.ndarray | None = None) -> Measurement:
    """Global intervals, QTc, axes and per-lead amplitudes from the representative beat.

    Parameters
    ----------
    median_uv:
        (leads, W) representative beat of the diagnostic signal, µV.
    rep:
        Delineation of that beat (one beat, fiducial at ``pre_samples``).
    rr_s:
        The RR intervals of the record, s (the caller leaves out those across a gap in the
        recording).
    p_beat_ratio:
        Share of dominant beats with a P wave (None when there are no dominant beats).
    record_uv, beat_samples:
        The (leads, samples) signal the median was taken from and the fiducial samples of
        the beats in it, for ``j_beat_se_uv``; without them it is None.
    interval_leads:
        bool per lead: the leads whose boundaries make the global intervals (default
        ``usable``); the caller leaves out the leads flagged noisy, saturated or flat.
    p_median_uv:
        (leads, W) the representative beat low-passed at 40 Hz, where a P wave has nothing:
        P amplitudes are measured on it (muscle noise at 20 Hz and above, 50 µV RMS in
        every lead, turned the 84 µV P wave of LUDB 62 in lead I to -36 µV on the
        full-band beat, and sinus rhythm read ectopic atrial).
    """
    fs = float(sampling_rate_hz)
    ms = fs / 1000.0
    un: dict[str, str] = {}
    use = np.asarray(usable, bool)
    timing = use if interval_leads is None else use & np.asarray(interval_leads, bool)
    tol = 12 * ms

    def col(w: str, p: str) -> np.ndarray:
        v = rep.get(w, p)[:, 0].copy()
        v[~timing] = np.nan
        return v

    g: dict[str, float | None] = {
        "qrs_onset": _robust_edge(col("QRS", "onset"), True, tol),
        "qrs_offset": _robust_edge(col("QRS", "offset"), False, tol),
        "p_onset": _robust_edge(col("P", "onset"), True, tol),
        "p_offset": _robust_edge(col("P", "offset"), False, tol),
        "t_onset": _robust_edge(col("T", "onset"), True, tol),
        "t_offset": _robust_edge(col("T", "offset"), False, tol),
    }
    if p_beat_ratio is None or p_beat_ratio < 0.5:
        g["p_onset"] = g["p_offset"] = None
    rr_ms = float(np.mean(rr_s) * 1000) if len(rr_s) else None
    hr = 60000.0 / rr_ms if rr_ms else None
    if rr_ms is None:
        un["heart_rate_bpm"] = un["rr_ms"] = "fewer than two QRS complexes detected"

    def dur(a: str, b: str) -> float | None:
        return None if g[a] is None or g[b] is None else (g[b] - g[a]) / ms  # type: ignore

    qrs_ms = dur("qrs_onset", "qrs_offset")
    if qrs_ms is not None and timing.sum() >= 2:  # the global QRS as commercial programs take it
        on_sv, off_sv = spatial_qrs_bounds(median_uv[timing], fs, g["qrs_onset"],  # type: ignore[arg-type]
                                           g["qrs_offset"])  # type: ignore[arg-type]
        qrs_ms = (off_sv - on_sv) / ms
    qt_ms = dur("qrs_onset", "t_offset")
    p_ms = dur("p_onset", "p_offset")
    pr_ms = dur("p_onset", "qrs_onset")
    if qrs_ms is None:
        un["qrs_ms"] = "no representative QRS complex"
    if p_ms is None:
        reason = ("no P waves before most dominant QRS complexes (e.g. atrial fibrillation, "
                  "junctional rhythm)" if p_beat_ratio is not None else "no dominant beats")
        un["p_ms"] = un["pr_ms"] = un["p_axis_deg"] = reason
    if qt_ms is None:
        un["qt_ms"] = "T wave end not found on the representative beat"
    qtc: dict[str, float | None] = dict.fromkeys(
        ("qtc_bazett_ms", "qtc_fridericia_ms", "qtc_framingham_ms", "qtc_hodges_ms"))
    if qt_ms is not None and rr_ms is not None and hr is not None:
        qtc = dict(qtc_all(qt_ms, rr_ms))
    else:
        for k in qtc:
            un[k] = un.get("qt_ms", un.get("rr_ms", "QT or RR unavailable"))
    gi = {k: (None if v is None else int(round(v))) for k, v in g.items()}

    def areas(a: str, b: str, leads: np.ndarray = use) -> dict[str, float]:
        lo, hi = gi[a], gi[b]
        if lo is None or hi is None:
            return {}
        out = {}
        for i, n in enumerate(lead_names):
            if leads[i] and n in LIMB_ANGLES_DEG:
                seg = median_uv[i, lo:hi + 1]
                out[n] = float((seg - seg[0]).sum() / ms)
        return out

    # the small P and T waves only from the leads that time the intervals: a noisy lead,
    # or one that a limb electrode's artefact entered, turned the P axis of sinus rhythm
    # (LUDB 62 under a left-leg tremor: -81 deg); the QRS area outweighs such noise
    axes = {"p_axis_deg": _axis(areas("p_onset", "p_offset", timing)),
            "qrs_axis_deg": _axis(areas("qrs_onset", "qrs_offset")),
            "t_axis_deg": _axis(areas("t_onset", "t_offset", timing))}
    for k, v in axes.items():
        if v is None and k not in un:
            un[k] = "fewer than two usable limb leads or wave not delineated"
    amps: dict[str, LeadAmplitudes] = {}
    t_pk = rep.get("T", "peak")[:, 0]
    p_on, p_off = rep.get("P", "onset")[:, 0], rep.get("P", "offset")[:, 0]
    for i, n in enumerate(lead_names):
        if use[i]:
            tp = int(t_pk[i]) if np.isfinite(t_pk[i]) else None
            amps[n] = _amplitudes(median_uv[i], fs, gi, tp,
                                  None if p_median_uv is None else p_median_uv[i])
            if not timing[i]:  # a noisy lead: its P wave is below its noise (LAE from V1)
                amps[n] = dataclasses.replace(amps[n], p_uv=None, p_prime_uv=None)
            elif g["p_onset"] is not None and np.isfinite(p_on[i]) and np.isfinite(p_off[i]):
                amps[n] = dataclasses.replace(amps[n], p_ms=float(p_off[i] - p_on[i]) / ms)
    se = (_j_beat_se(record_uv, beat_samples, pre_samples, gi, fs)
          if record_uv is not None and beat_samples is not None else None)
    if se is not None:
        for i, n in enumerate(lead_names):
            if n in amps and amps[n].j_uv is not None and np.isfinite(se[i]):
                amps[n] = dataclasses.replace(amps[n], j_beat_se_uv=float(se[i]))
    problems = _limb_checks(median_uv, lead_names, use, amps, gi)
    gm = GlobalMeasurements(heart_rate_bpm=hr, rr_ms=rr_ms, p_ms=p_ms, pr_ms=pr_ms,
                            qrs_ms=qrs_ms, qt_ms=qt_ms, **qtc, **axes, unmeasured=un)
    fid = {k: (None if v is None else (v - pre_samples) / fs) for k, v in g.items()}
    return Measurement(gm, amps, fid, problems)


def _limb_checks(med: np.ndarray, names: tuple[str, ...], use: np.ndarray,
                 amps: dict[str, LeadAmplitudes], g: dict[str, int | None]) -> tuple[str, ...]:
    out = []
    a1, avr = amps.get("I"), amps.get("aVR")
    if a1 and avr and a1.qrs_area_uv_ms is not None and avr.qrs_area_uv_ms is not None:
        p_neg = a1.p_uv is None or a1.p_uv < 0
        if (a1.qrs_area_uv_ms < 0 and (a1.t_uv or 0) < 0 and p_neg
                and avr.qrs_area_uv_ms > 0):
            out.append("suspected limb lead reversal (LA/RA): lead I inverted, aVR upright")
    idx = {n: i for i, n in enumerate(names)}
    if all(n in idx and use[idx[n]] for n in ("I", "II", "III")):
        i1, i2, i3 = med[idx["I"]], med[idx["II"]], med[idx["III"]]
        resid = np.sqrt(np.mean((i2 - i1 - i3) ** 2))
        if resid > 0.25 * np.sqrt(np.mean(i2 ** 2)) + 20:
            out.append("limb leads inconsistent: II differs from I + III")
    return tuple(out)

"""Per-beat P timing (models.p_timing) and the bounded P slope search (models.delineate_core).

Template-guided delineation gives every dominant beat the template's PR; the per-beat P
lag is what lets the PR vary again (fibrillatory waves, AV conduction). The lags must
recover known shifts, stay inside their bounds, and leave a fixed PR fixed.
"""

from __future__ import annotations

import numpy as np

from ecgread.models.delineate_core import _wave_bounds
from ecgread.models.p_timing import MAX_LAG_MS, p_lags

FS = 500.0


def _gauss(t: np.ndarray, c: float, s: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - c) / s) ** 2)


def _record(shifts_ms: list[float], seed: int = 0, noise_uv: float = 5.0
            ) -> tuple[np.ndarray, np.ndarray]:
    """Three leads, a beat every 0.8 s whose P wave peaks 150 ms + shift before its R."""
    rng = np.random.default_rng(seed)
    n = int(FS * 0.8 * (len(shifts_ms) + 1))
    t = np.arange(n) / FS
    r = (np.arange(1, len(shifts_ms) + 1) * 0.8 * FS).astype(int)
    x = np.zeros((3, n))
    for rb, sh in zip(r, shifts_ms, strict=True):
        rc = rb / FS
        for lead, gain in enumerate((1.0, 0.6, -0.4)):
            x[lead] += gain * (120.0 * _gauss(t, rc - 0.150 + sh / 1000.0, 0.018)
                               + 1000.0 * _gauss(t, rc, 0.010))
    return x + rng.normal(0.0, noise_uv, x.shape), r


def _template(x: np.ndarray, r: np.ndarray, pre: int, post: int) -> np.ndarray:
    idx = r[:, None] + np.arange(-pre, post + 1)[None, :]
    return np.asarray(np.median(x[:, idx], axis=1))


def _lags(shifts_ms: list[float], **kw: float) -> np.ndarray:
    x, r = _record(shifts_ms, **kw)  # type: ignore[arg-type]
    pre, post = int(0.4 * FS), int(0.3 * FS)
    tmpl = _template(x, r, pre, post)
    p_on, p_off = pre - int(0.21 * FS), pre - int(0.09 * FS)  # the template's P, 60 ms each side
    lo = r - int(0.35 * FS)
    hi = r - int(0.03 * FS)
    return p_lags(x, r, tmpl, pre, p_on, p_off, lo, hi, FS)


def test_lags_recover_known_shifts_to_a_sample() -> None:
    shifts = [0.0, 20.0, -16.0, 8.0, -30.0, 12.0, 0.0, 24.0, -8.0, 4.0]
    lags_ms = _lags(shifts) / FS * 1000.0
    # lags are against the median template, so compare after removing the common offset
    err = (lags_ms - np.median(lags_ms)) - (np.asarray(shifts) - np.median(shifts))
    assert np.all(np.abs(err) <= 2.0), err


def test_fixed_pr_gives_lags_near_zero() -> None:
    lags_ms = _lags([0.0] * 12, noise_uv=10.0) / FS * 1000.0
    assert np.all(np.abs(lags_ms) <= 2.0), lags_ms


def test_lags_stay_within_their_bounds() -> None:
    x, r = _record([0.0] * 5)
    pre, post = int(0.4 * FS), int(0.3 * FS)
    tmpl = _template(x, r, pre, post)
    p_on, p_off = pre - int(0.21 * FS), pre - int(0.09 * FS)
    # the segment may not move at all: only lag 0 fits, whatever the signal
    lo = r + (p_on - pre)
    hi = r + (p_off - pre)
    assert np.array_equal(p_lags(x, r, tmpl, pre, p_on, p_off, lo, hi, FS), np.zeros(5))
    # no room at all: NaN, not a guess
    assert np.isnan(p_lags(x, r, tmpl, pre, p_on, p_off, lo + 1, hi, FS)).all()
    lags = _lags([60.0, -60.0, 0.0]) / FS * 1000.0
    assert np.all(np.abs(lags) <= MAX_LAG_MS + 0.5)


def test_small_p_after_a_steeper_recovery_keeps_its_onset_near_its_peak() -> None:
    """A 40 µV P wave whose window opens on the steeper recovery of the previous beat's
    T-wave undershoot (CPSC A1985's V3-V5 at 114/min): without the span the recovery's
    slope was the 'steepest ascent' of the P wave, and its onset went back to the window
    start, a P wave of 170 ms."""
    n = 300
    t = np.arange(n) / FS
    x = -100.0 * _gauss(t, 0.06, 0.025) + 40.0 * _gauss(t, 0.45, 0.016)
    x = x[None, None, :]
    d = np.gradient(x, axis=-1)
    lo, hi = np.array([[45]]), np.array([[280]])
    iso = np.zeros((1, 1))
    span = int(0.080 * FS)
    on, pk, off, _ = _wave_bounds(x, d, lo, hi, iso, 0.35, 0.45, 25, hi - 10, span)
    assert abs(pk[0, 0] - int(0.45 * FS)) <= 2
    assert pk[0, 0] - on[0, 0] <= span + 5, (on, pk)
    unbounded, *_ = _wave_bounds(x, d, lo, hi, iso, 0.35, 0.45, 25, hi - 10)
    assert pk[0, 0] - unbounded[0, 0] > span + 5, unbounded  # the failure it prevents

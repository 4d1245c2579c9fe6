"""The 12-lead tracing of the PDF report as SVG markup, at true paper scale.

Pure functions over an :class:`models.analysis.Analysis`; no I/O. The SVG's user unit
is the millimetre (``viewBox`` in mm, ``width``/``height`` in mm), so 25 mm/s and
10 mm/mV hold exactly when the page is printed at 100 %.

Layout (the standard 3 x 4 + rhythm strip)::

    cal | I    0-2.5 s | aVR 2.5-5 s | V1 5-7.5 s | V4 7.5-10 s
    cal | II           | aVL         | V2         | V5
    cal | III          | aVF         | V3         | V6
    cal | II (rhythm strip) 0-10 s

Each row starts with a 1 mV, 200 ms calibration pulse. Each lead segment is centred on
its own median (µV) and clipped at +-``row_mm`` around its baseline and at the grid.
Evidence spans of the statements are drawn as translucent boxes over the panels of the
leads they cite (and over the rhythm strip when they cite its lead or no lead), each with
a tag giving the statement numbers of the report's statement list.

Example
-------
>>> layout = TracingLayout()
>>> layout.width_mm, layout.height_mm
(257.0, 120.0)
>>> round(layout.x_mm(column=1, t_s=3.0), 2)  # 7 + 62.5 + (3.0 - 2.5) * 25
82.0
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

import numpy as np

from ecgread.models.ecg import STANDARD_LEADS

if TYPE_CHECKING:
    from ecgread.models.analysis import Analysis
    from ecgread.models.results import Statement

__all__ = ["PANEL_LEADS", "EvidenceMark", "TracingLayout", "evidence_marks", "rhythm_lead",
           "slot_leads", "tracing_svg"]

#: The standard arrangement, row by row (columns: limb I-III, augmented, V1-V3, V4-V6).
PANEL_LEADS: tuple[tuple[str, str, str, str], ...] = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)

GRID_MINOR = "#f5c4cf"  # 1 mm lines
GRID_MAJOR = "#e8728c"  # 5 mm lines
TRACE = "#000000"
MARK = "#2563eb"  # evidence highlight
MARK_CRITICAL = "#dc2626"  # evidence of a critical statement
LONG_SPAN_S = 0.6  # s; spans at least this long (AI windows, whole record) become bands


@dataclass(frozen=True)
class TracingLayout:
    """Geometry of the tracing, in mm (paper) and s.

    Attributes
    ----------
    speed_mm_s, gain_mm_mv:
        Paper speed (mm/s) and gain (mm/mV).
    column_s:
        Duration of one panel column, s; ``n_columns`` columns make the rhythm strip.
    row_mm:
        Height of one row, mm; the baseline is at its middle.
    cal_mm:
        Width of the calibration-pulse area left of the panels, mm.
    column_step_mm:
        Width of one min/max decimation column, mm (0.4 mm = 16 ms at 25 mm/s).
    flat_tol_mm:
        A column whose min and max differ by less than this keeps one point, mm.
    straight_tol_mm:
        A point closer than this to the chord joining its two neighbours is not drawn
        (never two neighbours in a row, so the line drawn stays within this of the
        envelope), mm: a tenth of the 0.28 mm trace width.
    """

    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    column_s: float = 2.5
    n_columns: int = 4
    row_mm: float = 30.0
    cal_mm: float = 7.0
    column_step_mm: float = 0.4
    flat_tol_mm: float = 0.2
    straight_tol_mm: float = 0.02

    @property
    def n_rows(self) -> int:
        """Panel rows plus the rhythm strip."""
        return len(PANEL_LEADS) + 1

    @property
    def panel_mm(self) -> float:
        """Width of one panel column, mm (62.5 at 25 mm/s and 2.5 s)."""
        return self.column_s * self.speed_mm_s

    @property
    def width_mm(self) -> float:
        return self.cal_mm + self.n_columns * self.panel_mm

    @property
    def height_mm(self) -> float:
        return self.n_rows * self.row_mm

    def panel_left_mm(self, column: int) -> float:
        """Left edge of panel ``column`` (0-based), mm."""
        return self.cal_mm + column * self.panel_mm

    def window_start_s(self, column: int) -> float:
        """Start of the time window shown in ``column``, s from the record start."""
        return column * self.column_s

    def x_mm(self, column: int, t_s: float) -> float:
        """x of time ``t_s`` (s from record start) in the panel ``column``, mm.

        The rhythm strip is column 0 with a window of ``n_columns * column_s``.
        """
        return self.panel_left_mm(column) + (t_s - self.window_start_s(column)) * self.speed_mm_s

    def baseline_mm(self, row: int) -> float:
        """y of the baseline of ``row`` (0-based; the rhythm strip is the last), mm."""
        return (row + 0.5) * self.row_mm


@dataclass(frozen=True)
class EvidenceMark:
    """One highlight box: a time span in one panel, and the statements it supports."""

    row: int
    column: int  # 0 on the rhythm strip
    lead: str
    start_s: float  # clipped to the panel's window, s from record start
    end_s: float
    numbers: tuple[int, ...]  # 1-based statement numbers
    critical: bool
    band: bool = False  # drawn as a band along the row's bottom, not a full-height box


def _is_band(spans: tuple[tuple[float, float], ...]) -> bool:
    """Rhythm-scale spans (long, or tiling the record like RR intervals) are bands."""
    if any(b - a >= LONG_SPAN_S for a, b in spans):
        return True
    return len(spans) >= 2 and all(abs(n[0] - p[1]) < 0.02 for p, n in itertools.pairwise(spans))


def slot_leads(lead_names: tuple[str, ...]) -> tuple[tuple[str | None, ...], ...]:
    """Which lead each panel shows: the standard arrangement, gaps filled by other leads.

    A standard lead the ECG lacks leaves its slot to the first non-standard lead (in
    record order) not yet shown; a slot left without a lead is None.
    """
    extras = [n for n in lead_names if n not in STANDARD_LEADS]
    rows: list[tuple[str | None, ...]] = []
    for row in PANEL_LEADS:
        slots: list[str | None] = []
        for name in row:
            slots.append(name if name in lead_names else (extras.pop(0) if extras else None))
        rows.append(tuple(slots))
    return tuple(rows)


def rhythm_lead(lead_names: tuple[str, ...], signal_uv: np.ndarray) -> str | None:
    """Lead II if it has signal, else the first lead with any finite sample, else None."""
    finite = [bool(np.isfinite(signal_uv[i]).any()) for i in range(len(lead_names))]
    if "II" in lead_names and finite[lead_names.index("II")]:
        return "II"
    return next((n for n, ok in zip(lead_names, finite, strict=True) if ok), None)


def evidence_marks(statements: tuple[Statement, ...], lead_names: tuple[str, ...],
                   strip_lead: str | None, layout: TracingLayout) -> list[EvidenceMark]:
    """The highlight boxes for ``statements`` (numbered 1..n in order), merged by place.

    Evidence citing leads marks those leads' panels (and the rhythm strip when it cites
    the strip's lead, or when none of its spans falls in a panel of its leads); evidence
    citing no lead marks the rhythm strip. Spans are split
    at panel boundaries. Identical boxes of several statements become one box whose
    ``numbers`` lists them all. Rhythm-scale evidence (spans of at least
    :data:`LONG_SPAN_S`, or spans tiling the record, such as RR intervals) is a band.
    """
    slots = slot_leads(lead_names)
    where = {name: (r, c) for r, row in enumerate(slots) for c, name in enumerate(row)
             if name is not None}
    strip_row = len(PANEL_LEADS)
    strip_end = layout.n_columns * layout.column_s
    merged: dict[tuple[int, int, str, float, float, bool], tuple[set[int], bool]] = {}

    def add(row: int, col: int, lead: str, a: float, b: float, num: int, crit: bool) -> None:
        key = (row, col, lead, round(a, 3), round(b, 3), band)
        nums, was_crit = merged.get(key, (set(), False))
        nums.add(num)
        merged[key] = (nums, was_crit or crit)

    for num, st in enumerate(statements, start=1):
        for ev in st.evidence:
            leads = [n for n in ev.leads if n in lead_names]
            on_strip = strip_lead is not None and (not ev.leads or strip_lead in ev.leads)
            band = _is_band(ev.spans_s)
            # evidence none of whose spans falls in a panel of its leads (e.g. V5 at 1-4 s:
            # V5 is shown from 7.5 s) goes on the rhythm strip, the record's time axis
            shown = any(max(a, layout.window_start_s(where[ld][1]))
                        < min(b, layout.window_start_s(where[ld][1]) + layout.column_s)
                        for a, b in ev.spans_s for ld in leads if ld in where)
            on_strip = on_strip or (not shown and strip_lead is not None)
            for a, b in ev.spans_s:
                if not b > a:
                    continue
                for lead in leads:
                    if lead not in where:
                        continue
                    r, c = where[lead]
                    w0 = layout.window_start_s(c)
                    lo, hi = max(a, w0), min(b, w0 + layout.column_s)
                    if hi > lo:
                        add(r, c, lead, lo, hi, num, st.critical)
                if on_strip and strip_lead is not None:
                    lo, hi = max(a, 0.0), min(b, strip_end)
                    if hi > lo:
                        add(strip_row, 0, strip_lead, lo, hi, num, st.critical)
    return [EvidenceMark(r, c, lead, a, b, tuple(sorted(nums)), crit, band)
            for (r, c, lead, a, b, band), (nums, crit) in sorted(merged.items())]


def _decimate(seg_uv: np.ndarray, k: int, tol_uv: float) -> tuple[np.ndarray, np.ndarray]:
    """(sample indices, finite mask) of the points to draw, in time order.

    Each column of ``k`` samples keeps its minimum and maximum, or only one of them
    where they differ by less than ``tol_uv`` µV (flat stretches need no envelope).
    """
    n = seg_uv.size
    if k <= 1:
        return np.arange(n), np.isfinite(seg_uv)
    m = -(-n // k)
    padded = np.full(m * k, np.nan, dtype=np.float64)
    padded[:n] = seg_uv
    cols = padded.reshape(m, k)
    bad = np.isnan(cols)
    lo_v = np.where(bad, np.inf, cols)
    hi_v = np.where(bad, -np.inf, cols)
    imin, imax = np.argmin(lo_v, axis=1), np.argmax(hi_v, axis=1)
    base = np.arange(m) * k
    idx = np.stack([base + np.minimum(imin, imax), base + np.maximum(imin, imax)], 1)
    spread = hi_v.max(axis=1) - lo_v.min(axis=1)
    keep = np.stack([np.ones(m, bool), ~(spread < tol_uv)], 1)  # NaN spread keeps both
    idx = np.minimum(idx[keep], n - 1)
    ok = np.repeat(~bad.all(axis=1), keep.sum(axis=1))
    return idx, ok & np.isfinite(seg_uv[idx])


def _straight(x: np.ndarray, y: np.ndarray, tol_mm: float) -> np.ndarray:
    """Mask of the points of a polyline (mm) to keep: a point within ``tol_mm`` of the
    chord joining its neighbours is dropped, unless the point before it is within
    ``tol_mm`` of its own chord (so no two neighbours go, and the line drawn stays within
    ``tol_mm`` of the polyline).

    Each point costs WeasyPrint about 12 µs to draw; on straight stretches (slopes,
    clipped plateaus) the envelope's points add nothing. A peak or spike lies beyond the
    end of its neighbours' chord, never within it, and is kept, as are both ends.
    """
    keep = np.ones(x.size, dtype=bool)
    if x.size < 3:
        return keep
    dx, dy = x[2:] - x[:-2], y[2:] - y[:-2]  # the chord
    bx, by = x[1:-1] - x[:-2], y[1:-1] - y[:-2]  # the point, from the chord's start
    along = dx * bx + dy * by  # its projection on the chord, times the chord's length ...
    chord2 = dx * dx + dy * dy
    off = np.abs(dx * by - dy * bx)  # ... and its distance from the chord's line, likewise
    # within the chord, not beyond an end: a spike's tip lies on the line through its foot
    # and the next point down, but far beyond that point
    drop = (off < tol_mm * np.sqrt(chord2)) & (along >= 0.0) & (along <= chord2)
    drop[1:] &= ~drop[:-1]  # numpy reads the mask before writing: [1, 1, 1] -> [1, 0, 0]
    keep[1:-1] = ~drop
    return keep


def _path(seg_uv: np.ndarray, fs: float, x0_mm: float, base_mm: float, lo_mm: float,
          hi_mm: float, layout: TracingLayout) -> str:
    """SVG path data of one lead segment (µV) starting at ``x0_mm``; NaN breaks the path.

    The segment is centred on its median; y is clipped to ``[lo_mm, hi_mm]``.
    """
    finite = np.isfinite(seg_uv)
    if not finite.any():
        return ""
    centred = seg_uv.astype(np.float64) - float(np.median(seg_uv[finite]))
    k = max(1, round(fs * layout.column_step_mm / layout.speed_mm_s))
    uv_per_mm = 1000.0 / layout.gain_mm_mv
    idx, ok = _decimate(centred, k, layout.flat_tol_mm * uv_per_mm)
    x = x0_mm + idx / fs * layout.speed_mm_s
    y = np.clip(base_mm - centred[idx] / uv_per_mm, lo_mm, hi_mm)
    parts: list[str] = []
    # runs of consecutive finite points
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < 2:
            continue
        xs, ys = x[start:stop], y[start:stop]
        keep = _straight(xs, ys, layout.straight_tol_mm)
        # an explicit L per point: WeasyPrint's parser re-slices the rest of a command's
        # argument string at every point, so implicit line-tos cost more
        coords = "L".join(f"{a:.2f} {b:.2f}" for a, b in zip(xs[keep], ys[keep], strict=True))
        parts.append("M" + coords)
    return "".join(parts)


def _grid(layout: TracingLayout) -> str:
    w, h = layout.width_mm, layout.height_mm
    minor: list[str] = []
    major: list[str] = []
    for i in range(round(w) + 1):
        (major if i % 5 == 0 else minor).append(f"M{i} 0V{h:g}")
    for j in range(round(h) + 1):
        (major if j % 5 == 0 else minor).append(f"M0 {j}H{w:g}")
    return (f'<path d="{"".join(minor)}" stroke="{GRID_MINOR}" stroke-width="0.1" fill="none"/>'
            f'<path d="{"".join(major)}" stroke="{GRID_MAJOR}" stroke-width="0.22" '
            'fill="none"/>')


def _mark_svg(mark: EvidenceMark, layout: TracingLayout, tagged: bool) -> tuple[str, str]:
    """(box, tag) markup of one evidence mark; the tag is empty unless ``tagged``.

    Short spans (waves) are full-height boxes tagged just above the bottom band; long
    spans (RR intervals, AI windows) are bands along the bottom of the row, tagged inside.
    """
    colour = MARK_CRITICAL if mark.critical else MARK
    x0 = layout.x_mm(mark.column, mark.start_s)
    x1 = layout.x_mm(mark.column, mark.end_s)
    top = mark.row * layout.row_mm
    bottom = top + layout.row_mm
    nums = ",".join(str(n) for n in mark.numbers)
    data = (f'class="ev{" ev-critical" if mark.critical else ""}" data-lead="{escape(mark.lead)}" '
            f'data-statements="{nums}" data-start-s="{mark.start_s:.3f}" '
            f'data-end-s="{mark.end_s:.3f}"')
    if mark.band:
        bx0, bx1 = x0 + 0.25, max(x0 + 0.5, x1 - 0.25)
        box = (f'<rect {data} x="{bx0:.2f}" y="{bottom - 2.6:.2f}" width="{bx1 - bx0:.2f}" '
               f'height="2.4" fill="{colour}" fill-opacity="0.22"/>')
        tag_y = bottom - 2.6
    else:
        stroke = (f' stroke="{colour}" stroke-width="0.2" stroke-opacity="0.8"'
                  if mark.critical else "")
        box = (f'<rect {data} x="{x0:.2f}" y="{top + 0.15:.2f}" width="{x1 - x0:.2f}" '
               f'height="{layout.row_mm - 0.3:.2f}" fill="{colour}" '
               f'fill-opacity="{0.26 if mark.critical else 0.15}"{stroke}/>')
        tag_y = bottom - 5.4
    if not tagged:
        return box, ""
    tag_w = 0.7 + 1.25 * len(nums)
    tag = (f'<rect x="{x0:.2f}" y="{tag_y:.2f}" width="{tag_w:.2f}" height="2.4" rx="0.5" '
           f'fill="{colour}"/><text x="{x0 + 0.35:.2f}" y="{tag_y + 1.85:.2f}" '
           f'font-size="2.1" fill="#ffffff" font-weight="bold">{nums}</text>')
    return box, tag


def _marks_svg(marks: list[EvidenceMark], layout: TracingLayout) -> tuple[str, str]:
    """(boxes, tags): each panel tags the first box of each set of statement numbers."""
    seen: set[tuple[int, int, tuple[int, ...], bool]] = set()
    boxes: list[str] = []
    tags: list[str] = []
    for m in sorted(marks, key=lambda m: (m.row, m.column, m.start_s)):
        key = (m.row, m.column, m.numbers, m.band)
        box, tag = _mark_svg(m, layout, key not in seen)
        seen.add(key)
        boxes.append(box)
        tags.append(tag)
    return "".join(boxes), "".join(tags)


def _cal_pulse(base: float, layout: TracingLayout) -> str:
    """1 mV for 0.2 s (10 mm x 5 mm at standard gain and speed), before the panels."""
    top = base - layout.gain_mm_mv
    w = 0.2 * layout.speed_mm_s
    x0 = (layout.cal_mm - w) / 2
    return (f'<path d="M0.3 {base:g}H{x0:g}V{top:g}H{x0 + w:g}V{base:g}H{layout.cal_mm:g}" '
            f'stroke="{TRACE}" stroke-width="0.3" fill="none"/>')


def _label(x: float, y: float, text: str, note: str = "") -> str:
    """A lead label (3.2 mm bold) on a translucent white patch, so traces cannot hide it."""
    extra = (f'<tspan font-size="2.2" font-weight="normal" fill="#555555"> {escape(note)}'
             '</tspan>') if note else ""
    width = 2.3 * len(text) + (1.35 * (len(note) + 1) if note else 0.0) + 0.8
    return (f'<rect x="{x - 0.4:.2f}" y="{y - 3.0:.2f}" width="{width:.2f}" height="3.8" '
            'fill="#ffffff" fill-opacity="0.75"/>'
            f'<text x="{x:.2f}" y="{y:.2f}" font-size="3.2" font-weight="bold" '
            f'fill="#000000">{escape(text)}{extra}</text>')


def tracing_svg(analysis: Analysis, layout: TracingLayout | None = None) -> str:
    """The tracing of ``analysis.ecg`` with its statements' evidence marked, as SVG.

    Parameters
    ----------
    analysis:
        Its ECG's ``signal_uv`` (µV, NaN = padding, any lead set, 250-1000 Hz) is drawn;
        its ``statements`` (numbered from 1 in order) give the marks; leads that
        ``analysis.quality`` calls unusable are labelled "excluded".
    layout:
        Geometry; the default is 25 mm/s, 10 mm/mV, 30 mm rows.

    Returns
    -------
    str
        One ``<svg>`` element, ``layout.width_mm`` x ``layout.height_mm`` mm, user unit 1 mm.
    """
    lay = layout or TracingLayout()
    ecg = analysis.ecg
    names, fs, sig = ecg.lead_names, float(ecg.sampling_rate_hz), ecg.signal_uv
    index = {n: i for i, n in enumerate(names)}
    excluded = {q.lead for q in analysis.quality.leads if not q.usable}
    strip = rhythm_lead(names, sig)
    w, h, rm = lay.width_mm, lay.height_mm, lay.row_mm
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="tracing" width="{w:g}mm" '
            f'height="{h:g}mm" viewBox="0 0 {w:g} {h:g}" font-family="DejaVu Sans, sans-serif">'),
           f'<rect x="0" y="0" width="{w:g}" height="{h:g}" fill="#ffffff"/>', _grid(lay)]
    boxes, tags = _marks_svg(evidence_marks(analysis.statements, names, strip, lay), lay)
    out.append('<g class="evidence">' + boxes + "</g>")
    traces: list[str] = []
    labels: list[str] = []
    cols = lay.n_columns
    panels: list[tuple[int, int, str | None, float]] = [
        (r, c, name, lay.column_s) for r, row in enumerate(slot_leads(names))
        for c, name in enumerate(row)]
    panels.append((len(PANEL_LEADS), 0, strip, cols * lay.column_s))
    for r, c, name, dur in panels:
        base = lay.baseline_mm(r)
        lo, hi = max(0.0, base - rm), min(h, base + rm)
        x0 = lay.panel_left_mm(c)
        if c == 0:
            traces.append(_cal_pulse(base, lay))
        elif r < len(PANEL_LEADS):  # lead-change marker
            traces.append(f'<path d="M{x0:g} {base - 3:g}V{base + 3:g}" stroke="{TRACE}" '
                          'stroke-width="0.3"/>')
        if name is None:
            labels.append(_label(x0 + 1.0, r * rm + 4.0, PANEL_LEADS[r][c], "not recorded"))
            continue
        w0 = lay.window_start_s(c)
        i0, i1 = round(w0 * fs), round((w0 + dur) * fs)
        seg = sig[index[name], i0:i1]
        d = _path(seg, fs, x0, base, lo, hi, lay)
        if d:
            traces.append(f'<path d="{d}" stroke="{TRACE}" stroke-width="0.28" fill="none" '
                          'stroke-linejoin="round" stroke-linecap="round"/>')
        note = "excluded" if name in excluded else ("" if d else "no signal")
        if name in analysis.derived_leads:
            note = f"derived {note}".strip()
        labels.append(_label(x0 + 1.0, r * rm + 4.0, name, note))
    out.append('<g class="traces">' + "".join(traces) + "</g>")
    out.append('<g class="labels">' + "".join(labels) + "</g>")
    out.append('<g class="tags">' + tags + "</g>")
    out.append("</svg>")
    return "".join(out)

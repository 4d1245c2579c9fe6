"""The archive report: how our read agrees with the vendor's over a batch.

``agreement.csv`` (one row per measurement, then one per statement family) and
``agreement.html``, a self-contained page (inline SVG Bland-Altman plots, no script, no
external resource) made from :class:`models.agreement.AgreementSummary`.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from ecgread.models.agreement import AgreementSummary, FamilyAgreement, MeasureAgreement

__all__ = ["agreement_csv", "agreement_html", "write_archive_report"]

CSV_NAME = "agreement.csv"
HTML_NAME = "agreement.html"

_CSV_HEADER = ("kind", "name", "unit", "n", "mean_diff", "sd_diff", "loa_low", "loa_high",
               "tolerance", "share_within", "missing_ours", "missing_vendor",
               "both", "ours_only", "vendor_only", "neither", "agreement", "kappa")


def _f(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{round(value, digits) + 0.0:.{digits}f}"


def agreement_csv(summary: AgreementSummary) -> str:
    """The figures as CSV: differences ours minus vendor's; shares 0-1."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CSV_HEADER)
    for m in summary.measures:
        low, high = m.limits or (None, None)
        w.writerow(("measurement", m.measure.name, m.measure.unit, m.n, _f(m.mean), _f(m.sd),
                    _f(low), _f(high), f"{m.measure.tolerance:g}", _f(m.within, 3),
                    m.missing_ours, m.missing_vendor, "", "", "", "", "", ""))
    for fa in summary.families:
        w.writerow(("statement", fa.family.name, "", fa.n, "", "", "", "", "", "", "", "",
                    fa.both, fa.ours_only, fa.vendor_only, fa.neither, _f(fa.agreement, 3),
                    _f(fa.kappa, 3)))
    return buf.getvalue()


def _plot(m: MeasureAgreement, width: int = 320, height: int = 200) -> str:
    """A Bland-Altman plot as inline SVG: difference against the mean of the two (axes:
    against the vendor's value), the mean line and the 95 % limits of agreement."""
    pad_l, pad_r, pad_t, pad_b = 44, 10, 20, 30
    unit = m.measure.unit
    if not m.pairs:
        return (f'<svg width="{width}" height="{height}" role="img"><text x="10" y="20">'
                f'{html.escape(m.measure.name)}: no pairs</text></svg>')
    xs = [p[0] for p in m.pairs]
    ys = [p[1] for p in m.pairs]
    lines = [m.mean or 0.0, *(m.limits or ())]
    x0, x1 = min(xs), max(xs)
    span = max(abs(v) for v in [*ys, *lines, m.measure.tolerance]) * 1.15
    y0, y1 = -span, span
    if x1 - x0 < 1e-9:
        x0, x1 = x0 - 1.0, x1 + 1.0

    def sx(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * (width - pad_l - pad_r)

    def sy(y: float) -> float:
        return pad_t + (y1 - y) / (y1 - y0) * (height - pad_t - pad_b)

    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'role="img" aria-label="Bland-Altman plot, {html.escape(m.measure.name)}">'),
             f'<title>{html.escape(m.measure.name)}: ours minus vendor ({unit})</title>',
             (f'<rect x="{pad_l}" y="{pad_t}" width="{width - pad_l - pad_r}" '
              f'height="{height - pad_t - pad_b}" fill="none" stroke="#999"/>')]
    tol = m.measure.tolerance
    parts.append(f'<rect x="{pad_l}" y="{sy(tol):.1f}" width="{width - pad_l - pad_r}" '
                 f'height="{sy(-tol) - sy(tol):.1f}" fill="#e6f2e6"/>')
    parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" '
                 f'stroke="#bbb"/>')
    for i, v in enumerate(lines):
        dash = "" if i == 0 else ' stroke-dasharray="4 3"'
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{sy(v):.1f}" '
                     f'y2="{sy(v):.1f}" stroke="#c33"{dash}/>')
    for x, y in m.pairs:
        parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="#1f5fa8" '
                     f'fill-opacity="0.6"/>')
    for v in (y0, 0.0, y1):
        parts.append(f'<text x="{pad_l - 4}" y="{sy(v) + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{v:+.0f}</text>')
    xlabel = "vendor's value" if unit == "deg" else "mean of the two"
    parts.append(f'<text x="{pad_l}" y="{height - 8}" font-size="10">{x0:.0f}</text>')
    parts.append(f'<text x="{width - pad_r}" y="{height - 8}" font-size="10" '
                 f'text-anchor="end">{x1:.0f}</text>')
    parts.append(f'<text x="{(width + pad_l) / 2:.0f}" y="{height - 8}" font-size="10" '
                 f'text-anchor="middle">{xlabel} ({unit})</text>')
    parts.append(f'<text x="{pad_l}" y="13" font-size="12" font-weight="bold">'
                 f'{html.escape(m.measure.name)} (ours − vendor, {unit})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _measure_row(m: MeasureAgreement) -> str:
    low, high = m.limits or (None, None)
    within = "" if m.within is None else f"{100 * m.within:.0f} %"
    cells = (m.measure.name, str(m.n), _f(m.mean), _f(m.sd),
             "" if low is None else f"{low:+.0f} … {high:+.0f}",
             f"±{m.measure.tolerance:g} {m.measure.unit}", within,
             f"{m.missing_ours} / {m.missing_vendor}")
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def _family_row(fa: FamilyAgreement) -> str:
    agree = "" if fa.agreement is None else f"{100 * fa.agreement:.0f} %"
    cells = (fa.family.label, str(fa.n), str(fa.both), str(fa.ours_only),
             str(fa.vendor_only), str(fa.neither), agree, _f(fa.kappa, 2))
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def agreement_html(summary: AgreementSummary) -> str:
    """A self-contained HTML page: tables and inline SVG plots, no external resources."""
    head = ("<tr><th>measurement</th><th>n</th><th>mean diff</th><th>SD</th>"
            "<th>95 % limits</th><th>tolerance</th><th>within</th>"
            "<th>missing ours / vendor</th></tr>")
    fam_head = ("<tr><th>statement family</th><th>n</th><th>both</th><th>ours only</th>"
                "<th>vendor only</th><th>neither</th><th>agreement</th><th>kappa</th></tr>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>Agreement with the vendor read</title>",
        ("<style>body{font-family:sans-serif;margin:2em;max-width:72em}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
         "padding:.25em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
         ".plots{display:flex;flex-wrap:wrap;gap:1em}</style></head><body>"),
        "<h1>Agreement with the vendor read</h1>",
        (f"<p>{summary.n_ecgs} ECG(s) with a vendor read. Differences are ours minus the "
         "vendor's (Bland–Altman): mean, SD and 95 % limits of agreement (mean ± 1.96 SD); "
         "axes wrapped to ±180°. QTc: ours with the formula the vendor names, Bazett when it "
         "names none.</p>"),
        "<h2>Measurements</h2>", f"<table>{head}",
        *(_measure_row(m) for m in summary.measures), "</table>",
        '<div class="plots">', *(_plot(m) for m in summary.measures), "</div>",
        "<h2>Statements</h2>",
        ("<p>ECGs whose vendor read has statements; each side's statements mapped to "
         "families (<code>models.agreement.FAMILIES</code>). Our library has no Q-wave "
         "infarct statement: our infarct family is STEMI only.</p>"),
        f"<table>{fam_head}", *(_family_row(f) for f in summary.families), "</table>",
        "</body></html>", ""])


def write_archive_report(summary: AgreementSummary, out: Path) -> Path:
    """Write ``agreement.csv`` and ``agreement.html`` into ``out``; returns the HTML path."""
    from ecgread.integration.object_store import write_durably

    write_durably(out / CSV_NAME, agreement_csv(summary).encode())
    write_durably(out / HTML_NAME, agreement_html(summary).encode())
    return out / HTML_NAME

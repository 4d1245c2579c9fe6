"""The one-page PDF report: header, measurements, statements with evidence, tracing.

``render_pdf`` fills ``templates/report.html.j2`` (Jinja2, autoescaped) with a view of
the :class:`models.analysis.Analysis` and its :class:`reporting.context.ReportContext`,
inlines the tracing of :mod:`reporting.tracing` as vector SVG at true paper scale
(25 mm/s, 10 mm/mV) and lays it out with WeasyPrint on one landscape A4 or Letter page.
Every number printed comes from a stored measurement (STYLE 8); a measurement that is
None prints "unable to measure" with the reason from ``measurements.unmeasured``. The
serial-comparison statements (category ``serial``, :mod:`models.serial`) have a section of
their own, "Compared with the ECG of <date>", each change with the prior and the current
value from its evidence.

Example
-------
>>> from config.settings import Settings
>>> from reporting.context import report_context
>>> pdf = render_pdf(analysis, report_context(analysis.ecg, None), Settings())  # doctest: +SKIP
>>> pdf[:5]  # doctest: +SKIP
b'%PDF-'
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ecgread.models.catalogue import CATALOGUE
from ecgread.reporting.gc_pause import gc_paused
from ecgread.reporting.tracing import PANEL_LEADS, TracingLayout, slot_leads, tracing_svg

if TYPE_CHECKING:
    import jinja2
    import weasyprint

    from ecgread.config.settings import Settings
    from ecgread.models.analysis import Analysis
    from ecgread.models.results import Evidence, Statement
    from ecgread.reporting.context import ReportContext

__all__ = ["MeasurementRow", "evidence_view", "format_value", "header_view", "measurement_rows",
           "render_html", "render_pdf"]

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
#: CSS ``@page`` size of each ``Settings.page_size``, landscape.
PAGE_SIZES = {"A4": "A4 landscape", "Letter": "letter landscape"}
#: Layouts tried in turn until the report fits on one page: "regular" keeps the tracing
#: low on the page, "natural" does not, "compact" and "tight" use smaller type ("tight"
#: leaves the evidence spans to the tracing's marks).
DENSITIES = ("regular", "natural", "compact", "tight")

#: Labels of the global measurements (the measurement table and evidence): the catalogue's.
_LABELS = {m.name: m.label for m in CATALOGUE}
_SYMBOLS_OF = {m.name: m.unit.symbol for m in CATALOGUE}
#: Evidence of a serial statement that names the prior ECG's value of ``<name>``.
_PRIOR = "prior."
_LEAD_FIELDS = {
    "p_uv": "P amplitude", "q_uv": "Q amplitude", "r_uv": "R amplitude", "s_uv": "S amplitude",
    "r_prime_uv": "R′ amplitude", "s_prime_uv": "S′ amplitude", "j_uv": "J point",
    "st_j60_uv": "ST (J+60 ms)", "t_uv": "T amplitude", "p_prime_uv": "P′ (negative P)",
    "q_ms": "Q duration", "r_peak_time_ms": "R-peak time", "qrs_area_uv_ms": "QRS area",
}
_UNITS = (("_uv_ms", "µV·ms"), ("_bpm", "bpm"), ("_deg", "°"), ("_ms", "ms"), ("_uv", "µV"),
          ("_s", "s"))
_RHYTHM_FIELDS = {
    "p_wave_ratio": "P-wave ratio", "rr_irregularity": "RR irregularity",
    "atrial_rate_bpm": "atrial rate", "flutter_wave_rate_bpm": "flutter-wave rate",
    "atrial_wave_axis_deg": "atrial-wave axis",
    "p_window_noise_ratio": "P-window noise (share of the QRS)",
}
_WORDS = {"rr": "RR", "pr": "PR", "qrs": "QRS", "qt": "QT", "qtc": "QTc", "st": "ST",
          "av": "AV", "lv": "LV", "rv": "RV"}
_SYMBOLS = ((">=", "≥"), ("<=", "≤"), ("!=", "≠"))
UNABLE = "unable to measure"


@dataclass(frozen=True)
class MeasurementRow:
    """One line of the measurement table as printed (``value`` is text, ``unit`` too)."""

    name: str
    label: str
    value: str
    unit: str
    reason: str | None = None  # why it is unable to measure
    note: str = ""  # footnote letter of the reason


def format_value(value: float | str | None, unit: str) -> str:
    """A measured value as printed: whole numbers for ms, bpm, °, µV; 2 decimals otherwise."""
    if value is None:
        return "not measured"
    if isinstance(value, str):
        return value
    if unit in ("ms", "bpm", "°", "µV", "µV·ms"):
        return f"{value:.0f}"
    return f"{value:.2f}"


def measurement_rows(analysis: Analysis) -> list[MeasurementRow]:
    """The measurement table (the catalogue's measurements, labels and unit symbols, in its
    order); reasons for missing values get footnote letters a, b, ..."""
    m = analysis.measurements
    letters: dict[str, str] = {}
    rows = []
    for entry in CATALOGUE:
        name, label, unit = entry.name, entry.label, entry.unit.symbol
        value = getattr(m, name)
        if value is None:
            reason = m.unmeasured.get(name, "no reason recorded")
            note = letters.setdefault(reason, "abcdefghijklm"[len(letters)])
            rows.append(MeasurementRow(name, label, UNABLE, "", reason, note))
        else:
            rows.append(MeasurementRow(name, label, format_value(float(value), unit), unit))
    return rows


def _symbols(text: str) -> str:
    """``>=`` as ``≥`` and the like, for print."""
    for ascii_op, symbol in _SYMBOLS:
        text = text.replace(ascii_op, symbol)
    return text


def _unit_of(name: str) -> tuple[str, str]:
    """(suffix, unit) of a measurement name, e.g. ("_ms", "ms"); ("", "") for none."""
    return next(((sfx, u) for sfx, u in _UNITS if name.endswith(sfx)), ("", ""))


def evidence_view(e: Evidence) -> dict[str, str]:
    """An evidence item as printed (the PDF, the web view): what was measured, its value,
    the rule, where."""
    suffix, unit = _unit_of(e.measurement)
    lead, _, field = e.measurement.partition(".")
    if e.measurement.startswith("ai."):
        label, unit = "probability", ""
    elif e.measurement in _LABELS:
        label = _LABELS[e.measurement]
    elif lead == "rhythm":
        label = _RHYTHM_FIELDS.get(field, field.removesuffix(suffix).replace("_", " "))
    elif field in _LEAD_FIELDS:
        label = f"{lead} {_LEAD_FIELDS[field]}"
    else:
        label = e.measurement.removesuffix(suffix).replace("_", " ").replace(".", " ")
    label = " ".join(_WORDS.get(w, w) for w in label.split(" "))
    label = label[:1].upper() + label[1:]
    value = format_value(e.value, unit)
    if e.measurement.endswith("_count") and isinstance(e.value, float | int):
        value = f"{e.value:.0f}"  # a count, not a measured quantity
    sep = "" if unit == "°" else " "
    criterion = _symbols(e.criterion)
    if unit and any(c.isdigit() for c in criterion):
        criterion += sep + unit
    spans = [f"{a:.2f}–{b:.2f}" for a, b in e.spans_s]
    if len(spans) > 2:
        span_text = f"{len(spans)} spans ({spans[0]} s, …)"
    else:
        span_text = ", ".join(spans) + (" s" if spans else "")
    if e.value is not None and unit and not isinstance(e.value, str):
        value += sep + unit
    return {"label": label, "value": value, "criterion": criterion,
            "leads": ", ".join(e.leads), "spans": span_text}


def _evidence_views(evidence: tuple[Evidence, ...]) -> list[dict[str, str]]:
    """Evidence items as printed; a run of items at one place names the place once, last."""
    views = [evidence_view(e) for e in evidence]
    for this, after in itertools.pairwise(views):
        if (this["leads"], this["spans"]) == (after["leads"], after["spans"]):
            this["leads"] = this["spans"] = ""
    return views


def _statement_view(number: int, s: Statement, versions: dict[str, str]) -> dict[str, Any]:
    ai = None
    if s.probability is not None:
        ai = {"probability": f"{s.probability:.2f}", "model": s.source or "unnamed model",
              "version": versions.get(s.source, "")}
    return {"number": number, "text": s.text, "certainty": s.certainty, "critical": s.critical,
            "ai": ai, "evidence": _evidence_views(s.evidence)}


def _serial_change(number: int, s: Statement) -> dict[str, Any]:
    """A serial statement as printed: its text, and each measurement it compares with the
    prior value beside the current one (``pairs``); other evidence (a new finding's own
    leads and spans) as in the interpretation."""
    prior = {e.measurement.removeprefix(_PRIOR): e.value for e in s.evidence
             if e.measurement.startswith(_PRIOR)}
    pairs, rest = [], []
    for e in s.evidence:
        before = prior.get(e.measurement)
        if isinstance(e.value, float | int) and isinstance(before, float | int):
            unit = _SYMBOLS_OF.get(e.measurement, _unit_of(e.measurement)[1])
            pairs.append({"label": _LABELS.get(e.measurement, e.measurement),
                          "prior": format_value(float(before), unit),
                          "now": format_value(float(e.value), unit), "unit": unit})
        elif not e.measurement.startswith(_PRIOR) and e.measurement != "rhythm":
            rest.append(e)
    text = s.text.replace(" -> ", " → ")
    if pairs and s.code != "SERIAL_NO_CHANGE":  # the values are in the pairs
        text = text.split(": ", 1)[0]
    return {"number": number, "text": text, "critical": s.critical, "pairs": pairs,
            "evidence": _evidence_views(tuple(rest))}


def _serial_view(analysis: Analysis, ctx: ReportContext) -> dict[str, Any] | None:
    """The serial-comparison section, or None when the read has no serial statements."""
    changes = [_serial_change(n, s) for n, s in enumerate(analysis.statements, start=1)
               if s.category == "serial"]
    if not changes:
        return None
    at = ctx.prior_acquisition_time
    return {"prior": at.strftime("%Y-%m-%d %H:%M") if at else None,
            "prior_confirmed": ctx.prior_confirmed, "changes": changes}


def _age_text(ctx: ReportContext) -> str | None:
    age = ctx.patient_age_years
    if age is None and ctx.patient_birth_date and ctx.acquisition_time:
        try:
            born = datetime.strptime(ctx.patient_birth_date, "%Y%m%d").date()
        except ValueError:
            born = None
        if born is not None:
            at = ctx.acquisition_time.date()
            age = at.year - born.year - ((at.month, at.day) < (born.month, born.day))
    if age is None:
        return None
    return f"{age * 12:.0f} months" if age < 2 else f"{age:.0f} y"


def _date_text(yyyymmdd: str | None) -> str | None:
    if not yyyymmdd:
        return None
    v = yyyymmdd.strip()
    return f"{v[:4]}-{v[4:6]}-{v[6:8]}" if len(v) == 8 and v.isdigit() else v


def _time_text(t: datetime | None) -> str | None:
    if t is None:
        return None
    zone = t.tzname() or t.strftime("%z") if t.tzinfo else ""
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")


def _person(xcn: str | None) -> str | None:
    """An HL7 XCN/PN value (``ID^FAMILY^GIVEN`` or ``FAMILY^GIVEN``) as plain words."""
    if not xcn:
        return None
    parts = [p.strip() for p in xcn.split("^")]
    if len(parts) >= 3 and parts[1]:
        name = f"{parts[1]}, {parts[2]}" if parts[2] else parts[1]
        return f"{name} ({parts[0]})" if parts[0] else name
    return " ".join(p for p in parts if p) or None


def header_view(ctx: ReportContext) -> dict[str, Any]:
    """Who and what the report is for, as printed (the PDF header, the web view's)."""
    sex = {"M": "male", "F": "female"}.get(ctx.patient_sex or "", "sex not recorded")
    order: list[str] = []
    if ctx.placer_order_number:
        ns = f" ({ctx.placer_namespace})" if ctx.placer_namespace else ""
        order.append(f"Placer order {ctx.placer_order_number}{ns}")
    if ctx.filler_order_number:
        order.append(f"Filler order {ctx.filler_order_number}")
    procedure = ctx.procedure_code.split("^")[1] if ctx.procedure_code and "^" in \
        ctx.procedure_code else ctx.procedure_code
    return {"name": ctx.patient_display_name, "id": ctx.patient_id, "sex": sex,
            "age": _age_text(ctx), "birth_date": _date_text(ctx.patient_birth_date),
            "accession": ctx.accession_number, "orders": order, "ordered": ctx.ordered,
            "procedure": procedure, "provider": _person(ctx.ordering_provider),
            "acquired": _time_text(ctx.acquisition_time), "device": ctx.device,
            "institution": ctx.institution}


def _status(ctx: ReportContext) -> dict[str, str]:
    who = ctx.confirmed_by or "physician (name not recorded)"
    if ctx.result_status == "F":
        return {"kind": "final", "text": f"Confirmed by {who}"}
    if ctx.result_status == "C":
        return {"kind": "final", "text": f"Corrected report, confirmed by {who}"}
    return {"kind": "preliminary", "text": "Unconfirmed computer interpretation"}


def _quality(analysis: Analysis) -> list[str]:
    q = analysis.quality
    lines = [] if q.usable else ["Recording not usable for interpretation"]
    lines += list(q.problems)
    lines += [f"{lq.lead}: {', '.join(lq.problems)}" + ("" if lq.usable else " (excluded)")
              for lq in q.leads if lq.problems]
    return [_symbols(line) for line in lines]


def _notes(analysis: Analysis) -> list[str]:
    ecg = analysis.ecg
    notes = list(analysis.notes)
    shown = {n for row in slot_leads(ecg.lead_names) for n in row if n is not None}
    missing = [n for row in PANEL_LEADS for n in row if n not in ecg.lead_names]
    if missing:
        notes.append("leads not recorded: " + ", ".join(missing))
    hidden = [n for n in ecg.lead_names if n not in shown]
    if hidden:
        notes.append("leads not shown in the tracing: " + ", ".join(hidden))
    if ecg.duration_s > 10.0 + 1e-6:
        notes.append(f"tracing shows the first 10 s of {ecg.duration_s:.1f} s")
    return [_symbols(n) for n in notes]


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)


@functools.lru_cache(maxsize=1)
def _stylesheet() -> weasyprint.CSS:
    """``templates/report.css``, parsed once per process: parsing it and compiling its
    selectors took about 10 ms of every render when it was inlined in each document. It
    has no ``@font-face``, so it needs no font configuration of its own."""
    import weasyprint

    return weasyprint.CSS(filename=str(TEMPLATES / "report.css"))


def render_html(analysis: Analysis, context: ReportContext, page_size: str = "A4",
                density: str = "regular") -> str:
    """The report as one HTML document (what :func:`render_pdf` lays out, with the
    stylesheet ``templates/report.css``; the document holds only its ``@page`` rule).

    Parameters
    ----------
    page_size:
        "A4" or "Letter" (landscape).
    density:
        One of :data:`DENSITIES`; denser layouts use smaller type.

    Raises
    ------
    ValueError
        Unknown ``page_size`` or ``density``.
    """
    if page_size not in PAGE_SIZES or density not in DENSITIES:
        raise ValueError(f"page_size {page_size!r} / density {density!r} not supported")
    layout = TracingLayout()
    versions = dict(analysis.versions)
    view = {
        "page_size": PAGE_SIZES[page_size], "page_class": page_size.lower(),
        "density": density,
        "header": header_view(context), "status": _status(context),
        "critical": analysis.critical,
        "measurements": measurement_rows(analysis),
        "reasons": sorted({(r.note, r.reason) for r in measurement_rows(analysis) if r.reason}),
        "statements": [_statement_view(i, s, versions)
                       for i, s in enumerate(analysis.statements, start=1)
                       if s.category != "serial"],
        "serial": _serial_view(analysis, context),
        "quality": _quality(analysis), "notes": _notes(analysis),
        "tracing": Markup(tracing_svg(analysis, layout)), "layout": layout,
        "tracing_width_mm": layout.width_mm, "versions": versions,
        "rate_hz": f"{analysis.sampling_rate_hz:g}",
        "source": context.sop_instance_uid or context.source or analysis.ecg.source,
    }
    return _environment().get_template("report.html.j2").render(**view)


def _body_stretched(doc: weasyprint.document.Document) -> bool:
    """Whether the first page's ``section.body`` is whole and taller than its content,
    i.e. held open by the "regular" layout's ``min-height``. Only then can "natural"
    (the same layout less that ``min-height``) lay the report out differently; otherwise
    it would give the same boxes, and the same page count, again."""
    for box in doc.pages[0]._page_box.descendants():
        element = getattr(box, "element", None)
        if box.element_tag == "section" and element is not None \
                and "body" in (element.get("class") or "").split():
            if box.remove_decoration_sides:  # split: continues on the next page
                return False
            top = box.content_box_y()
            bottom = max((c.position_y + c.margin_height() for c in box.children),
                         default=top)
            return bool(bottom - top < box.height - 0.01)
    return True  # not found: assume nothing, try it


def _fix_tinyhtml5_regex_cache() -> None:
    """tinyhtml5 (2.1.0) stores each compiled ``chars_until`` pattern under the pattern
    instead of the characters it was asked for, so every call rebuilds it (about half of
    WeasyPrint's HTML parsing time here): give its cache a ``__missing__`` that builds the
    same pattern once per key. tinyhtml5 is pinned in pyproject.toml for this reason."""
    try:
        from tinyhtml5 import inputstream
    except ImportError:  # pragma: no cover - an HTML parser of another WeasyPrint
        return
    if type(getattr(inputstream, "characters_until_regex", None)) is not dict:
        return

    class _Patterns(dict[tuple[Any, bool], re.Pattern[str]]):
        def __missing__(self, key: tuple[Any, bool]) -> re.Pattern[str]:
            characters, opposite = key
            regex = "".join([f"\\x{ord(c):02x}" for c in characters])
            if not opposite:
                regex = f"^{regex}"
            pattern = self[key] = re.compile(f"[{regex}]+")
            return pattern

    inputstream.characters_until_regex = _Patterns(inputstream.characters_until_regex)


def render_pdf(analysis: Analysis, context: ReportContext, settings: Settings) -> bytes:
    """The report of ``analysis`` as a one-page landscape PDF (``settings.page_size``).

    The layout gets denser (smaller type) until it fits one page; the tracing always
    keeps its paper scale of 25 mm/s and 10 mm/mV. "natural" is skipped when "regular"
    did not need its ``min-height`` (the same layout; see :func:`_body_stretched`). The
    garbage collector is paused meanwhile (:mod:`reporting.gc_pause`).

    Returns
    -------
    bytes
        The PDF document.
    """
    _fix_tinyhtml5_regex_cache()
    with gc_paused():
        return _render_pdf(analysis, context, settings)


def _render_pdf(analysis: Analysis, context: ReportContext, settings: Settings) -> bytes:
    import weasyprint

    doc = None
    for density in DENSITIES:
        if density == "natural" and doc is not None and not _body_stretched(doc):
            continue
        html = render_html(analysis, context, settings.page_size, density)
        doc = weasyprint.HTML(string=html, base_url=str(TEMPLATES)).render(
            stylesheets=[_stylesheet()])
        if len(doc.pages) == 1:
            break
    assert doc is not None
    if len(doc.pages) > 1:  # never drop a statement to force one page
        log.warning("report of %s needs %d pages even at the tightest layout (%d statements)",
                    analysis.ecg.source, len(doc.pages), len(analysis.statements))
    return bytes(doc.write_pdf())

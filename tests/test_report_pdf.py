"""The PDF report and its tracing: real renders of pydicom's sample ECG and synthetic ECGs.

The PDF checks read the result back with poppler (pdfinfo, pdftotext, pdftoppm,
pdfimages), as a reader would: one page of the right size, every measurement and
statement as printed, the status note, the versions, a non-blank vector page.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import numpy as np
import pydicom.data
import pytest

from ecgread.config.settings import Settings
from ecgread.integration.dicom_decode import decode_file
from ecgread.models.analysis import Analysis, analyze
from ecgread.models.ecg import Ecg
from ecgread.models.results import Evidence, Statement
from ecgread.reporting.context import ReportContext, report_context
from ecgread.reporting.pdf import UNABLE, measurement_rows, render_html, render_pdf
from ecgread.reporting.tracing import (
    GRID_MAJOR,
    GRID_MINOR,
    MARK_CRITICAL,
    PANEL_LEADS,
    TracingLayout,
    _straight,
    slot_leads,
    tracing_svg,
)
from ecgread.workers.provenance import with_ecgread_version
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg

poppler = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
                             reason="poppler-utils (pdftotext, pdfinfo, pdftoppm) not installed")
SVG = "{http://www.w3.org/2000/svg}"


def _analyze(ecg: Ecg) -> Analysis:
    """The read as the workers make it: the shipped models, the ecgread version."""
    return with_ecgread_version(analyze(ecg, models=shipped_models()))


@pytest.fixture(scope="module")
def sample() -> Analysis:
    return _analyze(decode_file(str(pydicom.data.get_testdata_file("waveform_ecg.dcm"))))


@pytest.fixture(scope="module")
def af() -> Analysis:
    """Atrial fibrillation: no P waves, so PR, P duration and P axis are unmeasured."""
    return _analyze(synthetic_ecg(rate_bpm=110, af=True, seed=3).ecg)


@pytest.fixture(scope="module")
def brady() -> Analysis:
    """35 bpm: a critical statement (heart rate below 40 bpm)."""
    return _analyze(synthetic_ecg(rate_bpm=35, seed=2).ecg)


def _pdf(tmp_path: Path, data: bytes, name: str = "report.pdf") -> Path:
    assert data[:5] == b"%PDF-"
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _info(path: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)


def _page(path: Path) -> tuple[int, tuple[float, float]]:
    info = _info(path)
    w, h = re.findall(r"[\d.]+", info["Page size"])[:2]
    return int(info["Pages"]), (round(float(w)), round(float(h)))


def _text(path: Path, layout: bool = True) -> str:
    args = ["pdftotext"] + (["-layout"] if layout else []) + [str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def _flat(text: str) -> str:
    return " ".join(text.split())


def _both(path: Path) -> str:
    """Layout and reading-order text, flattened: wrapped lines read whole in one of them."""
    return _flat(_text(path)) + " | " + _flat(_text(path, layout=False))


def _html_text(html: str) -> str:
    """The visible text of the report's HTML (no style, no SVG), flattened."""
    body = re.sub(r"<(style|svg)\b.*?</\1>", "", html, flags=re.DOTALL)
    return _flat(unescape(re.sub(r"<[^>]+>", " ", body))).replace(" ;", ";")


# --- the PDF ----------------------------------------------------------------------------


@poppler
def test_sample_ecg_report_is_one_a4_page_with_every_number(sample: Analysis,
                                                           tmp_path: Path) -> None:
    ctx = report_context(sample.ecg, None)
    path = _pdf(tmp_path, render_pdf(sample, ctx, Settings(page_size="A4")))
    assert _page(path) == (1, (842, 595))
    text = _text(path)
    flat = _flat(text)
    for row in measurement_rows(sample):
        assert re.search(rf"{re.escape(row.label)}\s+{re.escape(row.value)}\s*{row.unit}",
                         text), row
    assert len(sample.statements) >= 1
    for number, s in enumerate(sample.statements, start=1):
        assert f"{number} {s.text}" in flat
        assert s.certainty in flat
    assert "Unconfirmed computer interpretation" in flat
    for name, version in sample.versions.items():
        assert name in flat and version in flat
    assert "Anonymous" in flat  # the sample's patient name
    assert "642341" in flat and str(sample.ecg.acquisition.accession_number) in flat
    assert "Unordered ECG" in flat
    assert "2013-01-25 10:59:19" in flat
    assert "Mortara" in flat and "Galliera" in flat
    assert "female" in flat and "42 y" in flat


@poppler
def test_letter_page_and_ordered_confirmed_report(sample: Analysis, tmp_path: Path) -> None:
    ctx = dataclasses.replace(
        report_context(sample.ecg, None), patient_name="DOE^JANE", placer_order_number="PO-77",
        placer_namespace="EPIC", filler_order_number="FO-12", result_status="F",
        confirmed_by="Dr. A. Cardio", ordering_provider="1234^SMITH^JOHN")
    path = _pdf(tmp_path, render_pdf(sample, ctx, Settings(page_size="Letter")))
    assert _page(path) == (1, (792, 612))
    flat = _flat(_text(path))
    assert "DOE, JANE" in flat
    assert "Placer order PO-77 (EPIC)" in flat and "Filler order FO-12" in flat
    assert "Unordered" not in flat
    assert "Confirmed by Dr. A. Cardio" in flat
    assert "Unconfirmed" not in flat
    assert "SMITH, JOHN (1234)" in flat


@poppler
def test_unmeasured_values_say_unable_to_measure_and_why(af: Analysis, tmp_path: Path) -> None:
    assert af.measurements.pr_ms is None and "pr_ms" in af.measurements.unmeasured
    path = _pdf(tmp_path, render_pdf(af, ReportContext(), Settings()))
    assert _page(path)[0] == 1
    text = _text(path)
    assert re.search(r"PR interval\s+unable to measure", text)
    reason = af.measurements.unmeasured["pr_ms"]
    assert _flat(reason) in _flat(_text(path, layout=False))
    assert "Name not recorded" in text and "Unordered ECG" in text
    rows = {r.name: r for r in measurement_rows(af)}
    assert rows["pr_ms"].value == UNABLE and rows["pr_ms"].reason == reason
    assert rows["pr_ms"].note == rows["p_ms"].note  # one footnote for one reason


@poppler
def test_critical_and_ai_findings_stand_out(brady: Analysis, tmp_path: Path) -> None:
    assert brady.critical
    ai = Statement("LVSD", "Possible left ventricular systolic dysfunction", "ai", "possible",
                   (Evidence("ai.lvsd-net.LVSD", 0.712, ">= 0.5", ("V5", "V6"),
                             ((1.0, 4.0),)),), source="lvsd-net", probability=0.712)
    a = dataclasses.replace(brady, statements=brady.statements + (ai,),
                            versions={**brady.versions, "lvsd-net": "2.1"})
    html = render_html(a, ReportContext())
    assert 'class="critical-tag">CRITICAL<' in html and "CRITICAL FINDING" in html
    path = _pdf(tmp_path, render_pdf(a, ReportContext(), Settings()))
    assert _page(path)[0] == 1
    text = _both(path)
    critical = next(s for s in brady.statements if s.critical)
    assert f"CRITICAL {critical.text}" in text
    assert "AI finding p = 0.71, lvsd-net 2.1" in text
    assert "Probability 0.71 (≥ 0.5) V5, V6" in text
    assert "Probability 0.71 (≥ 0.5) V5, V6 1.00–4.00 s" in _html_text(html)


@poppler
def test_evidence_is_printed_beside_its_statement(sample: Analysis, tmp_path: Path) -> None:
    sr = next(s for s in sample.statements if s.code == "SR")
    hr = next(e for e in sr.evidence if e.measurement == "heart_rate_bpm")
    assert isinstance(hr.value, float)
    beside = (f"{sr.text} {sr.certainty} P-wave ratio 1.00 (≥ 0.5)")
    spans = f"{len(hr.spans_s)} spans ({hr.spans_s[0][0]:.2f}–{hr.spans_s[0][1]:.2f} s, …)"
    html = _html_text(render_html(sample, ReportContext()))
    assert beside in html
    assert f"Heart rate {hr.value:.0f} bpm (in [60, 100] bpm) {spans}" in html
    path = _pdf(tmp_path, render_pdf(sample, ReportContext(), Settings()))
    text = _both(path)
    assert f"Heart rate {hr.value:.0f} bpm" in text and "(in [60, 100] bpm)" in text
    assert f"{spans[:-3]}" in text.replace("– ", "–")


@poppler
def test_page_is_a_non_blank_vector_drawing(sample: Analysis, tmp_path: Path) -> None:
    path = _pdf(tmp_path, render_pdf(sample, ReportContext(), Settings()))
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-singlefile", str(path),
                    str(tmp_path / "page")], check=True)
    png = tmp_path / "page.png"
    assert png.stat().st_size > 20_000
    try:
        from PIL import Image
    except ImportError:
        pass
    else:
        gray = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
        assert gray.shape == (413, 585) or gray.shape[1] > gray.shape[0]  # landscape
        assert gray.std() > 20.0
        assert (gray < 128).mean() > 0.02  # ink: traces and text
    if shutil.which("pdfimages"):
        images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True,
                                text=True, check=True).stdout.splitlines()
        assert len(images) == 2, images  # header lines only: no bitmap anywhere


@poppler
def test_many_statements_still_fit_one_page(af: Analysis, tmp_path: Path) -> None:
    copies = -(-12 // len(af.statements)) - 1  # enough copies for 12 statements or more
    extra = tuple(dataclasses.replace(s, text=f"{s.text} (copy {i})")
                  for i in range(copies) for s in af.statements)
    a = dataclasses.replace(af, statements=af.statements + extra)
    assert len(a.statements) >= 12
    path = _pdf(tmp_path, render_pdf(a, ReportContext(), Settings(page_size="Letter")))
    assert _page(path) == (1, (792, 612))
    flat = _flat(_text(path))
    assert all(s.text in flat for s in a.statements)


def test_html_is_autoescaped(sample: Analysis) -> None:
    ctx = ReportContext(patient_name="<script>x</script>^A", institution="A & B")
    html = render_html(sample, ctx, "Letter")
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "A &amp; B" in html
    assert "size: letter landscape" in html
    with pytest.raises(ValueError):
        render_html(sample, ctx, "A3")


@poppler
def test_example_script_writes_pdf_and_png(tmp_path: Path) -> None:
    from ecgread.cli.example_report import write_example

    pdf, png, seconds = write_example(tmp_path)
    assert _page(pdf) == (1, (842, 595))
    assert png.is_file() and png.stat().st_size > 50_000
    assert seconds > 0


# --- the tracing ------------------------------------------------------------------------


def _svg(analysis: Analysis) -> ET.Element:
    return ET.fromstring(tracing_svg(analysis))


def _labels(root: ET.Element) -> list[str]:
    return [(t.text or "").strip() for t in root.iter(f"{SVG}text")
            if t.get("font-size") == "3.2"]


def _trace_paths(root: ET.Element) -> list[str]:
    g = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "traces")
    return [p.get("d", "") for p in g.iter(f"{SVG}path") if p.get("stroke-width") == "0.28"]


def _with(analysis: Analysis, *statements: Statement) -> Analysis:
    return dataclasses.replace(analysis, statements=statements)


def test_tracing_has_the_twelve_leads_rhythm_strip_grid_and_paper_scale(
        sample: Analysis) -> None:
    root = _svg(sample)
    lay = TracingLayout()
    assert root.get("viewBox") == f"0 0 {lay.width_mm:g} {lay.height_mm:g}"
    assert root.get("width") == "257mm" and root.get("height") == "120mm"
    assert lay.panel_mm == 62.5 and lay.width_mm - lay.cal_mm == 250.0
    labels = _labels(root)
    assert sorted(labels) == sorted([n for row in PANEL_LEADS for n in row] + ["II"])
    strokes = {p.get("stroke"): p.get("d", "") for p in root.iter(f"{SVG}path")}
    assert strokes[GRID_MINOR].count("M") > 250 and strokes[GRID_MAJOR].count("M") > 60
    assert "M5 0V120" in strokes[GRID_MAJOR] and "M1 0V120" in strokes[GRID_MINOR]
    paths = _trace_paths(root)
    assert len(paths) == 13
    points = sum(d.count("L") for d in paths)
    assert 2_000 < points < 8_000  # decimated, but not to nothing


def test_traces_stay_in_their_rows(sample: Analysis) -> None:
    lay = TracingLayout()
    root = _svg(sample)
    for d in _trace_paths(root):
        ys = np.array([float(y) for y in re.findall(r"[\d.]+ ([\d.]+)", d)])
        assert ys.min() >= 0.0 and ys.max() <= lay.height_mm
        row = int(np.median(ys) // lay.row_mm)
        base = lay.baseline_mm(row)
        assert abs(np.median(ys) - base) < 3.0  # centred on its baseline
        assert ys.min() >= base - lay.row_mm and ys.max() <= base + lay.row_mm


def test_evidence_span_is_marked_at_its_time_in_its_lead(sample: Analysis) -> None:
    lay = TracingLayout()
    st = Statement("X", "Test finding", "rhythm", "possible",
                   (Evidence("qrs_ms", 130.0, ">= 120", ("V2",), ((5.5, 5.6), (7.4, 7.6))),))
    crit = Statement("Y", "Critical test finding", "rhythm", "definite",
                     (Evidence("heart_rate_bpm", 30.0, "< 40", (), ((1.0, 1.2),)),),
                     critical=True)
    root = _svg(_with(sample, st, crit))
    marks = [r for r in root.iter(f"{SVG}rect") if (r.get("class") or "").startswith("ev")]
    v2 = [r for r in marks if r.get("data-lead") == "V2"]
    # V2 is row 1, column 2 (window 5.0-7.5 s): x = 7 + 2 * 62.5 + (5.5 - 5.0) * 25 = 144.5
    first = min(v2, key=lambda r: float(r.get("x", 0)))
    assert float(first.get("x", 0)) == pytest.approx(lay.x_mm(2, 5.5)) == pytest.approx(144.5)
    assert float(first.get("width", 0)) == pytest.approx(0.1 * 25)
    assert float(first.get("y", 0)) == pytest.approx(1 * lay.row_mm, abs=0.5)
    assert first.get("data-statements") == "1"
    # 7.4-7.6 s crosses into V5 (column 3): only the V2 part is marked in V2
    assert len(v2) == 2
    assert float(max(v2, key=lambda r: float(r.get("x", 0))).get("width", 0)) == \
        pytest.approx(0.1 * 25)
    # no leads: the rhythm strip (row 3, window 0-10 s), in the critical colour
    strip = [r for r in marks if r.get("data-statements") == "2"]
    assert len(strip) == 1 and strip[0].get("fill") == MARK_CRITICAL
    assert float(strip[0].get("x", 0)) == pytest.approx(lay.cal_mm + 1.0 * 25)
    assert float(strip[0].get("y", 0)) == pytest.approx(3 * lay.row_mm, abs=0.5)
    tags = [(t.text or "") for t in root.iter(f"{SVG}text") if t.get("font-size") == "2.1"]
    assert "1" in tags and "2" in tags


def test_evidence_outside_its_leads_panels_is_marked_on_the_rhythm_strip(
        sample: Analysis) -> None:
    lay = TracingLayout()
    # V5 is shown from 7.5 to 10 s; evidence at 1.0-1.2 s has no V5 panel to go on
    st = Statement("X", "Test finding", "rhythm", "possible",
                   (Evidence("qrs_ms", 130.0, ">= 120", ("V5",), ((1.0, 1.2),)),))
    root = _svg(_with(sample, st))
    marks = [r for r in root.iter(f"{SVG}rect") if (r.get("class") or "").startswith("ev")]
    assert len(marks) == 1
    assert float(marks[0].get("y", 0)) == pytest.approx(3 * lay.row_mm, abs=0.5)  # strip
    assert float(marks[0].get("x", 0)) == pytest.approx(lay.cal_mm + 1.0 * 25)
    # evidence shown in its lead's panel is not repeated on the strip
    shown = Statement("Y", "Other", "rhythm", "possible",
                      (Evidence("qrs_ms", 130.0, ">= 120", ("V5",), ((8.0, 8.2),)),))
    rows = {round(float(r.get("y", 0)) / lay.row_mm) for r in _svg(_with(sample, shown)).iter(
        f"{SVG}rect") if (r.get("class") or "").startswith("ev")}
    assert rows == {1}


def test_identical_spans_of_several_statements_share_one_numbered_mark(
        sample: Analysis) -> None:
    ev = Evidence("p_ms", 135.0, "> 120", ("II",), ((0.3, 0.4),))
    a = _with(sample, Statement("A", "First", "rhythm", "definite", (ev,)),
              Statement("B", "Second", "rhythm", "definite", (ev,)))
    root = _svg(a)
    marks = [r for r in root.iter(f"{SVG}rect") if (r.get("class") or "").startswith("ev")]
    assert [r.get("data-statements") for r in marks] == ["1,2", "1,2"]  # panel + strip
    assert [r.get("data-lead") for r in marks] == ["II", "II"]


def test_missing_leads_padding_and_other_lead_sets(sample: Analysis) -> None:
    ecg = sample.ecg
    keep = [i for i, n in enumerate(ecg.lead_names) if n not in ("V3", "aVL")]
    sig = ecg.signal_uv[keep].copy()
    sig[1, 3000:3600] = np.nan  # padding inside lead II (row 1 of the kept leads)
    names = tuple(ecg.lead_names[i] for i in keep)
    a = dataclasses.replace(sample, ecg=dataclasses.replace(ecg, signal_uv=sig,
                                                            lead_names=names))
    root = _svg(a)
    text = "".join(root.itertext())
    assert text.count("not recorded") == 2
    strip = _trace_paths(root)[-1]
    assert strip.count("M") == 2  # broken at the padding
    # two non-standard leads fill the layout where standard leads are missing
    few = dataclasses.replace(ecg, signal_uv=ecg.signal_uv[:2], lead_names=("ECG1", "ECG2"))
    assert slot_leads(few.lead_names)[0] == ("ECG1", "ECG2", None, None)
    root = _svg(dataclasses.replace(sample, ecg=few, statements=()))
    assert "ECG1" in _labels(root) and len(_trace_paths(root)) == 3  # 2 panels + strip


def test_decimation_keeps_spikes_and_handles_250_hz() -> None:
    for fs in (250.0, 500.0, 1000.0):
        s = synthetic_ecg(rate_bpm=60, fs=fs, seed=7, paced=True)
        a = _analyze(s.ecg)
        lay = TracingLayout()
        paths = _trace_paths(_svg(a))
        ii = paths[4]  # lead II: row 1, after I, aVR, V1, V4
        ys = [float(y) for y in re.findall(r"[\d.]+ ([\d.]+)", ii)]
        # 3 mV pacing spikes reach the clip limit (one row height above the baseline)
        assert min(ys) == pytest.approx(lay.baseline_mm(1) - lay.row_mm, abs=0.05), fs


def test_points_on_a_straight_stretch_are_not_drawn_but_a_spike_tip_is() -> None:
    tol = TracingLayout().straight_tol_mm
    # a slope (the point at 0.4 mm is 0.01 mm off it, the one at 1.2 mm 0.5 mm), then a
    # spike whose tip lies on the line through its foot and the next point down
    x = np.array([0.0, 0.4, 0.8, 1.2, 1.6, 1.7, 1.69, 2.0])
    y = np.array([50.0, 49.01, 48.0, 47.5, 46.0, 20.0, 22.6, 46.0])
    keep = _straight(x, y, tol)
    assert keep.tolist() == [True, False, True, True, True, True, True, True]
    # a flat run keeps its ends and every other inner point at most
    flat = _straight(np.arange(6.0), np.full(6, 50.0), tol)
    assert flat[0] and flat[-1] and not (~flat[1:] & ~flat[:-1]).any()


@poppler
def test_serial_comparison_has_its_section_with_both_values(sample: Analysis,
                                                            tmp_path: Path) -> None:
    """The second ECG of a patient: "Compared with the ECG of <date>", each change with
    the prior and the current value, apart from the interpretation (numbers continue)."""
    from ecgread.models.serial import SerialInput, compare_serial

    m = sample.measurements
    assert m.qrs_ms is not None and m.heart_rate_bpm is not None
    prior = dataclasses.replace(m, qrs_ms=m.qrs_ms + 35.0, heart_rate_bpm=m.heart_rate_bpm + 30)
    found = compare_serial(SerialInput(m, sample.statements),
                           SerialInput(prior, sample.statements))
    assert [s.code for s in found] == ["SERIAL_RATE_DOWN", "SERIAL_QRS_NARROWER"]
    second = dataclasses.replace(sample, statements=sample.statements + found)
    ctx = report_context(second.ecg, None, serial={"prior_acquired": "2012-03-04T08:15:00",
                                                   "prior_confirmed": True})
    n = len(sample.statements)
    html = _html_text(render_html(second, ctx))
    head = "Compared with the ECG of 2012-03-04 08:15 (as confirmed)"
    assert head in html
    assert (f"{n + 2} QRS duration narrower than on the prior ECG QRS duration "
            f"{prior.qrs_ms:.0f} → {m.qrs_ms:.0f} ms") in html
    assert (f"{n + 1} Heart rate decreased compared with the prior ECG Heart rate "
            f"{prior.heart_rate_bpm:.0f} → {m.heart_rate_bpm:.0f} bpm") in html
    assert html.index("Interpretation") < html.index(head)  # its own section, after
    assert html.count("narrower than on the prior ECG") == 1  # not in the interpretation
    text = _both(_pdf(tmp_path, render_pdf(second, ctx, Settings())))
    assert "Compared with the ECG of 2012-03-04 08:15".upper() in text.upper()
    assert f"{prior.qrs_ms:.0f} → {m.qrs_ms:.0f} ms" in text
    # without a prior date (an older read's JSON) the heading still says what it is
    unchanged = compare_serial(SerialInput(m, sample.statements),
                               SerialInput(m, sample.statements))
    html = _html_text(render_html(dataclasses.replace(
        sample, statements=sample.statements + unchanged), ReportContext()))
    assert "Compared with the prior ECG" in html
    assert f"QRS duration {m.qrs_ms:.0f} → {m.qrs_ms:.0f} ms" in html
    # no serial statements: no section
    assert "Compared with" not in _html_text(render_html(sample, ReportContext()))

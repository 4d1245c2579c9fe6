"""Agreement with the vendor read (models.agreement) and the archive report (reporting.archive),
on hand-computed values and on the shared vendor files through ``ecgread batch``."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecgread.models.agreement import FAMILIES, MEASURES, compare_read, summarize, vendor_families
from ecgread.models.vendor_read import VendorRead, VendorStatement
from ecgread.reporting.archive import agreement_csv, agreement_html
from tests.conftest import REPO

VENDOR = REPO.parent / "shared" / "data" / "vendor"
M = {m.name: m for m in MEASURES}


def _vendor(*texts: str, **measurements: float) -> VendorRead:
    return VendorRead("test", statements=tuple(VendorStatement(t) for t in texts),
                      **measurements)  # type: ignore[arg-type]


def test_differences_are_ours_minus_vendor_and_axes_wrap() -> None:
    row = compare_read({"pr_ms": 150.0, "qrs_ms": None, "qrs_axis_deg": 175.0,
                        "t_axis_deg": -170.0, "qtc_bazett_ms": 440.0,
                        "qtc_fridericia_ms": 420.0},
                       [], _vendor(pr_ms=160.0, qrs_ms=90.0, qrs_axis_deg=-175.0,
                                   t_axis_deg=170.0, qtc_ms=430.0))
    assert row.difference(M["PR"]) == -10.0
    assert row.difference(M["QRS"]) is None  # ours not measured: no difference, no guess
    assert row.difference(M["QRS axis"]) == -10.0  # 175 vs -175 is 10 degrees apart
    assert row.difference(M["T axis"]) == 20.0
    assert row.qtc_formula == "bazett" and row.difference(M["QTc"]) == 10.0
    fridericia = compare_read({"qtc_fridericia_ms": 420.0}, [],
                              VendorRead("t", qtc_ms=430.0, qtc_formula="fridericia"))
    assert fridericia.difference(M["QTc"]) == -10.0


def test_bland_altman_figures_and_share_within() -> None:
    diffs = [-12.0, -4.0, 0.0, 6.0, 25.0]
    rows = [compare_read({"qt_ms": 400.0 + d}, [], _vendor(qt_ms=400.0)) for d in diffs]
    rows.append(compare_read({"qt_ms": None}, [], _vendor(qt_ms=400.0)))
    qt = summarize(rows).measures[2]
    mean = sum(diffs) / 5
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 4)
    assert qt.n == 5 and qt.missing_ours == 1 and qt.missing_vendor == 0
    assert qt.mean == pytest.approx(mean) and qt.sd == pytest.approx(sd)
    assert qt.within == pytest.approx(4 / 5)  # |25| > 15 ms
    assert qt.limits == pytest.approx((mean - 1.96 * sd, mean + 1.96 * sd))


@pytest.mark.parametrize(("text", "family"), [
    ("Normal Sinus rhythm", "sinus"), ("(SB) SINUS BRADYCARDIA, V-rate<60,", "sinus"),
    ("Atrial fibrillation with rapid ventricular response", "af_flutter"),
    ("First degree A-V block", "av_block"), ("2nd degree AV block, Mobitz II", "av_block"),
    ("Left bundle branch block", "lbbb"), ("Incomplete right bundle branch block", "rbbb"),
    ("Anterior infarct, age undetermined", "infarct"),
    ("T wave abnormality, consider lateral ischemia", "st_t"),
    ("ANTERIOR ST ELEVATION, PROBABLY DUE TO LVH", "st_t"),
    ("Ventricular tachycardia", "ventricular"), ("Electronic ventricular pacemaker", "paced"),
])
def test_vendor_statement_texts_map_to_families(text: str, family: str) -> None:
    assert family in vendor_families(_vendor(text))


def test_vendor_texts_outside_the_families_and_comparisons_are_left_out() -> None:
    assert vendor_families(_vendor("Nonspecific intraventricular conduction delay",
                                   "OTHERWISE NORMAL ECG", "Early repolarization")) == frozenset()
    # GE: statements after "When compared with ECG of ..." describe changes, not this ECG
    assert vendor_families(_vendor("Sinus rhythm", "When compared with ECG of 30-MAR-2023,",
                                   "Right bundle branch block is now present")) == {"sinus"}
    # Philips' own code "ST" is not ST-T; only MDC codes count
    assert vendor_families(VendorRead("t", statements=(
        VendorStatement("Sinus tachycardia", code="ST"),))) == {"sinus"}
    assert vendor_families(VendorRead("t", statements=(
        VendorStatement("", code="MDC_ECG_RHY_ATR_FIB"),))) == {"af_flutter"}


def test_statement_table_counts_and_kappa() -> None:
    ours_and_vendor = [(["SR"], ["Sinus rhythm"]), (["SR", "RBBB"], ["Sinus rhythm"]),
                       (["AF"], ["Atrial fibrillation"]), (["SR"], ["Sinus rhythm"]),
                       (["AF"], ["Sinus rhythm"])]
    rows = [compare_read({}, codes, _vendor(*texts)) for codes, texts in ours_and_vendor]
    rows.append(compare_read({}, ["SR"], _vendor(pr_ms=150.0)))  # no statements: left out
    by_name = {f.family.name: f for f in summarize(rows).families}
    sinus = by_name["sinus"]
    assert (sinus.both, sinus.ours_only, sinus.vendor_only, sinus.neither) == (3, 0, 1, 1)
    # observed 4/5; expected 0.6*0.8 + 0.4*0.2 = 0.56; kappa = (0.8-0.56)/(1-0.56)
    assert sinus.agreement == pytest.approx(0.8)
    assert sinus.kappa == pytest.approx(0.24 / 0.44)
    assert (by_name["rbbb"].ours_only, by_name["rbbb"].n) == (1, 5)
    assert by_name["lbbb"].kappa is None  # nobody on either side: kappa undefined
    assert [f.name for f in FAMILIES] == list(by_name)


def test_report_csv_and_html_are_complete_and_self_contained() -> None:
    rows = [compare_read({"pr_ms": 150.0 + i, "qrs_axis_deg": 30.0}, ["SR"],
                         _vendor("Sinus rhythm", pr_ms=150.0, qrs_axis_deg=20.0))
            for i in range(4)]
    summary = summarize(rows)
    table = list(csv.DictReader(io.StringIO(agreement_csv(summary))))
    pr = next(r for r in table if r["name"] == "PR")
    assert (pr["n"], pr["mean_diff"], pr["share_within"], pr["tolerance"]) == (
        "4", "1.5", "1.000", "10")
    assert next(r for r in table if r["name"] == "sinus")["both"] == "4"
    assert len(table) == len(MEASURES) + len(FAMILIES)
    page = agreement_html(summary)
    assert page.count("<svg") == len(MEASURES) and page.count("<circle") == 8  # PR + QRS axis
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no CDN
    assert "<script" not in page


@pytest.mark.skipif(not VENDOR.is_dir(), reason=f"vendor examples not found at {VENDOR}")
def test_batch_over_vendor_files_writes_ours_and_theirs_and_the_report(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    for rel in ("ge-muse/muse-sinus.xml", "philips-sierra/2020-5-18_15-48-11.xml",
                "hl7-aecg/subject1_0.xml", "scp-ecg/demo.scp"):
        shutil.copy(VENDOR / rel, archive / Path(rel).name)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "ecgread", "batch", str(archive), "--out",
                           str(out), "--home", str(tmp_path / "home"), "--no-pdf"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = {Path(x["source"]).name: x
             for x in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    muse = lines["muse-sinus.xml"]
    assert muse["vendor"]["measurements"]["pr_ms"] == 144.0  # theirs, as the file says
    assert muse["agreement"]["vendor"]["PR"] == 144.0
    assert muse["agreement"]["ours"]["PR"] == muse["measurements"]["pr_ms"]  # ours beside
    assert muse["agreement"]["vendor_families"] == ["infarct", "sinus", "st_t"]
    assert "vendor" not in lines["demo.scp"]  # no vendor read in that file
    table = list(csv.DictReader((out / "agreement.csv").open()))
    assert next(r for r in table if r["name"] == "QRS")["n"] == "3"
    assert (out / "agreement.html").read_text().count("<svg") == len(MEASURES)

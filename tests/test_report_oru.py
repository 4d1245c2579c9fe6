"""The ORU^R01 of a read, parsed back with the independent python-hl7 library.

Analyses come from the real pipeline (pydicom's sample ECG, seeded synthetic ECGs) and,
for statements the pipeline does not make on demand (AI findings, delimiters in text), from
an analysis with hand-set statements. The PDF is a stand-in: reporting.pdf is not used.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from datetime import UTC, datetime

import hl7
import pydicom
import pytest

from ecgread.audit.tables import Hl7Order
from ecgread.integration.dicom_decode import decode_file
from ecgread.models.analysis import Analysis, analyze
from ecgread.models.ecg import Acquisition
from ecgread.models.interpret.library import LIBRARY
from ecgread.models.results import Evidence, Statement
from ecgread.reporting.context import ReportContext, report_context
from ecgread.reporting.oru import MEASUREMENTS, build_oru
from ecgread.workers.provenance import with_ecgread_version
from tests.neural_helpers import shipped_models
from tests.synthetic import synthetic_ecg

PDF = b"%PDF-1.4 test"
LOINC = {"heart_rate_bpm": "8867-4", "pr_ms": "8625-6", "qrs_ms": "8633-0", "qt_ms": "8634-8",
         "qtc_bazett_ms": "8636-3", "p_axis_deg": "8626-4", "qrs_axis_deg": "8632-2",
         "t_axis_deg": "8638-9"}
UNITS = {"heart_rate_bpm": "{beats}/min", "pr_ms": "ms", "qrs_ms": "ms", "qt_ms": "ms",
         "qtc_bazett_ms": "ms", "p_axis_deg": "deg", "qrs_axis_deg": "deg", "t_axis_deg": "deg"}


def _analyze(ecg) -> Analysis:  # type: ignore[no-untyped-def]
    """The read as the workers make it: the shipped models, the ecgread version."""
    return with_ecgread_version(analyze(ecg, models=shipped_models()))


@pytest.fixture(scope="module")
def sample() -> Analysis:
    return _analyze(decode_file(str(pydicom.data.get_testdata_file("waveform_ecg.dcm"))))


def _synthetic(patient_id: str | None = "P-77", **kw) -> Analysis:  # type: ignore[no-untyped-def]
    ecg = synthetic_ecg(seed=1, **kw).ecg
    acq = Acquisition(patient_id=patient_id, patient_name="DOE^JANE", patient_sex="F",
                      patient_birth_date="19600203", sop_instance_uid="1.2.826.0.1.99.1",
                      acquisition_time=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
    return _analyze(dataclasses.replace(ecg, acquisition=acq))


def _order() -> Hl7Order:
    return Hl7Order(placer_order_number="PO-123", placer_namespace="EHR",
                    filler_order_number="FO-9", procedure_code="93000^12-lead ECG^CPT",
                    ordering_provider="1234^HOUSE^GREGORY", patient_id="P-77")


def _parse(msg: str) -> hl7.Message:
    assert "\n" not in msg and msg.startswith("MSH|^~\\&|")
    return hl7.parse(msg)


def _obx(m: hl7.Message) -> list:  # type: ignore[type-arg]
    return [s for s in m if str(s[0]) == "OBX"]


def _code(obx) -> str:  # type: ignore[no-untyped-def]
    return str(obx[3]).split("^")[0]


def _by_code(m: hl7.Message) -> dict:  # type: ignore[type-arg]
    return {_code(o): o for o in _obx(m) if str(o[2]) == "NM"}


def _nte_after(m: hl7.Message, obx) -> list[str]:  # type: ignore[no-untyped-def]
    segments = list(m)
    i = next(k for k, s in enumerate(segments) if s is obx)
    out = []
    for s in segments[i + 1:]:
        if str(s[0]) != "NTE":
            break
        out.append(m.unescape(str(s[3])))
    return out


def test_header_patient_and_unordered_order(sample, settings) -> None:
    ctx = report_context(sample.ecg, None)
    m = _parse(build_oru(sample, ctx, PDF, settings, "CTRL-1"))
    msh = m.segment("MSH")
    assert str(msh[3]) == settings.hl7_sending_application
    assert str(msh[4]) == settings.hl7_sending_facility
    assert str(msh[5]) == settings.ehr_receiving_application
    assert str(msh[6]) == settings.ehr_receiving_facility
    assert str(msh[9]) == "ORU^R01^ORU_R01"
    assert str(msh[10]) == "CTRL-1"
    assert str(msh[11]) == "P"
    assert str(msh[12]) == "2.5.1"
    datetime.strptime(str(msh[7]), "%Y%m%d%H%M%S%z")
    pid = m.segment("PID")
    assert str(pid[3]) == "642341"
    assert str(pid[7]) == "19710123" and str(pid[8]) == "F"
    assert [str(s[0]) for s in m][:5] == ["MSH", "SFT", "PID", "ORC", "OBR"]
    obr = m.segment("OBR")
    assert str(obr[2]) == ""  # unordered: no placer number
    assert str(obr[3]) == f"{ctx.sop_instance_uid}^{settings.hl7_sending_application}"
    assert str(obr[4]) == "11524-6^EKG study^LN"
    assert str(obr[7]) == "20130125105919+0000"
    assert str(obr[24]) == "EC"
    assert str(obr[25]) == "P"
    assert str(obr[18]) == "03028041970546"
    assert str(m.segment("ORC")[1]) == "RE"
    notes = [m.unescape(str(s[3])) for s in m if str(s[0]) == "NTE"]
    assert any("Unconfirmed computer interpretation" in n for n in notes)
    assert str(obr[5]) == ""  # nothing critical: routine


def test_measurements_codes_values_units_flags(sample, settings) -> None:
    m = _parse(build_oru(sample, report_context(sample.ecg, None), PDF, settings, "C2"))
    obx = _by_code(m)
    values = sample.measurements.as_dict()
    for name, code in LOINC.items():
        o = obx[code]
        assert str(o[5]) == f"{values[name]:.0f}", name
        assert str(o[6]).split("^")[0] == UNITS[name]
        assert str(o[6]).split("^")[2] == "UCUM"
        assert str(o[11]) == "P"
    assert "Bazett" in str(obx["8636-3"][3])
    assert "Bazett" in " ".join(_nte_after(m, obx["8636-3"]))
    assert str(obx["QTCF"][3]).split("^")[2] == "99ECG"
    assert str(obx["QTCF"][5]) == f"{values['qtc_fridericia_ms']:.0f}"
    assert str(obx["8867-4"][7]) == "60-100" and str(obx["8867-4"][8]) == "N"  # 61 bpm
    assert str(obx["8625-6"][7]) == "120-200" and str(obx["8625-6"][8]) == "N"
    assert str(obx["8634-8"][7]) == "" and str(obx["8634-8"][8]) == ""  # QT: no range
    # the provenance observation names every version
    prov = next(o for o in _obx(m) if _code(o) == "VERSIONS")
    text = m.unescape(str(prov[5]))
    assert all(f"{k} {v}" in text for k, v in sample.versions.items())


def test_statements_as_tx_with_flags(sample, settings) -> None:
    m = _parse(build_oru(sample, report_context(sample.ecg, None), PDF, settings, "C3"))
    tx = [o for o in _obx(m) if _code(o) == "8601-7"]
    assert len(tx) == len(sample.statements) >= 1
    for o, st in zip(tx, sample.statements, strict=True):
        text = m.unescape(str(o[5]))
        assert text.startswith(st.text)
        assert (f"({st.certainty})" in text) == (st.certainty != "definite")
        assert str(o[3]).split("^")[3] == st.code
        entry = LIBRARY[st.code]
        expected = ("AA" if st.critical else "A" if entry.severity in ("abnormal", "borderline")
                    or st.code in ("ABNORMAL", "BORDERLINE") else "N"
                    if entry.severity in ("normal", "minor") or st.code.endswith("NORMAL")
                    else "")
        assert str(o[8]) == expected, st.code
        if st.evidence:
            assert _nte_after(m, o)[0].startswith("Evidence: " + st.evidence[0].measurement)


def test_pdf_round_trips_through_base64(sample, settings) -> None:
    pdf = PDF + bytes(range(256)) * 40  # binary content, not a multiple of 3 bytes
    m = _parse(build_oru(sample, report_context(sample.ecg, None), pdf, settings, "C4"))
    ed = [o for o in _obx(m) if str(o[2]) == "ED"]
    assert len(ed) == 1 and _code(ed[0]) == "11524-6"
    comps = str(ed[0][5]).split("^")
    assert comps[:4] == [settings.hl7_sending_application, "application", "pdf", "Base64"]
    assert base64.b64decode(comps[4], validate=True) == pdf
    assert _obx(m)[-1] is ed[0]


def test_ordered_ecg_carries_the_order_numbers(settings) -> None:
    a = _synthetic()
    ctx = report_context(a.ecg, _order())
    m = _parse(build_oru(a, ctx, PDF, settings, "C5"))
    obr, orc = m.segment("OBR"), m.segment("ORC")
    assert str(obr[2]) == "PO-123^EHR" and str(orc[2]) == "PO-123^EHR"
    assert str(obr[3]) == "FO-9" and str(orc[3]) == "FO-9"
    assert str(obr[4]) == "93000^12-lead ECG^CPT"
    assert str(obr[16]) == "1234^HOUSE^GREGORY"
    assert str(obr[7]) == "20240506070809+0000"
    assert str(m.segment("PID")[5]) == "DOE^JANE"
    final = dataclasses.replace(ctx, result_status="F", confirmed_by="Dr Cuddy")
    m = _parse(build_oru(a, final, PDF, settings, "C6"))
    assert str(m.segment("OBR")[25]) == "F"
    assert all(str(o[11]) == "F" for o in _obx(m))
    notes = " ".join(m.unescape(str(s[3])) for s in m if str(s[0]) == "NTE")
    assert "Unconfirmed" not in notes and "Dr Cuddy" in notes


def test_unmeasured_values_are_sent_as_x_with_the_reason(settings) -> None:
    a = _synthetic(af=True)
    assert a.measurements.pr_ms is None
    m = _parse(build_oru(a, report_context(a.ecg, None), PDF, settings, "C7"))
    obx = _by_code(m)
    pr = obx["8625-6"]
    assert str(pr[11]) == "X" and str(pr[5]) == "" and str(pr[8]) == ""
    assert _nte_after(m, pr) == [f"Not measured: {a.measurements.unmeasured['pr_ms']}"]
    assert str(obx["8633-0"][11]) == "P"  # measured ones keep the result status
    # every coded measurement is present, measured or not
    assert {mc.code.code for mc in MEASUREMENTS if mc.code} <= set(obx)


def test_critical_rate_is_flagged_for_alerting(settings) -> None:
    a = _synthetic(rate_bpm=35)
    assert a.critical
    m = _parse(build_oru(a, report_context(a.ecg, None), PDF, settings, "C8"))
    hr = _by_code(m)["8867-4"]
    assert str(hr[5]) == f"{a.measurements.heart_rate_bpm:.0f}" and str(hr[8]) == "LL"
    crit = [o for o in _obx(m) if _code(o) == "8601-7" and str(o[3]).split("^")[3] == "HR_LT40"]
    assert len(crit) == 1 and str(crit[0][8]) == "AA"
    assert str(m.segment("OBR")[5]) == "S"
    assert str(m.segment("TQ1")[9]).startswith("S^")
    first_note = next(m.unescape(str(s[3])) for s in m if str(s[0]) == "NTE")
    assert first_note.startswith("CRITICAL FINDING") and "below 40 bpm" in first_note
    fast = _synthetic(rate_bpm=170)
    m = _parse(build_oru(fast, report_context(fast.ecg, None), PDF, settings, "C9"))
    assert str(_by_code(m)["8867-4"][8]) == "HH"


def test_delimiters_in_text_are_escaped_and_round_trip(settings) -> None:
    a = _synthetic()
    odd = "ST|elevation^V1&V2~see \\ note"
    ai = Statement(code="AF", text="Atrial fibrillation", category="rhythm",
                   certainty="possible", evidence=(Evidence("rr_irregularity", 0.31, "> 0.1"),),
                   source="ecg-cnn|v2", probability=0.8712)
    crit = Statement(code="STEMI_ANT", text=odd, category="st_t_qt", certainty="definite",
                     evidence=(Evidence("V2.j_uv", 310.0, ">= 200", leads=("V2",)),),
                     critical=True, source="criteria")
    a = dataclasses.replace(a, statements=(crit, ai), notes=("a|b^c",))
    ctx = dataclasses.replace(report_context(a.ecg, None), patient_name="O'NEIL|X^ANNE&B",
                              device="Cart ^1|")
    raw = build_oru(a, ctx, PDF, settings, "C10")
    m = _parse(raw)
    assert len(m) == len(raw.split("\r"))  # no text split a segment
    tx = [o for o in _obx(m) if _code(o) == "8601-7"]
    assert m.unescape(str(tx[0][5])) == odd
    assert str(tx[0][8]) == "AA"
    assert m.unescape(str(tx[1][5])) == ("Atrial fibrillation (possible) "
                                         "[AI finding: probability 0.87, model ecg-cnn|v2]")
    assert str(tx[1][8]) == "A"
    assert "ecg-cnn\\F\\v2" in str(tx[1][17])
    name = str(m.segment("PID")[5])
    assert [m.unescape(c) for c in name.split("^")] == ["O'NEIL|X", "ANNE&B"]
    notes = [m.unescape(str(s[3])) for s in m if str(s[0]) == "NTE"]
    assert "Note: a|b^c" in notes and any(odd in n for n in notes)
    prov = next(o for o in _obx(m) if _code(o) == "VERSIONS")
    assert m.unescape(str(prov[5])).endswith("acquired on Cart ^1|")


def test_unknown_patient_is_left_empty_not_invented(settings) -> None:
    a = _synthetic(patient_id=None)
    ctx = dataclasses.replace(report_context(a.ecg, None), patient_name=None)
    m = _parse(build_oru(a, ctx, PDF, settings, "C11"))
    assert str(m.segment("PID")[3]) == "" and str(m.segment("PID")[5]) == ""


def test_every_loinc_code_has_a_valid_check_digit(sample, settings) -> None:
    """LOINC mod-10 check digit (LOINC User's Guide, appendix), against typos."""
    def check(code: str) -> bool:
        number, digit = code.split("-")
        rev = number[::-1]
        odd = str(int(rev[0::2][::-1] or "0") * 2)
        digits = rev[1::2][::-1] + odd
        return (10 - sum(int(d) for d in digits) % 10) % 10 == int(digit)

    m = _parse(build_oru(sample, report_context(sample.ecg, None), PDF, settings, "C12"))
    codes = {str(o[3]).split("^")[0] for o in _obx(m) if str(o[3]).split("^")[2] == "LN"}
    codes.add(str(m.segment("OBR")[4]).split("^")[0])
    assert codes >= set(LOINC.values()) | {"8601-7", "11524-6"}
    assert all(check(c) for c in codes), codes
    assert not check("8601-0")


def test_build_time(sample, settings) -> None:
    ctx = report_context(sample.ecg, None)
    build_oru(sample, ctx, PDF, settings, "W")
    n = 10
    start = time.perf_counter()
    for i in range(n):
        build_oru(sample, ctx, PDF * 20000, settings, f"T{i}")  # a ~260 kB PDF
    per_ms = (time.perf_counter() - start) * 1000 / n
    print(f"build_oru: {per_ms:.1f} ms per ECG")
    assert per_ms < 500


def test_report_context_is_the_only_input_for_the_header(settings) -> None:
    a = _synthetic()
    ctx = ReportContext(patient_id="X1", placer_order_number="P9", result_status="C")
    m = _parse(build_oru(a, ctx, PDF, settings, "C13"))
    assert str(m.segment("PID")[3]) == "X1"
    assert str(m.segment("OBR")[2]) == "P9" and str(m.segment("OBR")[25]) == "C"
    assert str(m.segment("OBR")[3]) == ""  # no filler number and no SOP UID to use

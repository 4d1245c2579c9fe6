"""The HL7 v2.5.1 ORU^R01 result message of one read, built with hl7apy.

One message per read (HL7 v2.5.1 chapter 7.3.1, ORU^R01 / ORU_R01)::

    MSH  SFT  PID  ORC  OBR  [NTE...]  [TQ1]
    OBX NM per measurement [NTE]      (LOINC, UCUM, OBX-7 range, OBX-8 flag)
    OBX TX per statement [NTE]        (8601-7 EKG impression, OBX-8 A / AA)
    OBX TX provenance                 (software and model versions)
    OBX ED the PDF report             (Base64, 11524-6 EKG study)

Decisions (each documented where it is made):

- **Codes and units** come from the measurement catalogue (:mod:`models.catalogue`):
  every measurement with a code is sent, in the catalogue's order. The eight measurements
  of DESIGN.md carry their LOINC codes (8867-4 HR, 8625-6 PR, 8633-0 QRS, 8634-8 QT,
  8636-3 QTc, 8626-4 P axis, 8632-2 QRS axis, 8638-9 T axis). LOINC 8636-3 names no
  correction formula; we send Bazett's there (what ECG carts and EHR flowsheets call "QTc")
  and say so in OBX-3 text and an NTE. Fridericia and Framingham (the formula the QT
  statements use) go as two more OBX with local codes (:data:`LOCAL_SYSTEM`, HL7 Table 0396
  "99zzz"). Statements use LOINC 8601-7 "EKG impression" with our statement code as the
  alternate identifier (CE.4/CE.6).
- **OBR-4** is the ordered procedure as the order gave it; an unordered ECG gets LOINC
  11524-6 "EKG study" (not CPT 93000: CPT is a US billing code for a physician-interpreted
  ECG, licensed, and an automated read should not look billable).
- **OBR-3** is the order's filler number, else our own: the ECG's SOP Instance UID in our
  namespace (MSH-3), so a correction (OBR-25 C) of the same ECG names the same order.
  OBR-2/ORC-2 stay empty for an unordered ECG (the EHR creates the order, IHE style).
- **Flags** (Table 0078): the catalogue's normal ranges (by sex where they differ) and
  critical limits, which the criteria engine reads too, applied to the reported (rounded)
  value; OBX-7 is the normal range as a closed range of reported values. So flags and
  statements use the same limits (the QT statements judge Framingham's QTc, so Bazett's
  may be flagged H where no QT statement is made): L/H beyond the normal range, LL/HH
  beyond the critical limits (HR < 40 or > 150 bpm, QTc >= 500 ms); N within range; empty
  where no range applies (QT, T axis). Statements: AA when critical, A for abnormal or
  borderline severity, N for normal ones.
- **Critical findings** are marked three ways for the EHR to alert: OBX-8 AA on the
  statement, OBR-5 / TQ1-9 priority S (stat), and an NTE under the OBR naming them.
- **A measurement that could not be made** is sent, not omitted: OBX-5 empty, OBX-11 X
  ("results cannot be obtained for this observation", Table 0085) and the reason in an NTE,
  so a flowsheet shows "not measurable (atrial fibrillation)" instead of a silent gap.
- **Unknown patient**: PID-3/PID-5 are sent empty, never made up, so the EHR rejects the
  message or routes it to its unmatched-results queue; it can never file it to a wrong
  patient.
- **Validation**: the message is built and checked by hl7apy at VALIDATION_LEVEL.STRICT
  (datatypes, lengths, cardinality, known fields; ``Message.validate``). hl7apy types the
  components of OBX-5 (datatype "varies") as ST, 199 characters, which TX text and the
  Base64 of any PDF exceed; so OBX-5 of TX and ED observations is built with a placeholder
  and spliced into the ER7 after validation, by position (segment, field 5), after our own
  checks: escaped text without raw delimiters or line breaks, Base64 of its alphabet only.
- **Escaping**: every free-text value goes through
  :func:`integration.hl7_header.escape` (v2.5.1 section 2.7) before hl7apy sees it.

Example
-------
>>> from config.settings import load_settings
>>> from reporting.context import ReportContext
>>> from tests.interpret_factory import make_analysis
>>> msg = build_oru(make_analysis(), ReportContext(patient_id="P1"), b"%PDF-1.4",
...                 load_settings({}, environ={}), "M1")
>>> [s.split("|")[8:10] for s in msg.split("\\r") if s.startswith("MSH")]
[['ORU^R01^ORU_R01', 'M1']]
"""

from __future__ import annotations

import base64
import math
import re
from datetime import datetime
from typing import TYPE_CHECKING

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Group, Message, Segment

from ecgread.integration.hl7_header import escape
from ecgread.models.catalogue import CATALOGUE, LOCAL_SYSTEM, Limit, Measurement
from ecgread.reporting.gc_pause import gc_paused

if TYPE_CHECKING:
    from ecgread.config.settings import Settings
    from ecgread.models.analysis import Analysis
    from ecgread.models.results import Evidence, Statement
    from ecgread.reporting.context import ReportContext

__all__ = ["IMPRESSION", "LOCAL_SYSTEM", "MEASUREMENTS", "REPORT_CODE", "VERSIONS_CODE",
           "build_failure_oru", "build_oru", "failure_statement", "statement_text"]

VERSION = "2.5.1"
#: OBX-3 of statements: LOINC 8601-7 "EKG impression".
IMPRESSION = ("8601-7", "EKG impression", "LN")
#: OBR-4 default and OBX-3 of the PDF: LOINC 11524-6 "EKG study".
REPORT_CODE = ("11524-6", "EKG study", "LN")
#: OBX-3 of the provenance observation (local).
VERSIONS_CODE = ("VERSIONS", "Software and model versions", LOCAL_SYSTEM)
_PLACEHOLDER = "SPLICED"
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_ST_MAX = 199  # hl7apy's ST (v2.5.1 section 2.A.74)


#: The measurements sent, in order: those of the catalogue with a code.
MEASUREMENTS: tuple[Measurement, ...] = tuple(m for m in CATALOGUE if m.code is not None)

_STATUS_NOTE = {
    "P": "Unconfirmed computer interpretation: preliminary result, to be reviewed and "
         "confirmed by a physician.",
    "F": "Interpretation confirmed by a physician.",
    "C": "Corrected result: replaces the previous result of this ECG.",
}
_FLAG_SEVERITIES = {"abnormal": "A", "borderline": "A", "normal": "N", "minor": "N"}
_OVERALL_FLAGS = {"ABNORMAL": "A", "BORDERLINE": "A", "NORMAL": "N", "OTHERWISE_NORMAL": "N"}
_UNITS = {"ms": "ms", "uv": "µV", "bpm": "bpm", "deg": "deg", "hz": "Hz"}


def _e(value: object, limit: int | None = _ST_MAX) -> str:
    """Escaped text (section 2.7.1), cut so that the escaped form fits ``limit`` characters."""
    text = str(value)
    out = escape(text)
    while limit is not None and len(out) > limit:
        text = text[: max(0, len(text) - max(1, (len(out) - limit) // 3))]
        out = escape(text)
    return out


def _components(value: str | None) -> str:
    """An ``A^B^C`` value from the order (components already unescaped): each escaped."""
    return "^".join(_e(c) for c in (value or "").split("^"))


def _ce(code: tuple[str, str, str]) -> str:
    return "^".join(_e(c) for c in code)


def _ts(when: datetime) -> str:
    """TS/DTM (section 2.A.74, 2.A.22): with its offset when the time is aware."""
    return when.strftime("%Y%m%d%H%M%S%z" if when.tzinfo else "%Y%m%d%H%M%S")


def _xpn(pn: str | None) -> str:
    """DICOM PN (family^given^middle^prefix^suffix, PS3.5 6.2.1) to HL7 XPN (family^given^
    second given^suffix^prefix, v2.5.1 2.A.88); only the alphabetic group (before '=')."""
    if not pn:
        return ""
    parts = (pn.split("=")[0].split("^") + [""] * 5)[:5]
    family, given, middle, prefix, suffix = parts
    return "^".join(_e(p) for p in (family, given, middle, suffix, prefix)).rstrip("^")


def _format(value: float) -> str:
    """The reported value: an integer (ms, bpm, deg), as ECG reports give them."""
    return f"{value:.0f}"


def _last_within(limit: Limit) -> int:
    """The reported (integer) value nearest ``limit`` that is not beyond it."""
    t = limit.threshold
    if limit.upper:
        return math.floor(t) if limit.op == ">" else math.ceil(t) - 1
    return math.ceil(t) if limit.op == "<" else math.floor(t) + 1


def _range(m: Measurement, sex: str | None) -> str:
    """OBX-7 (section 7.4.2.7) as ``low-high``, the closed range of normal reported values;
    empty where no range applies. A range without a lower limit starts at 0 (durations)."""
    normal = m.normal_range(sex)
    if normal is None or normal.high is None:
        return ""
    low = _last_within(normal.low) if normal.low is not None else 0
    return f"{low}-{_last_within(normal.high)}"


def _method_note(m: Measurement) -> str:
    """The NTE under a measurement's OBX: how it is computed, and for the QTc the QT
    statements judge (:data:`models.interpret.criteria.st_t_qt.QTC`), that they do."""
    from ecgread.models.interpret.criteria.st_t_qt import QTC

    if m.name == QTC:
        return f"{m.method}; the QT statements of the interpretation use this QTc"
    return m.method


def _statement_flag(st: Statement) -> str:
    """OBX-8 of a statement: AA critical, A abnormal/borderline, N normal, else empty."""
    from ecgread.models.interpret.library import LIBRARY

    entry = LIBRARY.get(st.code)
    if st.critical or (entry is not None and entry.critical):
        return "AA"
    if entry is None:
        return ""
    if entry.severity == "overall":
        return _OVERALL_FLAGS.get(st.code, "")
    return _FLAG_SEVERITIES.get(entry.severity, "")


def _value_text(value: float | str | None, measurement: str) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, str):
        return value
    unit = _UNITS.get(measurement.rsplit("_", 1)[-1].lower(), "")
    number = f"{value:.0f}" if abs(value) >= 10 else f"{value:.2g}"
    return f"{number} {unit}".strip()


def _evidence_text(evidence: tuple[Evidence, ...]) -> str:
    """``Evidence: pr_ms 212 ms (> 200) in II; ...`` (the checkable facts, no spans)."""
    items = []
    for ev in evidence:
        where = f" in {', '.join(ev.leads)}" if ev.leads else ""
        items.append(f"{ev.measurement} {_value_text(ev.value, ev.measurement)} "
                     f"({ev.criterion}){where}")
    return "Evidence: " + "; ".join(items) if items else ""


def statement_text(st: Statement) -> str:
    """OBX-5 of a statement (unescaped): its text, its certainty unless definite, and for
    an AI finding the model and probability, e.g. ``Atrial fibrillation (possible) [AI
    finding: probability 0.87, model ecg-cnn-2]``."""
    text = st.text if st.certainty == "definite" else f"{st.text} ({st.certainty})"
    if st.probability is not None:
        text += f" [AI finding: probability {st.probability:.2f}, model {st.source or 'unknown'}]"
    return text


class _Builder:
    """Accumulates OBX and NTE segments; remembers the OBX-5 values to splice in."""

    def __init__(self, order_obs: Group, status: str) -> None:
        self.oo = order_obs
        self.status = status
        self.set_id = 0
        self.spliced: dict[str, str] = {}

    def obx(self, value_type: str, code: str, *, value: str | None = None,
            spliced: str | None = None, sub_id: str = "", units: str = "", ref: str = "",
            flag: str = "", status: str | None = None, observed: str = "", method: str = "",
            equipment: str = "", analysed: str = "", notes: tuple[str, ...] = ()) -> None:
        self.set_id += 1
        group = self.oo.add_group("ORU_R01_OBSERVATION")
        obx = group.add_segment("OBX")
        obx.obx_1 = str(self.set_id)  # OBX-1 set ID (7.4.2.1)
        obx.obx_2 = value_type  # OBX-2 value type (7.4.2.2, Table 0125)
        obx.obx_3 = code  # OBX-3 observation identifier (7.4.2.3)
        if sub_id:
            obx.obx_4 = sub_id  # OBX-4 observation sub-ID (7.4.2.4)
        if spliced is not None:  # OBX-5 observation value (7.4.2.5), spliced in later
            obx.obx_5 = _PLACEHOLDER
            self.spliced[str(self.set_id)] = spliced
        elif value:
            obx.obx_5 = value
        if units:
            obx.obx_6 = units  # OBX-6 units (7.4.2.6), UCUM
        if ref:
            obx.obx_7 = ref  # OBX-7 references range (7.4.2.7)
        if flag:
            obx.obx_8 = flag  # OBX-8 abnormal flags (7.4.2.8, Table 0078)
        obx.obx_11 = status or self.status  # OBX-11 result status (7.4.2.11, Table 0085)
        if observed:
            obx.obx_14 = observed  # OBX-14 date/time of the observation (7.4.2.14)
        if method:
            obx.obx_17 = method  # OBX-17 observation method (7.4.2.17)
        if equipment:
            obx.obx_18 = equipment  # OBX-18 equipment instance identifier (7.4.2.18)
        if analysed:
            obx.obx_19 = analysed  # OBX-19 date/time of the analysis (7.4.2.19)
        for i, note in enumerate(n for n in notes if n):
            nte = group.add_segment("NTE")
            nte.nte_1 = str(i + 1)  # NTE-1 set ID (2.15.10.1)
            nte.nte_2 = "L"  # NTE-2 source of comment (Table 0105): L ancillary (filler)
            nte.nte_3 = _e(note, None)  # NTE-3 comment (FT)


def _check_spliced(kind: str, value: str) -> None:
    if kind == "ED":
        data = value.rsplit("^", 1)[-1]
        if not _BASE64.match(data):
            raise ValueError("ED data is not Base64")
    elif any(c in value for c in "|~&\r\n") or "^" in value:
        raise ValueError("OBX-5 text holds an unescaped delimiter")


def _splice(er7: str, spliced: dict[str, str]) -> str:
    segments = er7.split("\r")
    done = 0
    for i, segment in enumerate(segments):
        if not segment.startswith("OBX|"):
            continue
        fields = segment.split("|")
        value = spliced.get(fields[1])
        if value is None:
            continue
        if fields[5] != _PLACEHOLDER:
            raise ValueError(f"OBX {fields[1]}: OBX-5 is not the placeholder")
        _check_spliced(fields[2], value)
        fields[5] = value
        segments[i] = "|".join(fields)
        done += 1
    if done != len(spliced):
        raise ValueError("not every OBX-5 value was spliced into the message")
    return "\r".join(segments)


def build_oru(analysis: Analysis, context: ReportContext, pdf: bytes, settings: Settings,
              control_id: str) -> str:
    """The ORU^R01 of one read as ER7 text, segments separated by ``\\r``.

    Parameters
    ----------
    analysis:
        The read (measurements, statements, versions).
    context:
        Patient, order and acquisition header, and ``result_status`` (OBR-25, OBX-11).
    pdf:
        The rendered report, sent Base64-encoded in the last OBX (ED).
    settings:
        MSH-3/4 ``hl7_sending_application/facility``, MSH-5/6
        ``ehr_receiving_application/facility``.
    control_id:
        MSH-10, the ID the EHR's ACK will echo in MSA-2.

    Returns
    -------
    str
        The message (not MLLP-framed); encode it as UTF-8 (MSH-18).

    Raises
    ------
    hl7apy.exceptions.ValidationError
        The message does not conform to HL7 v2.5.1 ORU_R01 (a bug, not a data fault).

    References
    ----------
    HL7 v2.5.1 chapters 2 (control: MSH, SFT, NTE), 3 (PID), 4 (ORC, TQ1) and 7 (OBR, OBX).
    """
    with gc_paused():  # hl7apy's tree lives through the build (reporting.gc_pause)
        return _build_oru(analysis, context, pdf, settings, control_id)


def _build_oru(analysis: Analysis, context: ReportContext, pdf: bytes, settings: Settings,
               control_id: str) -> str:
    now_ts = _ts(datetime.now().astimezone())
    msg = Message("ORU_R01", version=VERSION, validation_level=VALIDATION_LEVEL.STRICT)
    _header(msg, settings, control_id, now_ts, analysis.versions.get("ecgread", ""))
    result = msg.add_group("ORU_R01_PATIENT_RESULT")
    _patient(result.add_group("ORU_R01_PATIENT").add_segment("PID"), context)
    oo = _order_observation()
    _order(oo, tuple(analysis.statements), tuple(analysis.notes), context, settings, now_ts)
    b = _Builder(oo, context.result_status)
    _observations(b, analysis, context, settings, now_ts)
    data = base64.b64encode(pdf).decode("ascii")
    # ED (2.A.24): source application ^ type of data ^ data subtype ^ encoding ^ data.
    b.obx("ED", _ce(REPORT_CODE),
          spliced=f"{_e(settings.hl7_sending_application)}^application^pdf^Base64^{data}",
          observed=_ts(context.acquisition_time) if context.acquisition_time else "",
          analysed=now_ts)
    result.add(oo)
    msg.validate()  # hl7apy STRICT: structure, cardinality, datatypes (raises on error)
    return _splice(msg.to_er7(), b.spliced)


def _order_observation() -> Group:
    """An empty ORU_R01_ORDER_OBSERVATION group, not yet in the message: its segments are
    built there and the group added to the patient result last. hl7apy looks up the
    encoding characters of every field it parses through the element's parents; inside the
    message that means reading MSH-1/2 again (about a tenth of the build), outside it
    they are hl7apy's defaults, the ones the message's MSH-1/2 were made from."""
    return Group("ORU_R01_ORDER_OBSERVATION", version=VERSION,
                 validation_level=VALIDATION_LEVEL.STRICT)


def _header(msg: Message, settings: Settings, control_id: str, now_ts: str,
            ecgread_version: str) -> None:
    """MSH (2.15.9) and SFT (2.15.12)."""
    msh = msg.msh
    # MSH-1/2 field separator and encoding characters (2.15.9.1-2): | and ^~\& (hl7apy).
    msh.msh_3 = _e(settings.hl7_sending_application)  # MSH-3 sending application (2.15.9.3)
    msh.msh_4 = _e(settings.hl7_sending_facility)  # MSH-4 sending facility (2.15.9.4)
    msh.msh_5 = _e(settings.ehr_receiving_application)  # MSH-5 receiving application (2.15.9.5)
    msh.msh_6 = _e(settings.ehr_receiving_facility)  # MSH-6 receiving facility (2.15.9.6)
    msh.msh_7 = now_ts  # MSH-7 date/time of message (2.15.9.7)
    msh.msh_9 = "ORU^R01^ORU_R01"  # MSH-9 message type (2.15.9.9): code^trigger^structure
    msh.msh_10 = _e(control_id)  # MSH-10 message control ID (2.15.9.10)
    msh.msh_11 = "P"  # MSH-11 processing ID (2.15.9.11, Table 0103): production
    msh.msh_12 = VERSION  # MSH-12 version ID (2.15.9.12)
    msh.msh_18 = "UNICODE UTF-8"  # MSH-18 character set (2.15.9.18, Table 0211)
    version = _e(ecgread_version or "unknown")
    sft = msg.add_segment("SFT")
    sft.sft_1 = "ecgread"  # SFT-1 software vendor organization (2.15.12.1)
    sft.sft_2 = version  # SFT-2 software certified version or release number (2.15.12.2)
    sft.sft_3 = "ecgread"  # SFT-3 software product name (2.15.12.3)
    sft.sft_4 = f"ecgread-{version}"  # SFT-4 software binary ID (2.15.12.4)


def _patient(pid: Segment, context: ReportContext) -> None:
    """PID (3.4.2)."""
    pid.pid_1 = "1"  # PID-1 set ID (3.4.2.1)
    # PID-3 patient identifier list (3.4.2.3) and PID-5 name (3.4.2.5, XPN): empty, never
    # made up, when unknown (the EHR then rejects the message or queues it as unmatched).
    pid.add_field("PID_3")
    if context.patient_id:
        pid.pid_3 = _e(context.patient_id)
    pid.add_field("PID_5")
    if context.patient_name:
        pid.pid_5 = _xpn(context.patient_name)
    if context.patient_birth_date:
        pid.pid_7 = _e(context.patient_birth_date[:8])  # PID-7 date of birth (3.4.2.7)
    if context.patient_sex in ("M", "F"):
        pid.pid_8 = context.patient_sex  # PID-8 administrative sex (3.4.2.8, Table 0001)


def _order(oo: Group, statements: tuple[Statement, ...], notes: tuple[str, ...],
           context: ReportContext, settings: Settings, now_ts: str) -> None:
    """ORC (4.5.1), OBR (7.4.1), the order's NTEs (2.15.10) and, when critical, TQ1."""
    app = _e(settings.hl7_sending_application)
    placer = (f"{_e(context.placer_order_number)}^{_e(context.placer_namespace or '')}"
              .rstrip("^") if context.placer_order_number else "")
    # our own filler number for an ECG without one: its SOP Instance UID, our namespace
    filler = (_e(context.filler_order_number) if context.filler_order_number
              else f"{_e(context.sop_instance_uid)}^{app}" if context.sop_instance_uid
              else "")
    orc = oo.add_segment("ORC")
    orc.orc_1 = "RE"  # ORC-1 order control (4.5.1.1, Table 0119): observations to follow
    if placer:
        orc.orc_2 = placer  # ORC-2 placer order number (4.5.1.2, EI)
    if filler:
        orc.orc_3 = filler  # ORC-3 filler order number (4.5.1.3, EI)
    orc.orc_9 = now_ts  # ORC-9 date/time of transaction (4.5.1.9)
    if context.ordering_provider:
        orc.orc_12 = _components(context.ordering_provider)  # ORC-12 ordering provider

    obr = oo.add_segment("OBR")
    obr.obr_1 = "1"  # OBR-1 set ID (7.4.1.1)
    if placer:
        obr.obr_2 = placer  # OBR-2 placer order number (7.4.1.2): empty when unordered
    if filler:
        obr.obr_3 = filler  # OBR-3 filler order number (7.4.1.3)
    # OBR-4 universal service identifier (7.4.1.4): as ordered, else LOINC 11524-6.
    obr.obr_4 = (_components(context.procedure_code) if context.procedure_code
                 else _ce(REPORT_CODE))
    critical = [s for s in statements if _statement_flag(s) == "AA"]
    if critical:
        obr.obr_5 = "S"  # OBR-5 priority (7.4.1.5, Table 0027, kept in 2.5.1): stat
    if context.acquisition_time:
        obr.obr_7 = _ts(context.acquisition_time)  # OBR-7 observation date/time (7.4.1.7)
    if context.ordering_provider:
        obr.obr_16 = _components(context.ordering_provider)  # OBR-16 ordering provider
    if context.accession_number:
        obr.obr_18 = _e(context.accession_number)  # OBR-18 placer field 1: accession
    obr.obr_22 = now_ts  # OBR-22 results rpt/status chng - date/time (7.4.1.22)
    obr.obr_24 = "EC"  # OBR-24 diagnostic serv sect ID (7.4.1.24, Table 0074): electrocardiac
    obr.obr_25 = context.result_status  # OBR-25 result status (7.4.1.25, Table 0123): P/F/C

    lines = [_STATUS_NOTE.get(context.result_status, "")]
    if context.confirmed_by and context.result_status in ("F", "C"):
        lines.append(f"Confirmed by {context.confirmed_by}.")
    if critical:
        lines.insert(0, "CRITICAL FINDING: " + "; ".join(s.text for s in critical)
                     + ". Notify the responsible clinician.")
    lines += [f"Note: {n}" for n in notes]
    for i, note in enumerate(n for n in lines if n):
        nte = oo.add_segment("NTE")
        nte.nte_1 = str(i + 1)  # NTE-1 set ID (2.15.10.1)
        nte.nte_2 = "L"  # NTE-2 source of comment (Table 0105): ancillary (filler)
        nte.nte_3 = _e(note, None)  # NTE-3 comment (2.15.10.3, FT)
    if critical:
        tq1 = oo.add_group("ORU_R01_TIMING_QTY").add_segment("TQ1")
        tq1.tq1_1 = "1"  # TQ1-1 set ID (4.5.4.1)
        tq1.tq1_9 = "S^Stat^HL70485"  # TQ1-9 priority (4.5.4.9, Table 0485): stat


def _observations(b: _Builder, analysis: Analysis, context: ReportContext,
                  settings: Settings, now_ts: str) -> None:
    """OBX NM per measurement, OBX TX per statement, OBX TX provenance (7.4.2)."""
    versions = dict(analysis.versions)
    app = _e(settings.hl7_sending_application)
    observed = _ts(context.acquisition_time) if context.acquisition_time else ""
    equipment = _e(f"ecgread {versions.get('ecgread', '')}".strip()) + f"^{app}"
    delineator = versions.get("delineator", "")
    measure_method = (f"{_e(delineator)}^Automated ECG measurement^{LOCAL_SYSTEM}"
                      if delineator else "")
    values = analysis.measurements.as_dict()
    sex = context.patient_sex
    for m in MEASUREMENTS:
        assert m.code is not None  # MEASUREMENTS holds the coded ones
        code = f"{m.code.code}^{_e(m.code.display)}^{m.code.system}"
        units = f"{_e(m.unit.ucum)}^{_e(m.unit.name)}^UCUM"
        value = values.get(m.name)
        if value is None:
            reason = analysis.measurements.unmeasured.get(m.name, "not measured")
            b.obx("NM", code, units=units, status="X", observed=observed,
                  notes=(f"Not measured: {reason}",))
            continue
        reported = _format(float(value))
        b.obx("NM", code, value=reported, units=units, ref=_range(m, sex),
              flag=m.flag(float(reported), sex), observed=observed,
              method=measure_method, equipment=equipment, analysed=now_ts,
              notes=(_method_note(m),))

    interpret_version = versions.get("interpret", "criteria")
    for n, st in enumerate(analysis.statements, start=1):
        code = "^".join((*IMPRESSION, _e(st.code), "", LOCAL_SYSTEM))
        ai = st.probability is not None
        source = st.source if ai and st.source else interpret_version
        kind = "AI model" if ai else "Criteria engine"
        method = f"{_e(source)}^{kind} {_e(source, 150)}^{LOCAL_SYSTEM}"
        b.obx("TX", code, spliced=_e(statement_text(st), None), sub_id=str(n),
              flag=_statement_flag(st), observed=observed, method=method,
              equipment=equipment, analysed=now_ts, notes=(_evidence_text(st.evidence),))

    provenance = "; ".join(f"{k} {v}" for k, v in versions.items())
    if context.device:
        provenance += f"; acquired on {context.device}"
    b.obx("TX", _ce(VERSIONS_CODE), spliced=_e(provenance, None), analysed=now_ts)


def failure_statement(reason: str) -> str:
    """The statement of an ECG the program could not interpret (unescaped)."""
    return f"ECG could not be interpreted: {reason}"


def build_failure_oru(context: ReportContext, reason: str, settings: Settings,
                      control_id: str, ecgread_version: str = "") -> str:
    """The ORU^R01 of an ECG whose read failed: no measurements, no PDF, one statement.

    The EHR learns that the ECG was received and why no interpretation follows, so the
    order does not wait for ever. The message has the MSH, SFT, PID, ORC and OBR of
    :func:`build_oru` (OBR-25 P: the tracing still needs a physician), then one OBX TX
    with LOINC 8601-7 "EKG impression" whose value is
    ``ECG could not be interpreted: <reason>`` (OBX-11 P; no abnormal flag: nothing was
    judged), and the provenance OBX.

    References
    ----------
    HL7 v2.5.1 chapters 2, 3, 4 and 7 (as :func:`build_oru`).
    """
    now_ts = _ts(datetime.now().astimezone())
    msg = Message("ORU_R01", version=VERSION, validation_level=VALIDATION_LEVEL.STRICT)
    _header(msg, settings, control_id, now_ts, ecgread_version)
    result = msg.add_group("ORU_R01_PATIENT_RESULT")
    _patient(result.add_group("ORU_R01_PATIENT").add_segment("PID"), context)
    oo = _order_observation()
    note = "Automated interpretation was not possible; the tracing needs review by a physician."
    _order(oo, (), (note,), context, settings, now_ts)
    b = _Builder(oo, context.result_status)
    observed = _ts(context.acquisition_time) if context.acquisition_time else ""
    code = "^".join((*IMPRESSION, "NOINTERP", "", LOCAL_SYSTEM))
    b.obx("TX", code, spliced=_e(failure_statement(reason), None), sub_id="1",
          observed=observed, analysed=now_ts)
    b.obx("TX", _ce(VERSIONS_CODE), spliced=_e(f"ecgread {ecgread_version or 'unknown'}",
                                               None), analysed=now_ts)
    result.add(oo)
    msg.validate()
    return _splice(msg.to_er7(), b.spliced)

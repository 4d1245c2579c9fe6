"""Read GE MUSE RestingECG XML exports into the canonical :class:`Ecg` with GE's read.

A MUSE export (root ``<RestingECG>``) holds a ``Rhythm`` and a ``Median`` ``<Waveform>``;
each ``<LeadData>`` carries one lead as base64 little-endian 16-bit samples
(``LeadAmplitudeUnitsPerBit`` µV per count, ``LeadDataCRC32`` over the decoded bytes).
GE carts store 8 leads (I, II, V1-V6); III, aVR, aVL and aVF are derived
(:func:`~ecgread.models.ecg.derive_limb_leads`). The 12SL program's read is in
``<OriginalRestingECGMeasurements>``/``<OriginalDiagnosis>`` (the machine read, kept even
after a physician edits ``<RestingECGMeasurements>``/``<Diagnosis>``); we take the original
when present. ``QTCorrected`` does not name its formula (12SL's default is Bazett, but sites
can configure it), so ``qtc_formula`` stays None; ``QTcFrederica`` is kept in
``other_measurements``.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecgread.errors import CorruptFileError, NoWaveformError, UnsupportedVariantError
from ecgread.integration.archive_io import (
    assemble_leads,
    b64decode,
    check_rate,
    check_samples,
    number,
    parse_document,
    read_limited,
)
from ecgread.integration.wfdb_read import standard_lead_name
from ecgread.models.ecg import Acquisition, Ecg, derive_limb_leads
from ecgread.models.vendor_read import VendorRead, VendorStatement

__all__ = ["FORMAT", "decode_muse", "read_muse"]

FORMAT = "GE MUSE XML"
_UNIT_TO_UV = {"MICROVOLTS": 1.0, "MILLIVOLTS": 1000.0}
#: MUSE measurement element -> our name (ms, bpm, degrees as the file gives them).
_MEASUREMENTS = {
    "VentricularRate": "heart_rate_bpm", "PRInterval": "pr_ms", "QRSDuration": "qrs_ms",
    "QTInterval": "qt_ms", "QTCorrected": "qtc_ms", "PAxis": "p_axis_deg",
    "RAxis": "qrs_axis_deg", "TAxis": "t_axis_deg",
}
#: Fiducials and bookkeeping that are not measurements of the ECG.
_NOT_MEASUREMENTS = {"QRSCount", "QOnset", "QOffset", "POnset", "POffset", "TOffset",
                     "ECGSampleBase", "ECGSampleExponent"}


def read_muse(path: str | Path) -> Ecg:
    """Read a GE MUSE XML file as an Ecg in µV, with GE's read as ``vendor_read``.

    Raises
    ------
    CorruptFileError
        Malformed XML, bad base64, a CRC or length that does not match, no sampling rate.
    NoWaveformError
        No rhythm waveform.
    UnsupportedVariantError
        Sample sizes or amplitude units other than 16-bit µV/mV.
    InputTooLargeError
        The file, lead count or sample count is over the limits of ``archive_io``.

    Example
    -------
    >>> ecg = read_muse("../shared/data/vendor/ge-muse/muse-sinus.xml")  # doctest: +SKIP
    >>> ecg.lead_names[:4], ecg.vendor_read.pr_ms
    (('I', 'II', 'III', 'aVR'), 144.0)
    """
    p = Path(path)
    return decode_muse(read_limited(p, FORMAT), source=str(p), name=p.name)


def decode_muse(data: bytes, source: str = "", name: str = "MUSE XML") -> Ecg:
    """Decode the bytes of a MUSE XML export; see :func:`read_muse`."""
    root = parse_document(data, name, "RestingECG")
    waveform = next((w for w in root.findall("Waveform")
                     if (w.findtext("WaveformType") or "").strip().lower() == "rhythm"), None)
    if waveform is None:
        raise NoWaveformError(f"{name}: no Rhythm waveform")
    base = number(waveform.findtext("SampleBase"))
    exponent = number(waveform.findtext("SampleExponent")) or 0.0
    fs = check_rate(None if base is None else base * 10.0 ** exponent, name)
    lead_data = waveform.findall("LeadData")
    check_samples(len(lead_data), 0, name)
    leads: dict[str, np.ndarray] = {}
    for item in lead_data:
        lead, samples = _lead(item, name)
        leads[lead] = samples
    signal, names = assemble_leads(derive_limb_leads(leads), name)
    return Ecg(signal_uv=signal, sampling_rate_hz=fs, lead_names=names,
               acquisition=_acquisition(root), source=source, vendor_read=_vendor_read(root))


def _lead(item: Any, name: str) -> tuple[str, np.ndarray]:
    label = (item.findtext("LeadID") or "").strip()
    if not label:
        raise CorruptFileError(f"{name}: a LeadData has no LeadID")
    where = f"{name} lead {label}"
    if (number(item.findtext("LeadSampleSize")) or 2) != 2:
        raise UnsupportedVariantError(f"{where}: only 2-byte samples are supported")
    unit = (item.findtext("LeadAmplitudeUnits") or "MICROVOLTS").strip().upper()
    if unit not in _UNIT_TO_UV:
        raise UnsupportedVariantError(f"{where}: amplitude unit {unit!r} is not supported")
    per_bit = number(item.findtext("LeadAmplitudeUnitsPerBit"))
    if per_bit is None or per_bit <= 0:
        raise CorruptFileError(f"{where}: no LeadAmplitudeUnitsPerBit")
    raw = b64decode(item.findtext("WaveFormData"), where)
    count = number(item.findtext("LeadSampleCountTotal"))
    check_samples(1, len(raw) // 2, where)
    if len(raw) % 2 or (count is not None and len(raw) != 2 * count):
        raise CorruptFileError(f"{where}: {len(raw)} bytes of waveform for {count} samples")
    crc = number(item.findtext("LeadDataCRC32"))
    if crc is not None and zlib.crc32(raw) != int(crc):
        raise CorruptFileError(f"{where}: waveform CRC32 does not match")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) * np.float32(
        per_bit * _UNIT_TO_UV[unit])
    return standard_lead_name(label), samples


def _acquisition(root: Any) -> Acquisition:
    demo = root.find("PatientDemographics")
    test = root.find("TestDemographics")
    sex = {"MALE": "M", "FEMALE": "F"}.get(
        ((demo.findtext("Gender") if demo is not None else None) or "").strip().upper())
    age = number(demo.findtext("PatientAge")) if demo is not None else None
    if demo is not None and (demo.findtext("AgeUnits") or "YEARS").strip().upper() != "YEARS":
        age = None
    birth = _date(demo.findtext("DateofBirth")) if demo is not None else None
    when = None
    if test is not None:
        day = _date(test.findtext("AcquisitionDate"))
        clock = (test.findtext("AcquisitionTime") or "").strip()
        if day:
            try:
                when = datetime.strptime(f"{day} {clock or '00:00:00'}", "%Y%m%d %H:%M:%S")
            except ValueError:
                when = None
    device = (test.findtext("AcquisitionDevice") or "").strip() if test is not None else ""
    name = "^".join(n for n in (_text(demo, "PatientLastName"), _text(demo, "PatientFirstName"))
                    if n)
    return Acquisition(
        patient_id=_text(demo, "PatientID"),
        patient_name=name or None,  # DICOM PN order, family^given
        patient_sex=sex,
        patient_age_years=age,
        patient_birth_date=birth,
        acquisition_time=when,
        device=f"GE {device}" if device else "GE",
        institution=_text(test, "SiteName"),
    )


def _vendor_read(root: Any) -> VendorRead:
    m = root.find("OriginalRestingECGMeasurements")
    if m is None:
        m = root.find("RestingECGMeasurements")
    named: dict[str, Any] = {}
    other: dict[str, float] = {}
    if m is not None:
        for child in m:
            value = number(child.text)
            if value is None or child.tag in _NOT_MEASUREMENTS:
                continue
            if child.tag in _MEASUREMENTS:
                named[_MEASUREMENTS[child.tag]] = value
            else:
                other[child.tag] = value
        named["p_ms"] = _p_duration_ms(m)
    rr = number(root.findtext("QRSTimesTypes/GlobalRR"))
    diagnosis = root.find("OriginalDiagnosis")
    if diagnosis is None:
        diagnosis = root.find("Diagnosis")
    test = root.find("TestDemographics")
    return VendorRead(
        source_format=FORMAT, manufacturer="GE Healthcare",
        device=_text(test, "AcquisitionDevice"),
        program="12SL" if _text(test, "AnalysisSoftwareVersion") else None,
        program_version=_text(test, "AnalysisSoftwareVersion"),
        rr_ms=rr, other_measurements=other,
        statements=_statements(diagnosis) if diagnosis is not None else (), **named,
    )


def _p_duration_ms(m: Any) -> float | None:
    """P duration from 12SL's P onset/offset fiducials, counted at ECGSampleBase Hz."""
    onset, offset = number(m.findtext("POnset")), number(m.findtext("POffset"))
    base = number(m.findtext("ECGSampleBase"))
    exponent = number(m.findtext("ECGSampleExponent")) or 0.0
    if onset is None or offset is None or not base or offset <= onset:
        return None
    return round((offset - onset) * 1000.0 / (base * 10.0 ** exponent), 1)


def _statements(diagnosis: Any) -> tuple[VendorStatement, ...]:
    """MUSE splits a printed line over several ``<DiagnosisStatement>`` fragments; a
    fragment flagged ``ENDSLINE`` ends the line."""
    lines: list[str] = []
    current = ""
    for item in diagnosis.findall("DiagnosisStatement"):
        text = " ".join((item.findtext("StmtText") or "").split())
        if text:
            joiner = "" if not current or text[0] in ",.;:)" else " "
            current = f"{current}{joiner}{text}"
        if any((f.text or "").strip().upper() == "ENDSLINE" for f in item.findall("StmtFlag")):
            if current:
                lines.append(current)
            current = ""
    if current:
        lines.append(current)
    return tuple(VendorStatement(text=line) for line in lines)


def _date(text: str | None) -> str | None:
    """MUSE dates (MM-DD-YYYY, or YYYY-MM-DD) as YYYYMMDD."""
    text = (text or "").strip()
    for fmt in ("%m-%d-%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).strftime("%Y%m%d")
        except ValueError:
            continue
    return None


def _text(parent: Any, tag: str) -> str | None:
    if parent is None:
        return None
    value = (parent.findtext(tag) or "").strip()
    return value or None

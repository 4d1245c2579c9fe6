"""Read Philips Sierra ECG XML (SierraECG 1.03, PhilipsECG 1.04.x) with Philips' read.

The waveform is ``<waveforms><parsedwaveforms>``: base64, usually XLI-compressed
(:mod:`ecgread.integration.xli`), one chunk per channel. PageWriter carts store up to 16
channels of which ``numberchannelsallocated``/``numberofleads`` are real; with XLI the
four derived limb leads are stored as residuals and rebuilt from I, II and III as Philips'
decoders do (sierra-ecg-tools ``ReinterpretLeads``). Each channel ends with a trailer (flat
line and a 1 mV calibration pulse) after the ECG proper; it is cut off so the analysis
does not read the pulse as a beat. Philips' read is the first ``<interpretation>``: 1.04
``<globalmeasurements>`` names Bazett (``qtcb``) and Fridericia (``qtcf``); 1.03
``<interpretationmeasurements>`` gives ``meanqtc`` without naming a formula.

The ``sierraecg`` package (PyPI 0.4.0) decodes the same waveform but not the measurements
or statements, reads only from a path, and decodes with per-sample Python loops in int16
(OverflowError on hostile input); we decode ourselves and checked our samples equal its
output on the shared examples.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecgread.errors import CorruptFileError, NoWaveformError, UnsupportedVariantError
from ecgread.integration.archive_io import (
    MAX_LEADS,
    MAX_SAMPLES_PER_LEAD,
    assemble_leads,
    b64decode,
    check_rate,
    check_samples,
    end_of_ecg,
    number,
    parse_document,
    read_limited,
)
from ecgread.integration.wfdb_read import standard_lead_name
from ecgread.integration.xli import xli_decode
from ecgread.models.ecg import STANDARD_LEADS, Acquisition, Ecg
from ecgread.models.vendor_read import VendorRead, VendorStatement

__all__ = ["FORMAT", "decode_philips", "read_philips"]

FORMAT = "Philips Sierra XML"
_DOCUMENT_TYPES = ("SierraECG", "PhilipsECG")
_VERSIONS = ("1.03", "1.04")
#: Philips global measurement element -> our name (ms, bpm, degrees).
_MEASUREMENTS = {
    "heartrate": "heart_rate_bpm", "rrint": "rr_ms", "pdur": "p_ms",
    "print": "pr_ms", "meanprint": "pr_ms", "qrsdur": "qrs_ms", "meanqrsdur": "qrs_ms",
    "qtint": "qt_ms", "meanqtint": "qt_ms", "pfrontaxis": "p_axis_deg",
    "qrsfrontaxis": "qrs_axis_deg", "tfrontaxis": "t_axis_deg",
}
#: QTc elements in order of preference, with the formula each names (None: unstated).
_QTC = (("qtcb", "bazett"), ("qtcf", "fridericia"), ("meanqtc", None))


def read_philips(path: str | Path) -> Ecg:
    """Read a Philips Sierra/PhilipsECG XML file as an Ecg in µV with Philips' read.

    Raises
    ------
    CorruptFileError
        Malformed XML, bad base64 or XLI data, missing sampling rate or duration.
    UnsupportedVariantError
        Another document type or version, or an unknown encoding or compression.
    NoWaveformError, InputTooLargeError
        No waveform; over the limits of ``archive_io``.

    Example
    -------
    >>> ecg = read_philips("../shared/data/vendor/philips-sierra/129DYPRG.XML")  # doctest: +SKIP
    >>> ecg.vendor_read.heart_rate_bpm
    41.0
    """
    p = Path(path)
    return decode_philips(read_limited(p, FORMAT), source=str(p), name=p.name)


def decode_philips(data: bytes, source: str = "", name: str = "Philips XML") -> Ecg:
    """Decode the bytes of a Philips XML file; see :func:`read_philips`."""
    root = parse_document(data, name, "restingecgdata")
    doc_type = (root.findtext("documentinfo/documenttype") or "").strip()
    version = (root.findtext("documentinfo/documentversion") or "").strip()
    if doc_type not in _DOCUMENT_TYPES or not version.startswith(_VERSIONS):
        raise UnsupportedVariantError(f"{name}: {doc_type or '?'} {version or '?'} is not "
                                      f"SierraECG 1.03 or PhilipsECG 1.04")
    leads, fs = _waveform(root, name)
    signal, names = assemble_leads(leads, name)
    return Ecg(signal_uv=signal, sampling_rate_hz=fs, lead_names=names,
               acquisition=_acquisition(root), source=source, vendor_read=_vendor_read(root))


def _waveform(root: Any, name: str) -> tuple[dict[str, np.ndarray], float]:
    pw = root.find("waveforms/parsedwaveforms")
    if pw is None or not (pw.text or "").strip():
        raise NoWaveformError(f"{name}: no <parsedwaveforms>")
    signal_info = root.find("dataacquisition/signalcharacteristics")

    def setting(attribute: str, *elements: str) -> float | None:
        value = number(pw.get(attribute))
        for element in elements:
            if value is None and signal_info is not None:
                value = number(signal_info.findtext(element))
        return value

    fs = check_rate(setting("samplespersecond", "samplingrate"), name)
    resolution_uv = setting("resolution", "resolution", "signalresolution")
    duration_ms = number(pw.get("durationperchannel"))
    if resolution_uv is None or resolution_uv <= 0 or duration_ms is None or duration_ms <= 0:
        raise CorruptFileError(f"{name}: no resolution or durationperchannel")
    n_samples = round(duration_ms * fs / 1000.0)
    labels = _labels(pw, signal_info)
    check_samples(len(labels), n_samples, name)
    if (pw.get("dataencoding") or "Base64") != "Base64":
        raise UnsupportedVariantError(f"{name}: waveform encoding {pw.get('dataencoding')!r}")
    raw = b64decode(pw.text, name)
    method = pw.get("compressmethod") or pw.get("compression") or "Uncompressed"
    if (pw.get("compressflag") or "").lower() == "false":
        method = "Uncompressed"
    if method == "XLI":
        chunks = xli_decode(raw, 2 * MAX_LEADS, MAX_SAMPLES_PER_LEAD, name)
        if len(chunks) < len(labels) or any(len(c) < n_samples for c in chunks[: len(labels)]):
            raise CorruptFileError(f"{name}: XLI data holds fewer leads or samples than "
                                   f"declared ({len(labels)} x {n_samples})")
        counts = [c[:n_samples] for c in chunks[: len(labels)]]
        if labels[:6] == list(STANDARD_LEADS[:6]):
            _rebuild_limb_leads(counts)
    elif method == "Uncompressed":
        if len(raw) < 2 * n_samples * len(labels):
            raise CorruptFileError(f"{name}: {len(raw)} bytes for {len(labels)} x {n_samples} "
                                   f"16-bit samples")
        flat = np.frombuffer(raw[: 2 * n_samples * len(labels)], dtype="<i2").astype(np.int64)
        counts = list(flat.reshape(len(labels), n_samples))
    else:
        raise UnsupportedVariantError(f"{name}: waveform compression {method!r}")
    signal_uv = (np.vstack(counts) * resolution_uv).astype(np.float32)
    end = end_of_ecg(signal_uv, fs)
    leads = {label: signal_uv[row, :end] for row, label in enumerate(labels)}
    return leads, fs


def _labels(pw: Any, signal_info: Any) -> list[str]:
    given = (pw.get("leadlabels") or "").split()
    if given:
        count = int(number(pw.get("numberofleads")) or len(given))
        return [standard_lead_name(x) for x in given[: max(count, 0)]]
    if signal_info is None:
        return []
    count = int(number(signal_info.findtext("numberchannelsallocated")) or 0)
    wiring = (signal_info.findtext("acquisitiontype") or "").strip()
    named = list(STANDARD_LEADS) if wiring in ("STD-12", "10-WIRE") else []
    return [named[i] if i < len(named) else f"Channel {i + 1}" for i in range(count)]


def _rebuild_limb_leads(counts: list[np.ndarray]) -> None:
    """XLI stores III, aVR, aVL, aVF as residuals from I and II; rebuild them in place
    (integer counts, floor division as the cart does)."""
    lead_i, lead_ii = counts[0], counts[1]
    counts[2] = lead_ii - lead_i - counts[2]
    lead_iii = counts[2]
    counts[3] = -counts[3] - np.floor_divide(lead_i + lead_ii, 2)
    counts[4] = np.floor_divide(lead_i - lead_iii, 2) - counts[4]
    counts[5] = np.floor_divide(lead_ii + lead_iii, 2) - counts[5]


def _acquisition(root: Any) -> Acquisition:
    patient = root.find("patient/generalpatientdata")
    acq = root.find("dataacquisition")
    sex = {"MALE": "M", "FEMALE": "F"}.get(
        ((patient.findtext("sex") if patient is not None else None) or "").strip().upper())
    birth = None
    if patient is not None and (dob := (patient.findtext("age/dateofbirth") or "").strip()):
        birth = dob.replace("-", "") if len(dob) == 10 else None
    name = "^".join(n for n in (_text(patient, "name/lastname"), _text(patient, "name/firstname"))
                    if n)
    when = None
    if acq is not None and acq.get("date"):
        try:
            when = datetime.fromisoformat(f"{acq.get('date')}T{acq.get('time') or '00:00:00'}")
        except ValueError:
            when = None
    machine = _text(acq, "machine")
    return Acquisition(
        patient_id=_text(patient, "patientid"),
        patient_name=name or None,
        patient_sex=sex,
        patient_age_years=number(patient.findtext("age/years")) if patient is not None else None,
        patient_birth_date=birth,
        acquisition_time=when,
        device=f"Philips {machine}" if machine else "Philips",
        institution=_text(acq, "acquirer/institutionname"),
    )


def _vendor_read(root: Any) -> VendorRead:
    interpretation = root.find("interpretations/interpretation")
    acq = root.find("dataacquisition")
    machine = acq.find("machine") if acq is not None else None
    named: dict[str, Any] = {}
    other: dict[str, float] = {}
    statements: list[VendorStatement] = []
    version = None
    if interpretation is not None:
        block = interpretation.find("globalmeasurements")
        if block is None:
            block = interpretation.find("interpretationmeasurements")
        values = {child.tag: number(child.text) for child in (block if block is not None else [])}
        for tag, value in values.items():
            if value is None:
                continue
            if tag in _MEASUREMENTS:
                named.setdefault(_MEASUREMENTS[tag], value)
            elif tag not in dict(_QTC):
                other[tag] = value
        for tag, formula in _QTC:
            if values.get(tag) is not None and "qtc_ms" not in named:
                named["qtc_ms"], named["qtc_formula"] = values[tag], formula
            elif values.get(tag) is not None:
                other[tag] = values[tag]  # type: ignore[assignment]
        for item in interpretation.findall("statement"):
            text = _text(item, "leftstatement")
            if text:
                statements.append(VendorStatement(text=text, code=_text(item, "statementcode"),
                                                  reason=_text(item, "rightstatement")))
        severity = interpretation.find("severity")
        if severity is not None and (label := (severity.text or "").strip(" -\t\n")):
            statements.append(VendorStatement(text=label, code=severity.get("code") or None))
        criteria = interpretation.get("criteriaversion")
        if criteria:
            date = interpretation.get("criteriaversiondate")
            version = f"criteria {criteria}" + (f" ({date})" if date else "")
    return VendorRead(
        source_format=FORMAT, manufacturer="Philips",
        device=(machine.text or "").strip() or None if machine is not None else None,
        program=(machine.get("detaildescription") or None) if machine is not None else None,
        program_version=version, other_measurements=other, statements=tuple(statements),
        **named,
    )


def _text(parent: Any, path: str) -> str | None:
    if parent is None:
        return None
    value = " ".join((parent.findtext(path) or "").split())
    return value or None

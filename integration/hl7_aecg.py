"""Read HL7 annotated ECG (aECG, HL7 v3 PORT_MT020001) files with the annotated read.

The waveform is the first ``RHYTHM`` ``<series>``: its first ``<sequenceSet>`` holds a time
sequence (``TIME_ABSOLUTE``/``TIME_RELATIVE``, ``GLIST`` with an ``<increment>``) and one
``SLIST_PQ`` sequence per lead (``MDC_ECG_LEAD_*``): physical value = origin + scale x digit,
in the unit given (uV, mV, V). Missing limb leads are derived from I and II, and a flat
trailer with a calibration pulse (Philips' converter keeps the cart's) is cut off.

The read is in ``<annotationSet>``s: global measurements are annotations directly under a
set (``MDC_ECG_HEART_RATE``, ``MDC_ECG_TIME_PD_*``, ``MDC_ECG_ANGLE_*_FRONT``); the first
set that has them is taken (per-beat annotations nested in ``MDC_ECG_BEAT`` are not global
and are skipped). Statements are the rhythm annotations (``MDC_ECG_RHY``) and the texts of
``MDC_ECG_INTERPRETATION_STATEMENT``. ``MDC_ECG_TIME_PD_QTc`` names no formula;
``..._QTcB``/``..._QTcF`` name Bazett/Fridericia. A time without a unit is taken as ms
(Philips' converter writes them so).

References
----------
HL7 Version 3 Standard: Regulated Studies - Annotated ECG, Release 1 (2004);
FDA, aecg-python, https://github.com/FDA/aecg-python
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecgread.errors import CorruptFileError, NoWaveformError, UnsupportedVariantError
from ecgread.integration.archive_io import (
    MAX_SAMPLES_PER_LEAD,
    assemble_leads,
    check_rate,
    check_samples,
    end_of_ecg,
    number,
    parse_document,
    read_limited,
)
from ecgread.integration.wfdb_read import standard_lead_name
from ecgread.models.ecg import Acquisition, Ecg, derive_limb_leads
from ecgread.models.vendor_read import VendorRead, VendorStatement

__all__ = ["FORMAT", "decode_aecg", "read_aecg"]

FORMAT = "HL7 aECG"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_TO_UV = {"uv": 1.0, "mv": 1000.0, "v": 1e6, "nv": 1e-3}
_TO_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
#: MDC code -> (our name, QTc formula named by the code).
_MEASUREMENTS: dict[str, tuple[str, str | None]] = {
    "MDC_ECG_HEART_RATE": ("heart_rate_bpm", None), "MDC_ECG_TIME_PD_RR": ("rr_ms", None),
    "MDC_ECG_TIME_PD_P": ("p_ms", None), "MDC_ECG_TIME_PD_PR": ("pr_ms", None),
    "MDC_ECG_TIME_PD_QRS": ("qrs_ms", None), "MDC_ECG_TIME_PD_QT": ("qt_ms", None),
    "MDC_ECG_TIME_PD_QTc": ("qtc_ms", None), "MDC_ECG_TIME_PD_QTcB": ("qtc_ms", "bazett"),
    "MDC_ECG_TIME_PD_QTcF": ("qtc_ms", "fridericia"),
    "MDC_ECG_ANGLE_P_FRONT": ("p_axis_deg", None),
    "MDC_ECG_ANGLE_QRS_FRONT": ("qrs_axis_deg", None),
    "MDC_ECG_ANGLE_T_FRONT": ("t_axis_deg", None),
}


def read_aecg(path: str | Path) -> Ecg:
    """Read an HL7 aECG file as an Ecg in µV, with the annotated read as ``vendor_read``.

    Raises
    ------
    CorruptFileError
        Malformed XML, no time increment, digits that are not integers.
    NoWaveformError
        No rhythm series or lead sequences.
    UnsupportedVariantError
        Units we do not convert.
    InputTooLargeError
        Over the limits of ``archive_io``.

    Example
    -------
    >>> ecg = read_aecg("../shared/data/vendor/hl7-aecg/subject1_0.xml")  # doctest: +SKIP
    >>> ecg.vendor_read.pr_ms
    148.0
    """
    p = Path(path)
    return decode_aecg(read_limited(p, FORMAT), source=str(p), name=p.name)


def decode_aecg(data: bytes, source: str = "", name: str = "aECG") -> Ecg:
    """Decode the bytes of an HL7 aECG file; see :func:`read_aecg`."""
    root = parse_document(data, name, "AnnotatedECG")
    series = [s for s in root.iter("series")]
    rhythm = next((s for s in series if _code(s) == "RHYTHM"), series[0] if series else None)
    sequence_set = rhythm.find("component/sequenceSet") if rhythm is not None else None
    if sequence_set is None:
        raise NoWaveformError(f"{name}: no rhythm series with a sequenceSet")
    fs: float | None = None
    leads: dict[str, np.ndarray] = {}
    for sequence in sequence_set.findall("component/sequence"):
        code = _code(sequence) or ""
        value = sequence.find("value")
        if value is None:
            continue
        if code.startswith("TIME_"):
            fs = _rate(value, name)
        elif value.get(_XSI_TYPE) == "SLIST_PQ":
            label = code.removeprefix("MDC_ECG_LEAD_")
            leads[standard_lead_name(label)] = _lead(value, f"{name} lead {label}")
            check_samples(len(leads), 0, name)
    if not leads:
        raise NoWaveformError(f"{name}: no lead sequences")
    signal, names = assemble_leads(derive_limb_leads(leads), name)
    fs = check_rate(fs, name)
    signal = signal[:, : end_of_ecg(signal, fs)]
    read = _vendor_read(root, rhythm)
    return Ecg(signal_uv=signal, sampling_rate_hz=fs, lead_names=names,
               acquisition=_acquisition(root, rhythm), source=source,
               vendor_read=None if read.empty else read)


def _code(el: Any) -> str | None:
    code = el.find("code")
    return code.get("code") if code is not None else None


def _rate(value: Any, name: str) -> float:
    increment = value.find("increment")
    step = number(increment.get("value")) if increment is not None else None
    unit = (increment.get("unit") if increment is not None else None) or "s"
    if step is None or step <= 0 or unit.lower() not in _TO_S:
        raise CorruptFileError(f"{name}: no usable time increment")
    return 1.0 / (step * _TO_S[unit.lower()])


def _lead(value: Any, where: str) -> np.ndarray:
    origin, scale = value.find("origin"), value.find("scale")
    if scale is None or number(scale.get("value")) is None:
        raise CorruptFileError(f"{where}: no scale")
    factors = []
    for q in (origin, scale):
        unit = ((q.get("unit") if q is not None else None) or "uV").lower()
        if unit not in _TO_UV:
            raise UnsupportedVariantError(f"{where}: unit {unit!r} is not supported")
        factors.append(_TO_UV[unit])
    origin_uv = (number(origin.get("value")) or 0.0) * factors[0] if origin is not None else 0.0
    scale_uv = float(number(scale.get("value")) or 0.0) * factors[1]
    tokens = (value.findtext("digits") or "").split()
    check_samples(1, len(tokens), where)
    if len(tokens) > MAX_SAMPLES_PER_LEAD:  # pragma: no cover - check_samples raised
        raise CorruptFileError(where)
    try:
        digits = np.array(tokens, dtype=np.int64)
    except ValueError as exc:
        raise CorruptFileError(f"{where}: digits are not integers") from exc
    return (origin_uv + scale_uv * digits).astype(np.float32)


def _vendor_read(root: Any, rhythm: Any) -> VendorRead:
    named: dict[str, Any] = {}
    other: dict[str, float] = {}
    statements: list[VendorStatement] = []
    author = None
    for annotation_set in root.iter("annotationSet"):
        top = annotation_set.findall("component/annotation")
        values = [(code, _measure(a)) for a in top if (code := _code(a))]
        measured = [(c, v) for c, v in values if v is not None]
        if measured and not named:
            author = annotation_set.find("author/assignedEntity/assignedAuthorType/assignedDevice")
            for code, v in measured:
                target = _MEASUREMENTS.get(code)
                if target is None:
                    other[code] = v
                elif target[0] not in named:
                    named[target[0]] = v
                    if target[0] == "qtc_ms":
                        named["qtc_formula"] = target[1]
        for a in top:
            statements.extend(_statements(a))
    device = author
    if device is None and rhythm is not None:
        device = rhythm.find("author/seriesAuthor/manufacturedSeriesDevice")
    organization = None
    if author is not None:
        organization = author.findtext("playedManufacturedDevice/manufacturerOrganization/name")
    elif rhythm is not None:
        organization = rhythm.findtext("author/seriesAuthor/manufacturerOrganization/name")
    return VendorRead(
        source_format=FORMAT, manufacturer=_clean(organization),
        device=_clean(device.findtext("manufacturerModelName")) if device is not None else None,
        program_version=_clean(device.findtext("softwareName")) if device is not None else None,
        other_measurements=other, statements=tuple(statements), **named,
    )


def _measure(annotation: Any) -> float | None:
    """A numeric annotation in ms / bpm / degrees, else None."""
    value = annotation.find("value")
    code = _code(annotation) or ""
    if value is None or value.get(_XSI_TYPE) != "PQ":
        return None
    v = number(value.get("value"))
    unit = (value.get("unit") or "").lower()
    if v is None:
        return None
    if code.startswith("MDC_ECG_TIME_PD"):
        factor = {"": 1.0, "ms": 1.0, "s": 1000.0}.get(unit)
        return None if factor is None else v * factor
    return v


def _statements(annotation: Any) -> list[VendorStatement]:
    code = _code(annotation)
    value = annotation.find("value")
    if code == "MDC_ECG_RHY" and value is not None:
        text = value.get("displayName") or value.get("code")
        return [VendorStatement(text=text, code=value.get("code"))] if text else []
    if code == "MDC_ECG_INTERPRETATION":
        return [VendorStatement(text=t) for a in annotation.findall("component/annotation")
                if _code(a) == "MDC_ECG_INTERPRETATION_STATEMENT"
                and (t := _clean(a.findtext("value")))]
    return []


def _acquisition(root: Any, rhythm: Any) -> Acquisition:
    subject = next(root.iter("trialSubject"), None)
    person = subject.find("subjectDemographicPerson") if subject is not None else None
    gender = person.find("administrativeGenderCode") if person is not None else None
    birth = person.find("birthTime") if person is not None else None
    when = None
    for path in ("effectiveTime/low", "effectiveTime/center"):
        el = root.find(path)
        if el is not None and el.get("value"):
            when = _timestamp(el.get("value"))
            break
    model = None
    if rhythm is not None:
        org = _clean(rhythm.findtext("author/seriesAuthor/manufacturerOrganization/name"))
        dev = _clean(rhythm.findtext("author/seriesAuthor/manufacturedSeriesDevice/"
                                     "manufacturerModelName"))
        model = " ".join(x for x in (org, dev) if x) or None
    return Acquisition(
        patient_id=subject.find("id").get("extension") if subject is not None
        and subject.find("id") is not None else None,
        patient_sex=(gender.get("code") if gender is not None
                     and gender.get("code") in ("M", "F") else None),
        patient_birth_date=(birth.get("value")[:8] if birth is not None
                            and (birth.get("value") or "")[:8].isdigit() else None),
        acquisition_time=when,
        device=model,
    )


def _timestamp(value: str) -> datetime | None:
    digits = value.split(".")[0].split("+")[0].split("-")[0]
    for fmt in ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"):
        try:
            return datetime.strptime(digits, fmt)
        except ValueError:
            continue
    return None


def _clean(text: str | None) -> str | None:
    value = " ".join((text or "").split())
    return value or None

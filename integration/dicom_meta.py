"""Patient, order and device metadata of a DICOM object, as an :class:`Acquisition`.

Attributes (PS3.3): Patient ID (0010,0020), Patient's Name (0010,0010), Sex (0010,0040),
Age (0010,1010, AS "042Y"), Birth Date (0010,0030), Accession Number (0008,0050), Study/
Series/SOP Instance UIDs, Acquisition DateTime (0008,002A) or else Content Date/Time
(0008,0023/0033), Manufacturer (0008,0070) + Manufacturer's Model Name (0008,1090),
Institution Name (0008,0080). A value that is absent or does not parse is None. Times are
aware datetimes (see :func:`dicom_datetime`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ecgread.models.ecg import Acquisition

__all__ = ["acquisition_from", "age_from_birth_date", "age_years", "dicom_datetime"]

_AGE = re.compile(r"^(\d{3})([DWMY])$")
_DAYS_PER_YEAR = 365.25
_AGE_UNIT_YEARS = {"D": 1 / _DAYS_PER_YEAR, "W": 7 / _DAYS_PER_YEAR, "M": 1 / 12, "Y": 1.0}


def _text(ds: Any, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def age_years(age: str | None) -> float | None:
    """Age String (AS, PS3.5 6.2) to years: ``"042Y"`` -> 42.0, ``"006M"`` -> 0.5."""
    if not age:
        return None
    m = _AGE.match(age.strip().upper())
    if m is None:
        return None
    return int(m.group(1)) * _AGE_UNIT_YEARS[m.group(2)]


def _parse_da(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.strptime(value.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None


_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


def _zone(offset: str | None) -> timezone | None:
    """Timezone Offset From UTC (0008,0201), ``"+0100"``, as a tzinfo; None if absent/bad."""
    m = _OFFSET.match((offset or "").strip())
    if m is None:
        return None
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(-delta if m.group(1) == "-" else delta)


def dicom_datetime(dt: str | None = None, da: str | None = None, tm: str | None = None,
                   offset: str | None = None) -> datetime | None:
    """A DT value, or else a DA plus TM pair, as an aware datetime.

    The zone is the DT value's own offset, else ``offset`` (Timezone Offset From UTC,
    PS3.3 C.12.1.1.8), else the listener host's local time zone (the device's local time
    is meant; HL7 timestamps are read the same way, see ``ecgread.integration.hl7_header``).
    """
    from pydicom.valuerep import DA, DT, TM

    try:
        if dt:
            value: datetime = datetime.fromisoformat(DT(dt.strip()).isoformat())
        elif da:
            day = DA(da.strip())
            t = TM(tm.strip()).replace(tzinfo=None) if tm else datetime.min.time()
            value = datetime.combine(day, t)
        else:
            return None
    except (ValueError, TypeError, OverflowError):
        return None
    if value.tzinfo is not None:
        return value
    zone = _zone(offset)
    return value.replace(tzinfo=zone) if zone is not None else value.astimezone()


def age_from_birth_date(birth: str | None, at: datetime | None) -> float | None:
    """Age in years at ``at`` from a birth date ``YYYYMMDD`` (DICOM DA, HL7 PID-7 date).

    Whole days / 365.25, rounded to 0.01 y; None when either is missing, the date does
    not parse, or ``at`` is before it.

    Example
    -------
    >>> age_from_birth_date("19800301", datetime(2020, 3, 1, 9, 30))
    40.0
    >>> age_from_birth_date("2021", datetime(2020, 3, 1)) is None
    True
    """
    born = _parse_da(birth)
    if born is None or at is None:
        return None
    days = (at.date() - born).days
    return round(days / _DAYS_PER_YEAR, 2) if days >= 0 else None


def acquisition_from(ds: Any) -> Acquisition:
    """Metadata of a pydicom Dataset. Patient data stays in the returned object only."""
    offset = _text(ds, "TimezoneOffsetFromUTC")
    acquired = dicom_datetime(_text(ds, "AcquisitionDateTime"), offset=offset) or dicom_datetime(
        da=_text(ds, "ContentDate"), tm=_text(ds, "ContentTime"), offset=offset)
    sex = (_text(ds, "PatientSex") or "").upper()
    birth = _text(ds, "PatientBirthDate")
    age = age_years(_text(ds, "PatientAge"))
    if age is None:
        age = age_from_birth_date(birth, acquired)
    device = " ".join(v for v in (_text(ds, "Manufacturer"), _text(ds, "ManufacturerModelName"))
                      if v) or None
    return Acquisition(
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        patient_sex=sex if sex in ("M", "F") else None,
        patient_age_years=age,
        patient_birth_date=birth,
        accession_number=_text(ds, "AccessionNumber"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        sop_class_uid=_text(ds, "SOPClassUID"),
        acquisition_time=acquired,
        device=device,
        institution=_text(ds, "InstitutionName"),
    )

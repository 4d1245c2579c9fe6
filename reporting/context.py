"""What a report says about who and what it is for: patient, order, acquisition.

One frozen :class:`ReportContext` feeds both outputs (the PDF header and the ORU's PID,
ORC and OBR segments), so they can never disagree. It is built from the ECG's own header
(:class:`models.ecg.Acquisition`) and, where an order was matched, the order's fields;
the DICOM header wins where both have a value, except the order numbers, which only the
order has.

Example
-------
>>> from models.ecg import Acquisition, Ecg
>>> import numpy as np
>>> ecg = Ecg(np.zeros((1, 10), np.float32), 500.0, ("II",), Acquisition(patient_id="P1"))
>>> ctx = report_context(ecg, None)
>>> ctx.patient_id, ctx.placer_order_number, ctx.result_status
('P1', None, 'P')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecgread.audit.tables import Hl7Order
    from ecgread.models.ecg import Ecg


@dataclass(frozen=True)
class ReportContext:
    """Header data of one report. Every field may be missing (research data has none)."""

    patient_id: str | None = None
    patient_name: str | None = None  # DICOM PN / HL7 XPN form: FAMILY^GIVEN
    patient_sex: str | None = None  # "M", "F" or None
    patient_birth_date: str | None = None  # YYYYMMDD
    patient_age_years: float | None = None
    accession_number: str | None = None
    placer_order_number: str | None = None  # ORC-2 / OBR-2 of the matched order
    placer_namespace: str | None = None
    filler_order_number: str | None = None  # ORC-3 / OBR-3
    procedure_code: str | None = None  # OBR-4 as ordered, e.g. "93000^12-lead ECG^CPT"
    ordering_provider: str | None = None  # OBR-16
    acquisition_time: datetime | None = None
    device: str | None = None
    institution: str | None = None
    study_instance_uid: str | None = None
    sop_instance_uid: str | None = None
    source: str = ""
    #: OBR-25 result status: "P" preliminary (unconfirmed computer interpretation),
    #: "F" final (confirmed by a physician), "C" corrected.
    result_status: str = "P"
    confirmed_by: str | None = None
    #: The patient's prior ECG this one was compared with (serial comparison): when it
    #: was acquired, and whether its compared content was what a physician signed.
    prior_acquisition_time: datetime | None = None
    prior_confirmed: bool = False

    @property
    def ordered(self) -> bool:
        return self.placer_order_number is not None

    @property
    def patient_display_name(self) -> str | None:
        """``FAMILY, Given`` from the PN form, or None."""
        if not self.patient_name:
            return None
        parts = [p.strip() for p in self.patient_name.split("^")]
        family = parts[0]
        given = " ".join(p for p in parts[1:3] if p)
        return f"{family}, {given}" if family and given else (family or given or None)


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def report_context(ecg: Ecg, order: Hl7Order | None, *, result_status: str = "P",
                   confirmed_by: str | None = None,
                   serial: Mapping[str, Any] | None = None) -> ReportContext:
    """The header of the report for ``ecg``, with ``order`` when one was matched.

    Parameters
    ----------
    ecg:
        The ECG as decoded (its acquisition metadata).
    order:
        The matched order, or None for an unordered ECG (IHE REWF).
    result_status:
        "P" until a physician confirms the read ("F"), "C" for a correction.
    serial:
        The ``serial`` object of the read's JSON (``workers/serial.py``: the prior ECG's
        ``prior_acquired`` ISO time and ``prior_confirmed``), or None when there was no
        prior ECG.

    Raises
    ------
    ValueError
        ``result_status`` is not P, F or C.
    """
    if result_status not in ("P", "F", "C"):
        raise ValueError(f"result_status must be P, F or C, got {result_status!r}")
    acq = ecg.acquisition
    o = order
    return ReportContext(
        patient_id=_clean(acq.patient_id) or (_clean(o.patient_id) if o else None),
        patient_name=_clean(acq.patient_name) or (_clean(o.patient_name) if o else None),
        patient_sex=acq.patient_sex or (o.patient_sex if o and o.patient_sex in ("M", "F")
                                        else None),
        patient_birth_date=_clean(acq.patient_birth_date)
        or (_clean(o.patient_birth_date) if o else None),
        patient_age_years=acq.patient_age_years,
        accession_number=_clean(acq.accession_number)
        or (_clean(o.accession_number) if o else None),
        placer_order_number=_clean(o.placer_order_number) if o else None,
        placer_namespace=_clean(o.placer_namespace) if o else None,
        filler_order_number=_clean(o.filler_order_number) if o else None,
        procedure_code=_clean(o.procedure_code) if o else None,
        ordering_provider=_clean(o.ordering_provider) if o else None,
        acquisition_time=acq.acquisition_time,
        device=_clean(acq.device),
        institution=_clean(acq.institution),
        study_instance_uid=_clean(acq.study_instance_uid),
        sop_instance_uid=_clean(acq.sop_instance_uid),
        source=ecg.source,
        result_status=result_status,
        confirmed_by=confirmed_by,
        prior_acquisition_time=_iso_time(serial.get("prior_acquired") if serial else None),
        prior_confirmed=bool(serial and serial.get("prior_confirmed")),
    )


def _iso_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None

"""The read job's pure steps (the whole job runs in the end-to-end and worker tests)."""

from __future__ import annotations

import pytest

from ecgread.audit.tables import Hl7Order
from ecgread.integration.dicom_decode import decode_dataset
from ecgread.workers.read_job import _with_order_demographics
from tests.dicom_factory import twelve_lead


def test_an_orders_birth_date_gives_the_age_the_dicom_header_would() -> None:
    ds = twelve_lead().dataset
    del ds.PatientAge
    from_header = decode_dataset(ds).acquisition  # age from (0010,0030) 1980-01-01
    del ds.PatientBirthDate
    ecg = decode_dataset(ds)
    assert ecg.acquisition.patient_age_years is None
    order = Hl7Order(placer_order_number="P1", patient_birth_date="19800101", patient_sex="F")
    acq = _with_order_demographics(ecg, order).acquisition
    assert acq.patient_birth_date == "19800101"
    assert acq.patient_age_years == from_header.patient_age_years == pytest.approx(44.19,
                                                                                   abs=0.005)


def test_an_order_born_after_the_recording_gives_no_age() -> None:
    ds = twelve_lead().dataset
    del ds.PatientAge
    del ds.PatientBirthDate
    order = Hl7Order(placer_order_number="P1", patient_birth_date="20300101")
    acq = _with_order_demographics(decode_dataset(ds), order).acquisition
    assert acq.patient_age_years is None

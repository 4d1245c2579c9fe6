"""The canonical ECG that every stage of the analysis core consumes.

Decoders at the edges (``integration.dicom_decode``, ``integration.wfdb_read``)
turn files into an :class:`Ecg`; nothing in ``models/`` reads files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ecgread.models.vendor_read import VendorRead

#: Standard 12-lead names in their conventional display order.
STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)


@dataclass(frozen=True)
class Acquisition:
    """Who and what an ECG belongs to. Every field is optional: research data has none.

    Patient data lives here and only here; it never goes into plain logs.
    """

    patient_id: str | None = None
    patient_name: str | None = None
    patient_sex: str | None = None  # "M", "F", or None when unknown (DICOM (0010,0040))
    patient_age_years: float | None = None
    patient_birth_date: str | None = None  # YYYYMMDD as DICOM gives it
    accession_number: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    sop_instance_uid: str | None = None
    sop_class_uid: str | None = None
    acquisition_time: datetime | None = None
    device: str | None = None  # manufacturer and model, free text
    institution: str | None = None


@dataclass(frozen=True)
class Ecg:
    """A multi-lead ECG in physical units.

    Attributes
    ----------
    signal_uv:
        float32 array, shape (leads, samples), microvolts. Samples that the
        source marked as padding or out of range are NaN.
    sampling_rate_hz:
        Samples per second per lead.
    lead_names:
        One name per row of ``signal_uv``; standard leads use the names in
        :data:`STANDARD_LEADS`, other leads keep their source labels.
    acquisition:
        Patient, order and device metadata.
    source:
        Where the ECG came from (file path or SOP Instance UID), for provenance.
    vendor_read:
        The measurements and statements the source file carries from the device or
        management system that read it (archive formats), else None. The analysis
        never uses it; it travels with the ECG so ours can be shown beside it.
    """

    signal_uv: np.ndarray
    sampling_rate_hz: float
    lead_names: tuple[str, ...]
    acquisition: Acquisition = field(default_factory=Acquisition)
    source: str = ""
    vendor_read: VendorRead | None = None

    def __post_init__(self) -> None:
        if self.signal_uv.ndim != 2:
            raise ValueError(f"signal_uv must be 2-D (leads, samples), got {self.signal_uv.shape}")
        if self.signal_uv.shape[0] != len(self.lead_names):
            raise ValueError(
                f"{self.signal_uv.shape[0]} signal rows but {len(self.lead_names)} lead names"
            )
        if not self.sampling_rate_hz > 0:
            raise ValueError(f"sampling_rate_hz must be positive, got {self.sampling_rate_hz}")

    @property
    def n_samples(self) -> int:
        return int(self.signal_uv.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sampling_rate_hz

    def lead(self, name: str) -> np.ndarray:
        """The signal of one lead, in µV. Raises KeyError when the lead is absent."""
        lead: np.ndarray = self.signal_uv[self.lead_names.index(name)]
        return lead

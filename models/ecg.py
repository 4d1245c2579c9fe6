"""The canonical ECG that every stage of the analysis core consumes.

Decoders at the edges (``integration.dicom_decode``, ``integration.wfdb_read``)
turn files into an :class:`Ecg`; nothing in ``models/`` reads files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
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


#: Each limb lead as a combination (a, b) of I and II: lead = a * I + b * II (Einthoven's law
#: III = II - I and Goldberger's augmented leads).
LIMB_LEAD_BASIS: dict[str, tuple[float, float]] = {
    "I": (1.0, 0.0), "II": (0.0, 1.0), "III": (-1.0, 1.0), "aVR": (-0.5, -0.5),
    "aVL": (1.0, -0.5), "aVF": (-0.5, 1.0)}


def limb_lead_pair(names: Iterable[str]) -> tuple[str, str] | None:
    """The first two of ``names``' limb leads in the standard order, or None. Any two span
    the frontal plane: no two of the six lead axes are parallel."""
    given = set(names)
    have = [n for n in STANDARD_LEADS[:6] if n in given]
    return (have[0], have[1]) if len(have) >= 2 else None


def derive_limb_leads(leads: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add the limb leads that are missing, from two that are present.

    Carts that store 8 leads (GE MUSE: I, II, V1-V6) leave the other four limb leads to be
    computed; all six follow from any two by Einthoven's law (III = II - I) and
    Goldberger's augmented leads (aVR = -(I + II)/2, aVL = I - II/2, aVF = II - I/2): the
    two give I and II (:data:`LIMB_LEAD_BASIS`), and those the rest. Leads already present
    are kept as given; with fewer than two limb leads nothing is derived.

    References
    ----------
    Goldberger AL et al. Goldberger's Clinical Electrocardiography, 9th ed., ch. 3 (2017).
    """
    out = dict(leads)
    pair = limb_lead_pair(out)
    if pair is None:
        return out
    basis = np.array([LIMB_LEAD_BASIS[n] for n in pair])  # (2 leads, I/II coefficients)
    recorded = np.stack([out[n].astype(np.float32) for n in pair])
    lead_i, lead_ii = (np.linalg.inv(basis) @ recorded).astype(np.float32)
    for name, (a, b) in LIMB_LEAD_BASIS.items():
        if name not in out:
            out[name] = (a * lead_i + b * lead_ii).astype(np.float32)
    return out


def with_derived_limb_leads(ecg: Ecg) -> tuple[Ecg, tuple[str, ...], tuple[str, ...]]:
    """``ecg`` with the limb leads it lacks derived from two it has
    (:func:`derive_limb_leads`), the names of the derived leads and of the two they came
    from; unchanged, with ``()`` twice, where it has all six or fewer than two. The leads
    keep the ECG's order, the derived ones after its last limb lead in the standard order.

    Why: the global QRS spans the leads, and six frontal projections find its onset and
    offset where two miss them (the 20 LUDB and 10 CPSC records of ``bench.invariance``
    read from I and II alone: QRS within 12 ms of the 12-lead read on 9 of 30; with the
    four derived leads, on 25).
    """
    pair = limb_lead_pair(ecg.lead_names)
    missing = tuple(n for n in STANDARD_LEADS[:6] if n not in ecg.lead_names)
    if pair is None or not missing:
        return ecg, (), ()
    derived = derive_limb_leads({n: ecg.lead(n) for n in pair})
    at = max(i for i, n in enumerate(ecg.lead_names) if n in LIMB_LEAD_BASIS) + 1
    names = ecg.lead_names[:at] + missing + ecg.lead_names[at:]
    rows = [derived[n] if n in missing else ecg.lead(n) for n in names]
    signal = np.stack(rows).astype(ecg.signal_uv.dtype, copy=False)
    return dataclasses.replace(ecg, signal_uv=signal, lead_names=names), missing, pair


def resampled(ecg: Ecg, sampling_rate_hz: float) -> Ecg:
    """The ECG at ``sampling_rate_hz`` (polyphase filter, scipy ``resample_poly``; the ratio
    to within 1/1000). Each lead is extended by the line through its ends, not by zeros,
    so that a lead away from 0 µV gains no step at the record's edges (read as a QRS
    complex there).

    NaN samples (padding) stay NaN at the new rate: they are zero-filled for the filter and
    every output sample within reach of one is set back to NaN.
    """
    from fractions import Fraction

    from scipy.signal import resample_poly

    ratio = Fraction(float(sampling_rate_hz) / ecg.sampling_rate_hz).limit_denominator(1000)
    x = ecg.signal_uv.astype(np.float64)
    nan = np.isnan(x)
    y = resample_poly(np.where(nan, 0.0, x), ratio.numerator, ratio.denominator, axis=1,
                      padtype="line")
    if nan.any():
        m = resample_poly(nan.astype(np.float64), ratio.numerator, ratio.denominator, axis=1)
        y[np.abs(m) > 0.01] = np.nan
    return dataclasses.replace(ecg, signal_uv=y.astype(np.float32),
                               sampling_rate_hz=float(sampling_rate_hz))

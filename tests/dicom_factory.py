"""Build ECG DICOM objects for tests: valid ones with known physical values, and broken ones.

The signal comes from :func:`tests.synthetic.synthetic_ecg` (µV); each channel is encoded
as ``raw = round(uv / (sensitivity x correction x unit) - baseline)`` and the expected
decoded value is computed back from ``raw`` exactly as PS3.3 C.10.9.1.4.3 / DESIGN.md say,
so a test compares the decoder against an independent computation, sample by sample.

Example
-------
>>> built = ecg_object(groups=[GroupSpec(leads=("I", "II"))])
>>> built.expected_uv["II"].shape
(5000,)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, generate_uid

from ecgread.integration.dicom_decode import GENERAL_ECG, TWELVE_LEAD_ECG
from ecgread.integration.dicom_leads import SCPECG_LEAD_NUMBERS
from ecgread.models.ecg import STANDARD_LEADS
from tests.synthetic import synthetic_ecg

__all__ = ["GroupSpec", "Built", "ecg_object", "twelve_lead", "general_ecg_multigroup",
           "write", "truncated", "without_waveform", "ct_as_ecg", "garbage_file"]

_LEAD_NUMBER = {name: number for number, name in SCPECG_LEAD_NUMBERS.items()}
_UNIT_FACTOR_UV = {"uV": 1.0, "mV": 1000.0, "V": 1e6}
_DTYPE = {(8, "SB"): "i1", (8, "UB"): "u1", (16, "SS"): "i2", (16, "US"): "u2",
          (32, "SL"): "i4", (32, "UL"): "u4"}


@dataclass(frozen=True)
class GroupSpec:
    """One multiplex group to build. ``padding_at``: sample indices set to the padding value."""

    leads: tuple[str, ...] = STANDARD_LEADS
    label: str = "RHYTHM"
    originality: str = "ORIGINAL"
    fs: float = 500.0
    duration_s: float = 10.0
    bits: int = 16
    interpretation: str = "SS"
    baseline: float = 0.0
    sensitivity: float = 2.5
    correction: float = 1.0
    units: str = "uV"
    padding_value: int | None = None
    padding_at: tuple[int, ...] = ()
    offset_ms: float = 0.0


@dataclass
class Built:
    dataset: Dataset
    #: Expected decoded µV per lead of each group, in group order (NaN where padded).
    groups_uv: list[dict[str, np.ndarray]] = field(default_factory=list)

    @property
    def expected_uv(self) -> dict[str, np.ndarray]:
        """The first group's leads (the rhythm group in the builders below)."""
        return self.groups_uv[0]


def _ds(value: float) -> str:
    """A Decimal String (at most 16 characters, PS3.5 6.2) that round-trips ``value``."""
    for digits in range(15, 5, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    raise ValueError(value)


def _code(scheme_value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = scheme_value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _channel(lead: str, spec: GroupSpec) -> Dataset:
    ch = Dataset()
    number = _LEAD_NUMBER.get(lead)
    meaning = f"Lead {lead}" + (" (Einthoven)" if lead in ("I", "II", "III") else "")
    code = f"5.6.3-9-{number}" if number is not None else lead
    ch.ChannelSourceSequence = DicomSequence([_code(code, "SCPECG", meaning)])
    ch.ChannelSensitivity = _ds(spec.sensitivity)
    unit_meaning = {"uV": "microvolt", "mV": "millivolt", "V": "volt"}[spec.units]
    ch.ChannelSensitivityUnitsSequence = DicomSequence([_code(spec.units, "UCUM", unit_meaning)])
    ch.ChannelSensitivityCorrectionFactor = _ds(spec.correction)
    ch.ChannelBaseline = _ds(spec.baseline)
    ch.WaveformBitsStored = spec.bits
    return ch


def _group(spec: GroupSpec, seed: int, little_endian: bool) -> tuple[Dataset, dict]:
    synth = synthetic_ecg(rate_bpm=70, fs=spec.fs, duration_s=spec.duration_s, seed=seed)
    baseline = float(_ds(spec.baseline))
    unit_uv = _UNIT_FACTOR_UV[spec.units]
    factor = float(_ds(spec.sensitivity)) * float(_ds(spec.correction)) * unit_uv
    dtype = np.dtype(_DTYPE[(spec.bits, spec.interpretation)])
    info = np.iinfo(dtype)
    raw = np.empty((len(spec.leads), synth.ecg.n_samples), dtype=dtype)
    for i, lead in enumerate(spec.leads):
        uv = synth.ecg.lead(lead) if lead in synth.ecg.lead_names else synth.ecg.lead("II")
        counts = np.round((uv - baseline * unit_uv) / factor)
        raw[i] = np.clip(counts, info.min + 1, info.max - 1).astype(dtype)
    if spec.padding_value is not None:
        raw[:, list(spec.padding_at)] = spec.padding_value
    expected = {}
    for i, lead in enumerate(spec.leads):
        value = raw[i].astype(np.float64) * factor + baseline * unit_uv
        if spec.padding_value is not None:
            value[raw[i] == dtype.type(spec.padding_value)] = np.nan
        expected[lead] = value.astype(np.float32)
    order = "<" if little_endian else ">"
    g = Dataset()
    g.MultiplexGroupTimeOffset = f"{spec.offset_ms:g}"
    g.WaveformOriginality = spec.originality
    g.NumberOfWaveformChannels = len(spec.leads)
    g.NumberOfWaveformSamples = raw.shape[1]
    g.SamplingFrequency = f"{spec.fs:g}"
    g.MultiplexGroupLabel = spec.label
    g.ChannelDefinitionSequence = DicomSequence([_channel(lead, spec) for lead in spec.leads])
    g.WaveformBitsAllocated = spec.bits
    g.WaveformSampleInterpretation = spec.interpretation
    if spec.padding_value is not None:
        g.WaveformPaddingValue = np.array([spec.padding_value], dtype=dtype).astype(
            dtype.newbyteorder(order)).tobytes().ljust(2, b"\0")
    g.WaveformData = raw.T.astype(dtype.newbyteorder(order)).tobytes()
    vr = "OB" if spec.bits == 8 else "OW"
    g["WaveformData"].VR = vr
    if "WaveformPaddingValue" in g:
        g["WaveformPaddingValue"].VR = vr
    return g, expected


def ecg_object(groups: Sequence[GroupSpec] = (GroupSpec(),), *, sop_class: str = GENERAL_ECG,
               sop_instance_uid: str | None = None, seed: int = 0,
               transfer_syntax: str = ExplicitVRLittleEndian, patient_id: str = "P-1001",
               accession: str = "ACC-1001") -> Built:
    """An ECG data set (with file meta) holding the given multiplex groups."""
    little_endian = transfer_syntax != ExplicitVRBigEndian
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance_uid or generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "ECG"
    ds.ContentDate = "20240311"
    ds.ContentTime = "101500"
    ds.AcquisitionDateTime = "20240311101459.250"
    ds.AccessionNumber = accession
    ds.Manufacturer = "TestCart"
    ds.ManufacturerModelName = "TC-12"
    ds.InstitutionName = "Test Hospital"
    ds.PatientName = "Test^Patient"
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19800101"
    ds.PatientSex = "M"
    ds.PatientAge = "044Y"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    built = Built(ds)
    items = []
    for k, spec in enumerate(groups):
        item, expected = _group(spec, seed + k, little_endian)
        items.append(item)
        built.groups_uv.append(expected)
    ds.WaveformSequence = DicomSequence(items)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta = meta
    return built


def twelve_lead(**kwargs: object) -> Built:
    """A 12-lead ECG object: a 10 s rhythm group and a 1.2 s median-beat group, 500 Hz."""
    groups = (GroupSpec(), GroupSpec(label="MEDIAN BEAT", originality="DERIVED",
                                     duration_s=1.2, sensitivity=1.0))
    return ecg_object(groups, sop_class=TWELVE_LEAD_ECG, **kwargs)  # type: ignore[arg-type]


def general_ecg_multigroup(**kwargs: object) -> Built:
    """A General ECG whose 12 leads come in three rhythm groups at 500 Hz with different
    calibrations (µV, mV with baseline, V with a correction factor) and padding values."""
    groups = (
        GroupSpec(leads=("I", "II", "III", "aVR", "aVL", "aVF"), sensitivity=2.5,
                  padding_value=-32768, padding_at=(0, 1, 4999)),
        GroupSpec(leads=("V1", "V2", "V3"), units="mV", sensitivity=0.005, baseline=-0.05,
                  correction=0.98),
        GroupSpec(leads=("V4", "V5", "V6"), units="V", sensitivity=1e-6, correction=1.02,
                  bits=32, interpretation="SL", padding_value=2**31 - 1, padding_at=(100,)),
        GroupSpec(label="MEDIAN BEAT", originality="DERIVED", duration_s=1.2),
    )
    return ecg_object(groups, sop_class=GENERAL_ECG, **kwargs)  # type: ignore[arg-type]


def write(built: Built | Dataset, path: Path) -> Path:
    """Save as a DICOM file in the transfer syntax of its file meta."""
    ds = built.dataset if isinstance(built, Built) else built
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def truncated(built: Built, keep_fraction: float = 0.5) -> Dataset:
    """The same object whose first group's Waveform Data lost its tail."""
    ds = built.dataset
    group = ds.WaveformSequence[0]
    data = bytes(group.WaveformData)
    keep = int(len(data) * keep_fraction) // 2 * 2
    group.WaveformData = data[:keep]
    return ds


def without_waveform(built: Built) -> Dataset:
    ds = built.dataset
    del ds.WaveformSequence
    return ds


def ct_as_ecg(path: Path, sop_class: str = TWELVE_LEAD_ECG) -> Path:
    """pydicom's CT_small.dcm relabelled as an ECG (SOP class in data set and file meta)."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    ds = dcmread(get_testdata_file("CT_small.dcm"))
    ds.SOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    return write(ds, path)


def garbage_file(path: Path, sop_class: str = TWELVE_LEAD_ECG, size: int = 4096,
                 seed: int = 0) -> Path:
    """Valid file meta (so a sender will send it) followed by random bytes as the data set."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buf = DicomBytesIO()
    buf.is_little_endian = True
    buf.is_implicit_VR = False
    write_file_meta_info(buf, meta)
    body = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 128 + b"DICM" + buf.getvalue() + body)
    return path


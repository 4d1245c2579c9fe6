"""The PDF report as a DICOM Encapsulated PDF object, to store back to PACS beside the ECG.

:func:`encapsulated_pdf` is pure apart from the clock (``now``): the same PDF, context and
read ID give the same object, with the same UIDs, so a re-send is the same instance and a
PACS that already has it answers Success or "duplicate" rather than storing it twice.

Encapsulated PDF IOD (PS3.3 A.45.1), modules filled:

- Patient (C.7.1.1) and General Study (C.7.2.1): from the :class:`ReportContext` (the
  same header the PDF and the ORU print), in the ECG's study (same Study Instance UID).
- Encapsulated Document Series (C.24.1): Modality DOC, one series of reports per ECG.
- General Equipment (C.7.5.1) and SC Equipment (C.8.6.1): ecgread, conversion type WSD.
- Encapsulated Document (C.24.2): the PDF, its MIME type, title, concept name, and the ECG
  as its source instance.
- SOP Common (C.12.1): SOP class 1.2.840.10008.5.1.4.1.1.104.1, UTF-8 character set.

Decisions:

- **UIDs** (PS3.5 B.2, ``2.25.`` + a name-based UUID, see :func:`report_uids`): the SOP
  Instance UID from the ECG's SOP Instance UID and the read ID (one instance per read: a
  corrected read is a new instance); the Series Instance UID from the ECG's SOP Instance
  UID alone (all report versions of one ECG in one series).
- **Concept Name** (C.24.2, Document Title code): LOINC 11524-6 "EKG study", as OBR-4 and the
  ED observation of the ORU; not 18750-0 "Cardiac electrophysiology study", which names an
  invasive EP study.
- **Study Date/Time** are the ECG's acquisition date/time (a resting ECG's study is its
  acquisition); Referring Physician's Name and Study ID are sent empty (Type 2), so they
  cannot contradict the values the PACS already holds for the study.

Example
-------
>>> from reporting.context import ReportContext
>>> ctx = ReportContext(study_instance_uid="1.2.3", sop_instance_uid="1.2.3.4")
>>> ds = encapsulated_pdf(b"%PDF-1.4 x", ctx, 7)
>>> ds.Modality, ds.MIMETypeOfEncapsulatedDocument, ds.StudyInstanceUID
('DOC', 'application/pdf', '1.2.3')
"""

from __future__ import annotations

import uuid
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

if TYPE_CHECKING:
    from ecgread.reporting.context import ReportContext

__all__ = ["CONCEPT_NAME", "ENCAPSULATED_PDF_STORAGE", "REPORT_SERIES_NUMBER",
           "encapsulated_pdf", "report_uids", "to_part10"]

#: Encapsulated PDF Storage SOP class (PS3.4 B.5, PS3.6 A.1).
ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
#: Concept Name Code Sequence item: code value, coding scheme designator, code meaning.
CONCEPT_NAME = ("11524-6", "LN", "EKG study")
#: Series Number (0020,0011) of the report series, out of the way of acquisition series.
REPORT_SERIES_NUMBER = 999
_TITLE = "12-lead ECG report"


def _uuid_uid(name: str) -> str:
    """A ``2.25.`` UID from a name-based (SHA-1, version 5) UUID of ``name`` (PS3.5 B.2,
    ISO/IEC 9834-8 / ITU-T X.667 clause 14)."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, name).int}"


def report_uids(ecg_sop_instance_uid: str, read_id: int) -> tuple[str, str]:
    """(Series Instance UID, SOP Instance UID) of the report of read ``read_id``.

    Deterministic: the same inputs give the same UIDs. (``pydicom.uid.generate_uid`` with
    ``prefix=None`` ignores ``entropy_srcs`` and returns a random UUID UID, and with a prefix
    it concatenates the sources without a separator and appends a 155-digit hash, not a
    UUID; hence name-based UUIDs here.)

    >>> report_uids("1.2.3", 1) == report_uids("1.2.3", 1), report_uids("1.2.3", 1)[1][:5]
    (True, '2.25.')
    """
    series = _uuid_uid(f"urn:ecgread:report-series:{ecg_sop_instance_uid}")
    instance = _uuid_uid(f"urn:ecgread:report-instance:{ecg_sop_instance_uid}:{read_id}")
    return series, instance


def _da(when: datetime | None) -> str:
    return when.strftime("%Y%m%d") if when else ""


def _tm(when: datetime | None) -> str:
    return when.strftime("%H%M%S") if when else ""


def _dt(when: datetime | None) -> str:
    """DT (PS3.5 6.2) with its UTC offset when the time is aware."""
    if when is None:
        return ""
    return when.strftime("%Y%m%d%H%M%S%z" if when.tzinfo else "%Y%m%d%H%M%S")


def encapsulated_pdf(pdf: bytes, context: ReportContext, read_id: int, *,
                     source_sop_class_uid: str | None = None,
                     software_version: str = "", now: datetime | None = None) -> Dataset:
    """The Encapsulated PDF dataset (with file meta) of the report of one read.

    Parameters
    ----------
    pdf:
        The report as rendered.
    context:
        Patient, study and ECG identifiers; ``study_instance_uid`` and ``sop_instance_uid``
        (of the ECG) are required.
    read_id:
        The read whose report this is (instance UID and Instance Number).
    source_sop_class_uid:
        SOP class of the ECG, for the Source Instance Sequence (0042,0013); None omits it.
    software_version:
        Software Versions (0018,1020) of ecgread.
    now:
        Content and instance creation time (default: now, local time).

    Raises
    ------
    ValueError
        The context has no Study Instance UID or no SOP Instance UID (not a DICOM ECG).
    """
    if not context.study_instance_uid or not context.sop_instance_uid:
        raise ValueError("an Encapsulated PDF needs the ECG's Study and SOP Instance UIDs")
    now = now or datetime.now().astimezone()
    series_uid, sop_uid = report_uids(context.sop_instance_uid, read_id)
    ds = Dataset()
    # SOP Common (C.12.1)
    ds.SpecificCharacterSet = "ISO_IR 192"  # (0008,0005) UTF-8 (PS3.3 C.12.1.1.2)
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE  # (0008,0016)
    ds.SOPInstanceUID = sop_uid  # (0008,0018)
    ds.InstanceCreationDate = _da(now)  # (0008,0012)
    ds.InstanceCreationTime = _tm(now)  # (0008,0013)
    # Patient (C.7.1.1): Type 2, empty when unknown
    ds.PatientName = context.patient_name or ""  # (0010,0010) PN, family^given
    ds.PatientID = context.patient_id or ""  # (0010,0020)
    ds.PatientBirthDate = (context.patient_birth_date or "")[:8]  # (0010,0030)
    ds.PatientSex = context.patient_sex or ""  # (0010,0040) M, F or empty
    # General Study (C.7.2.1): the ECG's study
    acquired = context.acquisition_time
    ds.StudyInstanceUID = context.study_instance_uid  # (0020,000D), Type 1
    ds.StudyDate = _da(acquired)  # (0008,0020), Type 2
    ds.StudyTime = _tm(acquired)  # (0008,0030), Type 2
    ds.ReferringPhysicianName = ""  # (0008,0090), Type 2: left to the PACS's study record
    ds.StudyID = ""  # (0020,0010), Type 2
    ds.AccessionNumber = context.accession_number or ""  # (0008,0050), Type 2
    # Encapsulated Document Series (C.24.1)
    ds.Modality = "DOC"  # (0008,0060), Type 1: document
    ds.SeriesInstanceUID = series_uid  # (0020,000E), Type 1
    ds.SeriesNumber = REPORT_SERIES_NUMBER  # (0020,0011), Type 1
    ds.SeriesDescription = _TITLE  # (0008,103E), Type 3
    # General Equipment (C.7.5.1) and SC Equipment (C.8.6.1): the software that made it
    ds.Manufacturer = "ecgread"  # (0008,0070), Type 2
    if context.institution:
        ds.InstitutionName = context.institution  # (0008,0080), Type 3
    if software_version:
        ds.SoftwareVersions = software_version  # (0018,1020), Type 3
    ds.ConversionType = "WSD"  # (0008,0064), Type 1: workstation
    # Encapsulated Document (C.24.2)
    ds.InstanceNumber = read_id  # (0020,0013), Type 1
    ds.ContentDate = _da(now)  # (0008,0023), Type 2
    ds.ContentTime = _tm(now)  # (0008,0033), Type 2
    ds.AcquisitionDateTime = _dt(acquired)  # (0008,002A), Type 2: when the ECG was taken
    ds.BurnedInAnnotation = "YES"  # (0028,0301), Type 1: the PDF shows patient data
    ds.RecognizableVisualFeatures = "NO"  # (0028,0302), Type 3: no faces or photographs
    title = _TITLE if context.result_status != "P" else \
        f"{_TITLE} (unconfirmed computer interpretation)"
    ds.DocumentTitle = title  # (0042,0010), Type 2
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = CONCEPT_NAME
    ds.ConceptNameCodeSequence = Sequence([code])  # (0040,A043), Type 2
    if source_sop_class_uid:
        source = Dataset()  # (0042,0013) Source Instance Sequence, Type 1C: the ECG
        source.ReferencedSOPClassUID = source_sop_class_uid  # (0008,1150)
        source.ReferencedSOPInstanceUID = context.sop_instance_uid  # (0008,1155)
        ds.SourceInstanceSequence = Sequence([source])
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"  # (0042,0012), Type 1
    # (0042,0011) OB, Type 1: padded with one NUL to even length (C.24.2.1), whose true
    # length is Encapsulated Document Length (0042,0015).
    ds.EncapsulatedDocument = pdf + (b"\x00" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    # File meta information (PS3.10 7.1): Explicit VR Little Endian
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(ENCAPSULATED_PDF_STORAGE)  # (0002,0002)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)  # (0002,0003)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian  # (0002,0010)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID  # (0002,0012)
    ds.file_meta = meta
    return ds


def to_part10(ds: Dataset) -> bytes:
    """The dataset as a DICOM Part 10 file (preamble, DICM, file meta; PS3.10 7.1)."""
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()

"""The one table that maps ecgread errors to a DICOM status and an HL7 acknowledgment.

DICOM statuses: PS3.4 Annex B.2.3 (Storage Service Class statuses) and PS3.7 Annex C.
HL7 acknowledgment codes: HL7 v2.5.1 Table 0008 (AA accept, AE error, AR reject);
ERR-3 codes: Table 0357.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ecgread.errors import (
    AccessDeniedError,
    DatabaseBusyError,
    DecodeError,
    EcgreadError,
    IdentifierConflictError,
    InvalidIdentifierError,
    LimitExceededError,
    MessageError,
    NoWaveformError,
    SopClassMismatchError,
    StorageFullError,
    UnsupportedMessageError,
)


class DicomStatus(IntEnum):
    SUCCESS = 0x0000
    #: PS3.4 B.2.3: Refused: Out of Resources.
    OUT_OF_RESOURCES = 0xA700
    #: PS3.4 B.2.3: Error: Data Set does not match SOP Class.
    DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    #: PS3.4 B.2.3: Error: Cannot understand (0xC000-0xCFFF).
    CANNOT_UNDERSTAND = 0xC000
    #: PS3.7 C.5: Failure: Processing failure.
    PROCESSING_FAILURE = 0x0110
    #: PS3.7 C.5: Failure: SOP Class not supported.
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    #: PS3.7 C.5: Failure: Duplicate SOP Instance (the UID is already registered). Sent
    #: when a stored SOP Instance UID arrives with different content: a failure, not the
    #: 0xB000 coercion warning, because carts treat warnings as stored and may delete
    #: their copy, and the new content is not what we read (see dicom_ingest).
    DUPLICATE_SOP_INSTANCE = 0x0111
    #: PS3.7 C.5: Refused: Not authorized.
    NOT_AUTHORIZED = 0x0124


class AckCode:
    ACCEPT = "AA"
    ERROR = "AE"
    REJECT = "AR"


@dataclass(frozen=True)
class Outcome:
    dicom_status: DicomStatus
    hl7_ack: str
    hl7_error_code: int  # ERR-3 (Table 0357)


# Most specific first: the first class the error is an instance of wins.
# ERR-3 205 is "duplicate key identifier" (Table 0357); a limit refusal is AR (the same
# message will never be accepted, do not resend it) with 207.
_TABLE: tuple[tuple[type[BaseException], Outcome], ...] = (
    # A sender not on the allowlist: AR (do not resend), 207 with the reason in ERR-8.
    (AccessDeniedError, Outcome(DicomStatus.NOT_AUTHORIZED, AckCode.REJECT, 207)),
    (IdentifierConflictError, Outcome(DicomStatus.DUPLICATE_SOP_INSTANCE, AckCode.ERROR, 205)),
    (LimitExceededError, Outcome(DicomStatus.OUT_OF_RESOURCES, AckCode.REJECT, 207)),
    # PS3.4 B.2.3 A9xx: the data set is not a conformant instance (its UID is invalid).
    (InvalidIdentifierError,
     Outcome(DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS, AckCode.ERROR, 102)),
    (StorageFullError, Outcome(DicomStatus.OUT_OF_RESOURCES, AckCode.ERROR, 207)),
    # the writer was busy past intake_write_timeout_s: transient, the sender retries
    (DatabaseBusyError, Outcome(DicomStatus.OUT_OF_RESOURCES, AckCode.ERROR, 207)),
    (SopClassMismatchError,
     Outcome(DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS, AckCode.ERROR, 207)),
    (NoWaveformError, Outcome(DicomStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS, AckCode.ERROR, 207)),
    (DecodeError, Outcome(DicomStatus.CANNOT_UNDERSTAND, AckCode.ERROR, 102)),
    (UnsupportedMessageError, Outcome(DicomStatus.CANNOT_UNDERSTAND, AckCode.REJECT, 200)),
    (MessageError, Outcome(DicomStatus.CANNOT_UNDERSTAND, AckCode.ERROR, 101)),
    (EcgreadError, Outcome(DicomStatus.PROCESSING_FAILURE, AckCode.ERROR, 207)),
)
_UNEXPECTED = Outcome(DicomStatus.PROCESSING_FAILURE, AckCode.ERROR, 207)


def outcome_for(error: BaseException) -> Outcome:
    """The DICOM status and HL7 ACK for an error; anything unexpected is a processing failure.

    A :class:`MessageError` carries its own ERR-3 code, which takes precedence.
    """
    for cls, outcome in _TABLE:
        if isinstance(error, cls):
            if isinstance(error, MessageError):
                return Outcome(outcome.dicom_status, outcome.hl7_ack, error.code)
            return outcome
    return _UNEXPECTED

"""The one error hierarchy of ecgread: the bottom module, importable from every layer.

It imports nothing but the standard library and does no I/O, so the pure core
(``ecgread.models``) raises these too. Every error the product raises on purpose derives
from :class:`EcgreadError`. ``integration.status_map`` maps each class once to a DICOM
status and an HL7 acknowledgment code; nothing else maps errors.
"""

from __future__ import annotations


class EcgreadError(Exception):
    """Root of every deliberate ecgread error."""


class ConfigError(EcgreadError, ValueError):
    """Settings or the model registry are invalid."""


class DecodeError(EcgreadError, ValueError):
    """An input (DICOM object, WFDB record) cannot be turned into an Ecg.

    ``reason`` is safe to return to the sender and to log: it never holds patient data.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoWaveformError(DecodeError):
    """The object decodes but carries no usable ECG waveform."""


class SopClassMismatchError(DecodeError):
    """The dataset's content does not match the SOP class it was sent under."""


class StorageFullError(EcgreadError, OSError):
    """The object store has no room left; the sender should retry later."""


class MessageError(EcgreadError, ValueError):
    """An HL7 message is malformed.

    ``segment``/``field`` locate the fault (HL7 ERR-2), ``code`` is the HL7
    table 0357 error code (ERR-3), e.g. 100 segment sequence, 101 required field
    missing, 102 data type error, 200 unsupported message type, 201 unsupported event.
    """

    def __init__(self, reason: str, code: int = 101, segment: str = "", field: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.segment = segment
        self.field = field


class UnsupportedMessageError(MessageError):
    """A well-formed HL7 message of a type or trigger we do not take (ACK AR)."""


class DeliveryError(EcgreadError, ConnectionError):
    """An outbound delivery (MLLP, C-STORE) failed in a way worth retrying.

    ``outcome`` names the fault for the delivery's attempt row: ``"timeout"`` (no answer in
    time), ``"refused"`` (no connection), ``"closed"`` (the peer hung up), ``"garbage"``
    (an answer that is no acknowledgment) or ``"error"``.
    """

    def __init__(self, reason: str, outcome: str = "error") -> None:
        super().__init__(reason)
        self.outcome = outcome


class DatabaseBusyError(EcgreadError):
    """The audit database's writer did not become free within the intake's lock timeout
    (``intake_write_timeout_s``): refused with 0xA700 / AE 207 so the sender retries."""


class ModelError(EcgreadError, RuntimeError):
    """A model file is missing, has the wrong checksum, or cannot be loaded."""


class CorruptFileError(DecodeError):
    """An ECG file is truncated or inconsistent: a bad checksum, base64 or compressed
    stream, a length or offset past the end, a missing required element."""


class UnsupportedVariantError(DecodeError):
    """A file of a format we read uses a variant we do not decode (e.g. SCP-ECG reference
    beat subtraction or custom Huffman tables, an unknown compression)."""


class InputTooLargeError(DecodeError):
    """An input exceeds a size limit (file bytes, leads, samples); refused before decoding."""


class MissingModelError(ModelError):
    """The analysis needs a neural model it was not given.

    The core never loads models: the configured delineator needs the delineation network
    and the caller passed none, or the models it passed have no delineator (the registry
    registers none). Load them at the edge (``ecgread.workers.onnx_models``) and pass them.
    """


class InvalidIdentifierError(DecodeError):
    """A received identifier (SOP Instance UID, ...) is not valid for its type.

    ``reason`` never repeats the identifier itself: it may hold control characters or a
    path, and it goes back to the sender and into logs.
    """


class LimitExceededError(InputTooLargeError):
    """A received object or message is beyond a limit of the listeners' settings (size,
    samples, orders, connections): refused with 0xA700 / AR and recorded.

    ``limit`` names the setting (e.g. ``dicom_max_object_bytes``); ``reason`` is safe to
    send back and to log.
    """

    def __init__(self, reason: str, limit: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.limit = limit


class IdentifierConflictError(EcgreadError):
    """An identifier already received (SOP Instance UID, MSH-10) came with different
    content. Both copies are kept; the first stays the one of record.

    ``segment``/``field`` locate the identifier for HL7 ERR-2 (e.g. MSH-10).
    """

    def __init__(self, reason: str, segment: str = "", field: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segment = segment
        self.field = field


class AccessDeniedError(EcgreadError, PermissionError):
    """A peer is not on the allowlist for what it sent (an HL7 sender not allowed from its
    address): refused with AR, recorded, never stored. ``reason`` names the rule, never the
    received values; ``segment``/``field`` locate it for HL7 ERR-2 (MSH-3)."""

    def __init__(self, reason: str, segment: str = "", field: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segment = segment
        self.field = field

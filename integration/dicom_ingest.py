"""What the DICOM listener does with one received object: validate, persist, record.

:meth:`Ingestor.ingest` is the whole C-STORE path without the network (so it is tested
directly as well as through the SCP):

1. Validate: the C-STORE's Affected SOP Class is the presentation context's; the data set
   parses; its SOP Class UID (0008,0016) and SOP Instance UID (0008,0018) are the ones the
   request names; it decodes into an Ecg (:func:`integration.dicom_decode.decode_dataset`).
   Before any of that: the SOP Instance UID must be a valid UID (PS3.5 9.1,
   :func:`integration.identifiers.check_dicom_uid`; else 0xA900), the data set at most
   ``dicom_max_object_bytes``, a deflated one at most ``dicom_max_inflated_bytes`` once
   inflated (checked by a bounded inflate before pydicom sees it) and the waveform at
   most ``max_samples`` (else 0xA700, out of resources).
2. A SOP Instance UID already in the ``ecg`` table is a resend: a ``received`` row with
   ``duplicate=True`` and the event ``ecgread.dicom.duplicate``; nothing is written and
   no read is started (one read, not two). "The same" means the same bytes, or the same
   decoded content (signal, rate, leads, header) sent in another transfer syntax.
   Different content under a stored UID is a conflict: the new copy is written durably
   beside the first (a key of its own), recorded (``received`` row with status 0x0111 and
   ``ecgread.dicom.conflict``), and answered 0x0111 Duplicate SOP Instance (PS3.7 C.5), a
   failure, so the sender keeps its copy and someone looks; the first stays the one read.
3. Otherwise write the object as sent (file meta + data set bytes) durably
   (:func:`integration.object_store.store_object`), then commit the ``received`` row, the
   ``ecg`` row (state ``received``) and ``ecgread.dicom.stored`` in ONE short transaction,
   in the writer turn both listeners share (:func:`integration.intake.commit`): a writer
   busy past ``intake_write_timeout_s`` gives 0xA700 (the cart retries), recorded.
4. Only after that commit: ``on_stored(sop_instance_uid)`` (enqueue the read). Its errors
   are logged and do not change the outcome: the row is committed, and the start-up
   sweep (:mod:`integration.recovery`) re-enqueues it.

Any exception becomes a failure status through :func:`integration.status_map.outcome_for`
(the one table; STYLE #5) and a ``received`` row with the status and the reason, plus
``ecgread.dicom.rejected`` (:func:`integration.intake.record`: written after the reply
when the writer is busy, never skipped). Plain logs carry the SOP Instance UID, the
status and the peer (received text through :func:`integration.identifiers.printable`),
never patient data.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.audit.tables import EcgRecord, Received
from ecgread.config.settings import Settings
from ecgread.errors import (
    DecodeError,
    EcgreadError,
    IdentifierConflictError,
    LimitExceededError,
    SopClassMismatchError,
)
from ecgread.integration import intake
from ecgread.integration.dicom_decode import decode_dataset, decode_file
from ecgread.integration.identifiers import check_dicom_uid, is_dicom_uid, printable
from ecgread.integration.object_store import store_object
from ecgread.integration.status_map import DicomStatus, outcome_for
from ecgread.models.ecg import Ecg

__all__ = ["Peer", "IngestResult", "Ingestor", "status_text"]

log = logging.getLogger("ecgread.dicom")

#: Error Comment (0000,0902) is LO: at most 64 characters (PS3.7 C.4.2.1.1).
MAX_COMMENT_CHARS = 64
_UID_STRIPES = 64


def status_text(status: DicomStatus | int) -> str:
    """``0x0000``-style text stored in ``received.status``."""
    return f"0x{int(status):04X}"


@dataclass(frozen=True)
class Peer:
    host: str
    port: int | None
    calling_ae: str
    called_ae: str


@dataclass(frozen=True)
class IngestResult:
    """The status to send back, and what happened."""

    status: DicomStatus
    sop_instance_uid: str
    reason: str | None = None  # failure reason, safe to send as Error Comment and to log
    duplicate: bool = False
    path: str | None = None
    elapsed_ms: float = 0.0

    @property
    def error_comment(self) -> str | None:
        if self.reason is None:
            return None
        text = self.reason.encode("ascii", "replace").decode().replace("\\", "/")
        if len(text) > MAX_COMMENT_CHARS:
            text = text[: MAX_COMMENT_CHARS - 3] + "..."
        return text


class Ingestor:
    """The C-STORE path for one listener (thread-safe; one per server)."""

    def __init__(self, settings: Settings, on_stored: Callable[[str], None] | None = None):
        self.settings = settings
        self.on_stored = on_stored
        self._uid_locks = [threading.Lock() for _ in range(_UID_STRIPES)]

    def ingest(self, data: bytes, *, context_sop_class: str, sop_class_uid: str,
               sop_instance_uid: str, peer: Peer, transfer_syntax: str = "") -> IngestResult:
        """Handle one received object (file meta + data set bytes). Never raises."""
        started = time.perf_counter()
        try:
            check_dicom_uid(sop_instance_uid)
            _check_size(data, transfer_syntax, self.settings)
            ecg = _validate(data, context_sop_class, sop_class_uid, sop_instance_uid,
                            self.settings.max_samples)
            lock = self._uid_locks[hash(sop_instance_uid) % _UID_STRIPES]
            with lock:
                result = self._persist(data, ecg, sop_class_uid, sop_instance_uid, peer,
                                       transfer_syntax)
        except Exception as exc:  # the one wrapper: every failure becomes a status (STYLE #5)
            result = self._reject(exc, sop_class_uid, sop_instance_uid, peer, len(data))
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        result = IngestResult(result.status, result.sop_instance_uid, result.reason,
                              result.duplicate, result.path, elapsed_ms)
        log.info("dicom store sop=%s peer=%s@%s -> %s%s (%.1f ms)", printable(sop_instance_uid),
                 printable(peer.calling_ae), peer.host, status_text(result.status),
                 " duplicate" if result.duplicate else "", elapsed_ms)
        if result.status == DicomStatus.SUCCESS and not result.duplicate and self.on_stored:
            try:
                self.on_stored(sop_instance_uid)
            except Exception as exc:  # committed already; recovery re-enqueues it
                log.warning("enqueue of sop=%s failed (%s); recovery will retry it",
                            sop_instance_uid, type(exc).__name__)
        return result

    def _persist(self, data: bytes, ecg: Ecg, sop_class_uid: str, sop_instance_uid: str,
                 peer: Peer, transfer_syntax: str) -> IngestResult:
        url = self.settings.audit_url
        with session_scope(url) as session:
            existing = session.exec(select(EcgRecord).where(
                EcgRecord.sop_instance_uid == sop_instance_uid)).first()
        if existing is not None:
            return self._duplicate(existing, data, ecg, sop_class_uid, sop_instance_uid, peer)
        stored = store_object(self.settings.store_dir, sop_instance_uid, data,
                              self.settings.store_min_free_bytes)
        acq = ecg.acquisition
        def stored_rows(session: Session) -> None:
            rec = _received(peer, sop_instance_uid, sop_class_uid, DicomStatus.SUCCESS,
                            path=str(stored.path), sha256=stored.sha256,
                            patient_id=acq.patient_id, accession_number=acq.accession_number)
            session.add(rec)
            session.flush()
            session.add(EcgRecord(
                sop_instance_uid=sop_instance_uid, sop_class_uid=sop_class_uid,
                study_instance_uid=acq.study_instance_uid, received_id=rec.id,
                path=str(stored.path), patient_id=acq.patient_id,
                accession_number=acq.accession_number,
                acquisition_time=acq.acquisition_time, state="received"))
            session.flush()
            log_action(session, "ecgread.dicom.stored", subject=f"ecg:{sop_instance_uid}",
                       trace_id=sop_instance_uid, received_id=rec.id,
                       sop_class=sop_class_uid, sha256=stored.sha256,
                       size_bytes=stored.size_bytes, transfer_syntax=transfer_syntax,
                       peer=f"{peer.host}:{peer.port}", calling_ae=peer.calling_ae,
                       leads=list(ecg.lead_names), sampling_rate_hz=ecg.sampling_rate_hz,
                       n_samples=ecg.n_samples)

        try:
            intake.commit(self.settings, stored_rows)
        except IntegrityError:
            # Another association committed this UID first (after our check): a resend.
            with session_scope(url) as session:
                existing = session.exec(select(EcgRecord).where(
                    EcgRecord.sop_instance_uid == sop_instance_uid)).first()
            if existing is None:
                raise
            return self._duplicate(existing, data, ecg, sop_class_uid, sop_instance_uid, peer)
        return IngestResult(DicomStatus.SUCCESS, sop_instance_uid, path=str(stored.path))

    def _duplicate(self, existing: EcgRecord, data: bytes, ecg: Ecg, sop_class_uid: str,
                   sop_instance_uid: str, peer: Peer) -> IngestResult:
        digest = hashlib.sha256(data).hexdigest()
        with session_scope(self.settings.audit_url) as session:
            first = session.get(Received, existing.received_id) if existing.received_id else None
            first_sha = first.sha256 if first is not None else None
        if first_sha != digest and not _same_content(existing.path, ecg):
            return self._conflict(existing, data, digest, sop_class_uid, sop_instance_uid, peer)
        def duplicate_rows(session: Session) -> None:
            rec = _received(peer, sop_instance_uid, sop_class_uid, DicomStatus.SUCCESS,
                            path=existing.path, sha256=digest, duplicate=True,
                            patient_id=ecg.acquisition.patient_id,
                            accession_number=ecg.acquisition.accession_number)
            session.add(rec)
            session.flush()
            log_action(session, "ecgread.dicom.duplicate", subject=f"ecg:{sop_instance_uid}",
                       trace_id=sop_instance_uid, received_id=rec.id,
                       first_received_id=existing.received_id,
                       same_bytes=first_sha == digest, same_content=True,
                       peer=f"{peer.host}:{peer.port}", calling_ae=peer.calling_ae)

        intake.commit(self.settings, duplicate_rows)
        return IngestResult(DicomStatus.SUCCESS, sop_instance_uid, duplicate=True,
                            path=existing.path)

    def _conflict(self, existing: EcgRecord, data: bytes, digest: str, sop_class_uid: str,
                  sop_instance_uid: str, peer: Peer) -> IngestResult:
        """Keep the second copy under a key of its own, record it, answer 0x0111."""
        error = IdentifierConflictError("SOP Instance UID already stored with other content")
        status = outcome_for(error).dicom_status
        stored = store_object(self.settings.store_dir, f"{sop_instance_uid}#{digest}", data,
                              self.settings.store_min_free_bytes)
        def conflict_rows(session: Session) -> None:
            rec = _received(peer, sop_instance_uid, sop_class_uid, status,
                            path=str(stored.path), sha256=digest, duplicate=True,
                            reason=error.reason)
            session.add(rec)
            session.flush()
            log_action(session, "ecgread.dicom.conflict", subject=f"ecg:{sop_instance_uid}",
                       trace_id=sop_instance_uid, received_id=rec.id,
                       first_received_id=existing.received_id, status=status_text(status),
                       reason=error.reason, sha256=digest, path=str(stored.path),
                       peer=f"{peer.host}:{peer.port}", calling_ae=peer.calling_ae)

        intake.commit(self.settings, conflict_rows)
        log.warning("dicom store sop=%s peer=%s@%s: same UID, different content; kept both",
                    sop_instance_uid, printable(peer.calling_ae), peer.host)
        return IngestResult(status, sop_instance_uid, reason=error.reason, duplicate=True,
                            path=str(stored.path))

    def _reject(self, exc: BaseException, sop_class_uid: str, sop_instance_uid: str,
                peer: Peer, size_bytes: int | None = None) -> IngestResult:
        status = outcome_for(exc).dicom_status
        if isinstance(exc, (DecodeError, LimitExceededError)):
            reason = exc.reason
        elif isinstance(exc, EcgreadError):
            reason = str(exc) or type(exc).__name__
        else:
            reason = f"internal error ({type(exc).__name__}); retry later"
            log.error("C-STORE of sop=%s failed: %s", printable(sop_instance_uid),
                      type(exc).__name__)
        # An invalid UID is kept as escaped text: it never becomes a path, and the audit
        # trail still shows what was sent.
        uid = sop_instance_uid if is_dicom_uid(sop_instance_uid) else printable(
            sop_instance_uid, 64)
        def rejected_rows(session: Session, recorded_late: bool) -> None:
            rec = _received(peer, uid, sop_class_uid, status, reason=reason)
            session.add(rec)
            session.flush()
            log_action(session, "ecgread.dicom.rejected", subject=f"ecg:{uid}",
                       trace_id=uid or None, received_id=rec.id,
                       status=status_text(status), reason=reason,
                       error=type(exc).__name__, limit=getattr(exc, "limit", None),
                       size_bytes=size_bytes, peer=f"{peer.host}:{peer.port}",
                       calling_ae=peer.calling_ae, recorded_late=recorded_late or None)

        # the failure status goes out whether the record is written now or, when the
        # writer is busy, by the recorder once it is free
        intake.record(self.settings, rejected_rows, f"rejected sop={printable(uid)}")
        return IngestResult(status, sop_instance_uid, reason=reason)


def _received(peer: Peer, sop_instance_uid: str, sop_class_uid: str, status: DicomStatus,
              **fields: object) -> Received:
    return Received(protocol="dicom", peer_host=peer.host, peer_port=peer.port,
                    calling_ae=peer.calling_ae or None, called_ae=peer.called_ae or None,
                    identifier=sop_instance_uid or None, kind=sop_class_uid or None,
                    status=status_text(status), **fields)  # type: ignore[arg-type]


def _dataset_offset(data: bytes) -> int:
    """Where the data set starts after the preamble, ``DICM`` and the file meta group,
    from File Meta Information Group Length (0002,0000), explicit VR LE (PS3.10 7.1)."""
    pos = 132 if data[128:132] == b"DICM" else 0
    if data[pos:pos + 6] != b"\x02\x00\x00\x00UL":
        raise DecodeError("file meta has no group length (0002,0000)")
    return pos + 12 + int.from_bytes(data[pos + 8:pos + 12], "little")


def inflated_size(deflated: bytes, limit: int) -> int:
    """Bytes ``deflated`` (raw deflate, PS3.5 A.5) inflates to, counting at most ``limit``
    + 1 of them in chunks of 1 MiB that are thrown away (memory stays bounded).

    Raises :class:`DecodeError` when the stream is corrupt.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    pending = deflated
    try:
        while pending and not inflater.eof and total <= limit:
            total += len(inflater.decompress(pending, 1 << 20))
            pending = inflater.unconsumed_tail
        if total <= limit and not inflater.eof:
            total += len(inflater.flush())
    except zlib.error as exc:
        raise DecodeError("deflated data set is corrupt") from exc
    return total


def _check_size(data: bytes, transfer_syntax: str, settings: Settings) -> None:
    """The size limits of one received object (:class:`LimitExceededError`)."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    if len(data) > settings.dicom_max_object_bytes:
        raise LimitExceededError(
            f"data set larger than {settings.dicom_max_object_bytes} bytes",
            "dicom_max_object_bytes")
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        limit = settings.dicom_max_inflated_bytes
        if inflated_size(data[_dataset_offset(data):], limit) > limit:
            raise LimitExceededError(f"data set inflates to more than {limit} bytes",
                                     "dicom_max_inflated_bytes")


def content_digest(ecg: Ecg) -> str:
    """sha256 over what an ECG says (samples, rate, leads, header), not how it was encoded:
    the same ECG sent in two transfer syntaxes has one digest."""
    h = hashlib.sha256()
    h.update(ecg.signal_uv.tobytes())
    h.update(repr((ecg.sampling_rate_hz, tuple(ecg.lead_names), ecg.acquisition)).encode())
    return h.hexdigest()


def _same_content(stored_path: str, ecg: Ecg) -> bool:
    """Whether the stored object decodes to the same ECG as ``ecg``."""
    try:
        first = decode_file(stored_path)
    except DecodeError:
        return False
    return content_digest(first) == content_digest(ecg)


def _validate(data: bytes, context_sop_class: str, sop_class_uid: str,
              sop_instance_uid: str, max_samples: int | None = None) -> Ecg:
    """The Ecg the object holds, or the error that says why it is not acceptable."""
    from pydicom import dcmread

    if sop_class_uid != context_sop_class:
        raise SopClassMismatchError("Affected SOP Class differs from the presentation context")
    try:
        ds = dcmread(BytesIO(data), force=True)
        dataset_class = str(ds.get("SOPClassUID", "") or "")
        dataset_instance = str(ds.get("SOPInstanceUID", "") or "")
    except Exception as exc:
        raise DecodeError(f"data set cannot be parsed ({type(exc).__name__})") from exc
    if not dataset_class:
        raise SopClassMismatchError("data set has no SOP Class UID")
    if dataset_class != sop_class_uid:
        raise SopClassMismatchError(f"data set SOP class {dataset_class[:30]} != request")
    check_dicom_uid(dataset_instance, "data set SOP Instance UID")
    if dataset_instance != sop_instance_uid:
        raise DecodeError("data set SOP Instance UID differs from the request")
    return decode_dataset(ds, source=sop_instance_uid, max_samples=max_samples)

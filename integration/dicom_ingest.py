"""What the DICOM listener does with one received object: validate, persist, record.

:meth:`Ingestor.ingest` is the whole C-STORE path without the network (so it is tested
directly as well as through the SCP):

1. Validate: the C-STORE's Affected SOP Class is the presentation context's; the data set
   parses; its SOP Class UID (0008,0016) and SOP Instance UID (0008,0018) are the ones the
   request names; it decodes into an Ecg (:func:`integration.dicom_decode.decode_dataset`).
2. A SOP Instance UID already in the ``ecg`` table is a resend: a ``received`` row with
   ``duplicate=True`` and the event ``ecgread.dicom.duplicate``; nothing is written and
   no read is started (one read, not two).
3. Otherwise write the object as sent (file meta + data set bytes) durably
   (:func:`integration.object_store.store_object`), then commit the ``received`` row, the
   ``ecg`` row (state ``received``) and ``ecgread.dicom.stored`` in ONE transaction.
4. Only after that commit: ``on_stored(sop_instance_uid)`` (enqueue the read). Its errors
   are logged and do not change the outcome: the row is committed, and the start-up
   sweep (:mod:`integration.recovery`) re-enqueues it.

Any exception becomes a failure status through :func:`integration.status_map.outcome_for`
(the one table; STYLE #5) and a ``received`` row with the status and the reason, plus
``ecgread.dicom.rejected``. Plain logs carry the SOP Instance UID, the status and the peer,
never patient data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.audit.tables import EcgRecord, Received
from ecgread.config.settings import Settings
from ecgread.errors import DecodeError, EcgreadError, SopClassMismatchError
from ecgread.integration.dicom_decode import decode_dataset
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
        self._db_lock = threading.Lock()  # SQLite takes one writer; queue them here
        self._uid_locks = [threading.Lock() for _ in range(_UID_STRIPES)]

    @contextmanager
    def _write_turn(self) -> Iterator[None]:
        if self.settings.audit_url.startswith("sqlite"):
            with self._db_lock:
                yield
        else:
            yield

    def ingest(self, data: bytes, *, context_sop_class: str, sop_class_uid: str,
               sop_instance_uid: str, peer: Peer, transfer_syntax: str = "") -> IngestResult:
        """Handle one received object (file meta + data set bytes). Never raises."""
        started = time.perf_counter()
        try:
            ecg = _validate(data, context_sop_class, sop_class_uid, sop_instance_uid)
            lock = self._uid_locks[hash(sop_instance_uid) % _UID_STRIPES]
            with lock:
                result = self._persist(data, ecg, sop_class_uid, sop_instance_uid, peer,
                                       transfer_syntax)
        except Exception as exc:  # the one wrapper: every failure becomes a status (STYLE #5)
            result = self._reject(exc, sop_class_uid, sop_instance_uid, peer)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        result = IngestResult(result.status, result.sop_instance_uid, result.reason,
                              result.duplicate, result.path, elapsed_ms)
        log.info("dicom store sop=%s peer=%s@%s -> %s%s (%.1f ms)", sop_instance_uid,
                 peer.calling_ae, peer.host, status_text(result.status),
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
        try:
            with self._write_turn(), session_scope(url) as session:
                rec = _received(peer, sop_instance_uid, sop_class_uid, DicomStatus.SUCCESS,
                                path=str(stored.path), sha256=stored.sha256,
                                patient_id=acq.patient_id,
                                accession_number=acq.accession_number)
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
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        with self._write_turn(), session_scope(self.settings.audit_url) as session:
            first = session.get(Received, existing.received_id) if existing.received_id else None
            rec = _received(peer, sop_instance_uid, sop_class_uid, DicomStatus.SUCCESS,
                            path=existing.path, sha256=digest, duplicate=True,
                            patient_id=ecg.acquisition.patient_id,
                            accession_number=ecg.acquisition.accession_number)
            session.add(rec)
            session.flush()
            log_action(session, "ecgread.dicom.duplicate", subject=f"ecg:{sop_instance_uid}",
                       trace_id=sop_instance_uid, received_id=rec.id,
                       first_received_id=existing.received_id,
                       same_content=first is not None and first.sha256 == digest,
                       peer=f"{peer.host}:{peer.port}", calling_ae=peer.calling_ae)
        return IngestResult(DicomStatus.SUCCESS, sop_instance_uid, duplicate=True,
                            path=existing.path)

    def _reject(self, exc: BaseException, sop_class_uid: str, sop_instance_uid: str,
                peer: Peer) -> IngestResult:
        status = outcome_for(exc).dicom_status
        if isinstance(exc, DecodeError):
            reason = exc.reason
        elif isinstance(exc, EcgreadError):
            reason = str(exc) or type(exc).__name__
        else:
            reason = f"internal error ({type(exc).__name__}); retry later"
            log.error("C-STORE of sop=%s failed: %s", sop_instance_uid, type(exc).__name__)
        try:
            with self._write_turn(), session_scope(self.settings.audit_url) as session:
                rec = _received(peer, sop_instance_uid, sop_class_uid, status, reason=reason)
                session.add(rec)
                session.flush()
                log_action(session, "ecgread.dicom.rejected", subject=f"ecg:{sop_instance_uid}",
                           trace_id=sop_instance_uid or None, received_id=rec.id,
                           status=status_text(status), reason=reason,
                           error=type(exc).__name__, peer=f"{peer.host}:{peer.port}",
                           calling_ae=peer.calling_ae)
        except Exception as db_exc:  # the failure status still goes out
            log.error("could not record rejected sop=%s: %s", sop_instance_uid,
                      type(db_exc).__name__)
        return IngestResult(status, sop_instance_uid, reason=reason)


def _received(peer: Peer, sop_instance_uid: str, sop_class_uid: str, status: DicomStatus,
              **fields: object) -> Received:
    return Received(protocol="dicom", peer_host=peer.host, peer_port=peer.port,
                    calling_ae=peer.calling_ae or None, called_ae=peer.called_ae or None,
                    identifier=sop_instance_uid or None, kind=sop_class_uid or None,
                    status=status_text(status), **fields)  # type: ignore[arg-type]


def _validate(data: bytes, context_sop_class: str, sop_class_uid: str,
              sop_instance_uid: str) -> Ecg:
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
    if dataset_instance != sop_instance_uid:
        raise DecodeError("data set SOP Instance UID differs from the request")
    return decode_dataset(ds, source=sop_instance_uid)

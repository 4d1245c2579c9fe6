"""The DICOM listener (pynetdicom SCP): C-ECHO, and C-STORE of ECG waveforms.

Presentation contexts (PS3.4 B.5, PS3.5 A): Verification and the three ECG waveform
storage SOP classes (12-lead, General, Ambulatory), each with Implicit VR Little Endian,
Explicit VR Little Endian, Explicit VR Big Endian and Deflated Explicit VR Little Endian.
Any other SOP class is refused at association negotiation (abstract syntax not supported,
PS3.8 9.3.3.2), so nothing is ever accepted and silently dropped; the refusal is recorded
as ``ecgread.dicom.context.rejected``.

Associations (PS3.8 9.3.4): a called AE title other than ``dicom_ae_title`` gets
A-ASSOCIATE-RJ rejected-permanent / service-user / called-AE-title-not-recognized; with
``dicom_allowed_peers`` set (``CALLING_AE@HOST`` pairs, :mod:`integration.security`), a
calling AE title no entry names gets rejected-permanent / service-user /
calling-AE-title-not-recognized, and a known one from a host not listed for it
rejected-permanent / service-user / no-reason-given; one association more than
``dicom_max_associations`` gets rejected-transient / service-provider (presentation) /
local-limit-exceeded. Each refusal is recorded as ``ecgread.dicom.association.rejected``.

TLS (``dicom_tls``, PS3.15 B.9 BCP 195 profile): the listener speaks TLS only, with
:func:`integration.security.server_context`. The handshake runs on the connection's own
thread, bounded by ``dicom_acse_timeout_s``, so a silent client never holds up the accept
loop; a failed handshake is recorded as ``ecgread.dicom.connection.rejected``.

Limits: a connection has ``dicom_acse_timeout_s`` to send its A-ASSOCIATE-RQ and may then
be silent ``dicom_idle_timeout_s`` before it is aborted; PDUs are at most
:data:`MAX_PDU_BYTES`; a data set whose P-DATA fragments pass ``dicom_max_object_bytes``
is aborted (A-ABORT) while it arrives, so it is never held whole, and recorded as
``ecgread.dicom.association.aborted``.

C-STORE: :class:`integration.dicom_ingest.Ingestor` (validate, write durably, commit,
then Success, then ``on_stored``). Failures carry an Error Comment (0000,0902).

Run alone: ``python -m ecgread.integration.dicom_scp --home var --port 11112`` (prints
``listening HOST PORT`` once bound; no reads are started, ``ecgread serve`` does that).
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from enum import IntEnum
from typing import Any, cast

from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from ecgread.audit.anchor import open_audit
from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.config.settings import Settings, load_settings
from ecgread.integration.dicom_decode import SUPPORTED_ECG_SOP_CLASSES
from ecgread.integration.dicom_ingest import Ingestor, IngestResult, Peer
from ecgread.integration.identifiers import escape_library_logs, printable
from ecgread.integration.object_store import private_dir
from ecgread.integration.security import (
    bind_host,
    dicom_rules,
    identity_known,
    peer_allowed,
    server_context,
)
from ecgread.integration.status_map import DicomStatus

__all__ = ["TRANSFER_SYNTAXES", "RejectResult", "RejectSource", "RejectDiagnostic",
           "build_ae", "serve", "main"]

log = logging.getLogger("ecgread.dicom")

#: Largest PDU we accept (Maximum Length Received, PS3.8 D.1): large enough that an ECG
#: needs few PDUs, small enough that one PDU is never a memory problem.
MAX_PDU_BYTES = 4 * 1024 * 1024

TRANSFER_SYNTAXES: tuple[str, ...] = (
    ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
)


class RejectResult(IntEnum):
    """A-ASSOCIATE-RJ Result (PS3.8 9.3.4)."""

    PERMANENT = 1
    TRANSIENT = 2


class RejectSource(IntEnum):
    """A-ASSOCIATE-RJ Source (PS3.8 9.3.4)."""

    SERVICE_USER = 1
    SERVICE_PROVIDER_PRESENTATION = 3


class RejectDiagnostic(IntEnum):
    """A-ASSOCIATE-RJ Reason/Diag. for source service-user (PS3.8 9.3.4)."""

    NO_REASON_GIVEN = 1
    CALLING_AE_TITLE_NOT_RECOGNIZED = 3
    CALLED_AE_TITLE_NOT_RECOGNIZED = 7
    #: With source service-provider (presentation related function): local limit exceeded.
    LOCAL_LIMIT_EXCEEDED = 2


def build_ae(settings: Settings) -> AE:
    """The AE with our supported contexts only (no unrestricted storage)."""
    ae = AE(ae_title=settings.dicom_ae_title)
    ae.add_supported_context(Verification, list(TRANSFER_SYNTAXES))
    for sop_class in SUPPORTED_ECG_SOP_CLASSES:
        ae.add_supported_context(sop_class, list(TRANSFER_SYNTAXES))
    ae.maximum_pdu_size = MAX_PDU_BYTES
    ae.maximum_associations = settings.dicom_max_associations
    ae.acse_timeout = settings.dicom_acse_timeout_s
    ae.network_timeout = settings.dicom_idle_timeout_s
    return ae


def _peer(assoc: Any) -> Peer:
    rq = assoc.requestor.primitive
    calling = getattr(rq, "calling_ae_title", None) or assoc.requestor.ae_title or ""
    called = getattr(rq, "called_ae_title", None) or ""
    return Peer(host=str(assoc.requestor.address), port=int(assoc.requestor.port),
                calling_ae=str(calling).strip(), called_ae=str(called).strip())


def _record(settings: Settings, action: str, peer: Peer, **detail: Any) -> None:
    try:
        with session_scope(settings.audit_url) as session:
            log_action(session, action, subject=f"dicom-peer:{peer.calling_ae}@{peer.host}",
                       peer=f"{peer.host}:{peer.port}", calling_ae=peer.calling_ae,
                       called_ae=peer.called_ae, **detail)
    except Exception as exc:  # the network answer does not wait on the audit trail
        log.error("could not record %s: %s", action, type(exc).__name__)


def _on_requested(event: Any, settings: Settings) -> None:
    """EVT_REQUESTED: the association limit and the allowlist, before any negotiation."""
    peer = _peer(event.assoc)
    result, source = RejectResult.PERMANENT, RejectSource.SERVICE_USER
    acceptors = [a for a in event.assoc.ae.active_associations if a.is_acceptor]
    if len(acceptors) > settings.dicom_max_associations:
        result, source = RejectResult.TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION
        diagnostic = RejectDiagnostic.LOCAL_LIMIT_EXCEEDED
        reason = f"more than {settings.dicom_max_associations} associations"
    elif peer.called_ae != settings.dicom_ae_title:
        diagnostic = RejectDiagnostic.CALLED_AE_TITLE_NOT_RECOGNIZED
        reason = "called AE title is not ours"
    elif not peer_allowed(rules := dicom_rules(settings), peer.calling_ae, peer.host):
        if identity_known(rules, peer.calling_ae):
            diagnostic = RejectDiagnostic.NO_REASON_GIVEN
            reason = "calling AE not allowed from this address"
        else:
            diagnostic = RejectDiagnostic.CALLING_AE_TITLE_NOT_RECOGNIZED
            reason = "calling AE not allowed"
    else:
        return
    log.warning("association from %s@%s rejected: %s", printable(peer.calling_ae),
                peer.host, reason)
    _record(settings, "ecgread.dicom.association.rejected", peer, reason=reason,
            result=result.name, diagnostic=diagnostic.name)
    event.assoc.acse.send_reject(result, source, diagnostic)
    # As pynetdicom does for its own rejections: wait until the DUL has sent the
    # A-ASSOCIATE-RJ and the peer closed (or the ARTIM timer ran out) before the socket goes.
    event.assoc.kill()


def _on_accepted(event: Any, settings: Settings) -> None:
    """EVT_ACCEPTED: record the presentation contexts we refused (other SOP classes)."""
    refused = sorted({str(cx.abstract_syntax) for cx in event.assoc.rejected_contexts})
    if refused:
        peer = _peer(event.assoc)
        log.info("association from %s@%s: %d context(s) refused", printable(peer.calling_ae),
                 peer.host, len(refused))
        _record(settings, "ecgread.dicom.context.rejected", peer, sop_classes=refused)


class _SizeGuard:
    """EVT_PDU_RECV: counts the data set bytes of the message each association is
    receiving and aborts the association once they pass ``dicom_max_object_bytes``, so an
    oversized object is never held whole (pynetdicom assembles it before EVT_C_STORE)."""

    #: Message Control Header (PS3.8 E.2): bit 0 set = command, bit 1 set = last fragment.
    _COMMAND, _LAST = 0x01, 0x02

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._received: dict[int, int] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        pdu = event.pdu
        items = getattr(pdu, "presentation_data_value_items", None)
        if not items:
            return
        key = id(event.assoc)
        limit = self.settings.dicom_max_object_bytes
        with self._lock:
            size = self._received.get(key, 0)
            if size < 0:
                return  # aborted already; PDUs read before the A-ABORT went out

            for item in items:
                value = item.presentation_data_value or b""
                if not value or value[0] & self._COMMAND:
                    continue
                size += len(value) - 1
                if value[0] & self._LAST:
                    size = 0 if size <= limit else size
            if size <= limit:
                self._received[key] = size
                return
            self._received[key] = -1
        peer = _peer(event.assoc)
        reason = f"data set larger than {limit} bytes"
        log.warning("association from %s@%s aborted: %s", printable(peer.calling_ae),
                    peer.host, reason)
        _record(self.settings, "ecgread.dicom.association.aborted", peer, reason=reason,
                limit="dicom_max_object_bytes", received_bytes=size)
        event.assoc.abort(block=False)

    def forget(self, event: Any) -> None:
        """EVT_RELEASED / EVT_ABORTED / EVT_CONN_CLOSE: drop the association's count."""
        with self._lock:
            self._received.pop(id(event.assoc), None)


def _on_echo(_event: Any) -> int:
    return int(DicomStatus.SUCCESS)


def _on_store(event: Any, ingestor: Ingestor) -> Dataset:
    request = event.request
    result: IngestResult = ingestor.ingest(
        event.encoded_dataset(include_meta=True),
        context_sop_class=str(event.context.abstract_syntax),
        sop_class_uid=str(request.AffectedSOPClassUID or ""),
        sop_instance_uid=str(request.AffectedSOPInstanceUID or ""),
        peer=_peer(event.assoc), transfer_syntax=str(event.context.transfer_syntax))
    status = Dataset()
    status.Status = int(result.status)
    if result.error_comment:
        status.ErrorComment = result.error_comment  # (0000,0902), PS3.7 C.4.2.1.1
    return status


def handlers(settings: Settings, ingestor: Ingestor) -> list[Any]:
    guard = _SizeGuard(settings)
    return [
        (evt.EVT_REQUESTED, _on_requested, [settings]),
        (evt.EVT_ACCEPTED, _on_accepted, [settings]),
        (evt.EVT_PDU_RECV, guard),
        (evt.EVT_CONN_CLOSE, guard.forget),
        (evt.EVT_C_ECHO, _on_echo),
        (evt.EVT_C_STORE, _on_store, [ingestor]),
    ]


class TlsAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with the TLS handshake moved off the accept loop
    (pynetdicom's own ``get_request`` does it there, so one silent client would stall
    every other sender)."""

    settings: Settings

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        assert self.socket is not None and self.ssl_context is not None
        client, address = self.socket.accept()
        return self.ssl_context.wrap_socket(client, server_side=True,
                                            do_handshake_on_connect=False), address

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        sock = request
        try:
            sock.settimeout(self.settings.dicom_acse_timeout_s)
            sock.do_handshake()
            sock.settimeout(None)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            log.warning("TLS handshake from %s failed: %s", client_address[0], reason)
            _record(self.settings, "ecgread.dicom.connection.rejected",
                    Peer(host=str(client_address[0]), port=int(client_address[1]),
                         calling_ae="", called_ae=""),
                    reason=f"TLS handshake failed: {reason}")
            self.shutdown_request(sock)
            return
        super().process_request_thread(request, client_address)


def serve(settings: Settings, on_stored: Callable[[str], None] | None = None,
          block: bool = True) -> ThreadedAssociationServer | None:
    """Migrate the audit database and listen on ``dicom_host:dicom_port`` (0: a free port;
    an empty host: loopback, refused in production mode), over TLS when ``dicom_tls``.

    ``on_stored(sop_instance_uid)`` is called after each new ECG's rows are committed.
    With ``block=False`` the running server is returned (``server.server_address`` has the
    port; ``server.shutdown()`` stops it); otherwise this serves until interrupted.
    """
    address = (bind_host(settings.dicom_host, settings, "dicom_host"), settings.dicom_port)
    dicom_rules(settings)  # a malformed entry stops us here, not at the first association
    tls = server_context(settings) if settings.dicom_tls else None
    open_audit(settings)
    private_dir(settings.store_dir)
    escape_library_logs()  # pydicom and pynetdicom log received UIDs themselves
    ae = build_ae(settings)
    ingestor = Ingestor(settings, on_stored)
    if tls is None:
        return ae.start_server(address, block=block,
                               evt_handlers=handlers(settings, ingestor))
    server = cast(TlsAssociationServer, ae.make_server(
        address, ssl_context=tls, server_class=TlsAssociationServer,
        evt_handlers=handlers(settings, ingestor)))
    server.settings = settings
    ae._servers.append(server)  # so ae.shutdown() stops it, as start_server does
    if block:
        try:
            server.serve_forever()
        finally:
            server.shutdown()
        return None
    threading.Thread(target=server.serve_forever, name="ecgread-dicom-tls",
                     daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ecgread DICOM listener (C-ECHO, C-STORE)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--home")
    parser.add_argument("--ae-title")
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    settings = load_settings({"dicom_host": args.host, "dicom_port": args.port,
                              "home": args.home, "dicom_ae_title": args.ae_title,
                              "database_url": args.database_url})
    server = serve(settings, block=False)
    assert server is not None
    host, port = server.server_address[:2]
    print(f"listening {host} {port}", flush=True)
    stopped = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopped.wait(0.5):
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

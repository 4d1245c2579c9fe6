"""The HL7 v2 order listener: MLLP over TCP, one thread per connection, many messages each.

For each message (see :func:`process_message`):

1. The raw bytes are written to ``home/hl7/YYYYMMDD/<sha256>.hl7`` (fsync) and parsed
   (:func:`integration.hl7_orders.parse_order_message`).
2. In ONE short transaction, in the writer turn both listeners share
   (:func:`integration.intake.commit`; a writer busy past ``intake_write_timeout_s`` gives
   AE 207, recorded): the ``received`` row (peer, MSH-3, MSH-10, type, AA), the order
   changes (NW creates a pending order, XO updates it, CA cancels it), their events, and
   the matching of unmatched ECGs to the order (:mod:`integration.matching`). Only after
   the commit is AA sent.
3. A message whose MSH-10 from the same MSH-3 was already accepted (AA) is a resend: AA
   again, a ``received`` row with ``duplicate=True`` and ``ecgread.hl7.duplicate``, no
   order change, when its bytes are the same. With other bytes it is a conflict: AE with
   ERR-3 205 (duplicate key identifier, Table 0357) at MSH-10 (v2.5.1 section 2.9), the
   second copy kept beside the first, a ``received`` row (AE, ``duplicate=True``, the
   reason) and ``ecgread.hl7.conflict``; no order change.
4. Any error becomes AE or AR through :func:`integration.status_map.outcome_for` (the one
   table), with a ``received`` row giving the reason and ``ecgread.hl7.rejected``
   (:func:`integration.intake.record`: written after the ACK when the writer is busy,
   never skipped). A database failure while accepting gives AE 207, so the sender
   retries.

Limits (each a setting, each refusal recorded): a frame over ``hl7_max_message_bytes``
gets AR and the connection is closed; more than ``hl7_max_orders`` ORC segments or
``hl7_max_repetitions`` repetitions of one field get AR before anything is parsed or
stored; a text without an MSH segment is refused without being stored; one connection more
than ``hl7_max_connections`` is closed at once; a connection silent for
``hl7_idle_timeout_s`` is closed (recorded when it held a partial message); a write that
would leave less than ``store_min_free_bytes`` free gets AE 207.

Security (:mod:`integration.security`): with ``hl7_tls`` the listener speaks MLLP over TLS
only (the handshake on the connection's thread, bounded by ``hl7_idle_timeout_s``; a failed
one is recorded as ``ecgread.hl7.connection.rejected``). With ``hl7_allowed_peers`` set, a
message whose MSH-3^MSH-4 is not listed for the peer's address gets AR with the reason,
recorded like any refusal, and is not stored.

Logs name message control IDs, types and ACK codes only (received text through
:func:`integration.identifiers.printable`), never patient data or field values. Run alone
with ``python -m ecgread.integration.hl7_listener --port 2575``; it prints
``listening HOST PORT`` on stdout once the socket is bound.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import signal
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from ecgread.audit.anchor import open_audit
from ecgread.audit.events import log_action
from ecgread.audit.tables import Hl7Order, Received, utcnow
from ecgread.config.settings import Settings, load_settings
from ecgread.errors import (
    AccessDeniedError,
    DatabaseBusyError,
    IdentifierConflictError,
    LimitExceededError,
    MessageError,
)
from ecgread.integration import intake
from ecgread.integration.hl7_ack import build_ack
from ecgread.integration.hl7_header import (
    MessageHeader,
    decode_message,
    normalise,
    salvage_header,
)
from ecgread.integration.hl7_orders import Order, OrderMessage, parse_order_message
from ecgread.integration.identifiers import escape_library_logs, printable
from ecgread.integration.matching import match_ecgs_for_order
from ecgread.integration.mllp import MllpReader, frame
from ecgread.integration.object_store import ensure_room, write_durably
from ecgread.integration.security import bind_host, hl7_rules, peer_allowed, server_context
from ecgread.integration.status_map import AckCode, outcome_for

__all__ = ["Hl7Server", "Processed", "make_server", "process_message", "serve"]

log = logging.getLogger("ecgread.hl7")

@dataclass(frozen=True)
class Processed:
    """What one message gave: the ACK bytes (unframed), its code, and whether a resend."""

    ack: bytes
    code: str
    control_id: str
    duplicate: bool = False
    error_code: int | None = None


def _store_raw(settings: Settings, raw: bytes) -> tuple[Path, str]:
    """The raw message, durably (file and folder fsynced), named by its sha256."""
    digest = hashlib.sha256(raw).hexdigest()
    folder = settings.home / "hl7" / time.strftime("%Y%m%d")
    path = folder / f"{digest}.hl7"
    if not path.exists():
        ensure_room(settings.home, len(raw), settings.store_min_free_bytes)
        write_durably(path, raw)
    return path, digest


def _check_limits(settings: Settings, text: str) -> None:
    """Refuse, before parsing, a text that is no HL7 message or is beyond the limits."""
    segments = normalise(text).split("\r")
    if not segments[0].startswith("MSH"):
        raise MessageError("no readable MSH segment at the start of the message", code=100,
                           segment="MSH")
    header = salvage_header(text)
    enc = header.encoding_characters
    repetition = enc[1] if len(enc) > 1 else "~"
    orders = 0
    for segment in segments:
        orders += segment.startswith("ORC")
        fields = segment.split(header.field_separator or "|")
        for i, value in enumerate(fields):
            if segment.startswith("MSH") and i == 1:
                continue  # MSH-2, the encoding characters, holds the separator itself
            if value.count(repetition) >= settings.hl7_max_repetitions:
                raise LimitExceededError(
                    f"{segment[:3]}-{i} repeats more than {settings.hl7_max_repetitions} "
                    "times", "hl7_max_repetitions")
    if orders > settings.hl7_max_orders:
        raise LimitExceededError(f"{orders} orders in one message, at most "
                                 f"{settings.hl7_max_orders}", "hl7_max_orders")


def _check_sender(settings: Settings, header: MessageHeader, peer: tuple[str, int]) -> None:
    """Refuse a sender whose MSH-3^MSH-4 is not allowed from the peer's address."""
    sender = f"{header.sending_application}^{header.sending_facility}"
    if not peer_allowed(hl7_rules(settings), sender, str(peer[0])):
        raise AccessDeniedError("sending application/facility (MSH-3/MSH-4) not allowed "
                                "from this address", segment="MSH", field=3)


def _record_event(settings: Settings, action: str, peer: tuple[str, int], **detail: Any) -> None:
    """An event about a connection (no message to hang a ``received`` row on)."""
    def event(session: Session, recorded_late: bool) -> None:
        log_action(session, action, subject=f"hl7-peer:{peer[0]}",
                   peer=f"{peer[0]}:{peer[1]}", recorded_late=recorded_late or None, **detail)

    intake.record(settings, event, action)  # the connection is handled regardless


def _find_order(session: Session, order: Order) -> Hl7Order | None:
    row = session.exec(select(Hl7Order).where(
        Hl7Order.placer_order_number == order.placer_order_number,
        Hl7Order.placer_namespace == order.placer_namespace)).first()
    if row is not None:
        return row
    # Senders are not always consistent about ORC-2.2: accept a unique number match.
    rows = session.exec(select(Hl7Order).where(
        Hl7Order.placer_order_number == order.placer_order_number)).all()
    return rows[0] if len(rows) == 1 else None


def _fill(row: Hl7Order, order: Order, header: MessageHeader) -> None:
    """Copy every value the message carries; values it leaves out are kept."""
    for name in ("filler_order_number", "accession_number", "patient_id", "patient_name",
                 "patient_sex", "patient_birth_date", "procedure_code", "ordering_provider",
                 "requested_at"):
        value = getattr(order, name)
        if value is not None and value != "":
            setattr(row, name, value)
    row.sending_application = header.sending_application or row.sending_application
    row.sending_facility = header.sending_facility or row.sending_facility
    row.message_control_id = header.control_id
    row.updated_at = utcnow()


def _apply(session: Session, settings: Settings, header: MessageHeader, order: Order) -> Hl7Order:
    row = _find_order(session, order)
    before = row.status if row is not None else None
    if order.action != "cancel" and before == "cancelled":
        code = 205 if order.action == "new" else 206
        raise MessageError(f"order {order.control} for a cancelled order", code=code,
                           segment="ORC", field=2)
    if row is None:
        row = Hl7Order(placer_order_number=order.placer_order_number,
                       placer_namespace=order.placer_namespace,
                       status="cancelled" if order.action == "cancel" else "pending")
    _fill(row, order, header)
    if order.action == "cancel":
        row.status = "cancelled"
    session.add(row)
    session.flush()
    action = {"new": "ecgread.order.created", "change": "ecgread.order.changed",
              "cancel": "ecgread.order.cancelled"}[order.action]
    if before is None and order.action != "cancel":
        action = "ecgread.order.created"
    elif before is not None and order.action == "new":
        action = "ecgread.order.changed"  # a second NW for the same order updates it
    log_action(session, action, subject=f"order:{row.id}", trace_id=header.control_id,
               control=order.control, placer=order.placer_order_number,
               placer_namespace=order.placer_namespace, filler=order.filler_order_number,
               accession=order.accession_number, accession_source=order.accession_source,
               patient_id_authority=order.patient_id_authority,
               requested_at_source=order.requested_at_source, status_before=before,
               status=row.status, warnings=list(order.warnings))
    if row.status == "pending":
        match_ecgs_for_order(session, row, settings.match_window_min,
                             trace_id=header.control_id)
    return row


def _received(header: MessageHeader, peer: tuple[str, int], status: str, path: Path,
              digest: str, **extra: Any) -> Received:
    return Received(protocol="hl7", peer_host=str(peer[0]), peer_port=int(peer[1]),
                    calling_ae=header.sending_application or None,
                    called_ae=header.receiving_application or None,
                    identifier=header.control_id or None, kind=header.kind or None,
                    status=status, path=str(path) if path and str(path) != "." else None,
                    sha256=digest or None, **extra)


#: What :func:`_accept` did with a message.
ACCEPTED, DUPLICATE, CONFLICT = "accepted", "duplicate", "conflict"
_CONFLICT_REASON = "MSH-10 already accepted from this sender with other content"


def _accept(settings: Settings, parsed: OrderMessage, peer: tuple[str, int], path: Path,
            digest: str) -> str:
    """Commit the message's effects (or, for a resend or a conflict, the record of it);
    returns :data:`ACCEPTED`, :data:`DUPLICATE` or :data:`CONFLICT`."""
    header = parsed.header
    first = parsed.orders[0]

    def effects(session: Session) -> str:
        earlier = session.exec(select(Received).where(
            Received.protocol == "hl7", Received.identifier == header.control_id,
            Received.calling_ae == (header.sending_application or None),
            Received.status == AckCode.ACCEPT, col(Received.duplicate).is_(False))
        ).first()
        conflict = earlier is not None and earlier.sha256 != digest
        rec = _received(header, peer, AckCode.ERROR if conflict else AckCode.ACCEPT, path,
                        digest, duplicate=earlier is not None, patient_id=first.patient_id,
                        accession_number=first.accession_number,
                        reason=_CONFLICT_REASON if conflict else None)
        session.add(rec)
        session.flush()
        common = {"subject": f"hl7:{header.control_id}", "trace_id": header.control_id}
        if conflict:
            assert earlier is not None
            log_action(session, "ecgread.hl7.conflict", received_id=rec.id,
                       first_received_id=earlier.id, kind=header.kind, ack=AckCode.ERROR,
                       error_code=205, reason=_CONFLICT_REASON, sha256=digest,
                       first_sha256=earlier.sha256, **common)
            return CONFLICT
        if earlier is not None:
            log_action(session, "ecgread.hl7.duplicate", received_id=rec.id,
                       first_received_id=earlier.id, kind=header.kind,
                       same_content=True, **common)
            return DUPLICATE
        log_action(session, "ecgread.hl7.received", received_id=rec.id, kind=header.kind,
                   peer=f"{peer[0]}:{peer[1]}", version=header.version,
                   parsed_as=parsed.parsed_as_version, orders=len(parsed.orders), **common)
        for order in parsed.orders:
            _apply(session, settings, header, order)
        return ACCEPTED

    return intake.commit(settings, effects)


def _reject(settings: Settings, header: MessageHeader, peer: tuple[str, int], path: Path | None,
            digest: str, code: str, error_code: int, reason: str, error: BaseException,
            size_bytes: int | None = None) -> None:
    def rejected(session: Session, recorded_late: bool) -> None:
        rec = _received(header, peer, code, path or Path(""), digest, reason=reason)
        session.add(rec)
        session.flush()
        log_action(session, "ecgread.hl7.rejected", subject=f"hl7:{header.control_id}",
                   trace_id=header.control_id or None, received_id=rec.id, ack=code,
                   error_code=error_code, segment=getattr(error, "segment", ""),
                   field=getattr(error, "field", None), reason=reason,
                   limit=getattr(error, "limit", None), size_bytes=size_bytes,
                   peer=f"{peer[0]}:{peer[1]}", recorded_late=recorded_late or None)

    # the ACK goes out whether the record is written now or, when the writer is busy,
    # by the recorder once it is free
    intake.record(settings, rejected, f"rejected HL7 message {printable(header.control_id)}")


def _refusal(settings: Settings, header: MessageHeader, exc: BaseException) -> Processed:
    """The AE/AR ACK for an error (the one table, :func:`outcome_for`)."""
    outcome = outcome_for(exc)
    reason = _reason(exc)
    log.info("hl7 %s msh10=%s -> %s %d", printable(header.kind or "?"),
             printable(header.control_id or "?"), outcome.hl7_ack, outcome.hl7_error_code)
    ack = build_ack(header, outcome.hl7_ack,
                    sending_application=settings.hl7_sending_application,
                    sending_facility=settings.hl7_sending_facility,
                    error_code=outcome.hl7_error_code, reason=reason,
                    segment=getattr(exc, "segment", ""), field=getattr(exc, "field", None))
    return Processed(ack, outcome.hl7_ack, header.control_id, False, outcome.hl7_error_code)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (MessageError, LimitExceededError, IdentifierConflictError,
                        AccessDeniedError)):
        return exc.reason
    if isinstance(exc, DatabaseBusyError):
        return str(exc)
    return f"internal error ({type(exc).__name__}); retry later"


def refuse_oversize(settings: Settings, head: bytes, peer: tuple[str, int]) -> Processed:
    """AR for a frame over ``hl7_max_message_bytes`` (``head``: its first bytes), recorded."""
    header = salvage_header(decode_message(head))
    exc = LimitExceededError(f"MLLP frame larger than {settings.hl7_max_message_bytes} bytes",
                             "hl7_max_message_bytes")
    outcome = outcome_for(exc)
    _reject(settings, header, peer, None, "", outcome.hl7_ack, outcome.hl7_error_code,
            exc.reason, exc)
    return _refusal(settings, header, exc)


def process_message(settings: Settings, raw: bytes, peer: tuple[str, int]) -> Processed:
    """Handle one de-framed message and return the ACK to send. Never raises."""
    text = decode_message(raw)
    header = salvage_header(text)
    path: Path | None = None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        _check_sender(settings, header, peer)
        _check_limits(settings, text)
        path, digest = _store_raw(settings, raw)
        parsed = parse_order_message(raw)
        header = parsed.header
        accepted = _accept(settings, parsed, peer, path, digest)
    except Exception as exc:  # noqa: BLE001  the one wrapper: any failure is AE/AR (STYLE #5)
        outcome = outcome_for(exc)
        if not isinstance(exc, (MessageError, LimitExceededError, DatabaseBusyError,
                                AccessDeniedError)):
            log.error("HL7 message %s failed: %s", printable(header.control_id),
                      type(exc).__name__)
        _reject(settings, header, peer, path, digest, outcome.hl7_ack, outcome.hl7_error_code,
                _reason(exc), exc, len(raw))
        return _refusal(settings, header, exc)
    if accepted == CONFLICT:
        log.warning("hl7 %s msh10=%s: same MSH-10, different content; kept both",
                    printable(header.kind), printable(header.control_id))
        return _refusal(settings, header, IdentifierConflictError(
            _CONFLICT_REASON, segment="MSH", field=10))
    duplicate = accepted == DUPLICATE
    log.info("hl7 %s msh10=%s -> AA%s", printable(header.kind), printable(header.control_id),
             " (duplicate)" if duplicate else "")
    ack = build_ack(header, AckCode.ACCEPT, sending_application=settings.hl7_sending_application,
                    sending_facility=settings.hl7_sending_facility)
    return Processed(ack, AckCode.ACCEPT, header.control_id, duplicate)


class _Connection(socketserver.BaseRequestHandler):
    server: Hl7Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        settings = self.server.settings
        peer = self.client_address
        if not self.server.track(sock, True):
            log.warning("HL7 connection from %s refused: more than %d connections", peer[0],
                        settings.hl7_max_connections)
            _record_event(settings, "ecgread.hl7.connection.rejected", peer,
                          reason=f"more than {settings.hl7_max_connections} connections",
                          limit="hl7_max_connections")
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(settings.hl7_idle_timeout_s)
        reader = MllpReader(settings.hl7_max_message_bytes)
        try:
            if self.server.tls is not None:
                sock = self._handshake(sock)
            while True:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    self._idle(reader)
                    break
                except OSError:
                    break
                if not data:
                    break
                try:
                    messages = reader.feed(data)
                except MessageError:
                    # The frame outgrew hl7_max_message_bytes: answer it, then hang up (the
                    # rest of the frame would only be read to be thrown away).
                    log.warning("closing HL7 connection from %s:%s: frame over %d bytes",
                                peer[0], peer[1], settings.hl7_max_message_bytes)
                    result = refuse_oversize(settings, reader.oversize_head, peer)
                    sock.sendall(frame(result.ack))
                    break
                for raw in messages:
                    result = process_message(settings, raw, peer)
                    sock.sendall(frame(result.ack))
        except OSError:
            pass  # the peer went away while we answered
        finally:
            self.server.track(self.request, False)

    def _handshake(self, sock: socket.socket) -> socket.socket:
        """TLS server handshake (raises OSError, recorded, when it fails)."""
        assert self.server.tls is not None
        try:
            return self.server.tls.wrap_socket(sock, server_side=True)
        except OSError as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            log.warning("HL7 TLS handshake from %s failed: %s", self.client_address[0], reason)
            _record_event(self.server.settings, "ecgread.hl7.connection.rejected",
                          self.client_address, reason=f"TLS handshake failed: {reason}")
            raise

    def _idle(self, reader: MllpReader) -> None:
        settings, peer = self.server.settings, self.client_address
        if reader.pending_bytes:
            log.warning("closing HL7 connection from %s:%s: idle %.0f s inside a message",
                        peer[0], peer[1], settings.hl7_idle_timeout_s)
            _record_event(settings, "ecgread.hl7.connection.closed", peer,
                          reason=f"idle for {settings.hl7_idle_timeout_s:g} s inside a message",
                          limit="hl7_idle_timeout_s", pending_bytes=reader.pending_bytes)
        else:
            log.info("closing idle HL7 connection from %s:%s", peer[0], peer[1])


class Hl7Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded MLLP server; ``server_close`` also closes the open connections."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        hl7_rules(settings)  # a malformed entry stops us here, not at the first message
        self.tls = server_context(settings) if settings.hl7_tls else None
        super().__init__((bind_host(settings.hl7_host, settings, "hl7_host"),
                          settings.hl7_port), _Connection)

    def track(self, sock: socket.socket, opened: bool) -> bool:
        """Register an opened (False when over ``hl7_max_connections``) or closed socket."""
        with self._lock:
            if not opened:
                self._open.discard(sock)
                return True
            if len(self._open) >= self.settings.hl7_max_connections:
                return False
            self._open.add(sock)
            return True

    def server_close(self) -> None:
        super().server_close()
        with self._lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def make_server(settings: Settings) -> Hl7Server:
    """Migrate the audit database and bind the listener (port 0 picks a free one; an empty
    host: loopback, refused in production mode)."""
    open_audit(settings)
    escape_library_logs()
    return Hl7Server(settings)


def serve(settings: Settings, block: bool = True) -> Hl7Server:
    """Run the listener: forever when ``block``, else on a daemon thread (the server is
    returned; stop it with ``shutdown()`` then ``server_close()``)."""
    server = make_server(settings)
    if block:
        try:
            server.serve_forever()
        finally:
            server.server_close()
        return server
    threading.Thread(target=server.serve_forever, name="ecgread-hl7", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ecgread HL7 v2 order listener (MLLP)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--home")
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings({"hl7_host": args.host, "hl7_port": args.port, "home": args.home,
                              "database_url": args.database_url})
    server = make_server(settings)

    def stop(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    # before "listening": a parent that stops us as soon as it reads it gets a clean exit
    signal.signal(signal.SIGTERM, stop)
    host = bind_host(settings.hl7_host, settings, "hl7_host")
    print(f"listening {host} {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

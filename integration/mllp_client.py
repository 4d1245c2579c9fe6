"""Outbound MLLP: send one HL7 message on a persistent connection and read its ACK.

The ACK counts only when MSA-2 equals the message's MSH-10 (HL7 v2.5.1 2.14.8.2).

Late acknowledgments: a timeout does not drop the connection, because the receiver may
still answer (HL7 v2.5.1 2.9.2, original acknowledgment mode: the sender may resend with
the same MSH-10, and the receiver deduplicates on it). ACKs that arrive for another
message (one that timed out earlier) are kept in :attr:`MllpClient.late_acks` for the
outbox to match by MSA-2; before each send the client reads what has arrived meanwhile,
and when the ACK of the very message it is about to resend is among it, the message is not
sent again (:attr:`Ack.late`).

Faults raise :class:`DeliveryError` with its ``outcome``: ``timeout`` (connection kept),
``refused``, ``closed`` and ``garbage`` (connection dropped, the next send reconnects).

With an ``ssl_context`` (``ehr_tls``: :func:`integration.security.client_context`) the
connection is TLS, the server's certificate verified and its name checked against
``host``; a failed handshake is a :class:`DeliveryError` like a refused connection
(outcome ``refused``).
"""

from __future__ import annotations

import dataclasses
import select
import socket
import ssl
import time
from dataclasses import dataclass

from ecgread.errors import DeliveryError
from ecgread.integration.mllp import MllpReader, frame


@dataclass(frozen=True)
class Ack:
    code: str  # MSA-1: AA, AE, AR (or CA, CE, CR in enhanced mode)
    control_id: str  # MSA-2
    text: str  # MSA-3 and ERR text, for the audit trail
    duration_ms: float
    #: True when the ACK answers an earlier copy (read before this one would be sent).
    late: bool = False


def control_id_of(message: str) -> str:
    """MSH-10 of an ER7 message (fields split on MSH-1, the field separator)."""
    msh = message.split("\r", 1)[0]
    if not msh.startswith("MSH") or len(msh) < 4:
        raise ValueError("message does not start with MSH")
    fields = msh.split(msh[3])
    if len(fields) < 10 or not fields[9]:
        raise ValueError("message has no MSH-10")
    return fields[9]


def parse_ack(ack: str) -> tuple[str, str, str]:
    """(MSA-1, MSA-2, text) of an ACK message; text joins MSA-3 and ERR details."""
    segments = [s for s in ack.replace("\n", "\r").split("\r") if s]
    if not segments or not segments[0].startswith("MSH"):
        raise ValueError("ACK does not start with MSH")
    sep = segments[0][3]
    msa = next((s.split(sep) for s in segments if s.startswith("MSA")), None)
    if msa is None or len(msa) < 3:
        raise ValueError("ACK has no MSA segment")
    texts = [msa[3]] if len(msa) > 3 and msa[3] else []
    for seg in segments:
        if seg.startswith("ERR"):
            texts.append(seg[4:])
    return msa[1], msa[2], "; ".join(texts)


class MllpClient:
    """One persistent connection to one receiver. Not thread-safe: one sender per client."""

    def __init__(self, host: str, port: int, timeout_s: float,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.ssl_context = ssl_context
        self._sock: socket.socket | None = None
        self._reader = MllpReader()
        #: ACKs read for messages other than the one being sent (late ACKs of earlier
        #: messages); the caller takes them with :meth:`take_late_acks`.
        self.late_acks: list[Ack] = []

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._reader = MllpReader()

    def take_late_acks(self) -> list[Ack]:
        acks, self.late_acks = self.late_acks, []
        return acks

    def _connect(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            except OSError as exc:
                reason = exc.strerror or exc
                raise DeliveryError(f"cannot connect to {self.target}: {reason}",
                                    "refused") from exc
            if self.ssl_context is not None:
                try:
                    sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
                except OSError as exc:
                    sock.close()
                    reason = getattr(exc, "reason", None) or exc
                    raise DeliveryError(f"TLS to {self.target} failed: {reason}",
                                        "refused") from exc
            self._sock = sock
            self._sock.settimeout(self.timeout_s)
        return self._sock

    def _acks(self, data: bytes, started: float) -> list[Ack]:
        out = []
        for raw in self._reader.feed(data):
            try:
                code, control_id, text = parse_ack(raw.decode("utf-8", errors="replace"))
            except ValueError as exc:
                raise DeliveryError(f"{self.target} answered with no ACK: {exc}",
                                    "garbage") from exc
            out.append(Ack(code, control_id, text, (time.monotonic() - started) * 1000.0))
        return out

    def poll(self, wait_s: float = 0.0) -> None:
        """Read whatever ACKs arrived on the open connection (waiting at most ``wait_s``)
        into :attr:`late_acks`; a closed or broken connection is dropped."""
        sock = self._sock
        if sock is None:
            return
        started = time.monotonic()
        try:
            while True:
                ready, _, _ = select.select([sock], [], [], wait_s)
                if not ready:
                    return
                data = sock.recv(65536)
                if not data:
                    self.close()
                    return
                self.late_acks.extend(self._acks(data, started))
                wait_s = 0.0
        except (OSError, DeliveryError):
            self.close()

    def send(self, message: str) -> Ack:
        """Send ``message`` and return its ACK. Raises DeliveryError on any transport fault.

        Late ACKs of earlier messages read meanwhile go to :attr:`late_acks`. When the ACK
        of ``message`` itself (same MSH-10: an earlier copy that timed out) has arrived
        before this send, it is returned with ``late=True`` and nothing is sent.
        """
        expected = control_id_of(message)
        started = time.monotonic()
        self.poll()
        mine = [a for a in self.late_acks if a.control_id == expected]
        if mine:
            self.late_acks = [a for a in self.late_acks if a.control_id != expected]
            return dataclasses.replace(mine[0], late=True)
        sock = self._connect()
        try:
            sock.sendall(frame(message.encode("utf-8")))
            deadline = started + self.timeout_s
            while True:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                data = sock.recv(65536)
                if not data:
                    raise DeliveryError(f"{self.target} closed the connection before the ACK",
                                        "closed")
                found = None
                for ack in self._acks(data, started):
                    if ack.control_id == expected and found is None:
                        found = ack
                    else:  # a late ACK of an earlier, timed-out message
                        self.late_acks.append(ack)
                if found is not None:
                    return found
        except TimeoutError as exc:
            # the connection stays: the receiver may still answer, and that late ACK is
            # read before the next send (see the module docstring)
            raise DeliveryError(f"no ACK from {self.target} within {self.timeout_s:g} s",
                                "timeout") from exc
        except DeliveryError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise DeliveryError(f"{self.target}: {exc}", "closed") from exc

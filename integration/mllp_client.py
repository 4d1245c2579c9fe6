"""Outbound MLLP: send one HL7 message on a persistent connection and read its ACK.

The ACK counts only when MSA-2 equals the message's MSH-10 (HL7 v2.5.1 2.14.8.2);
an ACK for another message, a timeout, a refused or dropped connection all raise
:class:`DeliveryError`, and the connection is dropped so the next send reconnects.

With an ``ssl_context`` (``ehr_tls``: :func:`integration.security.client_context`) the
connection is TLS, the server's certificate verified and its name checked against
``host``; a failed handshake is a :class:`DeliveryError` like a refused connection.
"""

from __future__ import annotations

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

    def _connect(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            except OSError as exc:
                reason = exc.strerror or exc
                raise DeliveryError(f"cannot connect to {self.target}: {reason}") from exc
            if self.ssl_context is not None:
                try:
                    sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
                except OSError as exc:
                    sock.close()
                    reason = getattr(exc, "reason", None) or exc
                    raise DeliveryError(f"TLS to {self.target} failed: {reason}") from exc
            self._sock = sock
            self._sock.settimeout(self.timeout_s)
        return self._sock

    def send(self, message: str) -> Ack:
        """Send ``message`` and return its ACK. Raises DeliveryError on any transport fault."""
        expected = control_id_of(message)
        started = time.monotonic()
        sock = self._connect()
        try:
            sock.sendall(frame(message.encode("utf-8")))
            deadline = started + self.timeout_s
            while True:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                data = sock.recv(65536)
                if not data:
                    raise DeliveryError(f"{self.target} closed the connection before the ACK")
                for raw in self._reader.feed(data):
                    code, control_id, text = parse_ack(raw.decode("utf-8", errors="replace"))
                    if control_id != expected:
                        # A late ACK of an earlier, timed-out message: not ours, keep reading.
                        continue
                    return Ack(code, control_id, text, (time.monotonic() - started) * 1000.0)
        except TimeoutError as exc:
            self.close()
            raise DeliveryError(f"no ACK from {self.target} within {self.timeout_s:g} s") from exc
        except DeliveryError:
            self.close()
            raise
        except (OSError, ValueError) as exc:
            self.close()
            raise DeliveryError(f"{self.target}: {exc}") from exc

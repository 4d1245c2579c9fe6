"""Loopback peers for the tests and the benchmarks: a free port, waiting for a listener, and
an EHR stand-in that receives ORU^R01 messages over MLLP.

Why here: the tests and the benchmarks both use them, and so can an integration engineer
checking a site's ecgread from the installed package, without a checkout (the way
``numpy.testing`` ships with numpy). The benchmarks also use checkout-only test fixtures
(``tests.synthetic``, ``tests.dicom_factory``); tests never import the benchmarks. Why not
``ecgread.integration``: the product never receives results over MLLP; its one MLLP listener
is ``integration.hl7_listener`` (orders in, validated, persisted and acknowledged), and
:class:`MllpReceiver` is no such listener: it acknowledges without parsing beyond MSH, keeps
every message in memory, and can be told to reject, stay silent or hang up mid-message, all
of which a product must never do. Nothing in ``ecgread`` imports this module.

Example:
    >>> ehr = MllpReceiver("AA")
    >>> ehr.port > 0
    True
    >>> ehr.stop()
"""

from __future__ import annotations

import socket
import threading
import time

from ecgread.integration.mllp import MllpReader, frame

__all__ = ["MllpReceiver", "free_port", "wait_for_port"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago (for a listener in another process).

    Another process may take it before the listener binds it; a listener in this process
    should bind port 0 instead and read the port it got.
    """
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 60.0) -> None:
    """Return once something accepts TCP connections on loopback ``port``.

    Raises:
        TimeoutError: nothing listened within ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listening on port {port} after {timeout_s} s")


class MllpReceiver:
    """A real EHR stand-in on loopback whose behaviour the caller sets.

    ``mode``: "AA", "AE" or "AR" answers every message with that acknowledgment code
    (HL7 v2.5.1 MSA-1); "silent" (or "never") reads messages and never answers; "drop"
    hangs up mid-message, before any ACK; "close" reads the whole message, then hangs up
    without an ACK; "garbage" answers with a frame that is no HL7 message; "late" answers
    AA ``late_s`` seconds after the message arrived (a message resent with the same
    MSH-10 meanwhile is answered once, as a deduplicating EHR does). The mode may be
    changed while it runs. :meth:`stop` refuses new connections and cuts the open ones;
    :meth:`start` listens again on the same port.

    Attributes:
        received: every message read in full, in arrival order (copies included).
        acked: MSH-10 of the messages answered AA, in order.
        acked_at_s: ``time.monotonic()`` when each MSH-10 was first answered AA.
    """

    def __init__(self, mode: str = "AA", late_s: float = 2.0) -> None:
        self.mode = mode
        self.late_s = late_s
        self.received: list[str] = []
        self.acked: list[str] = []
        self.acked_at_s: dict[str, float] = {}
        self._sock: socket.socket | None = None
        self.port = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._late_pending: set[str] = set()
        self.start()

    def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        sock.listen(8)
        self.port = int(sock.getsockname()[1])
        self._sock = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def stop(self) -> None:
        """Go down: refuse new connections and cut the open ones."""
        if self._sock is not None:
            try:  # wakes the thread blocked in accept(); close() alone would not
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            self._sock = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = MllpReader()
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                if self.mode == "drop":
                    return  # hang up mid-message, before any ACK
                for raw in reader.feed(data):
                    message = raw.decode()
                    msh = message.split("\r", 1)[0].split("|")
                    with self._lock:
                        self.received.append(message)
                    mode = self.mode
                    if mode in ("silent", "never"):
                        continue
                    if mode == "close":
                        return
                    if mode == "garbage":
                        conn.sendall(frame(b"\x00\x01 this is no ACK \xff"))
                        continue
                    if mode == "late":
                        with self._lock:
                            first = msh[9] not in self._late_pending
                            self._late_pending.add(msh[9])
                        if first:
                            timer = threading.Timer(self.late_s, self._ack,
                                                    args=(conn, msh, "AA"))
                            timer.daemon = True
                            timer.start()
                        continue
                    self._ack(conn, msh, mode)

    def _ack(self, conn: socket.socket, msh: list[str], code: str) -> None:
        ack = (f"MSH|^~\\&|EHR|HOSP|{msh[2]}|{msh[3]}|20260101000000||ACK^R01^ACK|"
               f"ACK{msh[9]}|P|2.5.1\rMSA|{code}|{msh[9]}|"
               f"{'' if code == 'AA' else 'rejected by test'}\r")
        if code == "AA":  # noted before the ACK leaves, so a sender never
            with self._lock:  # sees its AA before the receiver lists it
                self.acked.append(msh[9])
                self.acked_at_s.setdefault(msh[9], time.monotonic())
        try:
            conn.sendall(frame(ack.encode()))
        except OSError:
            pass  # the sender went away

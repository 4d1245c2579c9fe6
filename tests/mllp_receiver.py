"""A small real EHR stand-in for delivery tests: an MLLP receiver on loopback whose
behaviour the test sets: answer AA or AE, stay silent, or drop the connection
mid-message; it can be stopped (refusing connections) and started again."""

from __future__ import annotations

import socket
import threading

from ecgread.integration.mllp import MllpReader, frame


class MllpReceiver:
    def __init__(self, mode: str = "AA") -> None:
        self.mode = mode  # "AA", "AE", "AR", "silent", "drop"
        self.received: list[str] = []  # every message read in full, in arrival order
        self.acked: list[str] = []  # MSH-10 of the messages answered AA
        self._sock: socket.socket | None = None
        self.port = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.start()

    def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
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
                    if self.mode == "silent":
                        continue
                    code = self.mode
                    ack = (f"MSH|^~\\&|EHR|HOSP|{msh[2]}|{msh[3]}|20260101000000||ACK^R01^ACK|"
                           f"ACK{msh[9]}|P|2.5.1\rMSA|{code}|{msh[9]}|"
                           f"{'' if code == 'AA' else 'rejected by test'}\r")
                    if code == "AA":
                        with self._lock:
                            self.acked.append(msh[9])
                    conn.sendall(frame(ack.encode()))

"""HL7 ACK time and throughput of the order listener, measured over real MLLP.

The listener runs as its own process (``python -m ecgread.integration.hl7_listener``) on a fresh
home (SQLite in WAL mode with synchronous=FULL, the embedded default; or
``--database-url`` for PostgreSQL). A client holds one persistent connection and sends
orders one at a time, timing each from the first byte sent to the last ACK byte received.
Scenarios: new ORM^O01 orders (each one a commit, an fsync'd raw copy and a match
attempt), OMG^O19 orders, resends (duplicates), rejected ADT^A01 (AR), and the same new
orders over several connections at once. In-process timings of the parse and the ACK
build show where the time goes.

Run: ``.venv/bin/python -m bench.hl7_ack [--n 1000] [--connections 4]``
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ecgread.integration.hl7_ack import build_ack
from ecgread.integration.hl7_orders import parse_order_message
from ecgread.integration.mllp import MllpReader, frame
from tests.hl7_samples import adt_a01, omg_o19, orm_o01

REPO = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class _Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = MllpReader()

    def roundtrip(self, raw: bytes) -> tuple[float, bytes]:
        data = frame(raw)
        start = time.perf_counter()
        self.sock.sendall(data)
        acks: list[bytes] = []
        while not acks:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("listener closed the connection")
            acks = self.reader.feed(chunk)
        return (time.perf_counter() - start) * 1000.0, acks[0]


def _ack_code(ack: bytes) -> str:
    for seg in ack.decode().split("\r"):
        if seg.startswith("MSA|"):
            return seg.split("|")[1]
    return "?"


def _run(conn: _Conn, messages: list[bytes], expect: str) -> list[float]:
    times = []
    for raw in messages:
        ms, ack = conn.roundtrip(raw)
        code = _ack_code(ack)
        if code != expect:
            raise SystemExit(f"unexpected ACK {code} (expected {expect})")
        times.append(ms)
    return times


def _row(name: str, times: list[float], wall_s: float | None = None) -> str:
    wall = wall_s if wall_s is not None else sum(times) / 1000.0
    return (f"| {name:<38} | {len(times):>5} | {_percentile(times, 0.5):>8.2f} | "
            f"{_percentile(times, 0.95):>8.2f} | {_percentile(times, 0.99):>8.2f} | "
            f"{max(times):>8.2f} | {len(times) / wall:>8.1f} |")


def _in_process(fn: Callable[[], object], n: int) -> list[float]:
    fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="new orders on one connection")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--database-url", default="", help="default: SQLite in a temp home")
    args = ap.parse_args(argv)
    n, side = args.n, max(args.n // 5, 20)

    home = Path(tempfile.mkdtemp(prefix="ecgread-bench-hl7-"))
    cmd = [sys.executable, "-m", "ecgread.integration.hl7_listener", "--host", "127.0.0.1",
           "--port", "0", "--home", str(home)]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("listening"):
            raise SystemExit("listener did not start")
        port = int(line.split()[2])
        tag = f"{os.getpid()}-{int(time.time())}"
        conn = _Conn(port)
        _run(conn, [orm_o01(f"W{tag}-{i}", f"W{tag}-{i}") for i in range(20)], "AA")  # warm up
        rows = []
        t0 = time.perf_counter()
        new = _run(conn, [orm_o01(f"N{tag}-{i}", f"N{tag}-{i}", accession=f"A{tag}-{i}")
                          for i in range(n)], "AA")
        rows.append(_row("ORM^O01 NW, 1 connection", new, time.perf_counter() - t0))
        omg = _run(conn, [omg_o19(f"G{tag}-{i}", f"G{tag}-{i}", accession=f"GA{tag}-{i}")
                          for i in range(side)], "AA")
        rows.append(_row("OMG^O19 NW, 1 connection", omg))
        dup = _run(conn, [orm_o01(f"N{tag}-{i}", f"N{tag}-{i}") for i in range(side)], "AA")
        rows.append(_row("resent MSH-10 (duplicate), 1 conn.", dup))
        rej = _run(conn, [adt_a01(f"R{tag}-{i}") for i in range(side)], "AR")
        rows.append(_row("ADT^A01 rejected (AR), 1 conn.", rej))
        conns = [_Conn(port) for _ in range(args.connections)]
        per = max(n // args.connections, 10)
        parallel: list[list[float]] = [[] for _ in conns]

        def work(k: int) -> None:
            parallel[k] = _run(conns[k], [orm_o01(f"P{tag}-{k}-{i}", f"P{tag}-{k}-{i}")
                                          for i in range(per)], "AA")

        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(conns))]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        rows.append(_row(f"ORM^O01 NW, {len(conns)} connections at once",
                         [x for p in parallel for x in p], wall))
    finally:
        proc.terminate()
        proc.wait(30)

    sample = orm_o01("X1")
    parsed = parse_order_message(sample)
    parse_ms = _in_process(lambda: parse_order_message(sample), 200)
    ack_ms = _in_process(lambda: build_ack(parsed.header, "AA", sending_application="ECGREAD",
                                           sending_facility="CARDIOLOGY"), 200)
    print(f"HL7 ACK time over MLLP (loopback), listener process, database: "
          f"{args.database_url.split('@')[-1] or 'SQLite WAL synchronous=FULL (temp home)'}; "
          f"{os.cpu_count()} CPUs")
    print("| scenario                               |     n | p50 (ms) | p95 (ms) | p99 (ms) |"
          " max (ms) |  msgs/s |")
    print("|" + "-" * 40 + "|-------|----------|----------|----------|----------|---------|")
    for r in rows:
        print(r)
    print(f"\nin process (n=200): parse ORM^O01 with hl7apy p50 "
          f"{statistics.median(parse_ms):.2f} ms, build ACK p50 {statistics.median(ack_ms):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

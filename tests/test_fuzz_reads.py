"""Garbled copies of real records (bench.fuzz_reads) as a regression gate: a short, seeded
run must crash on none, gain no critical statement and no AF, and put no heart rate off by
more than 20 %. Before dsp-1.5 this run put 4 rates off (a loose electrode's noise in a
two-lead strip read 205-231/min) and gained one AF (LUDB 156 clipped). The bench's full
runs (3000 and 5000 reads) are in the README."""

from __future__ import annotations

import pytest

from bench import cpsc, fuzz_reads, qtdb
from ecgread.integration import ludb
from tests.conftest import need


def test_garbled_copies_keep_their_read(capsys: pytest.CaptureFixture[str]) -> None:
    need(ludb.available() and qtdb.available() and cpsc.available(),
         "LUDB, QTDB or CPSC 2018 not found (../shared/data beside the checkout)")
    code = fuzz_reads.main(["--reads", "120", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    total = next(line.split() for line in out.splitlines() if line.startswith("all "))
    assert total == ["all", "120", "0", "0", "0", "0"], out

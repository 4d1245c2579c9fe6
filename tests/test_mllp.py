"""MLLP framing, fed bytes directly (no sockets): splits, several per read, junk, missing
trailer, oversize; and a Hypothesis round trip over arbitrary chunking."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgread.errors import MessageError
from ecgread.integration.mllp import MllpReader, frame

MSG_A = b"MSH|^~\\&|EHR|H|ECGREAD|C|20240105||ORM^O01|A|P|2.3.1\rPID|1||P1"
MSG_B = b"MSH|^~\\&|EHR|H|ECGREAD|C|20240105||ORM^O01|B|P|2.3.1\rPID|1||P2"


def test_frame_wraps_in_start_and_end_blocks():
    assert frame(b"MSH|x") == b"\x0bMSH|x\x1c\x0d"


@pytest.mark.parametrize("bad", [b"MSH|\x0b", b"MSH|\x1cx"])
def test_frame_refuses_framing_bytes_inside_the_message(bad):
    with pytest.raises(MessageError):
        frame(bad)


def test_message_split_across_reads_byte_by_byte():
    reader = MllpReader()
    out = []
    for i, byte in enumerate(frame(MSG_A)):
        got = reader.feed(bytes([byte]))
        out += got
        if i < len(frame(MSG_A)) - 2:  # nothing before the end block
            assert got == []
    assert out == [MSG_A]
    assert reader.pending_bytes == 0
    assert reader.discarded_bytes == 0


def test_several_messages_in_one_read():
    assert MllpReader().feed(frame(MSG_A) + frame(MSG_B) + frame(MSG_A)) == [MSG_A, MSG_B, MSG_A]


def test_junk_before_the_start_block_is_discarded_and_counted():
    reader = MllpReader()
    assert reader.feed(b"\r\nGET / HTTP/1.0\r\n" + frame(MSG_A)) == [MSG_A]
    assert reader.discarded_bytes == len(b"\r\nGET / HTTP/1.0\r\n")


def test_missing_trailing_cr_is_tolerated():
    reader = MllpReader()
    data = b"\x0b" + MSG_A + b"\x1c" + b"\x0b" + MSG_B + b"\x1c"
    assert reader.feed(data) == [MSG_A, MSG_B]
    assert reader.discarded_bytes == 0


def test_message_is_returned_at_end_block_and_late_cr_is_the_trailer():
    reader = MllpReader()
    assert reader.feed(b"\x0b" + MSG_A + b"\x1c") == [MSG_A]  # no need to wait for the CR
    assert reader.feed(b"\x0d") == []
    assert reader.discarded_bytes == 0


def test_new_start_block_before_end_abandons_the_partial_message():
    reader = MllpReader()
    assert reader.feed(b"\x0bMSH|partial") == []
    assert reader.feed(frame(MSG_B)) == [MSG_B]
    assert reader.discarded_bytes == len(b"MSH|partial") + 1


def test_oversized_message_raises_and_reader_recovers():
    reader = MllpReader(max_message_bytes=10)
    with pytest.raises(MessageError, match="longer than 10"):
        reader.feed(b"\x0b" + b"x" * 11)
    assert reader.pending_bytes == 0
    assert reader.feed(frame(b"short")) == [b"short"]


def test_empty_message_is_returned_as_empty_bytes():
    assert MllpReader().feed(frame(b"")) == [b""]


_payload = st.binary(max_size=300).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b""))
_junk = st.binary(max_size=20).map(lambda b: b.replace(b"\x0b", b""))


@settings(max_examples=200, deadline=None)
@given(messages=st.lists(_payload, max_size=6), junk=st.lists(_junk, min_size=7, max_size=7),
       with_cr=st.lists(st.booleans(), min_size=6, max_size=6),
       cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12))
def test_round_trip_over_any_chunking(messages, junk, with_cr, cuts):
    """Any messages, framed with or without the trailing CR, separated by junk without a
    start block, cut anywhere, come back whole and in order; the junk is counted."""
    used = junk[:len(messages)] + [junk[-1]]  # used[i + 1] follows message i
    frames = [frame(m) if with_cr[i] else frame(m)[:-1] for i, m in enumerate(messages)]
    stream = b"".join(used[i] + f for i, f in enumerate(frames)) + used[-1]
    bounds = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    reader = MllpReader()
    out = []
    for start, stop in itertools.pairwise(bounds):
        out += reader.feed(stream[start:stop])
    assert out == messages
    # A CR right after an end block that lacked one is taken as its trailer, not junk.
    late_trailers = sum(1 for i in range(len(messages))
                        if not with_cr[i] and used[i + 1][:1] == b"\r")
    assert reader.discarded_bytes == sum(len(j) for j in used) - late_trailers
    assert reader.pending_bytes == 0

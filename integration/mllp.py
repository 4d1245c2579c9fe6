"""MLLP framing: ``<VT> message <FS><CR>`` (HL7 v2.5.1 Appendix C.4, Minimal Lower Layer Protocol).

Framing only, no sockets: :func:`frame` wraps one message, :class:`MllpReader` is fed the
bytes of a TCP stream as they arrive and returns each complete message. It handles a
message split across reads, several messages in one read, junk before the start block
(discarded and counted), and a sender that omits the trailing ``<CR>`` (the message ends
at ``<FS>``; a ``<CR>`` after it is consumed as the trailer).

Example
-------
>>> reader = MllpReader()
>>> data = frame(b"MSH|^~\\\\&|A") + frame(b"MSH|^~\\\\&|B")
>>> reader.feed(data[:5]) + reader.feed(data[5:])
[b'MSH|^~\\\\&|A', b'MSH|^~\\\\&|B']
"""

from __future__ import annotations

from ecgread.errors import MessageError

#: Start block, ``<VT>`` (C.4.3).
START_BLOCK = b"\x0b"
#: End block, ``<FS>`` (C.4.3).
END_BLOCK = b"\x1c"
#: Carriage return after the end block (C.4.3).
TRAILER = b"\x0d"

#: Default largest message accepted (bytes); an ECG order is a few kilobytes.
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: Bytes kept of a message refused for its size (enough for its MSH segment).
HEAD_BYTES = 4096

__all__ = ["END_BLOCK", "START_BLOCK", "TRAILER", "MllpReader", "frame"]


def frame(message: bytes) -> bytes:
    """Wrap one HL7 message (already encoded) in an MLLP block.

    Raises :class:`MessageError` (ERR-3 102) when the message itself holds ``<VT>`` or
    ``<FS>``, which MLLP cannot carry.
    """
    if START_BLOCK in message or END_BLOCK in message:
        raise MessageError("message holds an MLLP start or end block byte", code=102)
    return START_BLOCK + message + END_BLOCK + TRAILER


class MllpReader:
    """Incremental MLLP de-framer for one connection.

    ``feed(data)`` returns the messages (without framing bytes) completed by ``data``, in
    order. ``discarded_bytes`` counts bytes thrown away: junk outside a block and the
    partial message abandoned when a new ``<VT>`` arrives before ``<FS>``.

    Raises :class:`MessageError` from :meth:`feed` when one message grows past
    ``max_message_bytes``; the connection should then be closed.
    """

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        if max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")
        self.max_message_bytes = max_message_bytes
        self.discarded_bytes = 0
        #: The first :data:`HEAD_BYTES` of the last message refused for its size (its MSH,
        #: so the refusal can be answered and recorded).
        self.oversize_head = b""
        self._buffer = bytearray()
        self._in_block = False
        self._expect_trailer = False

    @property
    def pending_bytes(self) -> int:
        """Bytes of an unfinished message held back (0 between messages)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        messages: list[bytes] = []
        view = memoryview(data)
        pos = 0
        n = len(data)
        while pos < n:
            if self._expect_trailer:
                self._expect_trailer = False
                if data[pos] == TRAILER[0]:
                    pos += 1
                    continue
            if not self._in_block:
                start = data.find(START_BLOCK, pos)
                if start < 0:
                    self.discarded_bytes += n - pos
                    break
                self.discarded_bytes += start - pos
                pos = start + 1
                self._in_block = True
                continue
            end = data.find(END_BLOCK, pos)
            restart = data.find(START_BLOCK, pos, end if end >= 0 else n)
            if restart >= 0:  # a new block began before this one ended: drop the partial one
                self.discarded_bytes += len(self._buffer) + (restart - pos) + 1
                self._buffer.clear()
                pos = restart + 1
                continue
            stop = end if end >= 0 else n
            if len(self._buffer) + (stop - pos) > self.max_message_bytes:
                self.discarded_bytes += len(self._buffer) + (stop - pos)
                self.oversize_head = (bytes(self._buffer) + bytes(view[pos:stop]))[:HEAD_BYTES]
                self._buffer.clear()
                self._in_block = False
                raise MessageError(
                    f"MLLP message longer than {self.max_message_bytes} bytes", code=100)
            self._buffer += view[pos:stop]
            if end < 0:
                break
            messages.append(bytes(self._buffer))
            self._buffer.clear()
            self._in_block = False
            self._expect_trailer = True
            pos = end + 1
        return messages

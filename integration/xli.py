"""Decode Philips XLI, the waveform compression of Sierra/PhilipsECG XML.

An XLI stream is a run of chunks, one per lead: an 8-byte header (chunk size, int32 LE;
2 unused bytes; the first delta seed, int16 LE) and an LZW stream of 10-bit codes
(MSB first, no clear code, dictionary full at 1022). The LZW output is 16-bit values
stored as all high bytes then all low bytes; the values are second differences with an
offset of 64 that integrate back to the samples. The layout follows the open-source
decoders of sierra-ecg-tools (C. Watford, MIT licence); this implementation is ours,
bounded for untrusted input and vectorised over numpy.

References
----------
Watford CA. sierra-ecg-tools, XliDecompressor / sierraecg.xli (2011-2024),
https://github.com/sixlettervariables/sierra-ecg-tools
"""

from __future__ import annotations

import numpy as np

from ecgread.errors import CorruptFileError, InputTooLargeError

__all__ = ["xli_decode"]

_CODE_BITS = 10
_MAX_CODE = (1 << _CODE_BITS) - 2  # 1022: the last code the encoder assigns
_HEADER_BYTES = 8


def xli_decode(data: bytes, max_leads: int, max_samples: int,
               what: str = "XLI") -> list[np.ndarray]:
    """The leads of an XLI stream as int64 arrays of raw sample counts.

    Parameters
    ----------
    data:
        The base64-decoded ``<parsedwaveforms>`` bytes.
    max_leads, max_samples:
        Limits: at most this many chunks are decoded, each to at most this many samples.

    Raises
    ------
    CorruptFileError
        A chunk header or LZW code past the end of the data, or an impossible code.
    InputTooLargeError
        More chunks or samples than the limits allow.
    """
    leads: list[np.ndarray] = []
    offset = 0
    while offset < len(data):
        if len(leads) >= max_leads:
            raise InputTooLargeError(f"{what}: more than {max_leads} compressed leads")
        if offset + _HEADER_BYTES > len(data):
            raise CorruptFileError(f"{what}: truncated chunk header at byte {offset}")
        size = int.from_bytes(data[offset: offset + 4], "little", signed=True)
        seed = int.from_bytes(data[offset + 6: offset + 8], "little", signed=True)
        offset += _HEADER_BYTES
        if size < 0 or offset + size > len(data):
            raise CorruptFileError(f"{what}: chunk of {size} bytes runs past the end")
        raw = _lzw(data[offset: offset + size], 2 * max_samples + 1, what)
        offset += size
        leads.append(_integrate(_unpack(raw), seed))
    return leads


def _lzw(chunk: bytes, max_bytes: int, what: str) -> bytes:
    total_bits = len(chunk) * 8
    stream = int.from_bytes(chunk, "big")
    mask = (1 << _CODE_BITS) - 1
    table = [bytes((i,)) for i in range(256)]
    out = bytearray()
    previous = b""
    pos = 0
    while pos + _CODE_BITS <= total_bits:
        code = (stream >> (total_bits - pos - _CODE_BITS)) & mask
        pos += _CODE_BITS
        if code > _MAX_CODE:
            break  # end-of-stream code
        if code < len(table):
            entry = table[code]
        elif code == len(table) and previous:
            entry = previous + previous[:1]
        else:
            raise CorruptFileError(f"{what}: impossible LZW code {code}")
        if previous and len(table) <= _MAX_CODE:
            table.append(previous + entry[:1])
        out += entry
        if len(out) > max_bytes:
            raise InputTooLargeError(f"{what}: a lead decompresses past the sample limit")
        previous = entry
    return bytes(out)


def _unpack(raw: bytes) -> np.ndarray:
    """High bytes first, low bytes second -> signed 16-bit values."""
    if len(raw) % 2:
        raw += b"\x00"
    b = np.frombuffer(raw, dtype=np.uint8)
    half = len(b) // 2
    words = (b[:half].astype(np.uint16) << 8) | b[half:].astype(np.uint16)
    return words.view(np.int16).astype(np.int64)


def _integrate(d: np.ndarray, seed: int) -> np.ndarray:
    """Samples from XLI deltas: x0 = d0, x1 = d1, x[i] = 2x[i-1] - x[i-2] - c[i], where
    c[2] = seed and c[i] = d[i-1] - 64 after (a second-order predictor)."""
    if len(d) < 3:
        return d.copy()
    c = np.empty(len(d) - 2, dtype=np.int64)
    c[0] = seed
    c[1:] = d[2:-1] - 64
    slopes = np.concatenate(([d[1] - d[0]], d[1] - d[0] - np.cumsum(c)))
    return np.concatenate(([d[0]], d[0] + np.cumsum(slopes)))

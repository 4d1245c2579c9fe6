"""Read SCP-ECG (EN 1064 / ISO 11073-91064) files with the device's read.

Supported: the record CRC and length; section 0 (pointers), 1 (header tags: patient ID,
sex, birth date, acquisition date and time, acquiring/analysing device), 2 (Huffman: the
standard default table, code 19999), 3 (lead definition), 6 (rhythm data: uncompressed
16-bit, or default-Huffman; actual values, first or second differences), 7 (global
measurements of reference beat 0, rates, QTc with its formula) and 8 (textual
statements). Refused with :class:`UnsupportedVariantError`: reference beat subtraction,
bimodal compression, custom Huffman tables. Files with 8 leads (I, II, V1-V6) get III,
aVR, aVL and aVF derived from I and II, as for the other archive formats.

References
----------
EN 1064:2005+A1:2007 / ISO 11073-91064:2009, Standard communication protocol -
Computer-assisted electrocardiography (SCP-ECG), sections 5.3-5.10.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ecgread.errors import CorruptFileError, NoWaveformError, UnsupportedVariantError
from ecgread.integration.archive_io import (
    assemble_leads,
    check_rate,
    check_samples,
    read_limited,
)
from ecgread.integration.dicom_leads import SCPECG_LEAD_NUMBERS
from ecgread.models.ecg import Acquisition, Ecg, derive_limb_leads
from ecgread.models.vendor_read import VendorRead, VendorStatement

__all__ = ["FORMAT", "MAGIC", "decode_scp", "read_scp"]

FORMAT = "SCP-ECG"
#: Bytes 16..21 of every SCP-ECG record: the reserved field of the section 0 header.
MAGIC = b"SCPECG"
_SECTION_HEADER = 16
_DEFAULT_HUFFMAN = 19999
#: Section 7 values meaning "no value" (EN 1064 5.10: undefined, not computed, rejected,
#: wave absent).
_MISSING = {999, 29999, 29998, 19999}
#: Section 7 heart-rate correction formula (EN 1064 5.10.7).
_QTC_FORMULA = {1: "bazett", 2: "hodges"}


@dataclass(frozen=True)
class _Lead:
    number: int
    start: int  # first sample, 1-based
    end: int  # last sample, inclusive


def read_scp(path: str | Path) -> Ecg:
    """Read an SCP-ECG file as an Ecg in µV, with section 7/8's read as ``vendor_read``.

    Raises
    ------
    CorruptFileError
        CRC or length mismatch, a section past the end, a Huffman stream that ends early.
    UnsupportedVariantError
        Reference beat subtraction, bimodal compression, custom Huffman tables.
    NoWaveformError, InputTooLargeError
        No rhythm section; over the limits of ``archive_io``.

    Example
    -------
    >>> ecg = read_scp("../shared/data/vendor/scp-ecg/Example.scp")  # doctest: +SKIP
    >>> ecg.sampling_rate_hz, ecg.vendor_read.qrs_ms
    (500.0, 120.0)
    """
    p = Path(path)
    return decode_scp(read_limited(p, FORMAT), source=str(p), name=p.name)


def decode_scp(data: bytes, source: str = "", name: str = "SCP-ECG") -> Ecg:
    """Decode the bytes of an SCP-ECG record; see :func:`read_scp`."""
    if len(data) < 6 + _SECTION_HEADER or data[16:22] != MAGIC:
        raise CorruptFileError(f"{name}: not an SCP-ECG record (no SCPECG signature)")
    crc, size = struct.unpack_from("<HI", data, 0)
    if size != len(data):
        raise CorruptFileError(f"{name}: record length {size} but {len(data)} bytes")
    if binascii.crc_hqx(data[2:], 0xFFFF) != crc:
        raise CorruptFileError(f"{name}: record CRC does not match")
    sections = _sections(data, name)
    if 6 not in sections:
        raise NoWaveformError(f"{name}: no rhythm data (section 6)")
    leads, flags = _lead_definition(sections.get(3), name)
    if flags & 0x01:
        raise UnsupportedVariantError(f"{name}: reference beat subtraction is not supported")
    huffman = _huffman(sections.get(2), name)
    fs, signals = _rhythm(sections[6], leads, huffman, name)
    named = {SCPECG_LEAD_NUMBERS.get(lead.number, f"lead {lead.number}"): s
             for lead, s in zip(leads, signals, strict=True)}
    signal, names = assemble_leads(derive_limb_leads(named), name)
    tags = _tags(sections.get(1))
    read = _vendor_read(sections.get(7), sections.get(8), tags)
    return Ecg(signal_uv=signal, sampling_rate_hz=fs, lead_names=names,
               acquisition=_acquisition(tags), source=source,
               vendor_read=None if read.empty else read)


def _sections(data: bytes, name: str) -> dict[int, bytes]:
    """Section id -> its data part (after the 16-byte section header)."""
    _, sid, length = struct.unpack_from("<HHI", data, 6)
    if sid != 0 or length < _SECTION_HEADER or 6 + length > len(data):
        raise CorruptFileError(f"{name}: bad pointer section")
    out: dict[int, bytes] = {}
    for pos in range(6 + _SECTION_HEADER, 6 + length - 9, 10):
        sid, length_i, index = struct.unpack_from("<HII", data, pos)
        if length_i == 0 or sid == 0:
            continue
        start = index - 1
        if index < 1 or length_i < _SECTION_HEADER or start + length_i > len(data):
            raise CorruptFileError(f"{name}: section {sid} lies past the end of the record")
        body = data[start: start + length_i]
        if struct.unpack_from("<H", body, 2)[0] != sid:
            raise CorruptFileError(f"{name}: section {sid} header names another section")
        out[sid] = body[_SECTION_HEADER:]
    return out


def _lead_definition(body: bytes | None, name: str) -> tuple[list[_Lead], int]:
    if body is None or len(body) < 2:
        raise CorruptFileError(f"{name}: no lead definition (section 3)")
    count, flags = body[0], body[1]
    check_samples(count, 0, name)
    if len(body) < 2 + 9 * count:
        raise CorruptFileError(f"{name}: section 3 is shorter than its {count} leads")
    leads = []
    for k in range(count):
        start, end, number = struct.unpack_from("<IIB", body, 2 + 9 * k)
        if start == 0 and end > 0:  # samples counted from 0 (ECG Viewer writes so)
            start = 1
        if not 1 <= start <= end:
            raise CorruptFileError(f"{name}: lead {k + 1} has samples {start}..{end}")
        check_samples(count, end, name)
        leads.append(_Lead(number, start, end))
    return leads, flags


def _huffman(body: bytes | None, name: str) -> bool:
    """True when the rhythm data are default-Huffman coded, False when uncompressed."""
    if body is None:
        return False
    if len(body) < 2 or struct.unpack_from("<H", body, 0)[0] != _DEFAULT_HUFFMAN:
        raise UnsupportedVariantError(f"{name}: custom Huffman tables are not supported")
    return True


def _rhythm(body: bytes, leads: list[_Lead], huffman: bool,
            name: str) -> tuple[float, list[np.ndarray]]:
    if len(body) < 6 + 2 * len(leads):
        raise CorruptFileError(f"{name}: section 6 is shorter than its header")
    avm_nv, interval_us, difference, bimodal = struct.unpack_from("<HHBB", body, 0)
    if bimodal:
        raise UnsupportedVariantError(f"{name}: bimodal compression is not supported")
    if difference not in (0, 1, 2):
        raise CorruptFileError(f"{name}: unknown difference encoding {difference}")
    if avm_nv == 0 or interval_us == 0:
        raise CorruptFileError(f"{name}: no amplitude multiplier or sample interval")
    fs = check_rate(1e6 / interval_us, name)
    sizes = struct.unpack_from(f"<{len(leads)}H", body, 6)
    pos = 6 + 2 * len(leads)
    signals = []
    for lead, nbytes in zip(leads, sizes, strict=True):
        chunk = body[pos: pos + nbytes]
        pos += nbytes
        if len(chunk) < nbytes:
            raise CorruptFileError(f"{name}: rhythm data of lead {lead.number} is truncated")
        n = lead.end - lead.start + 1
        if huffman:
            values = _default_huffman(chunk, n, name)
        else:
            if nbytes < 2 * n:
                raise CorruptFileError(f"{name}: {nbytes} bytes for {n} samples")
            values = np.frombuffer(chunk[: 2 * n], dtype="<i2").astype(np.int64)
        values = _undifference(values, difference)
        padded = np.full(lead.end, np.nan, dtype=np.float32)
        padded[lead.start - 1:] = values * (avm_nv / 1000.0)
        signals.append(padded)
    return fs, signals


#: The default Huffman table (EN 1064 table 9): code length -> {code: value}; values
#: 8 and 16 in _ESCAPES mean "the next 8 or 16 bits are the value, two's complement".
_DEFAULT_TABLE: dict[int, dict[int, int]] = {1: {0b0: 0}}
for _v in range(1, 9):
    _DEFAULT_TABLE.setdefault(_v + 2, {})[((1 << (_v + 1)) - 2) << 1] = _v
    _DEFAULT_TABLE[_v + 2][(((1 << (_v + 1)) - 2) << 1) | 1] = -_v
_ESCAPES = {0b1111111110: 8, 0b1111111111: 16}
_LOOKUP_BITS = 10


def _lookup() -> tuple[np.ndarray, np.ndarray]:
    """10-bit window -> (value or escape width, code length)."""
    values = np.zeros(1 << _LOOKUP_BITS, dtype=np.int64)
    lengths = np.zeros(1 << _LOOKUP_BITS, dtype=np.int64)
    entries = [(length, code, value, False) for length, codes in _DEFAULT_TABLE.items()
               for code, value in codes.items()]
    entries += [(_LOOKUP_BITS, code, width, True) for code, width in _ESCAPES.items()]
    for length, code, value, escape in entries:
        shift = _LOOKUP_BITS - length
        lo, hi = code << shift, (code + 1) << shift
        values[lo:hi] = value
        lengths[lo:hi] = -length if escape else length
    return values, lengths


_VALUES, _LENGTHS = _lookup()


def _default_huffman(chunk: bytes, n: int, name: str) -> np.ndarray:
    """Decode ``n`` values of a default-table Huffman stream (MSB first)."""
    bits = np.unpackbits(np.frombuffer(chunk, dtype=np.uint8))
    total = bits.size
    padded = np.concatenate((bits, np.zeros(16, dtype=np.uint8))).astype(np.int64)
    weights = 1 << np.arange(_LOOKUP_BITS - 1, -1, -1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, _LOOKUP_BITS)[: total + 1] @ weights
    out = np.empty(n, dtype=np.int64)
    pos = 0
    for k in range(n):
        if pos >= total:
            raise CorruptFileError(f"{name}: Huffman stream ends after {k} of {n} samples")
        w = int(windows[pos])
        length = int(_LENGTHS[w])
        if length > 0:
            out[k] = _VALUES[w]
            pos += length
            continue
        width = int(_VALUES[w])
        start = pos + _LOOKUP_BITS
        if start + width > total:
            raise CorruptFileError(f"{name}: Huffman stream ends inside a {width}-bit value")
        raw = int("".join("1" if b else "0" for b in bits[start: start + width]), 2)
        out[k] = raw - (1 << width) if raw >= 1 << (width - 1) else raw
        pos = start + width
    return out


def _undifference(d: np.ndarray, order: int) -> np.ndarray:
    """Undo first (x[n] = x[n-1] + d[n]) or second (x[n] = 2x[n-1] - x[n-2] + d[n])
    differences; the first one (or two) values are actual samples."""
    if order == 0 or d.size < 2:
        return d
    if order == 1:
        return np.cumsum(d)
    slopes = np.cumsum(np.concatenate(([d[1] - d[0]], d[2:])))
    return np.concatenate(([d[0]], d[0] + np.cumsum(slopes)))


def _tags(body: bytes | None) -> dict[int, bytes]:
    tags: dict[int, bytes] = {}
    pos = 0
    while body is not None and pos + 3 <= len(body):
        tag, length = body[pos], struct.unpack_from("<H", body, pos + 1)[0]
        if tag == 255:
            break
        tags.setdefault(tag, body[pos + 3: pos + 3 + length])
        pos += 3 + length
    return tags


def _ascii(raw: bytes | None) -> str | None:
    if not raw:
        return None
    text = raw.split(b"\x00", 1)[0].decode("latin-1")
    text = "".join(c for c in text if c.isprintable()).strip()
    return text or None


def _device(raw: bytes | None) -> tuple[str | None, str | None, str | None]:
    """(model, analysing program revision, manufacturer) from tag 14/15 (EN 1064 5.4.3.1)."""
    if not raw or len(raw) < 36:
        return None, None, None
    model = _ascii(raw[8:14])
    rev_len = raw[35]
    revision = _ascii(raw[36: 36 + rev_len])
    strings = raw[36 + rev_len:].split(b"\x00")
    # serial number, device system software, SCP implementation software, manufacturer
    manufacturer = _ascii(strings[3]) if len(strings) > 3 else None
    return model, revision, manufacturer


def _date(raw: bytes | None) -> tuple[int, int, int] | None:
    if not raw or len(raw) < 4:
        return None
    year, month, day = struct.unpack_from("<HBB", raw, 0)
    return (year, month, day) if year and 1 <= month <= 12 and 1 <= day <= 31 else None


def _acquisition(tags: dict[int, bytes]) -> Acquisition:
    day, clock = _date(tags.get(25)), tags.get(26)
    when = None
    if day and clock and len(clock) >= 3:
        try:
            when = datetime(*day, clock[0], clock[1], clock[2])
        except ValueError:
            when = None
    birth = _date(tags.get(5))
    model, _, manufacturer = _device(tags.get(14))
    sex = {1: "M", 2: "F"}.get(tags[8][0]) if tags.get(8) else None
    name = "^".join(n for n in (_ascii(tags.get(0)), _ascii(tags.get(1))) if n)
    return Acquisition(
        patient_id=_ascii(tags.get(2)),
        patient_name=name or None,
        patient_sex=sex,
        patient_birth_date=f"{birth[0]:04d}{birth[1]:02d}{birth[2]:02d}" if birth else None,
        acquisition_time=when,
        device=" ".join(x for x in (manufacturer, model) if x) or None,
    )


def _value(v: int) -> float | None:
    return None if v in _MISSING else float(v)


def _vendor_read(s7: bytes | None, s8: bytes | None, tags: dict[int, bytes]) -> VendorRead:
    named: dict[str, object] = {}
    other: dict[str, float] = {}
    if s7 is not None and len(s7) >= 6:
        blocks, spikes, rr, pp = struct.unpack_from("<BBHH", s7, 0)
        named["rr_ms"] = _value(rr)
        if (pp_ms := _value(pp)) is not None:
            other["average_pp_ms"] = pp_ms
        if blocks >= 1 and len(s7) >= 22:
            p_on, p_off, q_on, q_off, t_off, p_ax, qrs_ax, t_ax = struct.unpack_from(
                "<HHHHHhhh", s7, 6)
            if all(_value(v) is not None for v in (p_on, q_on)) and q_on > p_on:
                named["pr_ms"] = float(q_on - p_on)
            if all(_value(v) is not None for v in (p_on, p_off)) and p_off > p_on:
                named["p_ms"] = float(p_off - p_on)
            if all(_value(v) is not None for v in (q_on, q_off)) and q_off > q_on:
                named["qrs_ms"] = float(q_off - q_on)
            if all(_value(v) is not None for v in (q_on, t_off)) and t_off > q_on:
                named["qt_ms"] = float(t_off - q_on)
            for field, v in (("p_axis_deg", p_ax), ("qrs_axis_deg", qrs_ax),
                             ("t_axis_deg", t_ax)):
                named[field] = _value(v)
        pos = 6 + 16 * blocks + 4 * spikes + 6 * spikes
        if pos + 2 <= len(s7):
            n_qrs = struct.unpack_from("<H", s7, pos)[0]
            pos += 2 + n_qrs
            if pos + 7 <= len(s7):
                vrate, arate, qtc, formula = struct.unpack_from("<HHHB", s7, pos)
                if vrate and _value(vrate) is not None:
                    named["heart_rate_bpm"] = float(vrate)
                if arate and _value(arate) is not None:
                    other["atrial_rate_bpm"] = float(arate)
                if qtc and _value(qtc) is not None:
                    named["qtc_ms"] = float(qtc)
                    named["qtc_formula"] = _QTC_FORMULA.get(formula)
    statements: list[VendorStatement] = []
    if s8 is not None and len(s8) >= 9:
        pos = 9
        for _ in range(s8[8]):
            if pos + 3 > len(s8):
                break
            length = struct.unpack_from("<H", s8, pos + 1)[0]
            text = _ascii(s8[pos + 3: pos + 3 + length])
            if text:
                statements.append(VendorStatement(text=text))
            pos += 3 + length
    model, revision, manufacturer = _device(tags.get(15) or tags.get(14))
    return VendorRead(source_format=FORMAT, manufacturer=manufacturer, device=model,
                      program_version=revision, other_measurements=other,
                      statements=tuple(statements), **named)  # type: ignore[arg-type]

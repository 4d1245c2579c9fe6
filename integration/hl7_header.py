"""The MSH segment read by hand, so that even a message hl7apy cannot parse gets an answer.

:func:`salvage_header` never raises: it returns whatever MSH fields it can find (all empty
when there is no MSH), which is what the ACK needs (MSA-2 echoes MSH-10). :func:`read_header`
is the strict form used before parsing: it raises :class:`MessageError` when MSH or MSH-10
is missing. Text helpers shared by the HL7 modules live here too: decoding bytes,
normalising segment separators, HL7 escape sequences (v2.5.1 section 2.7) and timestamps
(TS/DTM, section 2.A.74 / 2.A.22).

Example
-------
>>> h = salvage_header("MSH|^~\\\\&|EHR|HOSP|ECGREAD|CARD|20240105||ORM^O01|M1|P|2.3.1")
>>> (h.sending_application, h.message_type, h.trigger, h.control_id, h.version)
('EHR', 'ORM', 'O01', 'M1', '2.3.1')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ecgread.errors import MessageError

__all__ = [
    "MessageHeader",
    "decode_message",
    "escape",
    "normalise",
    "parse_ts",
    "read_header",
    "salvage_header",
    "unescape",
]

_DEFAULT_ENCODING = "^~\\&"


@dataclass(frozen=True)
class MessageHeader:
    """The MSH fields the listener and the ACK use (first components, unescaped)."""

    field_separator: str = "|"
    encoding_characters: str = _DEFAULT_ENCODING  # MSH-2
    sending_application: str = ""  # MSH-3.1
    sending_facility: str = ""  # MSH-4.1
    receiving_application: str = ""  # MSH-5.1
    receiving_facility: str = ""  # MSH-6.1
    message_type: str = ""  # MSH-9.1
    trigger: str = ""  # MSH-9.2
    structure: str = ""  # MSH-9.3
    control_id: str = ""  # MSH-10
    processing_id: str = ""  # MSH-11.1
    version: str = ""  # MSH-12.1
    charset: str = ""  # MSH-18 (first repetition)

    @property
    def kind(self) -> str:
        """``ORM^O01`` style message type, for the audit row."""
        return f"{self.message_type}^{self.trigger}" if self.trigger else self.message_type

    @property
    def component_separator(self) -> str:
        return self.encoding_characters[0] if self.encoding_characters else "^"


def decode_message(raw: bytes) -> str:
    """Bytes to text: UTF-8, or ISO 8859-1 when MSH-18 says 8859/1 or UTF-8 fails.

    Never raises: 8859-1 decodes any byte.
    """
    head = raw[:512]
    if b"8859/1" in head or b"8859-1" in head:
        return raw.decode("latin-1")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def normalise(text: str) -> str:
    """Segments separated by ``\\r`` only (senders also use ``\\r\\n`` or ``\\n``), no blank
    segments, anything before the first ``MSH`` dropped."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    start = text.find("MSH")
    if start > 0:
        text = text[start:]
    return "\r".join(s for s in text.split("\r") if s.strip())


def _component(value: str, index: int, sep: str) -> str:
    parts = value.split(sep)
    return parts[index] if index < len(parts) else ""


def salvage_header(text: str) -> MessageHeader:
    """Whatever MSH fields can be read; all empty when there is no MSH segment."""
    first = normalise(text).split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 5:  # MSH, a separator, something
        return MessageHeader()
    fs = first[3]
    fields = first.split(fs)  # fields[n - 1] is MSH-n (MSH-1 is the separator itself)
    enc = fields[1] if len(fields) > 1 and 1 <= len(fields[1]) <= 5 else _DEFAULT_ENCODING
    comp, rep = enc[0], (enc[1] if len(enc) > 1 else "~")

    def get(n: int, comp_index: int = 0) -> str:
        value = fields[n - 1] if len(fields) >= n else ""
        value = value.split(rep)[0]
        return unescape(_component(value, comp_index, comp), enc, fs).strip()

    return MessageHeader(
        field_separator=fs, encoding_characters=enc,
        sending_application=get(3), sending_facility=get(4),
        receiving_application=get(5), receiving_facility=get(6),
        message_type=get(9).upper(), trigger=get(9, 1).upper(), structure=get(9, 2).upper(),
        control_id=get(10), processing_id=get(11), version=get(12), charset=get(18))


def read_header(text: str) -> MessageHeader:
    """The MSH of a message about to be parsed.

    Raises :class:`MessageError`: ERR-3 100 when there is no MSH segment, 101 when MSH-9
    (message type) or MSH-10 (message control ID) is empty.
    """
    header = salvage_header(text)
    if header == MessageHeader():
        raise MessageError("no readable MSH segment at the start of the message", code=100,
                           segment="MSH")
    if not header.control_id:
        raise MessageError("MSH-10 (message control ID) is empty", code=101, segment="MSH",
                           field=10)
    if not header.message_type:
        raise MessageError("MSH-9 (message type) is empty", code=101, segment="MSH", field=9)
    return header


_ESCAPES = {"F": "field", "S": "comp", "T": "sub", "R": "rep", "E": "esc"}


def unescape(value: str, encoding_characters: str = _DEFAULT_ENCODING, fs: str = "|") -> str:
    r"""Resolve the escape sequences of v2.5.1 section 2.7.1: ``\F\ \S\ \T\ \R\ \E\`` and
    ``\Xhh..\``; formatting sequences (``\.br\``, ``\H\``...) become a space or nothing.

    >>> unescape(r"DO\T\E \F\ \X41\ ")
    'DO&E | A '
    """
    # MSH-2 may be short or empty: the characters it leaves out take their defaults
    enc = encoding_characters[:4] + _DEFAULT_ENCODING[len(encoding_characters[:4]):]
    esc = enc[2]
    if esc not in value:
        return value
    chars = {"F": fs, "S": enc[0], "R": enc[1], "E": esc, "T": enc[3]}
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        end = value.find(esc, i + 1) if c == esc else -1
        if end < 0:
            out.append(c)
            i += 1
            continue
        seq = value[i + 1:end]
        if seq in chars:
            out.append(chars[seq])
        elif seq.startswith("X") and len(seq) % 2 == 1:
            try:
                out.append(bytes.fromhex(seq[1:]).decode("latin-1"))
            except ValueError:
                out.append(value[i:end + 1])
        elif seq == ".br":
            out.append(" ")
        i = end + 1
    return "".join(out)


def escape(value: str, encoding_characters: str = _DEFAULT_ENCODING, fs: str = "|") -> str:
    r"""The inverse of :func:`unescape` for the delimiter characters (section 2.7.1); line
    breaks become spaces so a value never splits a segment.

    >>> escape("a|b^c")
    'a\\F\\b\\S\\c'
    """
    esc = encoding_characters[2] if len(encoding_characters) > 2 else "\\"
    table = {esc: "E", fs: "F", encoding_characters[0]: "S", encoding_characters[1]: "R"}
    if len(encoding_characters) > 3:
        table[encoding_characters[3]] = "T"
    out = []
    for c in value:
        if c in table:
            out.append(f"{esc}{table[c]}{esc}")
        elif c in "\r\n":
            out.append(" ")
        else:
            out.append(c)
    return "".join(out)


_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$")


def parse_ts(value: str) -> datetime | None:
    """An HL7 TS/DTM (``YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]``) as an aware datetime.

    Without an offset the sender's local time is meant (v2.5.1 section 2.A.22); we take it
    as the listener host's local time zone. Returns None for an empty value; raises
    ValueError for one that does not parse. A trailing degree-of-precision component
    (``^S``, TS.2) is ignored.

    >>> parse_ts("202401050930+0100").isoformat()
    '2024-01-05T09:30:00+01:00'
    """
    value = value.split("^", 1)[0].strip()
    if not value:
        return None
    m = _TS.match(value)
    if not m:
        raise ValueError("not an HL7 timestamp")
    year, month, day, hour, minute, second, frac, offset = m.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    naive = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                     int(minute or 0), int(second or 0), micro)
    if offset:
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        return naive.replace(tzinfo=timezone(sign * delta))
    return naive.astimezone()

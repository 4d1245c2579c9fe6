"""ORM^O01 (v2.3.1) and OMG^O19 (v2.5.1) ECG orders into frozen :class:`Order` values.

Parsing uses hl7apy (``parse_message(..., find_groups=False, validation_level=TOLERANT)``),
made lenient about what real senders do:

- MSH-12 from 2.3 to 2.8.2 is parsed as declared; any other 2.x version (2.1, 2.2, 2.9,
  empty) is parsed as 2.5.1 and echoed unchanged in the ACK; a non-2.x version is AR 203.
- A standard segment the declared version does not define (TQ1 or IPC in a 2.3.1 message)
  makes the message be parsed again as 2.5.1, then 2.8.2; Z-segments are always accepted.
- ``\\r\\n`` or ``\\n`` segment separators, text before MSH, blank segments are tolerated.
- Only the segments named in ``READ_SEGMENTS`` go to hl7apy (parsing costs about 2 ms a
  segment); PV1, NTE, DG1, OBX, AL1 and the rest are skipped and cannot cause a rejection.
- Fields are read by position from hl7apy's parsed segments and split into components
  here, so the datatype names that differ between versions (CK/CX, CE/CWE, TS/DTM) do not
  matter. Values are unescaped (v2.5.1 section 2.7).

What is read, in this order of preference (the first non-empty wins):

================  ==========================================================================
Order value       Source
================  ==========================================================================
control           ORC-1 (Table 0119). NW new; XO/XX change; CA/OC/DC/OD cancel; SC (status
                  changed) cancels when ORC-5 is CA or DC, otherwise is a change
placer number     ORC-2.1, else OBR-2.1 (namespace: component 2 of the same field)
filler number     ORC-3.1, else OBR-3.1
accession         IPC-1.1 (IHE RAD-4, OMG^O19), OBR-18 (IHE SWF placer field 1), then the
                  filler order number ORC-3/OBR-3 (as many EHRs do). ZDS-1 is the Study
                  Instance UID in IHE SWF, kept as ``study_instance_uid``, not an accession.
patient ID        PID-3: the first repetition whose CX-5 (identifier type) is MR, else the
                  first non-empty one; CX-1 is the ID, CX-4.1 the assigning authority. PID-2
                  (v2.2 external ID) when PID-3 is empty.
name, birth, sex  PID-5 (first repetition, components 1-3 joined by ^), PID-7 (YYYYMMDD), PID-8
procedure         OBR-4 components 1-3 (code^text^coding system)
provider          ORC-12, else OBR-16 (components 1-3: ID^family^given)
requested time    OBR-6, TQ1-7, ORC-7.4 / OBR-27.4 (TQ start), OBR-7, ORC-9
================  ==========================================================================

Errors raised (ERR-3 codes from Table 0357): 100 no MSH / PID / ORC segment, 101 MSH-10 or
PID-3 or the placer number missing, 102 hl7apy cannot parse the message, 103 ORC-1 not in
the codes above; :class:`UnsupportedMessageError` 200 for a message type other than ORM/OMG,
201 for a trigger other than O01 (ORM) / O19 (OMG), 203 for a non-2.x version.
An unparseable optional value (a requested time that is not a timestamp) is left None and
named in ``Order.warnings`` rather than rejecting the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Segment
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from ecgread.errors import MessageError, UnsupportedMessageError
from ecgread.integration.hl7_header import (
    MessageHeader,
    decode_message,
    normalise,
    parse_ts,
    read_header,
    unescape,
)

__all__ = [
    "ORDER_CONTROLS",
    "SUPPORTED_MESSAGES",
    "Order",
    "OrderMessage",
    "parse_order_message",
]

#: Message type -> the one trigger event we take for it (MSH-9.1, MSH-9.2).
SUPPORTED_MESSAGES = {"ORM": "O01", "OMG": "O19"}
#: ORC-1 order control (Table 0119) -> what we do.
ORDER_CONTROLS = {"NW": "new", "XO": "change", "XX": "change", "SC": "change",
                  "CA": "cancel", "OC": "cancel", "DC": "cancel", "OD": "cancel"}
#: Versions hl7apy parses as declared; every other 2.x version is parsed as FALLBACK_VERSION.
NATIVE_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8", "2.8.1", "2.8.2")
FALLBACK_VERSIONS = ("2.5.1", "2.8.2")
#: The segments we read; the others (PV1, NTE, DG1, OBX, AL1...) are not given to hl7apy.
READ_SEGMENTS = frozenset({"MSH", "PID", "ORC", "OBR", "TQ1", "IPC", "ZDS"})


@dataclass(frozen=True)
class Order:
    """One order (an ORC and the OBR, TQ1, IPC, Z-segments that follow it)."""

    control: str  # ORC-1 as sent
    action: str  # "new", "change" or "cancel"
    placer_order_number: str
    placer_namespace: str = ""
    filler_order_number: str | None = None
    accession_number: str | None = None
    accession_source: str | None = None  # "IPC-1", "OBR-18", "ORC-3", "OBR-3"
    study_instance_uid: str | None = None  # ZDS-1.1
    order_status: str | None = None  # ORC-5
    patient_id: str = ""
    patient_id_authority: str | None = None  # CX-4.1
    patient_id_type: str | None = None  # CX-5
    patient_name: str | None = None
    patient_birth_date: str | None = None  # YYYYMMDD
    patient_sex: str | None = None
    procedure_code: str | None = None
    ordering_provider: str | None = None
    requested_at: datetime | None = None
    requested_at_source: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderMessage:
    header: MessageHeader
    orders: tuple[Order, ...]
    parsed_as_version: str  # the hl7apy library version used


class _Seg:
    """A parsed segment's fields by position: ``get(n)`` is the list of repetitions (ER7)."""

    def __init__(self, name: str, fields: dict[int, list[str]], enc: str, fs: str) -> None:
        self.name, self._fields, self._enc, self._fs = name, fields, enc, fs

    def reps(self, n: int) -> list[str]:
        return [r for r in self._fields.get(n, []) if r]

    def comps(self, n: int, rep: int = 0) -> list[str]:
        """Components of repetition ``rep`` of field ``n``, each its first sub-component,
        unescaped (CX-4 ``UMC&1.2.3&ISO`` gives ``UMC``)."""
        reps = self.reps(n)
        if rep >= len(reps):
            return []
        sub = self._enc[3] if len(self._enc) > 3 else "&"
        return [unescape(c.split(sub)[0], self._enc, self._fs).strip()
                for c in reps[rep].split(self._enc[0])]

    def comp(self, n: int, index: int = 0, rep: int = 0) -> str:
        comps = self.comps(n, rep)
        return comps[index] if index < len(comps) else ""

    def joined(self, n: int, count: int = 3, rep: int = 0) -> str | None:
        comps = self.comps(n, rep)[:count]
        value = "^".join(comps).rstrip("^")
        return value or None


def _hl7apy_segments(text: str, version: str) -> tuple[list[Segment], str]:
    """Parse with hl7apy, falling back to newer versions for segments the declared one lacks."""
    tries = [version] + [v for v in FALLBACK_VERSIONS if v != version]
    last: Exception | None = None
    for v in tries:
        fs = text[3]
        first, _, rest = text.partition("\r")
        fields = first.split(fs)
        while len(fields) < 12:
            fields.append("")
        fields[11] = v
        try:
            msg = parse_message(fs.join(fields) + "\r" + rest, find_groups=False,
                                validation_level=VALIDATION_LEVEL.TOLERANT)
            return list(msg.children), v
        except (HL7apyException, ValueError, IndexError, KeyError, AttributeError) as exc:
            last = exc
    raise MessageError(f"hl7apy cannot parse the message: {type(last).__name__}", code=102)


def _segments(text: str, header: MessageHeader) -> tuple[list[_Seg], str]:
    declared = header.version
    version = declared if declared in NATIVE_VERSIONS else FALLBACK_VERSIONS[0]
    wanted = "\r".join(s for s in text.split("\r") if s[:3] in READ_SEGMENTS)
    children, used = _hl7apy_segments(wanted, version)
    out = []
    for seg in children:
        fields: dict[int, list[str]] = {}
        for child in seg.children:
            try:  # fields past the version's definition come unnamed: we never read them
                n = int(str(child.name).rsplit("_", 1)[1])
            except (IndexError, ValueError):
                continue
            fields.setdefault(n, []).append(child.to_er7())
        out.append(_Seg(seg.name, fields, header.encoding_characters, header.field_separator))
    return out, used


def _check_type(header: MessageHeader) -> None:
    expected = SUPPORTED_MESSAGES.get(header.message_type)
    if expected is None:
        raise UnsupportedMessageError(
            f"message type {header.message_type} is not accepted (ORM^O01, OMG^O19 are)",
            code=200, segment="MSH", field=9)
    if header.trigger != expected:
        raise UnsupportedMessageError(
            f"trigger event {header.trigger or '(empty)'} is not accepted for "
            f"{header.message_type} (only {expected})", code=201, segment="MSH", field=9)
    if header.version and not header.version.startswith("2."):
        raise UnsupportedMessageError(f"HL7 version {header.version} is not accepted",
                                      code=203, segment="MSH", field=12)


def _patient(pid: _Seg) -> dict[str, str | None]:
    chosen = None
    reps = pid.reps(3)
    for i in range(len(reps)):
        if pid.comp(3, 0, i) and pid.comp(3, 4, i).upper() == "MR":
            chosen = i
            break
    if chosen is None:
        chosen = next((i for i in range(len(reps)) if pid.comp(3, 0, i)), None)
    if chosen is not None:
        ident, authority, kind = pid.comp(3, 0, chosen), pid.comp(3, 3, chosen), \
            pid.comp(3, 4, chosen)
    else:
        ident, authority, kind = pid.comp(2, 0), pid.comp(2, 3), pid.comp(2, 4)
    if not ident:
        raise MessageError("PID-3 (patient identifier list) is empty", code=101,
                           segment="PID", field=3)
    birth = pid.comp(7, 0)[:8]
    return {"patient_id": ident, "patient_id_authority": authority or None,
            "patient_id_type": kind or None, "patient_name": pid.joined(5),
            "patient_birth_date": birth if birth.isdigit() and len(birth) == 8 else None,
            "patient_sex": pid.comp(8, 0).upper() or None}


def _first(*candidates: tuple[str, str]) -> tuple[str | None, str | None]:
    for source, value in candidates:
        if value:
            return value, source
    return None, None


def _order(group: list[_Seg], patient: dict[str, str | None]) -> Order:
    orc = group[0]
    by_name: dict[str, _Seg] = {}
    for seg in group[1:]:
        by_name.setdefault(seg.name, seg)
    empty = _Seg("", {}, "^~\\&", "|")
    obr, tq1, ipc, zds = (by_name.get(n, empty) for n in ("OBR", "TQ1", "IPC", "ZDS"))
    control = orc.comp(1).upper()
    action = ORDER_CONTROLS.get(control)
    if action is None:
        raise MessageError(f"ORC-1 order control {control or '(empty)'} is not accepted "
                           f"({', '.join(ORDER_CONTROLS)} are)", code=103 if control else 101,
                           segment="ORC", field=1)
    status = orc.comp(5).upper() or None
    if control == "SC" and status in ("CA", "DC"):
        action = "cancel"
    placer, placer_src = _first(("ORC-2", orc.comp(2)), ("OBR-2", obr.comp(2)))
    if placer is None:
        raise MessageError("no placer order number in ORC-2 or OBR-2", code=101,
                           segment="ORC", field=2)
    namespace = orc.comp(2, 1) if placer_src == "ORC-2" else obr.comp(2, 1)
    filler, filler_src = _first(("ORC-3", orc.comp(3)), ("OBR-3", obr.comp(3)))
    accession, acc_src = _first(("IPC-1", ipc.comp(1)), ("OBR-18", obr.comp(18)),
                                (filler_src or "", filler or ""))
    warnings: list[str] = []
    requested, req_src = None, None
    for source, value in (("OBR-6", obr.comp(6)), ("TQ1-7", tq1.comp(7)),
                          ("ORC-7.4", orc.comp(7, 3)), ("OBR-27.4", obr.comp(27, 3)),
                          ("OBR-7", obr.comp(7)), ("ORC-9", orc.comp(9))):
        if not value:
            continue
        try:
            requested, req_src = parse_ts(value), source
            break
        except ValueError:
            warnings.append(f"{source} is not an HL7 timestamp; ignored")
    provider = orc.joined(12) or obr.joined(16)
    return Order(control=control, action=action, placer_order_number=placer,
                 placer_namespace=namespace, filler_order_number=filler,
                 accession_number=accession, accession_source=acc_src,
                 study_instance_uid=zds.comp(1) or None, order_status=status,
                 procedure_code=obr.joined(4), ordering_provider=provider,
                 requested_at=requested, requested_at_source=req_src,
                 warnings=tuple(warnings), **patient)  # type: ignore[arg-type]


def parse_order_message(raw: bytes | str) -> OrderMessage:
    """Parse one ORM^O01 / OMG^O19 message into its orders.

    Raises :class:`MessageError` (AE) or :class:`UnsupportedMessageError` (AR) with the
    ERR-3 code, segment and field of the fault; see the module docstring for the codes.
    Reasons never quote field values, so they are safe to log.

    Example
    -------
    >>> msg = ("MSH|^~\\\\&|EHR|H|ECGREAD|C|20240105||ORM^O01|M1|P|2.3.1\\r"
    ...        "PID|1||P1^^^H^MR||DOE^JOHN||19600101|M\\r"
    ...        "ORC|NW|PO1^EHR|FO1\\r"
    ...        "OBR|1|PO1^EHR|FO1|93000^ECG^CPT||||||||||||||ACC1")
    >>> o = parse_order_message(msg).orders[0]
    >>> (o.action, o.placer_order_number, o.accession_number, o.accession_source, o.patient_id)
    ('new', 'PO1', 'ACC1', 'OBR-18', 'P1')
    """
    text = normalise(decode_message(raw) if isinstance(raw, bytes) else raw)
    header = read_header(text)
    _check_type(header)
    try:
        segments, used = _segments(text, header)
    except MessageError:
        raise
    except Exception as exc:  # whatever hl7apy trips on is the message's fault
        raise MessageError(f"hl7apy cannot read the message: {type(exc).__name__}",
                           code=102) from exc
    pid = next((s for s in segments if s.name == "PID"), None)
    if pid is None:
        raise MessageError("no PID segment", code=100, segment="PID")
    patient = _patient(pid)
    groups: list[list[_Seg]] = []
    for seg in segments:
        if seg.name == "ORC":
            groups.append([seg])
        elif groups and seg.name != "PID":
            groups[-1].append(seg)
    if not groups:
        raise MessageError("no ORC segment", code=100, segment="ORC")
    return OrderMessage(header, tuple(_order(g, patient) for g in groups), used)

"""The acknowledgment (ACK) we return for each received HL7 message, built with hl7apy.

Original-mode acknowledgment (HL7 v2.5.1 section 2.9.2): MSA-1 AA once the message's
effects are committed, AE when it is malformed, AR when its type, trigger or version is
not one we take. MSA-2 always echoes the incoming MSH-10, even when only a fragment of the
MSH could be read (:func:`integration.hl7_header.salvage_header`). Enhanced-mode requests
(MSH-15/16) are answered the same way: one application-level ACK.

The ERR segment follows the version of the incoming message:

- v2.5 and later: ERR-2 error location (ERL), ERR-3 HL7 error code (CWE, Table 0357),
  ERR-4 severity (Table 0516, E), ERR-8 user message (v2.5.1 section 2.15.5).
- before v2.5 (2.3, 2.3.1, 2.4): ERR-1 error code and location (ELD:
  segment^sequence^field^code&text&HL70357, v2.3.1 section 2.16.5), plus MSA-3 text
  message and MSA-6 error condition (v2.3.1 section 2.16.8), which v2.5 withdrew.

Example
-------
>>> from integration.hl7_header import salvage_header
>>> h = salvage_header("MSH|^~\\\\&|EHR|HOSP|ECGREAD|CARD|20240105||ORM^O01|M1|P|2.5.1")
>>> ack = build_ack(h, "AA", sending_application="ECGREAD", sending_facility="CARD")
>>> [s.split("|")[:3] for s in ack.decode().split("\\r")][1]
['MSA', 'AA', 'M1']
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from datetime import datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message, Segment

from ecgread.integration.hl7_header import MessageHeader, escape

__all__ = ["ERROR_TEXT", "build_ack", "new_control_id"]

#: HL7 Table 0357 (message error condition codes), v2.5.1.
ERROR_TEXT = {
    0: "Message accepted", 100: "Segment sequence error", 101: "Required field missing",
    102: "Data type error", 103: "Table value not found", 200: "Unsupported message type",
    201: "Unsupported event code", 202: "Unsupported processing id",
    203: "Unsupported version id", 204: "Unknown key identifier",
    205: "Duplicate key identifier", 206: "Application record locked",
    207: "Application internal error",
}

#: Versions hl7apy can build an ACK in; anything else is built as 2.5.1 and MSH-12 echoed.
_BUILD_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8", "2.8.1", "2.8.2")
_OLD_ERR = ("2.1", "2.2", "2.3", "2.3.1", "2.4")
_counter = itertools.count(1)
_counter_lock = threading.Lock()


def new_control_id() -> str:
    """A message control ID for what we send: 20 characters at most (MSH-10 is ST 20 in
    v2.3.1 and v2.5.1), unique across processes (time, process ID and a counter)."""
    with _counter_lock:
        n = next(_counter)
    stamp = datetime.now().strftime("%y%m%d%H%M%S")
    return f"{stamp}{os.getpid() % 1000:03d}{n % 100000:05d}"


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (2, 5, 1)


def build_ack(header: MessageHeader, code: str, *, sending_application: str,
              sending_facility: str, error_code: int | None = None, reason: str = "",
              segment: str = "", field: int | None = None,
              control_id: str | None = None) -> bytes:
    """The ER7 ACK (``\\r``-separated, UTF-8, not MLLP-framed) answering ``header``.

    ``code`` is AA, AE or AR (Table 0008). For AE/AR, ``error_code`` (Table 0357),
    ``reason`` (free text, safe for the sender: it quotes no field values), and the
    ``segment``/``field`` of the fault fill the ERR segment.
    """
    declared = header.version or "2.5.1"
    version = declared if declared in _BUILD_VERSIONS else "2.5.1"
    enc = header.encoding_characters if len(header.encoding_characters) == 4 else "^~\\&"
    fs = header.field_separator
    level = VALIDATION_LEVEL.TOLERANT
    ack = Message("ACK", version=version, validation_level=level)
    msh = ack.msh

    def esc(value: str) -> str:
        return escape(value, enc, fs)

    # MSH-3/4 sending application/facility (2.15.9.3-4): whom the sender addressed in its
    # MSH-5/6, else our configured names.
    msh.msh_3 = esc(header.receiving_application or sending_application)
    msh.msh_4 = esc(header.receiving_facility or sending_facility)
    # MSH-5/6 receiving application/facility (2.15.9.5-6): the sender's MSH-3/4.
    if header.sending_application:
        msh.msh_5 = esc(header.sending_application)
    if header.sending_facility:
        msh.msh_6 = esc(header.sending_facility)
    # MSH-7 date/time of message (2.15.9.7), local time with offset.
    msh.msh_7 = datetime.now().astimezone().strftime("%Y%m%d%H%M%S%z")
    # MSH-9 message type (2.15.9.9): ACK^<incoming trigger>^ACK; the third component
    # (message structure) exists from v2.3.1 on.
    trigger = esc(header.trigger)
    if _version_key(declared) >= (2, 3, 1):
        msh.msh_9 = f"ACK^{trigger}^ACK" if trigger else "ACK^^ACK"
    else:
        msh.msh_9 = f"ACK^{trigger}" if trigger else "ACK"
    # MSH-10 message control ID (2.15.9.10): a new one of ours.
    msh.msh_10 = control_id or new_control_id()
    # MSH-11 processing ID (2.15.9.11): echo the sender's (P production, T training, D debug).
    msh.msh_11 = esc(header.processing_id or "P")
    # MSH-12 version ID (2.15.9.12): the version the sender used, even one hl7apy lacks.
    msh.msh_12 = esc(header.version or version)
    # MSH-18 character set (2.15.9.18): what the sender declared.
    if header.charset:
        msh.msh_18 = esc(header.charset)
    # MSA-1 acknowledgment code (2.15.8.1, Table 0008).
    ack.msa.msa_1 = code
    # MSA-2 message control ID (2.15.8.2): the incoming MSH-10.
    if header.control_id:
        ack.msa.msa_2 = esc(header.control_id)
    if code != "AA":
        _add_error(ack, version, declared, error_code or 207, reason, segment, field, esc)
    return ack.to_er7().encode("utf-8")


def _add_error(ack: Message, version: str, declared: str, error_code: int, reason: str,
               segment: str, field: int | None, esc: Callable[[str], str]) -> None:
    text = ERROR_TEXT.get(error_code, "Application error")
    location = "^".join([segment or "", "1" if segment else "", str(field) if field else ""])
    err = Segment("ERR", version=version, validation_level=VALIDATION_LEVEL.TOLERANT)
    if declared in _OLD_ERR:
        # MSA-3 text message (v2.3.1 2.16.8.3) and MSA-6 error condition (2.16.8.6, CE).
        ack.msa.msa_3 = esc((reason or text)[:80])
        ack.msa.msa_6 = f"{error_code}^{esc(text)}^HL70357"
        # ERR-1 error code and location (v2.3.1 2.16.5.1, ELD):
        # segment ID^sequence^field position^code identifying error (CE, sub-components).
        err.err_1 = f"{location}^{error_code}&{esc(text)}&HL70357"
    else:
        # ERR-2 error location (2.15.5.2, ERL): segment ID^sequence^field position.
        if segment:
            err.err_2 = location.rstrip("^")
        # ERR-3 HL7 error code (2.15.5.3, CWE, Table 0357).
        err.err_3 = f"{error_code}^{esc(text)}^HL70357"
        # ERR-4 severity (2.15.5.4, Table 0516): E error.
        err.err_4 = "E"
        # ERR-7 diagnostic information (2.15.5.7) and ERR-8 user message (2.15.5.8).
        if reason:
            err.err_7 = esc(reason)
            err.err_8 = esc(reason)
    ack.add(err)

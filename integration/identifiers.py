"""Received identifiers: validated before use, escaped before logging, hashed into paths.

Everything a peer sends is untrusted. Three rules, one helper each:

- :func:`check_dicom_uid`: a UID is digits and dots, components without leading zeros,
  at most 64 characters (PS3.5 section 9.1); anything else (``../../x``, ``/tmp/evil``, a
  newline) raises :class:`~ecgread.errors.InvalidIdentifierError` before it reaches a
  path, a row or a log line.
- :func:`printable`: the one way received text enters a plain log line: control
  characters (CR, LF, ESC, ...) and backslashes are escaped and the text is cut, so no
  peer can forge or split log lines.
- :func:`safe_key`: the file name stem for an identifier: the UID itself when it is a
  valid UID (readable, and a valid UID cannot name a folder), else ``sha256-<hex>``.

Example
-------
>>> is_dicom_uid("1.2.840.10008.5.1.4.1.1.9.1.1"), is_dicom_uid("1.02"), is_dicom_uid("../x")
(True, False, False)
>>> printable("1.2.3\\nFAKE log line")
'1.2.3\\\\nFAKE log line'
>>> safe_key("/tmp/evil")[:7]
'sha256-'
"""

from __future__ import annotations

import hashlib
import logging
import re

from ecgread.errors import InvalidIdentifierError

__all__ = [
    "MAX_LOG_CHARS",
    "MAX_UID_CHARS",
    "EscapeControlCharacters",
    "check_dicom_uid",
    "escape_library_logs",
    "is_dicom_uid",
    "printable",
    "safe_key",
]

#: PS3.5 9.1: a UID is at most 64 characters.
MAX_UID_CHARS = 64
#: PS3.5 9.1: components of digits separated by single dots; a component is "0" or
#: starts with a non-zero digit.
_UID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
#: Longest received text put into one log line (characters, before escaping).
MAX_LOG_CHARS = 128


def is_dicom_uid(value: str) -> bool:
    """True when ``value`` is a valid DICOM UID (PS3.5 section 9.1)."""
    return 0 < len(value) <= MAX_UID_CHARS and _UID.fullmatch(value) is not None


def check_dicom_uid(value: str, what: str = "SOP Instance UID") -> str:
    """``value`` when it is a valid DICOM UID, else :class:`InvalidIdentifierError`.

    The error's reason names the rule broken, never the value.
    """
    if not value:
        raise InvalidIdentifierError(f"{what} is empty")
    if len(value) > MAX_UID_CHARS:
        raise InvalidIdentifierError(f"{what} longer than {MAX_UID_CHARS} characters")
    if _UID.fullmatch(value) is None:
        raise InvalidIdentifierError(f"{what} is not a valid UID (PS3.5 9.1)")
    return value


def printable(value: object, limit: int | None = MAX_LOG_CHARS, backslash: bool = True) -> str:
    """Received text made safe for one log line: non-printable characters as ``\\xNN``
    (``\\n``, ``\\r``, ``\\t`` by name), backslashes doubled (unless ``backslash`` is
    False), cut to ``limit`` characters (None: not cut)."""
    text = "" if value is None else str(value)
    cut = limit is not None and len(text) > limit
    text = text[:limit]
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\" if backslash else ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable():
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out) + ("..." if cut else "")


def safe_key(identifier: str) -> str:
    """A file name stem for ``identifier``: itself when it is a valid UID, else its hash."""
    if is_dicom_uid(identifier):
        return identifier
    return "sha256-" + hashlib.sha256(identifier.encode("utf-8", "replace")).hexdigest()


class EscapeControlCharacters(logging.Filter):
    """A logging filter that escapes control characters in the formatted message, for
    libraries that log received values themselves (pydicom, pynetdicom). Backslashes are
    left alone, so text already passed through :func:`printable` is unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(not ch.isprintable() for ch in message):
            record.msg, record.args = printable(message, None, backslash=False), None
        return True


_FILTER = EscapeControlCharacters()


def escape_library_logs() -> None:
    """Attach :class:`EscapeControlCharacters` to the pydicom and pynetdicom loggers (and
    ours), each of them: a filter on a parent logger does not see its children's records.
    Idempotent; the listeners call it when they start."""
    manager = logging.Logger.manager
    names = ["pydicom", "pynetdicom", "ecgread"] + [
        name for name in list(manager.loggerDict)
        if name.startswith(("pydicom.", "pynetdicom.", "ecgread."))]
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)

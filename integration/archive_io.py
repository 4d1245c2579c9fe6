"""What the archive readers share: limits, safe XML, base64, numbers, lead assembly.

The archive readers (``ge_muse``, ``philips_sierra``, ``hl7_aecg``, ``scp_ecg``) read
untrusted files. Each input is bounded before it is decoded (:data:`MAX_FILE_BYTES`,
:data:`MAX_LEADS`, :data:`MAX_SAMPLES_PER_LEAD`), XML is parsed with ``defusedxml`` (no
entity expansion, no external references), and every failure is a
:class:`~ecgread.errors.DecodeError` subclass whose reason names the file but holds no
patient data.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ecgread.errors import CorruptFileError, DecodeError, InputTooLargeError, NoWaveformError
from ecgread.integration.dicom_decode import MAX_SAMPLING_RATE_HZ, MIN_SAMPLING_RATE_HZ
from ecgread.models.ecg import STANDARD_LEADS

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LEADS",
    "MAX_SAMPLES_PER_LEAD",
    "assemble_leads",
    "b64decode",
    "check_rate",
    "check_samples",
    "end_of_ecg",
    "local_name",
    "number",
    "parse_xml",
    "read_limited",
    "xml_root_name",
]

#: Largest archive file we open, bytes (a 10-minute 12-lead HL7 aECG at 1 kHz is ~40 MB).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Most leads one ECG may have (Philips carts store 16 channels; SCP-ECG allows 255).
MAX_LEADS = 16
#: Most samples per lead (10 minutes at 2 kHz): bounds decompression and memory (~77 MB).
MAX_SAMPLES_PER_LEAD = 1_200_000


def read_limited(path: Path, what: str) -> bytes:
    """The bytes of ``path``, refused with :class:`InputTooLargeError` above MAX_FILE_BYTES."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputTooLargeError(f"{what} {path.name}: {size} bytes is over the "
                                     f"{MAX_FILE_BYTES}-byte limit")
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise DecodeError(f"cannot read {what} {path.name}: {exc.strerror or exc}") from exc


def parse_xml(data: bytes, what: str) -> Any:
    """Parse untrusted XML with defusedxml; the root element.

    Raises
    ------
    CorruptFileError
        The XML is not well formed (truncated, bad encoding).
    DecodeError
        The XML declares entities or references external resources (refused).
    """
    from xml.etree.ElementTree import ParseError

    import defusedxml
    from defusedxml import ElementTree as SafeET

    try:
        return SafeET.fromstring(data)
    except defusedxml.DefusedXmlException as exc:
        raise DecodeError(f"{what}: XML entity declarations or external references are "
                          f"refused ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise CorruptFileError(f"{what}: not well-formed XML ({exc})") from exc


def parse_document(data: bytes, what: str, root_tag: str) -> Any:
    """:func:`parse_xml`, with every element's namespace dropped (:func:`local_name`) and
    the root element checked to be ``root_tag``.

    Raises
    ------
    CorruptFileError
        Not well-formed XML, or a root element other than ``root_tag``.
    DecodeError
        See :func:`parse_xml`.
    """
    root = parse_xml(data, what)
    for el in root.iter():
        el.tag = local_name(el.tag)
    if root.tag != root_tag:
        raise CorruptFileError(f"{what}: root element is <{root.tag}>, not <{root_tag}>")
    return root


def local_name(tag: str) -> str:
    """``"{urn:hl7-org:v3}AnnotatedECG"`` -> ``"AnnotatedECG"``."""
    return tag.rsplit("}", 1)[-1]


_ROOT = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def xml_root_name(head: bytes) -> str | None:
    """The local name of the root element in the first bytes of an XML file, else None.

    Skips the XML declaration, comments, processing instructions and a DOCTYPE; understands
    UTF-8, Latin-1 and UTF-16 (with a byte order mark), as Philips writes it.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head[2:].decode("utf-16-le" if head[0] == 0xFF else "utf-16-be",
                               errors="ignore").encode("utf-8", errors="ignore")
    elif head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    text = head.lstrip()
    if not text.startswith(b"<"):
        return None
    pos = 0
    while True:
        start = text.find(b"<", pos)
        if start < 0:
            return None
        if text.startswith(b"<?", start):
            pos = text.find(b"?>", start)
        elif text.startswith(b"<!--", start):
            pos = text.find(b"-->", start)
        elif text.startswith(b"<!", start):
            pos = text.find(b">", start)
        else:
            m = _ROOT.match(text, start)
            return m.group(2).decode("ascii") if m else None
        if pos < 0:
            return None


def b64decode(text: str | None, what: str) -> bytes:
    """Strict base64 (whitespace allowed); :class:`CorruptFileError` on bad input."""
    if not text:
        raise CorruptFileError(f"{what}: empty waveform data")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CorruptFileError(f"{what}: bad base64 waveform data") from exc


def number(text: str | None) -> float | None:
    """A decimal number from XML text; None for absent, empty or non-numeric text
    (vendors write "Failed", "Indeterminate") and for non-finite values."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_rate(fs: float | None, what: str) -> float:
    """The sampling rate, Hz, refused outside the range the analysis accepts."""
    if fs is None or not MIN_SAMPLING_RATE_HZ <= fs <= MAX_SAMPLING_RATE_HZ:
        raise CorruptFileError(f"{what}: sampling rate {fs} Hz is outside "
                               f"{MIN_SAMPLING_RATE_HZ:g}..{MAX_SAMPLING_RATE_HZ:g} Hz")
    return float(fs)


def check_samples(n_leads: int, n_samples: int, what: str) -> None:
    """Refuse a lead or sample count over the limits before allocating for it."""
    if n_leads > MAX_LEADS:
        raise InputTooLargeError(f"{what}: {n_leads} leads is over the limit of {MAX_LEADS}")
    if n_samples > MAX_SAMPLES_PER_LEAD:
        raise InputTooLargeError(f"{what}: {n_samples} samples per lead is over the limit "
                                 f"of {MAX_SAMPLES_PER_LEAD}")


def assemble_leads(leads: Mapping[str, np.ndarray],
                   what: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Stack named leads (µV) into a float32 (leads, samples) array.

    Standard leads come first in :data:`STANDARD_LEADS` order, others after in file order;
    shorter leads are padded with NaN to the longest.

    Raises
    ------
    NoWaveformError
        No lead, or no samples.
    InputTooLargeError
        Too many leads or samples.
    """
    if not leads or max(len(s) for s in leads.values()) == 0:
        raise NoWaveformError(f"{what}: no waveform samples")
    names = [n for n in STANDARD_LEADS if n in leads] + [n for n in leads
                                                          if n not in STANDARD_LEADS]
    n_samples = max(len(leads[n]) for n in names)
    check_samples(len(names), n_samples, what)
    signal = np.full((len(names), n_samples), np.nan, dtype=np.float32)
    for row, name in enumerate(names):
        signal[row, : len(leads[name])] = leads[name]
    return signal, tuple(names)


def end_of_ecg(signal_uv: np.ndarray, fs: float) -> int:
    """Where the ECG proper ends in a (leads, samples) µV array, before a calibration trailer.

    Philips carts append to each channel a flat line and a 1 mV calibration pulse; left in,
    the analysis would read the pulse as a beat. The trailer is recognised by every lead at
    1 mV (±10 %) together for at least 40 ms within the last 2 s; the ECG ends where the
    flat line before the pulse begins (all leads within 20 µV of zero). Without such a
    pulse the whole length is kept.
    """
    n = signal_uv.shape[1]
    tail_start = max(0, n - int(2 * fs))
    pulse = np.flatnonzero(np.all(np.abs(signal_uv[:, tail_start:] - 1000.0) <= 100.0, axis=0))
    if pulse.size < max(1, int(0.04 * fs)):
        return n
    first = tail_start + int(pulse[0])
    busy = np.flatnonzero(~np.all(np.abs(signal_uv[:, :first]) <= 20.0, axis=0))
    return int(busy[-1]) + 1 if busy.size else first

"""Open an ECG file of any supported format, recognised by its content.

DICOM waveform objects, WFDB records, and the archive formats GE MUSE XML, Philips Sierra
XML, HL7 aECG and SCP-ECG. The format is read from the file itself (the DICM preamble, the
XML root element, the SCPECG signature), so an archive with odd or missing extensions
still opens; the extension only decides for WFDB (``rec`` / ``rec.hea``) and ``.dcm``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ecgread.errors import DecodeError
from ecgread.models.ecg import Ecg

#: Bytes read to recognise a file: enough for an XML prolog with long comments.
_SNIFF_BYTES = 16 * 1024
#: XML root element (local name) -> archive format.
_XML_ROOTS = {"RestingECG": "muse", "restingecgdata": "philips", "AnnotatedECG": "aecg"}


def is_dicom(path: Path) -> bool:
    if path.suffix.lower() in (".dcm", ".dicom"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def is_wfdb(path: Path) -> bool:
    return path.suffix == ".hea" or (not path.suffix and path.with_suffix(".hea").is_file())


def detect_format(path: str | Path) -> str | None:
    """``"wfdb"``, ``"dicom"``, ``"muse"``, ``"philips"``, ``"aecg"``, ``"scp"``, or None.

    Example
    -------
    >>> detect_format("../shared/data/vendor/ge-muse/muse-sinus.xml")  # doctest: +SKIP
    'muse'
    """
    from ecgread.integration.archive_io import xml_root_name
    from ecgread.integration.scp_ecg import MAGIC

    p = Path(path)
    if is_wfdb(p):
        return "wfdb"
    try:
        with open(p, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return None
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[16:22] == MAGIC:
        return "scp"
    root = xml_root_name(head)
    if root in _XML_ROOTS:
        return _XML_ROOTS[root]
    return "dicom" if p.suffix.lower() in (".dcm", ".dicom") else None


def _reader(kind: str) -> Callable[[Path], Ecg]:
    if kind == "wfdb":
        from ecgread.integration.wfdb_read import read_wfdb
        return read_wfdb
    if kind == "dicom":
        from ecgread.integration.dicom_decode import decode_file
        return decode_file
    if kind == "muse":
        from ecgread.integration.ge_muse import read_muse
        return read_muse
    if kind == "philips":
        from ecgread.integration.philips_sierra import read_philips
        return read_philips
    if kind == "aecg":
        from ecgread.integration.hl7_aecg import read_aecg
        return read_aecg
    from ecgread.integration.scp_ecg import read_scp
    return read_scp


def read_ecg_file(path: str | Path) -> Ecg:
    """Decode one ECG file of any supported format into an Ecg.

    Archive formats carry the device's read as ``Ecg.vendor_read``.

    Raises
    ------
    DecodeError
        A missing file, an unknown format, or (a subclass) a file that cannot be decoded.
    """
    p = Path(path)
    if p.is_dir():
        raise DecodeError(f"{p} is a folder: read the ECGs in it with `ecgread batch {p}`")
    if not is_wfdb(p) and not p.is_file():
        raise DecodeError(f"no such file: {p}")
    kind = detect_format(p)
    if kind is None and p.suffix.lower() == ".dat" and p.with_suffix(".hea").is_file():
        raise DecodeError(f"{p.name} is the signal file of a WFDB record: give its header "
                          f"{p.with_suffix('.hea')} (or {p.with_suffix('')})")
    if kind is None:
        raise DecodeError(f"{p.name}: not a DICOM, WFDB, GE MUSE, Philips, HL7 aECG or "
                          f"SCP-ECG file")
    return _reader(kind)(p)


def find_ecg_files(root: str | Path) -> Iterator[Path]:
    """Every ECG file (DICOM, WFDB header, archive format) under a folder, sorted."""
    p = Path(root)
    if p.is_file() or is_wfdb(p):
        yield p
        return
    for f in sorted(p.rglob("*")):
        if f.is_file() and (f.suffix == ".hea" or (f.suffix.lower() != ".dat"
                                                    and detect_format(f) is not None)):
            yield f

"""Open an ECG file of any supported format: DICOM waveform objects or WFDB records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ecgread.errors import DecodeError
from ecgread.models.ecg import Ecg


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


def read_ecg_file(path: str | Path) -> Ecg:
    """Decode one DICOM file or WFDB record (``rec``, ``rec.hea``) into an Ecg.

    Raises DecodeError for a missing file or an unknown format.
    """
    p = Path(path)
    if is_wfdb(p):
        from ecgread.integration.wfdb_read import read_wfdb

        return read_wfdb(p)
    if not p.is_file():
        raise DecodeError(f"no such file: {p}")
    if is_dicom(p):
        from ecgread.integration.dicom_decode import decode_file

        return decode_file(p)
    raise DecodeError(f"{p.name}: neither a DICOM file nor a WFDB record")


def find_ecg_files(root: str | Path) -> Iterator[Path]:
    """Every DICOM file and WFDB header under a folder (or the path itself), sorted."""
    p = Path(root)
    if p.is_file() or is_wfdb(p):
        yield p
        return
    for f in sorted(p.rglob("*")):
        if f.is_file() and (f.suffix == ".hea" or is_dicom(f)):
            yield f

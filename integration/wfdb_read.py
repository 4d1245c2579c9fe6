"""Read WFDB records (research data such as LUDB) into the canonical :class:`Ecg`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgread.errors import DecodeError
from ecgread.models.ecg import STANDARD_LEADS, Acquisition, Ecg

_UNIT_TO_UV = {"uv": 1.0, "µv": 1.0, "mv": 1000.0, "v": 1e6, "nv": 1e-3}
_STANDARD_BY_LOWER = {name.lower(): name for name in STANDARD_LEADS}


def standard_lead_name(label: str) -> str:
    """Map a source label (``"avr"``, ``"Lead II"``, ``"V1"``) to its standard name, else keep
    it."""
    key = label.strip().lower().removeprefix("lead").strip()
    return _STANDARD_BY_LOWER.get(key, label.strip())


def read_wfdb(record_path: str | Path) -> Ecg:
    """Read a WFDB record (header path without ``.hea``) as an Ecg in µV.

    Raises
    ------
    DecodeError
        The header or signal file is missing or unreadable, or a unit is unknown.

    Example
    -------
    >>> ecg = read_wfdb("../shared/data/ludb/data/1")  # doctest: +SKIP
    >>> ecg.lead_names[:3]
    ('I', 'II', 'III')
    """
    import wfdb  # heavy import kept at the edge

    path = Path(record_path)
    if path.suffix == ".hea":
        path = path.with_suffix("")
    try:
        record = wfdb.rdrecord(str(path))
    except (OSError, ValueError) as exc:
        raise DecodeError(f"cannot read WFDB record {path.name}: {exc}") from exc
    if record.p_signal is None or record.fs is None:
        raise DecodeError(f"WFDB record {path.name} has no physical signal")
    scales = []
    for unit in record.units:
        scale = _UNIT_TO_UV.get((unit or "mV").strip().lower())
        if scale is None:
            raise DecodeError(f"WFDB record {path.name}: unknown unit {unit!r}")
        scales.append(scale)
    signal_uv = (record.p_signal.T * np.asarray(scales)[:, None]).astype(np.float32)
    names = tuple(standard_lead_name(n) for n in record.sig_name)
    return Ecg(
        signal_uv=signal_uv,
        sampling_rate_hz=float(record.fs),
        lead_names=names,
        acquisition=Acquisition(),
        source=str(path),
    )

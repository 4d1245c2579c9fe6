"""Read WFDB records (research data such as LUDB) into the canonical :class:`Ecg`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgread.errors import DecodeError
from ecgread.models.ecg import STANDARD_LEADS, Acquisition, Ecg

_UNIT_TO_UV = {"uv": 1.0, "µv": 1.0, "mv": 1000.0, "v": 1e6, "nv": 1e-3}
_STANDARD_BY_LOWER = {name.lower(): name for name in STANDARD_LEADS}
#: Other names of the standard leads: DI-DIII (I-III in Latin American, French and Italian
#: practice) and C1-C6 (the precordial leads in European, IEC 60601-2-25 labelling).
_ALIASES = {"di": "I", "dii": "II", "diii": "III",
            **{f"c{k}": f"V{k}" for k in range(1, 7)}}


def standard_lead_name(label: str) -> str:
    """Map a source label (``"avr"``, ``"Lead II"``, ``"V1"``, ``"DII"``, ``"C1"``) to its
    standard name, else keep it.

    >>> [standard_lead_name(x) for x in ("avr", "Lead II", "DIII", "c4", "MLII")]
    ['aVR', 'II', 'III', 'V4', 'MLII']
    """
    key = label.strip().lower().removeprefix("lead").strip()
    return _STANDARD_BY_LOWER.get(key) or _ALIASES.get(key, label.strip())


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

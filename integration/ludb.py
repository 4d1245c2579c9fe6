"""LUDB access for the benchmarks, the tests and the training scripts: records, expert wave
annotations, diagnoses, and the fixed tune/test split every one of them uses.

Lobachevsky University Electrocardiography Database (LUDB), v1.0.1.
Kalyakulina AI et al., "LUDB: A New Open-Access Validation Tool for Electrocardiogram
Delineation Algorithms", IEEE Access 8:186181-186190 (2020), doi:10.1109/ACCESS.2020.3029211.
Data under the Open Data Commons Attribution License v1.0 (ODC-By 1.0).
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ecgread.integration.wfdb_read import read_wfdb, standard_lead_name
from ecgread.models.ecg import Ecg

#: Where CI and developers find the data: ../shared/data/ludb beside the checkout.
LUDB_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ludb"

_SYMBOL_TO_WAVE = {"p": "P", "N": "QRS", "t": "T"}
_LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")


@dataclass(frozen=True)
class ExpertWave:
    lead: str
    type: str  # "P", "QRS" or "T"
    onset_s: float
    peak_s: float
    offset_s: float


def available() -> bool:
    return (LUDB_DIR / "RECORDS").is_file()


def record_ids() -> list[int]:
    """The record numbers present, in order (140 of the 200 LUDB records here)."""
    lines = (LUDB_DIR / "RECORDS").read_text().split()
    return [int(line.rsplit("/", 1)[-1]) for line in lines]


def einthoven_residual(limb_uv: np.ndarray) -> float:
    """RMS of II - (I + III) over RMS of II, for rows I, II, III (any consistent unit)."""
    i, ii, iii = (np.asarray(limb_uv[k], dtype=np.float64) for k in range(3))
    return float(np.sqrt(np.mean((ii - i - iii) ** 2)) / (np.sqrt(np.mean(ii**2)) + 1e-12))


def read_record(record_id: int, header_gains: bool = False) -> Ecg:
    """One LUDB record in µV.

    The copy in ``../shared/data/ludb`` gives every lead its own ADC gain (400–2300 /mV) and
    baseline in its headers; with those, the limb leads break Einthoven's law
    (II ≠ I + III by 20–65 % RMS), while the stored integers obey it exactly. LUDB as
    published records every lead at 1000 /mV (1 count = 1 µV). So unless
    ``header_gains`` is set, a record whose header gains fail the Einthoven check and whose
    integers pass it is read at the uniform 1000 /mV. Boundaries and times are unaffected;
    amplitudes (voltage criteria, low voltage) depend on it.
    """
    import wfdb

    path = LUDB_DIR / "data" / str(record_id)
    ecg = read_wfdb(path)
    if header_gains:
        return ecg
    raw = wfdb.rdrecord(str(path), physical=False)
    counts = raw.d_signal.T.astype(np.float64)
    if einthoven_residual(ecg.signal_uv[:3]) > 0.05 and einthoven_residual(counts[:3]) < 0.01:
        return dataclasses.replace(ecg, signal_uv=counts.astype(np.float32))
    return ecg


def expert_waves(record_id: int, fs: float = 500.0) -> dict[str, list[ExpertWave]]:
    """Per-lead expert waves: '(' onset, 'p'/'N'/'t' peak, ')' offset triples."""
    import wfdb

    out: dict[str, list[ExpertWave]] = {}
    for ext in _LUDB_LEADS:
        ann = wfdb.rdann(str(LUDB_DIR / "data" / str(record_id)), ext)
        lead = standard_lead_name(ext)
        waves: list[ExpertWave] = []
        symbols, samples = list(ann.symbol), [int(s) for s in ann.sample]
        for i, sym in enumerate(symbols):
            if sym not in _SYMBOL_TO_WAVE:
                continue
            if i == 0 or i + 1 >= len(symbols) or symbols[i - 1] != "(" or symbols[i + 1] != ")":
                continue  # a peak without both boundaries is not a complete annotation
            waves.append(ExpertWave(lead, _SYMBOL_TO_WAVE[sym], samples[i - 1] / fs,
                                    samples[i] / fs, samples[i + 1] / fs))
        out[lead] = waves
    return out


@lru_cache(maxsize=1)
def diagnoses() -> dict[int, dict[str, str]]:
    """ludb.csv rows by record id; multi-line cells are kept with their newlines."""
    with open(LUDB_DIR / "ludb.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {int(r["ID"]): {k: (v or "").strip() for k, v in r.items()} for r in rows}


def split(record_id: int) -> str:
    """The fixed record-level split used by every benchmark and model: 'tune' or 'test'.

    Odd positions in RECORDS order are for tuning, even for testing, so both halves
    cover the database evenly. Neural training uses its own split inside 'tune'.
    """
    return "tune" if record_ids().index(record_id) % 2 == 0 else "test"

"""Decode DICOM ECG waveform objects into the canonical :class:`~models.ecg.Ecg`.

What is read (PS3.3 C.10.9 Waveform Module, C.10.9.1.4 Channel Definition):

- every multiplex group of the Waveform Sequence (5400,0100). The rhythm groups are
  preferred: Multiplex Group Label (003A,0020) naming a rhythm, or Waveform Originality
  (003A,0004) ORIGINAL; median/average beat groups (label, or DERIVED) are used only when
  there is no rhythm group. Rhythm groups at the same sampling frequency holding different
  leads are combined (aligned by Multiplex Group Time Offset (0018,1068); a group shorter
  than the longest is padded with NaN). A lead that appears in two groups is taken from the
  first.
- samples: Waveform Bits Allocated (5400,1004) 8/16/32 with Waveform Sample
  Interpretation (5400,1006) SB/UB (8), SS/US (16), SL/UL (32; SS/US with 32 bits are read
  as SL/UL). MB/AB (G.711 mu-law/A-law) raise :class:`DecodeError`. Waveform Data
  (5400,1010) is channel-interleaved (C1S1, C2S1, ..., CnSm); its byte order is the
  transfer syntax's.
- physical value = raw x Channel Sensitivity (003A,0210) x Channel Sensitivity Correction
  Factor (003A,0212) + Channel Baseline (003A,0213), in the units of the Channel Sensitivity
  Units Sequence (003A,0211) (UCUM uV, mV, V, nV), converted to microvolts. The baseline is
  in physical units (PS3.3 C.10.9.1.4.3), so it is added after scaling; DESIGN.md's
  "(raw + baseline) x sensitivity" reading treated it as counts and was changed on purpose.
- Waveform Padding Value (5400,100A) marks samples with no data: they become NaN.

Everything is validated before it is trusted: channel counts, data length against
samples x channels, sampling frequency within 100..20000 Hz, units known. Failures raise
:class:`~ecgread.errors.DecodeError` (or :class:`NoWaveformError`,
:class:`SopClassMismatchError`) whose ``reason`` is safe to log and to return to a sender.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgread.errors import DecodeError, LimitExceededError, NoWaveformError, SopClassMismatchError
from ecgread.integration.dicom_leads import channel_lead_name
from ecgread.integration.dicom_meta import acquisition_from
from ecgread.models.ecg import Ecg

__all__ = ["SUPPORTED_ECG_SOP_CLASSES", "TWELVE_LEAD_ECG", "GENERAL_ECG", "AMBULATORY_ECG",
           "MIN_SAMPLING_RATE_HZ", "MAX_SAMPLING_RATE_HZ", "decode_dataset", "decode_file"]

#: 12-lead ECG Waveform Storage (PS3.4 B.5).
TWELVE_LEAD_ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
#: General ECG Waveform Storage.
GENERAL_ECG = "1.2.840.10008.5.1.4.1.1.9.1.2"
#: Ambulatory ECG Waveform Storage.
AMBULATORY_ECG = "1.2.840.10008.5.1.4.1.1.9.1.3"
SUPPORTED_ECG_SOP_CLASSES: tuple[str, ...] = (TWELVE_LEAD_ECG, GENERAL_ECG, AMBULATORY_ECG)

MIN_SAMPLING_RATE_HZ = 100.0
MAX_SAMPLING_RATE_HZ = 20000.0

#: (bits allocated, sample interpretation) -> numpy kind and size (byte order added later).
_DTYPES: dict[tuple[int, str], str] = {
    (8, "SB"): "i1", (8, "UB"): "u1",
    (16, "SS"): "i2", (16, "US"): "u2",
    (32, "SL"): "i4", (32, "UL"): "u4", (32, "SS"): "i4", (32, "US"): "u4",
}
#: UCUM code (or code meaning) of Channel Sensitivity Units -> factor to microvolts.
_UNIT_TO_UV: dict[str, float] = {
    "uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
    "mv": 1000.0, "millivolt": 1000.0, "millivolts": 1000.0,
    "v": 1e6, "volt": 1e6, "volts": 1e6,
    "nv": 1e-3, "nanovolt": 1e-3, "nanovolts": 1e-3,
}
_MEDIAN_WORDS = ("MEDIAN", "AVERAGE", "REPRESENTATIVE", "TEMPLATE")


@dataclass(frozen=True)
class _Group:
    """One decoded multiplex group: signal in µV, (channels, samples)."""

    index: int
    signal_uv: np.ndarray
    sampling_rate_hz: float
    lead_names: tuple[str, ...]
    offset_ms: float
    is_rhythm: bool


def _num(item: Any, keyword: str, where: str, default: float | None = None) -> float:
    value = item.get(keyword)
    if value is None or value == "":
        if default is None:
            raise DecodeError(f"{where}: {keyword} is missing")
        return default
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"{where}: {keyword} is not a number") from exc
    if not np.isfinite(number):
        raise DecodeError(f"{where}: {keyword} is not finite")
    return number


def _is_rhythm(group: Any) -> bool:
    label = str(group.get("MultiplexGroupLabel", "") or "").upper()
    if "RHYTHM" in label:
        return True
    if any(word in label for word in _MEDIAN_WORDS):
        return False
    return str(group.get("WaveformOriginality", "") or "").upper() != "DERIVED"


def _unit_factor(channel: Any, where: str) -> float:
    units = channel.get("ChannelSensitivityUnitsSequence")
    if not units:
        raise DecodeError(f"{where}: Channel Sensitivity Units Sequence is missing")
    # The code value (UCUM) decides; the code meaning only when there is no code value.
    code = str(units[0].get("CodeValue", "") or "").strip()
    text = (code or str(units[0].get("CodeMeaning", "") or "")).strip().lower()
    if text in _UNIT_TO_UV:
        return _UNIT_TO_UV[text]
    code = code[:16]
    raise DecodeError(f"{where}: sensitivity unit {code!r} is not a voltage")


def _raw_samples(group: Any, where: str, little_endian: bool) -> tuple[np.ndarray, np.dtype]:
    n_channels = int(_num(group, "NumberOfWaveformChannels", where))
    n_samples = int(_num(group, "NumberOfWaveformSamples", where))
    if n_channels < 1 or n_samples < 1:
        raise DecodeError(f"{where}: {n_channels} channels x {n_samples} samples")
    bits = int(_num(group, "WaveformBitsAllocated", where))
    interpretation = str(group.get("WaveformSampleInterpretation", "") or "").strip().upper()
    if interpretation in ("MB", "AB"):
        raise DecodeError(f"{where}: {interpretation} (G.711 companded) samples are unsupported")
    kind = _DTYPES.get((bits, interpretation))
    if kind is None:
        raise DecodeError(f"{where}: unsupported samples: {bits} bits {interpretation or '?'}")
    dtype = np.dtype(("<" if little_endian else ">") + kind)
    data = group.get("WaveformData")
    if data is None:
        raise NoWaveformError(f"{where}: Waveform Data is missing")
    raw_bytes = bytes(data)
    expected = n_channels * n_samples * dtype.itemsize
    # OB/OW values have even length, so 8-bit data of odd size carries one pad byte.
    if len(raw_bytes) not in (expected, expected + expected % 2):
        raise DecodeError(f"{where}: {len(raw_bytes)} bytes of waveform data, {expected} "
                          f"expected for {n_channels} ch x {n_samples} samples")
    samples = np.frombuffer(raw_bytes[:expected], dtype=dtype).reshape(n_samples, n_channels)
    return samples.T, dtype


def _padding_mask(group: Any, raw: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    padding = group.get("WaveformPaddingValue")
    if padding is None or len(bytes(padding)) < dtype.itemsize:
        return None
    value = np.frombuffer(bytes(padding)[: dtype.itemsize], dtype=dtype)[0]
    mask = raw == value
    return mask if mask.any() else None


def _decode_group(group: Any, index: int, little_endian: bool) -> _Group:
    where = f"group {index + 1}"
    fs = _num(group, "SamplingFrequency", where)
    if not MIN_SAMPLING_RATE_HZ <= fs <= MAX_SAMPLING_RATE_HZ:
        raise DecodeError(f"{where}: sampling frequency {fs:g} Hz outside "
                          f"{MIN_SAMPLING_RATE_HZ:g}..{MAX_SAMPLING_RATE_HZ:g} Hz")
    raw, dtype = _raw_samples(group, where, little_endian)
    channels = group.get("ChannelDefinitionSequence") or []
    if len(channels) != raw.shape[0]:
        raise DecodeError(f"{where}: {len(channels)} channel definitions for "
                          f"{raw.shape[0]} channels")
    signal = raw.astype(np.float64)
    names = []
    for c, channel in enumerate(channels):
        cw = f"{where} ch {c + 1}"
        baseline = _num(channel, "ChannelBaseline", cw, default=0.0)
        sensitivity = _num(channel, "ChannelSensitivity", cw)
        correction = _num(channel, "ChannelSensitivityCorrectionFactor", cw, default=1.0)
        if sensitivity == 0 or correction == 0:
            raise DecodeError(f"{cw}: zero sensitivity or correction factor")
        unit_uv = _unit_factor(channel, cw)
        # PS3.3 C.10.9.1.4.3: Channel Baseline is the offset of encoded value 0 from actual 0
        # "using the units defined in the Channel Sensitivity Units Sequence", i.e. it is in
        # physical units and is added after scaling (as pydicom's waveform handler does).
        signal[c] = signal[c] * (sensitivity * correction * unit_uv) + baseline * unit_uv
        names.append(channel_lead_name(channel, c))
    mask = _padding_mask(group, raw, dtype)
    if mask is not None:
        signal[mask] = np.nan
    offset_ms = _num(group, "MultiplexGroupTimeOffset", where, default=0.0)
    signal32 = signal.astype(np.float32)
    # A finite baseline or sensitivity can still scale samples out of range (a baseline
    # of 1e300 V): such a waveform cannot be measured, so it is refused here.
    if np.isinf(signal32).any():
        raise DecodeError(f"{where}: physical values out of range (check Channel Baseline "
                          "and Sensitivity)")
    return _Group(index, signal32, fs, tuple(names), offset_ms, _is_rhythm(group))


def _combine(groups: Sequence[_Group]) -> tuple[np.ndarray, float, tuple[str, ...]]:
    """Stack groups of one sampling rate, aligned by time offset; first copy of a lead wins."""
    fs = groups[0].sampling_rate_hz
    start_ms = min(g.offset_ms for g in groups)
    starts = [int(round((g.offset_ms - start_ms) * fs / 1000.0)) for g in groups]
    length = max(s + g.signal_uv.shape[1] for s, g in zip(starts, groups, strict=True))
    rows: list[np.ndarray] = []
    names: list[str] = []
    for start, g in zip(starts, groups, strict=True):
        for name, row in zip(g.lead_names, g.signal_uv, strict=True):
            if name in names:
                continue
            padded = np.full(length, np.nan, dtype=np.float32)
            padded[start:start + row.shape[0]] = row
            rows.append(padded)
            names.append(name)
    return np.vstack(rows), fs, tuple(names)


def _choose(groups: Sequence[_Group]) -> list[_Group]:
    """Rhythm groups if any, else median groups; of those, the sampling rate whose groups
    hold the most distinct leads (ties: the longest record, then the first group)."""
    pool = [g for g in groups if g.is_rhythm] or list(groups)
    by_rate: dict[float, list[_Group]] = {}
    for g in pool:
        by_rate.setdefault(g.sampling_rate_hz, []).append(g)

    def score(rate: float) -> tuple[int, float, int]:
        members = by_rate[rate]
        leads = {n for g in members for n in g.lead_names}
        duration_s = max(g.signal_uv.shape[1] for g in members) / rate
        return len(leads), duration_s, -members[0].index

    return by_rate[max(by_rate, key=score)]


def _check_samples(sequence: Sequence[Any], max_samples: int) -> None:
    """Refuse a waveform of more than ``max_samples`` samples (channels x samples, all
    groups) before any of it is converted (8 bytes a sample while decoding)."""
    total = 0
    for group in sequence:
        try:
            total += int(group.get("NumberOfWaveformChannels") or 0) * int(
                group.get("NumberOfWaveformSamples") or 0)
        except (TypeError, ValueError):
            continue  # the group's own decoding reports it
    if total > max_samples:
        raise LimitExceededError(f"waveform of {total} samples, more than {max_samples}",
                                 "max_samples")


def decode_dataset(ds: Any, source: str = "", max_samples: int | None = None) -> Ecg:
    """Turn a pydicom Dataset of an ECG waveform SOP class into an :class:`Ecg` (µV).

    Parameters
    ----------
    ds:
        A ``pydicom.Dataset`` (read from a file or received over the network).
    source:
        Provenance for ``Ecg.source``; defaults to the SOP Instance UID.
    max_samples:
        Most samples (channels x samples over all multiplex groups); None: no limit.

    Raises
    ------
    SopClassMismatchError
        SOP Class UID (0008,0016) is not one of :data:`SUPPORTED_ECG_SOP_CLASSES`.
    NoWaveformError
        No Waveform Sequence, or no multiplex group with data.
    DecodeError
        Anything else that prevents a trustworthy decoding (reason says what).
    LimitExceededError
        More than ``max_samples`` samples.

    Example
    -------
    >>> from pydicom import dcmread
    >>> from pydicom.data import get_testdata_file
    >>> ecg = decode_dataset(dcmread(get_testdata_file("waveform_ecg.dcm")))
    >>> ecg.lead_names[:3], ecg.sampling_rate_hz, ecg.signal_uv.shape
    (('I', 'II', 'III'), 1000.0, (12, 10000))
    """
    try:
        return _decode(ds, source, max_samples)
    except (DecodeError, LimitExceededError):
        raise
    except Exception as exc:  # malformed values surface as many exception types
        raise DecodeError(f"malformed data set ({type(exc).__name__})") from exc


def _decode(ds: Any, source: str, max_samples: int | None) -> Ecg:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if not sop_class:
        raise DecodeError("SOP Class UID (0008,0016) is missing")
    if sop_class not in SUPPORTED_ECG_SOP_CLASSES:
        raise SopClassMismatchError(f"SOP class {sop_class[:40]} is not an ECG waveform")
    sequence = ds.get("WaveformSequence")
    if not sequence:
        raise NoWaveformError("no Waveform Sequence (5400,0100)")
    if max_samples is not None:
        _check_samples(sequence, max_samples)
    little_endian = ds.original_encoding[1] is not False
    candidates: list[_Group] = []
    errors: list[DecodeError] = []
    for index, group in enumerate(sequence):
        try:
            candidates.append(_decode_group(group, index, little_endian))
        except DecodeError as exc:
            errors.append(exc)
    # A broken group may be skipped only when it is not a rhythm group we would have used.
    broken_rhythm = [e for e, g in zip(errors, _failed(sequence, candidates), strict=True)
                     if _is_rhythm(g)]
    if broken_rhythm or not candidates:
        raise (broken_rhythm or errors)[0]
    chosen = _choose(candidates)
    signal_uv, fs, names = _combine(chosen)
    if np.isnan(signal_uv).all():
        raise NoWaveformError("every sample is padding")
    acquisition = acquisition_from(ds)
    return Ecg(signal_uv=signal_uv, sampling_rate_hz=fs, lead_names=names,
               acquisition=acquisition,
               source=source or (acquisition.sop_instance_uid or ""))


def _failed(sequence: Sequence[Any], decoded: Sequence[_Group]) -> list[Any]:
    ok = {g.index for g in decoded}
    return [group for i, group in enumerate(sequence) if i not in ok]


def decode_file(path: str | Path, max_samples: int | None = None) -> Ecg:
    """Read a DICOM file and decode it (see :func:`decode_dataset`); ``source`` is the path.

    Raises :class:`DecodeError` when the file is missing or not DICOM.
    """
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    p = Path(path)
    try:
        ds = dcmread(p, force=False)
    except FileNotFoundError as exc:
        raise DecodeError(f"no such file: {p.name}") from exc
    except InvalidDicomError as exc:
        raise DecodeError(f"{p.name} is not a DICOM file") from exc
    except Exception as exc:
        raise DecodeError(f"{p.name}: unreadable DICOM ({type(exc).__name__})") from exc
    return decode_dataset(ds, source=str(p), max_samples=max_samples)

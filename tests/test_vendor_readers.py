"""Archive readers (GE MUSE, Philips Sierra, HL7 aECG, SCP-ECG) on the shared vendor files.

The files stay in ../shared/data/vendor (their licences do not let us copy them in); the
tests skip when it is absent. Expected vendor values are the numbers printed in the files.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgread.errors import (
    CorruptFileError,
    DecodeError,
    InputTooLargeError,
    NoWaveformError,
    UnsupportedVariantError,
)
from ecgread.integration import archive_io
from ecgread.integration.ecg_files import detect_format, find_ecg_files, read_ecg_file
from ecgread.integration.ge_muse import decode_muse
from ecgread.integration.hl7_aecg import decode_aecg
from ecgread.integration.philips_sierra import decode_philips
from ecgread.integration.scp_ecg import decode_scp
from ecgread.models.ecg import STANDARD_LEADS

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO.parent / "shared" / "data" / "vendor"

pytestmark = pytest.mark.skipif(not VENDOR.is_dir(),
                                reason=f"vendor examples not found at {VENDOR}")

MUSE = "ge-muse/muse-sinus.xml"
PHILIPS_103 = "philips-sierra/129DYPRG.XML"
PHILIPS_104 = "philips-sierra/2020-5-18_15-48-11.xml"
PHILIPS_LVH = "philips-sierra/3191723_ZZDEMOPTONLY_1-04_orig.xml"
PHILIPS_SB = "philips-sierra/ad4d3d80-d165_1-04_orig.xml"
PHILIPS_AECG = "philips-sierra/ad4d3d80-d165_1-04_converted.xml"
AECG = "hl7-aecg/subject1_0.xml"
AECG_EXAMPLE = "hl7-aecg/Example_aECG_HL7_2003-12.xml"
SCP = "scp-ecg/Example.scp"
SCP_RAW = "scp-ecg/demo.scp"

# file -> (format, sampling rate Hz, duration range s)
SIGNALS = {
    MUSE: ("muse", 500.0, (10.0, 10.0)),
    PHILIPS_103: ("philips", 500.0, (10.0, 11.0)),
    PHILIPS_104: ("philips", 500.0, (10.0, 11.0)),
    PHILIPS_LVH: ("philips", 500.0, (10.0, 11.0)),
    PHILIPS_SB: ("philips", 500.0, (10.0, 11.0)),
    PHILIPS_AECG: ("aecg", 500.0, (10.0, 11.0)),
    AECG: ("aecg", 500.0, (10.0, 10.0)),
    AECG_EXAMPLE: ("aecg", 500.0, (10.0, 10.0)),
    SCP: ("scp", 500.0, (10.0, 10.0)),
    SCP_RAW: ("scp", 1000.0, (10.0, 10.0)),
}

# file -> the vendor's measurements as the file prints them (None: not given), in the order
# heart_rate_bpm, rr_ms, p_ms, pr_ms, qrs_ms, qt_ms, qtc_ms, p_axis_deg, qrs_axis_deg, t_axis_deg
_FIELDS = ("heart_rate_bpm", "rr_ms", "p_ms", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms",
           "p_axis_deg", "qrs_axis_deg", "t_axis_deg")
_ROWS: dict[str, tuple[float | None, ...]] = {
    MUSE: (90, 663, 82, 144, 86, 402, 491, 48, 0, 111),
    PHILIPS_103: (41, None, None, 151, 135, 476, 393, 66, -21, 59),
    PHILIPS_104: (64, 938, 104, 164, 102, 399, 412, 27, 22, 80),
    PHILIPS_LVH: (84, 714, 148, 144, 84, 352, 417, 81, 78, 67),
    PHILIPS_SB: (41, 1463, 508, 144, 102, 564, 466, 19, 85, 53),
    PHILIPS_AECG: (41, 1463, None, 144, 102, 564, 466, None, None, None),
    AECG: (None, None, 102, 148, 120, 420, 443, 44, -61, 86),
    # the same Mortara ECG as the aECG example: P 286-388, QRS 434-554, T end 854 ms
    SCP: (None, None, 102, 148, 120, 420, 443, 44, -61, 86),
}
VENDOR_MEASUREMENTS: dict[str, dict[str, float | None]] = {
    rel: {k: (None if v is None else float(v)) for k, v in zip(_FIELDS, row, strict=True)}
    for rel, row in _ROWS.items()
}
QTC_FORMULA: dict[str, str | None] = {
    MUSE: None, PHILIPS_103: None, PHILIPS_104: "bazett", PHILIPS_LVH: "bazett",
    PHILIPS_SB: "bazett", PHILIPS_AECG: "bazett", AECG: None, SCP: None}


def _read(rel: str):
    return read_ecg_file(VENDOR / rel)


@pytest.mark.parametrize("rel", list(SIGNALS))
def test_signal_leads_rate_duration_amplitude(rel: str) -> None:
    fmt, fs, (low_s, high_s) = SIGNALS[rel]
    assert detect_format(VENDOR / rel) == fmt
    ecg = _read(rel)
    assert ecg.lead_names == STANDARD_LEADS
    assert ecg.sampling_rate_hz == fs
    assert low_s <= ecg.duration_s <= high_s
    assert ecg.signal_uv.dtype == np.float32
    assert not np.isnan(ecg.signal_uv).any()
    lead_ii = ecg.lead("II")
    assert 300.0 <= float(np.ptp(lead_ii)) <= 5000.0  # µV: a QRS of 0.3-5 mV
    # Einthoven (III = II - I) and Goldberger (aVR + aVL + aVF = 0), within rounding
    tolerance_uv = 35.0
    assert np.abs(ecg.lead("II") - ecg.lead("I") - ecg.lead("III")).max() <= tolerance_uv
    augmented = ecg.lead("aVR") + ecg.lead("aVL") + ecg.lead("aVF")
    assert np.abs(augmented).max() <= tolerance_uv


@pytest.mark.parametrize("rel", list(VENDOR_MEASUREMENTS))
def test_vendor_measurements_equal_the_file(rel: str) -> None:
    read = _read(rel).vendor_read
    assert read is not None
    assert read.measurements == VENDOR_MEASUREMENTS[rel]
    assert read.qtc_formula == QTC_FORMULA[rel]


def test_muse_read_is_12sl_with_joined_statements() -> None:
    ecg = _read(MUSE)
    read = ecg.vendor_read
    assert (read.manufacturer, read.device, read.program, read.program_version) == (
        "GE Healthcare", "MV360", "12SL", "243")
    assert read.other_measurements["QTcFrederica"] == 460.0
    texts = [s.text for s in read.statements]
    assert texts[:4] == ["Normal Sinus rhythm", "Anterior infarct, age undetermined",
                         "T wave abnormality, consider lateral ischemia", "Abnormal ECG"]
    assert ecg.acquisition.patient_sex == "M"
    assert ecg.acquisition.acquisition_time.isoformat() == "2023-04-29T22:41:16"


def test_muse_stores_8_leads_and_the_other_4_are_derived() -> None:
    data = (VENDOR / MUSE).read_bytes()
    rhythm = data[data.index(b"<WaveformType>Rhythm"):]
    assert re.findall(rb"<LeadID>([^<]+)</LeadID>", rhythm) == [
        b"I", b"II", b"V1", b"V2", b"V3", b"V4", b"V5", b"V6"]
    ecg = _read(MUSE)
    i, ii = ecg.lead("I"), ecg.lead("II")
    np.testing.assert_allclose(ecg.lead("aVF"), ii - i / 2, atol=1e-3)
    np.testing.assert_allclose(ecg.lead("aVR"), -(i + ii) / 2, atol=1e-3)


def test_philips_statements_codes_and_reasons() -> None:
    read = _read(PHILIPS_104).vendor_read
    assert [(s.code, s.text) for s in read.statements] == [
        ("SR", "Sinus rhythm"), ("ET", "Abnormal R-wave progression, early transition"),
        ("ON", "OTHERWISE NORMAL ECG")]
    assert read.statements[0].reason == "normal P axis, V-rate 50-99"
    assert read.other_measurements["qtcf"] == 408.0
    old = _read(PHILIPS_103).vendor_read
    assert old.statements[0].text == "Sinus bradycardia" and old.statements[0].reason == "rate< 50"


def test_philips_xli_matches_philips_own_aecg_conversion() -> None:
    """The cart's XLI stream and Philips' converter's aECG digits are the same ECG: our XLI
    decoding (and limb-lead rebuilding) must agree with it sample by sample."""
    xml, aecg = _read(PHILIPS_SB), _read(PHILIPS_AECG)
    n = min(xml.n_samples, aecg.n_samples)
    assert n >= 5000
    assert np.abs(xml.signal_uv[:, :n] - aecg.signal_uv[:, :n]).max() <= 20.0  # 4 LSB


def test_philips_calibration_trailer_is_cut() -> None:
    ecg = _read(PHILIPS_104)
    assert ecg.n_samples < 5500  # 11 s stored, the last ~0.4 s flat line + 1 mV pulse
    assert np.abs(ecg.signal_uv[:, -200:]).max() < 900.0


def test_scp_and_aecg_of_the_same_ecg_agree() -> None:
    scp, aecg = _read(SCP), _read(AECG_EXAMPLE)
    np.testing.assert_array_equal(scp.signal_uv, aecg.signal_uv)


def test_scp_without_measurements_has_no_vendor_read() -> None:
    ecg = _read(SCP_RAW)
    assert ecg.vendor_read is None
    assert ecg.acquisition.acquisition_time is not None


def test_format_is_read_from_content_not_extension(tmp_path: Path) -> None:
    for rel in (MUSE, PHILIPS_104, AECG, SCP):
        odd = tmp_path / f"{Path(rel).stem}.bin"
        odd.write_bytes((VENDOR / rel).read_bytes())
        assert read_ecg_file(odd).vendor_read is not None
    (tmp_path / "notes.xml").write_text("<?xml version='1.0'?><notes/>")
    assert [p.name for p in find_ecg_files(tmp_path)] == sorted(
        f"{Path(rel).stem}.bin" for rel in (MUSE, PHILIPS_104, AECG, SCP))
    with pytest.raises(DecodeError, match="not a DICOM"):
        read_ecg_file(tmp_path / "notes.xml")


# --- untrusted input ----------------------------------------------------------------------

DECODERS = {MUSE: decode_muse, PHILIPS_104: decode_philips, PHILIPS_103: decode_philips,
            AECG: decode_aecg, SCP: decode_scp, SCP_RAW: decode_scp}


@pytest.mark.parametrize("rel", list(DECODERS))
@pytest.mark.parametrize("keep", [0.0, 0.02, 0.3, 0.7, 0.999])
def test_truncated_file_raises_a_decode_error(rel: str, keep: float) -> None:
    data = (VENDOR / rel).read_bytes()
    with pytest.raises(DecodeError):
        DECODERS[rel](data[: int(len(data) * keep)])


@pytest.mark.parametrize("rel", list(DECODERS))
def test_random_corruption_raises_only_decode_errors(rel: str) -> None:
    """Flip bytes at random: the reader returns an Ecg or raises a DecodeError, never
    IndexError, struct.error, OverflowError and the like."""
    data = (VENDOR / rel).read_bytes()
    rng = np.random.default_rng(12)
    for _ in range(25):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(data), size=8):
            mutated[pos] = int(rng.integers(0, 256))
        try:
            DECODERS[rel](bytes(mutated))
        except DecodeError:
            pass


def test_muse_waveform_crc_mismatch() -> None:
    data = (VENDOR / MUSE).read_bytes()
    rhythm = data.index(b"<WaveformType>Rhythm")
    m = re.compile(rb"<WaveFormData>([^<]+)</WaveFormData>").search(data, rhythm)
    assert m is not None
    raw = bytearray(base64.b64decode(b"".join(m.group(1).split())))
    raw[100] ^= 0x01
    bad = data[: m.start(1)] + base64.b64encode(bytes(raw)) + data[m.end(1):]
    with pytest.raises(CorruptFileError, match="CRC32"):
        decode_muse(bad)


def test_muse_without_rhythm_waveform() -> None:
    data = (VENDOR / MUSE).read_bytes().replace(b"<WaveformType>Rhythm", b"<WaveformType>Other")
    with pytest.raises(NoWaveformError):
        decode_muse(data)


def test_philips_unknown_version_and_compression() -> None:
    data = (VENDOR / PHILIPS_103).read_bytes()
    with pytest.raises(UnsupportedVariantError):
        decode_philips(data.replace(b"<documentversion>1.03", b"<documentversion>2.00"))
    with pytest.raises(UnsupportedVariantError):
        decode_philips(data.replace(b'compressmethod="XLI"', b'compressmethod="ZIP"'))


def test_aecg_bad_digits() -> None:
    data = (VENDOR / AECG).read_bytes()
    with pytest.raises(CorruptFileError, match="integers"):
        decode_aecg(data.replace(b"<digits>", b"<digits>x1 ", 1))


def test_xml_entities_are_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE RestingECG [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><RestingECG>&b;</RestingECG>')
    with pytest.raises(DecodeError, match="entity"):
        decode_muse(bomb)


def _with_crc(data: bytearray) -> bytes:
    struct.pack_into("<H", data, 0, binascii.crc_hqx(bytes(data[2:]), 0xFFFF))
    return bytes(data)


def test_scp_crc_and_unsupported_variants() -> None:
    data = bytearray((VENDOR / SCP).read_bytes())
    flipped = bytearray(data)
    flipped[5000] ^= 0xFF
    with pytest.raises(CorruptFileError, match="CRC"):
        decode_scp(bytes(flipped))
    section3 = struct.unpack_from("<I", data, 6 + 16 + 10 * 3 + 6)[0] - 1
    with_reference_beat = bytearray(data)
    with_reference_beat[section3 + 16 + 1] |= 0x01
    with pytest.raises(UnsupportedVariantError, match="reference beat"):
        decode_scp(_with_crc(with_reference_beat))
    section2 = struct.unpack_from("<I", data, 6 + 16 + 10 * 2 + 6)[0] - 1
    custom_table = bytearray(data)
    struct.pack_into("<H", custom_table, section2 + 16, 1)
    with pytest.raises(UnsupportedVariantError, match="Huffman"):
        decode_scp(_with_crc(custom_table))


def test_scp_with_lead_lengths_that_do_not_fit_is_refused() -> None:
    """0000050.ECG.scp (a converter's output, not a cart's) declares 65534 bytes for a lead of
    37855 16-bit samples: refused, not read short."""
    with pytest.raises(CorruptFileError, match="bytes for"):
        read_ecg_file(VENDOR / "scp-ecg/0000050.ECG.scp")


def test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_io, "MAX_FILE_BYTES", 1000)
    with pytest.raises(InputTooLargeError):
        read_ecg_file(VENDOR / MUSE)
    monkeypatch.undo()
    monkeypatch.setattr(archive_io, "MAX_SAMPLES_PER_LEAD", 4000)
    for rel in (MUSE, AECG, SCP):
        with pytest.raises(InputTooLargeError):
            read_ecg_file(VENDOR / rel)


# --- the command --------------------------------------------------------------------------

def test_analyze_json_adds_vendor_only_when_present(tmp_path: Path) -> None:
    files = [MUSE, PHILIPS_103, PHILIPS_104, AECG, SCP, SCP_RAW]
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECGREAD_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "ecgread", "analyze", "--json",
                           *(str(VENDOR / f) for f in files)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == len(files)
    contract = {"source", "sampling_rate_hz", "leads", "quality", "measurements", "waves",
                "statements", "versions"}
    for rel, out in zip(files, lines, strict=True):
        assert contract <= set(out)
        assert out["measurements"]["heart_rate_bpm"] is not None
        if rel == SCP_RAW:
            assert "vendor" not in out
            continue
        vendor = out["vendor"]
        expected = VENDOR_MEASUREMENTS[rel]
        assert {k: vendor["measurements"][k] for k in expected} == expected
        assert vendor["measurements"]["qtc_formula"] == QTC_FORMULA[rel]
        assert vendor["statements"] or rel == SCP

"""DICOM waveform decoding: physical values, group choice, lead names, metadata, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from ecgread.errors import DecodeError, NoWaveformError, SopClassMismatchError
from ecgread.integration.dicom_decode import (
    AMBULATORY_ECG,
    SUPPORTED_ECG_SOP_CLASSES,
    decode_dataset,
    decode_file,
)
from ecgread.integration.dicom_leads import channel_lead_name
from ecgread.integration.dicom_meta import age_years
from ecgread.models.ecg import STANDARD_LEADS
from tests.dicom_factory import (
    GroupSpec,
    ct_as_ecg,
    ecg_object,
    garbage_file,
    general_ecg_multigroup,
    truncated,
    twelve_lead,
    without_waveform,
    write,
)

SAMPLE = get_testdata_file("waveform_ecg.dcm")


def _assert_leads(ecg, expected: dict[str, np.ndarray]) -> None:
    for name, values in expected.items():
        np.testing.assert_allclose(ecg.lead(name), values, rtol=1e-6, atol=1e-3,
                                   equal_nan=True, err_msg=name)


def test_pydicom_sample_decodes_rhythm_group_in_microvolts() -> None:
    ds = dcmread(SAMPLE)
    ecg = decode_dataset(ds)
    assert ecg.lead_names == STANDARD_LEADS
    assert ecg.sampling_rate_hz == 1000.0
    assert ecg.signal_uv.shape == (12, 10000)  # the 10 s rhythm group, not the 1.2 s median
    assert ecg.signal_uv.dtype == np.float32
    # Channel Sensitivity 1.25 uV, correction 1, baseline 0 (see the file's channel items).
    raw = np.frombuffer(ds.WaveformSequence[0].WaveformData, dtype="<i2").reshape(10000, 12).T
    np.testing.assert_allclose(ecg.signal_uv, raw * 1.25, rtol=1e-6)
    acq = ecg.acquisition
    assert (acq.patient_sex, acq.patient_age_years) == ("F", 42.0)
    assert acq.accession_number == "03028041970546"
    assert acq.acquisition_time is not None and acq.acquisition_time.tzinfo is not None
    assert acq.acquisition_time.replace(tzinfo=None) == datetime(2013, 1, 25, 10, 59, 19)
    assert acq.device == "Mortara Instrument, Inc. el250"
    assert acq.sop_instance_uid == ecg.source == ds.SOPInstanceUID


def test_decode_file_sets_source_to_path() -> None:
    ecg = decode_file(SAMPLE)
    assert ecg.source == str(SAMPLE)


def test_twelve_lead_rhythm_preferred_even_when_median_comes_first(tmp_path: Path) -> None:
    built = twelve_lead()
    ds = built.dataset
    ds.WaveformSequence = DicomSequence(list(reversed(list(ds.WaveformSequence))))
    ecg = decode_file(write(ds, tmp_path / "e.dcm"))
    assert ecg.lead_names == STANDARD_LEADS
    assert ecg.signal_uv.shape == (12, 5000) and ecg.sampling_rate_hz == 500.0
    _assert_leads(ecg, built.groups_uv[0])


def test_general_ecg_groups_combined_with_units_baseline_correction_padding(
        tmp_path: Path) -> None:
    built = general_ecg_multigroup()
    ecg = decode_file(write(built, tmp_path / "g.dcm"))
    assert ecg.lead_names == STANDARD_LEADS
    assert ecg.signal_uv.shape == (12, 5000)
    for group in built.groups_uv[:3]:
        _assert_leads(ecg, group)
    # padding: samples 0, 1, 4999 of the limb leads and sample 100 of V4..V6
    assert np.isnan(ecg.lead("aVF")[[0, 1, 4999]]).all()
    assert np.isnan(ecg.lead("V5")[100]) and not np.isnan(ecg.lead("V5")[99])
    assert not np.isnan(ecg.lead("V1")).any()
    # a known value: V1 (mV, sensitivity 0.005, baseline -0.05 mV, correction 0.98)
    raw = np.frombuffer(built.dataset.WaveformSequence[1].WaveformData, dtype="<i2")[0]
    assert ecg.lead("V1")[0] == pytest.approx((raw * 0.005 * 0.98 - 0.05) * 1000.0, rel=1e-6)
    acq = ecg.acquisition
    assert acq.patient_sex == "M" and acq.patient_age_years == 44.0
    assert acq.acquisition_time == datetime(2024, 3, 11, 10, 14, 59, 250000).astimezone()


@pytest.mark.parametrize("transfer_syntax", [ExplicitVRBigEndian, ImplicitVRLittleEndian])
def test_other_transfer_syntaxes(tmp_path: Path, transfer_syntax: str) -> None:
    built = twelve_lead(transfer_syntax=transfer_syntax)
    ecg = decode_file(write(built, tmp_path / "t.dcm"))
    _assert_leads(ecg, built.expected_uv)


@pytest.mark.parametrize("bits,interp", [(8, "SB"), (8, "UB"), (16, "US"), (32, "UL")])
def test_sample_formats(bits: int, interp: str) -> None:
    unsigned = interp.startswith("U")
    sensitivity = 20.0 if bits == 8 else 2.5
    spec = GroupSpec(leads=("I", "II", "V2"), bits=bits, interpretation=interp,
                     sensitivity=sensitivity,
                     baseline=-(2 ** (bits - 1)) * sensitivity if unsigned else 0.0)
    built = ecg_object([spec])
    ecg = decode_dataset(built.dataset)
    _assert_leads(ecg, built.expected_uv)
    # an unsigned encoding with baseline -2^(bits-1) counts (in µV) is centred on zero volts
    assert abs(float(np.nanmedian(ecg.lead("I")))) < 200


def test_median_beat_used_when_no_rhythm_group() -> None:
    built = ecg_object([GroupSpec(label="MEDIAN BEAT", originality="DERIVED", duration_s=1.2)])
    ecg = decode_dataset(built.dataset)
    assert ecg.signal_uv.shape == (12, 600)


def test_rate_with_most_leads_wins_and_offsets_align() -> None:
    built = ecg_object([
        GroupSpec(leads=("II",), fs=250.0),
        GroupSpec(leads=("I", "II", "III"), fs=500.0, duration_s=2.0),
        GroupSpec(leads=("V1", "V2"), fs=500.0, duration_s=2.0, offset_ms=1000.0),
    ], sop_class=AMBULATORY_ECG)
    ecg = decode_dataset(built.dataset)
    assert ecg.lead_names == ("I", "II", "III", "V1", "V2")
    assert ecg.sampling_rate_hz == 500.0 and ecg.n_samples == 1500  # 2 s + 1 s offset
    assert np.isnan(ecg.lead("V1")[:500]).all() and np.isnan(ecg.lead("I")[1000:]).all()
    np.testing.assert_allclose(ecg.lead("V2")[500:], built.groups_uv[2]["V2"], rtol=1e-6)


def _channel(code: str = "", scheme: str = "", meaning: str = "", label: str = "") -> Dataset:
    ch = Dataset()
    if code or meaning:
        item = Dataset()
        item.CodeValue = code
        item.CodingSchemeDesignator = scheme
        item.CodeMeaning = meaning
        ch.ChannelSourceSequence = DicomSequence([item])
    if label:
        ch.ChannelLabel = label
    return ch


@pytest.mark.parametrize("channel,name", [
    (_channel("5.6.3-9-62", "SCPECG", "whatever"), "aVR"),
    (_channel("2:61", "MDC", "MDC_ECG_LEAD_III"), "III"),
    (_channel(str((2 << 16) + 63), "MDC", "MDC_ECG_LEAD_AVL"), "aVL"),
    (_channel("X-99", "99LOCAL", "Lead aVF"), "aVF"),
    (_channel("X-99", "99LOCAL", "Lead I (Einthoven)"), "I"),
    (_channel("X-99", "99LOCAL", "Lead V7"), "V7"),
    (_channel(label="v2"), "V2"),
    (_channel(label="DII"), "II"),  # Latin American / French / Italian labelling
    (_channel(label="C3"), "V3"),  # European (IEC) precordial labelling
    (_channel(label="MLII"), "MLII"),  # a modified lead is not the standard one
    (_channel(), "ch4"),
])
def test_lead_names(channel: Dataset, name: str) -> None:
    assert channel_lead_name(channel, 3) == name


@pytest.mark.parametrize("text,years", [("042Y", 42.0), ("006M", 0.5), ("010D", 10 / 365.25),
                                        ("002W", 14 / 365.25), ("42", None), ("", None)])
def test_age_strings(text: str, years: float | None) -> None:
    assert age_years(text) == (pytest.approx(years) if years is not None else None)


def test_acquisition_time_zones() -> None:
    ds = twelve_lead().dataset
    ds.AcquisitionDateTime = "20240311101459+0200"
    assert decode_dataset(ds).acquisition.acquisition_time == datetime(
        2024, 3, 11, 8, 14, 59, tzinfo=UTC)
    del ds.AcquisitionDateTime
    ds.TimezoneOffsetFromUTC = "-0500"
    assert decode_dataset(ds).acquisition.acquisition_time == datetime(
        2024, 3, 11, 15, 15, 0, tzinfo=UTC)  # ContentDate/Time 10:15:00 at -05:00


def test_age_from_birth_date_and_unknown_sex() -> None:
    ds = twelve_lead().dataset
    del ds.PatientAge
    ds.PatientSex = "O"
    acq = decode_dataset(ds).acquisition
    assert acq.patient_sex is None
    assert acq.patient_age_years == pytest.approx(44.19, abs=0.01)  # 1980-01-01 to 2024-03-11


# --- errors -------------------------------------------------------------------------------


def test_truncated_waveform_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="bytes of waveform data, .* expected"):
        decode_dataset(truncated(twelve_lead()))


def test_missing_waveform_sequence() -> None:
    with pytest.raises(NoWaveformError):
        decode_dataset(without_waveform(twelve_lead()))


def test_ct_image_is_sop_class_mismatch(tmp_path: Path) -> None:
    with pytest.raises(SopClassMismatchError):
        decode_file(get_testdata_file("CT_small.dcm"))
    # relabelled as an ECG it has no waveform
    with pytest.raises(NoWaveformError):
        decode_file(ct_as_ecg(tmp_path / "ct.dcm"))


@pytest.mark.filterwarnings("ignore:Expected explicit VR")
def test_garbage_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DecodeError):
        decode_file(garbage_file(tmp_path / "g.dcm"))
    with pytest.raises(DecodeError, match="no such file"):
        decode_file(tmp_path / "absent.dcm")
    (tmp_path / "text.dcm").write_text("not dicom at all")
    with pytest.raises(DecodeError):
        decode_file(tmp_path / "text.dcm")


def _edit_first_group(built, **changes):  # type: ignore[no-untyped-def]
    group = built.dataset.WaveformSequence[0]
    for key, value in changes.items():
        if value is None:
            delattr(group, key)
        else:
            setattr(group, key, value)
    return built.dataset


@pytest.mark.parametrize("changes,message", [
    ({"WaveformSampleInterpretation": "MB", "WaveformBitsAllocated": 8}, "unsupported"),
    ({"WaveformSampleInterpretation": "AB", "WaveformBitsAllocated": 8}, "unsupported"),
    ({"SamplingFrequency": "50"}, "outside 100..20000 Hz"),
    ({"SamplingFrequency": "50000"}, "outside"),
    ({"NumberOfWaveformChannels": 11}, "expected|channel definitions"),
    ({"NumberOfWaveformSamples": 6000}, "120000 bytes of waveform data, 144000 expected"),
    ({"WaveformBitsAllocated": 12}, "unsupported samples"),
    ({"SamplingFrequency": None}, "SamplingFrequency is missing"),
])
def test_invalid_group_attributes(changes: dict, message: str) -> None:
    built = twelve_lead()
    with pytest.raises(DecodeError, match=message):
        decode_dataset(_edit_first_group(built, **changes))


def test_units_must_be_voltage_and_present() -> None:
    ds = twelve_lead().dataset
    ds.WaveformSequence[0].ChannelDefinitionSequence[2].ChannelSensitivityUnitsSequence[
        0].CodeValue = "mm[Hg]"
    with pytest.raises(DecodeError, match="not a voltage"):
        decode_dataset(ds)
    ds = twelve_lead().dataset
    del ds.WaveformSequence[0].ChannelDefinitionSequence[0].ChannelSensitivityUnitsSequence
    with pytest.raises(DecodeError, match="Units Sequence is missing"):
        decode_dataset(ds)


def test_broken_median_group_is_skipped_but_broken_rhythm_group_is_not() -> None:
    built = twelve_lead()
    built.dataset.WaveformSequence[1].WaveformData = b"\0\0"
    assert decode_dataset(built.dataset).signal_uv.shape == (12, 5000)
    with pytest.raises(DecodeError):
        decode_dataset(truncated(twelve_lead()))


def test_supported_sop_classes() -> None:
    assert SUPPORTED_ECG_SOP_CLASSES == ("1.2.840.10008.5.1.4.1.1.9.1.1",
                                         "1.2.840.10008.5.1.4.1.1.9.1.2",
                                         "1.2.840.10008.5.1.4.1.1.9.1.3")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sensitivity=st.floats(0.1, 10.0), correction=st.floats(0.5, 1.5),
       baseline=st.integers(-100, 100), units=st.sampled_from(["uV", "mV"]),
       seed=st.integers(0, 1000))
def test_physical_value_formula_holds(sensitivity: float, correction: float, baseline: int,
                                      units: str, seed: int) -> None:
    """raw x sensitivity x correction + baseline (PS3.3 C.10.9.1.4.3), in µV, for any
    calibration."""
    factor_to_units = 1.0 if units == "uV" else 1e-3
    spec = GroupSpec(leads=("I", "II"), duration_s=1.0, sensitivity=sensitivity * factor_to_units,
                     correction=correction, baseline=float(baseline), units=units)
    built = ecg_object([spec], seed=seed)
    ecg = decode_dataset(built.dataset)
    raw = np.frombuffer(built.dataset.WaveformSequence[0].WaveformData, "<i2").reshape(-1, 2).T
    cal = float(built.dataset.WaveformSequence[0].ChannelDefinitionSequence[0].ChannelSensitivity)
    scale = 1.0 if units == "uV" else 1000.0
    corr = float(built.dataset.WaveformSequence[0].ChannelDefinitionSequence[0]
                 .ChannelSensitivityCorrectionFactor)
    expected = raw[0] * cal * corr * scale + baseline * scale
    np.testing.assert_allclose(ecg.lead("I"), expected, rtol=1e-5, atol=1e-2)

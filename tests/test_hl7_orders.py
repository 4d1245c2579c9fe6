"""Parsing ORM^O01 / OMG^O19 orders with hl7apy: what is read from where, leniency about
versions and segments, and the errors (with their ERR-3 codes and ACK codes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ecgread.errors import MessageError, UnsupportedMessageError
from ecgread.integration.hl7_header import escape, parse_ts, salvage_header, unescape
from ecgread.integration.hl7_orders import parse_order_message
from ecgread.integration.status_map import outcome_for
from tests.hl7_samples import PID_EPIC, adt_a01, message, msh, omg_o19, orm_o01, segment


def test_epic_orm_o01_v231_is_read_field_by_field():
    parsed = parse_order_message(orm_o01())
    assert parsed.header.control_id == "ORM0001"
    assert parsed.header.kind == "ORM^O01"
    assert parsed.parsed_as_version == "2.3.1"
    (o,) = parsed.orders
    assert (o.control, o.action) == ("NW", "new")
    assert (o.placer_order_number, o.placer_namespace) == ("PLC1001", "EPIC")
    assert o.filler_order_number == "FIL2002"
    assert (o.accession_number, o.accession_source) == ("ACC55501", "OBR-18")
    # PID-3: the MR repetition, not the first (enterprise) one; authority kept.
    assert (o.patient_id, o.patient_id_authority, o.patient_id_type) == ("MRN778899", "UMC", "MR")
    assert o.patient_name == "DOE^JANE^A"
    assert (o.patient_birth_date, o.patient_sex) == ("19580214", "F")
    assert o.procedure_code == "93000^ECG 12-LEAD^CPT"
    assert o.ordering_provider == "1234^SMITH^JOHN"
    assert o.requested_at_source == "ORC-7.4"
    assert o.requested_at == parse_ts("20240105090000")
    assert o.study_instance_uid == "1.2.840.113619.2.55.3.1234"
    assert o.order_status == "SC"
    assert o.warnings == ()


def test_ihe_omg_o19_v251_reads_ipc_accession_and_tq1_start():
    parsed = parse_order_message(omg_o19())
    assert parsed.header.kind == "OMG^O19"
    assert parsed.parsed_as_version == "2.5.1"
    (o,) = parsed.orders
    assert (o.accession_number, o.accession_source) == ("ACC200", "IPC-1")
    assert o.filler_order_number is None
    assert o.patient_id == "P200"
    assert o.requested_at_source == "TQ1-7"
    assert o.requested_at == datetime(2024, 1, 5, 10, 0, tzinfo=UTC)
    assert o.ordering_provider == "77^DOC^ANNA"
    assert o.procedure_code == "ECG12^Resting 12-lead ECG^L"


@pytest.mark.parametrize("version,parsed_as", [
    ("2.3", "2.3"), ("2.3.1", "2.3.1"), ("2.4", "2.4"), ("2.5", "2.5"), ("2.5.1", "2.5.1"),
    ("2.2", "2.5.1"), ("2.9", "2.5.1"), ("", "2.5.1")])
def test_versions_from_2_3_to_2_5_1_and_unknown_2x_are_accepted(version, parsed_as):
    parsed = parse_order_message(orm_o01(version=version))
    assert parsed.parsed_as_version == parsed_as
    assert parsed.header.version == version
    assert parsed.orders[0].accession_number == "ACC55501"


def test_segment_the_declared_version_lacks_falls_back_to_a_newer_version():
    # TQ1 does not exist in v2.3.1; a sender putting it there is still understood.
    raw = message(msh("M1", "ORM^O01", "2.3.1"), PID_EPIC,
                  segment("ORC", {1: "NW", 2: "PO1"}),
                  segment("TQ1", {1: "1", 7: "20240105120000+0000"}))
    parsed = parse_order_message(raw)
    assert parsed.parsed_as_version == "2.5.1"
    assert parsed.orders[0].requested_at == datetime(2024, 1, 5, 12, tzinfo=UTC)


def test_minimal_cancel_without_obr_or_pv1():
    raw = message(msh("M2"), segment("PID", {3: "P9"}), segment("ORC", {1: "CA", 2: "PO9"}))
    (o,) = parse_order_message(raw).orders
    assert (o.action, o.placer_order_number, o.patient_id) == ("cancel", "PO9", "P9")
    assert o.accession_number is None and o.procedure_code is None and o.requested_at is None


def test_newline_separators_and_text_before_msh_are_tolerated():
    raw = b"\xef\xbb\xbf" + orm_o01().replace(b"\r", b"\r\n")
    assert parse_order_message(raw).orders[0].placer_order_number == "PLC1001"
    raw = orm_o01().replace(b"\r", b"\n")
    assert parse_order_message(raw).orders[0].accession_number == "ACC55501"


@pytest.mark.parametrize("control,status,action", [
    ("NW", "", "new"), ("XO", "", "change"), ("XX", "", "change"), ("CA", "", "cancel"),
    ("OC", "", "cancel"), ("DC", "", "cancel"), ("OD", "", "cancel"), ("SC", "CA", "cancel"),
    ("SC", "IP", "change"), ("nw", "", "new")])
def test_order_control_codes(control, status, action):
    o = parse_order_message(orm_o01(control=control, orc_extra={5: status})).orders[0]
    assert o.action == action
    assert o.control == control.upper()


def test_accession_falls_back_to_the_filler_order_number():
    o = parse_order_message(orm_o01(accession="")).orders[0]
    assert (o.accession_number, o.accession_source) == ("FIL2002", "ORC-3")


def test_placer_from_obr2_when_orc2_is_empty_and_patient_from_pid2():
    raw = message(msh("M3"), segment("PID", {2: "OLD77^^^H"}),
                  segment("ORC", {1: "NW"}), segment("OBR", {1: "1", 2: "PO77^LAB"}))
    o = parse_order_message(raw).orders[0]
    assert (o.placer_order_number, o.placer_namespace, o.patient_id) == ("PO77", "LAB", "OLD77")


def test_subcomponents_and_fields_past_the_definition_are_tolerated():
    raw = message(msh("M13", version="2.5.1"), segment("PID", {3: "P13&x&y^^^UMC&1.2.3&ISO^MR"}),
                  segment("ORC", {1: "NW", 2: "PO13"}),
                  segment("OBR", {1: "1", 2: "PO13", 18: "ACC13", 300: "overflow"}))
    o = parse_order_message(raw).orders[0]
    assert (o.patient_id, o.patient_id_authority, o.accession_number) == ("P13", "UMC", "ACC13")


def test_two_orders_in_one_message():
    raw = message(msh("M4"), PID_EPIC,
                  segment("ORC", {1: "NW", 2: "A1"}), segment("OBR", {1: "1", 2: "A1", 18: "X1"}),
                  segment("ORC", {1: "CA", 2: "A2"}), segment("OBR", {1: "2", 2: "A2", 18: "X2"}))
    orders = parse_order_message(raw).orders
    assert [(o.placer_order_number, o.action, o.accession_number) for o in orders] == [
        ("A1", "new", "X1"), ("A2", "cancel", "X2")]


def test_escape_sequences_are_resolved():
    pid = segment("PID", {3: "P1^^^H^MR", 5: "O\\T\\BRIEN^ANN\\F\\MARIE"})
    o = parse_order_message(message(msh("M5"), pid, segment("ORC", {1: "NW", 2: "PO5"}))).orders[0]
    assert o.patient_name == "O&BRIEN^ANN|MARIE"
    assert unescape(escape("a|b^c~d\\e&f")) == "a|b^c~d\\e&f"


def test_bad_requested_time_is_a_warning_not_a_rejection():
    o = parse_order_message(orm_o01(start="tomorrow")).orders[0]
    assert o.requested_at_source == "ORC-9"  # the next source is used
    assert o.warnings == ("ORC-7.4 is not an HL7 timestamp; ignored",)


def _error(raw: bytes) -> MessageError:
    with pytest.raises(MessageError) as info:
        parse_order_message(raw)
    return info.value


def test_adt_a01_is_rejected_as_unsupported_message_type():
    err = _error(adt_a01())
    assert isinstance(err, UnsupportedMessageError)
    assert (err.code, err.segment, err.field) == (200, "MSH", 9)
    assert (outcome_for(err).hl7_ack, outcome_for(err).hl7_error_code) == ("AR", 200)


@pytest.mark.parametrize("kind", ["ORM^O02", "OMG^O01", "ORM^"])
def test_unsupported_trigger_is_rejected_with_201(kind):
    raw = orm_o01().replace(b"ORM^O01", kind.encode(), 1)
    err = _error(raw)
    assert isinstance(err, UnsupportedMessageError)
    assert (outcome_for(err).hl7_ack, outcome_for(err).hl7_error_code) == ("AR", 201)


def test_non_v2_version_is_rejected_with_203():
    err = _error(orm_o01(version="3.0"))
    assert (outcome_for(err).hl7_ack, err.code, err.field) == ("AR", 203, 12)


@pytest.mark.parametrize("raw,code,segment_name,field", [
    (b"this is not HL7 at all", 100, "MSH", None),
    (message(msh(""), PID_EPIC, segment("ORC", {1: "NW", 2: "P"})), 101, "MSH", 10),
    (message(msh("M6"), segment("ORC", {1: "NW", 2: "P"})), 100, "PID", None),
    (message(msh("M7"), segment("PID", {5: "DOE^J"}), segment("ORC", {1: "NW", 2: "P"})),
     101, "PID", 3),
    (message(msh("M8"), PID_EPIC, segment("OBR", {1: "1", 2: "P"})), 100, "ORC", None),
    (message(msh("M9"), PID_EPIC, segment("ORC", {1: "NW"}), segment("OBR", {1: "1"})),
     101, "ORC", 2),
    (message(msh("M10"), PID_EPIC, segment("ORC", {1: "ZZ", 2: "P"})), 103, "ORC", 1),
    (message(msh("M11"), PID_EPIC, segment("ORC", {2: "P"})), 101, "ORC", 1),
])
def test_malformed_messages_give_ae_with_location(raw, code, segment_name, field):
    err = _error(raw)
    assert not isinstance(err, UnsupportedMessageError)
    assert (err.code, err.segment, err.field) == (code, segment_name, field)
    assert outcome_for(err).hl7_ack == "AE"
    assert outcome_for(err).hl7_error_code == code


def test_error_reasons_never_quote_patient_values():
    raw = message(msh("M12"), segment("PID", {5: "SECRETNAME^X"}), segment("ORC", {1: "QQ"}))
    assert "SECRETNAME" not in _error(raw).reason


def test_salvage_header_reads_what_it_can():
    h = salvage_header("junk\rMSH|^~\\&|EHR|H|||x||ORM^O01|ID9")
    assert (h.sending_application, h.control_id, h.version) == ("EHR", "ID9", "")
    assert salvage_header("nothing here").control_id == ""


def test_parse_ts_offsets_precision_and_errors():
    assert parse_ts("20240105093000.25-0500") == datetime(
        2024, 1, 5, 14, 30, 0, 250000, tzinfo=UTC)
    assert parse_ts("202401").isoformat().startswith("2024-01-01T00:00:00")
    assert parse_ts("20240105^S").date().isoformat() == "2024-01-05"
    assert parse_ts("") is None
    with pytest.raises(ValueError):
        parse_ts("2024-01-05")


_SAMPLES = (orm_o01(), omg_o19())
_edit = st.tuples(st.integers(0, 10_000), st.integers(0, 6),
                  st.sampled_from([b"", b"|", b"^", b"~", b"\\", b"&", b"\r", b"\xff", b"Z"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.sampled_from(_SAMPLES), edits=st.lists(_edit, max_size=6))
@example(sample=_SAMPLES[0], edits=[(3, 0, b"\r")])  # "MSH" alone on the first line
def test_mangled_messages_parse_or_raise_message_error_only(sample, edits):
    """Deleting or inserting delimiters anywhere never escapes as anything but MessageError
    (so the listener answers AE/AR with a reason, never an internal error)."""
    raw = bytearray(sample)
    for pos, cut, insert in edits:
        pos %= len(raw) + 1
        raw[pos:pos + cut] = insert
    try:
        parsed = parse_order_message(bytes(raw))
    except MessageError as exc:
        assert 100 <= exc.code <= 207
    else:
        assert all(o.placer_order_number and o.patient_id for o in parsed.orders)


def test_unescape_with_short_encoding_characters() -> None:
    """MSH-2 with fewer than four characters (found by Hypothesis: '^' raised IndexError):
    the missing ones take their defaults."""
    from ecgread.integration.hl7_header import unescape

    assert unescape(r"a\F\b\S\c", "^") == "a|b^c"
    assert unescape(r"x\E\y", "") == "x\\y"

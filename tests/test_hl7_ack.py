"""The ACK built with hl7apy, read back with python-hl7 (an independent parser)."""

from __future__ import annotations

import hl7
import pytest

from ecgread.integration.hl7_ack import build_ack, new_control_id
from ecgread.integration.hl7_header import salvage_header

NAMES = {"sending_application": "ECGREAD", "sending_facility": "CARDIOLOGY"}


def _header(version: str = "2.5.1", control_id: str = "MSG42", kind: str = "ORM^O01"):
    return salvage_header(f"MSH|^~\\&|EPIC|UMC|RECV|CARD|20240105||{kind}|{control_id}|T|{version}")


def _parse(ack: bytes) -> hl7.Message:
    text = ack.decode()
    assert "\n" not in text and text.startswith("MSH|^~\\&|")
    return hl7.parse(text)


def test_aa_swaps_sender_and_receiver_and_echoes_control_id_and_version():
    m = _parse(build_ack(_header(), "AA", **NAMES))
    msh = m.segment("MSH")
    assert (str(msh[3]), str(msh[4]), str(msh[5]), str(msh[6])) == ("RECV", "CARD", "EPIC", "UMC")
    assert str(msh[9]) == "ACK^O01^ACK"
    assert str(msh[10]) not in ("", "MSG42")
    assert (str(msh[11]), str(msh[12])) == ("T", "2.5.1")
    msa = m.segment("MSA")
    assert (str(msa[1]), str(msa[2])) == ("AA", "MSG42")
    with pytest.raises(KeyError):
        m.segment("ERR")


def test_our_names_are_used_when_the_sender_left_msh5_empty():
    h = salvage_header("MSH|^~\\&|EPIC|UMC|||20240105||ORM^O01|M1|P|2.5.1")
    msh = _parse(build_ack(h, "AA", **NAMES)).segment("MSH")
    assert (str(msh[3]), str(msh[4])) == ("ECGREAD", "CARDIOLOGY")


def test_ae_in_v251_has_err2_err3_err4_and_text():
    ack = build_ack(_header(), "AE", error_code=101, reason="PID-3 (patient | ID) is empty",
                    segment="PID", field=3, **NAMES)
    m = _parse(ack)
    assert str(m.segment("MSA")[1]) == "AE"
    err = m.segment("ERR")
    assert str(err[2]) == "PID^1^3"
    assert str(err(3)(1)(1)) == "101"
    assert str(err(3)(1)(3)) == "HL70357"
    assert str(err[4]) == "E"
    assert m.unescape(str(err[8])) == "PID-3 (patient | ID) is empty"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4"])
def test_ae_before_v25_uses_err1_and_msa3_msa6(version):
    ack = build_ack(_header(version), "AE", error_code=101, reason="MSH-10 missing",
                    segment="MSH", field=10, **NAMES)
    m = _parse(ack)
    assert str(m.segment("MSH")[12]) == version
    assert str(m.segment("MSH")[9]) == ("ACK^O01" if version == "2.3" else "ACK^O01^ACK")
    msa = m.segment("MSA")
    assert (str(msa[1]), str(msa[2]), str(msa[3])) == ("AE", "MSG42", "MSH-10 missing")
    assert str(msa(6)(1)(1)) == "101"
    err1 = m.segment("ERR")(1)(1)
    assert [str(err1(i)) for i in (1, 2, 3)] == ["MSH", "1", "10"]
    assert str(err1(4)(1)) == "101"  # ELD.4 is a CE in sub-components


def test_ar_for_an_unknown_version_echoes_it():
    m = _parse(build_ack(_header("2.9", kind="ADT^A01"), "AR", error_code=200,
                         reason="not accepted", segment="MSH", field=9, **NAMES))
    assert str(m.segment("MSH")[12]) == "2.9"
    assert str(m.segment("MSH")[9]) == "ACK^A01^ACK"
    assert str(m.segment("MSA")[1]) == "AR"
    assert str(m.segment("ERR")(3)(1)(1)) == "200"


def test_unparseable_message_still_gets_an_ae_without_msa2():
    m = _parse(build_ack(salvage_header("\x00garbage"), "AE", error_code=100, reason="no MSH",
                         segment="MSH", **NAMES))
    msa = m.segment("MSA")
    assert str(msa[1]) == "AE"
    assert len(msa) <= 2 or str(msa[2]) == ""
    assert str(m.segment("ERR")(3)(1)(1)) == "100"


def test_control_ids_are_short_and_unique():
    ids = {new_control_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert max(len(i) for i in ids) <= 20

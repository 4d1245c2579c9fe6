"""The outbox against a real MLLP receiver on loopback (a scripted EHR): AA, AE, AR,
garbage, late ACKs, silence, dropped and closed connections, an EHR that is down and comes
back, order per patient, priority, dead letters, attempts recorded before a kill."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from ecgread.audit.db import migrate, session_scope
from ecgread.audit.events import verify_chain
from ecgread.audit.tables import Delivery, DeliveryAttempt, EcgRead, EcgRecord, Event
from ecgread.errors import DeliveryError
from ecgread.integration.mllp_client import MllpClient, control_id_of
from ecgread.testing import MllpReceiver
from ecgread.workers.outbox import (
    backoff_s,
    close_connections,
    dead_letters,
    deliver_due,
    enqueue_delivery,
    poll_late_acks,
    requeue,
)
from tests.conftest import REPO


def _oru(control_id: str, patient_id: str) -> str:
    return ("MSH|^~\\&|ECGREAD|CARDIOLOGY|EHR|HOSP|20260101000000||ORU^R01^ORU_R01|"
            f"{control_id}|P|2.5.1\r"
            f"PID|1||{patient_id}\rOBR|1\rOBX|1|NM|8867-4^Heart rate^LN||72|/min\r")


@pytest.fixture
def receiver():
    r = MllpReceiver("AA")
    yield r
    r.stop()
    close_connections()


def _settings(settings, receiver, **more):
    return dataclasses.replace(settings, ehr_host="127.0.0.1", ehr_port=receiver.port,
                               ack_timeout_s=1.0, retry_initial_s=0.01,
                               retry_max_interval_s=0.05, **more)


def _queue(settings, messages: list[tuple[str, str, int]]) -> None:
    """messages: (control id, patient id, priority); payloads written as files."""
    migrate(settings.audit_url)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    with session_scope(settings.audit_url) as s:
        ecg = EcgRecord(sop_instance_uid=f"1.2.3.{len(messages)}.{id(messages)}", path="x")
        s.add(ecg)
        s.flush()
        read = EcgRead(ecg_id=ecg.id)
        s.add(read)
        s.flush()
        for control_id, patient_id, priority in messages:
            path = settings.reports_dir / f"{control_id}.hl7"
            path.write_text(_oru(control_id, patient_id))
            enqueue_delivery(s, read_id=read.id, destination="ehr", payload_path=str(path),
                             message_id=control_id, patient_id=patient_id, priority=priority)


def _rows(settings) -> dict[str, Delivery]:
    with session_scope(settings.audit_url) as s:
        return {d.message_id: d for d in s.exec(select(Delivery))}


def _drain(settings, passes: int = 50) -> None:
    for _ in range(passes):
        deliver_due(settings, now=_far_future())
        if all(d.state in ("delivered", "dead") for d in _rows(settings).values()):
            return


def _far_future():
    from datetime import datetime

    return datetime.now(UTC) + timedelta(days=1)


def test_aa_is_delivered_once_and_audited(settings, receiver):
    s = _settings(settings, receiver)
    _queue(s, [("M1", "P1", 0), ("M2", "P2", 0)])
    assert deliver_due(s) == 2
    rows = _rows(s)
    assert {k: (d.state, d.attempts, d.last_ack_code) for k, d in rows.items()} == {
        "M1": ("delivered", 1, "AA"), "M2": ("delivered", 1, "AA")}
    assert receiver.acked == ["M1", "M2"]
    # sent byte for byte as stored: segments end in CR, never a translated LF
    stored = [(s.reports_dir / f"{m}.hl7").read_bytes().decode() for m in ("M1", "M2")]
    assert receiver.received == stored and all("\n" not in m for m in receiver.received)
    assert deliver_due(s) == 0  # nothing sent twice
    with session_scope(s.audit_url) as db:
        assert len(list(db.exec(select(DeliveryAttempt)))) == 2
        assert verify_chain(db) == []


@pytest.mark.parametrize("mode,outcome", [("AE", "AE"), ("silent", "timeout"),
                                          ("drop", "closed"), ("close", "closed"),
                                          ("garbage", "garbage")])
def test_failures_are_retried_then_delivered(settings, receiver, mode, outcome):
    s = _settings(settings, receiver)
    _queue(s, [("M1", "P1", 0)])
    receiver.mode = mode
    deliver_due(s)
    row = _rows(s)["M1"]
    assert (row.state, row.attempts, row.last_ack_code) == ("pending", 1, outcome)
    receiver.mode = "AA"
    _drain(s)
    row = _rows(s)["M1"]
    assert (row.state, row.attempts, row.last_ack_code) == ("delivered", 2, "AA")
    assert receiver.acked == ["M1"]


def test_ehr_down_then_back_everything_arrives_once_in_order(settings, receiver):
    s = _settings(settings, receiver)
    receiver.stop()  # connections refused
    _queue(s, [("A1", "PA", 0), ("B1", "PB", 0), ("A2", "PA", 0), ("A3", "PA", 0)])
    for _ in range(3):
        deliver_due(s, now=_far_future())
    rows = _rows(s)
    assert all(d.state == "pending" for d in rows.values()), {
        k: (d.state, d.attempts, d.last_ack_code, d.target) for k, d in rows.items()}
    assert rows["A1"].last_ack_code == "refused" and rows["A1"].attempts == 3
    assert rows["A2"].attempts == 0  # waits behind A1: order per patient
    receiver.start()
    _drain(s)
    assert all(d.state == "delivered" for d in _rows(s).values())
    assert sorted(receiver.acked) == ["A1", "A2", "A3", "B1"]
    assert [m for m in receiver.acked if m.startswith("A")] == ["A1", "A2", "A3"]


def test_critical_findings_go_first(settings, receiver):
    s = _settings(settings, receiver)
    _queue(s, [("N1", "P1", 0), ("N2", "P2", 0), ("C1", "P3", 1)])
    deliver_due(s)
    assert receiver.acked[0] == "C1"


def test_dead_letter_after_give_up_then_requeue(settings, receiver):
    s = _settings(settings, receiver, retry_give_up_after_s=0.0)
    receiver.mode = "AE"
    _queue(s, [("M1", "P1", 0)])
    deliver_due(s)
    row = _rows(s)["M1"]
    assert row.state == "dead" and row.last_ack_code == "AE"
    assert deliver_due(s, now=_far_future()) == 0  # dead letters are not retried by themselves
    with session_scope(s.audit_url) as db:
        assert [d.message_id for d in dead_letters(db)] == ["M1"]
        requeue(db, row.id)
    receiver.mode = "AA"
    deliver_due(dataclasses.replace(s, retry_give_up_after_s=3600.0))
    assert _rows(s)["M1"].state == "delivered"


def test_without_an_ehr_results_are_written_to_the_outbox_folder(settings):
    _queue(settings, [("M1", "P1", 0)])
    assert deliver_due(settings) == 1
    row = _rows(settings)["M1"]
    assert row.state == "delivered" and row.last_ack_code == "written"
    assert Path(row.target).read_text().startswith("MSH|")


def test_backoff_grows_to_its_cap(settings):
    s = dataclasses.replace(settings, retry_initial_s=5.0, retry_max_interval_s=600.0)
    assert [backoff_s(s, n) for n in (1, 2, 3, 8, 20)] == [5.0, 10.0, 20.0, 600.0, 600.0]


def test_client_rejects_an_ack_for_another_message(receiver):
    client = MllpClient("127.0.0.1", receiver.port, timeout_s=0.5)
    assert client.send(_oru("X1", "P")).code == "AA"
    assert control_id_of(_oru("X2", "P")) == "X2"
    receiver.mode = "silent"
    with pytest.raises(DeliveryError, match="no ACK"):
        client.send(_oru("X3", "P"))


def _attempts(settings, message_id: str) -> list[str]:
    with session_scope(settings.audit_url) as db:
        row = db.exec(select(Delivery).where(Delivery.message_id == message_id)).one()
        return [a.outcome for a in db.exec(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id == row.id).order_by(DeliveryAttempt.id))]


def _events(settings, action: str) -> list[Event]:
    with session_scope(settings.audit_url) as db:
        return list(db.exec(select(Event).where(Event.action == action)))


def test_ar_is_final_and_never_blocks_the_patients_later_results(settings, receiver):
    s = _settings(settings, receiver)
    receiver.mode = "AR"
    _queue(s, [("R1", "P1", 0)])
    deliver_due(s)
    row = _rows(s)["R1"]
    assert (row.state, row.attempts, row.last_ack_code) == ("dead", 1, "AR")
    assert row.last_error == "rejected by test"  # the EHR's reason, kept
    dead = _events(s, "ecgread.delivery.dead")
    assert len(dead) == 1 and json.loads(dead[0].detail_json)["final"] is True
    receiver.mode = "AA"
    _queue(s, [("R2", "P1", 0)])  # the same patient's next result
    assert deliver_due(s, now=_far_future()) == 1  # R2 only: R1 is not sent again
    assert receiver.acked == ["R2"]
    assert [m.split("|")[9] for m in receiver.received] == ["R1", "R2"]
    with session_scope(s.audit_url) as db:
        assert verify_chain(db) == []


def test_ae_blocks_the_patients_later_results_until_it_is_delivered(settings, receiver):
    s = _settings(settings, receiver)
    receiver.mode = "AE"
    _queue(s, [("E1", "P1", 0), ("E2", "P1", 0)])
    deliver_due(s, now=_far_future())
    rows = _rows(s)
    assert (rows["E1"].state, rows["E1"].last_ack_code, rows["E2"].attempts) == (
        "pending", "AE", 0)
    receiver.mode = "AA"
    _drain(s)
    assert receiver.acked == ["E1", "E2"]


def _late_ehr_settings(settings, ehr, **more):
    return dataclasses.replace(settings, ehr_host="127.0.0.1", ehr_port=ehr.port, **more)


def test_late_ack_of_the_first_copy_answers_the_resend_with_the_same_msh10(settings):
    """The EHR answers 1.5 s after the message, the timeout is 1 s: the resend (same MSH-10)
    gets the late AA of the first copy, matched by MSA-2. Two copies, not four to six."""
    ehr = MllpReceiver("late", late_s=1.5)
    try:
        s = _late_ehr_settings(settings, ehr, ack_timeout_s=1.0, retry_initial_s=0.1,
                               retry_max_interval_s=0.1)
        _queue(s, [("L1", "P1", 0)])
        deliver_due(s)
        assert _rows(s)["L1"].last_ack_code == "timeout"
        time.sleep(0.15)
        deliver_due(s)
        row = _rows(s)["L1"]
        assert (row.state, row.attempts, row.last_ack_code) == ("delivered", 2, "AA")
        assert [m.split("|")[9] for m in ehr.received] == ["L1", "L1"]
        assert _attempts(s, "L1") == ["timeout", "AA"]
    finally:
        ehr.stop()
        close_connections()


def test_late_ack_read_before_the_resend_saves_the_copy(settings):
    ehr = MllpReceiver("late", late_s=0.6)
    try:
        s = _late_ehr_settings(settings, ehr, ack_timeout_s=0.3, retry_initial_s=1.0,
                               retry_max_interval_s=1.0)
        _queue(s, [("L2", "P1", 0)])
        deliver_due(s)
        time.sleep(1.1)  # the ACK came at 0.6 s; the retry is due at 1.3 s
        assert deliver_due(s) == 0
        row = _rows(s)["L2"]
        assert (row.state, row.attempts, row.last_ack_code) == ("delivered", 1, "AA")
        assert len(ehr.received) == 1
        assert len(_events(s, "ecgread.delivery.late_ack")) == 1
    finally:
        ehr.stop()
        close_connections()


def test_late_aa_after_the_delivery_went_dead_makes_it_delivered(settings):
    ehr = MllpReceiver("late", late_s=0.8)
    try:
        s = dataclasses.replace(settings, ehr_host="127.0.0.1", ehr_port=ehr.port,
                                ack_timeout_s=0.3, retry_give_up_after_s=0.0)
        _queue(s, [("D1", "P1", 0)])
        deliver_due(s)
        assert _rows(s)["D1"].state == "dead"
        time.sleep(1.0)
        assert poll_late_acks(s) == 1
        row = _rows(s)["D1"]
        assert (row.state, row.last_ack_code) == ("delivered", "AA")
        detail = json.loads(_events(s, "ecgread.delivery.late_ack")[0].detail_json)
        assert (detail["state_before"], detail["state"]) == ("dead", "delivered")
        assert len(ehr.received) == 1
    finally:
        ehr.stop()
        close_connections()


def test_a_silent_ehr_costs_one_timeout_per_pass_not_one_per_message(settings, receiver):
    s = _settings(settings, receiver)
    receiver.mode = "silent"
    _queue(s, [("S1", "P1", 0), ("S2", "P2", 0), ("S3", "P3", 0)])
    t0 = time.monotonic()
    assert deliver_due(s) == 1
    assert time.monotonic() - t0 < 2.5  # one 1 s timeout, not three
    rows = _rows(s)
    assert [rows[m].attempts for m in ("S1", "S2", "S3")] == [1, 0, 0]


_KILLED_SENDER = """
import dataclasses, sys
from ecgread.config.settings import load_settings
from ecgread.workers.outbox import deliver_due
s = load_settings({"home": sys.argv[1], "ehr_host": "127.0.0.1", "ehr_port": int(sys.argv[2]),
                   "ack_timeout_s": 60}, environ={})
deliver_due(s)
"""


def test_a_kill_while_sending_is_counted_as_an_attempt(settings, receiver, tmp_path):
    """kill -9 while the EHR holds the message: the attempt was committed before it was
    sent, so ``attempts`` counts both copies and the first shows ``interrupted``."""
    s = _settings(settings, receiver)
    receiver.mode = "silent"
    _queue(s, [("K1", "P1", 0)])
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_SENDER, str(s.home),
                             str(receiver.port)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.received) == 1
        row = _rows(s)["K1"]
        assert (row.state, row.attempts) == ("sending", 1)
        assert _attempts(s, "K1") == ["sending"]
    finally:
        proc.kill()
        proc.wait()
    receiver.mode = "AA"
    deliver_due(s, now=_far_future())  # the lease has run out
    row = _rows(s)["K1"]
    assert (row.state, row.attempts) == ("delivered", 2)
    assert len(receiver.received) == 2 and receiver.acked == ["K1"]
    assert _attempts(s, "K1") == ["interrupted", "AA"]

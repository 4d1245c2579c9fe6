"""Order <-> ECG matching on a real SQLite audit database, rows created directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from ecgread.audit.db import migrate, session_scope
from ecgread.audit.events import verify_chain
from ecgread.audit.tables import EcgRecord, Event, Hl7Order
from ecgread.integration.matching import (
    find_order_for_ecg,
    match_ecgs_for_order,
    match_order_for_ecg,
    pending_orders,
)

T0 = datetime(2024, 1, 5, 9, 0, tzinfo=UTC)
WINDOW_MIN = 240


@pytest.fixture
def url(settings):
    migrate(settings.audit_url)
    return settings.audit_url


def _ecg(s, uid, *, patient="P1", accession=None, at=T0):
    row = EcgRecord(sop_instance_uid=uid, path=f"/store/{uid}.dcm", patient_id=patient,
                    accession_number=accession, acquisition_time=at)
    s.add(row)
    s.flush()
    return row


def _order(s, placer, *, patient="P1", accession=None, at=T0, status="pending", filler=None):
    row = Hl7Order(placer_order_number=placer, patient_id=patient, accession_number=accession,
                   requested_at=at, status=status, filler_order_number=filler)
    s.add(row)
    s.flush()
    return row


def _matched_events(s):
    return [e for e in s.exec(select(Event)) if e.action == "ecgread.order.matched"]


def test_accession_match_fulfils_the_order_and_is_logged(url):
    with session_scope(url) as s:
        order = _order(s, "PO1", accession="ACC1", at=T0 - timedelta(days=3))  # time irrelevant
        ecg = _ecg(s, "1.2.3.1", accession="ACC1", patient="OTHER")
        assert match_order_for_ecg(s, ecg, WINDOW_MIN).id == order.id
    with session_scope(url) as s:
        assert s.get(EcgRecord, ecg.id).order_id == order.id
        assert s.get(Hl7Order, order.id).status == "fulfilled"
        (event,) = _matched_events(s)
        assert event.subject == f"order:{order.id}" and event.trace_id == "1.2.3.1"
        assert '"rule":"accession"' in event.detail_json
        assert verify_chain(s) == []


def test_accession_may_equal_the_filler_order_number(url):
    with session_scope(url) as s:
        order = _order(s, "PO2", accession=None, filler="FIL9")
        ecg = _ecg(s, "1.2.3.2", accession="FIL9")
        assert find_order_for_ecg(s, ecg, WINDOW_MIN) == (order, "accession")


def test_repeat_ecg_on_a_fulfilled_order_still_matches_by_accession(url):
    with session_scope(url) as s:
        order = _order(s, "PO3", accession="ACC3")
        first, second = _ecg(s, "1.2.3.31", accession="ACC3"), _ecg(s, "1.2.3.32", accession="ACC3")
        assert match_order_for_ecg(s, first, WINDOW_MIN).id == order.id
        assert match_order_for_ecg(s, second, WINDOW_MIN).id == order.id
        assert order.status == "fulfilled"


def test_patient_and_window_pick_the_closest_pending_order(url):
    with session_scope(url) as s:
        far = _order(s, "FAR", at=T0 + timedelta(minutes=200))
        near = _order(s, "NEAR", at=T0 - timedelta(minutes=30))
        _order(s, "DONE", at=T0, status="fulfilled")
        _order(s, "GONE", at=T0, status="cancelled")
        _order(s, "OTHERPT", patient="P2", at=T0)
        ecg = _ecg(s, "1.2.3.4")
        assert find_order_for_ecg(s, ecg, WINDOW_MIN) == (near, "patient_time")
        assert match_order_for_ecg(s, ecg, WINDOW_MIN).id == near.id
        # the next ECG of this patient gets the remaining pending order in the window
        assert match_order_for_ecg(s, _ecg(s, "1.2.3.5"), WINDOW_MIN).id == far.id


def test_outside_the_window_the_ecg_is_unordered_and_the_order_stays_pending(url):
    with session_scope(url) as s:
        order = _order(s, "LATE", at=T0 + timedelta(minutes=WINDOW_MIN + 1))
        ecg = _ecg(s, "1.2.3.6")
        assert match_order_for_ecg(s, ecg, WINDOW_MIN) is None
        assert ecg.order_id is None
        assert [o.id for o in pending_orders(s)] == [order.id]
        assert _matched_events(s) == []


def test_an_unknown_accession_falls_back_to_patient_and_time(url):
    with session_scope(url) as s:
        order = _order(s, "PO7", accession="ACC7")
        ecg = _ecg(s, "1.2.3.7", accession="CART-GENERATED-1")
        assert find_order_for_ecg(s, ecg, WINDOW_MIN) == (order, "patient_time")


def test_an_accession_of_a_cancelled_order_leaves_the_ecg_unordered(url):
    with session_scope(url) as s:
        _order(s, "PO8", accession="ACC8", status="cancelled")
        _order(s, "PO8B", accession="ACC8B")  # same patient, pending, in the window
        assert find_order_for_ecg(s, _ecg(s, "1.2.3.8", accession="ACC8"), WINDOW_MIN) is None


def test_ecg_without_accession_or_time_is_unordered(url):
    with session_scope(url) as s:
        _order(s, "PO9")
        assert match_order_for_ecg(s, _ecg(s, "1.2.3.9", at=None), WINDOW_MIN) is None


def test_order_without_requested_time_uses_its_arrival_time(url):
    with session_scope(url) as s:
        order = Hl7Order(placer_order_number="PO10", patient_id="P1", created_at=T0)
        s.add(order)
        s.flush()
        assert find_order_for_ecg(s, _ecg(s, "1.2.3.10", at=T0 + timedelta(hours=1)),
                                  WINDOW_MIN) == (order, "patient_time")


def test_order_arriving_after_its_ecgs_collects_them(url):
    with session_scope(url) as s:
        by_acc = _ecg(s, "1.2.3.11", accession="ACC11", patient="P5")
        by_time = _ecg(s, "1.2.3.12", patient="P5", at=T0 + timedelta(minutes=5))
        unrelated = _ecg(s, "1.2.3.13", patient="P6")
        order = _order(s, "PO11", patient="P5", accession="ACC11")
        linked = match_ecgs_for_order(s, order, WINDOW_MIN, trace_id="MSG11")
        # the accession match fulfils the order; the patient/time rule only takes pending
        # orders, so the second ECG stays unordered
        assert [e.sop_instance_uid for e in linked] == ["1.2.3.11"]
        assert by_acc.order_id == order.id and by_time.order_id is None
        assert unrelated.order_id is None
        assert order.status == "fulfilled"
        assert _matched_events(s)[0].trace_id == "MSG11"


def test_cancelled_order_collects_nothing(url):
    with session_scope(url) as s:
        _ecg(s, "1.2.3.14", accession="ACC14")
        order = _order(s, "PO14", accession="ACC14", status="cancelled")
        assert match_ecgs_for_order(s, order, WINDOW_MIN) == []


def test_already_linked_ecg_keeps_its_order(url):
    with session_scope(url) as s:
        first = _order(s, "PO15", accession="ACC15")
        ecg = _ecg(s, "1.2.3.15", accession="ACC15")
        match_order_for_ecg(s, ecg, WINDOW_MIN)
        _order(s, "PO15B", accession="ACC15")  # a later order cannot steal it
        assert match_order_for_ecg(s, ecg, WINDOW_MIN).id == first.id
        assert len(_matched_events(s)) == 1

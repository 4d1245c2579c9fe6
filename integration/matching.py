"""Matching orders (``hl7_order``) and ECGs (``ecg``): the rule and its database helpers.

The rule, for one ECG (IHE Radiology SWF / REWF "unordered" ECGs in mind):

1. **Accession number.** The ECG's accession number equals an order's accession number,
   else its filler order number, else its placer order number. A pending order wins over a
   fulfilled one (a repeat ECG on the same order); cancelled orders are never matched. An
   accession that names only cancelled orders leaves the ECG unordered (no fallback).
2. **Patient ID and time window**, when the ECG has no accession or its accession names no
   order: the *pending* order of the same patient ID whose requested time (or, lacking one,
   the time the order arrived) is closest to the acquisition time and within
   ``window_min`` minutes of it, before or after.
3. Otherwise the ECG is **unordered**: ``order_id`` stays None and it is still read.

Linking sets ``EcgRecord.order_id``, marks a pending order fulfilled and logs
``ecgread.order.matched``, in the caller's transaction. Orders no ECG fulfils stay
``pending`` and are listed by :func:`pending_orders`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from ecgread.audit.events import log_action
from ecgread.audit.tables import EcgRecord, Hl7Order, utcnow

__all__ = [
    "RULE_ACCESSION",
    "RULE_PATIENT_TIME",
    "find_order_for_ecg",
    "link",
    "match_ecgs_for_order",
    "match_order_for_ecg",
    "pending_orders",
]

RULE_ACCESSION = "accession"
RULE_PATIENT_TIME = "patient_time"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _reference_time(order: Hl7Order) -> datetime:
    return _aware(order.requested_at or order.created_at)


def _by_accession(session: Session, accession: str) -> Sequence[Hl7Order]:
    for column in (Hl7Order.accession_number, Hl7Order.filler_order_number,
                   Hl7Order.placer_order_number):
        rows = session.exec(select(Hl7Order).where(column == accession)
                            .order_by(col(Hl7Order.id).desc())).all()
        if rows:
            return rows
    return ()


def find_order_for_ecg(session: Session, ecg: EcgRecord,
                       window_min: float) -> tuple[Hl7Order, str] | None:
    """The order the rule picks for ``ecg`` and the rule that picked it, without linking.

    ``window_min`` is the half-width of the patient/time window in minutes.
    """
    if ecg.accession_number:
        rows = _by_accession(session, ecg.accession_number)
        if rows:
            live = [o for o in rows if o.status != "cancelled"]
            live.sort(key=lambda o: o.status != "pending")  # stable: pending first
            return (live[0], RULE_ACCESSION) if live else None
    if not ecg.patient_id or ecg.acquisition_time is None:
        return None
    acquired = _aware(ecg.acquisition_time)
    window = timedelta(minutes=window_min)
    candidates = session.exec(select(Hl7Order).where(
        Hl7Order.patient_id == ecg.patient_id, Hl7Order.status == "pending")).all()
    best: tuple[timedelta, int, Hl7Order] | None = None
    for order in candidates:
        distance = abs(_reference_time(order) - acquired)
        if distance <= window and (best is None or (distance, -(order.id or 0)) < best[:2]):
            best = (distance, -(order.id or 0), order)
    return (best[2], RULE_PATIENT_TIME) if best else None


def link(session: Session, order: Hl7Order, ecg: EcgRecord, rule: str,
         trace_id: str | None = None) -> None:
    """Attach ``ecg`` to ``order``, fulfil a pending order, and log ``ecgread.order.matched``."""
    ecg.order_id = order.id
    ecg.updated_at = utcnow()
    session.add(ecg)
    was = order.status
    if order.status == "pending":
        order.status = "fulfilled"
        order.updated_at = utcnow()
        session.add(order)
    session.flush()
    log_action(session, "ecgread.order.matched", subject=f"order:{order.id}",
               trace_id=trace_id or ecg.sop_instance_uid, rule=rule,
               sop_instance_uid=ecg.sop_instance_uid, placer=order.placer_order_number,
               accession=order.accession_number, status_before=was, status=order.status)


def match_order_for_ecg(session: Session, ecg: EcgRecord, window_min: float) -> Hl7Order | None:
    """Find and link the order for ``ecg`` (see the module rule); None leaves it unordered.

    An ECG already linked returns its order unchanged.
    """
    if ecg.order_id is not None:
        return session.get(Hl7Order, ecg.order_id)
    found = find_order_for_ecg(session, ecg, window_min)
    if found is None:
        return None
    order, rule = found
    link(session, order, ecg, rule)
    return order


def match_ecgs_for_order(session: Session, order: Hl7Order, window_min: float,
                         trace_id: str | None = None) -> list[EcgRecord]:
    """Link the unmatched ECGs that the rule assigns to ``order`` (one just created or
    changed), and return them. For each candidate the rule is applied from the ECG's side,
    so an ECG closer to another pending order goes to that one."""
    if order.status == "cancelled" or order.id is None:
        return []
    keys = [k for k in (order.accession_number, order.filler_order_number,
                        order.placer_order_number) if k]
    conditions: list[Any] = [col(EcgRecord.accession_number).in_(keys)] if keys else []
    if order.patient_id:
        conditions.append(EcgRecord.patient_id == order.patient_id)
    if not conditions:
        return []
    candidates = list(session.exec(select(EcgRecord).where(
        col(EcgRecord.order_id).is_(None), or_(*conditions))).all())
    reference = _reference_time(order)
    # Accession matches first, then the closest in time.
    candidates.sort(key=lambda e: (e.accession_number not in keys,
                                   abs(_aware(e.acquisition_time) - reference)
                                   if e.acquisition_time else timedelta.max))
    linked = []
    for ecg in candidates:
        found = find_order_for_ecg(session, ecg, window_min)
        if found is not None and found[0].id == order.id:
            link(session, order, ecg, found[1], trace_id=trace_id)
            linked.append(ecg)
    return linked


def pending_orders(session: Session, *, patient_id: str | None = None,
                   older_than: datetime | None = None, limit: int = 500) -> list[Hl7Order]:
    """Orders still waiting for an ECG, oldest first (``older_than``: arrived before it)."""
    q = select(Hl7Order).where(Hl7Order.status == "pending")
    if patient_id:
        q = q.where(Hl7Order.patient_id == patient_id)
    if older_than is not None:
        q = q.where(col(Hl7Order.created_at) < older_than)
    return list(session.exec(q.order_by(col(Hl7Order.created_at), col(Hl7Order.id)).limit(limit)))

"""The edge of the serial comparison: find the patient's prior ECG in the audit database
and compare (:func:`ecgread.models.serial.compare_serial`, pure).

The prior ECG is the most recent other ECG of the same patient ID acquired before this
one, within ``settings.serial_lookback_days``, that has a successful read. Its content is
what a cardiologist signed when it was signed (statements and measurement overrides),
else its automatic read.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import EcgRead, EcgRecord, ReadReview
from ecgread.config.settings import Settings
from ecgread.models.analysis_result import Analysis
from ecgread.models.catalogue import MEASUREMENT_NAMES
from ecgread.models.results import GlobalMeasurements
from ecgread.models.serial import SerialInput, compare_serial
from ecgread.workers.stored_read import statement_from_json


def _measurements(result: dict[str, Any], overrides: dict[str, Any]) -> GlobalMeasurements:
    m = dict(result.get("measurements", {}))
    m.update({k: v["value"] for k, v in overrides.items()})
    return GlobalMeasurements(**{k: (None if m.get(k) is None else float(m[k]))
                                 for k in MEASUREMENT_NAMES}, unmeasured={})


def with_serial_comparison(settings: Settings, analysis: Analysis,
                           ecg_id: int) -> tuple[Analysis, dict[str, Any] | None]:
    """``analysis`` with the serial statements appended, and the ``serial`` object of the
    read's JSON (None, and ``analysis`` unchanged, when there is no prior ECG)."""
    with session_scope(settings.audit_url) as s:
        record = s.get(EcgRecord, ecg_id)
        if record is None or not record.patient_id or record.acquisition_time is None:
            return analysis, None
        earliest = record.acquisition_time - timedelta(days=settings.serial_lookback_days)
        row = s.exec(
            select(EcgRecord, EcgRead).join(EcgRead, col(EcgRead.ecg_id) == col(EcgRecord.id))
            .where(EcgRecord.patient_id == record.patient_id, EcgRecord.id != ecg_id,
                   col(EcgRecord.acquisition_time) < record.acquisition_time,
                   col(EcgRecord.acquisition_time) >= earliest, EcgRead.status == "ok",
                   col(EcgRead.result_json).is_not(None))
            .order_by(col(EcgRecord.acquisition_time).desc(), col(EcgRead.id).desc())
            .limit(1)).first()
        if row is None:
            return analysis, None
        prior, prior_read = row
        review = s.exec(select(ReadReview).where(ReadReview.read_id == prior_read.id)
                        .order_by(col(ReadReview.id).desc())).first()
        result = json.loads(prior_read.result_json or "{}")
        statements = json.loads(review.statements_json) if review else result.get(
            "statements", [])
        overrides = json.loads(review.overrides_json) if review else {}
        prior_sop, prior_time = prior.sop_instance_uid, prior.acquisition_time
    before = SerialInput(_measurements(result, overrides),
                         tuple(statement_from_json(x) for x in statements), prior_time, prior_sop)
    now = SerialInput(analysis.measurements, analysis.statements,
                      analysis.ecg.acquisition.acquisition_time,
                      analysis.ecg.acquisition.sop_instance_uid)
    found = compare_serial(now, before)
    serial = {
        "prior_sop_instance_uid": prior_sop,
        "prior_acquired": prior_time.isoformat() if prior_time else None,
        "prior_read_id": prior_read.id, "prior_confirmed": review is not None,
        "prior_statements": [x["text"] for x in statements],
        "measurements": {k: [getattr(before.measurements, k), getattr(now.measurements, k)]
                         for k in ("heart_rate_bpm", "pr_ms", "qrs_ms", "qtc_fridericia_ms")},
        "statements": [st.to_json_dict() for st in found],
    }
    return dataclasses.replace(analysis, statements=analysis.statements + found), serial

"""Serial comparison: what changed since the patient's prior ECG, as statements.

One pure function, :func:`compare_serial`, over the measurements and statements of two
ECGs of one patient (finding the prior ECG, same patient ID and an earlier acquisition
within a look-back, is the read job's part). Each change beyond a threshold of
:class:`SerialConfig` is a statement whose evidence cites both ECGs: the current value as
a global measurement (``qrs_ms``, checkable against this ECG like any evidence, its
criterion the prior value plus the threshold) and the prior one as ``prior.<name>``.
When nothing changed beyond a threshold the one statement is "No significant change".

Changes stated: heart rate, PR, QRS and QTc (Fridericia) beyond their thresholds; a new
or resolved rhythm (the sinus rhythms SR, sinus tachycardia, bradycardia and arrhythmia
count as one, so a rate change is not also a rhythm change); a new bundle-branch block;
new ST elevation (the STEMI statements); new T-wave inversion.

Example
-------
>>> from ecgread.models.results import GlobalMeasurements
>>> now = SerialInput(GlobalMeasurements(qrs_ms=130.0), ())
>>> before = SerialInput(GlobalMeasurements(qrs_ms=90.0), ())
>>> [s.code for s in compare_serial(now, before)]
['SERIAL_QRS_WIDER']

References
----------
Thresholds are settings of commercial serial-comparison programs (GE MUSE, Philips
IntelliSpace ECG) that their manuals leave to the site; the defaults here follow common
clinical practice: QTc increase > 60 ms (ICH E14, Clinical evaluation of QT/QTc
interval prolongation, 2005, section 3.2.2: "increases from baseline > 60 ms"), QRS
widening > 20 ms, PR change > 40 ms, heart-rate change > 20 bpm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from ecgread.models.dsp_config import check_range
from ecgread.models.results import Evidence, GlobalMeasurements, Statement

__all__ = ["SERIAL_TEXTS", "SerialConfig", "SerialInput", "compare_serial"]

#: Codes and texts of the serial statements (category "serial").
SERIAL_TEXTS: dict[str, str] = {
    "SERIAL_NO_CHANGE": "No significant change compared with the prior ECG",
    "SERIAL_RATE_UP": "Heart rate increased compared with the prior ECG",
    "SERIAL_RATE_DOWN": "Heart rate decreased compared with the prior ECG",
    "SERIAL_PR_LONGER": "PR interval longer than on the prior ECG",
    "SERIAL_PR_SHORTER": "PR interval shorter than on the prior ECG",
    "SERIAL_QRS_WIDER": "QRS duration wider than on the prior ECG",
    "SERIAL_QRS_NARROWER": "QRS duration narrower than on the prior ECG",
    "SERIAL_QTC_LONGER": "QTc longer than on the prior ECG",
    "SERIAL_QTC_SHORTER": "QTc shorter than on the prior ECG",
    "SERIAL_NEW_RHYTHM": "New rhythm compared with the prior ECG",
    "SERIAL_RESOLVED_RHYTHM": "Rhythm of the prior ECG no longer present",
    "SERIAL_NEW_BBB": "New bundle-branch block compared with the prior ECG",
    "SERIAL_NEW_ST_ELEVATION": "New ST elevation compared with the prior ECG",
    "SERIAL_NEW_T_INVERSION": "New T-wave inversion compared with the prior ECG",
}
_SINUS = frozenset({"SR", "STACH", "SBRAD", "SARRH"})
_BBB = frozenset({"LBBB", "RBBB", "ILBBB", "IRBBB"})
_ST_ELEVATION = frozenset({"STEMI_ANT", "STEMI_INF", "STEMI_LAT"})
_T_INVERSION = frozenset({"T_INV"})


@dataclass(frozen=True)
class SerialConfig:
    """Change thresholds, in the measurements' units (a change must exceed them)."""

    rate_change_bpm: float = 20.0
    pr_change_ms: float = 40.0
    qrs_change_ms: float = 20.0
    qtc_change_ms: float = 60.0

    def __post_init__(self) -> None:
        for name in ("rate_change_bpm", "pr_change_ms", "qrs_change_ms", "qtc_change_ms"):
            check_range(self, name, 0.0, math.inf, lo_open=True)  # positive


@dataclass(frozen=True)
class SerialInput:
    """What is compared of one ECG: global measurements, statements, when and which."""

    measurements: GlobalMeasurements
    statements: tuple[Statement, ...]
    acquisition_time: datetime | None = None
    sop_instance_uid: str | None = None


#: (measurement, threshold field, code when it rose, code when it fell)
_INTERVALS: tuple[tuple[str, str, str, str], ...] = (
    ("heart_rate_bpm", "rate_change_bpm", "SERIAL_RATE_UP", "SERIAL_RATE_DOWN"),
    ("pr_ms", "pr_change_ms", "SERIAL_PR_LONGER", "SERIAL_PR_SHORTER"),
    ("qrs_ms", "qrs_change_ms", "SERIAL_QRS_WIDER", "SERIAL_QRS_NARROWER"),
    ("qtc_fridericia_ms", "qtc_change_ms", "SERIAL_QTC_LONGER", "SERIAL_QTC_SHORTER"),
)


def _statement(code: str, evidence: tuple[Evidence, ...], detail: str = "") -> Statement:
    text = SERIAL_TEXTS[code] + (f": {detail}" if detail else "")
    return Statement(code=code, text=text, category="serial", certainty="definite",
                     evidence=evidence, source="serial")


def _rhythm_groups(statements: tuple[Statement, ...]) -> dict[str, Statement]:
    out: dict[str, Statement] = {}
    for s in statements:
        if s.category == "rhythm":
            out.setdefault("SINUS" if s.code in _SINUS else s.code, s)
    return out


def _codes_evidence(name: str, codes: list[str]) -> Evidence:
    return Evidence(measurement=name, value=", ".join(codes), criterion="is not null")


def compare_serial(current: SerialInput, prior: SerialInput,
                   config: SerialConfig | None = None) -> tuple[Statement, ...]:
    """The changes from ``prior`` to ``current`` as serial statements (never empty).

    Parameters
    ----------
    current, prior:
        The two ECGs of one patient, ``prior`` acquired before ``current``.
    config:
        Thresholds (bpm, ms); the defaults of :class:`SerialConfig` when None.

    Returns
    -------
    tuple[Statement, ...]
        Statements of category ``"serial"`` with evidence from both ECGs, or the one
        statement ``SERIAL_NO_CHANGE`` citing the compared values.
    """
    cfg = config or SerialConfig()
    out: list[Statement] = []
    compared: list[Evidence] = []
    for name, limit_name, up, down in _INTERVALS:
        now, before = getattr(current.measurements, name), getattr(prior.measurements, name)
        if now is None or before is None:
            continue
        limit = float(getattr(cfg, limit_name))
        delta = float(now) - float(before)
        prior_ev = Evidence(measurement=f"prior.{name}", value=float(before),
                            criterion=f"== {float(before):g}")
        if abs(delta) > limit:
            rose = delta > 0
            bound = float(before) + (limit if rose else -limit)
            ev = Evidence(measurement=name, value=float(now),
                          criterion=f"{'>' if rose else '<'} {bound:g}")
            unit = "bpm" if name.endswith("_bpm") else "ms"
            out.append(_statement(up if rose else down, (ev, prior_ev),
                                  f"{float(before):.0f} -> {float(now):.0f} {unit}"))
        else:
            compared.append(Evidence(measurement=name, value=float(now),
                                     criterion=f"in [{float(before) - limit:g}, "
                                               f"{float(before) + limit:g}]"))
            compared.append(prior_ev)

    now_rhythm, before_rhythm = _rhythm_groups(current.statements), _rhythm_groups(
        prior.statements)
    new = [s for k, s in now_rhythm.items() if k not in before_rhythm]
    gone = [s for k, s in before_rhythm.items() if k not in now_rhythm]
    if new:
        out.append(_statement("SERIAL_NEW_RHYTHM",
                              (_codes_evidence("rhythm", [s.code for s in new]),
                               _codes_evidence("prior.rhythm", [s.code for s in
                                                                before_rhythm.values()])),
                              "; ".join(s.text for s in new)))
    if gone:
        out.append(_statement("SERIAL_RESOLVED_RHYTHM",
                              (_codes_evidence("prior.rhythm", [s.code for s in gone]),),
                              "; ".join(s.text for s in gone)))
    before_codes = {s.code for s in prior.statements}
    for code, group in (("SERIAL_NEW_BBB", _BBB), ("SERIAL_NEW_ST_ELEVATION", _ST_ELEVATION),
                        ("SERIAL_NEW_T_INVERSION", _T_INVERSION)):
        found = [s for s in current.statements if s.code in group and s.code not in before_codes]
        if found:
            # the finding's own evidence (leads, spans of this ECG), and the prior's absence
            had = ", ".join(sorted(before_codes & group))
            found_codes = ", ".join(s.code for s in found)
            evidence = tuple(e for s in found for e in s.evidence) + (
                Evidence(measurement="prior.statements", value=had or None,
                         criterion=f"not in {{{found_codes}}}" if had else "is null"),)
            out.append(_statement(code, evidence, "; ".join(s.text for s in found)))
    if not out:
        out.append(_statement("SERIAL_NO_CHANGE", tuple(compared)))
    return tuple(out)

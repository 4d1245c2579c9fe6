"""The vendor read: what the cart or ECG management system already said about an ECG.

Archive formats (GE MUSE XML, Philips Sierra XML, HL7 aECG, SCP-ECG) often carry the
device's own measurements and statements beside the waveform. The readers in
``integration/`` keep them here, in our names and units, so that our read can be shown and
scored beside theirs. Nothing here is recomputed: a value the file does not give is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["MEASUREMENT_FIELDS", "QTC_FORMULAS", "VendorRead", "VendorStatement"]

#: QTc formulas a vendor may name (lower case); None in ``VendorRead.qtc_formula`` = unstated.
QTC_FORMULAS: tuple[str, ...] = ("bazett", "fridericia", "hodges", "framingham")

#: The global measurements of a vendor read, in our names (see ``models.results``) and units.
MEASUREMENT_FIELDS: tuple[str, ...] = (
    "heart_rate_bpm", "rr_ms", "p_ms", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms",
    "p_axis_deg", "qrs_axis_deg", "t_axis_deg",
)


@dataclass(frozen=True)
class VendorStatement:
    """One interpretive statement as the vendor wrote it.

    ``text`` is the statement itself; ``code`` the vendor's code for it where the file gives
    one (Philips statement codes such as ``"SR"``, MDC codes in HL7 aECG); ``reason`` the
    criterion text some vendors print beside it (Philips' right-hand statement, e.g.
    ``"rate< 50"``).
    """

    text: str
    code: str | None = None
    reason: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {"text": self.text, "code": self.code, "reason": self.reason}


@dataclass(frozen=True)
class VendorRead:
    """The measurements and statements a file carries from the device that read it.

    Attributes
    ----------
    source_format:
        The archive format it came from, e.g. ``"GE MUSE XML"``.
    manufacturer, device:
        Who made the device and its model, as the file names them.
    program, program_version:
        The interpretation program and its version, as the file names them (e.g. GE's
        ``"12SL"`` and ``"243"``).
    heart_rate_bpm, rr_ms, p_ms, pr_ms, qrs_ms, qt_ms:
        Global measurements, beats per minute and milliseconds.
    qtc_ms, qtc_formula:
        The vendor's headline corrected QT, ms, and the formula it names (one of
        :data:`QTC_FORMULAS`), or None where the file does not say which.
    p_axis_deg, qrs_axis_deg, t_axis_deg:
        Frontal-plane axes, degrees.
    other_measurements:
        The vendor's further global measurements under its own labels and in its own
        units (e.g. ``{"QTcFrederica": 460.0, "AtrialRate": 90.0}``), kept so nothing the
        file says is lost; comparisons use the named fields above.
    statements:
        The interpretive statements, in the vendor's order.
    """

    source_format: str
    manufacturer: str | None = None
    device: str | None = None
    program: str | None = None
    program_version: str | None = None
    heart_rate_bpm: float | None = None
    rr_ms: float | None = None
    p_ms: float | None = None
    pr_ms: float | None = None
    qrs_ms: float | None = None
    qt_ms: float | None = None
    qtc_ms: float | None = None
    qtc_formula: str | None = None
    p_axis_deg: float | None = None
    qrs_axis_deg: float | None = None
    t_axis_deg: float | None = None
    other_measurements: dict[str, float] = field(default_factory=dict)
    statements: tuple[VendorStatement, ...] = ()

    def __post_init__(self) -> None:
        if self.qtc_formula is not None and self.qtc_formula not in QTC_FORMULAS:
            raise ValueError(f"qtc_formula must be one of {QTC_FORMULAS} or None, "
                             f"got {self.qtc_formula!r}")

    @property
    def measurements(self) -> dict[str, float | None]:
        """The named global measurements, in our names and units."""
        return {name: getattr(self, name) for name in MEASUREMENT_FIELDS}

    @property
    def empty(self) -> bool:
        """True when the file named a device but gave no measurement and no statement."""
        return (all(v is None for v in self.measurements.values())
                and not self.other_measurements and not self.statements)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``vendor`` object of ``ecgread analyze --json``."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)
                               if f.name not in MEASUREMENT_FIELDS
                               and f.name not in ("qtc_formula", "other_measurements",
                                                  "statements")}
        out["measurements"] = {**self.measurements, "qtc_formula": self.qtc_formula}
        out["other_measurements"] = dict(self.other_measurements)
        out["statements"] = [s.to_json_dict() for s in self.statements]
        return out

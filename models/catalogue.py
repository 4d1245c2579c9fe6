"""The measurement catalogue: each global measurement described once.

One :class:`Measurement` per global measurement of the JSON contract, in its order: the
name (units in the name), the UCUM unit and the symbol printed, the label of the report
table and the short one of the text output, the code sent in the ORU (LOINC where one
exists, else a local code, else none: not sent), how it is computed where that needs
saying, and its clinical limits with their source: the normal range (by sex where the
limits differ) and the critical limits. The criteria that judge one measurement against
one of these limits (:mod:`models.interpret.criteria`), the ORU's codes, units, OBX-7
ranges and OBX-8 flags (:mod:`reporting.oru`), the PDF's measurement table
(:mod:`reporting.pdf`) and the text output (:mod:`ecgread.cli.textual`) all read them here.

A limit is one-sided: a value lies *beyond* it when ``value <op> threshold``, e.g. a PR
interval beyond ``Limit(">", 200)`` is prolonged. Its :attr:`Limit.criterion` is the same
rule in the evidence grammar (:mod:`models.interpret.evidence`), so a statement's evidence
reads ``"> 200"`` exactly where an ORU flag says H. A normal range is two such limits
(either may be missing); a value is normal when it lies beyond neither.

Units: each threshold is in the unit of its measurement (ms, bpm, degrees).

Example
-------
>>> pr = get("pr_ms")
>>> pr.unit.ucum, pr.code.code, pr.normal.high.criterion, pr.normal.criterion
('ms', '8625-6', '> 200', 'in [120, 200]')
>>> limit("qtc_framingham_ms", "high", sex="M").criterion
'>= 450'
>>> limit("qrs_ms", "wide").within
'< 120'

References
----------
- Mason JW, Hancock EW, Gettes LS. AHA/ACCF/HRS recommendations for the standardization
  and interpretation of the electrocardiogram, Part II: electrocardiography diagnostic
  statement list. Circulation 2007;115:1325 (rates: statements 20-23; PR: 80, 82).
- Surawicz B et al. Part III: intraventricular conduction disturbances. Circulation
  2009;119:e235 (QRS duration, frontal QRS axis).
- Rautaharju PM et al. Part IV: the ST segment, T and U waves, and the QT interval.
  Circulation 2009;119:e241 (prolonged QTc).
- Hancock EW et al. Part V: electrocardiogram changes associated with cardiac chamber
  hypertrophy. Circulation 2009;119:e251 (P duration).
- Priori SG et al. 2015 ESC guidelines for the management of patients with ventricular
  arrhythmias. Eur Heart J 2015;36:2793 (short QTc).
- Drew BJ et al. Prevention of torsade de pointes in hospital settings. Circulation
  2010;121:1047 (QTc above 500 ms).
- LOINC (Regenstrief Institute), codes 8867-4, 8625-6, 8633-0, 8634-8, 8636-3, 8626-4,
  8632-2, 8638-9; UCUM (Regenstrief), units ms, {beats}/min, deg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["CATALOGUE", "LOCAL_SYSTEM", "LOINC", "MEASUREMENT_NAMES", "Code", "Limit",
           "Measurement", "Range", "Unit", "get", "limit", "normal_range"]

Op = Literal["<", "<=", ">", ">="]
Sex = Literal["M", "F"]
_OPS: dict[str, str] = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}  # op -> its negation

#: HL7 v2.5.1 Table 0396 coding systems: LOINC, and ours (a "99zzz" local system).
LOINC = "LN"
LOCAL_SYSTEM = "99ECG"

# The sources of the limits, cited by each limit (see the module's References).
_MASON_RATE = ("Mason 2007 (AHA/ACCF/HRS Part II), statements 20-23: sinus bradycardia "
               "< 60 bpm, sinus tachycardia > 100 bpm")
_MASON_PR = ("Mason 2007 (AHA/ACCF/HRS Part II), statements 80, 82: short PR < 120 ms, "
             "first-degree AV block PR > 200 ms")
_SURAWICZ_QRS = ("Surawicz 2009 (AHA/ACCF/HRS Part III): nonspecific intraventricular "
                 "conduction delay QRS > 110 ms in adults")
_SURAWICZ_WIDE = ("Surawicz 2009 (AHA/ACCF/HRS Part III): complete bundle-branch block "
                  "QRS >= 120 ms in adults")
_SURAWICZ_AXIS = ("Surawicz 2009 (AHA/ACCF/HRS Part III): normal frontal QRS axis -30 to "
                  "+90 deg in adults")
_SINUS_P_AXIS = ("Mason 2007 (AHA/ACCF/HRS Part II): sinus P axis 0 to +90 deg, widened to "
                 "-30 to +100 deg for measurement error")
_HANCOCK_P = "Hancock 2009 (AHA/ACCF/HRS Part V): left atrial abnormality P > 120 ms"
_RAUTAHARJU_QTC = ("Rautaharju 2009 (AHA/ACCF/HRS Part IV): prolonged QTc >= 450 ms in men, "
                   ">= 460 ms in women (unknown sex: women's)")
_PRIORI_QTC = ("Priori 2015 (ESC ventricular arrhythmia guidelines): short QT from QTc "
               "<= 360 ms (Part IV's <= 390 ms fires on many normal ECGs)")
_CRITICAL_QTC = ("ecgread critical-findings list: QTc >= 500 ms (Drew 2010: torsade de "
                 "pointes risk above 500 ms)")
_CRITICAL_RATE = "ecgread critical-findings list: heart rate < 40 or > 150 bpm (local policy)"


@dataclass(frozen=True)
class Limit:
    """One clinical limit: a value lies beyond it when ``value <op> threshold``.

    Parameters
    ----------
    op:
        "<" or "<=" for a lower limit, ">" or ">=" for an upper one.
    threshold:
        In the unit of the measurement the limit belongs to.
    source:
        The guideline or policy it comes from.

    Example
    -------
    >>> lim = Limit(">", 200.0, "Mason 2007")
    >>> lim.criterion, lim.within, lim.beyond(201.0), lim.beyond(200.0)
    ('> 200', '<= 200', True, False)
    """

    op: Op
    threshold: float
    source: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"limit operator must be one of {sorted(_OPS)}, got {self.op!r}")
        if not math.isfinite(self.threshold):
            raise ValueError(f"limit threshold must be finite, got {self.threshold!r}")

    @property
    def upper(self) -> bool:
        """Whether this limits from above (``>``, ``>=``)."""
        return self.op in (">", ">=")

    @property
    def criterion(self) -> str:
        """The rule "beyond this limit" in the evidence grammar, e.g. ``"> 200"``."""
        return f"{self.op} {self.threshold:g}"

    @property
    def within(self) -> str:
        """The rule "not beyond this limit", e.g. ``"<= 200"``."""
        return f"{_OPS[self.op]} {self.threshold:g}"

    def beyond(self, value: float) -> bool:
        """Whether ``value`` (in the measurement's unit) lies beyond this limit."""
        t = self.threshold
        return {"<": value < t, "<=": value <= t, ">": value > t, ">=": value >= t}[self.op]

    def band(self, end: float) -> str:
        """The values beyond this limit up to ``end`` (included), as an interval criterion.

        >>> Limit("<", -30.0).band(-90.0), Limit(">", 90.0).band(180.0)
        ('in [-90, -30)', 'in (90, 180]')
        """
        t = self.threshold
        if self.upper:
            return f"in {'[' if self.op == '>=' else '('}{t:g}, {end:g}]"
        return f"in [{end:g}, {t:g}{']' if self.op == '<=' else ')'}"


@dataclass(frozen=True)
class Range:
    """A normal range: the values beyond neither limit (``None``: no limit on that side).

    Example
    -------
    >>> r = Range(Limit("<", 60.0), Limit(">", 100.0))
    >>> r.criterion, r.contains(60.0), r.contains(100.5)
    ('in [60, 100]', True, False)
    """

    low: Limit | None = None
    high: Limit | None = None

    def __post_init__(self) -> None:
        if self.low is not None and self.low.upper:
            raise ValueError(f"the lower limit must be < or <=, got {self.low.op!r}")
        if self.high is not None and not self.high.upper:
            raise ValueError(f"the upper limit must be > or >=, got {self.high.op!r}")
        if self.low is not None and self.high is not None \
                and self.low.threshold > self.high.threshold:
            raise ValueError("the lower limit lies above the upper one")

    def contains(self, value: float) -> bool:
        """Whether ``value`` is normal: beyond neither limit."""
        return not any(lim is not None and lim.beyond(value) for lim in (self.low, self.high))

    @property
    def criterion(self) -> str:
        """The range as an interval criterion, e.g. ``"in [60, 100]"``.

        Raises
        ------
        ValueError
            A limit is missing (use the one limit's :attr:`Limit.within` instead).
        """
        if self.low is None or self.high is None:
            raise ValueError("a range open on one side has no interval criterion")
        lo = "[" if self.low.op == "<" else "("
        hi = "]" if self.high.op == ">" else ")"
        return f"in {lo}{self.low.threshold:g}, {self.high.threshold:g}{hi}"


@dataclass(frozen=True)
class Unit:
    """A measurement's unit: the UCUM code and name (ORU OBX-6) and the symbol printed."""

    ucum: str  # e.g. "{beats}/min"
    name: str  # e.g. "beats per minute"
    symbol: str  # e.g. "bpm", as the PDF and the text output print it


@dataclass(frozen=True)
class Code:
    """An observation code: code, its display name, and its HL7 Table 0396 system."""

    code: str
    display: str
    system: str = LOINC


@dataclass(frozen=True)
class Measurement:
    """One global measurement: what it is, how it is named and sent, and its limits.

    ``code`` None: the measurement is not sent in the ORU (no LOINC code and no need for
    a local one). ``normal_by_sex`` overrides ``normal`` for a known sex; an unknown sex
    gets ``normal``. ``critical_low``/``critical_high`` are the panic limits (ORU LL/HH).
    ``limits`` holds further named limits of this measurement that criteria share (e.g.
    "wide" for the QRS duration of a complete bundle-branch block).
    """

    name: str  # as in GlobalMeasurements and the JSON contract
    label: str  # the report's measurement table
    short_label: str  # the text output's column (16 characters at most)
    unit: Unit
    code: Code | None = None
    method: str = ""  # how it is computed, where the name does not say (ORU NTE)
    normal: Range | None = None
    normal_by_sex: tuple[tuple[Sex, Range], ...] = ()
    critical_low: Limit | None = None
    critical_high: Limit | None = None
    limits: tuple[tuple[str, Limit], ...] = ()

    def __post_init__(self) -> None:
        if len(self.short_label) > 16:
            raise ValueError(f"{self.name}: short label longer than 16 characters")
        if self.critical_low is not None and self.critical_low.upper:
            raise ValueError(f"{self.name}: the critical low limit must be < or <=")
        if self.critical_high is not None and not self.critical_high.upper:
            raise ValueError(f"{self.name}: the critical high limit must be > or >=")
        for r in (self.normal, *(r for _, r in self.normal_by_sex)):
            if r is None:
                continue
            if self.critical_low and r.low and self.critical_low.threshold > r.low.threshold:
                raise ValueError(f"{self.name}: critical low limit inside the normal range")
            if self.critical_high and r.high \
                    and self.critical_high.threshold < r.high.threshold:
                raise ValueError(f"{self.name}: critical high limit inside the normal range")

    def normal_range(self, sex: str | None = None) -> Range | None:
        """The normal range for ``sex`` ("M", "F"; anything else: unknown)."""
        return next((r for s, r in self.normal_by_sex if s == sex), self.normal)

    def flag(self, value: float, sex: str | None = None) -> str:
        """Where ``value`` lies, as HL7 v2 Table 0078 abnormal flags: "LL"/"HH" beyond a
        critical limit, "L"/"H" beyond the normal range for ``sex``, "N" within it, ""
        when the measurement has no normal range.

        Example
        -------
        >>> get("pr_ms").flag(230.0), get("pr_ms").flag(160.0)
        ('H', 'N')
        """
        if self.critical_low is not None and self.critical_low.beyond(value):
            return "LL"
        if self.critical_high is not None and self.critical_high.beyond(value):
            return "HH"
        normal = self.normal_range(sex)
        if normal is None:
            return ""
        if normal.low is not None and normal.low.beyond(value):
            return "L"
        if normal.high is not None and normal.high.beyond(value):
            return "H"
        return "N"

    def limit(self, key: str, sex: str | None = None) -> Limit:
        """One limit of this measurement, by ``key``.

        Parameters
        ----------
        key:
            "low" or "high" (the normal range's limits for ``sex``), "critical_low",
            "critical_high", or the name of one of :attr:`limits` (e.g. "wide").
        sex:
            "M" or "F"; anything else is unknown (for "low" and "high").

        Raises
        ------
        KeyError
            This measurement has no such limit.
        """
        r = self.normal_range(sex)
        found = {"low": r.low if r else None, "high": r.high if r else None,
                 "critical_low": self.critical_low,
                 "critical_high": self.critical_high}.get(key) or dict(self.limits).get(key)
        if found is None:
            raise KeyError(f"{self.name} has no limit {key!r}")
        return found


_BPM = Unit("{beats}/min", "beats per minute", "bpm")
_MS = Unit("ms", "millisecond", "ms")
_DEG = Unit("deg", "degree", "°")

#: One QTc range for every formula: the QT statements judge Framingham's QTc against it
#: (models.interpret.criteria.st_t_qt) and the ORU flags each formula's QTc by it.
_QTC_NORMAL = Range(Limit("<=", 360.0, _PRIORI_QTC), Limit(">=", 460.0, _RAUTAHARJU_QTC))
_QTC_BY_SEX: tuple[tuple[Sex, Range], ...] = (
    ("M", Range(_QTC_NORMAL.low, Limit(">=", 450.0, _RAUTAHARJU_QTC))),
    ("F", _QTC_NORMAL),
)
_QTC_CRITICAL = Limit(">=", 500.0, _CRITICAL_QTC)


def _qtc(formula: str, code: Code | None, method: str) -> Measurement:
    return Measurement(f"qtc_{formula.lower()}_ms", f"QTc {formula}", f"QTc {formula}", _MS,
                       code, method, _QTC_NORMAL, _QTC_BY_SEX, critical_high=_QTC_CRITICAL)


#: The global measurements, in the order of the JSON contract (DESIGN.md).
CATALOGUE: tuple[Measurement, ...] = (
    Measurement("heart_rate_bpm", "Heart rate", "Heart rate", _BPM,
                Code("8867-4", "Heart rate"),
                normal=Range(Limit("<", 60.0, _MASON_RATE), Limit(">", 100.0, _MASON_RATE)),
                critical_low=Limit("<", 40.0, _CRITICAL_RATE),
                critical_high=Limit(">", 150.0, _CRITICAL_RATE)),
    Measurement("rr_ms", "RR interval", "RR", _MS),
    Measurement("p_ms", "P duration", "P duration", _MS,
                normal=Range(None, Limit(">", 120.0, _HANCOCK_P))),
    Measurement("pr_ms", "PR interval", "PR", _MS, Code("8625-6", "P-R interval"),
                normal=Range(Limit("<", 120.0, _MASON_PR), Limit(">", 200.0, _MASON_PR))),
    Measurement("qrs_ms", "QRS duration", "QRS", _MS, Code("8633-0", "QRS duration"),
                normal=Range(None, Limit(">", 110.0, _SURAWICZ_QRS)),
                limits=(("wide", Limit(">=", 120.0, _SURAWICZ_WIDE)),)),
    Measurement("qt_ms", "QT interval", "QT", _MS, Code("8634-8", "Q-T interval")),
    # LOINC 8636-3 names no correction formula: Bazett's is sent there, as carts do.
    _qtc("Bazett", Code("8636-3", "Q-T interval corrected (Bazett)"),
         "QTc by Bazett's formula: QT / sqrt(RR), RR in s"),
    _qtc("Fridericia", Code("QTCF", "Q-T interval corrected (Fridericia)", LOCAL_SYSTEM),
         "QTc by Fridericia's formula: QT / cbrt(RR), RR in s"),
    _qtc("Framingham", Code("QTCFRAM", "Q-T interval corrected (Framingham)", LOCAL_SYSTEM),
         "QTc by the Framingham formula: QT + 154 ms x (1 - RR), RR in s"),
    _qtc("Hodges", None, "QTc by the Hodges formula: QT + 1.75 ms x (HR - 60), HR in bpm"),
    Measurement("p_axis_deg", "P axis", "P axis", _DEG, Code("8626-4", "P wave axis"),
                normal=Range(Limit("<", -30.0, _SINUS_P_AXIS),
                             Limit(">", 100.0, _SINUS_P_AXIS))),
    Measurement("qrs_axis_deg", "QRS axis", "QRS axis", _DEG, Code("8632-2", "QRS axis"),
                normal=Range(Limit("<", -30.0, _SURAWICZ_AXIS),
                             Limit(">", 90.0, _SURAWICZ_AXIS))),
    Measurement("t_axis_deg", "T axis", "T axis", _DEG, Code("8638-9", "T wave axis")),
)

#: The global measurements of the JSON contract, in its order, with units in the names.
MEASUREMENT_NAMES: tuple[str, ...] = tuple(m.name for m in CATALOGUE)
_BY_NAME: dict[str, Measurement] = {m.name: m for m in CATALOGUE}


def get(name: str) -> Measurement:
    """The catalogue entry of global measurement ``name``; KeyError for an unknown name."""
    return _BY_NAME[name]


def limit(name: str, key: str, sex: str | None = None) -> Limit:
    """``get(name).limit(key, sex)``: e.g. ``limit("pr_ms", "high").criterion == "> 200"``.

    Raises
    ------
    KeyError
        Unknown measurement, or it has no such limit (see :meth:`Measurement.limit`).
    """
    return get(name).limit(key, sex)


def normal_range(name: str, sex: str | None = None) -> Range:
    """The normal range of measurement ``name`` for ``sex``.

    Raises
    ------
    KeyError
        Unknown measurement, or it has no normal range.
    """
    r = get(name).normal_range(sex)
    if r is None:
        raise KeyError(f"{name} has no normal range")
    return r

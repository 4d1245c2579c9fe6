"""Criteria grammar and the evidence checker.

A criterion is one of (numbers in the measurement's unit; spaces optional)::

    > x   >= x   < x   <= x   == x   != x       numeric comparison (== / != also for text)
    in [a, b]   in [a, b)   in (a, b]   in (a, b)  closed/half-open/open interval
    not in [a, b]  (and the other brackets)        outside the interval
    in {A, B}   not in {A, B}                      membership in a set of texts or numbers
    is null   is not null                         the value is (not) measurable

A value of ``None`` meets only ``is null`` (and ``!=`` / ``not in`` never on a null).

:func:`check_evidence` recomputes every cited value from the analysis
(:func:`models.interpret.values.resolve`), compares it with the stored one, re-evaluates
the criterion, and checks the leads and time spans.

Example
-------
>>> holds("> 200", 232.0), holds("in [-30, 90]", -45.0), holds("is null", None)
(True, False, True)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from ecgread.models.analysis_result import Analysis
from ecgread.models.interpret.values import UnknownMeasurement, Value, resolve
from ecgread.models.results import Statement

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_CMP = re.compile(rf"^\s*(>=|<=|==|!=|>|<)\s*({_NUM}|[A-Za-z_][\w\-]*)\s*$")
_INTERVAL = re.compile(rf"^\s*(not\s+)?in\s*([\[(])\s*({_NUM})\s*,\s*({_NUM})\s*([\])])\s*$")
_SET = re.compile(r"^\s*(not\s+)?in\s*\{([^}]*)\}\s*$")
_NULL = re.compile(r"^\s*is\s+(not\s+)?null\s*$")


class CriterionError(ValueError):
    """A criterion outside the grammar."""


@dataclass(frozen=True)
class Criterion:
    op: str  # ">", ">=", "<", "<=", "==", "!=", "in", "not in", "in set", "not in set",
    #          "is null", "is not null"
    args: tuple[float | str, ...] = ()
    closed: tuple[bool, bool] = (True, True)


def _atom(s: str) -> float | str:
    s = s.strip()
    try:
        return float(s)
    except ValueError:
        return s


@lru_cache(maxsize=1024)
def parse(criterion: str) -> Criterion:
    """Parse one criterion; raises :class:`CriterionError` outside the grammar. Cached: the
    rules' criteria are a fixed set of texts (a Criterion is frozen)."""
    if m := _NULL.match(criterion):
        return Criterion("is not null" if m.group(1) else "is null")
    if m := _CMP.match(criterion):
        return Criterion(m.group(1), (_atom(m.group(2)),))
    if m := _INTERVAL.match(criterion):
        lo, hi = float(m.group(3)), float(m.group(4))
        if lo > hi:
            raise CriterionError(f"empty interval in {criterion!r}")
        return Criterion("not in" if m.group(1) else "in", (lo, hi),
                         (m.group(2) == "[", m.group(5) == "]"))
    if m := _SET.match(criterion):
        items = tuple(_atom(x) for x in m.group(2).split(",") if x.strip())
        return Criterion("not in set" if m.group(1) else "in set", items)
    raise CriterionError(f"criterion {criterion!r} is not in the grammar")


def holds(criterion: str | Criterion, value: Value) -> bool:
    """Whether ``value`` meets ``criterion``."""
    c = parse(criterion) if isinstance(criterion, str) else criterion
    if c.op == "is null":
        return value is None
    if c.op == "is not null":
        return value is not None
    if value is None:
        return False
    if c.op in ("in set", "not in set"):
        inside = any(_equal(value, x) for x in c.args)
        return inside if c.op == "in set" else not inside
    if c.op in ("==", "!="):
        eq = _equal(value, c.args[0])
        return eq if c.op == "==" else not eq
    if isinstance(value, str):
        return False
    if c.op in ("in", "not in"):
        lo, hi = float(c.args[0]), float(c.args[1])
        above = value >= lo if c.closed[0] else value > lo
        below = value <= hi if c.closed[1] else value < hi
        return (above and below) if c.op == "in" else not (above and below)
    x = c.args[0]
    if isinstance(x, str):
        return False
    return {">": value > x, ">=": value >= x, "<": value < x, "<=": value <= x}[c.op]


def _equal(a: float | str, b: float | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def same_value(stored: Value, actual: Value) -> bool:
    if stored is None or actual is None:
        return stored is None and actual is None
    return _equal(stored, actual)


def check_evidence(statement: Statement, analysis: Analysis) -> list[str]:
    """Problems with a statement's evidence against ``analysis``; empty when it all holds.

    Checks: at least one evidence item; each measurement name is in the grammar of
    :mod:`models.interpret.values`; the stored value equals the value recomputed from the
    analysis; the criterion parses and holds on that value; every cited lead is a lead of
    the record; every span lies within the record (0 <= start <= end <= duration).
    """
    problems: list[str] = []
    if not statement.evidence:
        problems.append(f"{statement.code}: no evidence")
    duration = analysis.ecg.duration_s
    leads = set(analysis.ecg.lead_names)
    for ev in statement.evidence:
        where = f"{statement.code}/{ev.measurement}"
        try:
            actual = resolve(ev.measurement, analysis)
        except UnknownMeasurement:
            problems.append(f"{where}: unknown measurement")
            continue
        if not same_value(ev.value, actual):
            problems.append(f"{where}: stored value {ev.value!r} != analysis value {actual!r}")
        try:
            if not holds(ev.criterion, actual):
                problems.append(f"{where}: value {actual!r} does not meet {ev.criterion!r}")
        except CriterionError as exc:
            problems.append(f"{where}: {exc}")
        for lead in ev.leads:
            if lead not in leads:
                problems.append(f"{where}: lead {lead!r} not in the record")
        for a, b in ev.spans_s:
            if not (0.0 <= a <= b <= duration + 1e-9):
                problems.append(f"{where}: span ({a:.3f}, {b:.3f}) s outside the record "
                                f"(0, {duration:.3f}) s")
    return problems

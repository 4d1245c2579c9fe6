"""Agreement between our read and the vendor's read of the same ECG. Pure: no I/O.

Two steps, one per function: :func:`compare_read` puts one ECG's two reads side by side
(measurement differences, statement families on each side), and :func:`summarize` turns many
such comparisons into the archive figures: per measurement the mean and SD of the difference
(Bland-Altman) and the share within tolerance; per statement family a 2x2 agreement table
with the share agreeing and Cohen's kappa. The batch report and ``bench.vendor_agreement``
both use these two functions.

Differences are **ours minus the vendor's**; axes are wrapped to [-180, 180) degrees.

Statement families
------------------
Vendors word their statements in their own ways, so each side is mapped to a few families
that every program reports (:data:`FAMILIES`): ours by statement code, the vendor's by a
regular expression over the statement text (and, for HL7 aECG, the MDC code). Comparison
statements (after GE's "When compared with ECG of ..." line) describe a change, not this
ECG, and are left out. The ``infarct`` family holds our Q-wave (age undetermined) and STEMI
statements.

References
----------
Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of
clinical measurement. Lancet 1986;1:307-310.
Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas 1960;20:37-46.
IEC 60601-2-25:2011, 201.12.4.102 (tolerances of global interval measurements).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecgread.models.vendor_read import VendorRead

__all__ = [
    "FAMILIES",
    "MEASURES",
    "AgreementSummary",
    "EcgAgreement",
    "Family",
    "FamilyAgreement",
    "Measure",
    "MeasureAgreement",
    "compare_read",
    "summarize",
    "vendor_families",
]


@dataclass(frozen=True)
class Measure:
    """One compared measurement: our name (``models.results``), the vendor's
    (``models.vendor_read``), its unit and the tolerance for "within"."""

    name: str
    ours: str
    vendor: str
    unit: str  # "ms" or "deg"
    tolerance: float


#: The compared measurements. Tolerances: PR and QRS 10 ms, QT and QTc 15 ms, axes 15°.
#: QTc: ours with the vendor's stated formula, Bazett when the file does not say (the usual
#: default of the carts; ``EcgAgreement.qtc_formula`` records the one used).
MEASURES: tuple[Measure, ...] = (
    Measure("PR", "pr_ms", "pr_ms", "ms", 10.0),
    Measure("QRS", "qrs_ms", "qrs_ms", "ms", 10.0),
    Measure("QT", "qt_ms", "qt_ms", "ms", 15.0),
    Measure("QTc", "qtc_ms", "qtc_ms", "ms", 15.0),
    Measure("P axis", "p_axis_deg", "p_axis_deg", "deg", 15.0),
    Measure("QRS axis", "qrs_axis_deg", "qrs_axis_deg", "deg", 15.0),
    Measure("T axis", "t_axis_deg", "t_axis_deg", "deg", 15.0),
)


@dataclass(frozen=True)
class Family:
    """A statement family: our codes in it, and a pattern for the vendor's text or code."""

    name: str
    label: str
    our_codes: frozenset[str]
    vendor_pattern: str  # case-insensitive regular expression over the text (and MDC code)

    def matches(self, text: str, code: str | None = None) -> bool:
        """Whether a vendor statement belongs here. Codes count only when they are MDC
        codes (HL7 aECG): vendors' own short codes clash (Philips "ST" is a rhythm)."""
        mdc = f" {code}" if code and code.startswith("MDC_") else ""
        return re.search(self.vendor_pattern, text + mdc, re.IGNORECASE) is not None


#: The families compared. Rhythm is split into families (sinus, AF/flutter, other
#: supraventricular, ventricular, paced) so that each is a present/absent finding.
FAMILIES: tuple[Family, ...] = (
    Family("sinus", "Sinus rhythm (any rate)", frozenset({"SR", "STACH", "SBRAD", "SARRH"}),
           r"\bsinus\b(?!\s+(arrest|pause|node dysfunction))|MDC_ECG_RHY_SINUS"),
    Family("af_flutter", "Atrial fibrillation / flutter", frozenset({"AF", "AFL"}),
           r"atrial\s+(fibrillation|flutter)|\ba-?fib|MDC_ECG_RHY_ATR_(FIB|FLUT)"),
    Family("other_svt", "Other supraventricular rhythm",
           frozenset({"EAR", "JUNCT", "ACC_JUNCT", "SVT"}),
           r"junctional|ectopic\s+atrial|supraventricular\s+tachycardia|\bSVT\b"),
    Family("ventricular", "Ventricular rhythm", frozenset({"VT", "NSVT"}),
           r"ventricular\s+tachycardia|idioventricular|\bVT\b"),
    Family("paced", "Paced rhythm", frozenset({"APACED", "VPACED", "AVPACED"}),
           r"\bpaced\b|pacemaker|pacing"),
    Family("av_block", "AV block", frozenset({"1AVB", "2AVB_I", "2AVB_II", "3AVB"}),
           r"\bA-?V\s+block|\bAVB\b|heart\s+block|(first|second|third|1st|2nd|3rd)[- ]degree|"
           r"wenckebach|mobitz"),
    Family("lbbb", "Left bundle branch block (complete or incomplete)",
           frozenset({"LBBB", "ILBBB"}), r"left\s+bundle[- ]branch\s+block|\bI?LBBB\b"),
    Family("rbbb", "Right bundle branch block (complete or incomplete)",
           frozenset({"RBBB", "IRBBB"}), r"right\s+bundle[- ]branch\s+block|\bI?RBBB\b"),
    Family("infarct", "Infarct (Q-wave or STEMI)",
           frozenset({"MI_ANT", "MI_INF", "MI_LAT", "STEMI_ANT", "STEMI_INF", "STEMI_LAT"}),
           r"infarct|\bMI\b|\bSTEMI\b|injury"),
    Family("st_t", "ST-T abnormality",
           frozenset({"ST_DEP", "T_INV", "STEMI_ANT", "STEMI_INF", "STEMI_LAT"}),
           r"\bST\b(?!\s*-?\s*(segment\s+)?normal)|ST-T|T[- ]wave\s+(abnormality|inversion)|"
           r"(?<!early\s)repolari[sz]ation\s+abnormality|ischemi"),
)

#: A vendor statement from which on the rest compares with a prior ECG (GE 12SL's wording).
COMPARISON_START = re.compile(r"^\s*(when\s+)?compared\s+with", re.IGNORECASE)


def vendor_families(read: VendorRead) -> frozenset[str]:
    """The families the vendor's statements name (comparison statements left out).

    Example
    -------
    >>> from ecgread.models.vendor_read import VendorRead, VendorStatement
    >>> sorted(vendor_families(VendorRead("x", statements=(VendorStatement("Sinus rhythm"),
    ...     VendorStatement("Right bundle branch block")))))
    ['rbbb', 'sinus']
    """
    found: set[str] = set()
    for statement in read.statements:
        if COMPARISON_START.search(statement.text):
            break
        found.update(f.name for f in FAMILIES if f.matches(statement.text, statement.code))
    return frozenset(found)


def _our_families(codes: Iterable[str]) -> frozenset[str]:
    codes = set(codes)
    return frozenset(f.name for f in FAMILIES if f.our_codes & codes)


def _qtc_key(formula: str | None) -> str:
    return f"qtc_{formula or 'bazett'}_ms"


@dataclass(frozen=True)
class EcgAgreement:
    """One ECG's two reads side by side.

    Attributes
    ----------
    ours, vendor:
        Per :data:`MEASURES` name, the value (ms or degrees; None = not measured).
    qtc_formula:
        The formula of our QTc compared with the vendor's (the vendor's stated one, else
        ``"bazett"``).
    our_families, vendor_families:
        The statement families each side names; ``vendor_families`` is None when the
        vendor gave no statements (the ECG then does not count in the statement table).
    """

    ours: Mapping[str, float | None]
    vendor: Mapping[str, float | None]
    qtc_formula: str
    our_families: frozenset[str]
    vendor_families: frozenset[str] | None

    def difference(self, measure: Measure) -> float | None:
        """Ours minus the vendor's, ms or degrees (axes wrapped to [-180, 180))."""
        a, b = self.ours.get(measure.name), self.vendor.get(measure.name)
        if a is None or b is None:
            return None
        d = float(a) - float(b)
        return (d + 180.0) % 360.0 - 180.0 if measure.unit == "deg" else d

    def to_json_dict(self) -> dict[str, Any]:
        return {"ours": dict(self.ours), "vendor": dict(self.vendor),
                "difference": {m.name: self.difference(m) for m in MEASURES},
                "qtc_formula": self.qtc_formula,
                "our_families": sorted(self.our_families),
                "vendor_families": (None if self.vendor_families is None
                                    else sorted(self.vendor_families))}

    @classmethod
    def from_json_dict(cls, d: Mapping[str, Any]) -> EcgAgreement:
        vf = d.get("vendor_families")
        return cls(dict(d["ours"]), dict(d["vendor"]), str(d["qtc_formula"]),
                   frozenset(d["our_families"]), None if vf is None else frozenset(vf))


def compare_read(measurements: Mapping[str, float | None], statement_codes: Iterable[str],
                 vendor: VendorRead) -> EcgAgreement:
    """Our read (measurements as in ``GlobalMeasurements.as_dict()``, statement codes) beside
    the vendor's.

    Example
    -------
    >>> from ecgread.models.vendor_read import VendorRead
    >>> a = compare_read({"pr_ms": 150.0, "qrs_axis_deg": 170.0}, ["SR"],
    ...                  VendorRead("x", pr_ms=144.0, qrs_axis_deg=-175.0))
    >>> a.difference(MEASURES[0]), a.difference(MEASURES[5])
    (6.0, -15.0)
    """
    formula = vendor.qtc_formula or "bazett"
    ours: dict[str, float | None] = {}
    theirs: dict[str, float | None] = {}
    for m in MEASURES:
        key = _qtc_key(vendor.qtc_formula) if m.name == "QTc" else m.ours
        value = measurements.get(key)
        ours[m.name] = None if value is None else float(value)
        theirs[m.name] = getattr(vendor, m.vendor)
    return EcgAgreement(ours, theirs, formula, _our_families(statement_codes),
                        vendor_families(vendor) if vendor.statements else None)


@dataclass(frozen=True)
class MeasureAgreement:
    """Bland-Altman figures of one measurement over the ECGs where both sides have it.

    ``n`` ECGs compared; ``mean``/``sd`` of the difference (ms or degrees, SD with n-1;
    None below 2 ECGs); ``within`` the share of |difference| <= tolerance (0-1);
    ``missing_ours``/``missing_vendor`` ECGs where one side has no value.
    ``pairs`` holds (mean of the two, difference) per ECG for the plot (axes: the vendor's
    value and the wrapped difference).
    """

    measure: Measure
    n: int
    mean: float | None
    sd: float | None
    within: float | None
    missing_ours: int
    missing_vendor: int
    pairs: tuple[tuple[float, float], ...]

    @property
    def limits(self) -> tuple[float, float] | None:
        """The 95 % limits of agreement, mean ± 1.96 SD."""
        if self.mean is None or self.sd is None:
            return None
        return self.mean - 1.96 * self.sd, self.mean + 1.96 * self.sd


@dataclass(frozen=True)
class FamilyAgreement:
    """A 2x2 table of one statement family over ECGs whose vendor read has statements.

    ``agreement`` is the share of ECGs where both sides agree (0-1); ``kappa`` Cohen's kappa
    (None when undefined: every ECG on one side is the same).
    """

    family: Family
    both: int
    ours_only: int
    vendor_only: int
    neither: int

    @property
    def n(self) -> int:
        return self.both + self.ours_only + self.vendor_only + self.neither

    @property
    def agreement(self) -> float | None:
        return None if self.n == 0 else (self.both + self.neither) / self.n

    @property
    def kappa(self) -> float | None:
        n = self.n
        if n == 0:
            return None
        p_ours = (self.both + self.ours_only) / n
        p_vendor = (self.both + self.vendor_only) / n
        expected = p_ours * p_vendor + (1 - p_ours) * (1 - p_vendor)
        if expected >= 1.0:
            return None
        return ((self.both + self.neither) / n - expected) / (1.0 - expected)


@dataclass(frozen=True)
class AgreementSummary:
    """The archive figures: ``n_ecgs`` compared, per measurement and per family."""

    n_ecgs: int
    measures: tuple[MeasureAgreement, ...]
    families: tuple[FamilyAgreement, ...]


def _measure(measure: Measure, rows: Sequence[EcgAgreement]) -> MeasureAgreement:
    diffs: list[float] = []
    pairs: list[tuple[float, float]] = []
    missing_ours = missing_vendor = 0
    for row in rows:
        a, b = row.ours.get(measure.name), row.vendor.get(measure.name)
        if b is not None and a is None:
            missing_ours += 1
        if a is not None and b is None:
            missing_vendor += 1
        d = row.difference(measure)
        if d is None or a is None or b is None:
            continue
        diffs.append(d)
        pairs.append((float(b) if measure.unit == "deg" else (float(a) + float(b)) / 2.0, d))
    n = len(diffs)
    mean = sum(diffs) / n if n else None
    sd = (math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
          if n >= 2 and mean is not None else None)
    within = sum(abs(d) <= measure.tolerance for d in diffs) / n if n else None
    return MeasureAgreement(measure, n, mean, sd, within, missing_ours, missing_vendor,
                            tuple(pairs))


def _family(family: Family, rows: Sequence[EcgAgreement]) -> FamilyAgreement:
    counts = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for row in rows:
        if row.vendor_families is None:
            continue
        counts[(family.name in row.our_families, family.name in row.vendor_families)] += 1
    return FamilyAgreement(family, counts[(True, True)], counts[(True, False)],
                           counts[(False, True)], counts[(False, False)])


def summarize(rows: Sequence[EcgAgreement]) -> AgreementSummary:
    """The agreement figures over many ECGs.

    Example
    -------
    >>> from ecgread.models.vendor_read import VendorRead
    >>> rows = [compare_read({"qrs_ms": q}, [], VendorRead("x", qrs_ms=100.0))
    ...         for q in (96.0, 104.0, 130.0)]
    >>> s = summarize(rows).measures[1]
    >>> s.n, round(s.mean, 1), round(s.within, 3)
    (3, 10.0, 0.667)
    """
    return AgreementSummary(len(rows), tuple(_measure(m, rows) for m in MEASURES),
                            tuple(_family(f, rows) for f in FAMILIES))

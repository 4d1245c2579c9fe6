"""The criteria engine: measurements in, grounded diagnostic statements out.

``interpret(analysis) -> (statements, notes)`` runs the rule families of
:mod:`models.interpret.criteria` (quality, pacing, rhythm, conduction, axis, hypertrophy,
ST/T/QT, Q-wave infarct, ectopy), resolves contradictions and adds the overall statement
(:mod:`models.interpret.resolve`). Every statement carries evidence that
:func:`check_evidence` verifies against the analysis; a statement whose evidence does not
check is dropped (with a note) rather than emitted. Texts and codes come from
:mod:`models.interpret.library`.

Example
-------
>>> from models.interpret import interpret, check_evidence  # doctest: +SKIP
>>> statements, notes = interpret(analysis)  # doctest: +SKIP
>>> all(not check_evidence(s, analysis) for s in statements)  # doctest: +SKIP
True
"""

from __future__ import annotations

from ecgread.models.analysis_result import Analysis
from ecgread.models.interpret import criteria
from ecgread.models.interpret.context import Ctx, Finding
from ecgread.models.interpret.evidence import check_evidence
from ecgread.models.interpret.library import LIBRARY
from ecgread.models.interpret.resolve import overall, resolve
from ecgread.models.interpret.values import missing_standard_leads
from ecgread.models.results import Statement

#: Bumped whenever the same measurements may give other statements (stored with every read):
#: 1.1 (2026-12-02) ST depression at 0.5 mm from J to J+60, AF PR-spread level 10 ms on
#: per-beat P timing, no flutter from a regular 2:1 response, flutter after beat subtraction;
#: 1.2 (2026-12-02, later) no junctional rhythm or SVT named from P windows too noisy to
#: show a P wave; 1.3 (2026-12-02, last) no ectopic atrial rhythm or atrial tachycardia from
#: the P axis of P windows too unsteady to trust it; 1.4 (2026-12-02, last) a rhythm named
#: from two beats with P waves at one PR (a 2.5 s strip), "probable"; no pause, rate or
#: RR range from an RR interval across a gap in the recording; 1.5 (2026-12-02, fifth session)
#: no STEMI beside LVH voltage (4th UDMI: "in the absence of LVH and LBBB"), "possible ST
#: elevation" instead; 1.6 (the same session) nor on a wide QRS other than RBBB (secondary
#: ST-T changes: LBBB, unseen pacing, conduction delay); 1.7 (the same session) a Sgarbossa
#: lead's J must clear 1 mm by its own standard error over the beats; 1.8 (2026-12-02, sixth
#: session) no ST criterion from a lead flagged noisy or clipped; 1.9 (2026-12-02, seventh
#: session) Q-wave infarct statements (Fourth Universal Definition, prior MI); 1.10
#: (2026-12-02, eighth session) P-like waves on a markedly irregular rhythm are fibrillatory
#: waves by their PR spread where it is measurable, whatever the median P wave's axis.
INTERPRET_VERSION = "criteria-1.10"

__all__ = ["INTERPRET_VERSION", "check_evidence", "interpret"]


def interpret(analysis: Analysis) -> tuple[tuple[Statement, ...], tuple[str, ...]]:
    """Statements (library order, overall first) and notes for one analysis.

    Notes say which standard leads the record lacks (their criteria are not assessed), when
    a sex-specific rule ran without a known sex, and when a statement was withheld because
    its evidence did not check.
    """
    c = Ctx(analysis)
    if missing := missing_standard_leads(analysis):
        c.notes.append(f"leads not in the record: {', '.join(missing)}; criteria that need "
                       "them were not assessed, and no overall normal statement is given")
    findings: list[Finding] = criteria.quality(c)
    if not any(f.code == "UNINTERPRETABLE" for f in findings):
        paced = criteria.pacing(c)
        findings += paced
        findings += criteria.rhythm(c, paced=bool(paced))
        findings += criteria.conduction(c)
        findings += criteria.axis(c)
        findings += criteria.hypertrophy(c)
        findings += criteria.st_t_qt(c)
        findings += criteria.infarct(c)
        findings += criteria.ectopy(c)
    else:
        findings = [f for f in findings if f.code == "UNINTERPRETABLE"]
    kept = resolve(findings)
    top = overall(c, kept)
    if top is not None:
        kept = [top] + kept
    statements: list[Statement] = []
    for f in kept:
        entry = LIBRARY[f.code]
        st = Statement(code=f.code, text=entry.text, category=entry.category,
                       certainty=f.certainty, evidence=f.evidence, critical=entry.critical,
                       source="criteria")
        problems = check_evidence(st, analysis)
        if problems:
            c.notes.append(f"statement {f.code} withheld: evidence did not check "
                           f"({problems[0]})")
            continue
        statements.append(st)
    return tuple(statements), tuple(c.notes)

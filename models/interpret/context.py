"""What every rule gets: the analysis, evidence builders that check as they build, and spans.

A rule asks :meth:`Ctx.ev` for each fact it needs; ``ev`` reads the value through
:func:`ecgread.models.interpret.values.resolve` (the same path :func:`check_evidence` uses) and
returns an :class:`Evidence` only when the criterion holds, else None. A rule emits a
:class:`Finding` only with all its evidence present, so no statement lacks evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ecgread.models.analysis_result import Analysis
from ecgread.models.interpret.evidence import holds
from ecgread.models.interpret.values import qrs_t_pairs, resolve
from ecgread.models.results import Certainty, Evidence, Wave

Span = tuple[float, float]
MAX_SPANS = 12


@dataclass(frozen=True)
class Finding:
    """A rule's result before the library gives it a text: code, certainty, evidence."""

    code: str
    certainty: Certainty
    evidence: tuple[Evidence, ...]


@dataclass
class Ctx:
    a: Analysis
    notes: list[str] = field(default_factory=list)

    # --- evidence --------------------------------------------------------------------
    def value(self, name: str) -> float | str | None:
        return resolve(name, self.a)

    def ev(self, name: str, criterion: str, leads: Iterable[str] = (),
           spans: Iterable[Span] = ()) -> Evidence | None:
        """Evidence for ``name`` meeting ``criterion``, or None when it does not hold."""
        v = resolve(name, self.a)
        if not holds(criterion, v):
            return None
        return Evidence(name, v, criterion, tuple(leads), self.clip(spans))

    def lead_ev(self, lead: str, fld: str, criterion: str,
                spans: Iterable[Span] = ()) -> Evidence | None:
        return self.ev(f"{lead}.{fld}", criterion, (lead,), spans)

    def note_sex_unknown(self, rule: str, assumed: str) -> None:
        msg = f"sex unknown: {assumed} assumed for {rule}"
        if msg not in self.notes:
            self.notes.append(msg)

    # --- time spans (s from the first sample, clipped to the record) -------------------
    @property
    def duration_s(self) -> float:
        return self.a.ecg.duration_s

    def clip(self, spans: Iterable[Span]) -> tuple[Span, ...]:
        d = self.duration_s
        out = []
        for s, e in spans:
            s, e = max(0.0, min(d, float(s))), max(0.0, min(d, float(e)))
            if e >= s:
                out.append((s, e))
        return tuple(out[:MAX_SPANS])

    def record(self) -> tuple[Span, ...]:
        return ((0.0, self.duration_s),)

    def waves(self, lead: str, kind: str) -> list[Wave]:
        return [w for w in self.a.waves.get(lead, ()) if w.type == kind]

    def first_lead(self, preferred: Iterable[str]) -> str | None:
        for ld in preferred:
            if self.a.waves.get(ld):
                return ld
        return next(iter(self.a.waves), None)

    def qrs(self, lead: str) -> list[Span]:
        return [(w.onset_s, w.offset_s) for w in self.waves(lead, "QRS")]

    def pr(self, lead: str) -> list[Span]:
        """P onset -> QRS onset of each QRS with a P wave ending before it (<= 0.6 s)."""
        ps = self.waves(lead, "P")
        out = []
        for q in self.waves(lead, "QRS"):
            before = [p for p in ps if p.offset_s <= q.onset_s and q.onset_s - p.onset_s <= 0.6]
            if before:
                out.append((before[-1].onset_s, q.onset_s))
        return out

    def p(self, lead: str) -> list[Span]:
        return [(w.onset_s, w.offset_s) for w in self.waves(lead, "P")]

    def st(self, lead: str, length_s: float = 0.08) -> list[Span]:
        """J point -> J + 80 ms of each QRS (the ST segment)."""
        return [(w.offset_s, w.offset_s + length_s) for w in self.waves(lead, "QRS")]

    def t(self, lead: str) -> list[Span]:
        return [(w.onset_s, w.offset_s) for w in self.waves(lead, "T")]

    def qt(self, lead: str) -> list[Span]:
        """QRS onset -> end of the next T wave (:func:`qrs_t_pairs`)."""
        return [(q.onset_s, t.offset_s) for q, t in qrs_t_pairs(self.a.waves.get(lead, ()))]

    def beats(self, idx: Iterable[int], half_s: float = 0.1) -> list[Span]:
        return [(self.a.beats[i].r_s - half_s, self.a.beats[i].r_s + half_s) for i in idx]

    def rr(self) -> list[Span]:
        r = [b.r_s for b in self.a.beats]
        return list(zip(r[:-1], r[1:], strict=True))

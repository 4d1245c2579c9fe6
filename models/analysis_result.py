"""The result of one analysis: :class:`Analysis`, the type the pipeline
(:func:`ecgread.models.analysis.analyze`) returns and the interpretation stage
(:mod:`ecgread.models.interpret`) reads. A module of its own so both import it and
neither imports the other back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecgread.models.ecg import Ecg
from ecgread.models.results import (
    Beat,
    GlobalMeasurements,
    LeadAmplitudes,
    Quality,
    RhythmFeatures,
    Statement,
    Wave,
)


@dataclass(frozen=True)
class Analysis:
    """Everything the core found in one ECG; ``to_json_dict`` is the public JSON contract."""

    ecg: Ecg
    quality: Quality
    waves: dict[str, tuple[Wave, ...]]
    beats: tuple[Beat, ...]
    measurements: GlobalMeasurements
    amplitudes: dict[str, LeadAmplitudes]
    rhythm: RhythmFeatures
    statements: tuple[Statement, ...]
    versions: dict[str, str]
    notes: tuple[str, ...] = ()
    representative_beat: dict[str, Any] = field(default_factory=dict)
    #: Leads of ``ecg`` not recorded but derived from two recorded limb leads
    #: (:func:`models.ecg.with_derived_limb_leads`).
    derived_leads: tuple[str, ...] = ()
    #: The rate the ECG was recorded at, where ``ecg`` was interpolated from it for the read
    #: (:data:`models.analysis.MIN_READ_RATE_HZ`); None: as ``ecg`` says.
    recorded_rate_hz: float | None = None

    @property
    def sampling_rate_hz(self) -> float:
        """The rate the ECG was recorded at."""
        return self.recorded_rate_hz or self.ecg.sampling_rate_hz

    @property
    def critical(self) -> bool:
        return any(s.critical for s in self.statements)

    def to_json_dict(self) -> dict[str, Any]:
        m = self.measurements.as_dict()
        return {
            "source": self.ecg.source,
            "sampling_rate_hz": self.sampling_rate_hz,
            "leads": list(self.ecg.lead_names),
            "derived_leads": list(self.derived_leads),
            "quality": self.quality.to_json_dict(),
            "measurements": {k: (None if v is None else round(float(v), 1)) for k, v in m.items()},
            "unmeasured": dict(self.measurements.unmeasured),
            "waves": {lead: [w.to_json_dict() for w in ws] for lead, ws in self.waves.items()},
            "statements": [s.to_json_dict() for s in self.statements],
            "notes": list(self.notes),
            "versions": dict(self.versions),
        }


__all__ = ["Analysis"]

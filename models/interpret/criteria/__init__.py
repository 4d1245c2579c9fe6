"""The criteria engine's rule families, one module each (see each module's sources)."""

from ecgread.models.interpret.criteria.axis import axis
from ecgread.models.interpret.criteria.conduction import conduction
from ecgread.models.interpret.criteria.ectopy import ectopy
from ecgread.models.interpret.criteria.hypertrophy import hypertrophy
from ecgread.models.interpret.criteria.infarct import infarct
from ecgread.models.interpret.criteria.pacing import pacing
from ecgread.models.interpret.criteria.quality import quality
from ecgread.models.interpret.criteria.rhythm import rhythm
from ecgread.models.interpret.criteria.st_t_qt import st_t_qt

__all__ = ["axis", "conduction", "ectopy", "hypertrophy", "infarct", "pacing", "quality",
           "rhythm", "st_t_qt"]

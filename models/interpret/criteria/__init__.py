"""The criteria engine's rule families, one module each (see each module's sources)."""

from models.interpret.criteria.axis import axis
from models.interpret.criteria.conduction import conduction
from models.interpret.criteria.ectopy import ectopy
from models.interpret.criteria.hypertrophy import hypertrophy
from models.interpret.criteria.pacing import pacing
from models.interpret.criteria.quality import quality
from models.interpret.criteria.rhythm import rhythm
from models.interpret.criteria.st_t_qt import st_t_qt

__all__ = ["axis", "conduction", "ectopy", "hypertrophy", "pacing", "quality", "rhythm",
           "st_t_qt"]

"""The neural stages of ``analyze``: network or fused waves, and AI findings.

Two calls for :func:`models.analysis.analyze` to make, both pure when given what they
need (``masks`` from a batched :meth:`Delineator.predict_masks_many`, ``models`` from
:func:`models.neural.runtime.process_models`); when ``models`` is None the process's
models are loaded once from the default registry (the only I/O, at first use).

* :func:`delineate_neural` after the DSP waves are known:
  ``"network"`` -> waves from the network's masks (:mod:`models.neural.masks_to_waves`);
  ``"fused"`` -> :func:`models.fusion.fuse` of DSP and network waves (DSP unchanged in a
  paced record). Returns the waves and the versions to record.
* :func:`ai_findings`: the statements of every registered classifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ecgread.models.fusion import DEFAULT_RULE, FusionRule, fuse
from ecgread.models.neural.masks_to_waves import MaskConfig, masks_to_waves
from ecgread.models.results import Statement, Wave

if TYPE_CHECKING:
    from ecgread.models.ecg import Ecg
    from ecgread.models.neural.runtime import NeuralModels

FUSION_VERSION = "fusion-1.0"


def _models(models: NeuralModels | None) -> NeuralModels:
    if models is not None:
        return models
    from ecgread.models.neural.runtime import process_models

    return process_models()


def delineate_neural(ecg: Ecg, dsp_waves: dict[str, tuple[Wave, ...]], usable: np.ndarray,
                     mode: str, *, paced: bool = False, masks: np.ndarray | None = None,
                     models: NeuralModels | None = None, rule: FusionRule = DEFAULT_RULE,
                     mask_config: MaskConfig | None = None
                     ) -> tuple[dict[str, tuple[Wave, ...]], dict[str, str]]:
    """Waves per lead for ``mode`` "network" or "fused", and version entries.

    Parameters
    ----------
    ecg:
        The ECG (µV); its unusable leads (``usable`` False) get no waves, as in DSP.
    dsp_waves:
        The DSP engine's waves per lead (``Analysis.waves`` of the "dsp" delineator).
    masks:
        (leads, 4, samples) network probabilities at the ECG's rate, when the caller
        batched them; else the process's delineator computes them here.

    Raises
    ------
    ModelError
        No delineator is registered, or its file fails verification.
    """
    from ecgread.errors import ModelError

    m = _models(models) if masks is None or models is None else models
    if m.delineator is None:
        raise ModelError("delineator 'network'/'fused' asked for, but the model registry "
                         "has no delineator")
    probs = masks if masks is not None else m.delineator.predict_masks(
        ecg.signal_uv, ecg.sampling_rate_hz)
    net = masks_to_waves(probs, ecg.sampling_rate_hz, ecg.lead_names, ecg.signal_uv,
                         usable=usable, config=mask_config)
    versions = {"delineator_model": m.delineator.entry.provenance}
    if mode == "network":
        return net, versions
    versions["fusion"] = FUSION_VERSION + (f" (paced record: {rule.paced})" if paced else "")
    return fuse(dsp_waves, net, rule, paced=paced), versions


def ai_findings(ecg: Ecg, models: NeuralModels | None = None
                ) -> tuple[tuple[Statement, ...], dict[str, str]]:
    """Statements of every registered classifier on ``ecg`` and their version entries."""
    from ecgread.models.neural.classifier import classify

    m = _models(models)
    out: list[Statement] = []
    for c in m.classifiers:
        out.extend(classify(c, ecg.signal_uv, ecg.sampling_rate_hz, ecg.lead_names))
    return tuple(out), {f"classifier:{c.entry.name}": c.entry.provenance for c in m.classifiers}

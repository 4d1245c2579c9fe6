"""The neural stages of ``analyze``: network masks, network or fused waves, and AI findings.

Pure: the networks come in as :class:`~ecgread.models.neural.inference.NeuralModels`,
loaded at the edge (:func:`ecgread.workers.onnx_models.process_models`); nothing here
loads a model.

* :func:`predict_masks` / :func:`predict_masks_many`: the delineation network's class
  probabilities per sample at the ECG's own rate (the input contract of
  :mod:`ecgread.models.neural.preprocess` around :meth:`Network.run`).
* :func:`delineate_neural` after the DSP waves are known:
  ``"network"`` -> waves from the network's masks (:mod:`models.neural.masks_to_waves`);
  ``"fused"`` -> :func:`models.fusion.fuse` of DSP and network waves (DSP unchanged in a
  paced record). Returns the waves and the versions to record.
* :func:`ai_findings`: the statements of every registered classifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ecgread.errors import MissingModelError
from ecgread.models.fusion import DEFAULT_RULE, FusionRule, fuse
from ecgread.models.neural.inference import Network, NeuralModels
from ecgread.models.neural.masks_to_waves import MaskConfig, masks_to_waves
from ecgread.models.neural.preprocess import net_length, prepare, to_input_rate
from ecgread.models.results import Statement, Wave

if TYPE_CHECKING:
    from ecgread.models.ecg import Ecg

#: 1.1 (2026-12-02): the network's P wave where the two found different ones in a beat
#: (``FusionRule.p_conflict``).
FUSION_VERSION = "fusion-1.1"
#: Sequences (leads) per network run; bigger batches stop paying off on CPU caches.
CHUNK_ROWS = 24


def predict_masks(delineator: Network, signals_uv: np.ndarray, sampling_rate_hz: float
                  ) -> np.ndarray:
    """Class probabilities per sample.

    Parameters
    ----------
    delineator:
        The delineation network (its ``spec.input.fs_hz`` is the rate it runs at).
    signals_uv:
        (batch, leads, samples) or (leads, samples), µV, any rate (NaN = padding).
    sampling_rate_hz:
        Their sampling rate.

    Returns
    -------
    np.ndarray
        float32 (batch, leads, 4, samples) (or (leads, 4, samples)) probabilities of the
        classes ``spec.labels`` (none, P, QRS, T) at the input rate.
    """
    x = np.asarray(signals_uv)
    single = x.ndim == 2
    if single:
        x = x[None]
    b, n_leads, n = x.shape
    net_fs = delineator.spec.input.fs_hz
    prepared = prepare(x.reshape(b * n_leads, n), sampling_rate_hz, net_fs)
    probs = _run_rows(delineator, prepared)
    probs = probs[:, :, :net_length(n, sampling_rate_hz, net_fs)]
    out = to_input_rate(probs, n, sampling_rate_hz, net_fs).astype(np.float32, copy=False)
    out = out.reshape(b, n_leads, out.shape[1], n)
    return out[0] if single else out


def predict_masks_many(delineator: Network, ecgs: list[tuple[np.ndarray, float]]
                       ) -> list[np.ndarray]:
    """Batched inference across ECGs of any rates and lengths: [(signal_uv (leads,
    samples), fs)] -> [(leads, 4, samples) probabilities], one network batch per padded
    length (so the batch path pays one run per chunk, not per ECG)."""
    net_fs = delineator.spec.input.fs_hz
    prepared = [prepare(s, fs, net_fs) for s, fs in ecgs]
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(prepared):
        by_len.setdefault(p.shape[1], []).append(i)
    net_out: list[np.ndarray | None] = [None] * len(ecgs)
    for idx in by_len.values():
        rows = np.concatenate([prepared[i] for i in idx])
        probs = _run_rows(delineator, rows)
        at = 0
        for i in idx:
            k = prepared[i].shape[0]
            net_out[i] = probs[at:at + k]
            at += k
    result = []
    for (s, fs), raw in zip(ecgs, net_out, strict=True):
        assert raw is not None
        n = s.shape[1]
        probs = raw[:, :, :net_length(n, fs, net_fs)]
        result.append(to_input_rate(probs, n, fs, net_fs).astype(np.float32, copy=False))
    return result


def _run_rows(delineator: Network, rows: np.ndarray) -> np.ndarray:
    """(rows, n_net) prepared -> (rows, 4, n_net) probabilities, in fixed chunks."""
    outs = [delineator.run(rows[i:i + CHUNK_ROWS, None, :])
            for i in range(0, rows.shape[0], CHUNK_ROWS)]
    return np.concatenate(outs) if outs else np.zeros((0, 4, rows.shape[1]), np.float32)


def delineator_of(models: NeuralModels | None, mode: str) -> Network:
    """The delineation network that ``mode`` ("network" or "fused") needs.

    Raises
    ------
    MissingModelError
        No models were passed, or they have no delineator.
    """
    if models is None:
        raise MissingModelError(
            f"delineator {mode!r} needs the delineation network, and no models were "
            "passed: load them at the edge (ecgread.workers.onnx_models.process_models) "
            "and pass models=, or use the 'dsp' delineator")
    if models.delineator is None:
        raise MissingModelError("delineator 'network'/'fused' asked for, but the model "
                                "registry has no delineator")
    return models.delineator


def delineate_neural(ecg: Ecg, dsp_waves: dict[str, tuple[Wave, ...]], usable: np.ndarray,
                     mode: str, *, models: NeuralModels | None, paced: bool = False,
                     masks: np.ndarray | None = None, rule: FusionRule = DEFAULT_RULE,
                     mask_config: MaskConfig | None = None
                     ) -> tuple[dict[str, tuple[Wave, ...]], dict[str, str]]:
    """Waves per lead for ``mode`` "network" or "fused", and version entries.

    Parameters
    ----------
    ecg:
        The ECG (µV); its unusable leads (``usable`` False) get no waves, as in DSP.
    dsp_waves:
        The DSP engine's waves per lead (``Analysis.waves`` of the "dsp" delineator).
    models:
        The networks (loaded at the edge); their delineator is required.
    masks:
        (leads, 4, samples) network probabilities at the ECG's rate, when the caller
        batched them (:func:`predict_masks_many`); else computed here.

    Raises
    ------
    MissingModelError
        No models were passed, or they have no delineator.
    """
    delineator = delineator_of(models, mode)
    probs = masks if masks is not None else predict_masks(
        delineator, ecg.signal_uv, ecg.sampling_rate_hz)
    net = masks_to_waves(probs, ecg.sampling_rate_hz, ecg.lead_names, ecg.signal_uv,
                         usable=usable, config=mask_config)
    versions = {"delineator_model": delineator.spec.provenance}
    if mode == "network":
        return net, versions
    versions["fusion"] = FUSION_VERSION + (f" (paced record: {rule.paced})" if paced else "")
    return fuse(dsp_waves, net, rule, paced=paced), versions


def ai_findings(ecg: Ecg, models: NeuralModels
                ) -> tuple[tuple[Statement, ...], dict[str, str]]:
    """Statements of every registered classifier on ``ecg`` and their version entries."""
    from ecgread.models.neural.classifier import classify

    out: list[Statement] = []
    for c in models.classifiers:
        out.extend(classify(c, ecg.signal_uv, ecg.sampling_rate_hz, ecg.lead_names))
    return tuple(out), {f"classifier:{c.spec.name}": c.spec.provenance
                        for c in models.classifiers}

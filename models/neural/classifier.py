"""AI findings: run a registered ONNX classifier on one ECG and ground its findings.

A site registers its classifier in the model registry (``kind = "classifier"``, see
:mod:`ecgread.workers.model_registry`); the edge loads it and passes it in as a
:class:`~ecgread.models.neural.inference.Network`, and its findings come out as
:class:`Statement` objects with ``category = "AI findings"``, ``source`` = the model
name, ``probability``, a certainty from the model's probability thresholds, and evidence
naming the leads and time spans that drove the probability.

Those leads and spans come from occlusion sensitivity (Zeiler and Fergus, "Visualizing
and understanding convolutional networks", ECCV 2014): the input is run again with each
lead set to zero, and with each ``window_s`` time window set to zero in all leads, in one
batch; the leads and windows whose removal lowers the probability by at least half of the
largest drop are cited (adjacent windows merged), in seconds from the record start.

Input: the model's leads in its order (a missing lead is zeros and is named in the
statement's evidence criterion), prepared by :func:`models.neural.preprocess.prepare` at
the model's ``fs_hz``, then the first ``samples`` samples (zero-padded when shorter).
"""

from __future__ import annotations

import numpy as np

from ecgread.models.neural.inference import ModelSpec, Network
from ecgread.models.neural.preprocess import net_length, padded_length, prepare
from ecgread.models.results import Evidence, Statement

CATEGORY = "AI findings"


def model_input(spec: ModelSpec, signal_uv: np.ndarray, sampling_rate_hz: float,
                lead_names: tuple[str, ...]) -> tuple[np.ndarray, int, tuple[str, ...]]:
    """(leads, samples) float32 model input, the samples that hold signal, missing leads."""
    c = spec.input
    names = c.leads or lead_names
    missing = tuple(n for n in names if n not in lead_names)
    rows = np.zeros((len(names), signal_uv.shape[1]), np.float32)
    for i, n in enumerate(names):
        if n in lead_names:
            rows[i] = signal_uv[lead_names.index(n)]
    x = prepare(rows, sampling_rate_hz, c.fs_hz)
    real = net_length(signal_uv.shape[1], sampling_rate_hz, c.fs_hz)
    want = c.samples or padded_length(real)
    out = np.zeros((len(names), want), np.float32)
    k = min(want, x.shape[1], real)
    out[:, :k] = x[:, :k]
    return out, k, missing


def _probabilities(model: Network, x: np.ndarray) -> np.ndarray:
    p = np.asarray(model.run(x), dtype=np.float64).reshape(x.shape[0], -1)
    if model.spec.activation == "sigmoid":
        p = 1.0 / (1.0 + np.exp(-p))
    return p


def classify(model: Network, signal_uv: np.ndarray, sampling_rate_hz: float,
             lead_names: tuple[str, ...], window_s: float = 1.0) -> tuple[Statement, ...]:
    """AI findings of one registered classifier on one ECG (µV, leads x samples).

    Returns the labels whose probability reaches the model's ``possible`` threshold,
    most probable first.
    """
    e = model.spec
    x, k, missing = model_input(e, signal_uv, sampling_rate_hz, lead_names)
    names = e.input.leads or lead_names
    n_leads = x.shape[0]
    win = max(1, int(round(window_s * e.input.fs_hz)))
    starts = list(range(0, k, win))
    batch = np.repeat(x[None], 1 + n_leads + len(starts), axis=0)
    for i in range(n_leads):
        batch[1 + i, i] = 0.0
    for si, s in enumerate(starts):
        batch[1 + n_leads + si, :, s:s + win] = 0.0
    probs = _probabilities(model, batch)
    base = probs[0]
    lead_drop = base[None] - probs[1:1 + n_leads]  # (leads, labels)
    time_drop = base[None] - probs[1 + n_leads:]  # (windows, labels)
    th = e.thresholds
    out = []
    for li in np.argsort(-base):
        p = float(base[li])
        if p < th.possible:
            continue
        certainty = "definite" if p >= th.definite else "probable" if p >= th.probable \
            else "possible"
        floor = {"definite": th.definite, "probable": th.probable, "possible": th.possible}
        ld = lead_drop[:, li]
        leads = tuple(names[i] for i in np.argsort(-ld)
                      if ld[i] > 0 and ld[i] >= 0.5 * ld.max() and names[i] not in missing)
        td = time_drop[:, li]
        spans: list[tuple[float, float]] = []
        for j in np.flatnonzero((td > 0) & (td >= 0.5 * td.max())):
            a, b = starts[j] / e.input.fs_hz, min(starts[j] + win, k) / e.input.fs_hz
            if spans and abs(spans[-1][1] - a) < 1e-9:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
        criterion = f">= {floor[certainty]:g}"
        if missing:
            criterion += f" (leads absent, zero-filled: {', '.join(missing)})"
        ev = Evidence(measurement=f"ai.{e.name}.{e.labels[li]}", value=p, criterion=criterion,
                      leads=leads, spans_s=tuple(spans))
        out.append(Statement(code=e.labels[li], text=e.texts[li], category=CATEGORY,
                             certainty=certainty,  # type: ignore[arg-type]
                             evidence=(ev,), source=e.name, probability=p))
    return tuple(out)

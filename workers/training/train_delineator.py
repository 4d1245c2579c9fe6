"""Train the shipped delineation network on LUDB and export it to ONNX (CPU is enough).

Data: ../shared/data/ludb (LUDB v1.0.1, Kalyakulina et al., IEEE Access 2020, ODC-By 1.0).
Split (record level): only the 'tune' half of :func:`ecgread.integration.ludb.split` is
used; every 7th tune record (positions 3, 10, 17, ... of the sorted tune ids) is validation,
for model selection and for choosing the fusion rule; the rest trains. 'test' records are
never read here.

Each lead is one training sequence: the record is prepared by
:func:`models.neural.preprocess.prepare` (the runtime input contract), labelled per
sample from the expert annotations ('(' onset, peak, ')' offset; classes none, P, QRS,
T) and the loss is taken only inside the lead's annotated span (first expert onset to
last expert offset), since LUDB leaves the record edges unannotated.

Run (85 s on 2 CPU threads of an idle machine, 2.6 min on a busy one; the output is
bit-identical from run to run: same seed, deterministic torch algorithms)::

    .venv/bin/python -m ecgread.workers.training.train_delineator \
        --out models/weights/ludb_unet1d.onnx

Augmentation (``--augmentation``): 'normalised' (the default, the shipped 1.1.0 recipe)
varies gain, noise, wander and 50 Hz hum on the prepared input, so the amplitude the network
learns is LUDB's (every lead rescaled to ~1 mV peak to peak). 'acquisition' (issue 10)
undoes that instead: each crop is taken in µV with ``--margin`` samples of context, goes
through :class:`AcquisitionAugmentation` (the pure transformations of
:mod:`ecgread.models.augment`: per-lead gain 0.3-3x, resampling 250-1000 Hz, wander, 50/60 Hz
mains, EMG noise, lead dropout) and then through :func:`prepare`, as at inference; model
selection uses the mean validation loss of the records as recorded and of one augmented
copy. It was tried and not shipped (``models/weights/MODEL_CARD.md``, "Retraining with
acquisition augmentation")::

    .venv/bin/python -m ecgread.workers.training.train_delineator \
        --augmentation acquisition --steps 3000 --threads 1 --out /tmp/candidate.onnx

Writes the ONNX file, ``<out>.json`` (hyper-parameters, split, validation history,
seconds) and prints per-class validation scores.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ecgread.models.neural.preprocess import NET_FS_HZ, prepare

CLASS_OF = {"P": 1, "QRS": 2, "T": 3}


def split_records() -> tuple[list[int], list[int]]:
    """(train, validation) record ids from the LUDB 'tune' half."""
    from ecgread.integration import ludb

    tune = sorted(r for r in ludb.record_ids() if ludb.split(r) == "tune")
    val = [r for i, r in enumerate(tune) if i % 7 == 3]
    return [r for r in tune if r not in val], val


def load_record(record_id: int, net_fs: float = NET_FS_HZ
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """(x, labels, loss_mask, signal_uv, fs) for the 12 leads: x float32 (12, n) the
    prepared input at ``net_fs``, labels int64 (12, n), mask float32 (12, n); signal_uv
    float32 (12, samples) the record in µV at its own rate ``fs`` (Hz), for augmentation."""
    from ecgread.integration import ludb

    ecg = ludb.read_record(record_id)
    fs = ecg.sampling_rate_hz
    x = prepare(ecg.signal_uv, fs, net_fs)
    n = x.shape[1]
    labels = np.zeros((len(ecg.lead_names), n), np.int64)
    mask = np.zeros((len(ecg.lead_names), n), np.float32)
    waves = ludb.expert_waves(record_id, fs)
    for li, lead in enumerate(ecg.lead_names):
        ws = waves.get(lead, [])
        if not ws:
            continue
        for w in ws:
            a = int(round(w.onset_s * net_fs))
            b = int(round(w.offset_s * net_fs))
            labels[li, a:b + 1] = CLASS_OF[w.type]
        lo = int(round(min(w.onset_s for w in ws) * net_fs))
        hi = int(round(max(w.offset_s for w in ws) * net_fs))
        mask[li, lo:hi + 1] = 1.0
    return x, labels, mask, ecg.signal_uv.astype(np.float32), fs


def stack(records: list[int], net_fs: float = NET_FS_HZ
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """The leads of ``records`` as rows (see :func:`load_record`), cut to the shortest."""
    parts = [load_record(r, net_fs) for r in records]
    fs = parts[0][4]
    if any(p[4] != fs for p in parts):
        raise ValueError("records at different sampling rates")
    n = min(p[0].shape[1] for p in parts)
    n_raw = min(p[3].shape[1] for p in parts)
    x = np.concatenate([p[0][:, :n] for p in parts])
    y = np.concatenate([p[1][:, :n] for p in parts])
    m = np.concatenate([p[2][:, :n] for p in parts])
    raw = np.concatenate([p[3][:, :n_raw] for p in parts])
    return x, y, m, raw, fs


def augment(x: np.ndarray, rng: np.random.Generator, fs: float = NET_FS_HZ) -> np.ndarray:
    """Noise, baseline wander, mains hum and polarity flips, in normalised units."""
    b, n = x.shape
    t = np.arange(n) / fs
    out = x * rng.uniform(0.7, 1.3, (b, 1))
    out *= np.where(rng.random((b, 1)) < 0.3, -1.0, 1.0)
    out += rng.normal(0, 1, (b, n)) * rng.uniform(0, 0.15, (b, 1))
    f = rng.uniform(0.05, 0.6, (b, 1))
    out += rng.uniform(0, 0.5, (b, 1)) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3, (b, 1)))
    hum = rng.random((b, 1)) < 0.2
    out += hum * rng.uniform(0, 0.2, (b, 1)) * np.sin(2 * np.pi * 50.0 * t)
    return out.astype(np.float32)


@dataclass(frozen=True)
class AcquisitionAugmentation:
    """How training undoes LUDB's per-lead rescaling (every LUDB lead is ~1 mV peak to peak)
    and stands in for other carts: each lead of each batch, in µV before
    :func:`prepare`, through the pure transformations of :mod:`ecgread.models.augment`.

    Ranges are drawn per lead (log-uniform for gains and noise amplitudes), the sampling
    rate once per batch; probabilities are per lead.
    """

    gain: tuple[float, float] = (0.3, 3.0)  # dimensionless, log-uniform
    flip_probability: float = 0.3  # polarity inverted (gain x -1)
    rates_hz: tuple[float, ...] = (250.0, 300.0, 360.0, 400.0, 500.0, 600.0, 750.0, 1000.0)
    wander_probability: float = 0.5
    wander_peak_to_peak_uv: tuple[float, float] = (50.0, 2000.0)  # log-uniform
    wander_hz: tuple[float, float] = (0.05, 0.6)
    emg_probability: float = 0.3
    emg_rms_uv: tuple[float, float] = (2.0, 30.0)  # log-uniform
    mains_probability: float = 0.3
    mains_uv: tuple[float, float] = (10.0, 300.0)  # peak, log-uniform; 50 or 60 Hz
    dropout_probability: float = 0.03  # lead off: a flat line, labelled 'none' throughout


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float], n: int) -> np.ndarray:
    return np.asarray(rng.uniform(lo_hi[0], lo_hi[1], n))


def _log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float], n: int) -> np.ndarray:
    return np.asarray(np.exp(rng.uniform(np.log(lo_hi[0]), np.log(lo_hi[1]), n)))


def _chance(rng: np.random.Generator, probability: float, n: int) -> np.ndarray:
    """n independent draws: True with ``probability``."""
    return np.asarray(rng.random(n) < probability)


def augment_acquisition(signal_uv: np.ndarray, fs_hz: float, rng: np.random.Generator,
                        aug: AcquisitionAugmentation = AcquisitionAugmentation(),
                        net_fs: float = NET_FS_HZ) -> tuple[np.ndarray, np.ndarray]:
    """(leads, samples) µV at ``fs_hz`` -> (network input as :func:`prepare` makes it at
    ``net_fs``, float32 (leads, n_net); bool (leads,) the leads turned into a flat line).

    Every lead gets its own gain, drift, mains and EMG noise; the batch is resampled to one
    rate drawn from ``aug.rates_hz`` and then prepared exactly as at inference (resampled to
    ``net_fs``, high-passed, mains notched where detected, normalised per lead).
    """
    from ecgread.models import augment
    from ecgread.models.ecg import Ecg

    b = signal_uv.shape[0]
    names = tuple(str(i) for i in range(b))
    gains = _log_uniform(rng, aug.gain, b) * np.where(_chance(rng, aug.flip_probability, b),
                                                       -1.0, 1.0)
    ecg = augment.scale_gain(Ecg(np.asarray(signal_uv, np.float32), fs_hz, names),
                             gains.tolist())
    rate = float(rng.choice(aug.rates_hz))
    ecg = augment.resample(ecg, rate)
    ecg = augment.add_baseline_wander(
        ecg, np.where(_chance(rng, aug.wander_probability, b),
                      _log_uniform(rng, aug.wander_peak_to_peak_uv, b), 0.0).tolist(),
        _uniform(rng, aug.wander_hz, b).tolist(),
        _uniform(rng, (0.0, 2 * np.pi), b).tolist())
    ecg = augment.add_mains(
        ecg, np.asarray(rng.choice((50.0, 60.0), size=b)).tolist(),
        np.where(_chance(rng, aug.mains_probability, b),
                 _log_uniform(rng, aug.mains_uv, b), 0.0).tolist(),
        _uniform(rng, (0.0, 2 * np.pi), b).tolist())
    emg = _chance(rng, aug.emg_probability, b)
    emg_rms = _log_uniform(rng, aug.emg_rms_uv, b)
    for i in np.flatnonzero(emg):
        ecg = augment.add_emg_noise(ecg, names[i], float(emg_rms[i]),
                                    seed=int(rng.integers(2**31)))
    dropped = _chance(rng, aug.dropout_probability, b)
    for i in np.flatnonzero(dropped):
        ecg = augment.flatten_lead(ecg, names[i], seed=int(rng.integers(2**31)))
    return prepare(ecg.signal_uv, rate, net_fs), dropped


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=1024, help="samples at 250 Hz")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--widths", default="6,10,14,20,28")
    ap.add_argument("--kernel", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fs", type=float, default=NET_FS_HZ, help="network rate, Hz")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--augmentation", choices=("normalised", "acquisition"),
                    default="normalised",
                    help="'normalised' (shipped 1.1.0): gain, noise, wander, hum on the prepared "
                         "input; 'acquisition' (issue 10, not shipped): AcquisitionAugmentation "
                         "in µV before the input preparation")
    ap.add_argument("--margin", type=int, default=128,
                    help="acquisition only: network samples of context either side of a crop")
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from ecgread.workers.training.delineation_net import DelineationUNet, export_onnx, n_parameters

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    train_ids, val_ids = split_records()
    xtr, ytr, mtr, rtr, fs_raw = stack(train_ids, args.fs)
    xva, yva, mva, rva, _ = stack(val_ids, args.fs)
    keep = mtr.sum(axis=1) > args.crop // 4
    xtr, ytr, mtr, rtr = xtr[keep], ytr[keep], mtr[keep], rtr[keep]
    # raw samples per network sample: windows are cut from the µV record at its own rate
    k_raw = fs_raw / args.fs
    if abs(k_raw - round(k_raw)) > 1e-9:
        raise SystemExit(f"the records' rate {fs_raw} Hz is not a multiple of {args.fs} Hz")
    k_raw = int(round(k_raw))
    aug = AcquisitionAugmentation() if args.augmentation == "acquisition" else None
    margin = args.margin if aug is not None else 0
    val_sets = {"clean": xva}
    if aug is not None:
        # validation: the records as recorded and one augmented copy of each (seed + 1; no
        # lead dropout there, its labels are the records' own); selection by the mean loss
        va_rng = np.random.default_rng(args.seed + 1)
        va_aug = replace(aug, dropout_probability=0.0)
        val_sets["augmented"] = np.concatenate([
            augment_acquisition(rva[i:i + 12], fs_raw, va_rng, va_aug, args.fs)[0][
                :, :xva.shape[1]] for i in range(0, len(rva), 12)])
    print(f"train {len(train_ids)} records ({xtr.shape[0]} leads), validation "
          f"{len(val_ids)} records ({xva.shape[0]} leads); "
          f"data {time.perf_counter() - t_start:.0f} s",
          flush=True)
    widths = tuple(int(w) for w in args.widths.split(","))
    model = DelineationUNet(widths, args.kernel, top_convs=1, dec_convs=1)
    print(f"DelineationUNet widths={widths} kernel={args.kernel}: "
          f"{n_parameters(model)} parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps,
                                                pct_start=0.1)
    yv, mv = torch.from_numpy(yva), torch.from_numpy(mva)
    val_inputs = {k: torch.from_numpy(v) for k, v in val_sets.items()}

    def val_loss() -> dict[str, float]:
        """Loss and accuracy inside the annotated spans, per validation copy; 'loss' (model
        selection) is the mean of their losses."""
        model.eval()
        out: dict[str, float] = {}
        with torch.no_grad():
            for name, xv in val_inputs.items():
                logits = torch.cat([model.logits(xv[i:i + 64, None])
                                    for i in range(0, len(xv), 64)])
                ce = F.cross_entropy(logits, yv, reduction="none")
                out[f"{name}_loss"] = float((ce * mv).sum() / mv.sum())
                out[f"{name}_accuracy"] = float(
                    ((logits.argmax(1) == yv).float() * mv).sum() / mv.sum())
        model.train()
        out["loss"] = float(np.mean([out[f"{k}_loss"] for k in val_inputs]))
        return out

    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (float("inf"), 0, None)
    n_tr = xtr.shape[0]
    # acquisition: a window must lie inside the µV record (the prepared rows are padded)
    n = xtr.shape[1] if aug is None else min(xtr.shape[1], rtr.shape[1] // k_raw)
    window = args.crop + 2 * margin  # network samples: the crop and its context
    span = np.arange(args.crop)
    for step in range(1, args.steps + 1):
        rows = rng.integers(0, n_tr, args.batch)
        starts = rng.integers(0, n - window + 1, args.batch)
        idx = starts[:, None] + margin + span
        if aug is None:
            xb_np = augment(np.take_along_axis(xtr[rows], idx, 1), rng, args.fs)
            dropped = np.zeros(args.batch, bool)
        else:
            raw_idx = (k_raw * starts)[:, None] + np.arange(k_raw * window)
            xa, dropped = augment_acquisition(np.take_along_axis(rtr[rows], raw_idx, 1),
                                              fs_raw, rng, aug, args.fs)
            xb_np = xa[:, margin:margin + args.crop]
        xb = torch.from_numpy(np.ascontiguousarray(xb_np))[:, None]
        yb = torch.from_numpy(np.take_along_axis(ytr[rows], idx, 1) * ~dropped[:, None])
        mb = torch.from_numpy(np.where(dropped[:, None], np.float32(1.0),
                                       np.take_along_axis(mtr[rows], idx, 1)))
        ce = F.cross_entropy(model.logits(xb), yb, reduction="none")
        loss = (ce * mb).sum() / mb.sum().clamp(min=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            v = val_loss()
            history.append({"step": step, "train_loss": loss.item(), "val_loss": v["loss"],
                            **{f"val_{k}": x for k, x in v.items() if k != "loss"},
                            "seconds": time.perf_counter() - t_start})
            print(f"step {step:5d} train {loss.item():.4f} val {v['loss']:.4f} ("
                  + ", ".join(f"{k} {v[k + '_loss']:.4f} acc {v[k + '_accuracy']:.4f}"
                              for k in val_inputs)
                  + f") ({time.perf_counter() - t_start:.0f} s)", flush=True)
            if v["loss"] < best[0]:
                best = (v["loss"], step, {k: t.clone() for k, t in model.state_dict().items()})
    assert best[2] is not None
    model.load_state_dict(best[2])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, str(args.out))
    seconds = time.perf_counter() - t_start
    meta = {"architecture": "DelineationUNet", "widths": list(widths), "kernel": args.kernel,
            "parameters": n_parameters(model), "fs_hz": args.fs, "steps": args.steps,
            "batch": args.batch, "crop_samples": args.crop, "lr": args.lr, "seed": args.seed,
            "threads": args.threads, "augmentation_kind": args.augmentation,
            "margin_samples": margin,
            "augmentation": asdict(aug) if aug is not None else None,
            "best_step": best[1], "best_val_loss": best[0],
            "train_records": train_ids, "validation_records": val_ids,
            "history": history, "seconds": round(seconds, 1),
            "torch": torch.__version__}
    Path(str(args.out) + ".json").write_text(json.dumps(meta, indent=1))
    print(f"best step {best[1]} val loss {best[0]:.4f}; wrote {args.out} "
          f"({args.out.stat().st_size / 1024:.0f} KiB) in {seconds / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()

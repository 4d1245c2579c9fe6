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

Writes the ONNX file, ``<out>.json`` (hyper-parameters, split, validation history,
seconds) and prints per-class validation scores.
"""

from __future__ import annotations

import argparse
import json
import time
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
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, labels, loss_mask) for the 12 leads at 250 Hz: x float32 (12, n), labels int64
    (12, n), mask float32 (12, n)."""
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
    return x, labels, mask


def stack(records: list[int], net_fs: float = NET_FS_HZ
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [load_record(r, net_fs) for r in records]
    n = min(p[0].shape[1] for p in parts)
    x, y, m = (np.concatenate([p[k][:, :n] for p in parts]) for k in range(3))
    return x, y, m


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
    xtr, ytr, mtr = stack(train_ids, args.fs)
    xva, yva, mva = stack(val_ids, args.fs)
    keep = mtr.sum(axis=1) > args.crop // 4
    xtr, ytr, mtr = xtr[keep], ytr[keep], mtr[keep]
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
    xv, yv, mv = torch.from_numpy(xva), torch.from_numpy(yva), torch.from_numpy(mva)

    def val_loss() -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model.logits(xv[i:i + 64, None]) for i in range(0, len(xv), 64)])
        model.train()
        ce = F.cross_entropy(logits, yv, reduction="none")
        loss = float((ce * mv).sum() / mv.sum())
        acc = float(((logits.argmax(1) == yv).float() * mv).sum() / mv.sum())
        return loss, acc

    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (float("inf"), 0, None)
    n_tr, n = xtr.shape
    for step in range(1, args.steps + 1):
        rows = rng.integers(0, n_tr, args.batch)
        starts = rng.integers(0, n - args.crop + 1, args.batch)
        idx = starts[:, None] + np.arange(args.crop)
        xb = torch.from_numpy(augment(np.take_along_axis(xtr[rows], idx, 1), rng, args.fs))[:, None]
        yb = torch.from_numpy(np.take_along_axis(ytr[rows], idx, 1))
        mb = torch.from_numpy(np.take_along_axis(mtr[rows], idx, 1))
        ce = F.cross_entropy(model.logits(xb), yb, reduction="none")
        loss = (ce * mb).sum() / mb.sum().clamp(min=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            vl, va = val_loss()
            history.append({"step": step, "train_loss": loss.item(), "val_loss": vl,
                            "val_accuracy": va, "seconds": time.perf_counter() - t_start})
            print(f"step {step:5d} train {loss.item():.4f} val {vl:.4f} acc {va:.4f} "
                  f"({time.perf_counter() - t_start:.0f} s)", flush=True)
            if vl < best[0]:
                best = (vl, step, {k: v.clone() for k, v in model.state_dict().items()})
    assert best[2] is not None
    model.load_state_dict(best[2])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, str(args.out))
    seconds = time.perf_counter() - t_start
    meta = {"architecture": "DelineationUNet", "widths": list(widths), "kernel": args.kernel,
            "parameters": n_parameters(model), "fs_hz": args.fs, "steps": args.steps,
            "batch": args.batch, "crop_samples": args.crop, "lr": args.lr, "seed": args.seed,
            "threads": args.threads, "best_step": best[1], "best_val_loss": best[0],
            "train_records": train_ids, "validation_records": val_ids,
            "history": history, "seconds": round(seconds, 1),
            "torch": torch.__version__}
    Path(str(args.out) + ".json").write_text(json.dumps(meta, indent=1))
    print(f"best step {best[1]} val loss {best[0]:.4f}; wrote {args.out} "
          f"({args.out.stat().st_size / 1024:.0f} KiB) in {seconds / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()

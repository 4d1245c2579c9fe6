"""Train the shipped classifier architecture on a site's own labelled WFDB data.

Data in PTB-XL format (Wagner et al., "PTB-XL, a large publicly available
electrocardiography dataset", Sci Data 7:154, 2020): a CSV with one row per ECG, a column
with the WFDB record path relative to ``--root`` (``filename_hr`` or ``filename_lr``), a
column ``scp_codes`` holding a dict of statement code -> likelihood (e.g.
``{'AFIB': 100.0, 'SR': 0.0}``) and a fold column (``strat_fold``, 1-10). Folds
``--val-fold`` (default 9) and ``--test-fold`` (default 10) are held out, as PTB-XL
recommends; the test fold is only scored once at the end.

Run::

    .venv/bin/python -m ecgread.workers.training.train_classifier --csv ptbxl_database.csv \
        --root /data/ptb-xl --labels AFIB,1AVB,CLBBB --texts "Atrial fibrillation,..." \
        --name site-rhythm --version 1.0.0 --out models/weights/site_rhythm.onnx

Writes the ONNX file and prints the ``[[model]]`` table to paste into the registry
(config/models.toml), with the file's SHA-256.
"""

from __future__ import annotations

import argparse
import ast
import csv
import time
from pathlib import Path

import numpy as np

from ecgread.models.neural.preprocess import prepare


def read_table(csv_path: Path, file_column: str, labels: list[str], min_likelihood: float,
               fold_column: str) -> list[tuple[str, np.ndarray, int]]:
    """[(record path, multi-hot labels, fold)] from a PTB-XL-style CSV."""
    rows = []
    with open(csv_path, newline="") as f:
        for r in csv.DictReader(f):
            codes = ast.literal_eval(r.get("scp_codes") or "{}")
            y = np.array([float(c in codes and float(codes[c]) >= min_likelihood)
                          for c in labels], np.float32)
            rows.append((r[file_column], y, int(float(r.get(fold_column) or 1))))
    return rows


def load_signals(root: Path, paths: list[str], leads: list[str], fs_hz: float,
                 samples: int) -> np.ndarray:
    """(records, leads, samples) prepared model inputs (missing leads are zeros)."""
    from ecgread.integration.wfdb_read import read_wfdb

    out = np.zeros((len(paths), len(leads), samples), np.float32)
    for i, p in enumerate(paths):
        ecg = read_wfdb(root / p)
        rows = np.zeros((len(leads), ecg.n_samples), np.float32)
        for j, name in enumerate(leads):
            if name in ecg.lead_names:
                rows[j] = ecg.lead(name)
        x = prepare(rows, ecg.sampling_rate_hz, fs_hz)
        k = min(samples, x.shape[1])
        out[i, :, :k] = x[:, :k]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--root", type=Path, required=True, help="folder the record paths start in")
    ap.add_argument("--labels", required=True, help="comma-separated statement codes")
    ap.add_argument("--texts", default="", help="comma-separated statement texts")
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--file-column", default="filename_hr")
    ap.add_argument("--fold-column", default="strat_fold")
    ap.add_argument("--val-fold", type=int, default=9)
    ap.add_argument("--test-fold", type=int, default=10)
    ap.add_argument("--min-likelihood", type=float, default=0.0)
    ap.add_argument("--leads", default="I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6")
    ap.add_argument("--fs", type=float, default=100.0, help="model rate, Hz")
    ap.add_argument("--seconds", type=float, default=10.0, help="model window, s")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--widths", default="32,32,48,64,64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from ecgread.workers.model_registry import sha256_of
    from ecgread.workers.training.classifier_net import EcgClassifier, export_classifier

    t0 = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    labels = [c.strip() for c in args.labels.split(",") if c.strip()]
    texts = [t.strip() for t in args.texts.split(",")] if args.texts else labels
    leads = [x.strip() for x in args.leads.split(",")]
    samples = int(round(args.fs * args.seconds))
    samples += -samples % 32  # five pooling levels
    table = read_table(args.csv, args.file_column, labels, args.min_likelihood,
                       args.fold_column)
    x = load_signals(args.root, [t[0] for t in table], leads, args.fs, samples)
    y = np.stack([t[1] for t in table])
    fold = np.array([t[2] for t in table])
    tr = (fold != args.val_fold) & (fold != args.test_fold)
    va, te = fold == args.val_fold, fold == args.test_fold
    positives = dict(zip(labels, y[tr].sum(0).astype(int).tolist(), strict=True))
    print(f"{tr.sum()} train, {va.sum()} validation, {te.sum()} test ECGs; positives per "
          f"label (train): {positives}", flush=True)
    widths = tuple(int(w) for w in args.widths.split(","))
    model = EcgClassifier(len(leads), len(labels), widths)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    pos = y[tr].mean(0).clip(1e-3, 1 - 1e-3)
    pos_weight = torch.from_numpy(((1 - pos) / pos).clip(1, 20)).float()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    best: tuple[float, dict[str, torch.Tensor] | None] = (float("inf"), None)
    for epoch in range(args.epochs):
        model.train()
        idx = rng.permutation(np.flatnonzero(tr))
        for s in range(0, idx.size, args.batch):
            b = idx[s:s + args.batch]
            loss = F.binary_cross_entropy_with_logits(model.logits(xt[b]), yt[b],
                                                      pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        sel = np.flatnonzero(va if va.any() else tr)
        with torch.no_grad():
            vl = float(F.binary_cross_entropy_with_logits(model.logits(xt[sel]), yt[sel],
                                                          pos_weight=pos_weight))
        print(f"epoch {epoch + 1}: validation loss {vl:.4f}", flush=True)
        if vl < best[0]:
            best = (vl, {k: v.clone() for k, v in model.state_dict().items()})
    assert best[1] is not None
    model.load_state_dict(best[1])
    model.eval()
    if te.any():
        with torch.no_grad():
            p = model(xt[np.flatnonzero(te)]).numpy()
        for j, code in enumerate(labels):
            yy, pp = y[te, j], p[:, j] >= 0.5
            se = (pp & (yy > 0)).sum() / max((yy > 0).sum(), 1)
            sp = (~pp & (yy == 0)).sum() / max((yy == 0).sum(), 1)
            print(f"test {code}: sensitivity {se:.3f}, specificity {sp:.3f} at p >= 0.5")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_classifier(model, str(args.out), len(leads), samples)
    print(f"trained in {time.perf_counter() - t0:.0f} s; add to the registry:\n")
    print("[[model]]")
    print(f'name = "{args.name}"\nversion = "{args.version}"\nkind = "classifier"')
    print(f'file = "{args.out}"\nsha256 = "{sha256_of(args.out)}"')
    print(f"labels = {labels!r}\ntexts = {texts!r}".replace("'", '"'))
    print('activation = "none"\nthresholds = { definite = 0.9, probable = 0.7, possible = 0.5 }')
    print(f"[model.input]\nfs_hz = {args.fs}\nleads = {leads!r}".replace("'", '"'))
    print(f'samples = {samples}\nnormalization = "per-lead-std"')


if __name__ == "__main__":
    main()

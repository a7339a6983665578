"""Benchmark: default training on the planted-motif demo set, next to a known-motif oracle.

Trains seqcnn's default ``cnn`` (the settings ``make demo`` uses) on ``data/planted.fa.gz``
with a seeded 70/10/20 split and reports test AUROC/AUPRC, macro over the 12 motifs and per
motif, next to an *oracle* that knows the planted PWMs: for each motif, the log of the
summed likelihood ratio of every window on both strands (a near Bayes-optimal detector of
"this sequence holds an instance").  No classifier can expect to beat the oracle; its
numbers show how much of the gap to 1.0 is noise in the data rather than the model.

Usage::

    python benchmarks/planted.py [--epochs 40] [--out bench-out/planted]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def oracle_scores(x: np.ndarray, pfm: np.ndarray) -> np.ndarray:
    """log2 of the summed likelihood ratio (PWM vs uniform) over windows and strands."""
    log_odds = np.log2((pfm + 1e-3) / 0.25)  # (w, 4)
    width, length = log_odds.shape[0], x.shape[2]
    total = np.full(len(x), -np.inf)
    for matrix in (log_odds, log_odds[::-1, ::-1]):
        scores = np.zeros((len(x), length - width + 1))
        for i in range(width):
            scores += np.einsum("ncl,c->nl", x[:, :, i : length - width + 1 + i], matrix[i])
        peak = scores.max(axis=1, keepdims=True)
        summed = peak[:, 0] + np.log2(np.exp2(scores - peak).sum(axis=1))
        total = np.logaddexp2(total, summed)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", default="bench-out/planted")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model", help="evaluate this bundle (trained with the same seed) instead of training"
    )
    args = parser.parse_args()

    import torch

    import seqcnn
    from seqcnn.labels import split_indices
    from seqcnn.metrics import auprc, auroc
    from seqcnn.simulate import read_planted_motifs

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = seqcnn.encode(
        ROOT / "data" / "planted.fa.gz",
        out / "planted.ds",
        labels=ROOT / "data" / "planted_labels.tsv.gz",
        overwrite=True,
    )
    started = time.perf_counter()
    if args.model:
        model = seqcnn.load_model(args.model)
        epochs = model.config["training"]["epochs_run"]
    else:
        result = seqcnn.train(
            dataset,
            out / "model",
            overwrite=True,
            epochs=args.epochs,
            test_fraction=0.2,
            seed=args.seed,
            rc_augment=True,
        )
        model, epochs = result.model, len(result.history)
    minutes = (time.perf_counter() - started) / 60
    rows = split_indices(dataset.ids, valid_fraction=0.1, test_fraction=0.2, seed=args.seed)
    test = rows["test"]
    x = dataset.one_hot(test)
    with torch.inference_mode():
        logits = model.network(torch.from_numpy(x)).numpy()
    motifs = read_planted_motifs()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"training: {epochs} epochs in {minutes:.1f} min; test rows {len(test)}\n")
    print("| motif | model AUROC | oracle AUROC | model AUPRC | oracle AUPRC |")
    print("|---|---|---|---|---|")
    values = []
    for j, name in enumerate(dataset.label_names):
        y = dataset.labels[test, j]
        oracle = oracle_scores(x, motifs[name])
        row = (auroc(y, logits[:, j]), auroc(y, oracle), auprc(y, logits[:, j]), auprc(y, oracle))
        values.append(row)
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in row) + " |")
    mean = np.mean(values, axis=0)
    print("| **macro** | " + " | ".join(f"**{v:.4f}**" for v in mean) + " |")
    print(f"\nmodel / oracle: AUROC {mean[0] / mean[1]:.4f}, AUPRC {mean[2] / mean[3]:.4f}")


if __name__ == "__main__":
    main()

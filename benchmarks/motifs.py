"""Benchmark: do the learned filters recover the planted motifs? (Koo & Eddy 2019 recipe)

Trains networks on the planted-motif demo set (``data/``: 30,000 x 200 bp, 12 JASPAR motifs,
seeded 70/10/20 split, the settings of ``make demo``), turns every first-layer filter into a
PWM (:func:`seqcnn.filter_pwms`, activation > 0.5 x max, all 30,000 sequences) and matches
the PWMs with Tomtom (:func:`seqcnn.match_motifs`, Pearson, q < 0.05) against JASPAR CORE
vertebrates.  Two numbers per model:

* **planted motifs found**: planted motifs that are the best JASPAR match of at least one
  filter, counting the planted matrix or any other JASPAR matrix of the same TF (a dimer
  such as ``FOSL1::JUN`` counts for FOSL1).  Reported against JASPAR's latest versions (the
  default database of ``seqcnn interpret``) and against all versions, because eight of the
  twelve planted matrices are older versions (``MA0477.1 FOSL1``) that the latest release
  has replaced by different matrices.
* **filters matching a planted motif**, two ways, of the filters with >= 10 sites:
  the fraction whose *best* JASPAR match (all versions) is a planted TF (strict), and the
  fraction with *any* significant match to a planted TF (q < 0.05; the planted matrix, any
  other version of it, or another matrix of the same TF).  The second is the measure of
  Koo & Eddy (2019) and Koo & Ploenzke (2021), who count a filter as matching when any of
  its Tomtom hits (E < 0.1) is a version of a ground-truth matrix; they report 30/30 for
  CNN-25 and 0/30 for CNN-2.

Per planted TF the benchmark also prints its best rank among any filter's significant
matches: rank 2-3 means the motif was learned but a near-identical matrix of another TF of
its family (CEBPG for CEBPB, JUNB for FOSL1) scored a hair better.

Variants (``--variants``): ``oracle`` (no training: the twelve planted matrices as log-odds
filters of a cnn, a perfect scanner; the ceiling of the filter -> PWM -> Tomtom steps),
``default`` (seqcnn's cnn: 64 filters, relu activation, pool 25), ``exp`` (the same with
Koo & Ploenzke's exponential first layer), and Koo & Eddy's ``cnn25`` (30 filters, relu,
pool 25, then pool 4) and ``cnn2`` (30 filters, relu, pool 2, then pool 50).

Usage::

    python benchmarks/motifs.py [--variants oracle,default,exp,cnn25,cnn2] [--out bench-out/motifs]
    python benchmarks/motifs.py --model demo/seqcnn_model      # evaluate a trained bundle
    python benchmarks/motifs.py --variants oracle    # the planted motifs as filters: the ceiling
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: Model options per variant, on top of seqcnn's defaults for ``cnn``.
VARIANTS: dict[str, dict] = {
    "default": {},
    "exp": {"first_activation": "exp"},
    "cnn25": {"first_filters": 30, "first_activation": "relu", "first_pool": 25, "conv_pool": 4},
    "cnn2": {"first_filters": 30, "first_activation": "relu", "first_pool": 2, "conv_pool": 50},
}

#: Koo & Eddy (2019), filters matching ground-truth motifs out of 30.
PUBLISHED = {"cnn25": "30/30", "cnn2": "0/30"}


def planted_tfs() -> dict[str, str]:
    """Planted JASPAR id -> TF name, from the demo set's motif file."""
    from seqcnn.motifs import read_meme

    names = read_meme(ROOT / "data" / "planted_motifs.meme")
    return dict(name.split(" ", 1) for name in names)


def tf_names(match_name: str) -> set[str]:
    """Upper-case TF names of a JASPAR matrix name (``FOSL1::JUN`` -> FOSL1, JUN)."""
    return {part.strip().upper() for part in match_name.split("::")}


def planted_dataset(out: Path):
    import seqcnn

    return seqcnn.encode(
        ROOT / "data" / "planted.fa.gz",
        out / "planted.ds",
        labels=ROOT / "data" / "planted_labels.tsv.gz",
        overwrite=True,
    )


def train_planted(dataset, out: Path, model_options: dict, architecture: str = "cnn", seed=0):
    """Train like ``make demo`` does; return the training result."""
    import seqcnn

    return seqcnn.train(
        dataset,
        out,
        overwrite=True,
        architecture=architecture,
        model_options=model_options,
        test_fraction=0.2,
        rc_augment=True,
        seed=seed,
    )


def motif_recovery(model, dataset) -> dict:
    """Filters -> PWMs -> JASPAR matches, scored against the planted motifs.

    Returns a dict with ``n_filters``, ``n_exported`` (>= 10 sites), ``n_planted_filters``
    (exported filters whose best all-versions JASPAR match is a planted TF), and for
    ``latest`` and ``all`` JASPAR versions the planted TFs found and missed and the best
    match of each filter.
    """
    import seqcnn

    planted = planted_tfs()
    wanted = {name.upper(): matrix_id for matrix_id, name in planted.items()}
    motifs = seqcnn.filter_pwms(model, dataset.one_hot())
    exported = [m for m in motifs if m.exported]
    result = {"n_filters": len(motifs), "n_exported": len(exported)}
    for versions in ("latest", "all"):
        database = seqcnn.jaspar_motifs(all_versions=versions == "all")
        matches = seqcnn.match_motifs(motifs, database, n_matches=50, q_threshold=0.05)
        best = {
            row.filter: (row.match_id, row.match_name)
            for row in matches.itertuples()
            if row.rank == 1
        }
        if versions == "all":
            result["best_rank"] = planted_ranks(matches, planted)
            hits = matches.groupby("filter")[["match_id", "match_name"]]
            result["planted_hit"] = {
                name: any(
                    is_planted(i, n, planted, wanted) for i, n in zip(*group.T.values, strict=True)
                )
                for name, group in hits
            }
        found: dict[str, list[str]] = {}
        for filter_name, (match_id, match_name) in best.items():
            for tf in tf_names(match_name) & set(wanted):
                found.setdefault(tf, []).append(filter_name)
            if match_id in planted:
                found.setdefault(planted[match_id].upper(), []).append(filter_name)
        result[versions] = {
            "best": best,
            "found": {tf: sorted(set(f)) for tf, f in found.items()},
            "missed": sorted(set(wanted) - set(found)),
        }
    best_all = result["all"]["best"]
    result["n_planted_filters"] = sum(
        bool(tf_names(best_all[m.name][1]) & set(wanted)) for m in exported if m.name in best_all
    )
    result["n_matched_filters"] = sum(m.name in best_all for m in exported)
    result["n_any_planted_filters"] = sum(
        result["planted_hit"].get(m.name, False) for m in exported
    )
    return result


def oracle_model(width: int = 19):
    """A cnn whose first-layer filters are the planted motifs themselves.

    Filter ``k`` holds the log-odds ``log2(p / 0.25)`` of planted matrix ``k`` (centred,
    zero-padded to ``width``), with no bias, an identity batch norm and relu: a perfect
    PWM scanner.  Run through the same ``filter_pwms`` -> ``match_motifs`` steps, it shows
    what the pipeline itself can recover: the ceiling for any trained model.
    """
    import torch

    import seqcnn
    from seqcnn.motifs import read_meme

    motifs = list(read_meme(ROOT / "data" / "planted_motifs.meme").values())
    network = seqcnn.build_model("cnn", 200, len(motifs), first_filters=len(motifs))
    weight = torch.zeros(len(motifs), 4, width)
    for k, pwm in enumerate(motifs):
        start = (width - len(pwm)) // 2
        log_odds = np.log2((pwm + 0.01) / (1 + 0.04) / 0.25)
        weight[k, :, start : start + len(pwm)] = torch.as_tensor(log_odds.T, dtype=torch.float32)
    stem = network.stem
    with torch.no_grad():
        stem.conv.weight.copy_(weight)
        stem.conv.bias.zero_()
    if isinstance(stem.norm, torch.nn.BatchNorm1d):
        stem.norm.reset_parameters()  # running mean 0, variance 1, scale 1, shift 0
    return network.eval()


def planted_ranks(matches, planted: dict) -> dict[str, int | None]:
    """Per planted TF: its best rank among any filter's significant matches (None if absent).

    Rank 1 means it is some filter's best match; 2-3 usually means a near-identical matrix
    of another TF of the family (CEBPG for CEBPB, JUNB for FOSL1) scored a hair better.
    """
    ranks: dict[str, int | None] = {}
    for matrix_id, name in planted.items():
        base = matrix_id.split(".")[0]
        mine = [
            row.rank
            for row in matches.itertuples()
            if name.upper() in tf_names(row.match_name) or row.match_id.split(".")[0] == base
        ]
        ranks[name.upper()] = min(mine) if mine else None
    return ranks


def is_planted(match_id: str, match_name: str, planted: dict, wanted: dict) -> bool:
    """A JASPAR match of a planted TF: same TF name, or another version of a planted matrix."""
    base = match_id.split(".")[0]
    return bool(tf_names(match_name) & set(wanted)) or any(
        base == planted_id.split(".")[0] for planted_id in planted
    )


def describe_recovery(name: str, recovery: dict) -> str:
    lines = [f"{name}:"]
    for versions in ("latest", "all"):
        r = recovery[versions]
        lines.append(
            f"  JASPAR {versions:6s} planted motifs found {12 - len(r['missed'])}/12"
            + (f"  missed: {', '.join(r['missed'])}" if r["missed"] else "")
        )
    ranks = recovery["best_rank"]
    lines.append(
        "  best rank of each planted TF among a filter's matches (all versions): "
        + ", ".join(f"{tf} {rank or '-'}" for tf, rank in ranks.items())
    )
    lines.append(
        f"  filters: {recovery['n_filters']}, >=10 sites {recovery['n_exported']}, "
        f"any JASPAR match {recovery['n_matched_filters']}, planted TF "
        f"{recovery['n_planted_filters']} "
        f"({recovery['n_planted_filters'] / max(recovery['n_exported'], 1):.0%}), "
        f"any significant match a planted TF {recovery['n_any_planted_filters']} "
        f"({recovery['n_any_planted_filters'] / max(recovery['n_exported'], 1):.0%})"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default="oracle,default,exp,cnn25,cnn2")
    parser.add_argument("--model", help="evaluate this bundle instead of training variants")
    parser.add_argument("--out", default="bench-out/motifs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import seqcnn

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = planted_dataset(out)
    rows = []
    if args.model:
        todo = [("given", None)]
    else:
        todo = [(v, v if v == "oracle" else VARIANTS[v]) for v in args.variants.split(",")]
    for name, options in todo:
        started = time.perf_counter()
        if options is None:
            model, metrics = seqcnn.load_model(args.model), {}
        elif options == "oracle":
            model, metrics = oracle_model(), {}
        else:
            result = train_planted(dataset, out / name, options, seed=args.seed)
            model, metrics = result.model, result.metrics.get("test", {})
        train_seconds = time.perf_counter() - started
        recovery = motif_recovery(model, dataset)
        print(describe_recovery(name, recovery), flush=True)
        rows.append((name, metrics, recovery, train_seconds))

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{__import__('torch').get_num_threads()}"
    )
    header = (
        "| model | test AUROC | test AUPRC | planted found (latest JASPAR) | planted found "
        "(all versions) | filters >= 10 sites | best match a planted TF | any match a "
        "planted TF | published | train min |"
    )
    print(header)
    print("|" + "---|" * 10)
    for name, metrics, r, seconds in rows:
        share = r["n_planted_filters"] / max(r["n_exported"], 1)
        share_any = r["n_any_planted_filters"] / max(r["n_exported"], 1)
        print(
            f"| {name} | {metrics.get('auroc', float('nan')):.4f} | "
            f"{metrics.get('auprc', float('nan')):.4f} | {12 - len(r['latest']['missed'])}/12 | "
            f"{12 - len(r['all']['missed'])}/12 | {r['n_exported']}/{r['n_filters']} | "
            f"{r['n_planted_filters']}/{r['n_exported']} ({share:.0%}) | "
            f"{r['n_any_planted_filters']}/{r['n_exported']} ({share_any:.0%}) | "
            f"{PUBLISHED.get(name, '')} | {seconds / 60:.1f} |"
        )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()

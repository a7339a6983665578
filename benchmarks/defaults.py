"""Benchmark: do seqcnn's defaults fit data unlike the demo?  (issue 21)

Four kinds of data, each trained with the defaults as they were before the length-aware
rules ("before", the old options given explicitly), with today's defaults ("after"),
optionally with ``--tune N`` ("tuned"), next to an oracle where one exists:

a. ``position``: simulated 60 nt windows, three classes, strand-specific.  The class sets a
   dinucleotide at a fixed position (GT at 30, AG at 28: donor- and acceptor-like) and weak
   position-specific enrichments at fixed offsets; a third of the negatives carry a decoy
   dinucleotide.  Every class is a mixture of position-specific base distributions, so the
   Bayes-optimal posterior is exact: the oracle is its accuracy on the same test set.
b. ``pu1``, ``ctcf`` (100 nt ChIP-seq peaks against dinucleotide-shuffled negatives) and
   ``pum2`` (101 nt eCLIP, the published chromosome split) from ``../shared/data``.
c. ``planted``: the demo's planted-motif set (200 bp, 12 motifs), against the known-PWM
   oracle of ``benchmarks/planted.py``.
d. ``jaspar1`` ... ``jaspar5``: planted sets of 10 TFs drawn (seeded) from JASPAR CORE
   vertebrates, 200 bp, against the same oracle; each planted TF should be among some
   first-layer filter's significant JASPAR matches.

Usage::

    python benchmarks/defaults.py --quick --sets position            # minutes
    python benchmarks/defaults.py --sets position,planted --seeds 0,1,2 --tune 20

``--quick`` shrinks every set (and the epoch cap) so one set trains in a few minutes on two
cores; the numbers are then a smoke test, not the table of ``benchmarks/RESULTS.md``.
Writes ``results.csv`` and ``results.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from planted import oracle_scores  # noqa: E402

# Options as they were before the length-aware defaults (issue 21), given explicitly so the
# "before" runs stay the old defaults whatever the rules become.
BEFORE_MODEL = {
    "cnn": {"first_pool": 25, "conv_pool": 4, "conv_filters": [128]},
    "resnet": {"block_filters": [64, 128, 128]},
    "dilated": {"dilated_layers": 6},
}
BEFORE_TRAINING = {"batch_size": 64, "learning_rate": 1e-3, "weight_decay": 1e-3, "patience": 6}

BASES = np.array(list("ACGT"))


# ----------------------------------------------------------------------------------------
# (a) short, aligned, strand-specific sequences with an exact oracle


def _profile(length: int, gc: float = 0.5) -> np.ndarray:
    at = (1 - gc) / 2
    return np.tile([at, gc / 2, gc / 2, at], (length, 1))


def _fix(profile: np.ndarray, position: int, word: str, strength: float = 1.0) -> np.ndarray:
    """``profile`` with ``word`` enriched at ``position`` (1.0: always that base)."""
    profile = profile.copy()
    for i, base in enumerate(word):
        row = np.full(4, (1 - strength) / 3)
        row["ACGT".index(base)] = strength
        profile[position + i] = row
    return profile


def position_profiles(length: int = 60) -> list[list[tuple[float, np.ndarray]]]:
    """Per class, a mixture ``[(weight, (length, 4) base probabilities), ...]``."""
    background = _profile(length)
    donor = _fix(background, 30, "GT")
    donor = _fix(donor, 27, "CAG", 0.55)  # weak exon end
    donor = _fix(donor, 32, "AAGT", 0.55)  # weak intron start
    acceptor = _fix(background, 28, "AG")
    acceptor = _fix(acceptor, 30, "G", 0.55)
    tract = acceptor.copy()
    tract[8:26] = [0.15, 0.35, 0.15, 0.35]  # weak pyrimidine tract
    decoy_donor = _fix(background, 30, "GT")
    decoy_acceptor = _fix(background, 28, "AG")
    return [
        [(1 / 3, background), (1 / 3, decoy_donor), (1 / 3, decoy_acceptor)],
        [(1.0, donor)],
        [(1.0, tract)],
    ]


def position_set(n: int, seed: int, length: int = 60) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n`` sequences, their classes (0 none, 1 donor, 2 acceptor) and the exact posterior."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, size=n)
    profiles = position_profiles(length)
    codes = np.empty((n, length), dtype=np.int64)
    for c, mixture in enumerate(profiles):
        rows = np.flatnonzero(classes == c)
        weights = np.array([w for w, _ in mixture])
        component = rng.choice(len(mixture), size=len(rows), p=weights)
        for k, (_, profile) in enumerate(mixture):
            chosen = rows[component == k]
            cumulative = profile.cumsum(axis=1)
            draws = rng.random((len(chosen), length, 1))
            codes[chosen] = (draws > cumulative[None]).sum(axis=2).clip(max=3)
    log_like = np.empty((n, 3))
    positions = np.arange(length)
    with np.errstate(divide="ignore"):  # log(0): a fixed base the sequence lacks
        for c, mixture in enumerate(profiles):
            parts = [np.log(w) + np.log(p[positions, codes]).sum(axis=1) for w, p in mixture]
            log_like[:, c] = np.logaddexp.reduce(np.stack(parts), axis=0)
    posterior = np.exp(log_like - log_like.max(axis=1, keepdims=True))
    posterior /= posterior.sum(axis=1, keepdims=True)
    return ["".join(BASES[row]) for row in codes], classes, posterior


def _write_classes(folder: Path, role: str, seqs, classes, names) -> list[Path]:
    paths = []
    for c, name in enumerate(names):
        path = folder / f"{role}_{name}.fa"
        rows = np.flatnonzero(classes == c)
        path.write_text("".join(f">{role}{i}\n{seqs[i]}\n" for i in rows))
        paths.append(path)
    return paths


def make_position(folder: Path, scale: float, seed: int) -> dict:
    """Set (a): train/valid/test datasets and the oracle's test accuracy."""
    import seqcnn

    names = ["none", "donor", "acceptor"]
    sizes = {"train": int(8000 * scale), "valid": int(1000 * scale), "test": int(3000 * scale)}
    data, oracle = {}, {}
    for k, (role, n) in enumerate(sizes.items()):
        seqs, classes, posterior = position_set(n, seed=1000 * seed + k)
        files = _write_classes(folder, role, seqs, classes, names)
        data[role] = seqcnn.encode(
            files, folder / f"{role}.ds", class_per_file=True, classes=names, overwrite=True
        )
        if role == "test":
            oracle = {
                "accuracy": float((posterior.argmax(axis=1) == classes).mean()),
                "y": classes,
                "p": posterior,
            }
    return {"data": data, "oracle": oracle, "task": "multiclass", "strand_specific": True}


# ----------------------------------------------------------------------------------------
# (b) real sets, (c) the planted demo, (d) planted JASPAR sets


def _read_fasta(path: Path) -> tuple[list[str], list[str]]:
    ids, seqs = [], []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                ids.append(line[1:].split()[0])
                seqs.append("")
            else:
                seqs[-1] += line.strip().upper()
    return ids, seqs


def make_chip(folder: Path, name: str, data_dir: Path, scale: float, seed: int) -> dict:
    """Peaks against dinucleotide-shuffled negatives, split 80/10/10 at random."""
    import seqcnn
    from seqcnn.shuffle import dinucleotide_shuffle

    ids, seqs = _read_fasta(data_dir / f"{name}.fa.gz")
    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(seqs))[: int(len(seqs) * min(1.0, scale))]
    seqs = [seqs[i] for i in keep]
    negatives = [dinucleotide_shuffle(s, rng) for s in seqs]
    x = seqs + negatives
    y = np.r_[np.ones(len(seqs), int), np.zeros(len(seqs), int)]
    order = rng.permutation(len(x))
    cut = np.cumsum([int(0.8 * len(x)), int(0.1 * len(x))])
    data = {}
    for role, rows in zip(("train", "valid", "test"), np.split(order, cut), strict=True):
        files = [folder / f"{role}_pos.fa", folder / f"{role}_neg.fa"]
        for label, path in zip((1, 0), files, strict=True):
            path.write_text("".join(f">{role}{i}\n{x[i]}\n" for i in rows if y[i] == label))
        data[role] = seqcnn.encode(files, folder / f"{role}.ds", class_per_file=True,
                                   classes=["bound", "background"], overwrite=True)  # fmt: skip
    return {"data": data, "oracle": None, "task": "binary", "strand_specific": False}


def make_pum2(folder: Path, data_dir: Path, scale: float, seed: int) -> dict:
    """PUM2 eCLIP sites with the published chromosome split (strand-specific RNA)."""
    import pandas as pd

    import seqcnn

    data = {}
    for role in ("train", "valid", "test"):
        table = pd.read_csv(data_dir / "pum2" / f"PUM2_{role}.csv.gz")
        if scale < 1:
            table = table.sample(frac=scale, random_state=seed)
        files = [folder / f"{role}_pos.fa", folder / f"{role}_neg.fa"]
        for label, path in zip((True, False), files, strict=True):
            rows = table[table["binding_site"] == label]
            path.write_text(
                "".join(
                    f">{role}{i}\n{s.upper().replace('U', 'T')}\n" for i, s in rows["seq"].items()
                )
            )
        data[role] = seqcnn.encode(files, folder / f"{role}.ds", class_per_file=True,
                                   classes=["bound", "background"], overwrite=True)  # fmt: skip
    return {"data": data, "oracle": None, "task": "binary", "strand_specific": True}


def _split_planted(folder: Path, ids, seqs, table, scale: float, seed: int) -> dict:
    """Cut a planted set 70/10/20 at random into three datasets (``table``: labels by id)."""
    import seqcnn

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))[: int(len(ids) * min(1.0, scale))]
    cut = np.cumsum([int(0.7 * len(order)), int(0.1 * len(order))])
    data = {}
    for role, rows in zip(("train", "valid", "test"), np.split(order, cut), strict=True):
        path = folder / f"{role}.fa"
        path.write_text("".join(f">{ids[i]}\n{seqs[i]}\n" for i in rows))
        label_path = folder / f"{role}_labels.tsv"
        table.loc[[ids[i] for i in rows]].reset_index().to_csv(label_path, sep="\t", index=False)
        data[role] = seqcnn.encode(path, folder / f"{role}.ds", labels=label_path, overwrite=True)
    return data


def _motif_oracle(data: dict, motifs: dict[str, np.ndarray]) -> dict:
    test = data["test"]
    x = test.one_hot(np.arange(len(test.ids)))
    scores = np.stack([oracle_scores(x, motifs[name]) for name in test.label_names], axis=1)
    return {"y": test.labels.astype(int), "p": scores}


def make_planted(folder: Path, scale: float, seed: int) -> dict:
    """Set (c): the demo's planted-motif data."""
    import pandas as pd

    from seqcnn.simulate import read_planted_motifs

    ids, seqs = _read_fasta(ROOT / "data" / "planted.fa.gz")
    table = pd.read_csv(ROOT / "data" / "planted_labels.tsv.gz", sep="\t").set_index("id")
    data = _split_planted(folder, ids, seqs, table, scale, seed)
    oracle = _motif_oracle(data, read_planted_motifs())
    planted = dict(name.split("_", 1) for name in data["test"].label_names)
    return {"data": data, "oracle": oracle, "task": "multilabel", "strand_specific": False,
            "planted": planted}  # fmt: skip


def jaspar_choice(index: int) -> list[str]:
    """Ten JASPAR CORE vertebrate matrices (6-20 bp) drawn with seed ``100 + index``."""
    from seqcnn.motifs.match import jaspar_motifs

    library = jaspar_motifs()
    usable = sorted(name for name, pwm in library.items() if 6 <= len(pwm) <= 20)
    rng = np.random.default_rng(100 + index)
    return [usable[i] for i in rng.choice(len(usable), size=10, replace=False)]


def make_jaspar(folder: Path, index: int, scale: float, seed: int) -> dict:
    """Set (d): ten random JASPAR TFs planted the demo's way, 15,000 x 200 bp."""
    import pandas as pd

    import seqcnn
    from seqcnn.motifs.match import jaspar_motifs
    from seqcnn.motifs.meme import write_meme

    library = jaspar_motifs()
    chosen = jaspar_choice(index)
    meme = write_meme({name: library[name] for name in chosen}, folder / "motifs.meme")
    simulated = seqcnn.simulate(n_sequences=int(15000 * scale), motif_file=meme, seed=index)
    table = pd.DataFrame(simulated.labels, index=simulated.ids, columns=simulated.motif_names)
    table.index.name = "id"
    data = _split_planted(folder, simulated.ids, simulated.sequences, table, 1.0, seed)
    motifs = {"_".join(name.split()): library[name] for name in chosen}
    return {
        "data": data,
        "oracle": _motif_oracle(data, motifs),
        "task": "multilabel",
        "strand_specific": False,
        "planted": {name.split()[0]: name.split()[-1] for name in chosen},
    }


# ----------------------------------------------------------------------------------------
# Training and scoring


def score(task: str, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Accuracy for multiclass, macro AUROC/AUPRC otherwise."""
    from seqcnn.metrics import auprc, auroc

    if task == "multiclass":
        return {"accuracy": float((p.argmax(axis=1) == y).mean())}
    y, p = y.reshape(len(y), -1), p.reshape(len(p), -1)
    return {
        "auroc": float(np.mean([auroc(y[:, j], p[:, j]) for j in range(y.shape[1])])),
        "auprc": float(np.mean([auprc(y[:, j], p[:, j]) for j in range(y.shape[1])])),
    }


def run_one(bench: dict, out: Path, variant: str, seed: int, epochs: int, tune: int,
            architecture: str = "cnn") -> dict:  # fmt: skip
    """Train one variant and score it on the test split."""
    import seqcnn

    data = bench["data"]
    options: dict = {"epochs": epochs, "seed": seed, "architecture": architecture}
    options["rc_augment"] = not bench["strand_specific"]
    if variant == "before":
        options |= BEFORE_TRAINING | {"model_options": dict(BEFORE_MODEL[architecture])}
    started = time.perf_counter()
    if variant == "tuned":
        from seqcnn.training.tune import tune as tune_api

        # Searched on the validation set only; the test set is scored once, at the end.
        result = tune_api(data["train"], out, n_trials=tune, valid=data["valid"],
                          test=data["test"], overwrite=True, **options)  # fmt: skip
    else:
        result = seqcnn.train(
            data["train"], out, valid=data["valid"], test=data["test"], overwrite=True, **options
        )
    test = result.metrics.get("test", {})
    row = {
        "variant": variant,
        "architecture": architecture,
        "seed": seed,
        "epochs_run": len(result.history),
        "minutes": (time.perf_counter() - started) / 60,
        "valid_" + _key(bench): result.metrics["valid"].get(_key(bench)),
        "test_" + _key(bench): test.get(_key(bench)),
        "test_auprc": test.get("auprc"),
    }
    if variant == "tuned":  # the search's best trial, and the one kept (defaults unless it leads)
        tuning = result.model.config["training"]["tuning"]
        row["best_trial"], row["chosen_trial"] = tuning["best_trial"], tuning["chosen_trial"]
        row["best_valid"] = next(v for k, v in tuning.items() if k.startswith("best_valid_"))
        row["lead_se"] = tuning["selection"].get("standard_error")
    if "planted" in bench:
        x = data["test"].one_hot(np.arange(len(data["test"].ids)))
        found = planted_found(result.model, x, bench["planted"])
        row["planted_found"] = f"{len(found)}/{len(bench['planted'])}"
        row["planted_missed"] = " ".join(sorted(set(bench["planted"].values()) - set(found)))
    return row


def planted_found(model, x: np.ndarray, planted: dict[str, str]) -> list[str]:
    """Planted TFs among some first-layer filter's significant JASPAR matches (q < 0.05,
    any version of the planted matrix or a matrix of the same TF name)."""
    import seqcnn

    motifs = seqcnn.filter_pwms(model, x)
    database = seqcnn.jaspar_motifs(all_versions=True)
    matches = seqcnn.match_motifs(motifs, database, n_matches=50, q_threshold=0.05)
    found = set()
    for row in matches.itertuples():
        names = {part.strip().upper() for part in row.match_name.split("::")}
        for matrix_id, tf in planted.items():
            if row.match_id.split(".")[0] == matrix_id.split(".")[0] or tf.upper() in names:
                found.add(tf)
    return sorted(found)


def _key(bench: dict) -> str:
    return "accuracy" if bench["task"] == "multiclass" else "auroc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="position,pu1,ctcf,pum2,planted,jaspar")
    parser.add_argument("--variants", default="before,after")
    parser.add_argument("--architectures", default="cnn")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--tune", type=int, default=20, help="trials of the 'tuned' variant")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="sets at 1/4 size, 15 epochs")
    parser.add_argument("--scale", type=float, help="fraction of each set [1; --quick 0.25]")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default="bench-out/defaults")
    args = parser.parse_args()

    import pandas as pd
    import torch

    scale, epochs = (0.25, min(args.epochs, 15)) if args.quick else (1.0, args.epochs)
    scale = args.scale or scale
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(args.data)
    names = []
    for name in args.sets.split(","):
        names += [f"jaspar{i}" for i in range(1, 6)] if name == "jaspar" else [name]
    rows = []
    for name in names:
        folder = out / name
        folder.mkdir(exist_ok=True)
        if name == "position":
            bench = make_position(folder, scale, 0)
        elif name in ("pu1", "ctcf"):
            bench = make_chip(folder, name, data_dir, scale, 0)
        elif name == "pum2":
            bench = make_pum2(folder, data_dir, scale, 0)
        elif name == "planted":
            bench = make_planted(folder, scale, 0)
        else:
            bench = make_jaspar(folder, int(name.removeprefix("jaspar")), scale, 0)
        oracle = bench["oracle"]
        if oracle is not None:
            values = score(bench["task"], oracle["y"], oracle["p"])
            rows.append(
                {"set": name, "variant": "oracle"} | {f"test_{k}": v for k, v in values.items()}
            )
        for architecture in args.architectures.split(","):
            for variant in args.variants.split(","):
                for seed in (int(s) for s in args.seeds.split(",")):
                    target = folder / f"{variant}_{architecture}_{seed}"
                    row = run_one(bench, target, variant, seed, epochs, args.tune, architecture)
                    rows.append({"set": name} | row)
                    print(json.dumps(rows[-1]), flush=True)
        pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    table = pd.DataFrame(rows)
    header = (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, load {os.getloadavg()[0]:.1f}; scale {scale}, "
        f"epoch cap {epochs}\n\n"
    )
    (out / "results.md").write_text(header + table.to_markdown(index=False, floatfmt=".4f") + "\n")
    print(header + table.to_string(index=False))


if __name__ == "__main__":
    main()

"""Benchmark: seqcnn's defaults on real public data, next to the published numbers.

Runs from a data folder laid out like ``../shared/data`` (its README describes the files):

1. **PU.1 ChIP-seq** (``pu1.fa.gz``, 100 bp peaks): one dinucleotide-shuffled negative per
   peak (``seqcnn encode --shuffled-negatives``), split by chromosome (test chr1-3,
   validation chr4-5, training the rest), default ``cnn`` with ``--rc-augment``; test
   AUROC/AUPRC, and the filters' best JASPAR matches must include SPI1.
2. **CTCF ChIP-seq** (``ctcf.fa.gz``): the same protocol; a filter's best match must be
   CTCF (MA0139).
3. **PUM2 eCLIP** (``pum2/PUM2_{train,valid,test}.csv.gz``, 101 nt, the given split by
   chromosome): default ``cnn`` without reverse-complement augmentation (RNA has a strand);
   test AUPRC, and a filter must show the PUM2 element TGTAnATA (UGUAnAUA).
4. **Planted motifs** (``data/``, Koo & Eddy's recipe): ``cnn`` with its default relu and
   with an exp first layer, ``resnet`` and ``dilated`` with their defaults; test AUROC/AUPRC
   and the share of filters matching a planted TF (see ``benchmarks/motifs.py``).

Every entry is trained with seed 0 and the default options.  The table (dataset, split,
model, wall time, metric, published, ours) is printed, written between markers into
``benchmarks/RESULTS.md`` and drawn as ``benchmarks/real_data.png``.

Usage::

    python benchmarks/real_data.py ../shared/data [--only pu1,ctcf,pum2,planted]
        [--out bench-out/real] [--results benchmarks/RESULTS.md | --no-results]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import motifs as planted_motifs  # noqa: E402  (benchmarks/motifs.py)

CHROM_SPLIT = {"valid_chroms": ["chr4", "chr5"], "test_chroms": ["chr1", "chr2", "chr3"]}
CHROM_SPLIT_TEXT = "chrom: test chr1-3, valid chr4-5"
PUM2_ELEMENT = "TGTA.ATA"
MARK_START, MARK_END = "<!-- real-data:start -->", "<!-- real-data:end -->"


def best_matches(model, x, database="jaspar") -> tuple[list, object]:
    """Filter motifs of ``model`` over ``x`` and the best JASPAR match of each."""
    import seqcnn

    motifs = seqcnn.filter_pwms(model, x)
    matches = seqcnn.match_motifs(motifs, database, n_matches=1, q_threshold=0.05)
    return motifs, matches


def chip_seq(name: str, fasta: Path, out: Path, expect: str, expect_id: str | None) -> dict:
    """PU.1 / CTCF: shuffled negatives, chromosome split, default cnn with rc augmentation."""
    import seqcnn

    started = time.perf_counter()
    dataset = seqcnn.encode(fasta, out / f"{name}.ds", shuffled_negatives=1, overwrite=True)
    result = seqcnn.train(
        dataset, out / f"{name}.model", overwrite=True, rc_augment=True, **CHROM_SPLIT
    )
    seconds = time.perf_counter() - started
    positives = np.flatnonzero(dataset.labels[:, 0] == 1)
    _, matches = best_matches(result.model, dataset.one_hot(positives[:10000]))
    hits = matches[
        matches.match_name.str.upper().eq(expect.upper())
        | (matches.match_id.str.startswith(expect_id) if expect_id else False)
    ]
    check = f"best match {expect}: {len(hits)} filters" + (
        f" (best q {hits.q_value.min():.1e})" if len(hits) else ""
    )
    if expect_id:
        exact = hits[hits.match_id.str.startswith(expect_id)]
        check += f", {len(exact)} of them {expect_id}" + (
            f" (best q {exact.q_value.min():.1e})" if len(exact) else ""
        )
    n_pos = int(dataset.labels.sum())
    return {
        "metrics": result.metrics["test"],
        "seconds": seconds,
        "check": check,
        "passed": len(hits) > 0,
        "data": f"{n_pos:,} peaks + {len(dataset) - n_pos:,} dinucleotide shuffles",
        "top": matches.sort_values("q_value").head(5)[["filter", "match_id", "match_name"]],
    }


def pum2(folder: Path, out: Path) -> dict:
    """PUM2 eCLIP with the given chromosome split; no rc augmentation (RNA)."""
    import pandas as pd

    import seqcnn

    started = time.perf_counter()
    datasets = {}
    for split in ("train", "valid", "test"):
        table = pd.read_csv(folder / f"PUM2_{split}.csv.gz")
        ids = [f"{split}_{i}_{chrom}" for i, chrom in enumerate(table.seqnames)]
        fasta = out / f"pum2_{split}.fa"
        fasta.write_text("".join(f">{i}\n{s}\n" for i, s in zip(ids, table.seq, strict=True)))
        labels = out / f"pum2_{split}.tsv"
        pd.DataFrame({"id": ids, "binding_site": table.binding_site.astype(int)}).to_csv(
            labels, sep="\t", index=False
        )
        datasets[split] = seqcnn.encode(
            fasta, out / f"pum2_{split}.ds", labels=labels, task="binary", overwrite=True
        )
    result = seqcnn.train(
        datasets["train"],
        out / "pum2.model",
        valid=datasets["valid"],
        test=datasets["test"],
        overwrite=True,
    )
    seconds = time.perf_counter() - started
    motifs = seqcnn.filter_pwms(result.model, datasets["train"].one_hot())
    element = re.compile(PUM2_ELEMENT)
    showing = [m for m in motifs if m.exported and element.search(consensus(m.pwm))]
    check = f"{PUM2_ELEMENT.replace('.', 'n')} in {len(showing)} filters" + (
        f" (e.g. {showing[0].name}: {consensus(showing[0].pwm)})" if showing else ""
    )
    train = datasets["train"]
    return {
        "metrics": result.metrics["test"],
        "seconds": seconds,
        "check": check,
        "passed": bool(showing),
        "data": f"{len(train):,} train / {len(datasets['valid']):,} valid / "
        f"{len(datasets['test']):,} test, {train.labels.mean():.0%} bound",
    }


def consensus(pwm: np.ndarray, min_probability: float = 0.5) -> str:
    """Upper-case base where one has probability >= ``min_probability``, else ``.``."""
    best = pwm.argmax(axis=1)
    return "".join("ACGT"[b] if pwm[i, b] >= min_probability else "." for i, b in enumerate(best))


def planted(out: Path) -> list[dict]:
    """The planted-motif set with cnn (relu, exp), resnet and dilated."""
    dataset = planted_motifs.planted_dataset(out)
    variants = [
        ("cnn", "relu (default)", {}),
        ("cnn", "exp", {"first_activation": "exp"}),
        ("resnet", "default", {}),
        ("dilated", "default", {}),
    ]
    rows = []
    for architecture, label, options in variants:
        started = time.perf_counter()
        name = f"planted_{architecture}_{label.split()[0]}"
        result = planted_motifs.train_planted(
            dataset, out / name, options, architecture=architecture
        )
        seconds = time.perf_counter() - started
        recovery = planted_motifs.motif_recovery(result.model, dataset)
        print(planted_motifs.describe_recovery(name, recovery), flush=True)
        rows.append(
            {
                "architecture": architecture,
                "label": label,
                "metrics": result.metrics["test"],
                "seconds": seconds,
                "recovery": recovery,
            }
        )
    return rows


def table(results: dict) -> tuple[str, list[tuple[str, float, float | None]]]:
    """Markdown table and the bars of the chart: (label, ours, published or None)."""
    lines = [
        "| dataset | split | model | wall time | metric | published | ours | check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    bars = []
    for name, published in (("pu1", (0.982, 0.982)), ("ctcf", (None, None))):
        if name not in results:
            continue
        r = results[name]
        m = r["metrics"]
        for metric, pub in zip(("auroc", "auprc"), published, strict=True):
            pub_text = f"{pub:.3f}" if pub else "none"
            lines.append(
                f"| {name.upper()} ChIP-seq ({r['data']}) | {CHROM_SPLIT_TEXT} | cnn, rc-augment "
                f"| {r['seconds'] / 60:.1f} min | {metric.upper()} | {pub_text} | "
                f"**{m[metric]:.4f}** | {r['check'] if metric == 'auroc' else ''} |"
            )
            bars.append((f"{name.upper()} {metric.upper()}", m[metric], pub))
    if "pum2" in results:
        r = results["pum2"]
        lines.append(
            f"| PUM2 eCLIP ({r['data']}) | given: test chr1-3 | cnn | {r['seconds'] / 60:.1f} min "
            f"| AUPRC | 0.580 (random init), 0.713 (PWM init) | **{r['metrics']['auprc']:.4f}** "
            f"| {r['check']} |"
        )
        lines.append(
            f"| PUM2 eCLIP | given | cnn | | AUROC | none | {r['metrics']['auroc']:.4f} | |"
        )
        bars.append(("PUM2 AUPRC", r["metrics"]["auprc"], 0.713))
    for row in results.get("planted", []):
        m, rec = row["metrics"], row["recovery"]
        n = max(rec["n_exported"], 1)
        model = f"{row['architecture']} {row['label']}"
        lines.append(
            f"| planted motifs (30,000 x 200 bp, 12 motifs) | random 70/10/20 | {model} | "
            f"{row['seconds'] / 60:.1f} min | AUROC / AUPRC | Koo & Eddy CNNs ~0.95-0.98 "
            f"AUROC | {m['auroc']:.4f} / {m['auprc']:.4f} | filters matching a planted TF: "
            f"any match {rec['n_any_planted_filters']}/{rec['n_exported']} "
            f"({rec['n_any_planted_filters'] / n:.0%}; Koo & Eddy CNN-25 30/30, CNN-2 0/30), "
            f"best match {rec['n_planted_filters']}/{rec['n_exported']} "
            f"({rec['n_planted_filters'] / n:.0%}); planted "
            f"motifs found {12 - len(rec['all']['missed'])}/12 (all JASPAR versions) |"
        )
        bars.append((f"planted {model} AUROC", m["auroc"], None))
    return "\n".join(lines), bars


def draw(bars: list[tuple[str, float, float | None]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(bars) + 1.2))
    y = np.arange(len(bars))
    ax.barh(y, [b[1] for b in bars], height=0.4, color="#1f77b4", label="seqcnn (defaults)")
    published = [(i, b[2]) for i, b in enumerate(bars) if b[2] is not None]
    if published:
        ax.barh(
            [i + 0.4 for i, _ in published],
            [p for _, p in published],
            height=0.4,
            color="#bbbbbb",
            label="published",
        )
    for i, b in enumerate(bars):
        ax.text(b[1] + 0.002, i, f"{b[1]:.3f}", va="center", fontsize=8)
    ax.set_yticks(y + 0.2, [b[0] for b in bars])
    ax.invert_yaxis()
    low = min([b[1] for b in bars] + [p for _, p in published])
    ax.set_xlim(max(0.0, low - 0.1), 1.0)
    ax.set_xlabel("test metric")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_results(path: Path, text: str) -> None:
    """Replace the marked section of RESULTS.md (append it when missing)."""
    current = path.read_text() if path.exists() else ""
    block = f"{MARK_START}\n{text}\n{MARK_END}"
    if MARK_START in current and MARK_END in current:
        before, rest = current.split(MARK_START, 1)
        after = rest.split(MARK_END, 1)[1]
        current = before + block + after
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--only", default="pu1,ctcf,pum2,planted")
    parser.add_argument("--out", default="bench-out/real")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--no-results", action="store_true", help="only print the table")
    args = parser.parse_args()

    import torch

    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    todo = args.only.split(",")
    started = time.perf_counter()
    results: dict = {}
    if "pu1" in todo:
        results["pu1"] = chip_seq("pu1", data / "pu1.fa.gz", out, "SPI1", None)
        print(f"PU.1: {results['pu1']['metrics']}  {results['pu1']['check']}", flush=True)
    if "ctcf" in todo:
        results["ctcf"] = chip_seq("ctcf", data / "ctcf.fa.gz", out, "CTCF", "MA0139")
        print(f"CTCF: {results['ctcf']['metrics']}  {results['ctcf']['check']}", flush=True)
    if "pum2" in todo:
        results["pum2"] = pum2(data / "pum2", out)
        print(f"PUM2: {results['pum2']['metrics']}  {results['pum2']['check']}", flush=True)
    if "planted" in todo:
        results["planted"] = planted(out)
    total = time.perf_counter() - started

    text, bars = table(results)
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), CPU only; whole run "
        f"{total / 60:.1f} min"
    )
    section = (
        "## Real data (benchmarks/real_data.py)\n\n"
        f"Measured on: {machine}.  Every number is from this machine's CPU; seed 0, default "
        "options.\n\n" + text + "\n\n![real-data results](real_data.png)\n"
    )
    print(section)
    if not args.no_results:
        write_results(Path(args.results), section)
        draw(bars, Path(args.results).parent / "real_data.png")


if __name__ == "__main__":
    main()

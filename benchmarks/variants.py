"""Benchmark: variant effects with the CTCF model of the real-data benchmark.

Runs from a data folder laid out like ``../shared/data`` (its README describes the files):

1. **Speed**: random SNVs (80 %), deletions and insertions (1-5 bp, 10 % each) on chr20,
   written as a bgzip VCF, scored end to end by ``score_variants_file`` (VCF parsing,
   genome reads, normalisation, windows, four forward passes per variant with both strands,
   the table); against ``predict_file`` (``seqcnn predict``) on a FASTA of the very same
   reference and alternative windows, with the same strands and batch size, and a bare
   ``run_network`` over them (the floor).  Two layouts: *sparse* (over the whole of
   chr20, one read of the compressed genome per variant) and *dense* (within 2 Mbp, the
   reads shared).  Best of ``--repeats``, alternating, since the machine may be shared.
2. **Biology**: for every CTCF peak on chr20 (``ctcf.fa.gz``; 100 bp, equal to the
   genome), the best match of JASPAR's CTCF matrix (MA0139) on either strand, and in it
   the base with the highest log-odds; the SNV that turns it into the matrix's least
   likely base must lower the model's CTCF probability (in >= 95 % of peaks).  As a
   control, as many random SNVs at least one window away from any chr20 peak: their
   effects are compared with the core mutations' (both distributions are reported).
   chr20 peaks were training data of the model (its test set is chr1-3).

The model is ``bench-out/real/ctcf.model`` (``benchmarks/real_data.py --only ctcf``) or
``--model``; if missing it is trained here by the same protocol (about 4 min on 2 CPUs).
The results go between markers into ``benchmarks/RESULTS.md``.

Usage::

    python benchmarks/variants.py ../shared/data [--model DIR] [--n 20000] [--repeats 2]
        [--out bench-out/variants] [--results benchmarks/RESULTS.md | --no-results]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MARK_START, MARK_END = "<!-- variants:start -->", "<!-- variants:end -->"
SPEED_NOTE = (
    "Runs on this shared machine vary by up to 30 % with its host's load (session 7: the network "
    "alone took 2.9-3.5 s over 8 runs in a row; over three runs of that session's code the ratio "
    "was 0.72-0.96 sparse with the bgzip genome, 0.85-0.93 with a plain one, 0.87-1.01 dense); "
    "what costs the sparse layouts is reading the genome, see docs/variants.md (Speed)."
)
CONTIG = "chr20"


def ctcf_model(data: Path, model: Path | None, out: Path) -> Path:
    """The CTCF model of the real-data benchmark, trained by its protocol if missing."""
    folder = model or Path("bench-out/real/ctcf.model")
    if (folder / "config.json").is_file():
        return folder
    import seqcnn

    sys.path.insert(0, str(HERE))
    from real_data import CHROM_SPLIT

    print(f"training the CTCF model into {folder} (real_data.py's protocol)", flush=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    dataset = seqcnn.encode(data / "ctcf.fa.gz", out / "ctcf.ds", shuffled_negatives=1,
                            overwrite=True)  # fmt: skip
    seqcnn.train(dataset, folder, overwrite=True, rc_augment=True, **CHROM_SPLIT)
    return folder


def write_vcf(path: Path, rows) -> Path:
    """(chrom, pos, ref, alt) rows as a bgzip VCF."""
    from Bio import bgzf

    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    body = "".join(f"{c}\t{p}\tv{i}\t{r}\t{a}\t.\t.\t.\n" for i, (c, p, r, a) in enumerate(rows))
    with bgzf.BgzfWriter(str(path), "wb") as handle:
        handle.write((header + body).encode())
    return path


def random_variants(genome, n: int, low: int, high: int, seed: int):
    """``n`` sorted random SNVs and 1-5 bp indels in ``[low, high)``, REF from the genome."""
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(np.arange(low, high - 10), size=n, replace=False))
    rows = []
    for k, p in enumerate(positions):  # p: 0-based
        kind, size = rng.random(), int(rng.integers(1, 6))
        ref = genome.fetch(CONTIG, int(p), int(p) + 1 + size)
        if "N" in ref:
            continue
        if kind < 0.8:
            rows.append(
                (CONTIG, int(p) + 1, ref[0], "ACGT"[("ACGT".index(ref[0]) + 1 + k % 3) % 4])
            )
        elif kind < 0.9:
            rows.append((CONTIG, int(p) + 1, ref, ref[0]))
        else:
            inserted = "".join(rng.choice(list("ACGT"), size))
            rows.append((CONTIG, int(p) + 1, ref[0], ref[0] + inserted))
    return rows


def plain_genome(genome, out: Path):
    """An uncompressed copy of the genome (random access without inflating a bgzip block)."""
    import gzip
    import shutil

    from seqcnn.genome import Genome

    path = out / "hg19_chr20.fa"
    if not path.exists():
        with gzip.open(genome.path, "rb") as source, open(f"{path}.tmp", "wb") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
        os.replace(f"{path}.tmp", path)
    return Genome(path)


def speed(model_dir: Path, genome, out: Path, n: int, repeats: int) -> list[dict]:
    """Variants end to end against predict on the same windows, sparse and dense."""
    from seqcnn.alleles import variant_codes
    from seqcnn.bundle import load_model
    from seqcnn.fasta import write_fasta
    from seqcnn.forward import run_network
    from seqcnn.predict import predict_file
    from seqcnn.variants import score_variants_file
    from seqcnn.vcf import VariantReader

    model = load_model(model_dir)
    size = genome.contigs[genome.resolve(CONTIG)]
    plain = plain_genome(genome, out)
    layouts = {
        "sparse (all chr20)": (60_000, size - 60_000, genome),
        "sparse, plain FASTA genome": (60_000, size - 60_000, plain),
        "dense (2 Mbp)": (30_000_000, 32_000_000, genome),
    }
    results = []
    for layout, (low, high, reference) in layouts.items():
        tag = layout.split()[0] + ("_plain" if reference is plain else "")
        genome = reference
        vcf = write_vcf(out / f"speed_{tag}.vcf.gz", random_variants(genome, n, low, high, 1))
        chunks = [variant_codes(a, genome, model.input_length) for a in VariantReader(vcf)]
        ref = np.concatenate([c.ref for c in chunks])
        alt = np.concatenate([c.alt for c in chunks])
        letters = np.frombuffer(b"ACGTN", np.uint8)
        windows = [(f"w{i}", letters[row].tobytes().decode()) for i, row in
                   enumerate(np.stack([ref, alt], 1).reshape(-1, ref.shape[1]))]  # fmt: skip
        fasta = out / f"speed_{tag}.fa"
        write_fasta(windows, fasta)
        options = dict(batch_size=256, rc_average=True)
        codes = np.concatenate([ref, alt])

        def reading(vcf=vcf, genome=genome):  # alone: the VCF, the genome, normalisation
            for alleles in VariantReader(vcf, chunk_size=1024):
                variant_codes(alleles, genome, model.input_length)

        runs = {
            "variants": partial(score_variants_file, model, vcf, genome, out / "effects.tsv",
                                **options),
            "reading": reading,
            "predict": partial(predict_file, model, fasta, out / "predict.tsv", **options),
            "network": partial(run_network, model.network, codes, batch_size=256,
                               rc_average=True, transform=model.transform),
        }  # fmt: skip
        wall = {name: [] for name in runs}
        cpu = {name: [] for name in runs}
        for _ in range(repeats):
            for name, run in runs.items():
                started, used = time.perf_counter(), time.process_time()
                run()
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - used)
        best = {k: min(v) for k, v in wall.items()}
        best_cpu = {k: min(v) for k, v in cpu.items()}
        results.append({
            "layout": layout, "variants": len(ref), "windows": 2 * len(ref),
            "seconds": best, "cpu": best_cpu,
            # each repeat's runs are back to back: their ratio drifts less with the load
            "ratio": float(np.median(np.divide(wall["predict"], wall["variants"]))),
            "cpu ratio": float(np.median(np.divide(cpu["predict"], cpu["variants"]))),
        })  # fmt: skip
        print(results[-1], flush=True)
    return results


def peak_windows(data: Path) -> list[tuple[int, int]]:
    """(start, end) of the chr20 CTCF peaks, 0-based half-open, from the FASTA headers."""
    import gzip

    peaks = []
    with gzip.open(data / "ctcf.fa.gz", "rt") as handle:
        for line in handle:
            match = re.match(r">chr20:(\d+)-(\d+)", line)
            if match:
                peaks.append((int(match.group(1)), int(match.group(2))))
    return sorted(peaks)


def core_variants(genome, peaks, pwm: np.ndarray):
    """Per peak, the SNV that destroys the most important base of the best CTCF match."""
    log_odds = np.log2((pwm + 1e-3) / (1 + 4e-3) / 0.25)  # (w, 4)
    width = len(pwm)
    reverse = log_odds[::-1, ::-1]  # the matrix on the other strand
    rows = []
    for start, end in peaks:
        seq = genome.fetch(CONTIG, start, end)
        codes = np.array(["ACGT".find(b) for b in seq])
        best = (-np.inf, 0, 0)
        for offset in range(len(seq) - width + 1):
            window = codes[offset : offset + width]
            if (window < 0).any():
                continue
            for strand, matrix in ((1, log_odds), (-1, reverse)):
                score = matrix[np.arange(width), window].sum()
                if score > best[0]:
                    best = (score, offset, strand)
        _, offset, strand = best
        matrix = log_odds if strand == 1 else reverse
        window = codes[offset : offset + width]
        column = int(np.argmax(matrix[np.arange(width), window]))
        worst = int(np.argmin(matrix[column]))
        position = start + offset + column  # 0-based
        rows.append((CONTIG, position + 1, seq[offset + column], "ACGT"[worst]))
    return rows


def background_variants(genome, peaks, n: int, length: int, seed: int):
    """``n`` random SNVs on chr20 at least one model window away from every peak."""
    rng = np.random.default_rng(seed)
    size = genome.contigs[genome.resolve(CONTIG)]
    starts = np.array([s for s, _ in peaks])
    ends = np.array([e for _, e in peaks])
    rows = []
    while len(rows) < n:
        p = int(rng.integers(length, size - length))
        i = np.searchsorted(starts, p)
        near = [j for j in (i - 1, i) if 0 <= j < len(starts)]
        if any(starts[j] - length <= p < ends[j] + length for j in near):
            continue
        window = genome.fetch(CONTIG, p - length // 2, p + length // 2 + 1)
        if "N" in window:
            continue
        ref = window[length // 2]
        rows.append((CONTIG, p + 1, ref, "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]))
    return sorted(rows, key=lambda r: r[1])


def biology(model_dir: Path, genome, data: Path) -> dict:
    import pandas as pd

    from seqcnn.bundle import load_model
    from seqcnn.motifs import jaspar_motifs
    from seqcnn.variants import score_variants

    model = load_model(model_dir)
    name = next(k for k in jaspar_motifs() if k.startswith("MA0139"))
    peaks = peak_windows(data)
    core = core_variants(genome, peaks, np.asarray(jaspar_motifs()[name]))
    background = background_variants(genome, peaks, len(core), model.input_length, seed=2)
    column = f"{model.output_names[0]}_diff"
    result = {"motif": name, "peaks": len(peaks), "output": model.output_names[0]}
    for label, rows in (("core", core), ("background", background)):
        frame = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
        effects = score_variants(model, frame, genome)
        assert (effects.ref_match == "match").all()
        diff = effects[column].to_numpy(np.float64)
        result[label] = {
            "n": len(diff),
            "lower": float((diff < 0).mean()),
            "median": float(np.median(diff)),
            "abs quantiles": [float(q) for q in np.quantile(np.abs(diff), [0.5, 0.9, 0.99])],
            "ref median": float(effects[f"{model.output_names[0]}_ref"].median()),
            "abs logit quantiles": [
                float(q)
                for q in np.quantile(
                    np.abs(effects[f"{model.output_names[0]}_logit_diff"]), [0.5, 0.9, 0.99]
                )
            ],
        }  # fmt: skip
    print(result, flush=True)
    return result


def machine(load_before: tuple) -> str:
    import torch

    try:
        git = ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"]
        commit = subprocess.run(git, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    load_after = os.getloadavg()
    threads = torch.get_num_threads()
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({threads} thread{'s' if threads != 1 else ''}), "
        f"commit {commit}; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (the machine "
        "is shared: best of the repeats)"
    )


def describe_model(folder: Path) -> str:
    """The model's folder, how it was trained and its validation metrics."""
    import json

    config = json.loads((folder / "config.json").read_text())
    training = config.get("training", {})
    valid = config.get("metrics", {}).get("valid", {})
    text = f"`{folder}`"
    if training.get("note"):
        text += f", {training['note']}"
    elif training.get("epochs_run"):
        text += f", {training['epochs_run']} epochs (best {training.get('best_epoch')})"
    if valid.get("auroc"):
        text += f"; validation AUROC {valid['auroc']:.4f}, AUPRC {valid.get('auprc', 0):.4f}"
    return text


def report(speeds: list[dict], bio: dict | None, where: str, model: str) -> str:
    lines = [
        MARK_START,
        "## Variant effects (benchmarks/variants.py)",
        "",
        f"Measured on: {where}.",
        "",
        f"Model: {model}.",
        "",
    ]
    if speeds:
        lines += [
            "Speed, CTCF model (100 bp, both strands: 4 forward passes per variant), batch 256. "
            "*variants*: `score_variants_file` end to end (VCF, genome, normalisation, windows, "
            "network, table); *predict*: `predict_file` on a FASTA of the same 2 windows per "
            "variant (same strands); *network*: `run_network` alone on those windows.",
            "",
            "Wall-clock seconds, then CPU seconds of the process (all threads; steadier than the "
            "wall clock on a shared machine, but blind to the overlap of genome reading and "
            "forward passes); the ratio is predict's time over variants' in the same repeat, "
            "the median over the repeats (>= 0.9 asked).  *Reading*: the VCF, the genome, "
            "normalisation and windows alone (`variant_codes` over the VCF's chunks), which "
            "`score_variants_file` runs in a thread beside the forward passes.",
            "",
            "| layout | variants | variants s | predict s | network s | variants/s | ratio "
            "| CPU s: variants / predict / network | CPU ratio | CPU s of reading |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in speeds:
            s, c = r["seconds"], r["cpu"]
            lines.append(
                f"| {r['layout']} | {r['variants']:,} | {s['variants']:.2f} | {s['predict']:.2f} | "
                f"{s['network']:.2f} | {r['variants'] / s['variants']:,.0f} | {r['ratio']:.2f} | "
                f"{c['variants']:.2f} / {c['predict']:.2f} / {c['network']:.2f} | "
                f"{r['cpu ratio']:.2f} | {c['reading']:.2f} |"
            )
        lines += ["", SPEED_NOTE]
        lines.append("")
    if bio:
        lines += [
            f"Biology: {bio['peaks']} CTCF peaks on chr20 (training chromosome of the model); "
            f"the most important base of the best {bio['motif']} match per peak mutated to the "
            f"matrix's least likely base, against as many random SNVs one window away from any "
            f"peak.  `{bio['output']}_diff` = alt - ref probability:",
            "",
            "| set | variants | lower the score | median diff | abs diff quantiles 50/90/99 % "
            "| abs logit diff quantiles | median ref |",
            "|---|---|---|---|---|---|---|",
        ]
        for label in ("core", "background"):
            b = bio[label]
            q = " / ".join(f"{v:.4f}" for v in b["abs quantiles"])
            logit = " / ".join(f"{v:.3f}" for v in b["abs logit quantiles"])
            lines.append(
                f"| {label} | {b['n']} | {b['lower']:.1%} | {b['median']:.4f} | {q} | "
                f"{logit} | {b['ref median']:.3f} |"
            )
        lines.append("")
    lines.append(MARK_END)
    return "\n".join(lines)


def write_results(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else ""
    if MARK_START in old and MARK_END in old:
        head, rest = old.split(MARK_START, 1)
        new = head + text + rest.split(MARK_END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", default="speed,biology")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", type=Path, default=Path("bench-out/variants"))
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    from seqcnn.genome import Genome
    from seqcnn.threads import set_threads

    set_threads(args.threads)
    load_before = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    model = ctcf_model(args.data, args.model, args.out)
    genome = Genome(args.data / "genome" / "hg19_chr20.fa.gz")
    only = set(args.only.split(","))
    speeds = speed(model, genome, args.out, args.n, args.repeats) if "speed" in only else []
    bio = biology(model, genome, args.data) if "biology" in only else None
    text = report(speeds, bio, machine(load_before), describe_model(model))
    print(text)
    if not args.no_results:
        write_results(args.results, text)


if __name__ == "__main__":
    main()

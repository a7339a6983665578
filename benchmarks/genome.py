"""Benchmark: peaks on a real chromosome, against real background, and the speed of a scan.

Uses ``../shared/data`` (see its README): ``ctcf.fa.gz`` and ``pu1.fa.gz`` (100 bp ChIP-seq
peak summits, ids ``chr20:start-end``) and ``genome/hg19_chr20.fa.gz`` (hg19 chr20, whose
record is named ``20``).  For each factor:

1. **Shuffled negatives, whole chr20.**  Train on the peaks of every other chromosome
   against dinucleotide-shuffled copies, as ``seqcnn encode --shuffled-negatives`` does
   (validation chr4-5; chr20 is the test set, whose AUROC/AUPRC against shuffles is the
   "shuffled" baseline).  Scan all of chr20 (windows of 100 bp every 50 bp).  Then score
   the chr20 peaks against (a) GC-matched chr20 background windows, one per peak, drawn by
   :func:`seqcnn.negatives.gc_matched_negatives` on the scan's own grid, and (b) every
   scanned window that overlaps no peak; and report the share of chr20 peaks among the
   top-k scanned windows (k = the number of peaks).
2. **GC-matched negatives, half of chr20.**  ``seqcnn encode --bed --negatives
   gc-matched`` on the chr20 peaks of the first half of the chromosome (negatives drawn
   from that half only, ``--exclude`` the second), train, scan the second half and
   evaluate there as in 1 (model 1 is evaluated on the same half for comparison).
3. **Speed and memory.**  ``seqcnn scan`` of chr20 (63 Mbp, to a bigWig) against
   ``seqcnn predict`` of the same windows written as FASTA, same model and batch size, each
   a subprocess with its peak RSS measured; the values must agree.  The run fails (exit 1)
   when the scan is slower than 0.9x predict's windows per second.

Definitions.  A peak's score is the highest value of the scanned windows whose centre lies
in the peak (the scan grid is not aligned to summits: a window is at most 25 bp off).  A
window is a *peak window* when its centre lies in a peak; the top-k share is the share of
peak windows among the k highest-scoring windows.  (a) has one negative per peak, so its
AUPRC compares with the shuffled baseline (also one per peak); (b) has the real
chromosome's ratio (about one peak window per thousand).

Usage::

    python benchmarks/genome.py [DATA] [--factors ctcf,pu1] [--epochs 4] [--out bench-out/genome]
        [--threads N] [--repeats N] [--span START-END]   # START-END: a stretch of chr20

To fit in about 20 minutes on 2 CPUs (19 min measured with ``--threads 1 --repeats 2`` on
two CPUs shared with other jobs), model 1 trains for at most ``--epochs`` epochs
(the default ``cnn`` otherwise runs up to 100 with early stopping), and no model is trained
with ``--rc-augment``, so every window is predicted on one strand (half the work of a scan
averaging both); the output says so.  Model 2, trained on a thousand windows or so, runs
with the defaults.  On a machine shared with other jobs, ``--threads 1`` is much faster
(two torch threads on an oversubscribed pair of CPUs wait for each other).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from encode import run_measured  # benchmarks/encode.py: a launcher measuring peak RSS

ROOT = Path(__file__).resolve().parents[1]
LENGTH = 100  # the peaks' length, and the models' input
STRIDE = 50  # scan's default: half the input
BATCH = 256
CHROM = "chr20"
SPEED_TARGET = 0.9


def chr20_peaks(fasta: Path, lo: int, hi: int) -> np.ndarray:
    """``(n, 2)`` start, end of the peaks inside ``[lo, hi)`` of chr20, sorted."""
    import gzip

    spans = []
    with gzip.open(fasta, "rt") as handle:
        for line in handle:
            if line.startswith(f">{CHROM}:"):
                start, end = map(int, line[len(CHROM) + 2 :].split()[0].split("-"))
                if lo <= start and end <= hi:
                    spans.append((start, end))
    return np.array(sorted(spans), dtype=np.int64).reshape(-1, 2)


def outside(lo: int, hi: int, size: int):
    """The parts of chr20 outside ``[lo, hi)``, as ``exclude`` regions."""
    return [CHROM, CHROM], np.array([0, hi]), np.array([lo, size])


def evaluate(starts, values, peaks, gc_starts) -> dict:
    """AUROC/AUPRC of peaks against GC-matched and all background, and the top-k share."""
    from seqcnn.metrics import auprc, auroc

    order = np.argsort(starts)
    starts, values = starts[order], values[order]
    centres = starts + LENGTH // 2
    first, last = peaks[:, 0], np.maximum.accumulate(peaks[:, 1])
    k = np.searchsorted(first, centres, "right") - 1
    in_peak = (k >= 0) & (centres < peaks[np.maximum(k, 0), 1])
    scores = np.full(len(peaks), -np.inf)
    np.maximum.at(scores, k[in_peak], values[in_peak])
    scored = np.isfinite(scores)
    j = np.searchsorted(first, starts + LENGTH) - 1  # the last peak starting before the end
    overlaps = (j >= 0) & (last[np.maximum(j, 0)] > starts)
    background = values[~overlaps]
    at = np.minimum(np.searchsorted(starts, gc_starts), len(starts) - 1)
    matched = values[at[starts[at] == gc_starts]]
    row = {"peaks": int(scored.sum()), "background": len(background), "windows": len(values)}
    positive = scores[scored]
    for name, negative in (("gc", matched), ("all", background)):
        y = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
        x = np.r_[positive, negative]
        row[f"auroc_{name}"], row[f"auprc_{name}"] = auroc(y, x), auprc(y, x)
    top = np.argsort(-values, kind="stable")[: row["peaks"]]
    row["top_k"] = float(in_peak[top].mean())
    return row


def gc_background(genome, peaks, seed: int, exclude) -> np.ndarray:
    """Starts of one GC-matched background window per peak, on the scan's grid."""
    from seqcnn.negatives import gc_matched_negatives

    centres = (peaks[:, 0] + peaks[:, 1]) // 2
    sample = gc_matched_negatives(
        genome,
        [CHROM] * len(peaks),
        centres - LENGTH // 2,
        LENGTH,
        ratio=1,
        stride=STRIDE,
        seed=seed,
        exclude=exclude,
    )
    return sample.starts


def read_bigwig(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and values of a one-contig scan track."""
    import pybigtools

    reader = pybigtools.open(str(path))
    (chrom,) = reader.chroms()
    records = np.array([(a, v) for a, _, v in reader.records(chrom)], dtype=np.float64)
    return records[:, 0].astype(np.int64) - (LENGTH - STRIDE) // 2, records[:, 1]


def write_windows(genome, starts: np.ndarray, path: Path) -> None:
    """The windows as FASTA, ids ``chr20:start-end``, in scan order."""
    from seqcnn.alphabet import IUPAC_CODES

    letters = np.frombuffer(IUPAC_CODES.encode(), dtype=np.uint8)
    with open(path, "w") as handle:
        for a in range(0, len(starts), 100_000):
            block = starts[a : a + 100_000]
            rows = letters[genome.window_codes(CHROM, block, LENGTH)].view(f"S{LENGTH}").ravel()
            handle.write(
                "".join(
                    f">{CHROM}:{s}-{s + LENGTH}\n{r.decode()}\n"
                    for s, r in zip(block.tolist(), rows, strict=True)
                )
            )


def seqcnn_command(*args) -> list[str]:
    return [sys.executable, "-m", "seqcnn", *map(str, args)]


def model_one(name, fasta, genome_path, region, out, epochs, timed) -> tuple[dict, tuple, Path]:
    """Train on the other chromosomes vs shuffles, scan ``region``: (info, scan, model)."""
    import seqcnn

    dataset = seqcnn.encode(fasta, out / f"{name}.ds", shuffled_negatives=1, overwrite=True)
    started = time.perf_counter()
    result = seqcnn.train(
        dataset,
        out / f"{name}.model",
        overwrite=True,
        epochs=epochs,
        test_chroms=[CHROM],
        valid_chroms=["chr4", "chr5"],
        seed=0,
    )
    info = {
        "train_min": (time.perf_counter() - started) / 60,
        "test": result.metrics["test"],
        "epochs": len(result.history),
    }
    track = out / f"{name}.chr20.bw"
    command = seqcnn_command(
        "scan",
        "-m",
        out / f"{name}.model",
        "--genome",
        genome_path,
        "--regions",
        region,
        "--batch-size",
        BATCH,
        "-o",
        track,
        "--force",
        "--quiet",
    )
    if timed:
        info["scan_s"], info["scan_rss"] = run_measured(command)
        info["scan_command"] = command
    else:
        subprocess.run(command, check=True)
    return info, read_bigwig(track), out / f"{name}.model"


def model_two(name, peaks, genome, out, lo, half, size) -> tuple[dict, Path]:
    """Peaks of ``[lo, half)`` against GC-matched windows of that stretch only."""
    import seqcnn
    from seqcnn.intervals import encode_intervals

    train_peaks = peaks[peaks[:, 1] <= half - LENGTH]
    bed, exclude = out / f"{name}.train.bed", out / f"{name}.exclude.bed"
    bed.write_text("".join(f"{CHROM}\t{a}\t{b}\n" for a, b in train_peaks))
    exclude.write_text(f"{CHROM}\t0\t{max(lo, 1)}\n{CHROM}\t{half - LENGTH}\t{size}\n")
    started = time.perf_counter()
    dataset = encode_intervals(
        bed,
        genome,
        out / f"{name}.gc.ds",
        length=LENGTH,
        negatives="gc-matched",
        exclude=exclude,
        overwrite=True,
    )
    result = seqcnn.train(dataset, out / f"{name}.gc.model", overwrite=True, seed=0)
    info = {
        "train_min": (time.perf_counter() - started) / 60,
        "peaks": len(train_peaks),
        "ks": dataset.header["negatives"]["ks_statistic"],
        "epochs": len(result.history),
    }
    return info, out / f"{name}.gc.model"


def speed(model: Path, genome, scan_info: dict, scanned, out: Path, repeats: int) -> dict:
    """Predict the scanned windows from FASTA, timed; compare with the scan's time/values.

    With ``repeats`` > 1, predict and scan alternate and the best time of each counts (the
    machine may be shared).
    """
    import pandas as pd

    starts, values = scanned
    fasta, predicted = out / "chr20_windows.fa", out / "chr20_windows.tsv"
    write_windows(genome, starts, fasta)
    command = seqcnn_command(
        "predict", fasta, "-m", model, "-o", predicted, "--batch-size", BATCH, "--quiet"
    )
    scans, predicts = [(scan_info["scan_s"], scan_info["scan_rss"])], []
    for repeat in range(repeats):
        predicted.unlink(missing_ok=True)
        predicts.append(run_measured(command))
        if repeat + 1 < repeats:
            scans.append(run_measured(scan_info["scan_command"]))
    table = pd.read_csv(predicted, sep="\t")
    difference = float(np.abs(table.iloc[:, 1].to_numpy() - values).max())
    fasta.unlink()
    n, scan_s, predict_s = len(starts), min(scans)[0], min(predicts)[0]
    return {
        "windows": n,
        "scan_s": scan_s,
        "scan_rss": max(rss for _, rss in scans),
        "predict_s": predict_s,
        "predict_rss": max(rss for _, rss in predicts),
        "max_difference": difference,
        "scan_rate": n / scan_s,
        "predict_rate": n / predict_s,
        "repeats": repeats,
        "all_scan_s": [round(t, 1) for t, _ in scans],
        "all_predict_s": [round(t, 1) for t, _ in predicts],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--factors", default="ctcf,pu1")
    parser.add_argument("--epochs", type=int, default=4, help="most epochs of model 1")
    parser.add_argument("--threads", type=int, help="CPU threads [default: all CPUs]")
    parser.add_argument(
        "--repeats", type=int, default=1, help="timed scan/predict runs (the best counts)"
    )
    parser.add_argument("--out", default="bench-out/genome")
    parser.add_argument("--span", help="START-END: a stretch of chr20 instead of all of it")
    args = parser.parse_args(argv)
    if args.threads:  # before torch starts its pool; the seqcnn subprocesses inherit it
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    from seqcnn.genome import Genome
    from seqcnn.scan import scan

    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    genome_path = data / "genome" / "hg19_chr20.fa.gz"
    genome = Genome(genome_path)
    size = genome.contigs[genome.resolve(CHROM)]
    lo, hi = map(int, args.span.split("-")) if args.span else (0, size)
    lo, hi = lo // STRIDE * STRIDE, min(hi, size)
    half = (lo + hi) // 2 // STRIDE * STRIDE
    where = CHROM if (lo, hi) == (0, size) else f"{CHROM}:{lo}-{hi}"
    load_before, began = os.getloadavg(), time.perf_counter()
    rows, timing = [], None
    notes = [
        f"Smaller than the defaults, to fit the time: model 1 trains for at most {args.epochs} "
        "epochs; no model is trained with --rc-augment, so windows are predicted on one "
        "strand.  Default cnn otherwise, seed 0."
    ]
    for n, name in enumerate(args.factors.split(",")):
        fasta = data / f"{name}.fa.gz"
        peaks = chr20_peaks(fasta, lo, hi)
        one, (starts, values), model = model_one(
            name, fasta, genome_path, where, out, args.epochs, timed=n == 0
        )
        notes.append(
            f"{name} model 1: {one['epochs']} epoch(s) (at most {args.epochs}), "
            f"{one['train_min']:.1f} min"
        )
        if n == 0:
            timing = speed(model, genome, one, (starts, values), out, args.repeats)
        whole_gc = gc_background(genome, peaks, 1, outside(lo, hi, size))
        scores = evaluate(starts, values, peaks, whole_gc)
        rows.append((name, "1: shuffled negatives, other chromosomes", where, one["test"], scores))
        second = peaks[peaks[:, 0] >= half]
        test_gc = gc_background(genome, second, 2, outside(half, hi, size))
        keep = starts >= half
        scores = evaluate(starts[keep], values[keep], second, test_gc)
        rows.append(
            (name, "1: shuffled negatives, other chromosomes", "2nd half", one["test"], scores)
        )
        two, model2 = model_two(name, peaks, genome, out, lo, half, size)
        notes.append(
            f"{name} model 2: {two['peaks']} peaks + as many GC-matched negatives "
            f"(GC KS statistic {two['ks']:.3f}), {two['epochs']} epochs, "
            f"{two['train_min']:.1f} min"
        )
        frame = scan(model2, genome, regions=f"{CHROM}:{half}-{hi}", batch_size=BATCH)
        scores = evaluate(
            frame["start"].to_numpy(), frame.iloc[:, 3].to_numpy(np.float64), second, test_gc
        )
        rows.append((name, "2: GC-matched negatives, 1st half", "2nd half", None, scores))
    minutes = (time.perf_counter() - began) / 60
    print(report(rows, notes, timing, load_before, os.getloadavg(), minutes, torch))
    ratio = timing["scan_rate"] / timing["predict_rate"]
    if ratio < SPEED_TARGET:
        print(f"FAIL: scan {ratio:.2f}x predict's windows per second (target >= {SPEED_TARGET})")
        return 1
    return 0


def report(rows, notes, timing, load_before, load_after, minutes, torch) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), commit {commit}{' + local changes' if dirty else ''}"
        f"; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; whole run "
        f"{minutes:.1f} min.",
        "",
        "| factor | model | evaluated on | shuffled AUROC / AUPRC (chr20 test set) | peaks | "
        "GC-matched AUROC / AUPRC | all background AUROC / AUPRC | background windows | "
        "top-k share |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, model, where, test, r in rows:
        shuffled = f"{test['auroc']:.4f} / {test['auprc']:.4f}" if test else "-"
        lines.append(
            f"| {name} | {model} | {where} | {shuffled} | {r['peaks']:,} | "
            f"{r['auroc_gc']:.4f} / {r['auprc_gc']:.4f} | {r['auroc_all']:.4f} / "
            f"{r['auprc_all']:.4f} | {r['background']:,} | {r['top_k']:.3f} |"
        )
    t = timing
    lines += [
        "",
        *[f"- {note}" for note in notes],
        "",
        f"| chr20, {t['windows']:,} windows of {LENGTH} bp, batch {BATCH} | wall s | "
        "windows/s | peak RSS MB |",
        "|---|---|---|---|",
        f"| `seqcnn scan --regions chr20 -o chr20.bw` | {t['scan_s']:.1f} | "
        f"{t['scan_rate']:,.0f} | {t['scan_rss']:.0f} |",
        f"| `seqcnn predict windows.fa -o out.tsv` (same windows) | {t['predict_s']:.1f} | "
        f"{t['predict_rate']:,.0f} | {t['predict_rss']:.0f} |",
        "",
        f"Scan / predict: **{t['scan_rate'] / t['predict_rate']:.2f}x** windows per second "
        f"(target >= {SPEED_TARGET}; best of {t['repeats']}: scan {t['all_scan_s']} s, "
        f"predict {t['all_predict_s']} s); largest difference between their values "
        f"{t['max_difference']:.1e}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

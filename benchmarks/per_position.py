"""Benchmark: per-position models (issue 17), simulated and on real CTCF peaks of chr20.

``--simulated`` (exit 1 below the targets):

1. ``seqcnn simulate --per-position -n N`` (200 bp, the twelve planted motifs), encoded as a
   segmentation dataset (``--sites planted_sites.tsv``: a 0/1 track per motif) and a profile
   dataset (``--labels-npy planted_counts.npz --task profile``).
2. A ``unet`` (first layer 32 x 15, ``encoder_filters`` 32/64, bottleneck 64: 167k weights)
   for segmentation and a ``bpnet`` (64 x 21, 4 dilated layers, profile width 25, counts
   head ``counts_pool=logmeanexp``: 75k weights, output the central 156 bases) for the
   profiles, both with ``--rc-augment``,
   seed 0, a seeded 70/10/20 split (the rows of ``split_indices(test_fraction=0.2)``).
   The BPNet's lambda (weight of the counts term) is BPNet's rule, median total / 10,
   taken over the sequence-tracks that hold an instance: over all of them (6 in 7 hold
   background only) the rule gives 1 and the counts head learns slowly.
3. On the test rows: the U-Net's per-base AUPRC (per track over every base, then the mean
   of the tracks, as the training metric) next to two *known-PWM oracles* scored the same
   way.  Both know the planted matrices; for a motif of width ``w`` the log-likelihood
   ratio (matrix against the uniform background) of each window is computed on both strands.

   - ``max-LLR``: a base scores the highest ratio of the windows that cover it (either
     strand).
   - ``posterior`` (the reference of the target): each window start holds an instance
     independently with the prior ``pi`` (the motif's planted instances per possible start
     in the data, half on each strand), so its posterior is
     ``q = pi*LR / (1 - pi + pi*LR)`` with ``LR`` the mean of the two strands' ratios; a
     base is inside an instance with probability ``1 - prod(1 - q)`` over the ``w``
     windows covering it.  Ranked by ``-sum log(1 - q)``.

   The target: U-Net AUPRC within 0.05 of the better oracle.  The profile model is scored
   against the **true rates** (``planted_rates.npz``): profile Pearson and Jensen-Shannon
   distance (``seqcnn.position_metrics``: per sequence and track, averaged where defined;
   tracks without an instance have a flat true profile, so Pearson leaves them out while
   JSD does not, hence also the JSD over the sequence-tracks with an instance) and counts
   Pearson (per track, ``log(1 + total)`` against the predicted log total across the test
   sequences, mean of tracks); target >= 0.9.  The same metrics against the observed counts
   are shown beside them, and so is the counts Pearson of a known-PWM oracle
   (:func:`counts_oracle`: the posterior expectation of the total given the sequence and
   the planted matrices), which shows how much of the total the sequence alone determines:
   a planted instance and a chance match of the same bases cannot be told apart.

``--real`` (no target; numbers to compare):

1. chr20 of hg19 cut into 2 kb tiles (``--span``; tiles with more than half N skipped); the
   CTCF peaks of chr20 (the 100 bp summits in ``ctcf.fa.gz``) as a BED.  The span is cut
   in three: train (the first 40 %), validation (the next 10 %), test (the second half).
2. ``seqcnn encode --bed tiles.bed --genome ... --length 2000 --sites peaks.bed``.  The
   U-Net (16 x 15, ``encoder_filters`` 16/32/64, bottleneck 64: 171k weights) trains on the
   training tiles that hold a peak plus ``--background`` times as many other training tiles
   drawn at random (early stopping on the same kind of sample of the validation part);
   its threshold and the evaluation use every tile of the validation and test parts.
3. The per-sequence ``cnn`` (defaults, ``--rc-augment``) trains on 100 bp windows of the
   training part's peaks against GC-matched background of that part
   (``--negatives gc-matched``, the rest of chr20 ``--exclude``d) and is scanned with
   ``seqcnn scan --stride 50`` over the validation and test parts: each base gets the value
   of the window whose central 50 bases hold it (bases no window reaches count as the
   lowest score).
4. Per model, over every base of the test tiles: per-base AUROC/AUPRC; the threshold is the
   lowest at which the per-base precision on the validation tiles is >= 0.5 (the largest
   recall at that precision); a test peak is *recalled* when the model's highest value over
   its bases reaches the threshold.  Peaks outside the test tiles are left out.

Usage::

    python benchmarks/per_position.py --simulated [--n 6000] [--epochs 25] [--out DIR]
    python benchmarks/per_position.py --real [DATA] [--span 0-63025520] [--epochs 25]

``make demo-unet`` runs ``--simulated --only segmentation`` at a small scale.  On 2 busy
CPUs (one thread, load ~9) an epoch took ~35 s for the simulated U-Net at ``--n 6000``,
~15 s for the BPNet and ~35 s for the real U-Net; predicting chr20's validation and test
tiles ~6.5 min, the scan ~3.3 min.

Both print a markdown table and write ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROM = "chr20"
TILE = 2000
PEAK_WINDOW = 100  # the peaks' length, and the per-sequence cnn's input
STRIDE = 50
AUPRC_MARGIN = 0.05
COUNTS_TARGET = 0.9
PRECISION = 0.5

UNET_SIMULATED = {"first_filters": 32, "encoder_filters": [32, 64], "bottleneck_filters": 64}
BPNET_SIMULATED = {
    "first_filters": 64,
    "dilated_layers": 4,
    "profile_width": 25,
    "counts_pool": "logmeanexp",
}
UNET_REAL = {"first_filters": 16, "encoder_filters": [16, 32, 64], "bottleneck_filters": 64}


# --threads N for the commands that take it (encode, scan), set by main
THREAD_OPTION: list[str] = []


def seqcnn_cli(*args) -> None:
    """Run a seqcnn command in a subprocess (the command line as a user runs it)."""
    extra = THREAD_OPTION if args[0] in ("encode", "scan") else []
    subprocess.run([sys.executable, "-m", "seqcnn", *map(str, args), *extra], check=True)


# ---------------------------------------------------------------------------- oracle


def window_llr(x: np.ndarray, pfm: np.ndarray) -> np.ndarray:
    """Natural-log likelihood ratio (matrix vs uniform) of every window, both strands.

    Parameters
    ----------
    x
        One-hot sequences ``(N, 4, L)``.
    pfm
        Probability matrix ``(w, 4)``, columns A, C, G, T.

    Returns
    -------
    np.ndarray
        ``(2, N, L - w + 1)``: forward strand, then the reverse complement, by start.
    """
    return window_scores(x, np.log(np.maximum(pfm, 1e-9) / 0.25))


def window_scores(x: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Sum of a per-position score matrix ``(w, 4)`` over every window of one-hot ``x``
    ``(N, 4, L)``: ``(2, N, L - w + 1)``, forward strand, then the reverse complement."""
    width, length = scores.shape[0], x.shape[2]
    out = np.zeros((2, len(x), length - width + 1))
    for strand, matrix in enumerate((scores, scores[::-1, ::-1])):
        for i in range(width):
            out[strand] += np.einsum("ncl,c->nl", x[:, :, i : length - width + 1 + i], matrix[i])
    return out


def instance_posterior(llr: np.ndarray, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """``log q`` and ``log(1 - q)`` per window start: ``q = pi*LR / (1 - pi + pi*LR)``, the
    posterior that an instance starts there, ``LR`` the mean of the two strands' ratios
    (``llr`` from :func:`window_llr`); stable for large ratios."""
    mean_lr = np.logaddexp(llr[0], llr[1]) - np.log(2)
    evidence = np.logaddexp(np.log1p(-prior), np.log(prior) + mean_lr)
    return np.log(prior) + mean_lr - evidence, np.log1p(-prior) - evidence


def per_base_oracle(x: np.ndarray, pfm: np.ndarray, prior: float) -> dict[str, np.ndarray]:
    """Per-base scores of a known-PWM scanner (see the module docs).

    Parameters
    ----------
    x
        One-hot sequences ``(N, 4, L)``.
    pfm
        The motif's probability matrix ``(w, 4)``.
    prior
        Probability that an instance starts at a given position (either strand).

    Returns
    -------
    dict
        ``"max_llr"`` and ``"posterior"``, each ``(N, L)``: the highest window ratio
        covering a base, and ``-log P(the base is outside every instance)``.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    llr = window_llr(x, pfm)
    width = pfm.shape[0]
    pad = ((0, 0), (width - 1, width - 1))
    best = np.pad(llr.max(axis=0), pad, constant_values=-np.inf)
    max_llr = sliding_window_view(best, width, axis=1).max(axis=-1)
    log_outside = instance_posterior(llr, prior)[1]
    summed = sliding_window_view(np.pad(log_outside, pad), width, axis=1).sum(axis=-1)
    return {"max_llr": max_llr, "posterior": -summed}


def counts_oracle(x: np.ndarray, pfm: np.ndarray, prior: float, output_length: int) -> np.ndarray:
    """A known-PWM scanner's expected total count over the central ``output_length`` bases.

    Each window start holds an instance independently with the prior (as for
    :func:`per_base_oracle`), on a strand in proportion to the strands' ratios; an
    instance adds ``strength * affinity`` counts spread by the footprint of
    :func:`seqcnn.simulate_position.simulate_profiles` (its default parameters), of which
    the part inside the output window counts.  The expectation over the posterior, plus
    the background, is returned, ``(N,)``: what the sequence alone says of the total when
    a planted instance and a chance match of the same bases cannot be told apart.
    """
    import inspect

    from seqcnn.simulate_position import simulate_profiles

    defaults = {
        name: p.default for name, p in inspect.signature(simulate_profiles).parameters.items()
    }
    width, length = pfm.shape[0], x.shape[2]
    llr = window_llr(x, pfm)  # (2, N, S)
    relative = np.log(np.maximum(pfm, 1e-9) / pfm.max(axis=1, keepdims=True))
    affinity = np.exp(window_scores(x, relative) / width)
    log_q = instance_posterior(llr, prior)[0]
    strand_share = np.exp(llr - np.logaddexp(llr[0], llr[1]))  # P(strand | instance)
    expected_affinity = (strand_share * affinity).sum(axis=0)
    # share of an instance's footprint inside the output window, by its start
    lo = (length - output_length) // 2
    centres = np.arange(length - width + 1) + (width - 1) / 2
    bases = np.arange(length)
    u = bases[None, :] - centres[:, None]
    offset, sigma = defaults["offset"], defaults["sigma"]
    peaks = np.exp(-0.5 * ((u + offset) / sigma) ** 2) + np.exp(-0.5 * ((u - offset) / sigma) ** 2)
    footprint = np.where(np.abs(u) <= offset + 5 * sigma, peaks, 0) / (
        2 * sigma * np.sqrt(2 * np.pi)
    )
    inside = footprint[:, lo : lo + output_length].sum(axis=1)
    added = defaults["strength"] * (np.exp(log_q) * expected_affinity * inside).sum(axis=1)
    return defaults["background"] * output_length + added


def per_track_auprc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean over tracks of the per-base AUPRC, as ``seqcnn.position_metrics`` computes it."""
    from seqcnn.position_metrics import compute_position_metrics

    return compute_position_metrics("segmentation", labels, scores)["auprc"]


# ------------------------------------------------------------------------- simulated


def simulated(args) -> tuple[dict, str, bool]:
    """Simulate, train the model(s) of ``args.only``, evaluate; (summary, markdown, met)."""
    from seqcnn.splits import split_indices

    out = Path(args.out)
    sim = out / "sim"
    seqcnn_cli("simulate", "-o", sim, "-n", args.n, "--per-position", "--seed", args.seed, "-f")
    seg = encode_simulated(sim, out / "seg.ds", "--sites", sim / "planted_sites.tsv")
    test = split_indices(seg.ids, valid_fraction=0.1, test_fraction=0.2, seed=args.seed)["test"]
    summary = {"n": args.n, "test_rows": len(test), "timing": {}}
    met = True
    if args.only in (None, "segmentation"):
        summary["segmentation"] = segmentation_run(args, seg, test, summary["timing"])
        row = summary["segmentation"]
        met &= row["unet_auprc"] >= row["oracle_auprc"] - AUPRC_MARGIN
    if args.only in (None, "profile"):
        prof = encode_simulated(
            sim, out / "profile.ds", "--labels-npy", sim / "planted_counts.npz", "--task", "profile"
        )
        summary["profile"] = profile_run(args, prof, seg, test, summary["timing"])
        met &= summary["profile"]["rates_counts_pearson"] >= COUNTS_TARGET
    summary["targets_met"] = bool(met)
    return summary, simulated_table(summary), met


def encode_simulated(sim: Path, out: Path, *options):
    """``seqcnn encode sim/planted.fa OPTIONS -o out``, loaded."""
    from seqcnn.dataset import load_dataset

    seqcnn_cli("encode", sim / "planted.fa", *options, "-o", out, "-f", "-q")
    return load_dataset(out)


def train_simulated(args, dataset, out: Path, architecture: str, options: dict, timing, **extra):
    """Train on the 70 % of the rows :func:`simulated`'s test split leaves, timed."""
    import seqcnn

    started = time.perf_counter()
    result = seqcnn.train(
        dataset,
        out,
        architecture=architecture,
        model_options=options,
        epochs=args.epochs,
        test_fraction=0.2,
        seed=args.seed,
        rc_augment=True,
        device="cpu",
        overwrite=True,
        **extra,
    )
    timing[f"{architecture}_min"] = (time.perf_counter() - started) / 60
    return result


def segmentation_run(args, seg, test: np.ndarray, timing: dict) -> dict:
    """The U-Net's per-base AUPRC on the test rows next to both oracles'."""
    import pandas as pd

    from seqcnn.forward import run_network
    from seqcnn.position_metrics import compute_position_metrics
    from seqcnn.simulate import read_planted_motifs

    out = Path(args.out)
    unet = train_simulated(args, seg, out / "unet", "unet", UNET_SIMULATED, timing)
    x = seg.one_hot(test)
    labels = np.asarray(seg.labels[test])
    model = unet.model
    logits = run_network(model.network, x, rc_average=model.rc_average, batch_size=256)
    instances = pd.read_csv(out / "sim" / "planted_instances.tsv", sep="\t")
    motifs = read_planted_motifs()
    oracle = {"max_llr": np.zeros(labels.shape), "posterior": np.zeros(labels.shape)}
    for track, name in enumerate(seg.label_names):
        pfm = motifs[name]
        starts = len(seg) * (seg.length - pfm.shape[0] + 1)
        prior = float((instances["motif"] == name).sum()) / starts
        for key, value in per_base_oracle(x, pfm, prior).items():
            oracle[key][:, track] = value
    row = {
        "unet_auprc": per_track_auprc(labels, logits),
        "oracle_max_llr_auprc": per_track_auprc(labels, oracle["max_llr"]),
        "oracle_posterior_auprc": per_track_auprc(labels, oracle["posterior"]),
        "unet_auroc": compute_position_metrics("segmentation", labels, logits)["auroc"],
        "epochs": len(unet.history),
    }
    row["oracle_auprc"] = max(row["oracle_max_llr_auprc"], row["oracle_posterior_auprc"])
    return row


def profile_run(args, prof, seg, test: np.ndarray, timing: dict) -> dict:
    """The BPNet's profile and counts metrics on the test rows, against rates and counts."""
    from seqcnn.forward import run_network
    from seqcnn.position_metrics import compute_position_metrics

    out = Path(args.out)
    # BPNet's rule (median total / 10) over the sequence-tracks holding an instance: over
    # all of them (6 in 7 hold only background) it gives 1 and the counts head learns slowly
    holds = np.asarray(seg.labels).max(axis=-1) == 1
    weight = args.count_weight or max(1.0, float(np.median(prof.labels.sum(-1)[holds])) / 10)
    bpnet = train_simulated(
        args, prof, out / "bpnet", "bpnet", BPNET_SIMULATED, timing, count_weight=weight
    )
    model = bpnet.model
    x = prof.one_hot(test)
    log_rates = run_network(model.network, x, rc_average=model.rc_average, batch_size=256)
    rates = np.load(out / "sim" / "planted_rates.npz")["labels"][test]
    counts = np.asarray(prof.labels[test])
    # the (sequence, track) pairs holding an instance of the track's motif
    with_instance = holds[test].ravel()
    row = {"epochs": len(bpnet.history), "output_length": int(log_rates.shape[-1])}
    row["count_weight"] = weight
    for truth_name, truth in (("rates", rates), ("counts", counts)):
        metrics = compute_position_metrics("profile", truth, log_rates)
        pairs = truth.reshape(-1, 1, truth.shape[-1])[with_instance]
        outputs = log_rates.reshape(-1, 1, log_rates.shape[-1])[with_instance]
        jsd = compute_position_metrics("profile", pairs, outputs)["profile_jsd"]
        metrics["profile_jsd_instances"] = jsd
        row |= {f"{truth_name}_{k}": v for k, v in metrics.items()}
    row["oracle_counts_pearson"] = oracle_counts_pearson(prof, x, rates, out, row["output_length"])
    return row


def oracle_counts_pearson(prof, x, rates, out: Path, output_length: int) -> float:
    """Counts Pearson of :func:`counts_oracle` against the true rates, as the model's."""
    import pandas as pd

    from seqcnn.metrics import pearson
    from seqcnn.position_metrics import centre_labels
    from seqcnn.simulate import read_planted_motifs

    instances = pd.read_csv(out / "sim" / "planted_instances.tsv", sep="\t")
    motifs = read_planted_motifs()
    true = np.log1p(centre_labels(rates, output_length).sum(axis=-1))
    r = []
    for track, name in enumerate(prof.label_names):
        pfm = motifs[name]
        prior = float((instances["motif"] == name).sum()) / (
            len(prof) * (prof.length - len(pfm) + 1)
        )
        r.append(pearson(true[:, track], np.log1p(counts_oracle(x, pfm, prior, output_length))))
    return float(np.mean(r))


def simulated_table(summary: dict) -> str:
    timing = summary["timing"]
    lines = [f"Simulated: {summary['n']} sequences of 200 bp, test rows {summary['test_rows']}"]
    if "segmentation" in summary:
        seg = summary["segmentation"]
        lines += [
            "",
            f"| segmentation, per-base, mean of 12 tracks (U-Net: {seg['epochs']} epochs, "
            f"{timing['unet_min']:.1f} min) | AUPRC |",
            "|---|---|",
            f"| U-Net | {seg['unet_auprc']:.4f} |",
            f"| oracle, posterior of being inside an instance | "
            f"{seg['oracle_posterior_auprc']:.4f} |",
            f"| oracle, max LLR of the windows covering a base | "
            f"{seg['oracle_max_llr_auprc']:.4f} |",
            f"| U-Net - better oracle (target >= -{AUPRC_MARGIN}) | "
            f"{seg['unet_auprc'] - seg['oracle_auprc']:+.4f} |",
        ]
    if "profile" in summary:
        prof = summary["profile"]
        lines += [
            "",
            f"| profile (BPNet: {prof['epochs']} epochs, {timing['bpnet_min']:.1f} min; central "
            f"{prof['output_length']} bp; lambda {prof.get('count_weight', 1):.3g}) "
            "| vs true rates | vs counts |",
            "|---|---|---|",
        ]
        for key, label in (
            ("profile_pearson", "profile Pearson"),
            ("profile_jsd", "profile JSD, every sequence-track"),
            ("profile_jsd_instances", "profile JSD, sequence-tracks with an instance"),
            ("counts_pearson", f"counts Pearson (target >= {COUNTS_TARGET} vs rates)"),
            ("counts_spearman", "counts Spearman"),
        ):
            rates, counts = prof["rates_" + key], prof["counts_" + key]
            lines.append(f"| {label} | {rates:.4f} | {counts:.4f} |")
        lines.append(
            "| counts Pearson of the known-PWM oracle (posterior expectation of the total) | "
            f"{prof['oracle_counts_pearson']:.4f} | |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------ real


def chr20_peaks(fasta: Path) -> np.ndarray:
    """``(n, 2)`` start, end of the CTCF peaks on chr20 (ids ``chr20:start-end``), sorted."""
    import gzip

    spans = []
    with gzip.open(fasta, "rt") as handle:
        for line in handle:
            if line.startswith(f">{CHROM}:"):
                start, end = map(int, line[len(CHROM) + 2 :].split()[0].split("-"))
                spans.append((start, end))
    return np.array(sorted(spans), dtype=np.int64).reshape(-1, 2)


def tiles(genome, lo: int, hi: int, max_n: float = 0.5) -> np.ndarray:
    """Starts of the 2 kb tiles of ``[lo, hi)`` with at most ``max_n`` N."""
    starts = np.arange(lo, hi - TILE + 1, TILE, dtype=np.int64)
    if not len(starts):
        return starts
    codes = genome.fetch_codes(CHROM, int(starts[0]), int(starts[-1]) + TILE)
    n_share = (codes.reshape(len(starts), TILE) >= 4).mean(axis=1)
    return starts[n_share <= max_n]


def holds_peak(starts: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Which tiles overlap a peak."""
    first = np.searchsorted(peaks[:, 1], starts, side="right")  # first peak ending after
    return (first < len(peaks)) & (peaks[np.minimum(first, len(peaks) - 1), 0] < starts + TILE)


def sample_tiles(starts: np.ndarray, peaks: np.ndarray, ratio: float, rng) -> np.ndarray:
    """The tiles holding a peak and ``ratio`` times as many others drawn at random, sorted."""
    positive = holds_peak(starts, peaks)
    n_other = min(int(ratio * positive.sum()), int((~positive).sum()))
    other = rng.choice(np.flatnonzero(~positive), n_other, replace=False)
    return starts[np.sort(np.r_[np.flatnonzero(positive), other])]


def write_bed(path: Path, starts, ends) -> Path:
    path.write_text("".join(f"{CHROM}\t{a}\t{b}\n" for a, b in zip(starts, ends, strict=True)))
    return path


def threshold_at_precision(y: np.ndarray, scores: np.ndarray, precision: float) -> float:
    """The lowest threshold whose calls ``scores >= t`` have at least ``precision``
    (``inf`` when none does).  Tied scores are called together."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(y[order])
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]
    ok = hits[ends] / (ends + 1) >= precision
    return float(ranked[ends[ok][-1]]) if ok.any() else float("inf")


def peak_maxima(values: np.ndarray, lo: int, peaks: np.ndarray) -> np.ndarray:
    """Highest value over each peak's bases in a track starting at ``lo`` (NaN: none)."""
    result = np.full(len(peaks), np.nan)
    for k, (a, b) in enumerate(peaks):
        part = values[max(a - lo, 0) : max(b - lo, 0)]
        if part.size and np.isfinite(part).any():
            result[k] = np.nanmax(part)
    return result


def part_track(starts: np.ndarray, per_tile: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Per-base values over ``[lo, hi)`` from per-tile rows (NaN between tiles)."""
    track = np.full(hi - lo, np.nan, dtype=np.float32)
    for start, row in zip(starts, per_tile, strict=True):
        track[start - lo : start - lo + TILE] = row
    return track


def evaluate_track(track, labels, valid_track, valid_labels, peaks, lo) -> dict:
    """Per-base AUROC/AUPRC on the test tiles, the validation threshold and peak recall."""
    from seqcnn.metrics import auprc, auroc

    covered = ~np.isnan(labels)
    floor = np.nanmin(np.r_[track[covered], valid_track[~np.isnan(valid_labels)]]) - 1
    y, s = labels[covered], np.nan_to_num(track[covered], nan=floor)
    vy = valid_labels[~np.isnan(valid_labels)]
    vs = np.nan_to_num(valid_track[~np.isnan(valid_labels)], nan=floor)
    threshold = threshold_at_precision(vy, vs, PRECISION)
    maxima = peak_maxima(np.where(covered, np.nan_to_num(track, nan=floor), np.nan), lo, peaks)
    scored = ~np.isnan(maxima)
    called = s >= threshold
    return {
        "auroc": auroc(y, s),
        "auprc": auprc(y, s),
        "threshold": threshold,
        "peaks": int(scored.sum()),
        "peak_recall": float((maxima[scored] >= threshold).mean()),
        "base_precision": float(y[called].mean()) if called.any() else float("nan"),
        "base_recall": float(called[y == 1].mean()),
    }


def real(args) -> tuple[dict, str]:
    import pybigtools

    import seqcnn
    from seqcnn.dataset import load_dataset
    from seqcnn.forward import run_network
    from seqcnn.genome import Genome

    data = Path(args.data)
    genome_path = data / "genome" / "hg19_chr20.fa.gz"
    genome = Genome(genome_path)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lo, hi = (int(v) for v in args.span.split("-"))
    hi = min(hi, genome.contigs[genome.resolve(CHROM)])
    cut_valid, cut_test = lo + int(0.4 * (hi - lo)), lo + (hi - lo) // 2
    cut_valid, cut_test = (lo + (c - lo) // TILE * TILE for c in (cut_valid, cut_test))
    peaks = chr20_peaks(data / "ctcf.fa.gz")
    peaks = peaks[(peaks[:, 0] >= lo) & (peaks[:, 1] <= hi)]
    peak_bed = write_bed(out / "peaks.bed", peaks[:, 0], peaks[:, 1])
    rng = np.random.default_rng(args.seed)
    parts = {"train": (lo, cut_valid), "valid": (cut_valid, cut_test), "test": (cut_test, hi)}
    starts = {name: tiles(genome, a, b) for name, (a, b) in parts.items()}
    chosen = {
        "train_sample": sample_tiles(starts["train"], peaks, args.background, rng),
        "valid_sample": sample_tiles(starts["valid"], peaks, args.background, rng),
        "valid": starts["valid"],
        "test": starts["test"],
    }
    for key, tile_starts in chosen.items():
        bed = write_bed(out / f"{key}.bed", tile_starts, tile_starts + TILE)
        seqcnn_cli(
            "encode",
            "--bed",
            bed,
            "--genome",
            genome_path,
            "--length",
            TILE,
            "--sites",
            peak_bed,
            "-o",
            out / f"{key}.ds",
            "-f",
            "-q",
        )
    timing = {}
    started = time.perf_counter()
    unet = seqcnn.train(
        out / "train_sample.ds",
        out / "unet",
        valid=out / "valid_sample.ds",
        architecture="unet",
        model_options=UNET_REAL,
        epochs=args.epochs,
        rc_augment=True,
        seed=args.seed,
        device="cpu",
        overwrite=True,
    )
    timing["unet_min"] = (time.perf_counter() - started) / 60

    # the per-sequence cnn: peaks of the training part against its GC-matched background
    train_peaks = peaks[(peaks[:, 0] >= lo) & (peaks[:, 1] <= cut_valid)]
    cnn_bed = write_bed(out / "cnn_peaks.bed", train_peaks[:, 0], train_peaks[:, 1])
    exclude = write_bed(out / "cnn_exclude.bed", [0, cut_valid], [max(lo, 1), 10**9])
    seqcnn_cli(
        "encode",
        "--bed",
        cnn_bed,
        "--genome",
        genome_path,
        "--length",
        PEAK_WINDOW,
        "--negatives",
        "gc-matched",
        "--negative-ratio",
        args.cnn_negatives,
        "--exclude",
        exclude,
        "--seed",
        args.seed,
        "-o",
        out / "cnn.ds",
        "-f",
        "-q",
    )
    started = time.perf_counter()
    cnn = seqcnn.train(
        out / "cnn.ds",
        out / "cnn",
        epochs=args.cnn_epochs,
        rc_augment=True,
        seed=args.seed,
        device="cpu",
        overwrite=True,
    )
    timing["cnn_min"] = (time.perf_counter() - started) / 60
    regions = write_bed(out / "scan_regions.bed", [cut_valid], [hi])
    started = time.perf_counter()
    seqcnn_cli(
        "scan",
        "-m",
        out / "cnn",
        "--genome",
        genome_path,
        "--regions",
        regions,
        "--stride",
        STRIDE,
        "-o",
        out / "cnn_scan.bw",
        "-f",
        "-q",
    )
    timing["scan_min"] = (time.perf_counter() - started) / 60

    tracks, labels = {}, {}
    reader = pybigtools.open(str(out / "cnn_scan.bw"))
    (scan_chrom,) = list(reader.chroms())
    model = unet.model
    started = time.perf_counter()
    for name in ("valid", "test"):
        a, b = parts[name]
        dataset = load_dataset(out / f"{name}.ds")
        part_starts = np.array([int(i.rsplit(":", 1)[1].split("-")[0]) for i in dataset.ids])
        mask = np.asarray(dataset.labels[:, 0]).astype(np.float32)
        labels[name] = part_track(part_starts, mask, a, b)
        probs = run_network(
            model.network,
            dataset.codes,
            rc_average=model.rc_average,
            transform="sigmoid",
            batch_size=64,
        )
        scanned = np.asarray(reader.values(scan_chrom, a, b, fillna=None), dtype=np.float32)
        tracks[name] = {"unet": part_track(part_starts, probs[:, 0], a, b), "cnn": scanned}
    timing["unet_predict_min"] = (time.perf_counter() - started) / 60
    rows = {}
    for key in ("unet", "cnn"):
        rows[key] = evaluate_track(
            tracks["test"][key],
            labels["test"],
            tracks["valid"][key],
            labels["valid"],
            peaks,
            parts["test"][0],
        )
    rows["unet"]["epochs"], rows["cnn"]["epochs"] = len(unet.history), len(cnn.history)
    summary = {
        "span": [lo, hi],
        "parts": parts,
        "tiles": {k: len(v) for k, v in starts.items()},
        "train_tiles": len(load_dataset(out / "train_sample.ds")),
        "peaks": {
            k: int(((peaks[:, 0] >= a) & (peaks[:, 1] <= b)).sum()) for k, (a, b) in parts.items()
        },
        "cnn_windows": len(load_dataset(out / "cnn.ds")),
        "models": rows,
        "timing": timing,
    }
    return summary, real_table(summary)


def real_table(summary: dict) -> str:
    lo, hi = summary["span"]
    t, p, m = summary["tiles"], summary["peaks"], summary["models"]
    lines = [
        f"Real: chr20:{lo}-{hi}, 2 kb tiles train/valid/test {t['train']}/{t['valid']}/"
        f"{t['test']} ({summary['train_tiles']} training tiles used), CTCF peaks "
        f"{p['train']}/{p['valid']}/{p['test']}; cnn on {summary['cnn_windows']} windows of "
        f"100 bp; minutes: " + ", ".join(f"{k} {v:.1f}" for k, v in summary["timing"].items()),
        "",
        "| model (test part) | epochs | per-base AUROC | per-base AUPRC | threshold (valid, "
        "precision 0.5) | base precision / recall | peak recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (("unet", "U-Net, 2 kb tiles"), ("cnn", "cnn 100 bp, scan stride 50")):
        r = m[key]
        lines.append(
            f"| {label} | {r['epochs']} | {r['auroc']:.4f} | {r['auprc']:.4f} | "
            f"{r['threshold']:.3g} | {r['base_precision']:.3f} / {r['base_recall']:.3f} | "
            f"{r['peak_recall']:.3f} ({r['peaks']} peaks) |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------ main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--simulated", action="store_true")
    which.add_argument("--real", action="store_true")
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--n", type=int, default=6000, help="simulated sequences")
    parser.add_argument(
        "--only", choices=["segmentation", "profile"], help="--simulated: one model only"
    )
    parser.add_argument(
        "--count-weight",
        type=float,
        help="--simulated: the BPNet's lambda [default: median total / 10 of the "
        "sequence-tracks holding an instance]",
    )
    parser.add_argument(
        "--no-targets", action="store_true", help="exit 0 below the targets (a demo)"
    )
    parser.add_argument("--epochs", type=int, default=25, help="most epochs of the U-Net/BPNet")
    parser.add_argument("--span", default="0-63025520", help="--real: START-END of chr20")
    parser.add_argument(
        "--background",
        type=float,
        default=1.0,
        help="--real: other tiles per peak tile in the U-Net's training",
    )
    parser.add_argument("--cnn-epochs", type=int, default=20)
    parser.add_argument(
        "--cnn-negatives",
        type=float,
        default=3.0,
        help="--real: GC-matched windows per peak for the cnn",
    )
    parser.add_argument("--threads", type=int, help="CPU threads [default: all CPUs]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="[default: bench-out/per_position/simulated|real]")
    args = parser.parse_args(argv)
    kind = "simulated" if args.simulated else "real"
    args.out = args.out or str(ROOT / "bench-out" / "per_position" / kind)
    Path(args.out).mkdir(parents=True, exist_ok=True)

    import torch

    from seqcnn.threads import set_threads

    threads = set_threads(args.threads)
    THREAD_OPTION[:] = ["--threads", str(threads)]
    load = os.getloadavg()
    started = time.perf_counter()
    if args.simulated:
        summary, table, met = simulated(args)
    else:
        (summary, table), met = real(args), True
    summary["load_before"], summary["load_after"] = load, os.getloadavg()
    summary["minutes"] = (time.perf_counter() - started) / 60
    summary["threads"], summary["torch"] = threads, torch.__version__
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(
        f"torch {torch.__version__}, {threads} threads, load average {load[0]:.1f} before, "
        f"{summary['load_after'][0]:.1f} after; {summary['minutes']:.1f} min in all\n"
    )
    print(table)
    if not met:
        print("\nBELOW TARGET", file=sys.stderr)
    return 0 if met or args.no_targets else 1


if __name__ == "__main__":
    sys.exit(main())

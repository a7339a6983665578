"""Benchmark: `seqcnn predict` end to end against a bare forward loop, and its peak memory.

Uses a demo-sized model: the default ``cnn`` at 200 bp with 12 outputs, the shape of the
demo model, but with seeded random weights (nothing is trained; speed and memory do not
depend on the weights).  In one run it measures

* (a) a bare ``torch.inference_mode()`` forward loop over a pre-built one-hot tensor of the
  sequences, in batches of the same size, in this process (the floor: model time only);
* (b) ``seqcnn predict FASTA -o out.tsv`` as a user runs it (a subprocess: interpreter and
  torch start-up, model loading, reading, encoding, forward, writing), on the same
  sequences;
* the fixed start-up cost alone (``seqcnn predict`` of an empty FASTA), and (c)
  ``predict_file`` called in this process, to separate start-up from streaming costs;
* peak resident memory of (b) for two input sizes (default 100k and 1M sequences).

(a) and (b) alternate ``--repeats`` times and the best of each is compared, since the
machine may be shared.  Usage::

    python benchmarks/predict.py [--n 300000] [--rss-sizes 100000,1000000] [--out DIR]

The start-up (about 1.5 s, mostly importing torch) is paid once per run, so the end-to-end
ratio depends on the input size; the table also shows (b) with it taken out.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

# The launcher of the encode benchmark measures a child's own peak RSS (a script's folder
# comes first on sys.path, so its sibling imports as `encode`).
from encode import run_measured

LENGTH = 200
#: `seqcnn predict` end to end, and predict_file in process, against the bare loop (issue 20).
END_TO_END_TARGET = 0.9
IN_PROCESS_TARGET = 0.95
N_OUTPUTS = 12


def make_model(folder: Path) -> Path:
    """Save a seeded random demo-sized ``cnn`` bundle (12 outputs, 200 bp) in ``folder``."""
    import torch

    from seqcnn.bundle import save_model
    from seqcnn.models import build_model, receptive_field

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    network = build_model("cnn", input_length=LENGTH, n_outputs=N_OUTPUTS).eval()
    config = {
        "alphabet": "ACGT",
        "input_length": LENGTH,
        "n_encoding": "zeros",
        "task": "multilabel",
        "loss": None,
        "output_names": [f"motif{i}" for i in range(N_OUTPUTS)],
        "output_transform": "sigmoid",
        "receptive_field": receptive_field(network),
        "parameters": sum(p.numel() for p in network.parameters()),
    }
    save_model(network, config, folder)
    return folder


def random_codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=(n, LENGTH), dtype=np.uint8)


def write_fasta(path: Path, n: int, seed: int, width: int = 60) -> None:
    """``n`` random 200 bp records (lines of ``width``), written 10k records at a time."""
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    rng_seed = seed
    with open(path, "wb") as out:
        for first in range(0, n, 10_000):
            codes = random_codes(min(10_000, n - first), rng_seed + first)
            text = letters[codes]
            chunk = bytearray()
            for i, row in enumerate(text):
                chunk += b">seq%d\n" % (first + i)
                seq = row.tobytes()
                for j in range(0, LENGTH, width):
                    chunk += seq[j : j + width] + b"\n"
            out.write(chunk)


def all_codes(n: int, seed: int) -> np.ndarray:
    """The codes of the records :func:`write_fasta` writes, in the same order."""
    return np.concatenate(
        [random_codes(min(10_000, n - first), seed + first) for first in range(0, n, 10_000)]
    )


def bare_loop(network, x, batch_size: int) -> float:
    """Seconds for one inference-mode forward pass over ``x`` in batches."""
    import torch

    with torch.inference_mode():
        network(x[:batch_size])  # warm-up, as the CLI's first batch also pays for it
        start = time.perf_counter()
        for i in range(0, len(x), batch_size):
            network(x[i : i + batch_size])
        return time.perf_counter() - start


def api_file(model, fasta: Path, out: Path, batch_size: int) -> float:
    from seqcnn.predict import predict_file

    start = time.perf_counter()
    predict_file(model, fasta, out, batch_size=batch_size)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300_000, help="sequences for the speed test")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2, help="alternations of (a) and (b)")
    parser.add_argument("--rss-sizes", default="100000,1000000",
                        help="input sizes for the memory test ('' to skip)")  # fmt: skip
    parser.add_argument("--out", default="bench-out/predict", help="scratch folder")
    args = parser.parse_args()

    import torch

    from seqcnn.bundle import load_model
    from seqcnn.onehot import codes_to_one_hot

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bundle = make_model(out / "model")
    model = load_model(bundle)
    seqcnn = [sys.executable, "-m", "seqcnn", "predict", "-q", "-m", str(bundle),
              "--batch-size", str(args.batch_size)]  # fmt: skip

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), Python "
          f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f} at start "
          "(a shared machine: other jobs may run)")  # fmt: skip
    print(f"model: cnn, {LENGTH} bp, {N_OUTPUTS} outputs, random weights (seed 0), "
          f"batch size {args.batch_size}\n")  # fmt: skip

    fasta = out / f"speed_{args.n}.fa"
    if not fasta.exists():
        write_fasta(fasta, args.n, seed=1)
    empty = out / "empty.fa"
    empty.write_text("")
    x = torch.from_numpy(codes_to_one_hot(all_codes(args.n, seed=1)))

    bare, cli, api = [], [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(model.network, x, args.batch_size))
        cli.append(run_measured([*seqcnn, str(fasta), "-o", str(out / "speed.tsv")])[0])
        api.append(api_file(model, fasta, out / "speed_api.tsv", args.batch_size))
    del x
    startup = min(run_measured([*seqcnn, str(empty), "-o", str(out / "empty.tsv")])[0]
                  for _ in range(3))  # fmt: skip
    rate = {name: args.n / min(times) for name, times in
            (("bare", bare), ("cli", cli), ("api", api))}  # fmt: skip

    print(f"speed, {args.n} sequences of {LENGTH} bp (best of {args.repeats}):\n")
    print("| measurement | seconds (each run) | sequences/s | x bare loop |")
    print("|---|---|---|---|")
    rows = [
        ("(a) bare inference_mode forward loop, pre-built tensor", bare, rate["bare"]),
        ("(b) `seqcnn predict FASTA -o out.tsv`, end to end", cli, rate["cli"]),
        ("(b) less the fixed start-up", [t - startup for t in cli], args.n / (min(cli) - startup)),
        ("(c) `predict_file` in process (no start-up)", api, rate["api"]),
    ]
    for label, times, value in rows:
        each = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {label} | {each} | {value:,.0f} | {value / rate['bare']:.3f} |")
    print(f"\nfixed start-up of `seqcnn predict` (empty FASTA, best of 3): {startup:.2f} s")

    sizes = [int(s) for s in args.rss_sizes.split(",") if s.strip()]
    if sizes:
        print("\npeak memory of `seqcnn predict FASTA -o out.tsv`:\n")
        print("| sequences | seconds | sequences/s | peak RSS MB |")
        print("|---|---|---|---|")
        peaks = []
        for n in sizes:
            path = out / f"rss_{n}.fa"
            if not path.exists():
                write_fasta(path, n, seed=2)
            seconds, rss = run_measured([*seqcnn, str(path), "-o", str(out / "rss.tsv")])
            peaks.append(rss)
            print(f"| {n:,} | {seconds:.1f} | {n / seconds:,.0f} | {rss:.0f} |")
        print(f"\npeak RSS difference, {sizes[-1]:,} vs {sizes[0]:,} sequences: "
              f"{peaks[-1] - peaks[0]:+.1f} MB")  # fmt: skip
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    ratios = {"end to end": rate["cli"] / rate["bare"], "in process": rate["api"] / rate["bare"]}
    targets = {"end to end": END_TO_END_TARGET, "in process": IN_PROCESS_TARGET}
    missed = [f"{k} {v:.3f} < {targets[k]}" for k, v in ratios.items() if v < targets[k]]
    if missed:
        print("below target: " + "; ".join(missed))
        raise SystemExit(1)


if __name__ == "__main__":
    main()

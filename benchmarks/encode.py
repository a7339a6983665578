"""Benchmark: `seqcnn encode` end to end against two baselines measured in the same run.

Generates ~100 Mbp of FASTA (200 bp and 2 kb records, plain and gzip), then measures

* ``seqcnn encode`` as a user runs it (a subprocess: reading, checking, encoding, writing
  the dataset folder), with its peak resident memory; median of ``--repeats`` runs, with
  one worker process and, for plain files, with the default (one per CPU, at most 8);
* reading alone with Biopython's ``SimpleFastaParser`` (the floor for any Biopython reader);
* baseline 1: ``SeqIO.parse`` and a per-base dictionary loop to one-hot;
* baseline 2: ``SimpleFastaParser`` and a per-sequence 256-entry lookup table.

The slow baseline 1 runs on a prefix and is reported as a rate.  Usage::

    python benchmarks/encode.py [--mbp 100] [--out bench-out]
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from seqcnn.sequence_file import default_workers

#: seqcnn encode against Biopython SeqIO with a per-base dictionary, and its memory.
SEQIO_TARGET = 10.0
RSS_TARGET = 1.5


def write_fasta(path: Path, n: int, length: int, seed: int, compress: bool) -> None:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGTacgtN", dtype=np.uint8)
    opener = (
        (lambda p: gzip.open(p, "wb", compresslevel=1)) if compress else (lambda p: open(p, "wb"))
    )
    with opener(path) as out:
        for start in range(0, n, 10_000):
            rows = rng.choice(
                letters, size=(min(10_000, n - start), length), p=[0.24] * 4 + [0.01] * 4 + [0.0]
            )
            chunk = bytearray()
            for i, row in enumerate(rows):
                chunk += b">seq%d\n" % (start + i)
                seq = row.tobytes()
                for j in range(0, length, 60):
                    chunk += seq[j : j + 60] + b"\n"
            out.write(chunk)


# A tiny launcher measures the child: a child's peak RSS counts the memory of the process
# it was spawned from, so spawning from this (large) process would inflate the number.
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.spawnv(os.P_NOWAIT, sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
"""


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, measured from a small launcher."""
    result = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *cmd], capture_output=True, text=True, check=True
    )
    elapsed, rss, code = result.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stderr}")
    return float(elapsed), float(rss)


def read_only(path: Path) -> int:
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    opener = gzip.open if path.suffix == ".gz" else open
    total = 0
    with opener(path, "rt") as handle:
        for _, seq in SimpleFastaParser(handle):
            total += len(seq)
    return total


def per_base_dict(path: Path, max_bases: int) -> int:
    from Bio import SeqIO

    table = {"A": (1, 0, 0, 0), "C": (0, 1, 0, 0), "G": (0, 0, 1, 0), "T": (0, 0, 0, 1)}
    opener = gzip.open if path.suffix == ".gz" else open
    total = 0
    with opener(path, "rt") as handle:
        for record in SeqIO.parse(handle, "fasta"):
            seq = str(record.seq).upper()
            x = np.zeros((4, len(seq)), dtype=np.float32)
            for i, base in enumerate(seq):
                if base in table:
                    x[:, i] = table[base]
            total += len(seq)
            if total >= max_bases:
                break
    return total


def per_sequence_lut(path: Path) -> int:
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    lut = np.full(256, 4, dtype=np.uint8)
    for code, letter in enumerate(b"ACGT"):
        lut[letter] = lut[letter + 32] = code
    eye = np.vstack([np.eye(4, dtype=np.float32), np.zeros(4, dtype=np.float32)])
    opener = gzip.open if path.suffix == ".gz" else open
    total = 0
    with opener(path, "rt") as handle:
        for _, seq in SimpleFastaParser(handle):
            codes = lut[np.frombuffer(seq.encode(), dtype=np.uint8)]
            _ = eye[codes].T
            total += len(seq)
    return total


def timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    bases = fn(*args)
    return time.perf_counter() - start, bases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mbp", type=float, default=100.0, help="Mbp per input file")
    parser.add_argument("--out", default="bench-out/encode", help="scratch folder")
    parser.add_argument("--dict-mbp", type=float, default=2.0, help="prefix for baseline 1")
    parser.add_argument("--repeats", type=int, default=3, help="runs of seqcnn encode (median)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seqcnn = [sys.executable, "-m", "seqcnn", "encode", "-q", "-f"]

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    rows = []
    for length in (200, 2000):
        n = int(args.mbp * 1e6 / length)
        for compress in (False, True):
            name = f"{length}bp{'.fa.gz' if compress else '.fa'}"
            path = out / name
            if not path.exists():
                write_fasta(path, n, length, seed=length, compress=compress)
            mbp = n * length / 1e6
            t_read, _ = timed(read_only, path)
            t_lut, _ = timed(per_sequence_lut, path)
            t_dict, dict_bases = timed(per_base_dict, path, int(args.dict_mbp * 1e6))
            output_mb = n * length / 1e6  # one byte per base on disk
            # Compressed input is read by one process whatever --workers says.
            for workers in ["1", str(default_workers())] if not compress else ["1"]:
                runs = [
                    run_measured([*seqcnn, "-j", workers, str(path), "-o", str(out / f"{name}.ds")])
                    for _ in range(args.repeats)
                ]
                t_cli = statistics.median(t for t, _ in runs)
                rss = max(r for _, r in runs)
                rows.append(
                    {
                        "input": name,
                        "workers": workers,
                        "Mbp": mbp,
                        "seqcnn encode Mbp/s": mbp / t_cli,
                        "read only Mbp/s": mbp / t_read,
                        "per-seq LUT Mbp/s": mbp / t_lut,
                        "SeqIO+dict Mbp/s": dict_bases / 1e6 / t_dict,
                        "x SeqIO+dict": (mbp / t_cli) / (dict_bases / 1e6 / t_dict),
                        "x per-seq LUT": (mbp / t_cli) / (mbp / t_lut),
                        "peak RSS MB": rss,
                        "RSS / output": rss / output_mb,
                    }
                )
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [row[k] if isinstance(row[k], str) else f"{row[k]:.1f}" for k in header]
        print("| " + " | ".join(cells) + " |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    # Targets: >= 10x the SeqIO + dict baseline everywhere; peak RSS <= 1.5x the output.
    missed = [
        f"{r['input']} ({r['workers']} workers): {what}"
        for r in rows
        for what, bad in (
            (
                f"{r['x SeqIO+dict']:.1f}x SeqIO+dict < {SEQIO_TARGET}",
                r["x SeqIO+dict"] < SEQIO_TARGET,
            ),
            (f"RSS {r['RSS / output']:.2f}x output > {RSS_TARGET}", r["RSS / output"] > RSS_TARGET),
        )
        if bad
    ]
    if missed:
        print("below target: " + "; ".join(missed))
        raise SystemExit(1)


if __name__ == "__main__":
    main()

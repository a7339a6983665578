"""Benchmark: one-hot encoding and the dinucleotide shuffle against baselines in the same run.

* ``seqcnn.one_hot`` (strings -> float32 ``(N, 4, L)``) of 2 kb and 200 bp sequences, in
  batches of ``--batch`` sequences (as training and prediction encode them) and all at once,
  against the method seqcnn used before (codes, then one table look-up per channel) and a
  straightforward numpy implementation (one 256 x 4 table over the bytes, transposed).
  All at once, the fresh output's page faults take a large share of every method's time;
* ``seqcnn.dinucleotide_shuffle`` per sequence against the pure-Python Euler walk it used
  before (copied below), on the same sequences and seeds; the outputs must be identical.

Times are CPU seconds of this process (best of ``--repeats``), so other load on a shared
machine matters less.  Exits with 1 when a target is missed: ``one_hot`` >= 2.5x the four
look-ups (batches) and the shuffle >= 3x the old walk, both for 2 kb sequences.  Usage::

    python benchmarks/onehot.py [--repeats 5] [--mbp 8]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from seqcnn import dinucleotide_shuffle, one_hot
from seqcnn.alphabet import ONE_HOT_TABLES
from seqcnn.onehot import encode_sequences

ONE_HOT_TARGET = 2.5
SHUFFLE_TARGET = 3.0


def random_sequences(n: int, length: int, seed: int) -> list[str]:
    """ACGT with 1% N, in upper case."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    rows = rng.choice(letters, size=(n, length), p=[0.2475] * 4 + [0.01])
    return [row.tobytes().decode() for row in rows]


# ---------------------------------------------------------------------- one-hot baselines

_TABLE = np.zeros((256, 4), dtype=np.float32)
for _channel, _letter in enumerate("ACGT"):
    _TABLE[ord(_letter), _channel] = _TABLE[ord(_letter.lower()), _channel] = 1.0


def one_hot_table(sequences: list[str]) -> np.ndarray:
    """The straightforward way: one (256, 4) table over the bytes, then channels first."""
    raw = np.frombuffer("".join(sequences).encode(), dtype=np.uint8)
    x = _TABLE[raw.reshape(len(sequences), -1)]
    return np.ascontiguousarray(x.transpose(0, 2, 1))


def one_hot_four_lookups(sequences: list[str]) -> np.ndarray:
    """seqcnn's method before: codes, then one table look-up per channel."""
    codes = encode_sequences(sequences)
    table = ONE_HOT_TABLES["zeros"]
    out = np.empty((codes.shape[0], 4, codes.shape[1]), dtype=np.float32)
    for channel in range(4):
        out[:, channel, :] = table[:, channel][codes]
    return out


# ------------------------------------------------- the old shuffle (git show 74330cf:...)


def _to_codes(sequence: str) -> np.ndarray:
    # UTF-32 gives one integer per character for any alphabet, ASCII or not.
    return np.frombuffer(sequence.encode("utf-32-le"), dtype="<u4")


def _from_codes(codes: np.ndarray | list[int]) -> str:
    return np.asarray(codes, dtype="<u4").tobytes().decode("utf-32-le")


def old_euler_shuffle(sequence: str, rng: np.random.Generator) -> str:
    """Altschul-Erickson shuffle of a sequence of length >= 3 (see the module docstring)."""
    codes = _to_codes(sequence)
    n_edges = codes.size - 1
    src, dst = codes[:-1], codes[1:]

    # Out-edges grouped by source letter: edge order[j] is the j-th, targets in `targets`.
    order = np.argsort(src, kind="stable")
    letters, first, degree = np.unique(src[order], return_index=True, return_counts=True)
    targets = dst[order].tolist()
    out_edges = dict(
        zip(letters.tolist(), zip(first.tolist(), degree.tolist(), strict=True), strict=True)
    )

    # Wilson's algorithm: random arborescence of last exit edges rooted at the last letter.
    in_tree = {int(codes[-1])}
    last_exit: dict[int, int] = {}
    uniforms = rng.random(4 * len(out_edges) + 8).tolist()
    used = 0
    for start in out_edges:
        letter = start
        while letter not in in_tree:
            if used == len(uniforms):
                uniforms, used = rng.random(len(uniforms)).tolist(), 0
            offset, count = out_edges[letter]
            pick = offset + int(uniforms[used] * count)
            used += 1
            last_exit[letter] = pick
            letter = targets[pick]
        letter = start
        while letter not in in_tree:
            in_tree.add(letter)
            letter = targets[last_exit[letter]]

    # Random order of each letter's out-edges, its last exit edge sorted to the end.
    keys = rng.random(n_edges)
    keys[order[list(last_exit.values())]] = 2.0
    walk_targets = dst[np.lexsort((keys, src))].tolist()

    next_edge = dict(zip(letters.tolist(), first.tolist(), strict=True))
    letter = int(codes[0])
    out = [letter]
    for _ in range(n_edges):
        position = next_edge[letter]
        next_edge[letter] = position + 1
        letter = walk_targets[position]
        out.append(letter)
    return _from_codes(out)


# ------------------------------------------------------------------------------ timing


def best_time(function, *args, repeats: int) -> float:
    """Fewest CPU seconds of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        function(*args)
        best = min(best, time.process_time() - start)
    return best


def each_batch(function, batches: list[list[str]]) -> None:
    for batch in batches:
        function(batch)


def shuffle_all(shuffle, sequences: list[str]) -> list[str]:
    rng = np.random.default_rng(0)
    return [shuffle(sequence, rng) for sequence in sequences]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (best)")
    parser.add_argument("--mbp", type=float, default=8.0, help="Mbp one-hot encoded")
    parser.add_argument("--batch", type=int, default=256, help="sequences per one_hot call")
    parser.add_argument("--shuffles", type=int, default=300, help="2 kb sequences shuffled")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    missed = []

    print("\n| one_hot, float32 | batch | Mbp | seqcnn Mbp/s | 4 look-ups Mbp/s | x 4 look-ups "
          "| 256x4 table Mbp/s | x table |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for length in (2000, 200):
        sequences = random_sequences(int(args.mbp * 1e6) // length, length, seed=length)
        expected = one_hot_four_lookups(sequences)
        if not (np.array_equal(one_hot(sequences), expected)
                and np.array_equal(one_hot_table(sequences), expected)):  # fmt: skip
            raise SystemExit("the one-hot encodings differ")
        mbp = len(sequences) * length / 1e6
        for size in (args.batch, len(sequences)):
            batches = [sequences[i : i + size] for i in range(0, len(sequences), size)]
            rates = [
                mbp / best_time(each_batch, method, batches, repeats=args.repeats)
                for method in (one_hot, one_hot_four_lookups, one_hot_table)
            ]
            ratio = rates[0] / rates[1]
            print(f"| {length} bp | {size} | {mbp:.1f} | **{rates[0]:.0f}** | {rates[1]:.0f} "
                  f"| {ratio:.2f} | {rates[2]:.0f} | {rates[0] / rates[2]:.2f} |")  # fmt: skip
            if length == 2000 and size == args.batch and ratio < ONE_HOT_TARGET:
                missed.append(f"one_hot {ratio:.2f}x the four look-ups (target {ONE_HOT_TARGET}x)")

    print("\n| dinucleotide shuffle | sequences | seqcnn seq/s | old walk seq/s | x old walk |")
    print("|---|---|---|---|---|")
    for length, n in ((2000, args.shuffles), (200, 10 * args.shuffles)):
        sequences = random_sequences(n, length, seed=length + 1)
        new = shuffle_all(lambda s, rng: dinucleotide_shuffle(s, rng), sequences)
        if new != shuffle_all(old_euler_shuffle, sequences):
            raise SystemExit("the shuffles differ from the old walk's for the same seed")
        rates = [
            n / best_time(shuffle_all, method, sequences, repeats=args.repeats)
            for method in (dinucleotide_shuffle, old_euler_shuffle)
        ]
        ratio = rates[0] / rates[1]
        print(f"| {length} bp | {n} | **{rates[0]:.0f}** | {rates[1]:.0f} | {ratio:.2f} |")
        if length == 2000 and ratio < SHUFFLE_TARGET:
            missed.append(f"shuffle {ratio:.2f}x the old walk (target {SHUFFLE_TARGET}x)")

    for line in missed:
        print(f"target missed: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Tests for seqcnn.shuffle: the Altschul-Erickson dinucleotide shuffle."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqcnn.errors import UsageError
from seqcnn.shuffle import dinucleotide_shuffle, shuffle_sequences, shuffled_negatives

DNA_LIKE = st.text(alphabet="ACGTNacgtn", max_size=200)


def dinucleotides(seq: str) -> Counter:
    return Counter(seq[i : i + 2] for i in range(len(seq) - 1))


def all_shuffles(seq: str) -> set[str]:
    """Every sequence with the dinucleotide counts, first and last letter of ``seq``."""
    remaining = dinucleotides(seq)
    found = set()

    def extend(prefix: str) -> None:
        if len(prefix) == len(seq):
            found.add(prefix)
            return
        for pair, count in remaining.items():
            if count and pair[0] == prefix[-1]:
                remaining[pair] -= 1
                extend(prefix + pair[1])
                remaining[pair] += 1

    extend(seq[0])
    return {s for s in found if s[-1] == seq[-1]}


def random_dna(n: int, seed: int, letters: str = "ACGT") -> str:
    return "".join(np.random.default_rng(seed).choice(list(letters), n))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@settings(max_examples=300, deadline=None)
@given(seq=DNA_LIKE, seed=st.integers(0, 2**32 - 1))
def test_preserves_dinucleotides_ends_and_letters(seq, seed):
    out = dinucleotide_shuffle(seq, rng=seed)
    assert len(out) == len(seq)
    assert sorted(out) == sorted(seq)
    assert dinucleotides(out) == dinucleotides(seq)
    if seq:
        assert out[0] == seq[0]
        assert out[-1] == seq[-1]


@settings(max_examples=100, deadline=None)
@given(seq=st.text(max_size=60), seed=st.integers(0, 1000))
def test_any_alphabet(seq, seed):
    out = dinucleotide_shuffle(seq, rng=seed)
    assert dinucleotides(out) == dinucleotides(seq)
    assert out[:1] == seq[:1] and out[-1:] == seq[-1:]


@pytest.mark.parametrize("seq", ["", "A", "AC", "ac"])
def test_short_sequences_unchanged(seq):
    assert dinucleotide_shuffle(seq, rng=1) == seq
    assert shuffle_sequences([seq]) == [seq]


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(257, 6000),
    letters=st.sampled_from(["ACGT", "AC", "ACGTNacgtn", "ACGTRYSWKMBDHVN", "αβγA"]),
    skew=st.floats(0.02, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_long_sequences_keep_dinucleotides(length, letters, skew, seed):
    # Long sequences take the radix-sort path for the edge order (short ones np.lexsort).
    weights = np.array([skew] + [1.0] * (len(letters) - 1))
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list(letters), length, p=weights / weights.sum()))
    out = dinucleotide_shuffle(seq, rng=seed)
    assert dinucleotides(out) == dinucleotides(seq)
    assert out[0] == seq[0] and out[-1] == seq[-1]


@pytest.mark.parametrize(
    "seq, seed, expected",
    [
        ("ACGTTGCAAGCT", 0, "88d2ed532419e7dc"),
        (random_dna(200, 1), 1, "879b6d648fc6c6da"),
        (random_dna(2000, 2, "ACGTNacgtn"), 2, "991ce0c333612ca5"),
        (random_dna(5000, 3, "ACGTRYSWKMBDHVN"), 3, "989553d88e096dd6"),
        (random_dna(700, 4, "αβγA"), 4, "93e64176e09a0a8d"),
    ],
)
def test_same_seed_same_shuffle_as_before(seq, seed, expected):
    # Shuffled negatives made before the vectorised rewrite stay the same for a seed.
    assert digest(dinucleotide_shuffle(seq, rng=seed)) == expected


def test_same_batch_as_before():
    seqs = [random_dna(100, i) for i in range(50)]
    assert digest("\n".join(shuffle_sequences(seqs, seed=7))) == "776e7e90908b3f2c"


def test_long_sequence_changes():
    seq = random_dna(1000, 0)
    out = dinucleotide_shuffle(seq, rng=0)
    assert out != seq
    # Not merely rotated or reversed pieces: most positions differ from the input.
    assert sum(a != b for a, b in zip(seq, out, strict=True)) > 500


def test_deterministic_for_a_seed():
    seq = random_dna(300, 1)
    assert dinucleotide_shuffle(seq, rng=5) == dinucleotide_shuffle(seq, rng=5)
    assert dinucleotide_shuffle(seq, rng=5) != dinucleotide_shuffle(seq, rng=6)
    a = dinucleotide_shuffle(seq, rng=np.random.default_rng(9))
    b = dinucleotide_shuffle(seq, rng=np.random.default_rng(9))
    assert a == b
    seqs = [random_dna(50, i) for i in range(20)]
    assert shuffle_sequences(seqs, seed=3) == shuffle_sequences(seqs, seed=3)
    assert shuffle_sequences(seqs, seed=3) != shuffle_sequences(seqs, seed=4)


def test_generator_advances_between_calls():
    rng = np.random.default_rng(0)
    seq = random_dna(200, 2)
    assert dinucleotide_shuffle(seq, rng) != dinucleotide_shuffle(seq, rng)


def test_outputs_are_diverse_and_valid():
    seq = "AACGTTACGA"
    valid = all_shuffles(seq)
    rng = np.random.default_rng(0)
    seen = Counter(dinucleotide_shuffle(seq, rng) for _ in range(600))
    assert set(seen) <= valid
    assert len(seen) == len(valid) == 6


@pytest.mark.parametrize("seq", ["ACAGACATAGCA", "AAGACAGTAACA", "GGAACCGGCA", "AACGCACACGA"])
def test_uniform_over_all_valid_shuffles(seq):
    # Altschul & Erickson: every sequence with the same doublet counts is equally likely.
    valid = all_shuffles(seq)
    rng = np.random.default_rng(0)
    n = 30 * len(valid)
    seen = Counter(dinucleotide_shuffle(seq, rng) for _ in range(n))
    assert set(seen) == valid
    expected = n / len(valid)
    chi2 = sum((seen[s] - expected) ** 2 / expected for s in valid)
    df = len(valid) - 1
    assert chi2 < df + 6 * np.sqrt(2 * df)


def test_rare_exit_edge_is_fast_and_valid():
    # 'A' leaves to 'T' once among thousands of A->C edges: naive rejection of last-edge
    # choices would need thousands of tries; the loop-erased walk does not.
    seq = "AC" * 5000 + "AT"
    out = dinucleotide_shuffle(seq, rng=0)
    assert out == seq  # the only sequence with these doublets
    seq = "AC" * 2000 + "AT" + "GA" * 2000 + "T"
    out = dinucleotide_shuffle(seq, rng=0)
    assert dinucleotides(out) == dinucleotides(seq) and out[-1] == "T"


def test_k1_keeps_empty_and_single_letters():
    assert shuffle_sequences(["", "A", "AC"], k=1, seed=0)[:2] == ["", "A"]


def test_k1_is_a_permutation():
    seqs = [random_dna(100, i) for i in range(50)]
    out = shuffle_sequences(seqs, k=1, seed=0)
    assert all(sorted(a) == sorted(b) for a, b in zip(seqs, out, strict=True))
    assert sum(a != b for a, b in zip(seqs, out, strict=True)) == 50
    # A plain permutation does not keep dinucleotides.
    assert any(dinucleotides(a) != dinucleotides(b) for a, b in zip(seqs, out, strict=True))


def test_k2_batch_keeps_dinucleotides():
    seqs = [random_dna(100, i) for i in range(200)] + ["", "A", "ACGT"]
    out = shuffle_sequences(seqs, k=2, seed=0)
    assert len(out) == len(seqs)
    assert all(dinucleotides(a) == dinucleotides(b) for a, b in zip(seqs, out, strict=True))


@pytest.mark.parametrize("k", [0, 3, True])
def test_bad_k(k):
    with pytest.raises(UsageError, match="k must be 1"):
        shuffle_sequences(["ACGT"], k=k)


def test_bad_input_type():
    with pytest.raises(UsageError, match="str"):
        dinucleotide_shuffle(b"ACGT")  # type: ignore[arg-type]


def test_shuffled_negatives_keep_coordinate_ids():
    records = [("chr1:100-200", random_dna(100, 0)), ("chr2:5-105", random_dna(100, 1))]
    out = shuffled_negatives(iter(records), seed=0)
    assert [rid for rid, _ in out] == ["chr1:100-200_shuf", "chr2:5-105_shuf"]
    assert [rid.split(":")[0] for rid, _ in out] == ["chr1", "chr2"]
    for (_, seq), (_, shuf) in zip(records, out, strict=True):
        assert dinucleotides(seq) == dinucleotides(shuf) and seq != shuf
    assert out == shuffled_negatives(records, seed=0)
    assert shuffled_negatives(records, seed=0, suffix="-neg")[0][0] == "chr1:100-200-neg"


def test_does_not_import_torch():
    code = "import sys, seqcnn.shuffle, seqcnn.simulate; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

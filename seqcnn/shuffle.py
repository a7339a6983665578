"""Shuffled sequences as negatives and null models.

:func:`dinucleotide_shuffle` implements the Euler-path method of Altschul & Erickson (1985,
Mol Biol Evol 2:526-538).  The sequence is read as a walk through a multigraph whose
vertices are letters and whose edges are its dinucleotides; every other walk that uses each
edge once (an Eulerian path) from the same first to the same last letter is a sequence with
exactly the same dinucleotide counts.  A uniformly random such sequence is built by

1. choosing, for each letter other than the last one, the edge by which the walk leaves it
   for the last time, such that these last edges form a tree directed towards the last
   letter (a random spanning arborescence, drawn here with Wilson's loop-erased random walk,
   which weights every tree by the product of its edge multiplicities as the method needs);
2. putting each letter's other out-edges in random order, followed by its last edge;
3. walking from the first letter, always taking the next unused edge.

Every sequence with the same dinucleotide counts, first and last letter is equally likely.
Letters are taken as given: ``N``, IUPAC codes and lower case are ordinary letters (``a`` and
``A`` are different), so soft-masked sequences keep their masking pattern's dinucleotides.

Example
-------
>>> from seqcnn.shuffle import dinucleotide_shuffle
>>> dinucleotide_shuffle("ACGTTGCAAGCT", rng=0)
'AGCTGCAACGTT'
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from seqcnn.errors import UsageError

__all__ = ["dinucleotide_shuffle", "shuffle_sequences", "shuffled_negatives"]

RngLike = int | np.random.Generator | None


def dinucleotide_shuffle(sequence: str, rng: RngLike = None) -> str:
    """Shuffle a sequence keeping its dinucleotide counts, first and last letter.

    Parameters
    ----------
    sequence
        Any string; letters are treated as given (case and ``N`` included).
    rng
        Seed or :class:`numpy.random.Generator`; ``None`` draws fresh entropy.

    Returns
    -------
    str
        A uniformly random sequence with the same dinucleotide (hence letter) counts and the
        same first and last letter.  Sequences shorter than 3 are returned unchanged.

    Examples
    --------
    >>> dinucleotide_shuffle("ACGTTGCAAGCT", rng=0)
    'AGCTGCAACGTT'
    """
    if not isinstance(sequence, str):
        raise UsageError(f"dinucleotide_shuffle needs a str, got {type(sequence).__name__}")
    if len(sequence) < 3:
        return sequence
    return _euler_shuffle(sequence, np.random.default_rng(rng))


def shuffle_sequences(sequences: Iterable[str], k: int = 2, seed: RngLike = 0) -> list[str]:
    """Shuffle each sequence, preserving its letter (``k=1``) or dinucleotide (``k=2``) counts.

    Parameters
    ----------
    sequences
        The sequences.
    k
        1: a plain random permutation of the letters; 2: :func:`dinucleotide_shuffle`.
    seed
        Seed or generator; the same seed gives the same shuffles.

    Returns
    -------
    list of str
        One shuffled sequence per input, in input order.

    Examples
    --------
    >>> shuffle_sequences(["ACGTTGCAAGCT", "AAAACCCCGG"], k=1, seed=0)
    ['GGATGTATCCAC', 'CCCACAAGGA']
    """
    if k not in (1, 2) or isinstance(k, bool):
        raise UsageError(f"k must be 1 (letter counts) or 2 (dinucleotide counts), got {k!r}")
    rng = np.random.default_rng(seed)
    out = []
    for sequence in sequences:
        if not isinstance(sequence, str):
            raise UsageError(f"sequences must be strings, got {type(sequence).__name__}")
        if k == 1:
            codes = _to_codes(sequence)
            out.append(_from_codes(rng.permutation(codes)))
        elif len(sequence) < 3:
            out.append(sequence)
        else:
            out.append(_euler_shuffle(sequence, rng))
    return out


def shuffled_negatives(
    records: Iterable[tuple[str, str]],
    seed: RngLike = 0,
    suffix: str = "_shuf",
    k: int = 2,
) -> list[tuple[str, str]]:
    """Shuffled copies of records, to use as negatives with matched composition.

    The new id is the old id with ``suffix`` appended (``chr1:100-200`` ->
    ``chr1:100-200_shuf``), so the coordinate prefix survives: a split by chromosome, which
    reads the chromosome from the part of the id before ``:``, puts each negative on the same
    side as the sequence it was made from, and no shuffled copy of a test sequence leaks into
    training.

    Parameters
    ----------
    records
        ``(id, sequence)`` pairs, e.g. from :func:`seqcnn.fasta.read_fasta`.
    seed
        Seed or generator; the same seed gives the same negatives.
    suffix
        Appended to every id.
    k
        1 keeps letter counts, 2 (default) keeps dinucleotide counts.

    Returns
    -------
    list of (id, sequence)
    """
    records = list(records)
    shuffled = shuffle_sequences((seq for _, seq in records), k=k, seed=seed)
    return [(f"{rid}{suffix}", seq) for (rid, _), seq in zip(records, shuffled, strict=True)]


def _to_codes(sequence: str) -> np.ndarray:
    # UTF-32 gives one integer per character for any alphabet, ASCII or not.
    return np.frombuffer(sequence.encode("utf-32-le"), dtype="<u4")


def _from_codes(codes: np.ndarray | list[int]) -> str:
    return np.asarray(codes, dtype="<u4").tobytes().decode("utf-32-le")


def _euler_shuffle(sequence: str, rng: np.random.Generator) -> str:
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

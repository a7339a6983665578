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

import functools
from collections.abc import Iterable, Sequence
from itertools import accumulate, compress

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
            # Fewer than two letters have one order (and would take no random numbers).
            codes = _to_codes(sequence)
            out.append(sequence if codes.size < 2 else _from_codes(rng.permutation(codes)))
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


_LEXSORT_MAX = 256  # up to this many edges np.lexsort is faster than a radix sort


def _to_codes(sequence: str) -> np.ndarray:
    # UTF-32 gives one integer per character for any alphabet, ASCII or not.
    return np.frombuffer(sequence.encode("utf-32-le"), dtype="<u4")


def _from_codes(codes: np.ndarray | list[int]) -> str:
    return np.asarray(codes, dtype="<u4").tobytes().decode("utf-32-le")


def _euler_shuffle(sequence: str, rng: np.random.Generator) -> str:
    """Altschul-Erickson shuffle of a sequence of length >= 3 (see the module docstring)."""
    try:  # a byte per letter, its own number (small numbers make the sorts radix sorts)
        codes, letters = np.frombuffer(sequence.encode("latin-1"), dtype=np.uint8), None
    except UnicodeEncodeError:  # else each letter's rank among the sequence's letters
        letters, codes = np.unique(_to_codes(sequence), return_inverse=True)
        codes = codes.astype(np.min_scalar_type(letters.size - 1))
    src, dst = codes[:-1], codes[1:]

    # Out-edges grouped by source letter: letter v's are order[first[v]:][:degree[v]].
    order = np.argsort(src, kind="stable")
    degree = np.bincount(src).tolist()
    first = list(accumulate(degree, initial=0))
    leaving = list(compress(range(len(degree)), degree))
    targets = dst[order]
    targets = targets.tobytes() if letters is None else targets.tolist()
    last_exit = _wilson(rng, leaving, degree, first, targets, int(codes[-1]))

    # Random order of each letter's out-edges, its last exit edge sorted to the end.
    keys = rng.random(src.size)
    targets = dst[_group_order(keys, src, leaving, order[list(last_exit.values())])]
    if letters is None:
        targets, names = targets.tobytes().decode("latin-1"), list(map(chr, leaving))
    else:
        targets, names = _from_codes(letters[targets]), list(map(chr, letters[leaving]))

    # The walk leaves each letter by its next unused edge: `exits` holds, per letter, an
    # iterator over the letters its edges lead to, and `out` is extended from itself (a list
    # iterator sees the items appended while it runs), so the walk runs in C.  It stops at
    # the last letter, whose exits are used up.
    exits = {sequence[-1]: iter(())}
    for name, letter in zip(names, leaving, strict=True):
        exits[name] = iter(targets[first[letter] : first[letter + 1]])
    out = [sequence[0]]
    out += map(next, map(exits.__getitem__, out))
    return "".join(out)


def _wilson(
    rng: np.random.Generator,
    leaving: list[int],
    degree: list[int],
    first: list[int],
    targets: Sequence[int],
    root: int,
) -> dict[int, int]:
    """Wilson's algorithm: a random arborescence of last exit edges rooted at ``root`` (the
    last letter), from loop-erased random walks started at every other letter.

    Letter v's out-edges lead to ``targets[first[v]:][:degree[v]]``.  Returns {letter: its
    last exit edge}, an index into ``targets``.
    """
    uniforms = rng.random(4 * len(leaving) + 8).tolist()
    used = 0
    in_tree = {root}
    last_exit: dict[int, int] = {}
    for start in leaving:
        letter = start
        while letter not in in_tree:
            if used == len(uniforms):
                uniforms, used = rng.random(len(uniforms)).tolist(), 0
            pick = first[letter] + int(uniforms[used] * degree[letter])
            used += 1
            last_exit[letter] = pick
            letter = targets[pick]
        letter = start
        while letter not in in_tree:
            in_tree.add(letter)
            letter = targets[last_exit[letter]]
    return last_exit


def _group_order(
    keys: np.ndarray, groups: np.ndarray, present: list[int], last: np.ndarray
) -> np.ndarray:
    """Indices ordered by group, then key (``last`` after all others), then index.

    The same as ``keys[last] = 2.0; np.lexsort((keys, groups))``, where ``present`` lists
    the group numbers in ascending order.  Many keys are sorted by one radix sort instead,
    on the group's rank and as many of the keys' top bits as fit with it in 16 bits,
    comparing whole keys only where those tie.
    """
    shift = 16 - max(1, (len(present) - 1).bit_length())
    if keys.size <= _LEXSORT_MAX or shift < 8:
        keys[last] = 2.0
        return np.lexsort((keys, groups))
    # keys < 1, so floor(key * 2**shift) < 2**shift; last edges get the group's largest value
    code = _ranks(tuple(present), shift)[groups] | (keys * (1 << shift)).astype(np.uint16)
    keys[last] = 2.0
    code[last] |= (1 << shift) - 1
    index = np.argsort(code, kind="stable")
    code = code[index]
    tie = code[1:] == code[:-1]
    if tie.any():
        # Sort the tied runs by their keys: a run is one code, and within it the sort kept
        # the index order.
        tied = np.zeros(index.size, dtype=bool)
        tied[1:] = tie
        tied[:-1] |= tie
        where = np.flatnonzero(tied)
        runs = index[where]
        index[where] = runs[np.lexsort((keys[runs], code[where]))]
    return index


@functools.lru_cache(maxsize=64)
def _ranks(present: tuple[int, ...], shift: int) -> np.ndarray:
    """Group number -> its rank among ``present``, shifted left by ``shift`` bits."""
    ranks = np.zeros(present[-1] + 1, dtype=np.uint16)
    ranks[list(present)] = np.arange(len(present)) << shift
    ranks.flags.writeable = False
    return ranks

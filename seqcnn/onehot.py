"""One-hot encoding of DNA: letters → compact codes → (N, 4, L) arrays.

Two representations are used throughout seqcnn:

* **codes**: one ``uint8`` per base, ``A=0 C=1 G=2 T=3 N=4`` and the IUPAC ambiguity codes
  ``R Y S W K M B D H V = 5..14``.  This is what datasets store on disk (1 byte per base) and
  what batches are built from.
* **one-hot**: ``float32`` arrays of shape ``(N, 4, L)``, channels in the order A, C, G, T,
  which is what the networks take.  How N and ambiguity codes become numbers is chosen by
  ``n_encoding``: ``"zeros"`` (all zero, the default), ``"uniform"`` (0.25 each) or
  ``"iupac"`` (the code's probabilities, e.g. R = 0.5 A + 0.5 G).

Everything is vectorised (lookup tables over bytes, comparisons per channel); no Python
loop touches individual bases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .alphabet import (
    COMPLEMENT_CODES,
    CROP_MODES,
    INVALID_CODE,
    IUPAC_CODES,
    LETTER_BYTES,
    N_CODE,
    N_ENCODINGS,
    ONE_HOT_TABLES,
    check_crop,
    check_n_encoding,
    invalid_letter_error,
    sequence_codes,
)
from .errors import DataError

__all__ = [
    "N_ENCODINGS",
    "CROP_MODES",
    "N_CODE",
    "one_hot",
    "sequence_codes",
    "encode_sequences",
    "codes_to_one_hot",
    "decode",
    "codes_to_strings",
    "rc",
    "reverse_complement_codes",
]


def _fit(codes: np.ndarray, length: int, crop: str) -> np.ndarray:
    """Pad with N or crop one code vector to ``length``, keeping the chosen part."""
    n = codes.shape[0]
    if n == length:
        return codes
    if n > length:
        start = {"center": (n - length) // 2, "left": 0, "right": n - length}[crop]
        return codes[start : start + length]
    out = np.full(length, N_CODE, dtype=np.uint8)
    start = {"center": (length - n) // 2, "left": 0, "right": length - n}[crop]
    out[start : start + n] = codes
    return out


def encode_sequences(
    sequences: Sequence[str],
    length: int | None = None,
    crop: str = "center",
    *,
    ids: Sequence[str] | None = None,
    path: str | None = None,
) -> np.ndarray:
    """Codes of many sequences as one ``(N, L)`` ``uint8`` array.

    Parameters
    ----------
    sequences
        DNA strings.
    length
        Pad (with N) or crop every sequence to this length.  Without it all sequences
        must share one length.
    crop
        Which part to keep when cropping, and where to put the sequence when padding:
        ``"center"``, ``"left"`` (keep the start) or ``"right"`` (keep the end).
    ids, path
        Used to name the record and file in error messages.
    """
    check_crop(crop)
    n = len(sequences)
    if n == 0:
        return np.zeros((0, length or 0), dtype=np.uint8)
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=n)
    same = bool((lengths == lengths[0]).all())
    if length is None and not same:
        first = int(np.flatnonzero(lengths != lengths[0])[0])
        name = (lambda i: ids[i]) if ids is not None else (lambda i: f"#{i + 1}")
        raise DataError(
            f"length {lengths[first]} differs from the {lengths[0]} bases of '{name(0)}'; all "
            "sequences must share one length, or pass --length (length=) to pad or crop them",
            path=path,
            record=name(first),
        )
    if same and (length is None or lengths[0] == length):
        # Fast path: one byte translation over the concatenated letters.
        joined = bytearray("".join(sequences).encode("latin-1", "replace"))
        codes = np.frombuffer(joined.translate(LETTER_BYTES), dtype=np.uint8).reshape(n, -1)
        if codes.size and codes.max() == INVALID_CODE:
            row = int(np.flatnonzero((codes == INVALID_CODE).any(axis=1))[0])
            record = ids[row] if ids is not None else None
            raise invalid_letter_error(sequences[row], codes[row], path, record)
        return codes
    out = np.empty((n, length), dtype=np.uint8)
    for i, sequence in enumerate(sequences):
        record = ids[i] if ids is not None else None
        out[i] = _fit(sequence_codes(sequence, path, record), length, crop)
    return out


def codes_to_one_hot(codes: np.ndarray, n_encoding: str = "zeros") -> np.ndarray:
    """Turn ``(..., L)`` codes into a ``float32`` one-hot array of shape ``(..., 4, L)``.

    Examples
    --------
    >>> codes_to_one_hot(np.array([0, 3, 5]), "iupac").T.tolist()
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.5, 0.0, 0.5, 0.0]]
    """
    check_n_encoding(n_encoding)
    codes = np.asarray(codes)
    out = np.empty((*codes.shape[:-1], 4, codes.shape[-1]), dtype=np.float32)
    # One comparison per channel writes the bases, about 3x faster than four table
    # look-ups; the few N and ambiguity codes then take the table's row, unless all those
    # rows are zeros as the comparisons left them.  Codes past the table (and negative ones)
    # are looked up too, to fail (or wrap) as a look-up does.
    for channel in range(4):
        out[..., channel, :] = codes == channel
    table = ONE_HOT_TABLES[n_encoding]
    rare = codes >= (N_CODE if table[N_CODE:].any() else len(table))
    if codes.dtype.kind != "u":
        rare |= codes < 0
    if rare.any():
        length = codes.shape[-1]
        at = np.flatnonzero(rare)
        values = table[codes.reshape(-1)[at]]
        at += at // length * (3 * length)  # from (..., L) to channel 0 of (..., 4, L)
        flat = out.reshape(-1)
        for channel in range(4):
            flat[at + channel * length] = values[:, channel]
    return out


def one_hot(
    sequences: str | Iterable[str],
    length: int | None = None,
    crop: str = "center",
    n_encoding: str = "zeros",
) -> np.ndarray:
    """One-hot encode DNA sequences.

    Parameters
    ----------
    sequences
        A string or an iterable of strings (any case; U is read as T; N and IUPAC codes
        allowed).
    length
        Pad with N or crop to this length; without it all sequences must share one length.
    crop
        ``"center"`` (default), ``"left"`` or ``"right"``: the part kept when cropping and
        the placement when padding.
    n_encoding
        ``"zeros"`` (default), ``"uniform"`` or ``"iupac"``: how N and ambiguity codes are
        encoded.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(N, 4, L)``, channels A, C, G, T.

    Examples
    --------
    >>> one_hot(["ACGT", "ACGN"]).shape
    (2, 4, 4)
    >>> one_hot("R", n_encoding="iupac")[0, :, 0].tolist()
    [0.5, 0.0, 0.5, 0.0]
    """
    if isinstance(sequences, str):
        sequences = [sequences]
    sequences = list(sequences)
    return codes_to_one_hot(encode_sequences(sequences, length, crop), n_encoding)


def codes_to_strings(codes: np.ndarray) -> list[str]:
    """Turn ``(N, L)`` codes back into strings."""
    letters = np.frombuffer(IUPAC_CODES.encode(), dtype=np.uint8)
    codes = np.atleast_2d(codes)
    return [letters[row].tobytes().decode() for row in codes]


def decode(x: np.ndarray) -> list[str]:
    """Turn a one-hot ``(N, 4, L)`` array back into strings.

    Positions whose four values are not a single clear base (all zero, uniform or
    ambiguous) are written as ``N``.

    Examples
    --------
    >>> decode(one_hot(["ACGTN", "ggccr"]))
    ['ACGTN', 'GGCCN']
    """
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    best = x.argmax(axis=1)
    clear = (x.max(axis=1) > 0.5) & (np.isclose(x.sum(axis=1), x.max(axis=1)))
    codes = np.where(clear, best, N_CODE).astype(np.uint8)
    return codes_to_strings(codes)


def rc(x):
    """Reverse complement of one-hot sequences (numpy array or torch tensor).

    With channels in A, C, G, T order the complement is the channel order reversed, so the
    reverse complement flips both the channel and the position axes.

    Parameters
    ----------
    x
        Array or tensor of shape ``(..., 4, L)``.

    Examples
    --------
    >>> decode(rc(one_hot(["AACGN"])))
    ['NCGTT']
    """
    if hasattr(x, "flip"):  # torch.Tensor
        return x.flip(dims=(-2, -1))
    return np.ascontiguousarray(np.asarray(x)[..., ::-1, ::-1])


#: Code -> complementary code, for ``bytes.translate`` (bytes past the alphabet kept).
_COMPLEMENT_BYTES = COMPLEMENT_CODES.tobytes() + bytes(range(len(COMPLEMENT_CODES), 256))


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of ``(..., L)`` codes, ambiguity codes included (a new array).

    ``uint8`` codes are complemented by one ``bytes.translate``, several times faster than
    a numpy table look-up, which other integer types take.
    """
    codes = np.asarray(codes)
    if codes.dtype != np.uint8:
        return np.ascontiguousarray(COMPLEMENT_CODES[codes][..., ::-1])
    translated = np.ascontiguousarray(codes).tobytes().translate(_COMPLEMENT_BYTES)
    return np.frombuffer(translated, np.uint8).reshape(codes.shape)[..., ::-1].copy()

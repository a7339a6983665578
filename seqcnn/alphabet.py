"""The DNA alphabet: letters, byte codes, IUPAC ambiguity and complement tables.

Everything that reads, encodes or draws sequences takes its letters from here, so the
alphabet is defined once, below both :mod:`seqcnn.fasta` and :mod:`seqcnn.onehot`.

* **letters**: ``A C G T`` (the one-hot channel order), ``N`` and the IUPAC ambiguity codes
  ``R Y S W K M B D H V``, in either case; ``U`` is read as ``T``.
* **codes**: one ``uint8`` per base, ``A=0 C=1 G=2 T=3 N=4``, ``R..V = 5..14``; anything
  else maps to :data:`INVALID_CODE`.
* **one-hot tables**: for each N encoding (``zeros``, ``uniform``, ``iupac``) a
  ``(15, 4)`` table giving the four channel values of every code.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError, UsageError

__all__ = [
    "ALPHABET",
    "IUPAC_CODES",
    "IUPAC_BASES",
    "N_CODE",
    "INVALID_CODE",
    "N_ENCODINGS",
    "CROP_MODES",
    "LETTER_CODES",
    "LETTER_BYTES",
    "DNA_LETTERS",
    "ONE_HOT_TABLES",
    "COMPLEMENT_CODES",
    "COMPLEMENT_LETTERS",
    "check_n_encoding",
    "check_crop",
    "invalid_letter_error",
    "sequence_codes",
]

#: Nucleotide channel order of every one-hot array in seqcnn.
ALPHABET = "ACGT"

#: Every accepted sequence letter, in code order: bases, N, then the IUPAC ambiguity codes.
IUPAC_CODES = "ACGTNRYSWKMBDHV"

#: Which bases each letter stands for, in A, C, G, T order.
IUPAC_BASES = {
    "A": "A", "C": "C", "G": "G", "T": "T", "N": "ACGT",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG",
}  # fmt: skip

#: Code of N (also what sequences are padded with).
N_CODE = 4
#: Code of a byte that is no sequence letter.
INVALID_CODE = 255

#: How N and ambiguity codes become channel values.
N_ENCODINGS = ("zeros", "uniform", "iupac")
#: Which part of a sequence is kept when cropping (and where it goes when padding).
CROP_MODES = ("center", "left", "right")

#: Byte -> code lookup: both cases, U read as T, everything else :data:`INVALID_CODE`.
LETTER_CODES = np.full(256, INVALID_CODE, dtype=np.uint8)
for _code, _letter in enumerate(IUPAC_CODES):
    LETTER_CODES[ord(_letter)] = _code
    LETTER_CODES[ord(_letter.lower())] = _code
LETTER_CODES[ord("U")] = LETTER_CODES[ord("u")] = 3
LETTER_CODES.flags.writeable = False
#: The same table for ``bytes.translate``.
LETTER_BYTES = LETTER_CODES.tobytes()
#: Every letter a DNA (or RNA) sequence may contain, both cases.
DNA_LETTERS = frozenset(IUPAC_CODES + IUPAC_CODES.lower() + "Uu")


def _one_hot_table(n_encoding: str) -> np.ndarray:
    table = np.zeros((len(IUPAC_CODES), 4), dtype=np.float32)
    for code, letter in enumerate(IUPAC_CODES):
        bases = IUPAC_BASES[letter]
        if len(bases) == 1:
            table[code, ALPHABET.index(bases)] = 1.0
        elif n_encoding == "uniform":
            table[code] = 0.25
        elif n_encoding == "iupac":
            for base in bases:
                table[code, ALPHABET.index(base)] = 1.0 / len(bases)
    table.flags.writeable = False
    return table


#: ``(15, 4)`` channel values of every code, for each N encoding.
ONE_HOT_TABLES = {name: _one_hot_table(name) for name in N_ENCODINGS}

#: Code -> code of the complementary letter (ambiguity codes included).
COMPLEMENT_CODES = np.array([IUPAC_CODES.index(c) for c in "TGCANYRSWMKVHDB"], dtype=np.uint8)
COMPLEMENT_CODES.flags.writeable = False
#: ``str.translate`` table that complements letters, keeping their case.
COMPLEMENT_LETTERS = str.maketrans(
    "ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb"
)


def check_n_encoding(n_encoding: str) -> None:
    """Raise :class:`~seqcnn.errors.UsageError` unless ``n_encoding`` is one of
    :data:`N_ENCODINGS`."""
    if n_encoding not in N_ENCODINGS:
        raise UsageError(
            f"unknown N encoding '{n_encoding}'; choose one of {', '.join(N_ENCODINGS)}"
        )


def check_crop(crop: str) -> None:
    """Raise :class:`~seqcnn.errors.UsageError` unless ``crop`` is one of :data:`CROP_MODES`."""
    if crop not in CROP_MODES:
        raise UsageError(f"unknown crop mode '{crop}'; choose one of {', '.join(CROP_MODES)}")


def invalid_letter_error(sequence: str, codes: np.ndarray, path=None, record=None) -> DataError:
    """The error for the first invalid letter of ``sequence`` (whose ``codes`` hold at least
    one :data:`INVALID_CODE`), naming its 1-based position, file and record."""
    position = int(np.flatnonzero(codes == INVALID_CODE)[0])
    letter = sequence[position]
    return DataError(
        f"invalid letter {letter!r} at position {position + 1}; expected A, C, G, T, U, N or "
        "an IUPAC code (R Y S W K M B D H V)",
        path=path,
        record=record,
    )


def sequence_codes(sequence: str, path: str | None = None, record: str | None = None) -> np.ndarray:
    """Codes (``uint8``) of one sequence, checking every letter.

    Parameters
    ----------
    sequence
        DNA or RNA letters in any case.
    path, record
        Named in the error message if a letter is invalid.

    Raises
    ------
    DataError
        A letter that is not a base, N or an IUPAC code, with its 1-based position.

    Examples
    --------
    >>> sequence_codes("ACGTNr").tolist()
    [0, 1, 2, 3, 4, 5]
    """
    codes = LETTER_CODES[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]
    if codes.size and codes.max() == INVALID_CODE:
        raise invalid_letter_error(sequence, codes, path, record)
    return codes

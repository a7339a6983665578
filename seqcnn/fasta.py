"""Reading FASTA files: plain, gzip, bgzip or standard input, one record at a time.

Parsing is Biopython's ``SimpleFastaParser``; this module adds what real-world files need:
transparent decompression (detected from the file's first bytes, not its name), checks
that the input is FASTA at all, unique non-empty records, and one-line errors that name
the file and record.  Sequences are returned upper-case with ``U`` read as ``T``.

Nothing here holds more than one record in memory (apart from the set of ids seen, used to
reject duplicates, which callers streaming huge files can switch off).
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import DataError

__all__ = [
    "ALPHABET",
    "IUPAC_CODES",
    "read_fasta",
    "read_fasta_records",
    "reverse_complement",
    "write_fasta",
    "open_binary",
    "open_text",
]

#: Nucleotide channel order of every one-hot array in seqcnn.
ALPHABET = "ACGT"

#: Every accepted sequence letter, in code order: bases, N, then the IUPAC ambiguity codes.
IUPAC_CODES = "ACGTNRYSWKMBDHV"

_COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")

PathLike = str | os.PathLike


def _display_name(path: PathLike) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


@contextmanager
def open_binary(path: PathLike):
    """Open a possibly compressed file (or ``-`` for standard input) for reading bytes.

    Compression is detected from the gzip magic bytes, so ``.gz`` files, bgzip files
    (a series of gzip members) and compressed standard input all work whatever the name.

    Parameters
    ----------
    path
        A file path, or ``"-"`` for standard input.

    Yields
    ------
    io.BufferedIOBase
        A binary handle on the decompressed content.
    """
    name = _display_name(path)
    if str(path) == "-":
        raw = sys.stdin.buffer
        close_raw = False
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise DataError("no such file", path=name) from None
        except IsADirectoryError:
            raise DataError("is a directory, expected a FASTA file", path=name) from None
        except PermissionError:
            raise DataError("permission denied", path=name) from None
        close_raw = True
    try:
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
        magic = buffered.peek(2)[:2]
        if magic == b"\x1f\x8b":
            yield gzip.GzipFile(fileobj=buffered, mode="rb")
        else:
            yield buffered
    finally:
        if close_raw:
            raw.close()


@contextmanager
def open_text(path: PathLike):
    """Open a possibly compressed text file (or ``-`` for standard input) for reading.

    As :func:`open_binary`, decoded as Latin-1 with universal newlines.

    Yields
    ------
    io.TextIOBase
        A text handle; undecodable bytes are replaced, so they surface as invalid letters.
    """
    with open_binary(path) as binary:
        yield io.TextIOWrapper(binary, encoding="latin-1", newline=None)


def read_fasta_records(
    path: PathLike,
    *,
    check_duplicates: bool = True,
    allow_empty: bool = False,
    with_description: bool = False,
) -> Iterator[tuple[str, str]]:
    """Iterate over the raw records of a FASTA file as ``(id, sequence)``.

    The sequence is returned exactly as written (case kept, letters not checked), which is
    what the fast encoder wants; use :func:`read_fasta` for normalised, validated strings.

    Parameters
    ----------
    path
        Plain, gzip or bgzip FASTA file, or ``"-"`` for standard input.
    check_duplicates
        Raise an error when a record id appears twice (keeps a set of the ids seen).
    allow_empty
        Accept a file with no records (yield nothing) instead of raising an error.
    with_description
        Yield ``(id, description, sequence)``, the description being the header text
        after the id.

    Raises
    ------
    DataError
        Not FASTA, empty file, empty record, missing or duplicate id, truncated or corrupt
        gzip data.
    """
    name = _display_name(path)
    seen: set[str] = set()
    record_id = None
    try:
        with open_text(path) as handle:
            first = ""
            for line in handle:
                if line.strip():
                    first = line
                    break
            if not first:
                if allow_empty:
                    return
                raise DataError("file is empty: no FASTA records found", path=name)
            if not first.startswith(">"):
                snippet = first.strip()[:30]
                raise DataError(
                    f"not a FASTA file: the first line should start with '>' but is '{snippet}'",
                    path=name,
                )
            for title, sequence in SimpleFastaParser(itertools.chain([first], handle)):
                fields = title.split(None, 1)
                if not fields:
                    raise DataError(
                        f"a header line has no record id (after record '{record_id}')"
                        if record_id
                        else "the first header line has no record id",
                        path=name,
                    )
                record_id = fields[0]
                if not sequence:
                    raise DataError("empty sequence", path=name, record=record_id)
                if check_duplicates:
                    if record_id in seen:
                        raise DataError(
                            "duplicate record id (ids must be unique)", path=name, record=record_id
                        )
                    seen.add(record_id)
                if with_description:
                    yield record_id, fields[1] if len(fields) > 1 else "", sequence
                else:
                    yield record_id, sequence
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        where = f" after record '{record_id}'" if record_id else ""
        raise DataError(f"truncated or corrupt gzip data{where} ({err})", path=name) from None


def SimpleFastaParser(handle):  # noqa: N802 - Biopython's name
    """Biopython's parser, imported lazily (Bio is only needed once a file is read)."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser as parser

    return parser(handle)


def read_fasta(
    path: PathLike, *, check_duplicates: bool = True, allow_empty: bool = False
) -> Iterator[tuple[str, str]]:
    """Iterate over a FASTA file as ``(id, sequence)`` pairs.

    Sequences are upper-cased (soft-masked bases become ordinary bases) and ``U`` is read
    as ``T``.  Letters other than A, C, G, T, N and the IUPAC ambiguity codes
    (R Y S W K M B D H V) are an error naming the file, record and position.

    Parameters
    ----------
    path
        Plain, gzip or bgzip FASTA file, or ``"-"`` for standard input.
    check_duplicates
        Raise an error when a record id appears twice.
    allow_empty
        Accept a file with no records instead of raising an error.

    Yields
    ------
    tuple of (str, str)
        Record id (the header up to the first whitespace) and sequence.

    Examples
    --------
    >>> for seq_id, seq in read_fasta("peaks.fa.gz"):  # doctest: +SKIP
    ...     print(seq_id, len(seq))
    """
    from .onehot import sequence_codes

    name = _display_name(path)
    for record_id, sequence in read_fasta_records(
        path, check_duplicates=check_duplicates, allow_empty=allow_empty
    ):
        sequence_codes(sequence, path=name, record=record_id)  # validates the letters
        yield record_id, sequence.upper().replace("U", "T")


def reverse_complement(sequence: str) -> str:
    """Reverse complement of a DNA string, IUPAC codes included, case kept.

    Examples
    --------
    >>> reverse_complement("AACGTN")
    'NACGTT'
    """
    return sequence.translate(_COMPLEMENT)[::-1]


def write_fasta(records, path: PathLike, line_width: int | None = None) -> None:
    """Write ``(id, sequence)`` pairs to a FASTA file atomically (gzip if it ends in .gz).

    Parameters
    ----------
    records
        Iterable of ``(id, sequence)``.
    path
        Output path; the file appears only once it is complete.
    line_width
        Wrap sequences at this width; ``None`` writes one line per sequence.

    Examples
    --------
    >>> write_fasta([("seq1", "ACGTACGT"), ("seq2", "GGCCAATT")], "two.fa.gz")  # doctest: +SKIP
    """
    from ._io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(tmp, "wt") as out:
            for record_id, sequence in records:
                out.write(f">{record_id}\n")
                if line_width:
                    for start in range(0, len(sequence), line_width):
                        out.write(sequence[start : start + line_width] + "\n")
                else:
                    out.write(sequence + "\n")


def sequence_lengths(path: PathLike) -> np.ndarray:
    """Lengths of all records in a FASTA file, in file order."""
    return np.fromiter((len(s) for _, s in read_fasta_records(path)), dtype=np.int64)

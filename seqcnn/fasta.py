"""Reading FASTA files: plain, gzip, bgzip or standard input, one record at a time.

Parsing follows the rules of Biopython's ``SimpleFastaParser``
(:mod:`seqcnn.fasta_parser`); this module adds what real-world files need:
transparent decompression (detected from the file's first bytes, not its name), checks
that the input is FASTA at all, unique non-empty records, and one-line errors that name
the file and record.  Sequences are returned upper-case with ``U`` read as ``T``.

Nothing here holds more than a block of text (64k characters) or one record in memory
(apart from the set of ids seen, used to reject duplicates, which callers streaming huge
files can switch off).
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .alphabet import ALPHABET, COMPLEMENT_LETTERS, IUPAC_CODES, sequence_codes
from .errors import DataError
from .fasta_parser import record_blocks

__all__ = [
    "ALPHABET",
    "IUPAC_CODES",
    "read_fasta",
    "read_fasta_batches",
    "read_fasta_records",
    "fasta_byte_ranges",
    "count_records",
    "reverse_complement",
    "write_fasta",
    "open_binary",
    "open_text",
]


PathLike = str | os.PathLike


def display_name(path: PathLike) -> str:
    """How a path is named in messages: ``<stdin>`` for ``-``, else the path as given."""
    return "<stdin>" if str(path) == "-" else str(path)


@contextmanager
def open_binary(path: PathLike):
    """Open a possibly compressed file (or ``-`` for standard input) for reading bytes.

    Compression is detected from the gzip magic bytes, so ``.gz`` files, bgzip files
    (a series of gzip members) and compressed standard input all work whatever the name.
    A UTF-8 byte-order mark at the start of the (decompressed) content is skipped.

    Parameters
    ----------
    path
        A file path, or ``"-"`` for standard input.

    Yields
    ------
    io.BufferedIOBase
        A binary handle on the decompressed content.
    """
    name = display_name(path)
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
            content = gzip.GzipFile(fileobj=buffered, mode="rb")
        else:
            content = buffered
        if content.peek(len(BOM))[: len(BOM)] == BOM:
            content.read(len(BOM))
        yield content
    finally:
        if close_raw:
            raw.close()


@contextmanager
def open_text(path: PathLike, byte_range: tuple[int, int] | None = None):
    """Open a possibly compressed text file (or ``-`` for standard input) for reading.

    As :func:`open_binary`, decoded as Latin-1 with universal newlines.

    Parameters
    ----------
    path
        A file path, or ``"-"`` for standard input.
    byte_range
        ``(start, end)``: read only these bytes of a plain (uncompressed) file.

    Yields
    ------
    io.TextIOBase
        A text handle; undecodable bytes are replaced, so they surface as invalid letters.
    """
    if byte_range is None:
        with open_binary(path) as binary:
            yield io.TextIOWrapper(binary, encoding="latin-1", newline=None)
        return
    with open(path, "rb", buffering=0) as raw:
        start, end = byte_range
        if start == 0 and raw.read(len(BOM)) == BOM:
            start = len(BOM)
        part = io.BufferedReader(_ByteRange(raw, start, end), buffer_size=1 << 20)
        yield io.TextIOWrapper(part, encoding="latin-1", newline=None)


class _ByteRange(io.RawIOBase):
    """The bytes ``[start, end)`` of an open file, as a readable raw stream."""

    def __init__(self, raw, start: int, end: int):
        super().__init__()
        self._raw, self._left = raw, end - start
        raw.seek(start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)[: self._left]
        n = self._raw.readinto(view) if len(view) else 0
        self._left -= n
        return n


def fasta_byte_ranges(
    path: PathLike, n_parts: int, min_bytes: int = 1 << 24
) -> list[tuple[int, int]]:
    """Cut a plain FASTA file into about ``n_parts`` byte ranges that start at a record.

    Each cut is placed at the first header line (``>`` after a newline) past an even
    share of the file, so parsing the ranges one after another gives exactly the records
    of the whole file.  Compressed files, standard input and files smaller than
    ``2 * min_bytes`` give one range (or none, for standard input and compressed files).

    Parameters
    ----------
    path
        The FASTA file.
    n_parts
        How many ranges are wanted.
    min_bytes
        The smallest range worth a process of its own.

    Returns
    -------
    list of (int, int)
        ``(start, end)`` byte offsets covering the file; empty when the file cannot be
        read in ranges (standard input, compressed, not a regular file).
    """
    if str(path) == "-" or not os.path.isfile(path):
        return []
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        if handle.read(2) == b"\x1f\x8b":
            return []
        n_parts = max(1, min(n_parts, size // max(min_bytes, 1)))
        cuts = [0]
        for k in range(1, n_parts):
            position = max(k * size // n_parts, cuts[-1]) - 1
            handle.seek(position)
            tail = b""
            while True:
                chunk = handle.read(1 << 16)
                if not chunk:
                    position = size
                    break
                found = (tail + chunk).find(b"\n>")
                if found >= 0:
                    position += found - len(tail) + 1
                    break
                position += len(chunk)
                tail = chunk[-1:]
            if cuts[-1] < position < size:
                cuts.append(position)
    return list(zip(cuts, [*cuts[1:], size], strict=True))


def count_records(path: PathLike, byte_range: tuple[int, int] | None = None) -> int:
    """Count the header lines (``>`` at the start of a line) of a plain FASTA file.

    This is the number of records :func:`~seqcnn.fasta_parser.parse_fasta` finds there,
    at the speed of reading the bytes; it places each part of a file encoded in parallel.

    Parameters
    ----------
    path
        A plain (uncompressed) FASTA file.
    byte_range
        ``(start, end)`` from :func:`fasta_byte_ranges`; ``start`` must be at the start
        of a line.  Default: the whole file.
    """
    start, end = byte_range if byte_range is not None else (0, os.path.getsize(path))
    n = 0
    line_start = True  # the range starts at the start of a line
    with open(path, "rb") as handle:
        if start == 0 and handle.read(len(BOM)) == BOM:
            start = len(BOM)
        handle.seek(start)
        left = end - start
        while left > 0 and (block := handle.read(min(left, 1 << 24))):
            left -= len(block)
            n += len(header_starts(block, line_start))
            line_start = block[-1] in NEWLINES
    return n


NEWLINES = (ord("\n"), ord("\r"))
#: The UTF-8 byte-order mark some editors put at the start of a text file.
BOM = b"\xef\xbb\xbf"


def header_starts(block: bytes, line_start: bool) -> np.ndarray:
    """Offsets of the ``>`` that begin a line in ``block`` (vectorised).

    ``line_start`` says whether the block itself begins a line, so that a file read block
    by block is searched as a whole.
    """
    data = np.frombuffer(block, dtype=np.uint8)
    starts = np.flatnonzero(data == ord(">"))
    if starts.size:
        before = data[np.maximum(starts - 1, 0)]
        at_line_start = (before == NEWLINES[0]) | (before == NEWLINES[1])
        if starts[0] == 0:
            at_line_start[0] = line_start
        starts = starts[at_line_start]
    return starts


def read_fasta_batches(
    path: PathLike,
    *,
    batch_bases: int = 1 << 22,
    check_duplicates: bool = True,
    allow_empty: bool = False,
    byte_range: tuple[int, int] | None = None,
) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """Iterate over the raw records of a FASTA file in batches of about ``batch_bases``.

    This is the reading loop behind every FASTA reader in seqcnn: one pass of
    :func:`~seqcnn.fasta_parser.record_blocks` that checks each record and collects it into lists,
    so that what follows (letter checks, encoding) can work on a whole batch at once.
    Sequences are returned exactly as written (case kept, letters not checked).

    Parameters
    ----------
    path
        Plain, gzip or bgzip FASTA file, or ``"-"`` for standard input.
    batch_bases
        Yield a batch once it holds at least this many bases.
    check_duplicates
        Raise an error when a record id appears twice (keeps a set of the ids seen).
    allow_empty
        Accept a file with no records (yield nothing) instead of raising an error.
    byte_range
        ``(start, end)`` from :func:`fasta_byte_ranges`: read only the records there.

    Yields
    ------
    tuple of (list of str, list of str, list of str)
        Record ids, descriptions (the header text after the id) and sequences.

    Raises
    ------
    DataError
        Not FASTA, empty file, empty record, missing or duplicate id, truncated or corrupt
        gzip data.
    """
    name = display_name(path)
    seen: set[str] = set()
    last_id = None
    try:
        with open_text(path, byte_range) as handle:
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
            ids: list[str] = []
            descriptions: list[str] = []
            sequences: list[str] = []
            bases = 0
            for titles, block_sequences in record_blocks(handle, first):
                fields = [title.split(None, 1) for title in titles]
                lengths = list(map(len, block_sequences))
                at = 0
                while at < len(fields):
                    end = at  # records up to the one that brings the batch to batch_bases
                    while end < len(fields) and bases < batch_bases:
                        bases += lengths[end]
                        end += 1
                    part = fields[at:end]
                    if not (all(part) and all(lengths[at:end])):
                        bad = next(i for i in range(at, end) if not (fields[i] and lengths[i]))
                        before = fields[bad - 1][0] if bad > at else (ids[-1] if ids else last_id)
                        _raise_bad_record(fields[bad], before, name)
                    ids += [f[0] for f in part]
                    descriptions += [f[1] if len(f) > 1 else "" for f in part]
                    sequences += block_sequences[at:end]
                    at = end
                    if bases >= batch_bases:
                        last_id = ids[-1]
                        ids, descriptions = _as_utf8(ids), _as_utf8(descriptions)
                        if check_duplicates:
                            check_unique(seen, ids, name)
                        yield ids, descriptions, sequences
                        ids, descriptions, sequences, bases = [], [], [], 0
            if ids:
                ids, descriptions = _as_utf8(ids), _as_utf8(descriptions)
                last_id = ids[-1]
                if check_duplicates:
                    check_unique(seen, ids, name)
                yield ids, descriptions, sequences
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        where = f" after record '{last_id}'" if last_id else ""
        raise DataError(f"truncated or corrupt gzip data{where} ({err})", path=name) from None


def _as_utf8(texts: list[str]) -> list[str]:
    """Header texts as the UTF-8 they were written in.

    Files are decoded as Latin-1 (one character per byte, so a stray byte in a sequence
    surfaces as an invalid letter at its position rather than a decoding error); headers
    that are valid UTF-8 are decoded again here, so ids like ``séq_α1`` come out as written.
    Others stay as read.
    """
    if "".join(texts).isascii():
        return texts
    out = []
    for text in texts:
        try:
            out.append(text if text.isascii() else text.encode("latin-1").decode("utf-8"))
        except UnicodeError:
            out.append(text)
    return out


def _raise_bad_record(fields: list[str], previous: str | None, name: str):
    if not fields:
        raise DataError(
            f"a header line has no record id (after record '{previous}')"
            if previous
            else "the first header line has no record id",
            path=name,
        )
    raise DataError("empty sequence", path=name, record=fields[0])


def check_unique(seen: set[str], ids: list[str], name: str | None = None) -> None:
    """Add a batch of record ids to ``seen``, raising if any repeats an id already seen.

    Raises
    ------
    DataError
        Naming the first repeated id (in ``ids`` order) and the file ``name``.
    """
    batch = set(ids)
    if len(batch) == len(ids) and seen.isdisjoint(batch):
        seen |= batch
        return
    earlier: set[str] = set()
    for record_id in ids:
        if record_id in seen or record_id in earlier:
            raise DataError("duplicate record id (ids must be unique)", path=name, record=record_id)
        earlier.add(record_id)


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
    # Small batches keep streaming callers (predict) responsive on slow input.
    batches = read_fasta_batches(
        path, batch_bases=1 << 16, check_duplicates=check_duplicates, allow_empty=allow_empty
    )
    for ids, descriptions, sequences in batches:
        if with_description:
            yield from zip(ids, descriptions, sequences, strict=True)
        else:
            yield from zip(ids, sequences, strict=True)


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

    name = display_name(path)
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
    return sequence.translate(COMPLEMENT_LETTERS)[::-1]


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

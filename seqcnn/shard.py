"""Scatter and gather: split a FASTA file into shards, join the shards' prediction tables.

Prediction of a large FASTA file scales out by splitting it into shards that are predicted
as independent jobs (``workflows/Snakefile`` does this), then gathering the tables::

    seqcnn split windows.fa.gz -n 3 -o shards            # shards/shard_000.fa ... shard_002.fa
    seqcnn predict shards/shard_000.fa -o tables/shard_000.tsv     # one job per shard
    seqcnn gather tables/shard_000.tsv tables/shard_001.tsv tables/shard_002.tsv -o all.tsv

:func:`split_fasta` never holds more than a block of the file in memory: a first pass counts
the records (lines starting with ``>``), a second streams the bytes out, each record to its
shard unchanged (header, description and line breaks kept).  Shard ``k`` holds the next
records in input order, as evenly as whole multiples of ``multiple`` records allow (the
batch size of ``seqcnn predict``), so the shards, concatenated, are the input.  With more
shards than records the last shards are empty files, which ``seqcnn predict`` turns into
header-only tables, so a fixed number of jobs always has its inputs.  Sequences are not
checked here: ``seqcnn predict`` reports a bad letter naming the shard and the record.

:func:`gather_tables` concatenates tables as ``seqcnn predict`` writes them (TSV, CSV, either
gzipped, or Parquet), in the order given, with one header, through the writer that
:func:`seqcnn.predict.predict_file` uses (:func:`seqcnn.tables.write_table`): gathering the
tables of a FASTA file's shards gives the table one ``seqcnn predict`` of the whole file
writes, bit for bit when the shards hold whole batches (the network's float32 arithmetic
can depend on which records share a batch).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import DataError, UsageError
from .fasta import NEWLINES, display_name, header_starts, open_binary
from .tables import CHUNK_ROWS

__all__ = ["Shard", "split_fasta", "shard_sizes", "shard_names", "gather_tables"]

#: Bytes read (decompressed) at a time when splitting.
BLOCK_BYTES = 1 << 22
#: Where shard names put the shard number (zero-padded to at least 3 digits).
INDEX = "{index}"


class Shard(NamedTuple):
    """One shard written by :func:`split_fasta`: its path and how many records it holds."""

    path: Path
    records: int


def shard_sizes(n_records: int, n_shards: int, multiple: int = 1) -> list[int]:
    """Records per shard: as equal as possible in whole ``multiple``s, larger shards first.

    Every shard but the last non-empty one holds a multiple of ``multiple`` records.

    Examples
    --------
    >>> shard_sizes(10, 4)
    [3, 3, 2, 2]
    >>> shard_sizes(2, 3)
    [1, 1, 0]
    >>> shard_sizes(1000, 3, multiple=256)
    [512, 256, 232]
    """
    units = -(-n_records // multiple)
    base, extra = divmod(units, n_shards)
    sizes, left = [], n_records
    for k in range(n_shards):
        size = min((base + (k < extra)) * multiple, left)
        sizes.append(size)
        left -= size
    return sizes


def shard_names(n_shards: int, pattern: str = f"shard_{INDEX}.fa") -> list[str]:
    """File names of ``n_shards`` shards: ``{index}`` in ``pattern`` becomes 000, 001, ...

    Numbers are zero-padded to at least three digits, more with over 1,000 shards, so the
    names sort in shard order.
    """
    if pattern.count(INDEX) != 1 or "/" in pattern or os.sep in pattern:
        raise UsageError(
            f"the shard name pattern must hold '{INDEX}' once and no folder, got '{pattern}'"
        )
    width = max(3, len(str(n_shards - 1)))
    return [pattern.replace(INDEX, f"{k:0{width}d}") for k in range(n_shards)]


def split_fasta(
    path: str | os.PathLike,
    n_shards: int,
    out: str | os.PathLike,
    *,
    pattern: str = f"shard_{INDEX}.fa",
    multiple: int = 256,
) -> list[Shard]:
    """Split a FASTA file into ``n_shards`` files of consecutive records.

    Parameters
    ----------
    path
        Plain, gzip or bgzip FASTA file (read twice, so not standard input).
    n_shards
        Number of shards; shards beyond the number of records are written empty.
    out
        Folder for the shards, created if missing; shards of the same names are replaced.
    pattern
        Shard file name, ``{index}`` standing for the zero-padded shard number; a name
        ending in ``.gz`` is written gzip-compressed.
    multiple
        Every shard but the last non-empty one holds a multiple of this many records.
        With ``seqcnn predict``'s batch size (256 by default) each shard is predicted in
        exactly the batches one run over the whole file would use, so the gathered table
        is bit-identical to that run (a batch of other sequences can change a float32
        result in its last digit).  ``1`` balances the shards to within one record.

    Returns
    -------
    list of Shard
        ``(path, records)`` of every shard, in order.

    Raises
    ------
    DataError
        Missing or unreadable file, not FASTA, corrupt gzip data.
    UsageError
        Fewer than one shard, standard input, a bad pattern.

    Notes
    -----
    The shards are written under temporary names and renamed only once all are complete,
    so a failed split leaves none behind.

    Examples
    --------
    >>> shards = split_fasta("windows.fa.gz", 20, "shards")  # doctest: +SKIP
    >>> [(s.path.name, s.records) for s in shards[:2]]  # doctest: +SKIP
    [('shard_000.fa', 5120), ('shard_001.fa', 5120)]
    """
    from ._io import atomic_path

    if isinstance(n_shards, bool) or not isinstance(n_shards, (int, np.integer)) or n_shards < 1:
        raise UsageError(f"the number of shards must be a positive integer, got {n_shards!r}")
    if str(path) == "-":
        raise UsageError("split reads its input twice: give a file, not standard input")
    if isinstance(multiple, bool) or not isinstance(multiple, (int, np.integer)) or multiple < 1:
        raise UsageError(f"multiple must be a positive integer, got {multiple!r}")
    names = shard_names(int(n_shards), pattern)
    total = _count_records(path)
    sizes = shard_sizes(total, int(n_shards), int(multiple))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError("output exists and is not a folder", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in names]
    with ExitStack() as stack:
        temporary = [stack.enter_context(atomic_path(p)) for p in paths]
        _write_shards(path, temporary, sizes, total, compress=pattern.endswith(".gz"))
    return [Shard(p, n) for p, n in zip(paths, sizes, strict=True)]


def _blocks(path: str | os.PathLike) -> Iterator[bytes]:
    """The decompressed content of a file, block by block; gzip errors as DataError."""
    try:
        with open_binary(path) as handle:
            while block := handle.read(BLOCK_BYTES):
                yield block
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataError(
            f"truncated or corrupt gzip data ({err})", path=display_name(path)
        ) from None


def _count_records(path: str | os.PathLike) -> int:
    """Number of header lines; checks that the first line with text is a header."""
    total = 0
    line_start = True
    checked = False
    for block in _blocks(path):
        if not checked and block.strip():  # the first text: '>' at the start of a line
            text = block.lstrip()
            offset = len(block) - len(text)
            at_line_start = block[offset - 1] in NEWLINES if offset else line_start
            if not (text.startswith(b">") and at_line_start):
                snippet = text.splitlines()[0].strip()[:30].decode("latin-1")
                raise DataError(
                    f"not a FASTA file: the first line should start with '>' but is '{snippet}'",
                    path=display_name(path),
                )
            checked = True
        total += len(header_starts(block, line_start))
        line_start = block[-1] in NEWLINES
    return total


def _write_shards(path, temporary: Sequence[Path], sizes: list[int], total: int,
                  compress: bool) -> None:  # fmt: skip
    """Stream the records into the shard files, switching files at the shards' first records."""

    def open_shard(k: int):
        if compress:  # level 6, as gzip and bgzip default to: level 9 is far slower
            return gzip.open(temporary[k], "wb", compresslevel=6)
        return open(temporary[k], "wb")  # noqa: SIM115 - closed by the caller

    for k, size in enumerate(sizes):
        if not size:  # an empty shard: an empty (or empty gzip) file
            open_shard(k).close()
    # Shards with records, in order (the empty ones come last), and their first records.
    shards = [k for k, size in enumerate(sizes) if size]
    firsts = (np.cumsum(sizes) - np.asarray(sizes))[shards]
    with ExitStack() as stack:
        handle = None
        seen = 0  # records begun before this block
        line_start = True
        for block in _blocks(path):
            starts = header_starts(block, line_start)
            line_start = block[-1] in NEWLINES
            position = 0 if handle is not None else len(block)  # bytes before record 0 go
            lo, hi = np.searchsorted(firsts, [seen, seen + len(starts)])
            for k, first in zip(shards[lo:hi], firsts[lo:hi].tolist(), strict=True):
                offset = int(starts[first - seen])
                if handle is not None:
                    handle.write(block[position:offset])
                    handle.close()
                handle = stack.enter_context(open_shard(k))
                position = offset
            if handle is not None:
                handle.write(block[position:])
            seen += len(starts)
        if handle is not None:
            handle.close()
    if seen != total:
        raise DataError(
            f"the file changed while it was split ({total} records, then {seen})",
            path=display_name(path),
        )


# ------------------------------------------------------------------------------ gather


def gather_tables(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike | None = None,
    *,
    fmt: str | None = None,
) -> int:
    """Concatenate prediction tables, in the order given, into one table with one header.

    Parameters
    ----------
    paths
        Tables written by ``seqcnn predict`` (:func:`seqcnn.predict_file`): ``.tsv``,
        ``.csv`` (either may end in ``.gz``) or ``.parquet``; formats may be mixed.  All
        must have the same columns (per record, or per window with ``start``/``end``).
    out
        Output file, written atomically; ``None`` or ``"-"`` writes TSV to standard output.
    fmt
        ``"tsv"``, ``"csv"`` or ``"parquet"``; default from the extension of ``out``.

    Returns
    -------
    int
        The number of rows written.

    Raises
    ------
    DataError
        A missing or malformed table, or columns that differ from the first table's.
    UsageError
        No tables, or a file name whose format cannot be told.

    Examples
    --------
    >>> gather_tables([f"tables/shard_{k:03d}.tsv" for k in range(20)], "all.tsv")  # doctest: +SKIP
    300000
    """
    from .tables import open_table, read_blocks, require_pyarrow, table_format, write_table

    if isinstance(paths, (str, os.PathLike)) or not len(paths):
        raise UsageError("give a list of tables to gather")
    out_fmt, out_compress = table_format(out, fmt)
    formats = [table_format(path, None, kind="input")[0] for path in paths]
    if "parquet" in formats or out_fmt == "parquet":
        require_pyarrow()
    # Every header is checked before anything is written.
    tables = [open_table(path) for path in paths]
    columns = tables[0].columns
    for table in tables[1:]:
        if table.columns != columns:
            raise DataError(
                f"columns ({', '.join(table.columns)}) differ from those of "
                f"{tables[0].path} ({', '.join(columns)})",
                path=str(table.path),
            )
    first = tables[0]
    blocks = (block for table in tables for block in read_blocks(table, CHUNK_ROWS))
    return write_table(blocks, out, first.names, fmt=out_fmt, compress=out_compress,
                       per_window=first.per_window)  # fmt: skip

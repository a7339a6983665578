"""Prediction tables in every format, written and read: TSV, CSV (either gzipped), Parquet.

A prediction table has one row per record (or per window of a record) and the columns
``id``, then ``start`` and ``end`` (per window only: 0-based, end exclusive), then one
column per model output.  :mod:`seqcnn.predict` writes them and :mod:`seqcnn.shard`
gathers them, both through :func:`write_table`, so a gathered table is byte for byte the
table one prediction of the whole input writes.

* Text tables are UTF-8 (record ids come out exactly as they went in, whatever their
  script), ``\\n`` line ends, values with 9 significant digits (a float32 survives the
  round trip exactly), ids quoted as the ``csv`` module would where they hold a
  delimiter, a quote or a line break.
* Parquet tables (with pyarrow) hold the same columns: ``id`` as text, ``start``/``end``
  as int64, the outputs as float32.

The format comes from the file name (:func:`table_format`): ``.tsv``, ``.csv``,
``.parquet``, and ``.gz`` after tsv/csv to compress; standard output is TSV.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import os
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .errors import DataError, UsageError
from .text_rows import write_block_lines, write_frame_lines

__all__ = [
    "TABLE_FORMATS",
    "CHUNK_ROWS",
    "Block",
    "Table",
    "table_format",
    "value_columns",
    "require_pyarrow",
    "block_frame",
    "write_table",
    "write_frames",
    "open_table",
    "read_blocks",
    "read_table",
    "table_columns",
    "read_frames",
]

#: Formats a table can be written in (and read from).
TABLE_FORMATS = ("tsv", "csv", "parquet")
#: Table rows read at a time.
CHUNK_ROWS = 65536
_DELIMITERS = {"tsv": "\t", "csv": ","}


@dataclass
class Block:
    """Rows of a table: ids, window bounds (per-window tables only) and values ``(n, T)``."""

    ids: list
    values: np.ndarray
    start: np.ndarray | None = None
    end: np.ndarray | None = None


# ------------------------------------------------------------------------------ formats


def table_format(path: Any, fmt: str | None = None, kind: str = "output") -> tuple[str, bool]:
    """The format of a table and whether it is gzipped, from ``fmt`` or the file name.

    Parameters
    ----------
    path
        The file (``None``, ``"-"`` or an open handle: standard output, TSV).
    fmt
        ``"tsv"``, ``"csv"`` or ``"parquet"``; ``None``: from the extension of ``path``.
    kind
        ``"output"`` or ``"input"``: which table messages talk about.

    Returns
    -------
    (format, gzip)

    Raises
    ------
    UsageError
        An unknown format or extension, a gzipped or unnamed Parquet file.

    Examples
    --------
    >>> table_format("predictions.csv.gz")
    ('csv', True)
    """
    if path is None or path == "-" or not isinstance(path, (str, os.PathLike)):
        name = ""
    else:
        name = Path(path).name.lower()
    compress = name.endswith(".gz")
    stem = name[:-3] if compress else name
    if fmt is None:
        fmt = stem.rsplit(".", 1)[-1] if "." in stem else "tsv" if not name else ""
        if fmt not in TABLE_FORMATS:
            raise UsageError(
                f"cannot tell the {kind} format from the file name; use .tsv, .csv or "
                ".parquet (.tsv.gz or .csv.gz to compress)",
                path=str(path),
            )
    elif fmt not in TABLE_FORMATS:
        raise UsageError(f"unknown output format '{fmt}'; choose one of {', '.join(TABLE_FORMATS)}")
    if fmt == "parquet" and compress:
        raise UsageError("Parquet is compressed already; drop the .gz", path=str(path))
    if fmt == "parquet" and not name:
        raise UsageError("Parquet output needs a file name (-o FILE.parquet), not stdout")
    return fmt, compress


def value_columns(names: Sequence[str], output_shape: tuple[int, ...] | None = None) -> list[str]:
    """The value columns of a table of outputs of ``output_shape`` named ``names``.

    A table holds one value per output and row: a model with outputs of shape ``(T,)``
    per sequence (a sequence head) gives the ``T`` columns ``names``.

    Raises
    ------
    UsageError
        An output shape tables cannot hold yet (per-position outputs ``(T, L)``), or
        names that do not match it.
    """
    names = [str(name) for name in names]
    shape = (len(names),) if output_shape is None else tuple(int(n) for n in output_shape)
    if len(shape) != 1:
        raise UsageError(
            f"the model gives outputs of shape {shape} per sequence; prediction tables hold "
            "one value per output (shape (T,)), so this model cannot be written as a table yet"
        )
    if shape[0] != len(names):
        raise UsageError(
            f"the model gives {shape[0]} outputs per sequence but names {len(names)} "
            f"({', '.join(names[:5])})"
        )
    return names


def require_pyarrow() -> None:
    """Raise a :class:`~seqcnn.errors.UsageError` saying how to install pyarrow if missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError(
            "writing .parquet needs pyarrow: pip install 'seqcnn[parquet]' (or use .tsv/.csv)"
        ) from None


def block_frame(block: Block, names: Sequence[str], per_window: bool):
    """A block as a pandas DataFrame with the table's columns and a default index."""
    import pandas as pd

    columns: dict[str, Any] = {"id": block.ids}
    if per_window:
        columns["start"] = np.asarray(block.start, dtype=np.int64)
        columns["end"] = np.asarray(block.end, dtype=np.int64)
    values = np.asarray(block.values, dtype=np.float32).reshape(-1, len(names))
    for j, column in enumerate(names):
        columns[column] = values[:, j]
    return pd.DataFrame(columns)


# ------------------------------------------------------------------------------ writing


def write_table(
    blocks: Iterable[Block],
    out: Any,
    names: Sequence[str],
    *,
    fmt: str = "tsv",
    compress: bool = False,
    per_window: bool = False,
) -> int:
    """Write blocks as one table.

    Parameters
    ----------
    blocks
        The rows, block by block (consumed lazily: memory stays bounded).
    out
        A file, written atomically (it appears only once complete); ``None`` or ``"-"``
        for standard output; or an open text handle, written to as is.
    names
        The value columns (:func:`value_columns`).
    fmt, compress
        From :func:`table_format`.
    per_window
        Write the ``start`` and ``end`` columns.

    Returns
    -------
    int
        The number of rows written.
    """
    from ._io import atomic_path

    names = list(names)
    header = ["id", *(["start", "end"] if per_window else []), *names]
    if out is None or out == "-":
        with _utf8_stdout() as handle:
            return write_block_lines(blocks, handle, header, _DELIMITERS[fmt], flush=True)
    if not isinstance(out, (str, os.PathLike)):
        return write_block_lines(blocks, out, header, _DELIMITERS[fmt])
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            return _write_parquet(blocks, tmp, names, per_window)
        opener = gzip.open if compress else open
        with opener(tmp, "wt", newline="", encoding="utf-8") as handle:
            return write_block_lines(blocks, handle, header, _DELIMITERS[fmt])


@contextmanager
def _utf8_stdout() -> Iterator[Any]:
    """Standard output as UTF-8 text, whatever the locale says (tables are UTF-8)."""
    stdout = sys.stdout
    encoding = (getattr(stdout, "encoding", None) or "").lower().replace("-", "")
    if encoding == "utf8" or not hasattr(stdout, "buffer"):
        yield stdout
        return
    stdout.flush()
    handle = io.TextIOWrapper(stdout.buffer, encoding="utf-8", newline="", write_through=True)
    try:
        yield handle
    finally:
        handle.flush()
        handle.detach()  # leave sys.stdout's buffer open


def _write_parquet(blocks: Iterable[Block], path: Path, names: list[str], per_window: bool) -> int:
    frames = (block_frame(block, names, per_window) for block in blocks)
    empty = Block([], np.zeros((0, len(names)), np.float32), np.zeros(0), np.zeros(0))
    return _write_frames_parquet(
        frames, path, block_frame(empty, names, per_window).astype({"id": str})
    )


def write_frames(
    frames: Iterable[Any],
    out: Any,
    columns: Sequence[str],
    *,
    text_columns: Iterable[str] = (),
    fmt: str = "tsv",
    compress: bool = False,
    empty: Any = None,
) -> int:
    """Write pandas DataFrames of mixed columns as one table (text and numbers, e.g. the
    variant effects of :mod:`seqcnn.variants`) as :func:`write_table` writes its tables;
    the number of rows written.

    Parameters
    ----------
    frames
        The rows, frame by frame (consumed lazily; the first is computed before anything
        is written, so that an error in it leaves nothing behind, on standard output too).
    out
        A file, written atomically; ``None`` or ``"-"`` for standard output.
    columns
        The columns, in order.
    text_columns
        Columns written as they are (``str``: text, whole numbers); every other column is
        a float, written with 9 significant digits.
    fmt, compress
        From :func:`table_format`.
    empty
        A DataFrame without rows whose dtypes a Parquet file without rows takes (default:
        text columns as text, the others float32).
    """
    from ._io import atomic_path

    columns, text = list(columns), set(text_columns)
    frames = iter(frames)
    first = next(frames, None)
    chained = (frame[columns] for frame in itertools.chain([first] if first is not None else [],
                                                          frames))  # fmt: skip
    if out is None or out == "-":
        with _utf8_stdout() as handle:
            return write_frame_lines(chained, handle, columns, text, _DELIMITERS[fmt], flush=True)
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            if empty is None:
                import pandas as pd

                empty = pd.DataFrame({c: pd.Series([], dtype=str if c in text else np.float32)
                                      for c in columns})  # fmt: skip
            return _write_frames_parquet(chained, tmp, empty[columns])
        opener = gzip.open if compress else open
        with opener(tmp, "wt", newline="", encoding="utf-8") as handle:
            return write_frame_lines(chained, handle, columns, text, _DELIMITERS[fmt])


def _write_frames_parquet(frames, path: Path, empty) -> int:
    """Frames into a Parquet file; ``empty`` (no rows) gives its columns if there are none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer, rows = None, 0
    try:
        for frame in frames:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table)
            rows += len(frame)
        if writer is None:
            pq.write_table(pa.Table.from_pandas(empty, preserve_index=False), str(path))
    finally:
        if writer is not None:
            writer.close()
    return rows


# ------------------------------------------------------------------------------ reading


class Table(NamedTuple):
    """A prediction table on disk, its header checked (:func:`open_table`)."""

    path: Path
    fmt: str
    compress: bool
    columns: list[str]

    @property
    def per_window(self) -> bool:
        """Whether the table has one row per window (``start`` and ``end`` columns)."""
        return self.columns[1:3] == ["start", "end"]

    @property
    def names(self) -> list[str]:
        """The value columns."""
        return self.columns[3:] if self.per_window else self.columns[1:]


def open_table(path: str | os.PathLike, fmt: str | None = None) -> Table:
    """Check that ``path`` is a prediction table and read its header.

    Raises
    ------
    DataError
        A missing or unreadable file, or one without the columns ``id``, (``start``,
        ``end``,) then at least one value.
    UsageError
        A file name whose format cannot be told; Parquet without pyarrow.
    """
    fmt, compress = table_format(path, fmt, kind="input")
    if fmt == "parquet":
        require_pyarrow()
    table = Table(Path(path), fmt, compress, [])
    return table._replace(columns=_columns(table))


def _columns(table: Table) -> list[str]:
    """The header of a table, checked to be that of a prediction table."""
    columns = table_columns(table.path, table.fmt)
    per_window = columns[1:3] == ["start", "end"]
    if not columns or columns[0] != "id" or len(columns) < (4 if per_window else 2):
        raise DataError(
            f"not a prediction table: expected the columns id, (start, end,) then the model "
            f"outputs, found {', '.join(columns[:5]) if columns else 'no header'}",
            path=str(table.path),
        )
    return columns


def _open_text(table: Table):
    opener = gzip.open if table.compress else open
    return opener(table.path, "rt", encoding="utf-8", newline="")


def read_blocks(table: Table, chunk_rows: int = CHUNK_ROWS) -> Iterator[Block]:
    """The rows of a table (from :func:`open_table`) as blocks of ``chunk_rows``.

    Ids are read as text whatever they look like (``NA``, ``null``, ``007``); values as
    float32 (``nan`` allowed).

    Raises
    ------
    DataError
        Rows that do not fit the header, values that are not numbers, unreadable files.
    """
    import warnings

    import pandas as pd

    names, per_window = table.names, table.per_window
    name = str(table.path)
    try:
        with ExitStack() as stack, warnings.catch_warnings():
            # pandas only warns about a row with too many fields, and drops the extra ones
            warnings.simplefilter("error", pd.errors.ParserWarning)
            if table.fmt == "parquet":
                import pyarrow.parquet as pq

                batches = pq.ParquetFile(table.path).iter_batches(batch_size=chunk_rows)
                frames = (batch.to_pandas() for batch in batches)
            else:
                frames = pd.read_csv(
                    stack.enter_context(_open_text(table)),
                    sep=_DELIMITERS[table.fmt],
                    dtype={
                        "id": str,
                        "start": np.int64,
                        "end": np.int64,
                        **dict.fromkeys(names, np.float32),
                    },
                    keep_default_na=False,
                    na_values=dict.fromkeys(names, ["nan", "-nan"]),
                    index_col=False,
                    chunksize=chunk_rows,
                )
            for frame in frames:
                yield Block(
                    frame["id"].astype(str).tolist(),
                    frame[names].to_numpy(dtype=np.float32),
                    frame["start"].to_numpy(np.int64) if per_window else None,
                    frame["end"].to_numpy(np.int64) if per_window else None,
                )
    except (ValueError, pd.errors.ParserError, pd.errors.ParserWarning) as err:
        reason = " ".join(str(err).split())
        raise DataError(f"not a prediction table: {reason}", path=name) from None
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot read the table ({err})", path=name) from None


def read_table(path: str | os.PathLike, fmt: str | None = None):
    """A whole prediction table as a pandas DataFrame (ids as text, values float32).

    Examples
    --------
    >>> read_table("predictions.tsv.gz").head()  # doctest: +SKIP
    """
    table = open_table(path, fmt)
    frames = [block_frame(block, table.names, table.per_window) for block in read_blocks(table)]
    if not frames:
        empty = Block([], np.zeros((0, len(table.names)), np.float32), np.zeros(0), np.zeros(0))
        return block_frame(empty, table.names, table.per_window).astype({"id": str})
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def table_columns(path: str | os.PathLike, fmt: str | None = None) -> list[str]:
    """The header of any table (TSV, CSV, either gzipped, or Parquet); ``[]`` if empty.
    A missing or unreadable file is a :class:`~seqcnn.errors.DataError`."""
    fmt, compress = table_format(path, fmt, kind="input")
    if fmt == "parquet":
        require_pyarrow()
    table = Table(Path(path), fmt, compress, [])
    name = str(table.path)
    if not table.path.is_file():
        raise DataError("no such file" if not table.path.exists() else "not a file", path=name)
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                columns = pq.read_schema(table.path).names
            except pa.ArrowException as err:
                raise DataError(f"not a Parquet file ({err})", path=name) from None
        else:
            with _open_text(table) as handle:
                columns = next(csv.reader(handle, delimiter=_DELIMITERS[fmt]), [])
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read the table ({err})", path=name) from None
    return columns


def read_frames(
    path: str | os.PathLike,
    dtypes: Mapping[str, Any],
    *,
    fmt: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Any]:
    """The rows of any table as DataFrames of ``chunk_rows`` rows typed by ``dtypes`` (text
    as written, ``NA`` included; floats may be ``nan``).  Rows that do not fit the header,
    values not of their type and unreadable files are :class:`~seqcnn.errors.DataError`."""
    import warnings

    import pandas as pd

    fmt, compress = table_format(path, fmt, kind="input")
    table = Table(Path(path), fmt, compress, [])
    floats = [c for c, t in dtypes.items() if np.dtype(t).kind == "f"]
    try:
        with ExitStack() as stack, warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            if fmt == "parquet":
                import pyarrow.parquet as pq

                batches = pq.ParquetFile(table.path).iter_batches(batch_size=chunk_rows)
                frames = (batch.to_pandas().astype(dict(dtypes)) for batch in batches)
            else:
                frames = pd.read_csv(
                    stack.enter_context(_open_text(table)), sep=_DELIMITERS[fmt],
                    dtype=dict(dtypes), keep_default_na=False,
                    na_values=dict.fromkeys(floats, ["nan", "-nan"]), index_col=False,
                    chunksize=chunk_rows,
                )  # fmt: skip
            yield from frames
    except (ValueError, pd.errors.ParserError, pd.errors.ParserWarning) as err:
        raise DataError(f"cannot read the table: {' '.join(str(err).split())}",
                        path=str(path)) from None  # fmt: skip
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot read the table ({err})", path=str(path)) from None

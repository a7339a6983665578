"""Prediction: sequences in, one row of model outputs per sequence (or per window) out.

Three entry points share one code path (the command line calls :func:`predict_file`):

* :func:`predict` returns everything at once (a DataFrame indexed by id, or an array);
* :func:`predict_chunks` yields one DataFrame per chunk of records;
* :func:`predict_file` streams the chunks into a TSV/CSV (optionally gzip) or Parquet file,
  written atomically, or to standard output.

Streaming keeps memory flat whatever the input size: records are read (with the same
reader as ``seqcnn encode``, so the same letters are accepted and the same errors raised)
about ``16 * batch_size`` at a time, turned into byte codes with one vectorised lookup,
cut into windows, one-hot encoded batch by batch on the model's device, run through the
network under ``torch.inference_mode()``, written, and discarded.  Record ids are not
remembered, so duplicate ids are *not* rejected here (each record is simply predicted).

Length handling.  A model takes sequences of exactly ``input_length`` (``L``) bases:

* a shorter sequence is padded with N on both sides, centred (as ``seqcnn encode`` pads);
* a longer one is scored in windows of ``L`` starting at ``0, stride, 2 * stride, ...``,
  the last window aligned to the end of the sequence so every base is scored; the default
  stride is ``L // 2``.  The windows are reported one row each (``per_window=True``, with
  0-based half-open ``start``/``end``) or combined per record with ``aggregate="max"``
  (default) or ``"mean"`` of the per-window values.

Values are the model's outputs after its output transform (sigmoid, softmax, exp), or the
raw logits with ``logits=True``.  ``rc_average=True`` averages the values of each model
input (a window, or a padded short record) with those of its reverse complement, i.e. of
exactly what the model saw, strand-flipped (probabilities with probabilities, logits with
logits), before windows are aggregated.  For a short record padded with an odd number of N
the extra N thus sits on the other side in the reverse strand.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .alphabet import (
    DNA_LETTERS,
    INVALID_CODE,
    LETTER_CODES,
    N_CODE,
    ONE_HOT_TABLES,
    invalid_letter_error,
)
from .errors import DataError, ModelError, UsageError
from .fasta import display_name, read_fasta_records
from .onehot import codes_to_one_hot, rc

__all__ = ["AGGREGATES", "OUTPUT_FORMATS", "predict", "predict_chunks", "predict_file"]

log = logging.getLogger("seqcnn")

AGGREGATES = ("max", "mean")
OUTPUT_FORMATS = ("tsv", "csv", "parquet")
#: Records are read and encoded this many batches at a time (the unit of streaming).
CHUNK_BATCHES = 16
#: float32 survives a text round trip exactly with 9 significant digits.
_FLOAT_FORMAT = "%.9g"


# ------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class _Spec:
    """What prediction needs to know about a model, from a bundle or a bare network."""

    network: Any
    length: int
    names: list[str]
    transform: str
    n_encoding: str
    rc_average: bool


def _spec(model: Any) -> _Spec:
    network = getattr(model, "network", model)
    config = getattr(model, "config", None) or {}
    if "input_length" not in config:
        raise UsageError(
            "expected a seqcnn Model (seqcnn.load_model) or a network with a .config dict "
            "giving its input_length"
        )
    if config.get("alphabet", "ACGT") != "ACGT":
        raise ModelError(
            f"model was trained on alphabet '{config['alphabet']}', seqcnn reads ACGT",
            path=getattr(model, "path", None),
        )
    names = config.get("output_names")
    if names is None:  # a bare network: outputs are numbered, values are raw
        names = [f"output_{i}" for i in range(int(config.get("n_outputs", 1)))]
    return _Spec(
        network=network,
        length=int(config["input_length"]),
        names=[str(name) for name in names],
        transform=config.get("output_transform", "identity"),
        n_encoding=config.get("n_encoding", "zeros"),
        rc_average=bool(config.get("rc_average", False)),
    )


def _device(network: Any, device: str | None):
    import torch

    if device is None:
        parameter = next(network.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")
    from .forward import pick_device

    return pick_device(device)


# ------------------------------------------------------------------------------ the input


@dataclass
class _Chunk:
    """Records to predict, with a way to build any of their windows.

    ``inputs(rec, start)`` returns the model inputs of the windows starting at ``start``
    in records ``rec``: ``uint8`` codes ``(B, L)``, or a ``float32`` one-hot ``(B, 4, L)``.
    ``rows(a, b)``, when set, returns those of records ``a:b`` (every record is exactly one
    window of length ``L``: the common case, served without index arithmetic).
    """

    ids: list
    lengths: np.ndarray
    inputs: Callable[[np.ndarray, np.ndarray], np.ndarray]
    rows: Callable[[int, int], np.ndarray] | None = None
    all_n: np.ndarray | None = None


def _record_codes(ids: list, seqs: list[str], name: str | None):
    """Codes of several sequences, concatenated, with offsets and lengths; letters checked."""
    try:
        joined = "".join(seqs).encode("ascii", "replace")
    except TypeError:
        raise UsageError("expected DNA sequences as strings") from None
    codes = LETTER_CODES[np.frombuffer(joined, dtype=np.uint8)]
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    ends = np.cumsum(lengths)
    offsets = ends - lengths
    if codes.size and codes.max() == INVALID_CODE:
        row = int(np.searchsorted(ends, int(np.argmax(codes == INVALID_CODE)), side="right"))
        raise invalid_letter_error(seqs[row], codes[offsets[row] : ends[row]], name, ids[row])
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise DataError("empty sequence", path=name, record=ids[empty[0]])
    return codes, offsets, lengths


def _code_chunk(ids: list, seqs: list[str], length: int, name: str | None) -> _Chunk:
    codes, offsets, lengths = _record_codes(ids, seqs, name)
    all_n = ~np.logical_or.reduceat(codes != N_CODE, offsets)
    positions = np.arange(length)

    def inputs(rec: np.ndarray, start: np.ndarray) -> np.ndarray:
        n = lengths[rec]
        pos = start[:, None] + positions - (np.maximum(length - n, 0) // 2)[:, None]
        if (n >= length).all():
            return codes[offsets[rec][:, None] + pos]
        # Records shorter than the model are centred in N padding.
        inside = (pos >= 0) & (pos < n[:, None])
        out = codes[offsets[rec][:, None] + np.clip(pos, 0, (n - 1)[:, None])]
        out[~inside] = N_CODE
        return out

    rows = None
    if (lengths == length).all():
        table = codes.reshape(len(seqs), length)
        rows = lambda a, b: table[a:b]  # noqa: E731
    return _Chunk(ids, lengths, inputs, rows, all_n)


def _array_chunk(x: np.ndarray, first: int, length: int, n_encoding: str) -> _Chunk:
    """A chunk of one-hot rows ``(n, 4, Lx)``; ids are row numbers."""
    n, _, width = x.shape
    lengths = np.full(n, width, dtype=np.int64)
    if width < length:  # centre in N padding, as for strings
        padded = np.empty((n, 4, length), dtype=np.float32)
        padded[:] = ONE_HOT_TABLES[n_encoding][N_CODE][:, None]
        left = (length - width) // 2
        padded[:, :, left : left + width] = x
        x = padded
    positions = np.arange(length)

    def inputs(rec: np.ndarray, start: np.ndarray) -> np.ndarray:
        # Advanced indices around a slice put their dimensions first: (B, L, 4).
        return x[rec[:, None], :, start[:, None] + positions].transpose(0, 2, 1)

    rows = (lambda a, b: x[a:b]) if x.shape[2] == length else None
    return _Chunk(list(range(first, first + n)), lengths, inputs, rows)


def _looks_like_dna(text: str) -> bool:
    return bool(text) and set(text) <= DNA_LETTERS


def _chunks(x: Any, length: int, n_encoding: str, chunk_size: int):
    """(iterator of chunks, number of records or None, name for messages) for any input."""
    if isinstance(x, (str, os.PathLike)):
        if isinstance(x, str) and _looks_like_dna(x) and not os.path.exists(x):
            raise UsageError(
                f"'{x[:20]}{'...' if len(x) > 20 else ''}' is not a file; to predict "
                "sequences pass a list of strings, e.g. predict(model, [sequence])"
            )
        name = display_name(x)
        records = read_fasta_records(x, check_duplicates=False, allow_empty=True)
        return _code_chunks(records, length, chunk_size, name), None, name
    if hasattr(x, "items") and hasattr(x, "index"):  # a pandas Series: id -> sequence
        return _code_chunks(x.items(), length, chunk_size, None), len(x), None
    if getattr(getattr(x, "dtype", None), "kind", "") in ("U", "S", "O"):
        x = [str(s) for s in x]  # an array of strings: a list of sequences
    elif hasattr(x, "shape") and hasattr(x, "ndim"):
        array = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        array = array[None] if array.ndim == 2 else array
        if array.ndim != 3 or array.shape[1] != 4:
            raise UsageError(
                f"expected one-hot sequences of shape (N, 4, length), got {tuple(array.shape)}"
            )
        array = np.asarray(array, dtype=np.float32)
        chunks = (
            _array_chunk(array[a : a + chunk_size], a, length, n_encoding)
            for a in range(0, len(array), chunk_size)
        )
        return chunks, len(array), None
    if isinstance(x, Mapping):
        return _code_chunks(x.items(), length, chunk_size, None), len(x), None
    if isinstance(x, Iterable):
        x = list(x)
        return _code_chunks(enumerate(x), length, chunk_size, None), len(x), None
    raise UsageError(
        f"cannot predict from {type(x).__name__}: pass a FASTA path, a list of sequences, "
        "a dict of id -> sequence, or a one-hot array (N, 4, length)"
    )


def _code_chunks(records: Iterable, length: int, chunk_size: int, name: str | None):
    """Group ``(id, sequence)`` records into chunks of about ``chunk_size`` windows."""
    max_bases = chunk_size * length
    ids: list = []
    seqs: list[str] = []
    bases = 0
    for record_id, sequence in records:
        ids.append(record_id)
        seqs.append(sequence)
        bases += len(sequence)
        if bases >= max_bases or len(ids) >= chunk_size:
            yield _code_chunk(ids, seqs, length, name)
            ids, seqs, bases = [], [], 0
    if ids:
        yield _code_chunk(ids, seqs, length, name)


# ------------------------------------------------------------------------------ predicting


@dataclass
class _Block:
    """Rows of output: ids, window bounds (per-window output only) and values (n, T)."""

    ids: list
    values: np.ndarray
    start: np.ndarray | None = None
    end: np.ndarray | None = None


def _check_options(spec: _Spec, batch_size: int, window_stride: int | None, aggregate: str):
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")
    if aggregate not in AGGREGATES:
        raise UsageError(f"unknown aggregate '{aggregate}'; choose one of {', '.join(AGGREGATES)}")
    stride = max(1, spec.length // 2) if window_stride is None else int(window_stride)
    if not 1 <= stride <= spec.length:
        raise UsageError(
            f"window stride must be between 1 and the model input length ({spec.length}), "
            f"got {stride}: a larger stride would leave bases unscored"
        )
    return stride


def _blocks(
    model: Any,
    x: Any,
    *,
    batch_size: int,
    rc_average: bool,
    logits: bool,
    per_window: bool,
    window_stride: int | None,
    aggregate: str,
    device: str | None,
    progress: bool | None,
) -> tuple[_Spec, Iterator[_Block]]:
    """Check everything that can be checked up front, then return the stream of blocks."""
    spec = _spec(model)
    if rc_average is None:
        rc_average = spec.rc_average
    stride = _check_options(spec, batch_size, window_stride, aggregate)
    torch_device = _device(spec.network, device)
    chunks, total, name = _chunks(x, spec.length, spec.n_encoding, CHUNK_BATCHES * batch_size)
    options = dict(batch_size=batch_size, rc_average=rc_average, logits=logits,
                   per_window=per_window, stride=stride, aggregate=aggregate)  # fmt: skip
    return spec, _stream(spec, chunks, total, name, torch_device, progress, **options)


def _stream(spec, chunks, total, name, device, progress, *, batch_size, rc_average, logits,
            per_window, stride, aggregate) -> Iterator[_Block]:  # fmt: skip
    import torch

    from ._progress import progress_bar
    from .forward import apply_transform, strand_mean

    network = spec.network.eval().to(device)
    on_cpu = device.type == "cpu"
    table = None if on_cpu else torch.from_numpy(ONE_HOT_TABLES[spec.n_encoding]).to(device)
    transform = None if logits else spec.transform
    length, n_outputs = spec.length, len(spec.names)

    def tensors(batch: np.ndarray):
        """The batch and (for rc_average) its reverse complement, as tensors on the device."""
        if on_cpu:
            # numpy lookups: small torch indexing ops cost far more on a CPU
            if batch.dtype == np.uint8:
                batch = codes_to_one_hot(batch, spec.n_encoding)
            x = torch.from_numpy(np.ascontiguousarray(batch))
            return x, torch.from_numpy(rc(batch)) if rc_average else None
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(device, non_blocking=True)
        if x.dtype == torch.uint8:  # one byte per base crosses to the device
            x = table[x.long()].transpose(1, 2)
        return x, rc(x) if rc_average else None

    def forward(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x, rev = tensors(batch)
            out = network(x)
            out = (
                apply_transform(out, transform)
                if rev is None
                else strand_mean(out, network(rev), transform)
            )
            values = out.float().cpu().numpy()
        if values.ndim != 2 or values.shape[1] != n_outputs:
            raise ModelError(
                f"the network gives outputs of shape {tuple(values.shape[1:])} but the model "
                f"names {n_outputs} outputs ({', '.join(spec.names[:5])})"
            )
        return values

    all_n, first_all_n = 0, None
    with progress_bar(progress, total=total, desc="predicting", unit=" seqs") as bar:
        for chunk in chunks:
            if chunk.rows is not None:  # one window per record
                values = [forward(chunk.rows(a, a + batch_size))
                          for a in range(0, len(chunk.ids), batch_size)]  # fmt: skip
                values = np.concatenate(values) if values else np.zeros((0, n_outputs))
                if per_window:
                    start = np.zeros(len(chunk.ids), dtype=np.int64)
                    yield _Block(chunk.ids, values, start, chunk.lengths)
                else:
                    yield _Block(chunk.ids, values)
            else:
                yield from _windowed(chunk, forward, length, stride, batch_size, per_window,
                                     aggregate, n_outputs)  # fmt: skip
            if chunk.all_n is not None and chunk.all_n.any():
                all_n += int(chunk.all_n.sum())
                if first_all_n is None:
                    first_all_n = chunk.ids[int(np.argmax(chunk.all_n))]
            bar.update(len(chunk.ids))
    if all_n:
        log.warning(
            "%s%d record(s) contain only N (first: '%s'); their predictions are what the model "
            "gives for no sequence at all",
            f"{name}: " if name else "", all_n, first_all_n,
        )  # fmt: skip


def _windowed(chunk: _Chunk, forward, length, stride, batch_size, per_window, aggregate,
              n_outputs) -> Iterator[_Block]:  # fmt: skip
    """Score every window of a chunk, batch by batch; yield per-window or per-record rows.

    Only one batch of windows is held at a time (plus, per window, its output row when
    ``per_window``), so a chromosome-sized record is scored in bounded memory.
    """
    lengths = chunk.lengths
    over = np.maximum(lengths - length, 0)
    counts = np.where(over > 0, -(-over // stride) + 1, 1)  # windows per record
    ends = np.cumsum(counts)
    firsts = ends - counts
    n_windows = int(ends[-1])
    if not per_window:
        initial = -np.inf if aggregate == "max" else 0.0
        acc = np.full((len(lengths), n_outputs), initial, dtype=np.float64)
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending_rows = 0
    for a in range(0, n_windows, batch_size):
        index = np.arange(a, min(a + batch_size, n_windows))
        rec = np.searchsorted(ends, index, side="right")
        start = np.minimum((index - firsts[rec]) * stride, over[rec])
        values = forward(chunk.inputs(rec, start))
        if per_window:
            pending.append((rec, start, values))
            pending_rows += len(rec)
            if pending_rows >= CHUNK_BATCHES * batch_size:
                yield _window_block(chunk, pending, length)
                pending, pending_rows = [], 0
            continue
        # Windows are in record order: reduce each record's run, then merge into acc.
        bounds = np.flatnonzero(np.r_[True, rec[1:] != rec[:-1]])
        runs = rec[bounds]
        if aggregate == "max":
            acc[runs] = np.maximum(acc[runs], np.maximum.reduceat(values, bounds, axis=0))
        else:
            acc[runs] += np.add.reduceat(values.astype(np.float64), bounds, axis=0)
    if per_window:
        if pending:
            yield _window_block(chunk, pending, length)
        return
    if aggregate == "mean":
        acc /= counts[:, None]
    yield _Block(chunk.ids, acc.astype(np.float32))


def _window_block(chunk: _Chunk, pending, length: int) -> _Block:
    rec = np.concatenate([p[0] for p in pending])
    start = np.concatenate([p[1] for p in pending])
    values = np.concatenate([p[2] for p in pending])
    ids = np.asarray(chunk.ids, dtype=object)[rec].tolist()
    return _Block(ids, values, start, np.minimum(start + length, chunk.lengths[rec]))


# ------------------------------------------------------------------------------ public API


def _frame(block: _Block, names: list[str], per_window: bool):
    import pandas as pd

    columns: dict[str, Any] = {"id": block.ids}
    if per_window:
        columns["start"] = np.asarray(block.start, dtype=np.int64)
        columns["end"] = np.asarray(block.end, dtype=np.int64)
    values = np.asarray(block.values, dtype=np.float32).reshape(-1, len(names))
    for j, column in enumerate(names):
        columns[column] = values[:, j]
    return pd.DataFrame(columns)


def predict(
    model: Any,
    x: Any,
    *,
    batch_size: int = 256,
    rc_average: bool | None = None,
    logits: bool = False,
    per_window: bool = False,
    window_stride: int | None = None,
    aggregate: str = "max",
    device: str | None = None,
    as_frame: bool = True,
    progress: bool | None = False,
):
    """Predict sequences with a trained model.

    Parameters
    ----------
    model
        A :class:`seqcnn.bundle.Model` (from :func:`seqcnn.load_model`), or a bare network
        with a ``.config`` dict holding ``input_length`` (its outputs are then raw values
        named ``output_0``, ...).
    x
        A FASTA path (plain, gzip or bgzip; ``"-"`` for standard input), a list of DNA
        strings (ids are their positions 0, 1, ...), a dict of id -> sequence, or a one-hot
        array or tensor of shape ``(N, 4, length)`` (ids are row numbers).
    batch_size
        Windows per forward pass.
    rc_average
        Average each window's values with those of its reverse complement.  ``None``
        (default): the model's own setting, on for models trained with ``rc_augment``
        (their validation and test metrics are computed that way too), off otherwise.
    logits
        Raw network outputs instead of probabilities (the bundle's output transform).
    per_window
        One row per window of ``input_length`` bases (columns ``id``, ``start``, ``end``,
        0-based, end exclusive) instead of one row per record.
    window_stride
        Step between windows of a sequence longer than the model input (default half the
        input length); the last window is aligned to the sequence end.
    aggregate
        ``"max"`` or ``"mean"``: how the windows of a long sequence make one row.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"``; ``None`` (default) keeps the network
        where it is.  The network is moved there (in place).
    as_frame
        Return a pandas DataFrame (default) instead of a ``float32`` array ``(rows, outputs)``.
    progress
        Show a progress bar on stderr (``None``: only when stderr is a terminal).

    Returns
    -------
    pandas.DataFrame or numpy.ndarray
        One column per model output, named by the bundle's output names.  Per record: the
        index is the record id.  Per window: columns ``id``, ``start``, ``end``, then the
        outputs, with a default integer index (an id repeats over its windows).

    Raises
    ------
    DataError
        Invalid letters (naming record and position), an empty record, unreadable FASTA.
    UsageError
        Bad options or an input of the wrong kind or shape.

    Examples
    --------
    >>> model = seqcnn.load_model("seqcnn_model")  # doctest: +SKIP
    >>> predict(model, "peaks.fa.gz", rc_average=True).head()  # doctest: +SKIP
    """
    spec, blocks = _blocks(model, x, batch_size=batch_size, rc_average=rc_average,
                           logits=logits, per_window=per_window, window_stride=window_stride,
                           aggregate=aggregate, device=device, progress=progress)  # fmt: skip
    blocks = list(blocks)
    values = [b.values for b in blocks]
    values = np.concatenate(values) if values else np.zeros((0, len(spec.names)), np.float32)
    values = values.astype(np.float32, copy=False)
    if not as_frame:
        return values
    whole = _Block(
        [i for b in blocks for i in b.ids],
        values,
        np.concatenate([b.start for b in blocks]) if per_window and blocks else np.zeros(0),
        np.concatenate([b.end for b in blocks]) if per_window and blocks else np.zeros(0),
    )
    frame = _frame(whole, spec.names, per_window)
    return frame if per_window else frame.set_index("id")


def predict_chunks(model: Any, x: Any, **options: Any) -> Iterator:
    """Like :func:`predict`, one DataFrame per chunk of records (about 16 batches).

    The frames have an ``id`` column (then ``start``/``end`` per window) and a default
    index, ready to append to a file; memory stays bounded however long the input.
    Options are those of :func:`predict` except ``as_frame``.
    """
    per_window = options.get("per_window", False)
    spec, blocks = _blocks(model, x, **_with_defaults(options))
    for block in blocks:
        yield _frame(block, spec.names, per_window)


def _with_defaults(options: dict) -> dict:
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unexpected option(s): {', '.join(sorted(unknown))}")
    return {**_DEFAULTS, **options}


_DEFAULTS = dict(batch_size=256, rc_average=None, logits=False, per_window=False,
                 window_stride=None, aggregate="max", device=None, progress=False)  # fmt: skip


def _output_format(out: Any, fmt: str | None, kind: str = "output") -> tuple[str, bool]:
    """(format, gzip) from an explicit format or the file name (of an output, or an input
    table: ``kind`` names it in messages)."""
    if out is None or out == "-" or not isinstance(out, (str, os.PathLike)):
        name = ""
    else:
        name = Path(out).name.lower()
    compress = name.endswith(".gz")
    stem = name[:-3] if compress else name
    if fmt is None:
        fmt = stem.rsplit(".", 1)[-1] if "." in stem else "tsv" if not name else ""
        if fmt not in OUTPUT_FORMATS:
            raise UsageError(
                f"cannot tell the {kind} format from the file name; use .tsv, .csv or "
                ".parquet (.tsv.gz or .csv.gz to compress)",
                path=str(out),
            )
    elif fmt not in OUTPUT_FORMATS:
        raise UsageError(
            f"unknown output format '{fmt}'; choose one of {', '.join(OUTPUT_FORMATS)}"
        )
    if fmt == "parquet" and compress:
        raise UsageError("Parquet is compressed already; drop the .gz", path=str(out))
    if fmt == "parquet" and not name:
        raise UsageError("Parquet output needs a file name (-o FILE.parquet), not stdout")
    return fmt, compress


def predict_file(
    model: Any,
    fasta: Any,
    out: str | os.PathLike | Any | None = None,
    *,
    fmt: str | None = None,
    **options: Any,
) -> int:
    """Predict a FASTA file (or any input of :func:`predict`) and stream the table out.

    Parameters
    ----------
    model, fasta
        As for :func:`predict` (``fasta`` may be ``"-"`` for standard input).
    out
        Output file, written atomically (it appears only once complete); ``None`` or
        ``"-"`` writes TSV to standard output, and an open text handle is written to as is.
    fmt
        ``"tsv"``, ``"csv"`` or ``"parquet"``; default from the extension of ``out``
        (``.tsv``, ``.csv``, ``.parquet``; ``.gz`` after tsv/csv compresses).  Parquet
        needs pyarrow.
    **options
        ``batch_size``, ``rc_average``, ``logits``, ``per_window``, ``window_stride``,
        ``aggregate``, ``device``, ``progress``: see :func:`predict`.

    Returns
    -------
    int
        The number of rows written (records, or windows with ``per_window``).

    Examples
    --------
    >>> model = seqcnn.load_model("seqcnn_model")  # doctest: +SKIP
    >>> predict_file(model, "peaks.fa.gz", "predictions.tsv.gz", rc_average=True)  # doctest: +SKIP
    20000
    """
    fmt, compress = _output_format(out, fmt)
    if fmt == "parquet":
        _require_pyarrow()
    options = _with_defaults(options)
    spec, blocks = _blocks(model, fasta, **options)
    return _write_table(blocks, out, fmt, compress, spec.names, options["per_window"])


def _write_table(blocks: Iterable[_Block], out: Any, fmt: str, compress: bool,
                 names: list[str], per_window: bool) -> int:  # fmt: skip
    """Write blocks as a table to ``out`` (atomically), stdout (``None``, ``"-"``) or a handle.

    Also the writer of ``seqcnn gather`` (:func:`seqcnn.shard.gather_tables`), so that a
    gathered table is formatted exactly as one ``seqcnn predict`` writes.
    """
    from ._io import atomic_path

    header = ["id", *(["start", "end"] if per_window else []), *names]
    if out is None or out == "-":
        return _write_text(blocks, sys.stdout, header, fmt, flush=True)
    if not isinstance(out, (str, os.PathLike)):
        return _write_text(blocks, out, header, fmt)
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            return _write_parquet(blocks, tmp, names, per_window)
        opener = gzip.open if compress else open
        with opener(tmp, "wt", newline="", encoding="utf-8") as handle:
            return _write_text(blocks, handle, header, fmt)


def _write_text(blocks: Iterable[_Block], handle, header: list[str], fmt: str,
                flush: bool = False) -> int:  # fmt: skip
    delimiter = "\t" if fmt == "tsv" else ","
    # The first block is computed before anything is written, so that a missing file or a
    # bad first record leaves no header behind on standard output.
    blocks = iter(blocks)
    first = next(blocks, None)
    csv.writer(handle, delimiter=delimiter, lineterminator="\n").writerow(header)
    rows = 0
    for block in itertools.chain([first] if first is not None else [], blocks):
        # One %-format per row: several times faster than formatting value by value.
        ids = _quoted(block.ids, delimiter)
        values = block.values.tolist()
        if block.start is None:
            line = delimiter.join(["%s", *[_FLOAT_FORMAT] * block.values.shape[1]]) + "\n"
            lines = [line % (i, *v) for i, v in zip(ids, values, strict=True)]
        else:
            line = delimiter.join(["%s"] * 3 + [_FLOAT_FORMAT] * block.values.shape[1]) + "\n"
            bounds = zip(ids, block.start.tolist(), block.end.tolist(), values, strict=True)
            lines = [line % (i, s, e, *v) for i, s, e, v in bounds]
        handle.write("".join(lines))
        rows += len(lines)
        if flush:
            handle.flush()
    return rows


def _quoted(ids: list, delimiter: str) -> list:
    """Ids quoted as the csv module would, where they hold a delimiter, quote or newline."""
    special = delimiter + '"\r\n'
    joined = "".join(map(str, ids))
    if not any(c in joined for c in special):
        return ids
    return [
        '"' + str(i).replace('"', '""') + '"' if any(c in str(i) for c in special) else i
        for i in ids
    ]


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError(
            "writing .parquet needs pyarrow: pip install 'seqcnn[parquet]' (or use .tsv/.csv)"
        ) from None


def _write_parquet(blocks: Iterable[_Block], path: Path, names: list[str], per_window: bool) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    rows = 0
    try:
        for block in blocks:
            table = pa.Table.from_pandas(_frame(block, names, per_window), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is None:  # no records: a file with the columns and no rows
            empty = _frame(_Block([], np.zeros((0, len(names)), np.float32),
                                  np.zeros(0), np.zeros(0)), names, per_window)  # fmt: skip
            table = pa.Table.from_pandas(empty.astype({"id": str}), preserve_index=False)
            pq.write_table(table, str(path))
    finally:
        if writer is not None:
            writer.close()
    return rows

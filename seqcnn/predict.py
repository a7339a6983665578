"""Prediction: sequences in, one row of model outputs per sequence (or per window) out.

Three entry points share one code path (the command line calls :func:`predict_file`):

* :func:`predict` returns everything at once (a DataFrame indexed by id, or an array);
* :func:`predict_chunks` yields one DataFrame per chunk of records;
* :func:`predict_file` streams the chunks into a TSV/CSV (optionally gzip) or Parquet file,
  written atomically, or to standard output (by :func:`seqcnn.tables.write_table`).

Streaming keeps memory flat whatever the input size: records are read by
:func:`seqcnn.inputs.sequence_chunks` (the same letters accepted and the same errors raised
as everywhere else) about ``16 * batch_size`` at a time, turned into byte codes with one
vectorised lookup, cut into windows, one-hot encoded batch by batch on the model's device
(:class:`seqcnn.forward.OneHotBatches`), run through the network in eval mode under
``torch.inference_mode()``, written, and discarded.  On a CPU with two or more threads the
batches run in two parallel streams (:mod:`seqcnn.streams`: sub-batches sized by the
network's activations, the same values in the same order), and the records of the next
chunk are read while the streams work.  Record ids are not
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

Per-position models (``model.head_kind == "position"``: ``unet``, ``bpnet``, a
``head=position`` trunk) give a track per output along each record, not a row:
:func:`predict` returns a dict record id -> ``(T, L_out)`` array (``as_frame=False``: one
``(N, T, L_out)`` array), and :func:`predict_file` writes an ``.npz``, a folder of ``.npy``
files or genome tracks through :func:`seqcnn.position_outputs.predict_positions_file`;
a table is refused.  Each record is fitted to the model's input (padded or cropped to its
centre, no windows), and ``per_window``, ``window_stride`` and ``aggregate`` do not apply.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .errors import ModelError, UsageError
from .inputs import Chunk, sequence_chunks
from .tables import (
    TABLE_FORMATS,
    Block,
    block_frame,
    require_pyarrow,
    table_format,
    value_columns,
    write_table,
)

__all__ = ["AGGREGATES", "OUTPUT_FORMATS", "predict", "predict_chunks", "predict_file"]

log = logging.getLogger("seqcnn")

AGGREGATES = ("max", "mean")
#: Formats :func:`predict_file` writes (those of :mod:`seqcnn.tables`).
OUTPUT_FORMATS = TABLE_FORMATS
#: Records are read and encoded this many batches at a time (the unit of streaming).
CHUNK_BATCHES = 16


# ------------------------------------------------------------------------------ predicting


def _check_options(length: int, batch_size: int, window_stride: int | None, aggregate: str):
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")
    if aggregate not in AGGREGATES:
        raise UsageError(f"unknown aggregate '{aggregate}'; choose one of {', '.join(AGGREGATES)}")
    stride = max(1, length // 2) if window_stride is None else int(window_stride)
    if not 1 <= stride <= length:
        raise UsageError(
            f"window stride must be between 1 and the model input length ({length}), "
            f"got {stride}: a larger stride would leave bases unscored"
        )
    return stride


def _blocks(
    model: Any,
    x: Any,
    *,
    batch_size: int,
    rc_average: bool | None,
    logits: bool,
    per_window: bool,
    window_stride: int | None,
    aggregate: str,
    device: str | None,
    progress: bool | None,
) -> tuple[list[str], Iterator[Block]]:
    """Check everything that can be checked up front; the value columns and the blocks."""
    from .bundle import as_model
    from .forward import network_device

    model = as_model(model, device)
    if model.head_kind == "position":
        raise UsageError(
            "a per-position model gives a track per output and record, not table rows; "
            "use predict() or predict_file() to .npz, a folder or .bw/.bedgraph tracks"
        )
    names = value_columns(model.output_names, model.output_shape)
    if rc_average is None:
        rc_average = model.rc_average
    length = model.input_length
    stride = _check_options(length, batch_size, window_stride, aggregate)
    chunks, total, name = sequence_chunks(x, length, model.n_encoding, CHUNK_BATCHES * batch_size)
    forward = _Forward(model.network, network_device(model.network), model.n_encoding,
                       None if logits else model.transform, rc_average, names)  # fmt: skip
    options = dict(batch_size=batch_size, per_window=per_window, stride=stride,
                   aggregate=aggregate, length=length)  # fmt: skip
    return names, _stream(forward, chunks, total, name, progress, **options)


class _Forward:
    """Model inputs (codes or one-hot) in, output values ``(B, T)`` out, on the device."""

    def __init__(self, network, device, n_encoding: str, transform: str | None,
                 rc_average: bool, names: list[str]):  # fmt: skip
        from .forward import OneHotBatches

        self.network, self.transform, self.rc_average = network, transform, rc_average
        self.names = names
        self.to_tensor = OneHotBatches(device, n_encoding)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        from .forward import apply_transform, strand_mean
        from .onehot import rc

        with torch.inference_mode():
            x = self.to_tensor(batch)
            out = self.network(x)
            if self.rc_average:
                out = strand_mean(out, self.network(rc(x)), self.transform)
            else:
                out = apply_transform(out, self.transform)
            values = out.float().cpu().numpy()
        if values.shape[1:] != (len(self.names),):
            raise ModelError(
                f"the network gives outputs of shape {tuple(values.shape[1:])} but the model "
                f"names {len(self.names)} outputs ({', '.join(self.names[:5])})"
            )
        return values


def _stream(forward: _Forward, chunks, total, name, progress, *, batch_size, per_window,
            stride, aggregate, length) -> Iterator[Block]:  # fmt: skip
    """Blocks of rows, chunk by chunk.  On a CPU the batches run in parallel streams
    (:mod:`seqcnn.streams`), and while the streams work through one chunk of records the
    calling thread reads the next and writes the one before."""
    from ._progress import progress_bar
    from .forward import evaluating, network_plan
    from .streams import Streams

    n_outputs = len(forward.names)
    plan = network_plan(forward.network, length, batch_size, forward.to_tensor.device)
    size = plan.batch_size
    all_n, first_all_n = 0, None

    def finished(chunk: Chunk, futures: list) -> Block:
        values = [future.result() for future in futures]
        values = np.concatenate(values) if values else np.zeros((0, n_outputs))
        bar.update(len(chunk.ids))
        if per_window:
            return Block(chunk.ids, values, np.zeros(len(chunk.ids), np.int64), chunk.lengths)
        return Block(chunk.ids, values)

    with (
        evaluating(forward.network),
        progress_bar(progress, total=total, desc="predicting", unit=" seqs") as bar,
        Streams(plan) as streams,
    ):
        pending: deque[tuple[Chunk, list]] = deque()
        for chunk in chunks:
            if chunk.all_n is not None and chunk.all_n.any():
                all_n += int(chunk.all_n.sum())
                if first_all_n is None:
                    first_all_n = chunk.ids[int(np.argmax(chunk.all_n))]
            if chunk.rows is None:  # windows: in order, after the chunks before them
                while pending:
                    yield finished(*pending.popleft())
                yield from _windowed(chunk, forward, streams, length, stride, size,
                                     per_window, aggregate, n_outputs)  # fmt: skip
                bar.update(len(chunk.ids))
                continue
            # One window per record: submit the chunk, then finish the one before it.
            futures = [streams.submit(forward, chunk.rows(a, a + size))
                       for a in range(0, len(chunk.ids), size)]  # fmt: skip
            pending.append((chunk, futures))
            if len(pending) > 1:
                yield finished(*pending.popleft())
        while pending:
            yield finished(*pending.popleft())
    if all_n:
        log.warning(
            "%s%d record(s) contain only N (first: '%s'); their predictions are what the model "
            "gives for no sequence at all",
            f"{name}: " if name else "", all_n, first_all_n,
        )  # fmt: skip


def _windowed(chunk: Chunk, forward: Callable, streams, length, stride, batch_size, per_window,
              aggregate, n_outputs) -> Iterator[Block]:  # fmt: skip
    """Score every window of a chunk, batch by batch; yield per-window or per-record rows.

    Only a few batches of windows are held at a time (plus, per window, its output row when
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

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for a in range(0, n_windows, batch_size):
            index = np.arange(a, min(a + batch_size, n_windows))
            rec = np.searchsorted(ends, index, side="right")
            yield rec, np.minimum((index - firsts[rec]) * stride, over[rec])

    def run(batch: tuple[np.ndarray, np.ndarray]):
        return *batch, forward(chunk.inputs(*batch))

    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending_rows = 0
    for rec, start, values in streams.map(run, batches()):
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
    yield Block(chunk.ids, acc.astype(np.float32))


def _window_block(chunk: Chunk, pending, length: int) -> Block:
    rec = np.concatenate([p[0] for p in pending])
    start = np.concatenate([p[1] for p in pending])
    values = np.concatenate([p[2] for p in pending])
    ids = np.asarray(chunk.ids, dtype=object)[rec].tolist()
    return Block(ids, values, start, np.minimum(start + length, chunk.lengths[rec]))


# ------------------------------------------------------------------------------ public API


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
        A :class:`seqcnn.bundle.Model` (from :func:`seqcnn.load_model`), a bundle folder
        (``None``: ``$SEQCNN_MODEL`` or ``./seqcnn_model``), or a bare network with a
        ``.config`` dict holding ``input_length`` (its outputs are then raw values named
        ``output_0``, ...); see :func:`seqcnn.bundle.as_model`.
    x
        A FASTA path (plain, gzip or bgzip; ``"-"`` for standard input), a list of DNA
        strings (ids are their positions 0, 1, ...), a dict or pandas Series of id ->
        sequence, ``(N, length)`` ``uint8`` codes, or a one-hot array or tensor of shape
        ``(N, 4, length)`` (ids are row numbers); see :mod:`seqcnn.inputs`.
    batch_size
        Windows per forward pass (on a CPU with two or more threads, the most per
        sub-batch of the parallel streams, see :mod:`seqcnn.streams`).
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
    pandas.DataFrame or numpy.ndarray or dict
        One column per model output, named by the bundle's output names.  Per record: the
        index is the record id.  Per window: columns ``id``, ``start``, ``end``, then the
        outputs, with a default integer index (an id repeats over its windows).
        A per-position model: a dict record id -> ``float32 (T, L_out)`` in input order,
        the tracks over the central ``L_out`` bases of each record's input window
        (:mod:`seqcnn.position_outputs` says which record bases; ``as_frame=False``: one
        ``(N, T, L_out)`` array).

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
    view = _position_model(model, device, per_window, window_stride, aggregate)
    if view is not None:
        from .position_outputs import position_predictions

        result = position_predictions(view, x, batch_size=batch_size, rc_average=rc_average,
                                      transform=not logits, progress=progress)  # fmt: skip
        if not as_frame:
            return result.array
        return {record: result.array[k] for k, record in enumerate(result.ids)}
    names, blocks = _blocks(model, x, batch_size=batch_size, rc_average=rc_average,
                           logits=logits, per_window=per_window, window_stride=window_stride,
                           aggregate=aggregate, device=device, progress=progress)  # fmt: skip
    blocks = list(blocks)
    values = [b.values for b in blocks]
    values = np.concatenate(values) if values else np.zeros((0, len(names)), np.float32)
    values = values.astype(np.float32, copy=False)
    if not as_frame:
        return values
    whole = Block(
        [i for b in blocks for i in b.ids],
        values,
        np.concatenate([b.start for b in blocks]) if per_window and blocks else np.zeros(0),
        np.concatenate([b.end for b in blocks]) if per_window and blocks else np.zeros(0),
    )
    frame = block_frame(whole, names, per_window)
    return frame if per_window else frame.set_index("id")


def _position_model(model: Any, device, per_window: bool, window_stride, aggregate: str):
    """The model's view when it is a per-position model (options checked), else ``None``."""
    from .bundle import as_model

    view = as_model(model, device)
    if view.head_kind != "position":
        return None
    if per_window or window_stride is not None or aggregate != "max":
        raise UsageError(
            "per_window, window_stride and aggregate are for one value per sequence; a "
            "per-position model predicts each record's central window (or use seqcnn scan)"
        )
    return view


def predict_chunks(model: Any, x: Any, **options: Any) -> Iterator:
    """Like :func:`predict`, one DataFrame per chunk of records (about 16 batches).

    The frames have an ``id`` column (then ``start``/``end`` per window) and a default
    index, ready to append to a file; memory stays bounded however long the input.
    Options are those of :func:`predict` except ``as_frame``.
    """
    per_window = options.get("per_window", False)
    names, blocks = _blocks(model, x, **_with_defaults(options))
    for block in blocks:
        yield block_frame(block, names, per_window)


def _with_defaults(options: dict) -> dict:
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unexpected option(s): {', '.join(sorted(unknown))}")
    return {**_DEFAULTS, **options}


_DEFAULTS = dict(batch_size=256, rc_average=None, logits=False, per_window=False,
                 window_stride=None, aggregate="max", device=None, progress=False)  # fmt: skip


def predict_file(
    model: Any,
    x: Any,
    out: str | os.PathLike | Any | None = None,
    *,
    fmt: str | None = None,
    **options: Any,
) -> int:
    """Predict a FASTA file (or any input of :func:`predict`) and stream the table out.

    Parameters
    ----------
    model, x
        As for :func:`predict` (a FASTA path, ``"-"`` for standard input, or any sequences).
    out
        Output file, written atomically (it appears only once complete); ``None`` or
        ``"-"`` writes TSV to standard output, and an open text handle is written to as is.
        A per-position model writes ``.npz``, a folder (a name without extension) or
        ``.bw``/``.bedgraph[.gz]`` tracks (see :mod:`seqcnn.position_outputs`).
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
        The number of rows written (records, or windows with ``per_window``; records for a
        per-position model).

    Examples
    --------
    >>> model = seqcnn.load_model("seqcnn_model")  # doctest: +SKIP
    >>> predict_file(model, "peaks.fa.gz", "predictions.tsv.gz", rc_average=True)  # doctest: +SKIP
    20000
    """
    options = _with_defaults(options)
    view = _position_model(model, options["device"], options["per_window"],
                           options["window_stride"], options["aggregate"])  # fmt: skip
    if view is not None:
        from .position_outputs import PositionRun, position_format, write_positions

        if out is None or out == "-" or not isinstance(out, (str, os.PathLike)):
            raise UsageError("a per-position model's predictions go to a file: -o out.npz")
        position_format(out, fmt)  # before any work
        run = PositionRun(view, x, batch_size=options["batch_size"],
                          rc_average=options["rc_average"],
                          transform=not options["logits"])  # fmt: skip
        write_positions(run, out, fmt=fmt, progress=options["progress"])
        return len(run.ids)
    fmt, compress = table_format(out, fmt)
    if fmt == "parquet":
        require_pyarrow()
    names, blocks = _blocks(model, x, **options)
    return write_table(blocks, out, names, fmt=fmt, compress=compress,
                       per_window=options["per_window"])  # fmt: skip

"""Per-position predictions: a per-position model's tracks for each record, in array files
or genome tracks.

A per-position model (``model.head_kind == "position"``: ``unet``, ``bpnet``, a
``head=position`` trunk) gives each record ``T`` tracks over the central ``L_out`` bases of
its input window.  :func:`predict_positions_file` writes them as (format from the name):

**``.npz``**, one array per record (``numpy.load(path)[id]`` reads one record's tracks
without reading the others; written record by record, uncompressed):

``<record id>``     ``float32 (T, L_out)``, the predictions (after the model's output
                    transform: probabilities for segmentation, expected counts for
                    profiles; raw outputs with ``transform=False``)
``__ids__``         the record ids in input order (ids may be any text; this keeps order)
``__offsets__``     ``int64 (N,)``: the record coordinate of each array's first column;
                    column ``j`` stands for base ``offset + j`` of the record (negative, or
                    past its end, where a short record was padded with N)
``__tracks__``      the track names (the model's output names)
``__info__``        JSON: model source, task, output transform, input length, ``L_out``

Record ids that start and end with ``__`` are refused (they would clash with the entries
above), and so are repeated ids.

**A folder** (a name without an extension), memory-mappable for large runs: ``values.npy``
``float32 (N, T, L_out)`` (``numpy.load(folder / "values.npy", mmap_mode="r")`` maps it
without reading it), ``ids.npy``, ``offsets.npy`` and ``tracks.npy`` (as above, row ``i``
is record ``i``) and ``info.json``.  The values are written into the mapped file batch by
batch, so they need not fit in memory.

**Tracks** (``.bw``, ``.bedgraph[.gz]``, one file per output as ``seqcnn scan`` names
them, ``out.NAME.bw``) when record ids are genome windows ``chrom:start-end`` (0-based,
half-open: the ids ``seqcnn encode --bed`` and ``bedtools getfasta`` give), each record as
long as its id says.  Column ``j`` of a record is base ``start + offset + j`` of ``chrom``;
bases of N padding are left out.  Where the outputs of two records overlap, each base takes
the value of the record whose output window is centred nearest to it (the earlier one on a
tie), so overlapping windows tile the track.  Runs of equal values make one entry.  A
bigWig records each contig as long as the furthest window on it.

Records are fitted to the model's input length as everywhere in seqcnn: shorter ones
centred in N padding, longer ones cropped to their centre.  :func:`read_positions` reads an
``.npz`` or a folder back; :func:`position_predictions` returns everything in memory
(what :func:`seqcnn.predict.predict` gives for a per-position model).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, UsageError

__all__ = [
    "POSITION_FORMATS",
    "PositionPredictions",
    "PositionRun",
    "position_format",
    "position_predictions",
    "predict_positions_file",
    "read_positions",
    "record_offsets",
    "write_positions",
]

#: What :func:`predict_positions_file` writes: arrays by record id, a folder of ``.npy``
#: files, or genome tracks.
POSITION_FORMATS = ("npz", "folder", "bigwig", "bedgraph")
_RESERVED = ("__ids__", "__offsets__", "__tracks__", "__info__")
_WINDOW_ID = re.compile(r"^(?P<chrom>.+):(?P<start>\d+)-(?P<end>\d+)$")


@dataclass
class PositionPredictions:
    """Per-position predictions: ``values[id]`` is ``(T, L_out)``.

    Attributes
    ----------
    ids
        Record ids, in input order.
    values
        A mapping record id -> ``(T, L_out)`` array (read on access from a file).
    offsets
        ``(N,)``: the record coordinate of each array's first column.
    tracks
        The track names.
    info
        Model source, task, output transform, input length, output length.
    array
        The stacked ``(N, T, L_out)`` values where they exist as one array (in memory, or
        memory-mapped from a folder); ``None`` for an ``.npz``.
    """

    ids: list[str]
    values: Any
    offsets: np.ndarray
    tracks: list[str]
    info: dict
    array: np.ndarray | None = None


class _Rows(Mapping):
    """Record id -> row of a stacked array, read on access."""

    def __init__(self, ids: list[str], array: np.ndarray):
        self._index = {record: k for k, record in enumerate(ids)}
        self._array = array

    def __getitem__(self, record: str) -> np.ndarray:
        return self._array[self._index[record]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def record_offsets(lengths: np.ndarray, input_length: int, margin: int) -> np.ndarray:
    """The record coordinate of the first output base, per record of ``lengths``: the
    model's margin, less the N padding on the left of a short record, plus what was
    cropped on the left of a long one."""
    lengths = np.asarray(lengths, dtype=np.int64)
    shift = np.where(
        lengths <= input_length, -((input_length - lengths) // 2), (lengths - input_length) // 2
    )
    return margin + shift


def position_format(out: str | os.PathLike, fmt: str | None = None) -> tuple[str, bool]:
    """The format :func:`predict_positions_file` writes ``out`` in, and whether gzipped.

    ``.npz`` -> ``"npz"``; a name without an extension -> ``"folder"``; ``.bw``/``.bigwig``
    -> ``"bigwig"``; ``.bedgraph``/``.bg`` (``.gz``) -> ``"bedgraph"``.

    Raises
    ------
    UsageError
        Any other name (a table cannot hold a track per output), or an unknown ``fmt``.
    """
    from .tracks import TRACK_EXTENSIONS

    name = Path(out).name.lower()
    compress = name.endswith(".gz")
    ext = os.path.splitext(name[:-3] if compress else name)[1]
    if fmt is None:
        fmt = {".npz": "npz", "": "folder", **TRACK_EXTENSIONS}.get(ext)
    if fmt not in POSITION_FORMATS:
        raise UsageError(
            "a per-position model gives a track per output and record: write out.npz, a "
            "folder (a name without extension), or tracks .bw/.bedgraph[.gz] (ids "
            "chrom:start-end), not a table",
            path=str(out),
        )
    if compress and fmt != "bedgraph":
        raise UsageError(f"only a bedGraph is gzipped; drop the .gz for {fmt}", path=str(out))
    return fmt, compress


class PositionRun:
    """A per-position model and its records, read and checked: ``ids``, ``offsets``,
    ``info``; :meth:`batches` predicts them (arguments as for
    :func:`predict_positions_file`)."""

    def __init__(self, model: Any, x: Any, *, batch_size: int = 64,
                 rc_average: bool | None = None, transform: bool = True,
                 device: str | None = None):  # fmt: skip
        from .bundle import as_model
        from .inputs import read_codes

        view = as_model(model, device=device)
        if view.head_kind != "position":
            raise UsageError("this model predicts one value per sequence; use seqcnn predict")
        if batch_size < 1:
            raise UsageError(f"batch size must be at least 1, got {batch_size}")
        self.view, self.batch_size = view, int(batch_size)
        self.length = view.input_length
        self.sequences = read_codes(x, self.length)
        self.ids = [str(i) for i in self.sequences.ids]
        self.offsets = record_offsets(
            self.sequences.lengths, self.length, view.network.head.output_offset(self.length)
        )
        self.both = view.rc_average if rc_average is None else bool(rc_average)
        self.transform = view.transform if transform else None
        self.shape = tuple(int(n) for n in view.output_shape)
        self.info = {
            "model": None if view.source is None else str(view.source),
            "task": view.task,
            "output_transform": self.transform,
            "input_length": self.length,
            "output_length": self.shape[-1],
        }

    def batches(self, progress: bool | None = False) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, values (B, T, L_out))`` batch by batch."""
        from ._progress import progress_bar
        from .forward import network_device, run_network

        n = len(self.ids)
        with progress_bar(progress, total=n, desc="predicting", unit=" seqs") as bar:
            for start in range(0, n, self.batch_size):
                values = run_network(
                    self.view.network,
                    self.sequences.codes[start : start + self.batch_size],
                    batch_size=self.batch_size,
                    transform=self.transform,
                    rc_average=self.both,
                    n_encoding=self.view.n_encoding,
                    device=network_device(self.view.network),
                )
                bar.update(len(values))
                yield start, np.asarray(values, dtype=np.float32)

    def stacked(self, progress: bool | None = False) -> np.ndarray:
        values = np.empty((len(self.ids), *self.shape), dtype=np.float32)
        for start, batch in self.batches(progress):
            values[start : start + len(batch)] = batch
        return values

    def check_unique(self, what: str) -> None:
        if len(set(self.ids)) != len(self.ids):
            raise DataError(f"record ids repeat; {what} keys arrays by record id")


def position_predictions(
    model: Any,
    x: Any,
    *,
    batch_size: int = 64,
    rc_average: bool | None = None,
    transform: bool = True,
    device: str | None = None,
    progress: bool | None = False,
) -> PositionPredictions:
    """Predict a per-position model's tracks for every record of ``x``, in memory.

    Parameters are those of :func:`predict_positions_file`.

    Returns
    -------
    PositionPredictions
        ``array`` ``(N, T, L_out)`` float32 and ``values`` (id -> ``(T, L_out)``, views of
        it), ``offsets``, ``tracks``, ``info``.

    Raises
    ------
    UsageError
        The model has a sequence head.
    DataError
        Repeated record ids.
    """
    run = PositionRun(model, x, batch_size=batch_size, rc_average=rc_average,
                      transform=transform, device=device)  # fmt: skip
    run.check_unique("the result")
    array = run.stacked(progress)
    names = list(run.view.output_names)
    return PositionPredictions(run.ids, _Rows(run.ids, array), run.offsets, names, run.info, array)


def _write_array(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(f"{name}.npy", "w", force_zip64=True) as handle:
        np.lib.format.write_array(handle, np.asarray(array), allow_pickle=False)


def predict_positions_file(
    model: Any,
    x: Any,
    out: str | os.PathLike,
    *,
    fmt: str | None = None,
    batch_size: int = 64,
    rc_average: bool | None = None,
    transform: bool = True,
    device: str | None = None,
    progress: bool | None = False,
    overwrite: bool = True,
) -> Path:
    """Predict a per-position model's tracks for every record of ``x`` into ``out``.

    Parameters
    ----------
    model
        A per-position model (what :func:`seqcnn.bundle.as_model` accepts).
    x
        The sequences (what :mod:`seqcnn.inputs` reads).
    out
        ``.npz``, a folder (a name without extension) or tracks ``.bw``/``.bedgraph[.gz]``
        (see the module docs); written atomically.
    fmt
        One of :data:`POSITION_FORMATS`; default from the name of ``out``.
    batch_size
        Sequences per forward pass.
    rc_average
        Average both strands (the reverse strand's tracks flipped back); ``None``: the
        model's default.
    transform
        Apply the model's output transform (``False``: raw logits or log-rates).
    device
        Where to run (default: where the model is).
    progress
        A progress bar on stderr (``None``: when stderr is a terminal).
    overwrite
        Replace an existing output.

    Returns
    -------
    pathlib.Path
        ``out``.  Tracks of several outputs are ``out`` with the output's name before the
        extension (:func:`seqcnn.tracks.track_paths`).

    Raises
    ------
    UsageError
        The model has a sequence head (use :func:`seqcnn.predict_file`), or ``out`` names a
        table.
    DataError
        An ``.npz`` record id that clashes with an entry name or repeats; for tracks, an id
        that is not ``chrom:start-end`` or does not span its record.

    Examples
    --------
    >>> predict_positions_file("unet_model", "regions.fa", "tracks.npz")  # doctest: +SKIP
    >>> np.load("tracks.npz")["chr1:1000-3000"].shape  # doctest: +SKIP
    (1, 2000)
    """
    position_format(out, fmt)  # before any work
    run = PositionRun(model, x, batch_size=batch_size, rc_average=rc_average,
                      transform=transform, device=device)  # fmt: skip
    return write_positions(run, out, fmt=fmt, progress=progress, overwrite=overwrite)


def write_positions(run: PositionRun, out: str | os.PathLike, *, fmt: str | None = None,
                    progress: bool | None = False, overwrite: bool = True) -> Path:  # fmt: skip
    """Predict ``run``'s records into ``out`` (the part of :func:`predict_positions_file`
    after the model and records are read)."""
    from ._io import atomic_directory, atomic_path

    kind, compress = position_format(out, fmt)
    out = Path(out)
    names = list(run.view.output_names)
    if kind in ("bigwig", "bedgraph"):
        _write_tracks(run, out, kind, compress, names, progress, overwrite)
        return out
    if kind == "folder":
        with atomic_directory(out, overwrite=overwrite) as tmp:
            shape = (len(run.ids), *run.shape)
            values = np.lib.format.open_memmap(tmp / "values.npy", "w+", np.float32, shape)
            for start, batch in run.batches(progress):
                values[start : start + len(batch)] = batch
            values.flush()
            del values
            np.save(tmp / "ids.npy", np.array(run.ids, dtype=str))
            np.save(tmp / "offsets.npy", run.offsets)
            np.save(tmp / "tracks.npy", np.array(names, dtype=str))
            (tmp / "info.json").write_text(json.dumps(run.info, indent=1) + "\n")
        return out
    clash = [i for i in run.ids if i.startswith("__") and i.endswith("__")]
    if clash:
        raise DataError(f"record id {clash[0]!r} clashes with an entry of the .npz file")
    run.check_unique("the .npz file")
    with atomic_path(out, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for start, batch in run.batches(progress):
                for record, array in zip(run.ids[start:], batch, strict=False):
                    _write_array(archive, record, array)
            _write_array(archive, "__ids__", np.array(run.ids, dtype=str))
            _write_array(archive, "__offsets__", run.offsets)
            _write_array(archive, "__tracks__", np.array(names, dtype=str))
            _write_array(archive, "__info__", np.array(json.dumps(run.info)))
    return out


# ------------------------------------------------------------------------------ tracks


def _spans(ids: list[str], lengths: np.ndarray, where: str):
    """Contig, start and end of each record from its ``chrom:start-end`` id."""
    chroms, starts, ends = [], np.zeros(len(ids), np.int64), np.zeros(len(ids), np.int64)
    for k, record in enumerate(ids):
        match = _WINDOW_ID.match(record)
        if not match:
            raise DataError(
                f"record {record!r}: tracks need record ids chrom:start-end (genome windows, "
                "as seqcnn encode --bed names them); write .npz instead",
                path=where,
            )
        start, end = int(match.group("start")), int(match.group("end"))
        if end - start != int(lengths[k]):
            raise DataError(
                f"record {record!r} has {int(lengths[k])} bases but its id spans {end - start}",
                path=where,
            )
        chroms.append(match.group("chrom"))
        starts[k], ends[k] = start, end
    return chroms, starts, ends


def _cells(first: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int):
    """Order and genome interval each record writes on one contig: the bases whose nearest
    output centre is its own, within the record (module docs)."""
    order = np.argsort(first, kind="stable")
    g = first[order]
    cuts = (g[:-1] + g[1:] + width) // 2
    low = np.maximum(np.maximum(g, starts[order]), np.concatenate([[g[0]], cuts]))
    high = np.minimum(np.minimum(g + width, ends[order]), np.concatenate([cuts, [g[-1] + width]]))
    return order, low, high


def _write_tracks(run: PositionRun, out: Path, kind, compress, names, progress, overwrite):
    from contextlib import ExitStack

    from ._io import atomic_path
    from .tracks import base_entries, refuse_existing, require_pybigtools, track_paths, write_track

    if kind == "bigwig":
        require_pybigtools()
    paths = track_paths(out, names)
    if not overwrite:
        refuse_existing(paths)
    chroms, starts, ends = _spans(run.ids, run.sequences.lengths, str(out))
    values = run.stacked(progress)
    width = run.shape[-1]
    first = starts + run.offsets  # genome coordinate of each record's column 0
    contigs = list(dict.fromkeys(chroms))
    rows = {c: np.flatnonzero(np.asarray(chroms, dtype=object) == c) for c in contigs}
    sizes = {c: int(ends[rows[c]].max()) for c in contigs}
    cells = {c: _cells(first[r], starts[r], ends[r], width) for c, r in rows.items()}

    def segments(track: int):
        for contig in contigs:
            order, low, high = cells[contig]
            for k, a, b in zip(rows[contig][order].tolist(), low.tolist(), high.tolist(),
                               strict=True):  # fmt: skip
                if a < b:
                    yield contig, a, values[k, track, a - first[k] : b - first[k]]

    with ExitStack() as stack:  # every file renamed into place only when all are written
        for track, path in enumerate(paths):
            tmp = stack.enter_context(atomic_path(path, overwrite=overwrite))
            write_track(tmp, kind, base_entries(segments(track)), sizes, compress)
    return paths


def read_positions(path: str | os.PathLike) -> PositionPredictions:
    """Open an ``.npz`` file or folder written by :func:`predict_positions_file`; arrays
    are read on access (a folder's values memory-mapped).

    Raises
    ------
    DataError
        Not such a file or folder.
    """
    try:
        if Path(path).is_dir():
            folder = Path(path)
            array = np.load(folder / "values.npy", mmap_mode="r")
            ids = [str(i) for i in np.load(folder / "ids.npy")]
            offsets = np.load(folder / "offsets.npy")
            tracks = [str(t) for t in np.load(folder / "tracks.npy")]
            info = json.loads((folder / "info.json").read_text())
            return PositionPredictions(ids, _Rows(ids, array), offsets, tracks, info, array)
        archive = np.load(path, allow_pickle=False)
        ids = [str(i) for i in archive["__ids__"]]
        offsets = archive["__offsets__"]
        tracks = [str(t) for t in archive["__tracks__"]]
        info = json.loads(str(archive["__info__"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"not a per-position prediction file ({error})", path=str(path)) from None
    return PositionPredictions(ids, archive, offsets, tracks, info)

"""Genome-wide prediction: slide a model's window along a genome, one track per output.

:func:`scan` cuts the regions asked for into windows of the model's input length ``L``
every ``stride`` bases (``S``, default ``L // 2``), predicts them batch by batch and writes a
bedGraph (plain or gzip) or bigWig track per model output, or one table of all outputs.

Conventions:

* **the grid**: windows start at multiples of the stride counted from the contig's start,
  ``[k * S, k * S + L)``, and a window is scanned when it lies wholly inside a region (and
  its contig).  Splitting a region therefore never moves a window: scanning the parts of a
  region (:func:`split_regions`) gives exactly the windows of scanning it whole.
* **the track**: a window's value is written for its central ``S`` bases,
  ``[k * S + (L - S) // 2, k * S + (L - S) // 2 + S)``, so consecutive windows tile the
  track without overlap; the first and last ``(L - S) // 2`` bases of a region get no
  value.  Values are written with 9 significant digits in bedGraph (a float32 exactly) and
  as float32 in bigWig.
* **gaps**: a window with more than ``max_n_fraction`` N (or other non-ACGT) bases is
  skipped, leaving a gap in the track.
* **tables** (``.tsv``, ``.csv``, ``.parquet``): one row per window with columns ``id`` (the
  contig), ``start``, ``end`` (the window, 0-based half-open) and one column per output.
* **names**: a contig is named in the output as the regions name it (``chr20`` for a genome
  whose record is ``20``), or as the genome names it when scanning whole contigs.
* **per-position models** (``model.head_kind == "position"``: output ``(T, L_out)`` over
  the central ``L_out`` bases, ``(L - L_out) / 2`` cut on each side) write base-resolution
  tracks: the default stride is ``L_out`` (the windows' outputs abut), and a stride
  ``S <= L_out`` writes the central ``S`` bases of each window's output, which are again
  ``[k * S + (L - S) // 2, ... + S)``: the same grid, parts and gaps as above, one value per
  base (runs of equal values make one entry).  Tracks only, no tables.

Memory stays bounded: windows are read, predicted and spooled to a temporary file a chunk
at a time, and each output file is written from the spool.  Files appear atomically.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .alphabet import N_CODE
from .errors import DataError, ModelError, UsageError
from .genome import MAX_N_FRACTION, Genome
from .tracks import (
    TRACK_EXTENSIONS,
    TRACK_FORMATS,
    refuse_existing,
    require_pybigtools,
    track_paths,
    write_bigwig,
    write_track,
)

__all__ = [
    "SCAN_FORMATS",
    "TRACK_FORMATS",
    "ScanResult",
    "parse_regions",
    "scan",
    "split_regions",
]

#: Everything :func:`scan` writes: tracks, or a table of all outputs.
SCAN_FORMATS = (*TRACK_FORMATS, "tsv", "csv", "parquet")
#: Windows predicted per chunk, in batches (the unit of streaming).
CHUNK_BATCHES = 16
_WRITE_ROWS = 1 << 20  # spooled rows read back at a time
_REGION = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")
_EXTENSIONS = {**TRACK_EXTENSIONS, ".tsv": "tsv", ".csv": "csv", ".parquet": "parquet"}


@dataclass
class Region:
    """A stretch ``[start, end)`` of a genome contig, named ``name`` in the output."""

    contig: str
    start: int
    end: int
    name: str


@dataclass
class ScanResult:
    """What :func:`scan` wrote.

    Attributes
    ----------
    paths
        The files written (one per output for tracks, one for a table).
    outputs
        The output names, in the order of ``paths`` for tracks.
    windows
        Windows predicted.
    skipped
        Windows skipped for holding too many N.
    """

    paths: list[Path]
    outputs: list[str]
    windows: int = 0
    skipped: int = 0
    regions: list[Region] = field(default_factory=list, repr=False)


# ------------------------------------------------------------------------------ regions


def parse_regions(genome: Genome, regions: Any = None) -> list[Region]:
    """The regions to scan, merged where they overlap or touch, in genome order.

    Parameters
    ----------
    genome
        The reference.
    regions
        ``None`` (every contig, whole); a contig name (``"chr20"``) or region
        (``"chr20:1,000,000-2,000,000"``, 0-based half-open); a BED file; or a list of
        those and of ``(chrom, start, end)`` tuples.

    Raises
    ------
    DataError
        A contig the genome lacks, or an empty region.
    """
    if regions is None:
        return [Region(c, 0, n, c) for c, n in genome.contigs.items()]
    items = [regions] if isinstance(regions, (str, os.PathLike)) or _is_span(regions) else regions
    found: list[Region] = []
    for item in items:
        found += _regions_of(genome, item)
    order = {name: k for k, name in enumerate(genome.contigs)}
    found.sort(key=lambda r: (order[r.contig], r.start))
    names: dict[str, str] = {}
    merged: list[Region] = []
    for region in found:
        name = names.setdefault(region.contig, region.name)  # one name per contig
        last = merged[-1] if merged else None
        if last is not None and last.contig == region.contig and region.start <= last.end:
            last.end = max(last.end, region.end)
        else:
            merged.append(Region(region.contig, region.start, region.end, name))
    return merged


def _is_span(item: Any) -> bool:
    """Whether ``item`` is one ``(chrom, start, end)`` tuple."""
    return isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], str) and all(
        isinstance(x, (int, np.integer)) for x in item[1:])  # fmt: skip


def _regions_of(genome: Genome, item: Any) -> list[Region]:
    if _is_span(item):
        chrom, start, end = item
        return [_region(genome, str(chrom), int(start), int(end), str(chrom))]
    text = str(item)
    if os.path.exists(text):
        from .intervals import read_intervals

        table = read_intervals(text)
        return [_region(genome, c, s, e, f"{text}:{line}") for c, s, e, line in
                zip(table["chrom"], table["start"].tolist(), table["end"].tolist(),
                    table["line"].tolist(), strict=True)]  # fmt: skip
    match = _REGION.match(text)
    if match:
        start, end = (int(match.group(g).replace(",", "")) for g in ("start", "end"))
        return [_region(genome, match.group("chrom"), start, end, text)]
    contig = genome.resolve(text)
    return [Region(contig, 0, genome.contigs[contig], text)]


def _region(genome: Genome, chrom: str, start: int, end: int, where: str) -> Region:
    if not genome.has_contig(chrom):
        raise DataError(genome.unknown_contig_message(chrom), path=where)
    contig = genome.resolve(chrom)
    start, end = max(0, start), min(end, genome.contigs[contig])
    if end <= start:
        raise DataError(f"region {chrom}:{start}-{end} is empty or off its contig", path=where)
    return Region(contig, start, end, chrom)


def _grid(region: Region, length: int, stride: int) -> tuple[int, int]:
    """The first and one-past-last grid index ``k`` of the windows inside ``region``."""
    first = -(-region.start // stride)
    stop = (region.end - length) // stride + 1 if region.end >= length else 0
    return first, max(first, stop)


def split_regions(genome: Genome, regions: Any, parts: int, length: int, stride: int | None = None,
                  multiple_of: int = 1) -> list[list[Region]]:  # fmt: skip
    """Cut regions into ``parts`` lists with about as many windows each.

    Each window of the whole scan lies in exactly one part, so scanning the parts
    separately and concatenating the tracks in order gives the whole scan (the parts
    overlap by ``L - S`` bases, which no two parts both score).  With ``multiple_of``,
    parts are cut only every ``multiple_of`` windows from a region's first window: cut at
    the chunks of :func:`scan` (:data:`CHUNK_BATCHES` batches), each part is predicted in
    the batches of the whole scan, so its values are the same to the bit.
    """
    stride = max(1, length // 2) if stride is None else int(stride)
    if parts < 1 or multiple_of < 1:
        raise UsageError(f"cannot cut regions into {parts} parts of {multiple_of}-window steps")
    regions = parse_regions(genome, regions)
    grids = [_grid(r, length, stride) for r in regions]
    total = sum(stop - first for first, stop in grids)
    cuts = [round(total * p / parts) for p in range(parts + 1)]
    out: list[list[Region]] = [[] for _ in range(parts)]
    seen = 0
    for region, (first, stop) in zip(regions, grids, strict=True):
        for p in range(parts):
            a, b = (_snap(first + cuts[q] - seen, first, stop, multiple_of) for q in (p, p + 1))
            if a < b:
                r = Region(region.contig, a * stride, (b - 1) * stride + length, region.name)
                out[p].append(r)
        seen += stop - first
    return out


def _snap(k: int, first: int, stop: int, step: int) -> int:
    """The grid index nearest ``k`` that is ``first`` plus a multiple of ``step``, or ``stop``."""
    k = min(stop, max(first, k))
    return k if k == stop else min(stop, first + round((k - first) / step) * step)


# ------------------------------------------------------------------------------ scanning


def _scan_chunks(model, genome, regions, length, stride, max_n, batch_size, transform,
                 rc_average, columns, n_outputs, progress) -> Iterator[tuple]:  # fmt: skip
    """``(region index, window starts, values (n, T))`` chunk by chunk; skipped windows
    are left out.  Per-position models: values ``(n, T * S)``, each output's central ``S``
    bases."""
    from ._progress import progress_bar
    from .forward import network_device, stream_outputs

    device = network_device(model.network)
    per_chunk = CHUNK_BATCHES * batch_size
    grids = [_grid(r, length, stride) for r in regions]
    waiting: deque = deque()  # (region index, window starts) of the chunks sent, in order

    def windows(bar) -> Iterator[np.ndarray]:
        for index, (region, (first, stop)) in enumerate(zip(regions, grids, strict=True)):
            for k0 in range(first, stop, per_chunk):
                k1 = min(stop, k0 + per_chunk)
                codes = genome.fetch_codes(region.contig, k0 * stride, (k1 - 1) * stride + length)
                unknown = np.concatenate([[0], np.cumsum(codes >= N_CODE, dtype=np.int64)])
                offsets = np.arange(k1 - k0, dtype=np.int64) * stride
                keep = unknown[offsets + length] - unknown[offsets] <= max_n * length
                bar.update(k1 - k0)
                if not keep.any():
                    continue
                waiting.append((index, k0 * stride + offsets[keep]))
                yield np.lib.stride_tricks.sliding_window_view(codes, length)[offsets[keep]]

    with progress_bar(
        progress, total=_total(regions, length, stride), desc="scanning", unit=" windows"
    ) as bar:
        # One set of streams for every chunk: the next chunk runs while this one is yielded.
        outputs = stream_outputs(model.network, windows(bar), batch_size=batch_size,
                                 transform=transform, rc_average=rc_average,
                                 n_encoding=model.n_encoding, device=device)  # fmt: skip
        for values in outputs:
            index, starts = waiting.popleft()
            if values.shape[1:2] != (n_outputs,) or values.ndim > 3:
                raise ModelError(
                    f"the network gives outputs of shape {tuple(values.shape[1:])} but the "
                    f"model names {n_outputs} outputs"
                )
            values = values[:, columns]
            if values.ndim == 3:  # per position: the central S bases of each output
                first = (values.shape[2] - stride) // 2
                values = values[:, :, first : first + stride].reshape(len(values), -1)
            yield index, starts, values


def scan(
    model: Any,
    genome: str | os.PathLike | Genome,
    out: str | os.PathLike | None = None,
    *,
    regions: Any = None,
    stride: int | None = None,
    targets: Sequence[int | str] | None = None,
    max_n_fraction: float = MAX_N_FRACTION,
    fmt: str | None = None,
    batch_size: int = 256,
    rc_average: bool | None = None,
    logits: bool = False,
    device: str | None = None,
    progress: bool | None = False,
    part: tuple[int, int] | None = None,
    overwrite: bool = True,
):
    """Predict every window along a genome and write a track per output.

    Parameters
    ----------
    model
        A :class:`seqcnn.bundle.Model`, a bundle folder or a bare network (see
        :func:`seqcnn.bundle.as_model`).
    genome
        A :class:`~seqcnn.genome.Genome` or an indexed FASTA path.
    out
        ``track.bw`` (bigWig), ``track.bedgraph[.gz]`` (``.bg`` too), or a table
        (``.tsv[.gz]``, ``.csv[.gz]``, ``.parquet``).  With several outputs each track
        file gets the output's name before its extension (``track.CTCF.bw``).  ``None``
        returns a DataFrame of every window (kept in memory: for small regions).
    regions
        What to scan (see :func:`parse_regions`); default every contig.
    stride
        Bases between windows (default half the model's input length).
    targets
        Output names or indices to write (default all).
    max_n_fraction
        Windows with a larger share of N are skipped (a gap in the track).
    fmt
        ``"bigwig"``, ``"bedgraph"``, ``"tsv"``, ``"csv"`` or ``"parquet"``; default from
        the extension of ``out``.
    batch_size, rc_average, logits, device, progress
        As for :func:`seqcnn.predict.predict`.
    part
        ``(k, n)``: scan only the ``k``-th (from 1) of ``n`` parts of the regions, with
        about as many windows each (:func:`split_regions`); :func:`seqcnn.tracks.gather_tracks`
        joins the bedGraph tracks of parts ``1..n`` into the track of the whole scan.
    overwrite
        Replace existing output files; with ``False`` an existing one is an error raised
        before any work is done.

    Returns
    -------
    ScanResult or pandas.DataFrame
        The files written and the window counts; or, for ``out=None``, a DataFrame with
        columns ``chrom``, ``start``, ``end`` (each window) and one per output.

    Examples
    --------
    >>> scan("ctcf_model", "hg19.fa.gz", "ctcf.bw", regions="chr20")  # doctest: +SKIP
    ScanResult(paths=[PosixPath('ctcf.bw')], outputs=['ctcf'], windows=1259877, skipped=...)
    """
    from .attribution import resolve_target
    from .bundle import as_model
    from .tables import value_columns

    model = as_model(model, device)
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    length = model.input_length
    position = model.head_kind == "position"
    most = int(model.output_shape[-1]) if position else length
    stride = (most if position else max(1, length // 2)) if stride is None else int(stride)
    if not 1 <= stride <= most:
        what = "output length" if position else "input length"
        raise UsageError(f"stride must be between 1 and the model {what} ({most}), got {stride}")
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")
    if not 0 <= max_n_fraction <= 1:
        raise UsageError(f"max_n_fraction must be between 0 and 1, got {max_n_fraction}")
    names = list(model.output_names) if position else value_columns(
        model.output_names, model.output_shape)  # fmt: skip
    columns = list(range(len(names))) if targets is None else [
        resolve_target(t, names) for t in targets]  # fmt: skip
    kind, compress = (None, False) if out is None else _output_format(out, fmt)
    if position and kind not in TRACK_FORMATS:
        raise UsageError("a per-position model's scan writes base-resolution tracks: "
                         "-o track.bw or track.bedgraph[.gz]")  # fmt: skip
    outputs = [names[c] for c in columns]
    if out is not None and not overwrite:
        refuse_existing(track_paths(Path(out), outputs) if kind in TRACK_FORMATS else [Path(out)])
    if part is None:
        regions = parse_regions(genome, regions)
    else:
        k, n = part
        if not 1 <= k <= n:
            raise UsageError(f"part {k}/{n} does not exist; parts are numbered 1 to {n}")
        per_chunk = CHUNK_BATCHES * batch_size  # cut between chunks: the batches of one scan
        regions = split_regions(genome, regions, n, length, stride, per_chunk)[k - 1]
    rc_average = model.rc_average if rc_average is None else rc_average
    chunks = _scan_chunks(model, genome, regions, length, stride, max_n_fraction, batch_size,
                          None if logits else model.transform, rc_average, columns, len(names),
                          progress)  # fmt: skip
    if out is None:
        return _frame(chunks, regions, length, outputs)
    if kind in TRACK_FORMATS:
        return _write_tracks(chunks, regions, genome, Path(out), kind, compress, outputs,
                             length, stride, stride if position else 1)  # fmt: skip
    from .tables import write_table

    counted = [0]
    blocks = _table_blocks(chunks, regions, length, counted)
    write_table(blocks, out, outputs, fmt=kind, compress=compress, per_window=True)
    skipped = _total(regions, length, stride) - counted[0]
    return ScanResult([Path(out)], outputs, counted[0], skipped, regions)


def _total(regions: list[Region], length: int, stride: int) -> int:
    """Windows on the grid of ``regions``, scanned or skipped."""
    return sum(stop - first for first, stop in (_grid(r, length, stride) for r in regions))


def _output_format(out, fmt: str | None) -> tuple[str, bool]:
    name = Path(out).name.lower()
    compress = name.endswith(".gz")
    stem = name[:-3] if compress else name
    if fmt is None:
        fmt = _EXTENSIONS.get(os.path.splitext(stem)[1])
        if fmt is None:
            raise UsageError(
                "cannot tell the output format from the file name; use .bw, .bedgraph[.gz], "
                ".tsv[.gz], .csv[.gz] or .parquet",
                path=str(out),
            )
    if fmt not in SCAN_FORMATS:
        raise UsageError(f"unknown scan format '{fmt}'; choose one of {', '.join(SCAN_FORMATS)}")
    if compress and fmt in ("bigwig", "parquet"):
        raise UsageError(f"{fmt} is compressed already; drop the .gz", path=str(out))
    if fmt == "parquet":
        from .tables import require_pyarrow

        require_pyarrow()
    if fmt == "bigwig":
        require_pybigtools()
    return fmt, compress


def _frame(chunks, regions: list[Region], length: int, outputs: list[str]):
    import pandas as pd

    parts = [(regions[i].name, starts, values) for i, starts, values in chunks]
    starts = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    values = np.concatenate([p[2] for p in parts]) if parts else np.zeros((0, len(outputs)))
    frame = pd.DataFrame({
        "chrom": [name for name, s, _ in parts for _ in range(len(s))],
        "start": starts, "end": starts + length,
    })  # fmt: skip
    for k, name in enumerate(outputs):
        frame[name] = values[:, k].astype(np.float32)
    return frame


def _table_blocks(chunks, regions, length, counted):
    from .tables import Block

    for index, starts, values in chunks:
        counted[0] += len(starts)
        yield Block([regions[index].name] * len(starts), values, starts, starts + length)


# ------------------------------------------------------------------------------ tracks


class _Spool:
    """Window starts and values on disk, with the runs of rows of each region; ``width``
    values per output and window (``S`` bases for a per-position model)."""

    def __init__(self, folder: Path, n_outputs: int, width: int = 1):
        self.starts_path, self.values_path = folder / "starts.i64", folder / "values.f32"
        self.n_outputs = n_outputs * width
        self.width = width
        self.runs: list[tuple[int, int]] = []  # (region index, rows)
        self.rows = 0

    def fill(self, chunks) -> None:
        with open(self.starts_path, "wb") as starts_file, open(self.values_path, "wb") as values:
            for index, starts, chunk_values in chunks:
                starts_file.write(starts.astype(np.int64).tobytes())
                values.write(np.ascontiguousarray(chunk_values, dtype=np.float32).tobytes())
                if self.runs and self.runs[-1][0] == index:
                    self.runs[-1] = (index, self.runs[-1][1] + len(starts))
                else:
                    self.runs.append((index, len(starts)))
                self.rows += len(starts)

    def read(self, column: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(region index, starts, values of one output)``, a block of rows at a time."""
        row = 0
        for index, rows in self.runs:
            for a in range(row, row + rows, _WRITE_ROWS):
                n = min(row + rows, a + _WRITE_ROWS) - a
                starts = np.fromfile(self.starts_path, np.int64, count=n, offset=8 * a)
                values = np.fromfile(self.values_path, np.float32, count=n * self.n_outputs,
                                     offset=4 * a * self.n_outputs)  # fmt: skip
                values = values.reshape(n, self.n_outputs // self.width, self.width)
                yield index, starts, values[:, column, 0] if self.width == 1 else values[:, column]
            row += rows


def _write_tracks(chunks, regions, genome, out, kind, compress, outputs, length, stride,
                  width=1):  # fmt: skip
    from ._io import atomic_path

    paths = track_paths(out, outputs)
    offset = (length - stride) // 2
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError("output folder does not exist", path=str(parent))
    with tempfile.TemporaryDirectory(prefix=".seqcnn-scan.", dir=parent) as folder:
        spool = _Spool(Path(folder), len(outputs), width)
        spool.fill(chunks)
        if not spool.rows and kind == "bigwig":  # pybigtools cannot write an empty file
            raise DataError(
                "no window was scored (every one holds too many N, or the regions are shorter "
                f"than the model's {length} bases), and a bigWig cannot be empty; write a "
                ".bedgraph instead",
                path=str(out),
            )
        with ExitStack() as stack:  # every file renamed into place only when all are written
            for column, path in enumerate(paths):
                tmp = stack.enter_context(atomic_path(path))
                blocks = spool.read(column)
                if width > 1:  # per base
                    entries = _base_entries(blocks, regions, offset)
                    write_track(tmp, kind, entries, _sizes(regions, genome), compress)
                elif kind == "bedgraph":
                    _write_bedgraph(tmp, blocks, regions, offset, stride, compress)
                else:  # pybigtools takes only names ending .bw: write, then move
                    made = Path(folder) / f"{column}.bw"
                    _write_bigwig(made, blocks, regions, genome, offset, stride)
                    os.replace(made, tmp)
    skipped = _total(regions, length, stride) - spool.rows
    return ScanResult(paths, outputs, spool.rows, skipped, regions)


def _write_bedgraph(path: Path, blocks, regions, offset: int, stride: int, compress: bool):
    import gzip

    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as handle:
        for index, starts, values in blocks:
            name = regions[index].name
            begin = (starts + offset).tolist()
            handle.write("".join(f"{name}\t{b}\t{b + stride}\t{v:.9g}\n"
                                 for b, v in zip(begin, values.tolist(), strict=True)))  # fmt: skip


def _sizes(regions, genome) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for region in regions:
        sizes.setdefault(region.name, genome.contigs[region.contig])
    return sizes


def _write_bigwig(path: Path, blocks, regions, genome, offset: int, stride: int):
    sizes = _sizes(regions, genome)

    def entries():
        for index, starts, values in blocks:
            name = regions[index].name
            for b, v in zip((starts + offset).tolist(), values.tolist(), strict=True):
                yield name, b, b + stride, v

    write_bigwig(path, sizes, entries())


def _base_entries(blocks, regions, offset: int):
    """Per-position blocks ``(region, starts, values (n, S))`` -> per-base track entries."""
    from .tracks import base_entries

    def segments():
        for index, starts, values in blocks:
            name = regions[index].name
            for begin, row in zip((starts + offset).tolist(), values, strict=True):
                yield name, begin, row

    return base_entries(segments())

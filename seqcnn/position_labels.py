"""Per-position labels of a dataset, written to its ``labels.npy``: from sites, arrays or
bigWig signal.

:func:`record_labels` makes them for FASTA records (``seqcnn encode seqs.fa --sites`` or
``--labels-npy``), :func:`window_labels` for windows of a genome (``seqcnn encode --bed
... --sites`` or ``--signal``).  Either writes the array straight into a memory-mapped
``labels.npy`` (:func:`label_file`), so labels larger than memory are fine.  The stored
types (see :mod:`seqcnn.dataset`): ``uint8`` for segmentation (0/1, and
:data:`seqcnn.sites.MASKED` for unknown bases), and for profiles ``float32`` or, for an
array of whole numbers, ``uint16`` (all <= 65,535) or ``int32`` (:func:`check_label_array`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import DataError, UsageError
from .labels import POSITION_TASKS
from .sites import (
    MASKED,
    bed_site_labels,
    rasterise_sites,
    rasterise_windows,
    read_sites,
    site_tracks,
)

__all__ = ["check_label_array", "label_file", "read_label_array", "record_labels", "window_labels"]

_CHUNK = 1 << 22  # label entries checked or copied at a time


def read_label_array(path: str | os.PathLike) -> tuple[np.ndarray, list[str] | None]:
    """Read per-position labels from ``.npy`` (memory-mapped) or ``.npz``.

    An ``.npz`` holds the array as ``labels`` (or as its only array) and, optionally, the
    track names as ``names``.

    Returns
    -------
    array, names
        ``names`` is ``None`` when the file has none.
    """
    from .fasta import display_name

    name = display_name(path)
    try:
        if str(path).lower().endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                keys = list(archive.files)
                key = "labels" if "labels" in keys else keys[0] if len(keys) == 1 else None
                if key is None:
                    raise DataError(f"no array 'labels' in the archive (it has {', '.join(keys)})",
                                    path=name)  # fmt: skip
                names = [str(n) for n in archive["names"]] if "names" in keys else None
                return archive[key], names
        return np.load(path, mmap_mode="r", allow_pickle=False), None
    except FileNotFoundError:
        raise DataError("no such file", path=name) from None
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"cannot read a NumPy array ({err})", path=name) from None


def check_label_array(array: np.ndarray, task: str, n: int, length: int,
                      source: str = "labels") -> np.dtype:  # fmt: skip
    """Check per-position labels and pick the type they are stored as.

    Parameters
    ----------
    array
        ``(N, T, L)``, row ``i`` the labels of record ``i``.
    task
        ``"segmentation"`` (values 0, 1 or :data:`MASKED`) or ``"profile"`` (finite
        counts >= 0).
    n, length
        The records and their length, which the array must match.
    source
        Named in messages.

    Returns
    -------
    numpy.dtype
        ``uint8`` for segmentation; for profiles ``uint16`` or ``int32`` when every value
        is a whole number that fits, else ``float32``.

    Raises
    ------
    DataError
        A wrong shape or a value that does not fit the task, naming record, track and
        position.
    """
    if task not in POSITION_TASKS:
        raise UsageError(f"per-position labels make a {' or '.join(POSITION_TASKS)} task, "
                         f"not '{task}': give --task segmentation or profile")  # fmt: skip
    if array.ndim != 3 or array.shape[0] != n or array.shape[2] != length:
        raise DataError(f"per-position labels must be (N, T, L) = ({n}, T, {length}) for "
                        f"these records, got {array.shape}", path=source)  # fmt: skip
    if array.dtype.kind not in "biuf":
        raise DataError(f"labels must be numbers, got dtype {array.dtype}", path=source)
    whole, top = True, 0.0
    for a, b in _row_chunks(array):
        block = np.asarray(array[a:b])
        if task == "segmentation":
            bad = ~np.isin(block, (0, 1, MASKED))
            need = f"0, 1 or {MASKED} (masked)"
        else:
            bad = ~np.isfinite(block) | (block < 0)
            need = "a finite count >= 0"
        if bad.any():
            row, track, pos = (int(i) for i in np.argwhere(bad)[0])
            raise DataError(f"value {block[row, track, pos]} in row {a + row + 1}, track "
                            f"{track + 1}, position {pos} is not {need}", path=source)  # fmt: skip
        if task == "profile" and block.size:
            whole = whole and bool((block == np.floor(block)).all())
            top = max(top, float(block.max()))
    if task == "segmentation":
        return np.dtype(np.uint8)
    if whole and top <= np.iinfo(np.uint16).max:
        return np.dtype(np.uint16)
    return np.dtype(np.int32 if whole and top <= np.iinfo(np.int32).max else np.float32)


def _row_chunks(array: np.ndarray):
    per_row = max(1, int(np.prod(array.shape[1:])))
    step = max(1, _CHUNK // per_row)
    return [(a, min(len(array), a + step)) for a in range(0, len(array), step)]


def label_file(folder: Path, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A zero-filled ``labels.npy`` of ``shape`` in ``folder``, memory-mapped for writing
    (an in-memory array when empty: a file of no bytes cannot be mapped)."""
    if not int(np.prod(shape)):
        return np.zeros(shape, dtype=dtype)
    return np.lib.format.open_memmap(folder / "labels.npy", mode="w+", dtype=dtype, shape=shape)


# ------------------------------------------------------------------------------ datasets


def record_labels(folder: Path, ids: Sequence[str], length: int, *, sites=None, array=None,
                  tracks=None, task: str | None = None) -> tuple:  # fmt: skip
    """The per-position labels of records of one length, written to ``folder/labels.npy``.

    Parameters
    ----------
    folder
        The (temporary) dataset folder.
    ids, length
        The records in row order and their length.
    sites
        A sites table in record coordinates (path), or
    array
        per-position labels ``(N, T, L)``: an array, or a ``.npy``/``.npz`` path
        (:func:`read_label_array`).
    tracks
        Track names: which labels of the sites (in order), or the names of the array's
        tracks (default: the ``.npz``'s names, else ``track1``, ``track2``, ...).
    task
        ``segmentation`` (the default for sites) or ``profile``; an array needs it.

    Returns
    -------
    labels, task, names, info
        ``labels`` is the memory map written; ``info`` goes into the dataset header.
    """
    from .fasta import display_name

    if sites is not None:
        if task not in (None, "segmentation"):
            raise UsageError(f"sites make a segmentation task, not '{task}'")
        table = read_sites(sites)
        names = site_tracks(table["label"], tracks)
        if not names:
            raise DataError("no sites in the file", path=display_name(sites))
        out = label_file(folder, (len(ids), len(names), length), np.uint8)
        labels, names = rasterise_sites(table, ids, length, tracks=names, out=out,
                                        path=display_name(sites))  # fmt: skip
        info = {"source": "sites", "path": os.path.abspath(sites), "sites": len(table)}
        return labels, "segmentation", names, info
    source, array_path = "labels", None
    if not isinstance(array, np.ndarray):
        source, array_path = display_name(array), os.path.abspath(array)
        array, stored = read_label_array(array)
        tracks = tracks if tracks is not None else stored
    if task is None:
        raise UsageError("per-position labels from an array need --task segmentation or profile")
    dtype = check_label_array(array, task, len(ids), length, source)
    names = [f"track{k + 1}" for k in range(array.shape[1])] if tracks is None else list(tracks)
    if len(names) != array.shape[1] or len(set(names)) != len(names):
        raise UsageError(f"{array.shape[1]} different track names needed for the array's "
                         f"tracks, got {len(names)}: {', '.join(names)}")  # fmt: skip
    labels = label_file(folder, array.shape, dtype)
    for a, b in _row_chunks(array):
        labels[a:b] = np.asarray(array[a:b]).astype(dtype)
    info = {"source": "array", "path": array_path}
    return labels, task, names, info


def window_labels(folder: Path, contigs, starts, length: int, genome, *, sites=None,
                  signals=None, tracks=None) -> tuple:  # fmt: skip
    """The per-position labels of windows of a genome, written to ``folder/labels.npy``.

    Parameters
    ----------
    folder
        The (temporary) dataset folder.
    contigs, starts, length
        The windows ``[start, start + length)``, by the genome's contig names.
    genome
        The :class:`~seqcnn.genome.Genome`.
    sites
        ``(path, frame)``: a BED file of sites and its table from
        :func:`seqcnn.intervals.read_intervals` (a ``segmentation`` task), or
    signals
        bigWig tracks, as :func:`seqcnn.signal.parse_signals` takes them (``profile``).
    tracks
        With ``sites``, the labels that become tracks, in order.

    Returns
    -------
    labels, task, names, info
        The memory map written, the task, the track names and, for the dataset header,
        where the labels came from.
    """
    from .fasta import display_name

    n = len(starts)
    if sites is not None:
        path, frame = sites
        names = site_tracks(bed_site_labels(frame), tracks)
        if not names:
            raise DataError("no sites in the file", path=display_name(path))
        out = label_file(folder, (n, len(names), length), np.uint8)
        labels, names, info = rasterise_windows(
            frame, contigs, starts, length, genome, tracks=names, out=out, path=display_name(path)
        )
        info = {"source": "sites", "path": os.path.abspath(path), **info}
        return labels, "segmentation", names, info
    from .signal import parse_signals, read_signals

    if tracks is not None:
        raise UsageError("--tracks goes with --sites (name --signal tracks NAME=file.bw)")
    paths = parse_signals(signals)
    out = label_file(folder, (n, len(paths), length), np.float32)
    labels, names, info = read_signals(paths, contigs, starts, length, out=out)
    return labels, "profile", names, info

"""The on-disk dataset: encoded sequences, ids and labels in one memory-mappable folder.

A dataset folder written by :func:`encode` (``seqcnn encode``) holds

``dataset.json``   header: format version, alphabet, code letters, number of sequences,
                   length, task, label names, N-encoding policy, source files and a
                   SHA-256 hash of the encoded content
``sequences.u8``   the bases, one ``uint8`` code per base (A=0 C=1 G=2 T=3 N=4, IUPAC
                   codes 5..14, see :mod:`seqcnn.onehot`), row-major ``(N, L)``, no header,
                   so it can be memory-mapped and a data set larger than RAM still trains
``ids.txt``        one record id per line, in row order
``labels.npy``     ``float32 (N, T)`` (binary, multilabel, regression; NaN marks a label
                   masked with ``missing_labels="mask"``) or ``int64 (N,)`` class indices
                   (multiclass); for the per-position tasks a track per label name along
                   each sequence, ``(N, T, L)``: ``uint8`` 0/1 (segmentation; 255 marks a
                   base whose label is unknown) or counts (profile: ``float32``, or
                   ``uint16``/``int32`` when every count is a whole number that fits; see
                   :mod:`seqcnn.position_labels`), memory-mapped on loading; absent without labels

One byte per base is 16x smaller than a float32 one-hot array; batches are expanded to
one-hot on the fly.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ._io import atomic_directory
from ._version import __version__
from .alphabet import IUPAC_CODES, check_crop, check_n_encoding
from .errors import DataError, UsageError
from .fasta import display_name
from .labels import (
    POSITION_TASKS,
    check_missing_labels,
    check_task,
    class_name_from_path,
    make_labels,
    missing_rows,
    parse_header_labels,
    read_label_table,
    table_labels,
    task_head_kind,
)
from .onehot import codes_to_one_hot
from .position_labels import record_labels
from .sequence_file import default_workers, read_batches, write_sequences

__all__ = [
    "Dataset",
    "encode",
    "file_class_labels",
    "finish_dataset",
    "load_dataset",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "seqcnn-dataset"
FORMAT_VERSION = 1


@dataclass
class Dataset:
    """An encoded dataset, with the sequences memory-mapped.

    Attributes
    ----------
    path
        The dataset folder.
    header
        The parsed ``dataset.json``.
    codes
        ``uint8 (N, L)`` memory map of base codes.
    ids
        Record ids in row order.
    labels
        Label array (see module docs) or ``None``; a read-only memory map for the
        per-position tasks (``head_kind == "position"``).

    Examples
    --------
    >>> ds = load_dataset("peaks.ds")  # doctest: +SKIP
    >>> ds.task, ds.label_names, len(ds), ds.length  # doctest: +SKIP
    ('binary', ['pos'], 20000, 500)
    >>> ds.one_hot(slice(0, 32)).shape, ds.labels[:32].shape  # doctest: +SKIP
    ((32, 4, 500), (32, 1))
    """

    path: Path
    header: dict
    codes: np.ndarray
    ids: list[str]
    labels: np.ndarray | None = field(default=None, repr=False)

    @property
    def task(self) -> str | None:
        return self.header.get("task")

    @property
    def label_names(self) -> list[str]:
        return list(self.header.get("label_names") or [])

    @property
    def head_kind(self) -> str | None:
        """``"sequence"`` (labels ``(N, T)`` or ``(N,)``), ``"position"`` (``(N, T, L)``),
        or ``None`` without labels (:func:`seqcnn.labels.task_head_kind`)."""
        return None if self.task is None else task_head_kind(self.task)

    @property
    def length(self) -> int:
        return int(self.header["length"])

    @property
    def n_encoding(self) -> str:
        return self.header.get("n_encoding", "zeros")

    @property
    def content_hash(self) -> str:
        return self.header["content_hash"]

    def __len__(self) -> int:
        return len(self.ids)

    def one_hot(self, index=None, n_encoding: str | None = None) -> np.ndarray:
        """One-hot ``float32 (n, 4, L)`` array of the rows ``index`` (all rows by default)."""
        codes = self.codes if index is None else self.codes[index]
        return codes_to_one_hot(codes, n_encoding or self.n_encoding)

    def __repr__(self) -> str:
        return (
            f"Dataset('{self.path}', n={len(self)}, length={self.length}, task={self.task}, "
            f"labels={self.label_names})"
        )


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Open a dataset folder written by :func:`encode`; the sequences stay on disk.

    Raises
    ------
    DataError
        Not a seqcnn dataset, an unsupported format version, or files that disagree
        with the header.

    Examples
    --------
    >>> ds = load_dataset("peaks.ds")  # doctest: +SKIP
    >>> ds  # doctest: +SKIP
    Dataset('peaks.ds', n=20000, length=500, task=binary, labels=['pos'])
    """
    path = Path(path)
    header_path = path / "dataset.json"
    if not header_path.is_file():
        raise DataError(
            "not a seqcnn dataset (no dataset.json); create one with seqcnn encode", path=str(path)
        )
    try:
        header = json.loads(header_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"corrupt dataset.json ({err})", path=str(path)) from None
    if header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"unsupported dataset format {header.get('format')!r} version "
            f"{header.get('format_version')!r}; this seqcnn reads {FORMAT} v{FORMAT_VERSION}",
            path=str(path),
        )
    n, length = int(header["n_sequences"]), int(header["length"])
    seq_path = path / "sequences.u8"
    if not seq_path.is_file() or seq_path.stat().st_size != n * length:
        raise DataError(
            f"sequences.u8 is missing or not {n} x {length} bytes; the dataset is incomplete",
            path=str(path),
        )
    codes = (
        np.memmap(seq_path, dtype=np.uint8, mode="r", shape=(n, length))
        if n * length
        else np.zeros((n, length), dtype=np.uint8)
    )
    ids = (path / "ids.txt").read_text(encoding="utf-8").split("\n")[:n] if n else []
    if len(ids) != n:
        raise DataError(f"ids.txt has {len(ids)} ids, expected {n}", path=str(path))
    labels = None
    if (path / "labels.npy").is_file():
        position = header.get("task") in POSITION_TASKS
        labels = np.load(path / "labels.npy", allow_pickle=False,
                         mmap_mode="r" if position and n * length else None)  # fmt: skip
        if labels.shape[0] != n:
            raise DataError(f"labels.npy has {labels.shape[0]} rows, expected {n}", path=str(path))
        tracks = len(header.get("label_names") or [])
        if position and labels.shape != (n, tracks, length):
            raise DataError(f"labels.npy is {labels.shape}, expected (N, T, L) = "
                            f"({n}, {tracks}, {length})", path=str(path))  # fmt: skip
    return Dataset(path=path, header=header, codes=codes, ids=ids, labels=labels)


def _source_info(path: str) -> dict:
    if path == "-":
        return {"path": "<stdin>"}
    stat = os.stat(path)
    return {"path": os.path.abspath(path), "bytes": stat.st_size}


def encode(
    fasta: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    labels: str | os.PathLike | np.ndarray | None = None,
    sites: str | os.PathLike | None = None,
    tracks: Sequence[str] | None = None,
    id_column: str | None = None,
    label_columns: Sequence[str] | None = None,
    class_per_file: bool = False,
    classes: Sequence[str] | None = None,
    header_labels: bool = False,
    task: str | None = None,
    missing_labels: str = "error",
    length: int | None = None,
    crop: str = "center",
    n_encoding: str = "zeros",
    shuffled_negatives: int = 0,
    shuffle_seed: int = 0,
    overwrite: bool = False,
    progress: bool | None = False,
    workers: int | None = None,
) -> Dataset:
    """Encode FASTA file(s) and their labels into a dataset folder.

    Parameters
    ----------
    fasta
        One or more FASTA files (plain, gzip, bgzip, or ``"-"`` for standard input).
    out
        The dataset folder to write; it appears only when complete.
    labels
        A TSV/CSV label table with an id column and label columns; or per-position labels
        (``task="segmentation"`` or ``"profile"``): an array ``(N, T, L)`` whose row ``i``
        holds the tracks of record ``i`` (``L`` the dataset's length), or a ``.npy``/``.npz``
        file of one (:func:`seqcnn.position_labels.read_label_array`).
    sites
        A table of sites in record coordinates (``id, start, end[, label]``, 0-based,
        half-open): a ``segmentation`` task, one 0/1 track per label (see
        :mod:`seqcnn.sites`); the records must share one length (no ``length``).
    tracks
        Per-position labels: the site labels that become tracks, in order (default: all,
        as they first appear), or the names of an array's tracks (default: an ``.npz``'s
        ``names``, else ``track1``, ``track2``, ...).
    id_column, label_columns
        Which table columns hold the ids and the labels (defaults: ``id`` or the first
        column; all other columns).
    class_per_file
        Each FASTA file is one class.  With two files the task is ``binary`` and the
        first file holds the positives; with more it is ``multiclass``.
    classes
        Class names for ``class_per_file`` (default: the file names).
    header_labels
        Read labels from ``key=value`` pairs after the id in each header
        (``>seq1 label=1``); ``label_columns`` picks keys.
    task
        ``binary``, ``multiclass``, ``multilabel`` or ``regression``, inferred if omitted
        (see :func:`seqcnn.labels.infer_task`); ``segmentation`` (sites, or a 0/1 array) or
        ``profile`` (an array of counts) for per-position labels.
    missing_labels
        A missing label (empty, ``NA``, ``NaN``, ``N/A``, ``null``, ``None``, ``.``) in a
        table or header: ``"error"`` (name file, record, line, column and value),
        ``"drop"`` (leave the record out; with a table, records without a row too) or
        ``"mask"`` (multilabel and regression: NaN in ``labels.npy``, for the loss to
        skip).  Ids in a table are stripped of surrounding whitespace.
    length, crop
        Pad (with N) or crop every sequence to ``length``, keeping the ``center``,
        ``left`` or ``right`` part; without ``length`` all sequences must share one.
    n_encoding
        The N/ambiguity encoding recorded as the dataset's default for training.
    shuffled_negatives
        Treat every record as a positive and add this many dinucleotide-shuffled copies of
        it as negatives (:func:`seqcnn.shuffle.dinucleotide_shuffle`), making a ``binary``
        task named after the first file.  Negatives keep the id with ``_shuf`` (``_shuf2``,
        ...) appended, so a split by chromosome keeps them with their positive.
    shuffle_seed
        Seed of the shuffles.
    overwrite
        Replace an existing dataset folder.
    progress
        Show a progress bar on stderr (``None``: only when stderr is a terminal).
    workers
        Processes that read a large plain FASTA file at once, each a part of the file
        (default: the CPUs available, at most 8).  The result is the same for any number.

    Returns
    -------
    Dataset
        The written dataset, opened.

    Examples
    --------
    >>> ds = encode(["pos.fa", "neg.fa"], "peaks.ds", class_per_file=True)  # doctest: +SKIP
    >>> ds.task, ds.label_names  # doctest: +SKIP
    ('binary', ['pos'])
    >>> ds = encode("peaks.fa.gz", "peaks.ds", shuffled_negatives=1)  # doctest: +SKIP
    >>> ds.ids[-1]  # doctest: +SKIP
    'chr9:1000-1100_shuf'
    """
    files = [fasta] if isinstance(fasta, str | os.PathLike) else list(fasta)
    files = [str(f) for f in files]
    if not files:
        raise UsageError("no FASTA file given")
    check_task(task)
    check_missing_labels(missing_labels)
    check_crop(crop)
    check_n_encoding(n_encoding)
    if length is not None and length < 1:
        raise UsageError(f"--length must be a positive number of bases, got {length}")
    if isinstance(shuffled_negatives, bool) or not isinstance(shuffled_negatives, int):
        raise UsageError(f"shuffled_negatives must be a count, got {shuffled_negatives!r}")
    if shuffled_negatives < 0:
        raise UsageError(f"shuffled_negatives must be >= 0, got {shuffled_negatives}")
    array = isinstance(labels, np.ndarray) or str(labels).lower().endswith((".npy", ".npz"))
    n_sources = sum(
        bool(x)
        for x in (labels is not None, sites is not None, class_per_file, header_labels,
                  shuffled_negatives)
    )  # fmt: skip
    if n_sources > 1:
        raise UsageError(
            "give labels one way: --labels, --labels-npy, --sites, --class-per-file, "
            "--header-labels or --shuffled-negatives"
        )
    _check_position_options(array or sites is not None, sites, tracks, task, length,
                            missing_labels)  # fmt: skip
    if shuffled_negatives and task not in (None, "binary"):
        raise UsageError(f"--shuffled-negatives makes a binary task, not '{task}'")
    if classes is not None and not class_per_file:
        raise UsageError("--classes goes with --class-per-file")
    if class_per_file:
        if len(files) < 2:
            raise UsageError("--class-per-file needs at least two FASTA files, one per class")
        classes = list(classes) if classes else [class_name_from_path(f) for f in files]
        if len(classes) != len(files):
            raise UsageError(f"{len(classes)} class names given for {len(files)} files")
        if len(set(classes)) != len(classes):
            raise UsageError(f"class names must differ, got {', '.join(classes)}; use --classes")
    if files.count("-") > 1:
        raise UsageError("standard input ('-') can be read only once")
    workers = default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers must be a positive number of processes, got {workers!r}")

    with atomic_directory(out, overwrite=overwrite) as tmp:
        sources = [(display_name(f), f) for f in files]
        if shuffled_negatives:
            sources = _with_shuffled_negatives(
                sources, tmp / "negatives.fa", shuffled_negatives, shuffle_seed
            )
        ids, file_index, descriptions, hasher, seq_length = write_sequences(
            sources, tmp / "sequences.u8", length, crop, header_labels, progress, workers
        )
        (tmp / "negatives.fa").unlink(missing_ok=True)
        n = len(ids)
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "alphabet": "ACGT",
            "codes": IUPAC_CODES,
            "n_sequences": n,
            "length": seq_length,
            "crop": crop if length is not None else None,
            "n_encoding": n_encoding,
            "shuffled_negatives": (
                {"copies": shuffled_negatives, "seed": shuffle_seed, "k": 2}
                if shuffled_negatives
                else None
            ),
            "task": None,
            "label_names": [],
            "sources": [_source_info(f) for f in files],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seqcnn_version": __version__,
        }
        label_array, keep = None, None
        if array or sites is not None:
            label_array, task, names, header["per_position"] = record_labels(
                tmp, ids, seq_length, sites=sites, array=labels if array else None,
                tracks=tracks, task=task
            )  # fmt: skip
        elif labels is not None:
            table = read_label_table(str(labels), id_column, label_columns)
            label_array, task, names, keep = table_labels(
                table, ids, task, str(labels), missing_labels
            )
        elif class_per_file:
            label_array, task, names = file_class_labels(file_index, classes, task)
        elif shuffled_negatives:
            is_positive = np.asarray(file_index, dtype=np.int64) < len(files)
            label_array, task = is_positive.astype(np.float32)[:, None], "binary"
            names = [class_name_from_path(files[0])]
        elif header_labels:
            label_array, task, names, keep = _labels_from_headers(
                ids, descriptions, label_columns, task, files, missing_labels
            )
        if keep is not None:  # missing_labels="drop" left records out
            hasher = _keep_rows(tmp / "sequences.u8", keep, seq_length)
            ids, n = [ids[i] for i in np.flatnonzero(keep)], int(keep.sum())
            header["n_sequences"] = n
        if label_array is not None and missing_labels != "error":
            masked = int(np.isnan(label_array).sum()) if label_array.dtype.kind == "f" else 0
            dropped = 0 if keep is None else int((~keep).sum())
            header["missing_labels"] = {
                "policy": missing_labels, "dropped": dropped, "masked": masked
            }  # fmt: skip
        if label_array is None and task is not None:
            raise UsageError("--task needs labels (--labels, --sites, --class-per-file or "
                             "--header-labels)")  # fmt: skip
        finish_dataset(tmp, header, ids, hasher,
                       None if label_array is None else (label_array, task, names))  # fmt: skip
    return load_dataset(out)


def _check_position_options(position, sites, tracks, task, length, missing_labels) -> None:
    """Per-position labels (sites or an array) and the options that go with them."""
    if not position:
        if task in POSITION_TASKS:
            raise UsageError(f"--task {task} needs per-position labels: --sites or --labels-npy")
        if tracks is not None:
            raise UsageError("--tracks goes with --sites or --labels-npy")
        return
    if missing_labels != "error":
        raise UsageError("--missing-labels is for label tables and headers; mark unknown "
                         "bases of per-position labels with 255 (segmentation)")  # fmt: skip
    if sites is not None and length is not None:
        raise UsageError("--sites are in record coordinates, which --length would move: "
                         "give records of one length, without --length")  # fmt: skip


def file_class_labels(file_index, classes: Sequence[str], task: str | None = None):
    """Labels when each input file is one class (``--class-per-file``).

    Parameters
    ----------
    file_index
        Each record's file, ``0..len(classes) - 1``.
    classes
        The class names, one per file.
    task
        ``binary`` (two files; the first holds the positives), ``multiclass``, or ``None``:
        binary for two files, else multiclass.

    Returns
    -------
    labels, task, names
    """
    index = np.asarray(file_index, dtype=np.int64)
    if task is None:
        task = "binary" if len(classes) == 2 else "multiclass"
    if task == "binary":
        if len(classes) != 2:
            raise UsageError("task 'binary' with --class-per-file takes two files")
        return (index == 0).astype(np.float32)[:, None], task, [classes[0]]
    if task == "multiclass":
        return index, task, list(classes)
    raise UsageError(f"--class-per-file makes classes; task '{task}' does not fit")


def finish_dataset(folder: Path, header: dict, ids: list[str], hasher, labels=None) -> None:
    """Write the labels, ids and header of a dataset whose ``sequences.u8`` is written.

    The last step of every dataset writer (:func:`encode`,
    :func:`seqcnn.intervals.encode_intervals`), so the content hash is made one way.

    Parameters
    ----------
    folder
        The (temporary) dataset folder.
    header
        The header so far, with ``n_sequences`` and ``length`` final; gets ``task``,
        ``label_names`` and ``content_hash``.
    ids
        Record ids in row order.
    hasher
        The SHA-256 of the sequence codes, in order (from the writer).
    labels
        ``(label_array, task, label_names)``, or ``None`` for an unlabelled dataset.
    """
    if labels is not None:
        label_array, task, names = labels
        written = folder / "labels.npy"
        mapped = getattr(label_array, "filename", None)
        if mapped is not None and Path(mapped).resolve() == written.resolve():
            label_array.flush()  # written in place (seqcnn.position_labels)
        else:
            np.save(written, label_array)
        step = max(1, (1 << 24) // max(1, label_array[:1].nbytes))
        for a in range(0, len(label_array), step):  # the bytes in order, a block at a time
            hasher.update(np.ascontiguousarray(label_array[a : a + step]).tobytes())
        header["task"], header["label_names"] = task, names
    (folder / "ids.txt").write_text("\n".join(ids) + ("\n" if ids else ""), encoding="utf-8")
    hasher.update("\n".join(ids).encode())
    hasher.update(f"{header['n_sequences']}x{header['length']}".encode())
    header["content_hash"] = "sha256:" + hasher.hexdigest()
    (folder / "dataset.json").write_text(json.dumps(header, indent=2) + "\n")


def _with_shuffled_negatives(sources, negatives_path, copies, seed):
    """Pass the positive records through, spooling shuffled copies to a temporary FASTA.

    The negatives are written to disk while the positives stream by, so memory stays
    bounded, and read back as one more source after the positives.
    """
    from .shuffle import dinucleotide_shuffle

    rng = np.random.default_rng(seed)
    suffixes = ["_shuf"] + [f"_shuf{i}" for i in range(2, copies + 1)]

    def tee(batches, handle):
        for batch in batches:
            for record_id, sequence in zip(batch[0], batch[2], strict=True):
                for suffix in suffixes:
                    handle.write(f">{record_id}{suffix}\n{dinucleotide_shuffle(sequence, rng)}\n")
            yield batch

    def positives_then_negatives():
        with open(negatives_path, "w", encoding="utf-8") as handle:
            for name, path in sources:
                yield name, tee(read_batches(path), handle)
        names = ", ".join(name for name, _ in sources)
        yield f"shuffled copies of {names}", str(negatives_path)

    return positives_then_negatives()


def _keep_rows(path: Path, keep: np.ndarray, row_bytes: int):
    """Keep only the rows ``keep`` of a sequence file, in order, in place.

    Returns
    -------
    hashlib sha256
        The hash of the rows kept, as the writer would have hashed them alone.
    """
    hasher = hashlib.sha256()
    rows = np.flatnonzero(keep)
    if row_bytes:
        codes = np.memmap(path, dtype=np.uint8, mode="r+", shape=(len(keep), row_bytes))
        step = max(1, (1 << 24) // row_bytes)
        for start in range(0, len(rows), step):
            # Row rows[k] >= k moves up to k: copying block by block never overwrites a row
            # still to be read.
            block = codes[rows[start : start + step]]
            codes[start : start + len(block)] = block
            hasher.update(block.tobytes())
        codes.flush()
        del codes
    os.truncate(path, len(rows) * row_bytes)
    return hasher


def _labels_from_headers(ids, descriptions, label_columns, task, files, missing_labels):
    pairs = [parse_header_labels(d) for d in descriptions]
    source = ", ".join(files)
    columns = list(label_columns) if label_columns else list(pairs[0]) if pairs else []
    if not columns:
        raise DataError(
            "no key=value labels after the id in the first header (expected e.g. '>seq1 label=1')",
            path=source,
            record=ids[0] if ids else None,
        )
    values = np.empty((len(ids), len(columns)), dtype=object)
    for i, found in enumerate(pairs):
        for j, column in enumerate(columns):
            value = found.get(column)
            if value is None and missing_labels == "error":
                raise DataError(
                    f"no label '{column}=' in the header; use --missing-labels drop or mask "
                    "to accept records without one",
                    path=source,
                    record=ids[i],
                )
            values[i, j] = "" if value is None else value
    labels, task, names = make_labels(
        values, ids, columns, task, source=source, missing_labels=missing_labels
    )
    keep = ~missing_rows(values) if missing_labels == "drop" else None
    return labels, task, names, (None if keep is None or keep.all() else keep)

"""Genome intervals: BED/narrowPeak files in, fixed-length windows and datasets out.

Coordinates are 0-based and half-open, as in BED: the interval ``chr1 10 20`` holds the
ten bases ``10..19``.  A window of ``L`` bases is centred on

* the **summit** when the line is narrowPeak (exactly 10 columns) and its 10th column, the
  summit's offset from ``start``, is not ``-1``: centre ``c = start + summit``;
* the **midpoint** otherwise: ``c = start + (end - start) // 2`` (for an even length the
  right one of the two middle bases);

and is ``[c - L // 2, c - L // 2 + L)``.  For odd ``L`` the centre base is the middle one,
for even ``L`` it is the first base of the right half.  Windows take their bases from the
genome, whatever the interval's own length.  A window that runs off its contig is padded
with N (``off_end="pad"``) or dropped and counted (``off_end="drop"``).  Its id is
``chrom:start-end``, the window's coordinates clipped to the contig, with the contig named
as in the BED file, so a split by chromosome (``--valid-chroms``) works as for FASTA ids.

A dataset is encoded from intervals by :func:`encode_intervals` (``seqcnn encode --bed``):
the same on-disk format as :func:`seqcnn.dataset.encode`, optionally with negatives that are
GC-matched windows of the genome (:mod:`seqcnn.negatives`) or dinucleotide shuffles of the
positive windows, or with per-position labels over each window: sites in genome coordinates
(``sites``, :func:`seqcnn.sites.rasterise_windows`) or bigWig signal (``signals``,
:mod:`seqcnn.signal`).  Rows are grouped by file and in genome order within a file.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .alphabet import IUPAC_CODES, N_CODE
from .errors import DataError, UsageError
from .genome import Genome, gc_content

__all__ = [
    "NEGATIVE_KINDS",
    "OFF_END",
    "Windows",
    "encode_intervals",
    "interval_class_name",
    "read_intervals",
    "window_batches",
    "window_ids",
    "windows_from_beds",
]

#: What ``negatives`` (``--negatives``) may be.
NEGATIVE_KINDS = ("gc-matched", "shuffled")
#: What happens to a window that runs off its contig (``--off-end``).
OFF_END = ("pad", "drop")
_NARROWPEAK = ("name", "score", "strand", "signal_value", "p_value", "q_value", "peak")
_BED = ("name", "score", "strand", "thick_start", "thick_end", "item_rgb", "block_count",
        "block_sizes", "block_starts")  # fmt: skip
_BED_SUFFIXES = (".gz", ".bgz", ".bed", ".narrowpeak", ".broadpeak", ".tsv", ".txt")
_BATCH_BASES = 1 << 22  # bases of windows per batch handed to the dataset writer
_LETTERS = np.frombuffer(IUPAC_CODES.encode(), dtype=np.uint8)
_RESERVED = ("chrom", "start", "end", "summit", "line", "file", "contig", "id", "_order")


# ------------------------------------------------------------------------------ reading BED


def interval_class_name(path: str | os.PathLike) -> str:
    """Class name for a BED file: its name without BED/compression suffixes."""
    name = os.path.basename(str(path))
    while name.lower().endswith(_BED_SUFFIXES):
        name = name[: name.lower().rfind(".")]
    return name


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def read_intervals(path: str | os.PathLike):
    """Read a BED or narrowPeak file (plain or gzip) into a DataFrame.

    Blank lines and lines starting with ``#``, ``track`` or ``browser`` are skipped.  A
    ``#`` line just before the first interval, or a first line whose start and end are not
    numbers, names the columns; otherwise columns 4.. take their BED (or, for 10-column
    lines, narrowPeak) names, then ``col13``, ...  Fields are tab-separated (or, in a file
    without tabs, whitespace-separated).

    Returns
    -------
    pandas.DataFrame
        ``chrom`` (as written), ``start``, ``end`` (int64), ``summit`` (offset from
        ``start``, ``-1`` if none), ``line`` (1-based line number), then the other
        columns as strings.

    Raises
    ------
    DataError
        Fewer than 3 columns, a coordinate that is not an integer, a negative start,
        ``end <= start``, or a summit outside its interval; the message names file and line.
    """
    import pandas as pd

    from .fasta import display_name, open_binary

    name = display_name(path)
    rows, numbers, header, comment = [], [], None, None
    with open_binary(path) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline=None)
        for number, line in enumerate(text, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith(("track", "browser")):
                continue
            if line.startswith("#"):
                comment = line[1:]
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) < 3:
                raise DataError(
                    f"expected at least 3 columns (chrom, start, end), got {len(fields)}",
                    path=f"{name}:{number}",
                )
            if not rows and header is None:
                if number == 1 and not (_is_int(fields[1]) or _is_int(fields[2])):
                    header = fields  # a TSV header line: chrom start end label...
                    continue
                if comment is not None:
                    named = comment.split("\t") if "\t" in comment else comment.split()
                    header = named if len(named) == len(fields) else None
            rows.append(fields)
            numbers.append(number)
    lines = np.array(numbers, dtype=np.int64)
    start = _integers([r[1] for r in rows], "start", name, lines)
    end = _integers([r[2] for r in rows], "end", name, lines)
    _first_bad(start < 0, lines, name, lambda i: f"start {start[i]} is negative")
    _first_bad(end <= start, lines, name, lambda i: (
        f"end {end[i]} is not after start {start[i]} (BED intervals are 0-based, half-open: "
        "end is one past the last base)"))  # fmt: skip
    summit = _integers([r[9] if len(r) == 10 else "-1" for r in rows], "summit (column 10)",
                       name, lines)  # fmt: skip
    _first_bad((summit != -1) & ((summit < 0) | (summit >= end - start)), lines, name,
               lambda i: f"summit offset {summit[i]} (column 10) is outside the interval's "
                         f"{end[i] - start[i]} bases")  # fmt: skip
    width = max((len(r) for r in rows), default=3)
    names = list(header[3:]) if header is not None else []
    defaults = _NARROWPEAK if width == 10 else _BED
    names += [defaults[k - 3] if k - 3 < len(defaults) else f"col{k + 1}"
              for k in range(3 + len(names), width)]  # fmt: skip
    frame = pd.DataFrame({"chrom": [r[0] for r in rows], "start": start, "end": end,
                          "summit": summit, "line": lines})  # fmt: skip
    for k, column in enumerate(names[: width - 3], 3):
        if column in _RESERVED:  # a header naming a column like one of ours
            column = f"{column}_column"
        if column not in frame.columns:
            frame[column] = [r[k] if k < len(r) else "" for r in rows]
    return frame


def _integers(texts: list[str], what: str, name: str, lines: np.ndarray) -> np.ndarray:
    try:
        return np.fromiter(map(int, texts), dtype=np.int64, count=len(texts))
    except (ValueError, OverflowError):
        i = next(i for i, t in enumerate(texts) if not _is_int(t.strip()))
        raise DataError(
            f"{what} '{texts[i]}' is not an integer", path=f"{name}:{lines[i]}"
        ) from None


def _first_bad(bad: np.ndarray, lines: np.ndarray, name: str, message) -> None:
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(message(i), path=f"{name}:{lines[i]}")


# ------------------------------------------------------------------------------ windows


def window_ids(chroms: Sequence[str], starts: np.ndarray, ends: np.ndarray) -> list[str]:
    """``chrom:start-end`` ids."""
    return [f"{c}:{s}-{e}" for c, s, e in zip(chroms, starts.tolist(), ends.tolist(), strict=True)]


@dataclass
class Windows:
    """Windows of one length on a genome, from BED files.

    Attributes
    ----------
    table
        One row per window, grouped by file and in genome order within a file: ``file``
        (index into ``files``), ``line``, ``chrom`` (as in the BED), ``contig`` (the
        genome's name), ``start``, ``end`` (the window, 0-based half-open, may run off
        the contig when padded), ``id``, then the BED's other columns.
    files
        The BED files, as given.
    length
        The window length.
    off_end
        Windows dropped because they run off their contig (``off_end="drop"``).
    duplicates
        Windows dropped because an earlier line gave the same window.
    padded
        Windows that run off their contig and are padded with N.
    """

    table: object
    files: list[str]
    length: int
    off_end: int = 0
    duplicates: int = 0
    padded: int = 0


def windows_from_beds(
    beds: Sequence[str | os.PathLike],
    genome: Genome,
    length: int,
    *,
    off_end: str = "pad",
) -> Windows:
    """Read BED/narrowPeak files and centre a window of ``length`` bases on each interval.

    See the module docs for the centre and the ids.

    Raises
    ------
    DataError
        A malformed line (see :func:`read_intervals`) or a contig the genome lacks, naming
        file and line.
    """
    import pandas as pd

    from .fasta import display_name

    if off_end not in OFF_END:
        raise UsageError(f"unknown off-end policy '{off_end}'; choose one of {', '.join(OFF_END)}")
    if length < 1:
        raise UsageError(f"--length must be a positive number of bases, got {length}")
    order = {name: k for k, name in enumerate(genome.contigs)}
    frames = []
    for k, path in enumerate(beds):
        frame = read_intervals(path)
        contigs = {}
        for chrom in frame["chrom"].unique():
            if not genome.has_contig(chrom):
                line = int(frame["line"].to_numpy()[(frame["chrom"] == chrom).to_numpy()][0])
                raise DataError(
                    genome.unknown_contig_message(chrom), path=f"{display_name(path)}:{line}"
                )
            contigs[chrom] = genome.resolve(chrom)
        starts, ends, summits = (frame[c].to_numpy() for c in ("start", "end", "summit"))
        centre = np.where(summits >= 0, starts + summits, starts + (ends - starts) // 2)
        extra = [c for c in frame.columns if c not in ("chrom", "start", "end", "summit", "line")]
        frame = frame.assign(file=k, contig=frame["chrom"].map(contigs), start=centre - length // 2)
        frame["end"] = frame["start"] + length
        frame = frame[["file", "line", "chrom", "contig", "start", "end", *extra]]
        frame["_order"] = frame["contig"].map(order)
        frames.append(frame.sort_values(["_order", "start"], kind="stable"))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if table.empty:
        raise DataError("no intervals in " + ", ".join(map(display_name, beds)))
    sizes = table["contig"].map(genome.contigs).to_numpy()
    outside = (table["start"].to_numpy() < 0) | (table["end"].to_numpy() > sizes)
    dropped = 0
    if off_end == "drop":
        dropped = int(outside.sum())
        table, sizes, outside = table[~outside], sizes[~outside], outside[~outside]
    duplicate = table.duplicated(["contig", "start"]).to_numpy()
    table = table[~duplicate].drop(columns="_order").reset_index(drop=True)
    sizes = sizes[~duplicate]
    clipped_start = np.maximum(table["start"].to_numpy(), 0)
    clipped_end = np.minimum(table["end"].to_numpy(), sizes)
    table.insert(6, "id", window_ids(table["chrom"].tolist(), clipped_start, clipped_end))
    padded = int(outside[~duplicate].sum())
    return Windows(table=table, files=[str(b) for b in beds], length=length, off_end=dropped,
                   duplicates=int(duplicate.sum()), padded=padded)  # fmt: skip


def window_batches(
    genome: Genome,
    windows: Windows,
    rows: np.ndarray | None = None,
    *,
    gc: list | None = None,
) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """Batches ``(ids, descriptions, sequences)`` of the windows' bases, in table order.

    Parameters
    ----------
    rows
        Which rows of ``windows.table`` (default: all).
    gc
        A list that receives each window's GC content, batch by batch.

    Raises
    ------
    DataError
        A window that is all N, naming its file and line.
    """
    from .fasta import display_name

    table = windows.table if rows is None else windows.table.iloc[rows]
    length = windows.length
    per_batch = max(1, _BATCH_BASES // length)
    contigs, starts = table["contig"].to_numpy(), table["start"].to_numpy()
    ids = table["id"].tolist()
    for a in range(0, len(table), per_batch):
        b = min(len(table), a + per_batch)
        codes = np.empty((b - a, length), dtype=np.uint8)
        for contig in dict.fromkeys(contigs[a:b]):
            at = np.flatnonzero(contigs[a:b] == contig)
            codes[at] = genome.window_codes(contig, starts[a:b][at], length)
        all_n = (codes >= N_CODE).all(axis=1)
        if all_n.any():
            row = table.iloc[a + int(np.argmax(all_n))]
            where = f"{display_name(windows.files[int(row['file'])])}:{int(row['line'])}"
            raise DataError(f"window {row['id']} is all N", path=where)
        if gc is not None:
            gc.append(gc_content(codes))
        letters = _LETTERS[codes]
        yield ids[a:b], [""] * (b - a), [row.tobytes().decode() for row in letters]


# ------------------------------------------------------------------------------ datasets


def encode_intervals(
    bed: str | os.PathLike | Sequence[str | os.PathLike],
    genome: str | os.PathLike | Genome,
    out: str | os.PathLike,
    *,
    length: int,
    class_per_file: bool = False,
    classes: Sequence[str] | None = None,
    label_columns: Sequence[str] | None = None,
    task: str | None = None,
    negatives: str | None = None,
    negative_ratio: float = 1,
    exclude: str | os.PathLike | None = None,
    off_end: str = "pad",
    seed: int = 0,
    n_encoding: str = "zeros",
    sites: str | os.PathLike | None = None,
    signals=None,
    tracks: Sequence[str] | None = None,
    overwrite: bool = False,
    progress: bool | None = False,
):
    """Encode windows of a genome centred on BED/narrowPeak intervals into a dataset folder.

    Parameters
    ----------
    bed
        One or more BED or narrowPeak files (plain or gzip).
    genome
        A :class:`~seqcnn.genome.Genome` or the path of an indexed FASTA reference.
    out
        The dataset folder to write; it appears only when complete.
    length
        Window length ``L``; windows are centred as the module docs say.
    class_per_file, classes
        Each BED file is one class, as for :func:`seqcnn.dataset.encode`.
    label_columns
        Label columns of the BED file(s), by name (from a header line, else the BED names
        ``name``, ``score``, ... or ``col13``, ...).
    task
        ``binary``, ``multiclass``, ``multilabel`` or ``regression``; inferred if omitted.
    negatives
        ``"gc-matched"``: add windows of the genome matching the positives' GC histogram
        (:func:`seqcnn.negatives.gc_matched_negatives`, ids ``chrom:start-end``);
        ``"shuffled"``: add dinucleotide-shuffled copies of each positive window (ids with
        ``_shuf``, ``_shuf2``, ... appended).  Either makes a ``binary`` task named after
        the first file.
    negative_ratio
        Negatives per positive (a whole number of copies for ``"shuffled"``).
    exclude
        A BED file of regions no GC-matched negative may overlap (e.g. a blacklist).
    off_end
        ``"pad"`` windows running off a contig with N, or ``"drop"`` them (counted in the
        header).
    seed
        Seed of the negatives: the same seed gives the same dataset.
    sites
        A BED file of sites in genome coordinates (``chrom start end [label]``): a
        ``segmentation`` task, a 0/1 mask per base of each window and track, bases off a
        contig's end masked (see :mod:`seqcnn.sites`).
    signals
        bigWig files (paths or ``NAME=path``, or a mapping name -> path): a ``profile``
        task, each file's per-base values over each window (see :mod:`seqcnn.signal`).
    tracks
        With ``sites``, the labels that become tracks, in order (default: all, as they
        first appear).
    n_encoding, overwrite, progress
        As for :func:`seqcnn.dataset.encode`.

    Returns
    -------
    Dataset
        The written dataset; its header records the genome, the BED files, the window
        options and counts, and for GC-matched negatives the sampling report with the
        KS statistic of the two GC distributions (``header["negatives"]["ks_statistic"]``).

    Raises
    ------
    DataError
        A malformed BED line, a contig the genome lacks or a window that is all N (naming
        file and line), or an unreadable genome.

    Examples
    --------
    >>> ds = encode_intervals("ctcf.narrowPeak.gz", "hg19.fa.gz", "ctcf.ds", length=500,
    ...                       negatives="gc-matched")  # doctest: +SKIP
    >>> ds.header["negatives"]["ks_statistic"]  # doctest: +SKIP
    0.004
    """
    from datetime import datetime, timezone

    from ._io import atomic_directory
    from ._version import __version__
    from .alphabet import check_n_encoding
    from .dataset import FORMAT, FORMAT_VERSION, file_class_labels, finish_dataset, load_dataset
    from .labels import check_task
    from .sequence_file import write_sequences

    files = [str(bed)] if isinstance(bed, (str, os.PathLike)) else [str(f) for f in bed]
    copies = _check_encode_options(files, class_per_file, classes, label_columns, task,
                                   negatives, negative_ratio, exclude, sites, signals,
                                   tracks)  # fmt: skip
    check_task(task)
    check_n_encoding(n_encoding)
    if class_per_file:
        classes = list(classes) if classes else [interval_class_name(f) for f in files]
        if len(classes) != len(files) or len(set(classes)) != len(classes):
            raise UsageError(f"give {len(files)} different class names, got {', '.join(classes)}")
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    windows = windows_from_beds(files, genome, length, off_end=off_end)
    report: dict = {}
    with atomic_directory(out, overwrite=overwrite) as tmp:
        sources = _sources(genome, windows, negatives, negative_ratio, copies, exclude, seed,
                           report)  # fmt: skip
        ids, file_index, _, hasher, seq_length = write_sequences(
            sources, tmp / "sequences.u8", length, "center", False, progress
        )
        header = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "alphabet": "ACGT",
            "codes": IUPAC_CODES, "n_sequences": len(ids), "length": seq_length, "crop": None,
            "n_encoding": n_encoding,
            "shuffled_negatives": {"copies": copies, "seed": seed, "k": 2} if copies else None,
            "task": None, "label_names": [], "sources": [_file_info(f) for f in files],
            "genome": {**_file_info(genome.path), "contigs": len(genome.contigs)},
            "intervals": {
                "length": length, "centre": "narrowPeak summit, else midpoint",
                "off_end": off_end, "dropped_off_end": windows.off_end,
                "padded": windows.padded, "duplicates_dropped": windows.duplicates,
            },
            "negatives": report or None,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seqcnn_version": __version__,
        }  # fmt: skip
        labels = None
        if negatives:
            positive = np.asarray(file_index, dtype=np.int64) < len(files)
            labels = positive.astype(np.float32)[:, None], "binary", [interval_class_name(files[0])]
        elif class_per_file:
            labels = file_class_labels(file_index, classes, task)
        elif label_columns:
            labels = _column_labels(windows, list(label_columns), ids, task, files)
        elif sites is not None or signals:
            labels = _position_labels(tmp, windows, genome, sites, signals, tracks, header)
        elif task is not None:
            raise UsageError("--task needs labels (--labels, --class-per-file or --negatives)")
        finish_dataset(tmp, header, ids, hasher, labels)
    return load_dataset(out)


def _check_encode_options(files, class_per_file, classes, label_columns, task, negatives,
                          ratio, exclude, sites, signals, tracks) -> int:  # fmt: skip
    """Check the options of :func:`encode_intervals`; the shuffled copies per positive."""
    if not files:
        raise UsageError("no BED file given")
    made = "segmentation" if sites is not None else "profile" if signals else None
    if made and task not in (None, made):
        raise UsageError(f"--{'sites' if sites is not None else 'signal'} makes a {made} "
                         f"task, not '{task}'")  # fmt: skip
    if task in ("segmentation", "profile") and not made:
        raise UsageError(f"--task {task} needs per-position labels: --sites or --signal")
    if tracks is not None and sites is None:
        raise UsageError("--tracks goes with --sites (name --signal tracks NAME=file.bw)")
    if sum(bool(x) for x in (class_per_file, label_columns, negatives, sites, signals)) > 1:
        raise UsageError("give labels one way: --class-per-file, --labels, --negatives, "
                         "--sites or --signal")  # fmt: skip
    if negatives not in (None, *NEGATIVE_KINDS):
        raise UsageError(
            f"unknown negatives '{negatives}'; choose one of {', '.join(NEGATIVE_KINDS)}"
        )
    if negatives and task not in (None, "binary"):
        raise UsageError(f"--negatives makes a binary task, not '{task}'")
    if classes is not None and not class_per_file:
        raise UsageError("--classes goes with --class-per-file")
    if class_per_file and len(files) < 2:
        raise UsageError("--class-per-file needs at least two BED files, one per class")
    if exclude is not None and negatives != "gc-matched":
        raise UsageError("--exclude goes with --negatives gc-matched")
    if isinstance(ratio, bool) or not ratio > 0:
        raise UsageError(f"the negative ratio must be positive, got {ratio!r}")
    if negatives != "shuffled":
        return 0
    if ratio != int(ratio):
        raise UsageError(f"shuffled negatives take a whole number of copies, got {ratio}")
    return int(ratio)


def _file_info(path) -> dict:
    if str(path) == "-":
        return {"path": "<stdin>"}
    return {"path": os.path.abspath(path), "bytes": os.stat(path).st_size}


def _sources(genome, windows, negatives, ratio, copies, exclude, seed, report):
    """The positives of each file, then the negatives: ``(name, batches)`` pairs, lazily,
    so the GC-matched negatives are drawn once the positives' GC contents are known."""
    from .fasta import display_name

    table, gc = windows.table, []
    file_of = table["file"].to_numpy()
    for k, path in enumerate(windows.files):
        rows = np.flatnonzero(file_of == k)
        yield display_name(path), window_batches(genome, windows, rows, gc=gc)
    names = ", ".join(map(display_name, windows.files))
    if negatives == "shuffled":
        yield f"shuffled copies of {names}", _shuffled_batches(genome, windows, copies, seed)
    elif negatives == "gc-matched":
        yield (
            f"GC-matched background of {names}",
            _gc_matched_batches(genome, windows, np.concatenate(gc), ratio, exclude, seed, report),
        )


def _shuffled_batches(genome, windows, copies, seed):
    """Dinucleotide shuffles of the positive windows, read again (as encode shuffles: one
    generator over the records in order, ``copies`` draws each)."""
    from .shuffle import dinucleotide_shuffle

    rng = np.random.default_rng(seed)
    suffixes = ["_shuf"] + [f"_shuf{i}" for i in range(2, copies + 1)]
    for ids, _, sequences in window_batches(genome, windows):
        new_ids = [record + suffix for record in ids for suffix in suffixes]
        shuffled = [dinucleotide_shuffle(s, rng) for s in sequences for _ in suffixes]
        yield new_ids, [""] * len(new_ids), shuffled


def _gc_matched_batches(genome, windows, gc, ratio, exclude, seed, report):
    import pandas as pd

    from .negatives import gc_matched_negatives

    table = windows.table
    regions = None
    if exclude is not None:
        blacklist = read_intervals(exclude)
        regions = blacklist["chrom"].tolist(), blacklist["start"].to_numpy(), blacklist["end"]
    sample = gc_matched_negatives(genome, table["chrom"].tolist(), table["start"].to_numpy(),
                                  windows.length, gc=gc, ratio=ratio, exclude=regions,
                                  seed=seed)  # fmt: skip
    report.update(sample.report)
    report["exclude"] = None if exclude is None else _file_info(exclude)["path"]
    ends = sample.starts + windows.length
    negative = pd.DataFrame({"file": len(windows.files), "line": 0, "chrom": sample.names,
                             "contig": sample.contigs, "start": sample.starts, "end": ends,
                             "id": window_ids(sample.names, sample.starts, ends)})  # fmt: skip
    yield from window_batches(genome, Windows(negative, windows.files, windows.length))


def _position_labels(folder, windows, genome, sites, signals, tracks, header):
    """Sites or signal over each window, written to ``folder/labels.npy``."""
    from .position_labels import window_labels

    frame = None if sites is None else read_intervals(sites)
    table = windows.table
    labels, task, names, header["per_position"] = window_labels(
        folder, table["contig"].to_numpy(), table["start"].to_numpy(), windows.length, genome,
        sites=None if sites is None else (sites, frame), signals=signals, tracks=tracks,
    )  # fmt: skip
    return labels, task, names


def _column_labels(windows, columns, ids, task, files):
    from .labels import make_labels

    table = windows.table
    missing = [c for c in columns if c not in table.columns]
    if missing:
        have = [c for c in table.columns if c not in _RESERVED]
        raise UsageError(
            f"no label column '{missing[0]}' in the BED file(s); they have: {', '.join(have)}"
        )
    values = table[columns].to_numpy(dtype=object)
    return make_labels(values, ids, columns, task, source=", ".join(files),
                       lines=table["line"].to_numpy())  # fmt: skip

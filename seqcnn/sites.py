"""Per-position labels: sites and arrays -> tracks ``(N, T, L)`` along each sequence.

The labels of the per-position tasks (:data:`seqcnn.labels.POSITION_TASKS`) hold a value
for every base of every sequence, one row of ``L`` values per *track*:

``segmentation``  ``uint8 (N, T, L)``: 1 inside a site of the track, 0 outside, and
                  :data:`MASKED` (255) where the base is unknown (a window padded with N
                  off the end of its contig): left out of the loss and the metrics
``profile``       non-negative counts ``(N, T, L)``: ``float32``, or, from a NumPy array
                  of whole numbers, ``uint16`` (all <= 65,535) or ``int32`` (larger)

Sites come in two coordinate systems, both 0-based and half-open (``start`` is the first
base, ``end`` one past the last):

* **record coordinates**, a table (TSV, or CSV by its ``.csv`` name; ``.gz`` allowed) with
  columns ``id, start, end`` and optionally ``label``, read by :func:`read_sites`; a first
  line whose ``start`` and ``end`` are not integers names the columns, otherwise they are
  taken in that order;
* **genome coordinates**, a BED file ``chrom start end [name]`` over the windows of
  ``seqcnn encode --bed``, rasterised by :func:`rasterise_windows`; contigs are matched as
  the windows' are (``chr20`` and ``20`` are one contig).  The 4th column names the track
  only in a 4-column file (a narrowPeak or BED6 line's name is a feature's, not a track's).

One track per distinct label, in the order the labels first appear in the file, unless
``tracks`` names them (and their order; sites of other labels are then left out, and a
named label without sites gives an empty track); without labels one track named
:data:`DEFAULT_TRACK`.  Overlapping sites of
one track merge.  The labels of a dataset (from sites, arrays or bigWig signal) are written
by :mod:`seqcnn.position_labels`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from .errors import DataError, UsageError

__all__ = [
    "DEFAULT_TRACK",
    "MASKED",
    "bed_site_labels",
    "rasterise",
    "rasterise_sites",
    "rasterise_windows",
    "read_sites",
    "site_tracks",
]

log = logging.getLogger("seqcnn")

#: The segmentation label of a base whose label is unknown (left out of loss and metrics).
MASKED = 255
#: The track name of sites without labels.
DEFAULT_TRACK = "site"
_CHUNK = 1 << 22  # label entries rasterised (or checked) at a time


# ------------------------------------------------------------------------------ reading


def read_sites(path: str | os.PathLike):
    """Read a table of sites in record coordinates.

    Parameters
    ----------
    path
        Tab-separated (comma-separated if named ``.csv``; ``.gz`` allowed) with columns
        ``id, start, end`` and optionally ``label``: named by a first line, or in that
        order when the first line's ``start`` and ``end`` are integers.  Blank lines are
        skipped; ids and labels are stripped of surrounding whitespace.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``start``, ``end`` (int64), ``label`` (:data:`DEFAULT_TRACK` without a label
        column) and ``line`` (1-based line number in the file).

    Raises
    ------
    DataError
        A missing column, a coordinate that is not an integer, a negative start or
        ``start >= end``, naming file and line.
    """
    import pandas as pd

    from .fasta import display_name

    name = display_name(path)
    sep = "," if str(path).lower().removesuffix(".gz").endswith(".csv") else "\t"
    try:
        raw = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False,
                          skip_blank_lines=False, encoding="utf-8-sig")  # fmt: skip
    except FileNotFoundError:
        raise DataError("no such file", path=name) from None
    except pd.errors.EmptyDataError:
        raw = pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
        raise DataError(f"cannot read the sites table ({str(err).strip()})", path=name) from None
    raw = raw.fillna("")
    lines = np.arange(len(raw)) + 1
    blank = (raw.apply(lambda column: column.str.strip()) == "").all(axis=1).to_numpy()
    raw, lines = raw[~blank].reset_index(drop=True), lines[~blank]
    if raw.empty:  # no sites: the caller says whether that is an error
        return pd.DataFrame({c: [] for c in ("id", "start", "end", "label", "line")})
    if raw.shape[1] < 3:
        raise DataError(
            f"a sites table needs the columns id, start, end[, label]; found {raw.shape[1]} "
            "column(s) (is the separator right for the file's extension?)",
            path=name,
        )
    first = raw.iloc[0].str.strip().tolist() if len(raw) else []
    if first and not (_is_int(first[1]) and _is_int(first[2])):
        columns, raw, lines = first, raw.iloc[1:].reset_index(drop=True), lines[1:]
        missing = [c for c in ("id", "start", "end") if c not in columns]
        if missing:
            raise DataError(f"no column {', '.join(missing)} in the sites table; it has "
                            f"{', '.join(columns)} (needs id, start, end[, label])",
                            path=f"{name}:{lines[0] - 1 if len(lines) else 1}")  # fmt: skip
        raw.columns = columns
    else:
        raw.columns = ["id", "start", "end", "label", *range(4, raw.shape[1])][: raw.shape[1]]
    where = [f"{name}:{line}" for line in lines]
    start = _integers(raw["start"], "start", where)
    end = _integers(raw["end"], "end", where)
    _first_bad(start < 0, where, lambda i: f"start {start[i]} is negative")
    _first_bad(start >= end, where, lambda i: (
        f"start {start[i]} is not before end {end[i]} (sites are 0-based, half-open: end is "
        "one past the last base)"))  # fmt: skip
    ids = raw["id"].str.strip().to_numpy(dtype=object)
    _first_bad(ids == "", where, lambda i: "no id")
    if "label" in raw.columns:
        labels = raw["label"].str.strip().to_numpy(dtype=object)
        _first_bad(labels == "", where, lambda i: "no label (the label column is empty)")
    else:
        labels = np.full(len(raw), DEFAULT_TRACK, dtype=object)
    return pd.DataFrame({"id": ids, "start": start, "end": end, "label": labels, "line": lines})


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def _integers(column, what: str, where: list[str]) -> np.ndarray:
    texts = column.str.strip().to_numpy(dtype=object)
    good = np.fromiter(map(_is_int, texts), dtype=bool, count=len(texts))
    _first_bad(~good, where, lambda i: f"{what} '{texts[i]}' is not an integer")
    return texts.astype(np.int64) if len(texts) else np.zeros(0, dtype=np.int64)


def _first_bad(bad: np.ndarray, where: list[str], message) -> None:
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(message(i), path=where[i])


def bed_site_labels(frame) -> np.ndarray:
    """The track label of each site of a BED file read by
    :func:`seqcnn.intervals.read_intervals`: its 4th column in a 4-column file, else
    :data:`DEFAULT_TRACK`."""
    extra = [c for c in frame.columns if c not in ("chrom", "start", "end", "summit", "line")]
    if len(extra) == 1:
        labels = frame[extra[0]].str.strip().to_numpy(dtype=object)
        if (labels != "").all():
            return labels
    return np.full(len(frame), DEFAULT_TRACK, dtype=object)


def site_tracks(labels, tracks: Sequence[str] | None = None) -> list[str]:
    """The track names: ``tracks`` as given, else the distinct ``labels`` in order of first
    appearance."""
    if tracks is not None:
        tracks = [str(t) for t in tracks]
        if not tracks or len(set(tracks)) != len(tracks):
            raise UsageError(f"--tracks must name different tracks, got {', '.join(tracks)}")
        return tracks
    return list(dict.fromkeys(str(label) for label in labels))


# ------------------------------------------------------------------------------ rasterising


def rasterise(rows, tracks, starts, ends, shape: tuple[int, int, int], *, out=None) -> np.ndarray:
    """Per-base 0/1 masks of intervals: ``out[row, track, start:end] = 1``.

    Parameters
    ----------
    rows, tracks, starts, ends
        One entry per interval: the sequence (row), the track, and the interval in the
        sequence's coordinates (0-based, half-open); the parts outside ``[0, L)`` are cut
        off, so an interval may start before the sequence or end past it.
    shape
        ``(N, T, L)``.
    out
        A ``uint8`` array of that shape to write (e.g. a memory map); every row is written.

    Returns
    -------
    numpy.ndarray
        ``uint8 (N, T, L)``; overlapping intervals of a track merge.

    Examples
    --------
    >>> rasterise([0, 0], [0, 0], [1, 2], [3, 5], (1, 1, 6))[0, 0].tolist()
    [0, 1, 1, 1, 1, 0]
    """
    n, n_tracks, length = shape
    out = np.zeros(shape, dtype=np.uint8) if out is None else out
    rows, tracks = np.asarray(rows, dtype=np.int64), np.asarray(tracks, dtype=np.int64)
    starts = np.clip(np.asarray(starts, dtype=np.int64), 0, length)
    ends = np.clip(np.asarray(ends, dtype=np.int64), 0, length)
    keep = ends > starts
    order = np.argsort(rows[keep], kind="stable")
    rows, tracks = rows[keep][order], tracks[keep][order]
    starts, ends = starts[keep][order], ends[keep][order]
    width = length + 1  # a difference array per track: +1 at a start, -1 at an end
    step = max(1, _CHUNK // max(1, n_tracks * width))
    for a in range(0, n, step):
        b = min(n, a + step)
        lo, hi = np.searchsorted(rows, [a, b])
        base = ((rows[lo:hi] - a) * n_tracks + tracks[lo:hi]) * width
        size = (b - a) * n_tracks * width
        diff = np.bincount(base + starts[lo:hi], minlength=size)
        diff -= np.bincount(base + ends[lo:hi], minlength=size)
        depth = np.cumsum(diff.reshape(b - a, n_tracks, width), axis=2)[:, :, :length]
        out[a:b] = depth > 0
    return out


def rasterise_sites(sites, ids: Sequence[str], length: int, *, tracks=None, out=None,
                    path: str | None = None) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """Masks ``(N, T, L)`` of sites in record coordinates (see :func:`read_sites`).

    Parameters
    ----------
    sites
        The table from :func:`read_sites`.
    ids
        The records, in row order; all of length ``length``.
    tracks
        Track names in order (sites of other labels are left out); default every label,
        in order of first appearance.
    out
        A ``uint8`` array ``(N, T, L)`` to write (e.g. a memory map).
    path
        The sites file, named in messages.

    Returns
    -------
    masks, names

    Raises
    ------
    DataError
        A site of a record that is not among ``ids``, or one that ends past its record,
        naming file and line.
    """
    import pandas as pd

    name = path or "sites"
    where = [f"{name}:{line}" for line in sites["line"].to_numpy()]
    row = pd.Index(list(ids)).get_indexer(sites["id"].to_numpy())
    record = sites["id"].to_numpy()
    _first_bad(row < 0, where, lambda i: f"record '{record[i]}' of this site is not in the FASTA")
    ends = sites["end"].to_numpy()
    _first_bad(ends > length, where, lambda i: (
        f"site {sites['start'].iat[i]}-{ends[i]} of record '{sites['id'].iat[i]}' ends past "
        f"the record's {length} bases"))  # fmt: skip
    names = site_tracks(sites["label"], tracks)
    track = pd.Index(names).get_indexer(sites["label"].to_numpy())
    used = track >= 0
    if not used.all():
        log.warning("%s: left out %d of %d sites whose label is not among the tracks (%s)",
                    name, (~used).sum(), len(used), ", ".join(names))  # fmt: skip
    masks = rasterise(row[used], track[used], sites["start"].to_numpy()[used], ends[used],
                      (len(ids), len(names), length), out=out)  # fmt: skip
    return masks, names


def rasterise_windows(sites, contigs, starts, length: int, genome, *, tracks=None, out=None,
                      path: str | None = None) -> tuple[np.ndarray, list[str], dict]:  # fmt: skip
    """Masks ``(N, T, L)`` of sites in genome coordinates over windows of a genome.

    Parameters
    ----------
    sites
        A BED file read by :func:`seqcnn.intervals.read_intervals` (``chrom``, ``start``,
        ``end``, ``line``, ...); labels by :func:`bed_site_labels`.
    contigs, starts
        Each window's contig (the genome's name) and start; a window is
        ``[start, start + length)`` and may run off its contig.
    genome
        The :class:`~seqcnn.genome.Genome`: contig names and lengths.
    tracks, out, path
        As for :func:`rasterise_sites`.

    Returns
    -------
    masks, names, info
        Bases off the end of a contig are :data:`MASKED`; ``info`` counts the sites used,
        those on contigs the genome lacks (``off_genome``, left out with a warning) and
        the masked bases.
    """
    import pandas as pd

    contigs = np.asarray(contigs, dtype=object)
    starts = np.asarray(starts, dtype=np.int64)
    labels = bed_site_labels(sites)
    names = site_tracks(labels, tracks)
    track = pd.Index(names).get_indexer(labels)
    chroms = sites["chrom"].to_numpy(dtype=object)
    known = {c: genome.resolve(c) for c in dict.fromkeys(chroms) if genome.has_contig(c)}
    site_contig = np.array([known.get(c) for c in chroms], dtype=object)
    off_genome = site_contig == None  # noqa: E711 (element-wise)
    if off_genome.any():
        log.warning("%s: left out %d sites on contigs the genome lacks (the first: %s)",
                    path or "sites", off_genome.sum(), chroms[np.argmax(off_genome)])  # fmt: skip
    used = (track >= 0) & ~off_genome
    s_start, s_end = sites["start"].to_numpy(), sites["end"].to_numpy()
    pairs_row, pairs_track, pairs_start, pairs_end = [], [], [], []
    for contig in dict.fromkeys(contigs):
        windows = np.flatnonzero(contigs == contig)
        order = windows[np.argsort(starts[windows], kind="stable")]
        w_start = starts[order]
        on = np.flatnonzero(used & (site_contig == contig))
        # windows overlapping a site [s, e) start in (s - length, e)
        lo = np.searchsorted(w_start, s_start[on] - length, side="right")
        hi = np.searchsorted(w_start, s_end[on], side="left")
        count = hi - lo
        site = np.repeat(on, count)
        first = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(count.sum())
        pairs_row.append(order[first])
        pairs_track.append(track[site])
        pairs_start.append(s_start[site] - w_start[first])
        pairs_end.append(s_end[site] - w_start[first])
    joined = [np.concatenate(p) if p else np.zeros(0, dtype=np.int64)
              for p in (pairs_row, pairs_track, pairs_start, pairs_end)]  # fmt: skip
    masks = rasterise(*joined, (len(starts), len(names), length), out=out)
    masked = 0
    sizes = np.array([genome.contigs[c] for c in contigs], dtype=np.int64)
    for row in np.flatnonzero((starts < 0) | (starts + length > sizes)):
        before, after = max(0, -starts[row]), min(length, sizes[row] - starts[row])
        masks[row, :, :before] = MASKED
        masks[row, :, max(after, 0) :] = MASKED
        masked += length - max(0, after - before)
    info = {"sites": int(used.sum()), "off_genome": int(off_genome.sum()),
            "masked_bases": int(masked)}  # fmt: skip
    return masks, names, info

"""Track files: bedGraph and bigWig, as :mod:`seqcnn.scan` writes them and as parts join.

A track holds one value per stretch of bases: a bedGraph line ``chrom start end value``
(0-based, half-open; values with 9 significant digits, a float32 exactly) or a bigWig
record (float32, written through `pybigtools <https://github.com/jackh726/bigtools>`_).
A scan cut into parts (``seqcnn scan --part k/n``) writes one bedGraph per part and
output; :func:`gather_tracks` joins them, in order, into the track one scan of the whole
gives: the same lines in a bedGraph, the same records in a bigWig.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from .errors import DataError, UsageError
from .genome import Genome

__all__ = [
    "TRACK_EXTENSIONS",
    "TRACK_FORMATS",
    "base_entries",
    "gather_tracks",
    "refuse_existing",
    "require_pybigtools",
    "track_paths",
    "write_bigwig",
    "write_track",
]

#: Track formats, one file per output.
TRACK_FORMATS = ("bigwig", "bedgraph")
#: File name extension (before any ``.gz``) -> track format.
TRACK_EXTENSIONS = {".bw": "bigwig", ".bigwig": "bigwig", ".bedgraph": "bedgraph",
                    ".bg": "bedgraph"}  # fmt: skip
_BEDGRAPH_NAME = re.compile(r"\.(bedgraph|bg)(\.gz)?$", re.IGNORECASE)


def require_pybigtools():
    """The pybigtools module, or a :class:`~seqcnn.errors.UsageError` saying how to get it."""
    try:
        import pybigtools
    except ImportError:
        raise UsageError(
            "writing bigWig needs pybigtools (pip install pybigtools); or write a bedGraph "
            "(-o track.bedgraph.gz)"
        ) from None
    return pybigtools


def track_paths(out: Path, outputs: list[str]) -> list[Path]:
    """The file of each output's track: ``out`` for one output, else the output's name
    before the extension (``track.bw`` -> ``track.CTCF.bw``, ``track.pu.1_spi1.bw``)."""
    if len(outputs) == 1:
        return [out]
    stem, dot, ext = out.name.partition(".")
    safe = [re.sub(r"[^\w.+-]", "_", o) for o in outputs]
    if len(set(safe)) != len(safe):
        safe = [f"{k}_{s}" for k, s in enumerate(safe)]
    return [out.with_name(f"{stem}.{s}{dot}{ext}") for s in safe]


def refuse_existing(paths: Iterable[Path]) -> None:
    """Raise a :class:`~seqcnn.errors.UsageError` for the first of ``paths`` that exists."""
    for path in paths:
        if path.exists():
            raise UsageError("output already exists; use --force to replace it", path=str(path))


def write_bigwig(path: Path, sizes: dict[str, int], entries) -> None:
    """Write ``(chrom, start, end, value)`` entries, sorted, to a bigWig named ``.bw``.

    Raises
    ------
    DataError
        The file written cannot be read back.
    """
    pybigtools = require_pybigtools()
    # pybigtools reports an error inside the iterator on stderr instead of raising: the
    # entries come from checked values, and the file is read back below.
    pybigtools.open(str(path), "w").write(sizes, entries)
    try:
        reader = pybigtools.open(str(path))
        reader.chroms()
        reader.close()
    except Exception as err:  # noqa: BLE001 - any failure to read back is a failed write
        raise DataError(f"the bigWig writer failed ({err})", path=str(path)) from None


def base_entries(segments: Iterable[tuple[str, int, np.ndarray]]) -> Iterator[tuple]:
    """Base-resolution values -> track entries ``(chrom, start, end, value)``.

    Each segment ``(chrom, start, values)`` holds one value per base from ``start`` on;
    adjacent bases of a segment with the same float32 value make one entry (a run), so
    flat stretches cost one line.  Segments must come in track order (sorted, not
    overlapping).
    """
    for chrom, start, values in segments:
        values = np.asarray(values, dtype=np.float32).ravel()
        if not len(values):
            continue
        change = np.flatnonzero(values[1:] != values[:-1]) + 1
        firsts = np.concatenate([[0], change])
        lasts = np.concatenate([change, [len(values)]])
        begin, end = (start + firsts).tolist(), (start + lasts).tolist()
        for a, b, v in zip(begin, end, values[firsts].tolist(), strict=True):
            yield chrom, a, b, v


def write_track(path: Path, kind: str, entries: Iterable[tuple],
                sizes: dict[str, int] | None = None, compress: bool = False) -> None:  # fmt: skip
    """Write entries ``(chrom, start, end, value)``, sorted, to ``path`` in ``kind``.

    Parameters
    ----------
    path
        The file (any name: a bigWig is made under a ``.bw`` name beside it and moved).
    kind
        ``"bedgraph"`` (values with 9 significant digits) or ``"bigwig"``.
    sizes
        Contig lengths, in the entries' order (bigWig only).
    compress
        gzip a bedGraph.
    """
    path = Path(path)
    if kind == "bedgraph":
        opener = gzip.open if compress else open
        with opener(path, "wt", encoding="utf-8", newline="\n") as handle:
            handle.writelines(f"{n}\t{a}\t{b}\t{v:.9g}\n" for n, a, b, v in entries)
        return
    with tempfile.TemporaryDirectory(prefix=".seqcnn-track.", dir=path.parent) as folder:
        made = Path(folder) / "track.bw"  # pybigtools takes only names ending .bw
        write_bigwig(made, dict(sizes or {}), entries)
        os.replace(made, path)


# ------------------------------------------------------------------------------ gathering


def gather_tracks(
    parts: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    genome: str | os.PathLike | Genome | None = None,
    *,
    fmt: str | None = None,
    overwrite: bool = True,
) -> list[Path]:
    """Join the bedGraph tracks of a scan's parts, in order, into the track of the whole.

    Parameters
    ----------
    parts
        The bedGraph files (plain or gzip) of parts ``1..n`` of one scan
        (:func:`seqcnn.scan.scan` with ``part=(k, n)``), in order; or one folder per part
        holding its bedGraph files (one per output), gathered by file name.
    out
        ``track.bw`` or ``track.bedgraph[.gz]``; from folders with several outputs, each
        output's track is named as a scan names it (``track.CTCF.bw``).
    genome
        The scanned genome (a bigWig records the lengths of its contigs).
    fmt
        ``"bigwig"`` or ``"bedgraph"``; default from the extension of ``out``.
    overwrite
        Replace existing files; with ``False`` an existing one is an error.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    DataError
        A line that is not a bedGraph line or comes out of order (parts in the wrong
        order), naming file and line; part folders holding different files.

    Examples
    --------
    >>> for k in (1, 2):  # doctest: +SKIP
    ...     scan(model, "hg19.fa.gz", f"p{k}.bedgraph", regions="chr20", part=(k, 2))
    >>> gather_tracks(["p1.bedgraph", "p2.bedgraph"], "chr20.bw", "hg19.fa.gz")  # doctest: +SKIP
    [PosixPath('chr20.bw')]
    """
    kind, compress = _track_format(out, fmt)
    groups = _part_groups([Path(p) for p in parts])
    paths = track_paths(Path(out), [name for name, _ in groups])
    if not overwrite:
        refuse_existing(paths)
    if kind == "bigwig" and genome is None:
        raise UsageError("a bigWig records the lengths of its contigs: give the genome")
    if genome is not None and not isinstance(genome, Genome):
        genome = Genome(genome)
    from ._io import atomic_path

    with ExitStack() as stack:  # every file renamed into place only when all are written
        for path, (_, files) in zip(paths, groups, strict=True):
            tmp = stack.enter_context(atomic_path(path))
            if kind == "bedgraph":
                with (gzip.open if compress else open)(tmp, "wt", encoding="utf-8",
                                                       newline="\n") as handle:  # fmt: skip
                    handle.writelines(f"{n}\t{a}\t{b}\t{v}\n" for n, a, b, v in
                                      _bedgraph_rows(files))  # fmt: skip
                continue
            sizes = _contig_sizes(files, genome, path)
            folder = stack.enter_context(tempfile.TemporaryDirectory(dir=tmp.parent))
            made = Path(folder) / "track.bw"  # pybigtools takes only names ending .bw
            write_bigwig(made, sizes, ((n, a, b, float(v)) for n, a, b, v in _bedgraph_rows(files)))
            os.replace(made, tmp)
    return paths


def _track_format(out, fmt: str | None) -> tuple[str, bool]:
    name = Path(out).name.lower()
    compress = name.endswith(".gz")
    kind = fmt or TRACK_EXTENSIONS.get(os.path.splitext(name[:-3] if compress else name)[1])
    if kind not in TRACK_FORMATS:
        raise UsageError(
            "parts gather into a track (.bw, .bedgraph[.gz]); join the tables of parts with "
            "'seqcnn gather'",
            path=str(out),
        )
    if compress and kind == "bigwig":
        raise UsageError("bigwig is compressed already; drop the .gz", path=str(out))
    if kind == "bigwig":
        require_pybigtools()
    return kind, compress


def _part_groups(parts: list[Path]) -> list[tuple[str, list[Path]]]:
    """``(output name, part files)`` per track: one track from files, one per file name
    from folders (``part.CTCF.bedgraph`` holds output ``CTCF``)."""
    if not parts:
        raise UsageError("no parts to gather")
    folders = [p.is_dir() for p in parts]
    if not any(folders):
        for path in parts:
            if not path.is_file():
                raise DataError("part not found", path=str(path))
        return [("", parts)]
    if not all(folders):
        raise UsageError("give the parts as bedGraph files or as folders, not both")
    names = [sorted(f.name for f in p.iterdir() if _BEDGRAPH_NAME.search(f.name)) for p in parts]
    for folder, found in zip(parts, names, strict=True):
        if not found or found != names[0]:
            raise DataError(
                f"holds bedGraph files {found or 'none'}, the first part {names[0] or 'none'}",
                path=str(folder),
            )
    return [
        (_BEDGRAPH_NAME.sub("", name).partition(".")[2], [p / name for p in parts])
        for name in names[0]
    ]


def _contig_sizes(files: list[Path], genome: Genome, out: Path) -> dict[str, int]:
    """Length of each contig of the tracks, named as they name it, in order."""
    sizes: dict[str, int] = {}
    for name, *_ in _bedgraph_rows(files):
        if name not in sizes:
            if not genome.has_contig(name):
                raise DataError(genome.unknown_contig_message(name), path=str(files[0]))
            sizes[name] = genome.contigs[genome.resolve(name)]
    if not sizes:
        raise DataError("no value in the parts, and a bigWig cannot be empty", path=str(out))
    return sizes


def _bedgraph_rows(files: list[Path]) -> Iterator[tuple[str, int, int, str]]:
    """``(chrom, start, end, value as written)`` of each line, checked: four fields, whole
    coordinates, a number, and the order of a scan (each contig's values in one run,
    ascending, not overlapping)."""
    done: set[str] = set()
    chrom, end = None, 0
    for path in files:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    name, a, b, value = line.rstrip("\n").split("\t")
                    a, b, _ = int(a), int(b), float(value)
                except ValueError:
                    raise DataError(
                        "not a bedGraph line (chrom, start, end, value)", path=f"{path}:{number}"
                    ) from None
                if name != chrom:
                    if name in done:
                        raise DataError(f"values of {name} resume after another contig's; give "
                                        "the parts in order", path=f"{path}:{number}")  # fmt: skip
                    done.add(name)
                    chrom, end = name, 0
                if a < end or b <= a:
                    raise DataError(f"{name}:{a}-{b} overlaps or precedes the line before; give "
                                    "the parts in order", path=f"{path}:{number}")  # fmt: skip
                end = b
                yield name, a, b, value

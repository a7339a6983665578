"""Signal tracks: per-base values of bigWig files over windows of a genome.

``seqcnn encode --bed peaks.bed --genome ref.fa --signal plus.bw --signal minus.bw`` makes
``profile`` labels, one track per bigWig, ``float32 (N, T, L)``: the value of each base of
each window, read through `pybigtools <https://github.com/jackh726/bigtools>`_.  Bases the
file does not cover, values stored as NaN and bases off the end of a contig are 0; a contig
the file lacks gives zeros (with a warning).  Contigs are matched by name in either
spelling (``chr20`` or ``20``), as the windows' are.  Negative or infinite values are an
error: profile labels are counts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .errors import DataError, UsageError
from .genome import styled_name

__all__ = ["bigwig_contig", "parse_signals", "read_signals", "signal_name"]

log = logging.getLogger("seqcnn")

_SUFFIXES = (".bw", ".bigwig")
_SPAN_BASES = 1 << 20  # windows closer than this are read in one request


def signal_name(path: str | os.PathLike) -> str:
    """A track's name from its file: the name without ``.bw``/``.bigWig``."""
    name = Path(path).name
    lower = name.lower()
    return next((name[: -len(s)] for s in _SUFFIXES if lower.endswith(s)), name)


def parse_signals(signals) -> dict[str, str]:
    """Track name -> bigWig path.

    Parameters
    ----------
    signals
        A mapping name -> path, or paths and ``NAME=path`` strings (a path's track is
        named by :func:`signal_name`).

    Raises
    ------
    UsageError
        Two tracks of one name, or none.

    Examples
    --------
    >>> parse_signals(["ctcf.bw", "input=ctl.bigWig"])
    {'ctcf': 'ctcf.bw', 'input': 'ctl.bigWig'}
    """
    if isinstance(signals, Mapping):
        pairs = [(str(k), str(v)) for k, v in signals.items()]
    else:
        if isinstance(signals, str | os.PathLike):
            signals = [signals]
        pairs = []
        for spec in map(str, signals):
            name, sep, path = spec.partition("=")
            if sep and name and path and not os.path.exists(spec):
                pairs.append((name, path))
            else:
                pairs.append((signal_name(spec), spec))
    names = [name for name, _ in pairs]
    if not pairs or len(set(names)) != len(names):
        raise UsageError(
            f"signal tracks need different names, got {', '.join(names) or 'none'}; name "
            "them NAME=path"
        )
    return dict(pairs)


def bigwig_contig(contig: str, chroms: Mapping[str, int]) -> str | None:
    """The bigWig's name for a genome contig (``20`` or ``chr20``), or ``None``."""
    for name in (contig, styled_name(contig, "ucsc"), styled_name(contig, "ensembl")):
        if name in chroms:
            return name
    return None


def read_signals(signals, contigs: Sequence[str], starts, length: int, *,
                 out: np.ndarray | None = None) -> tuple[np.ndarray, list[str], dict]:  # fmt: skip
    """Per-base values of bigWig files over windows ``[start, start + length)``.

    Parameters
    ----------
    signals
        Tracks, as :func:`parse_signals` takes them.
    contigs, starts
        Each window's contig and start (0-based; a window may run off its contig).
    length
        The window length ``L``.
    out
        A ``float32 (N, T, L)`` array to fill (e.g. a memory map).

    Returns
    -------
    values, names, info
        ``float32 (N, T, L)`` (see the module docs for what is 0), the track names, and
        for the dataset header each track's file and the contigs it had no data for.

    Raises
    ------
    DataError
        A file that is not a readable bigWig, or a negative or infinite value (naming
        file, contig and position).
    """
    import pybigtools

    from .fasta import display_name

    paths = parse_signals(signals)
    contigs = np.asarray(contigs, dtype=object)
    starts = np.asarray(starts, dtype=np.int64)
    shape = (len(starts), len(paths), length)
    out = np.zeros(shape, dtype=np.float32) if out is None else out
    info: dict = {"source": "signal", "paths": {}, "contigs_without_data": {}}
    for t, (name, path) in enumerate(paths.items()):
        where = display_name(path)
        if not os.path.isfile(path):
            raise DataError("no such file", path=where)
        try:
            reader = pybigtools.open(str(path))
            chroms = reader.chroms() if reader.is_bigwig else None
        except (pybigtools.BBIReadError, ValueError, OSError) as err:
            raise DataError(f"cannot read as bigWig ({err})", path=where) from None
        if chroms is None:
            raise DataError("is a bigBed, not a bigWig", path=where)
        info["paths"][name] = os.path.abspath(path)
        lacking = []
        with reader:
            for contig in dict.fromkeys(contigs):
                rows = np.flatnonzero(contigs == contig)
                chrom = bigwig_contig(contig, chroms)
                if chrom is None:
                    lacking.append(contig)
                    out[rows, t] = 0
                    continue
                _read_contig(reader, chrom, rows, starts[rows], length, out[:, t], where)
        if lacking:
            info["contigs_without_data"][name] = lacking
            shown = ", ".join(lacking[:5]) + (", ..." if len(lacking) > 5 else "")
            log.warning("%s has no data on %s: track '%s' is 0 there", where, shown, name)
    return out, list(paths), info


def _read_contig(reader, chrom, rows, starts, length, out, where) -> None:
    """Fill ``out[rows]`` (``(N, L)``) with the values of windows of one contig, reading
    nearby windows in one request."""
    order = np.argsort(starts, kind="stable")
    s = starts[order]
    bounds = [0]
    for k in range(1, len(s)):  # a new request once the span would grow too long
        if s[k] - s[bounds[-1]] > _SPAN_BASES:
            bounds.append(k)
    bounds.append(len(s))
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        first, last = int(s[a]), int(s[b - 1])
        values = reader.values(chrom, first, last + length, oob=0.0, fillna=0.0)
        values = np.nan_to_num(values, nan=0.0, posinf=np.inf, neginf=-np.inf)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            at = int(np.argmax(bad))
            raise DataError(
                f"value {values[at]} at {chrom}:{first + at} is not a count >= 0 (profile "
                "labels are counts)",
                path=where,
            )
        view = np.lib.stride_tricks.sliding_window_view(values, length)
        out[rows[order[a:b]]] = view[s[a:b] - first]

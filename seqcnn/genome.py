"""Indexed reference genomes: contigs, UCSC/Ensembl names, windows of bases as codes.

:class:`Genome` reads a FASTA reference by random access through its samtools index
(`pyfaidx <https://github.com/mdshw5/pyfaidx>`_): a plain FASTA with ``.fai``, or a
bgzip-compressed one with ``.fai`` and ``.gzi``.  A missing index is built once, written
atomically next to the file, or, when that folder is read-only, in a cache folder
(``$XDG_CACHE_HOME/seqcnn`` or ``~/.cache/seqcnn``) under a name made from the file's
absolute path, size and modification time.  An index older than its FASTA file is rebuilt.

Conventions, here and in every module built on this one:

* coordinates are **0-based, half-open**: ``fetch("chr1", 0, 3)`` is the first three bases;
* a contig may be named UCSC-style (``chr20``, ``chrM``) or Ensembl-style (``20``, ``MT``)
  whatever the FASTA calls it; an unknown name is an error that lists some that exist;
* soft-masked (lower-case) bases are read as upper case;
* bases outside a contig (``start < 0`` or ``end`` past its length) are ``N`` with
  ``pad=True`` and an error otherwise;
* the N fraction of a window counts every code that is not ``A C G T`` (N and IUPAC
  ambiguity codes); its GC content is ``(G + C) / (A + C + G + T)``, NaN without bases.

A :class:`Genome` may be handed to worker processes (fork or spawn): the file handle is not
pickled and each process opens its own on first use.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .alphabet import INVALID_CODE, IUPAC_CODES, LETTER_BYTES, N_CODE
from .errors import DataError, UsageError

__all__ = [
    "MAX_N_FRACTION",
    "Genome",
    "ReadAhead",
    "cache_folder",
    "contig_style",
    "gc_content",
    "genome_index",
    "n_fraction",
    "styled_name",
]

#: Windows with a larger share of N (or other non-ACGT codes) are skipped by default.
MAX_N_FRACTION = 0.1
#: Bases read per library call: pyfaidx reads a bgzip range in time quadratic in its size,
#: so long ranges are read in pieces (1 Mbp: ~1 s for a 63 Mbp chromosome).
_READ_BASES = 1 << 20
#: Windows closer than this are read in one go (a bgzip block holds ~64 kb of sequence).
_GAP_BASES = 1 << 16
#: Ranges read ahead closer than this are read in one call (measured best among 1-64 kbp for
#: variants spread over a chromosome, plain or bgzip: a bgzip block read by two calls is not
#: inflated twice, pyfaidx's reader keeps the last ones).
_AHEAD_GAP_BASES = 1 << 14
#: Most bases one batched read of windows spans.
_SPAN_BASES = 1 << 22
_LETTERS = np.frombuffer(IUPAC_CODES.encode(), dtype=np.uint8)
_MITOCHONDRION = ("M", "MT")


# ------------------------------------------------------------------------------ index files


def cache_folder() -> Path:
    """Where indexes of genomes in read-only folders go: ``$XDG_CACHE_HOME/seqcnn``, or
    ``~/.cache/seqcnn``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "seqcnn"


def _compression(path: Path) -> str:
    """``"plain"``, ``"bgzip"`` or ``"gzip"`` (BGZF is gzip with a ``BC`` extra field)."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    return "bgzip" if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC" else "gzip"


def _fresh(index: Path, fasta: Path) -> bool:
    return index.is_file() and index.stat().st_mtime >= fasta.stat().st_mtime


def genome_index(
    path: str | os.PathLike, cache_dir: str | os.PathLike | None = None
) -> tuple[Path, Path | None]:
    """The index files of a FASTA genome, built if missing: ``(fai, gzi or None)``.

    Parameters
    ----------
    path
        A plain or bgzip-compressed FASTA file.
    cache_dir
        Where to build the index when the genome's folder is read-only (default:
        :func:`cache_folder`).

    Raises
    ------
    DataError
        A missing file, a gzip (not bgzip) file, a FASTA that cannot be indexed (e.g.
        lines of unequal length), or no writable place for a missing index.
    """
    fasta = Path(path)
    if not fasta.is_file():
        raise DataError("genome file not found", path=str(fasta))
    kind = _compression(fasta)
    if kind == "gzip":
        raise DataError(
            "the genome is gzip-compressed, which cannot be read by random access; "
            "recompress it with bgzip (gunzip -c ref.fa.gz | bgzip > ref.fa.bgz) or gunzip it",
            path=str(fasta),
        )
    if (kind == "bgzip") != fasta.name.lower().endswith((".gz", ".bgz")):
        raise DataError(
            "a bgzip-compressed genome must be named .gz or .bgz, and only one"
            if kind == "bgzip"
            else "the genome is named .gz but is not compressed; rename it",
            path=str(fasta),
        )
    names = [fasta.name + ".fai"] + ([fasta.name + ".gzi"] if kind == "bgzip" else [])
    beside = [fasta.parent / name for name in names]
    if all(_fresh(p, fasta) for p in beside):
        return beside[0], beside[1] if kind == "bgzip" else None
    stat = fasta.stat()
    key = f"{fasta.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
    prefix = hashlib.sha256(key).hexdigest()[:16] + "-"
    cache = Path(cache_dir) if cache_dir is not None else cache_folder()
    cached = [cache / (prefix + name) for name in names]
    if all(p.is_file() for p in cached):
        return cached[0], cached[1] if kind == "bgzip" else None
    for targets in (beside, cached):
        try:
            _build_index(fasta, targets)
        except OSError:
            continue  # a read-only folder: try the cache
        return targets[0], targets[1] if kind == "bgzip" else None
    raise DataError(
        f"the genome has no index (.fai{' + .gzi' if kind == 'bgzip' else ''}) and neither "
        f"its folder nor the cache folder {cache} can be written; index it with "
        "'samtools faidx' or set XDG_CACHE_HOME to a writable folder",
        path=str(fasta),
    )


def _build_index(fasta: Path, targets: list[Path]) -> None:
    """Index ``fasta`` into a temporary folder beside ``targets`` and move the files into
    place (.gzi first: a reader that sees the .fai finds its .gzi too)."""
    import pyfaidx

    targets[0].parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".seqcnn-index.", dir=targets[0].parent))
    try:
        built = [work / target.name for target in targets]
        try:
            gzi = str(built[1]) if len(built) > 1 else None
            pyfaidx.Faidx(str(fasta), indexname=str(built[0]), gzi_indexname=gzi).close()
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat,
                UnicodeDecodeError, ValueError) as err:  # fmt: skip
            message = " ".join(str(err).split()) or type(err).__name__
            raise DataError(f"cannot index the genome: {message}", path=str(fasta)) from None
        # Never older than the FASTA (a file dated in the future would otherwise look
        # stale to every reader, and be re-indexed on every open).
        stamp = max(time.time(), fasta.stat().st_mtime)
        for made, target in zip(reversed(built), reversed(targets), strict=True):
            os.utime(made, (stamp, stamp))
            os.replace(made, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_fai(fai: Path, fasta: Path) -> dict[str, int]:
    contigs: dict[str, int] = {}
    for number, line in enumerate(fai.read_text().splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 5 or not fields[1].isdigit():
            raise DataError(f"line {number} of the index {fai} is not a .fai line", path=str(fasta))
        if fields[0] in contigs:
            raise DataError(f"contig '{fields[0]}' appears twice", path=str(fasta))
        contigs[fields[0]] = int(fields[1])
    return contigs


# ------------------------------------------------------------------------------ names


def _alternatives(name: str) -> list[str]:
    """The other spellings of a contig name (UCSC <-> Ensembl)."""
    base = name[3:] if name.startswith("chr") else name
    names = {base, "chr" + base}
    if base in _MITOCHONDRION:
        names |= {"M", "MT", "chrM", "chrMT"}
    names.discard(name)
    return sorted(names)


def contig_style(names) -> str | None:
    """``"ucsc"`` if every name starts with ``chr``, ``"ensembl"`` if none does, else None."""
    names = list(names)
    prefixed = sum(name.startswith("chr") for name in names)
    if not names or 0 < prefixed < len(names):
        return None
    return "ucsc" if prefixed else "ensembl"


def styled_name(name: str, style: str | None) -> str:
    """``name`` written UCSC-style (``chr20``, ``chrM``) or Ensembl-style (``20``, ``MT``).

    Examples
    --------
    >>> styled_name("20", "ucsc"), styled_name("chrM", "ensembl"), styled_name("20", None)
    ('chr20', 'MT', '20')
    """
    if style is None:
        return name
    base = name[3:] if name.startswith("chr") else name
    if style == "ucsc":
        return "chrM" if base in _MITOCHONDRION else "chr" + base
    return "MT" if base in _MITOCHONDRION else base


# ------------------------------------------------------------------------------ the genome


class Genome:
    """A reference genome read by random access.

    Parameters
    ----------
    path
        A FASTA file, plain or bgzip-compressed, with or without its index (built if
        missing, see :func:`genome_index`).
    cache_dir
        Where a missing index goes when the genome's folder is read-only.

    Attributes
    ----------
    path
        The FASTA file.
    contigs
        Contig name -> length, in file order.

    Examples
    --------
    >>> genome = Genome("hg19_chr20.fa.gz")  # doctest: +SKIP
    >>> genome.resolve("chr20"), genome.contigs["20"]  # doctest: +SKIP
    ('20', 63025520)
    >>> genome.fetch("chr20", 60_000, 60_010)  # doctest: +SKIP
    'GATCCAGAGG'
    """

    def __init__(self, path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None):
        self.path = Path(path)
        self.fai, self.gzi = genome_index(self.path, cache_dir)
        self.contigs: dict[str, int] = _read_fai(self.fai, self.path)
        aliases: dict[str, set[str]] = {}
        for name in self.contigs:
            for other in _alternatives(name):
                aliases.setdefault(other, set()).add(name)
        # A spelling that could mean two contigs is not an alias of either.
        self._aliases = {
            alias: next(iter(targets))
            for alias, targets in aliases.items()
            if len(targets) == 1 and alias not in self.contigs
        }
        self._faidx = None
        self._pid = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_faidx"] = state["_pid"] = None  # each process opens its own handle
        return state

    def __repr__(self) -> str:
        return f"Genome('{self.path}', contigs={len(self.contigs)})"

    def close(self) -> None:
        """Close the file handle (it is reopened on the next read)."""
        if self._faidx is not None and self._pid == os.getpid():
            self._faidx.close()
        self._faidx = self._pid = None

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _handle(self):
        if self._faidx is None or self._pid != os.getpid():
            import pyfaidx

            # A forked child must not share the parent's file offset: open anew.
            self._faidx = pyfaidx.Faidx(str(self.path), indexname=str(self.fai),
                                        gzi_indexname=None if self.gzi is None else str(self.gzi),
                                        rebuild=False, build_index=False)  # fmt: skip
            self._pid = os.getpid()
        return self._faidx

    # ---------------------------------------------------------------------- names

    def resolve(self, name: str) -> str:
        """The genome's name for contig ``name`` (``chr20`` and ``20`` match each other).

        Raises
        ------
        DataError
            An unknown contig; the message lists a few that exist.
        """
        if name in self.contigs:
            return name
        found = self._aliases.get(name)
        if found is None:
            raise DataError(self.unknown_contig_message(name), path=str(self.path))
        return found

    def has_contig(self, name: str) -> bool:
        """Whether ``name`` (in any spelling) is a contig of this genome."""
        return name in self.contigs or name in self._aliases

    def unknown_contig_message(self, name: str) -> str:
        """The message for a contig the genome lacks: similar names first, then the first
        few, at most five."""
        spellings = [*self.contigs, *self._aliases]
        close = difflib.get_close_matches(name, spellings, n=5, cutoff=0.75)
        similar = sorted({self.resolve(c) for c in close}, key=list(self.contigs).index)
        shown = list(dict.fromkeys(similar + list(self.contigs)[:5]))[:5]
        more = f", ... ({len(self.contigs)} in all)" if len(self.contigs) > len(shown) else ""
        return f"contig '{name}' is not in the genome; it has {', '.join(shown)}{more}"

    # ---------------------------------------------------------------------- reading

    def _raw(self, contig: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of a contig (already in range), as stored."""
        faidx = self._handle()
        parts = []
        for a in range(start, end, _READ_BASES):
            b = min(end, a + _READ_BASES)
            try:
                parts.append(faidx.from_file(contig, a + 1, b).encode("ascii"))
            except UnicodeError:
                raise DataError(
                    f"contig '{contig}' has a non-ASCII byte between {a} and {b}",
                    path=str(self.path),
                ) from None
        data = b"".join(parts)
        if len(data) != end - start:  # an index that does not fit the file
            raise DataError(
                f"read {len(data)} bases of {contig}:{start}-{end} instead of {end - start}; "
                "the index does not match the file: delete the .fai/.gzi and retry",
                path=str(self.path),
            )
        return data

    def _bounds(self, contig: str, start: int, end: int, pad: bool) -> tuple[str, int, int]:
        name = self.resolve(contig)
        start, end = int(start), int(end)
        if end < start:
            raise UsageError(f"interval {contig}:{start}-{end} ends before it starts")
        size = self.contigs[name]
        if not pad and (start < 0 or end > size):
            raise DataError(
                f"interval {contig}:{start}-{end} runs off contig '{name}' (0-{size})",
                path=str(self.path),
            )
        return name, start, end

    def fetch_codes(self, contig: str, start: int, end: int, pad: bool = True) -> np.ndarray:
        """Codes (``uint8``, see :mod:`seqcnn.alphabet`) of bases ``[start, end)``.

        Parameters
        ----------
        contig
            A contig name in any spelling (:meth:`resolve`).
        start, end
            0-based, half-open.
        pad
            Positions outside the contig are N (``True``) or an error (``False``).

        Raises
        ------
        DataError
            An unknown contig, an interval off the contig with ``pad=False``, or a byte
            that is not a sequence letter.
        """
        name, start, end = self._bounds(contig, start, end, pad)
        size = self.contigs[name]
        codes = np.full(end - start, N_CODE, dtype=np.uint8)
        a, b = max(start, 0), min(end, size)
        if a < b:
            # bytes.translate is several times faster than a numpy table look-up.
            inside = np.frombuffer(self._raw(name, a, b).translate(LETTER_BYTES), np.uint8)
            if inside.max() == INVALID_CODE:
                position = a + int(np.flatnonzero(inside == INVALID_CODE)[0])
                raise DataError(
                    f"contig '{name}' has an invalid letter at 0-based position {position}",
                    path=str(self.path),
                )
            codes[a - start : b - start] = inside
        return codes

    def fetch(self, contig: str, start: int, end: int, pad: bool = True) -> str:
        """Upper-case bases ``[start, end)`` of a contig (0-based, half-open).

        Positions outside the contig are ``N`` with ``pad=True`` (the default) and an
        error otherwise.  See :meth:`fetch_codes` for the errors.
        """
        return _LETTERS[self.fetch_codes(contig, start, end, pad)].tobytes().decode()

    def window_codes(self, contig: str, starts, length: int, pad: bool = True) -> np.ndarray:
        """Codes ``(n, length)`` of the windows ``[s, s + length)`` of one contig.

        Windows are read sorted, nearby ones in one read, so thousands of windows cost
        about one pass over the part of the contig they cover; rows come back in the
        order of ``starts``.
        """
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        out = np.empty((len(starts), length), dtype=np.uint8)
        if not len(starts):
            return out
        order = np.argsort(starts, kind="stable")
        s = starts[order]
        new_run = np.r_[True, np.diff(s) > _GAP_BASES]
        run_first = s[np.flatnonzero(new_run)][np.cumsum(new_run) - 1]
        group = np.cumsum(new_run) * (1 << 40) + (s - run_first) // _SPAN_BASES
        bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            first, last = int(s[a]), int(s[b - 1])
            codes = self.fetch_codes(contig, first, last + length, pad)
            view = np.lib.stride_tricks.sliding_window_view(codes, length)
            out[order[a:b]] = view[s[a:b] - first]
        return out

    def read_ahead(self, contig: str, starts, ends, pad: bool = True) -> ReadAhead:
        """Read the ranges ``[starts, ends)`` of a contig at once, nearby ones together, to
        cut windows and ranges from them later (:class:`ReadAhead`) without reading again."""
        return ReadAhead(self, contig, starts, ends, pad)

    def contig_names(self, style: str | None = None) -> Mapping[str, str]:
        """Genome name -> name in ``style`` (``"ucsc"``, ``"ensembl"`` or None: as is)."""
        return {name: styled_name(name, style) for name in self.contigs}


class ReadAhead:
    """Bases of one contig read once, in runs, for many windows and ranges.

    The ranges are sorted and merged into runs (ranges closer than a few kbp; a run at most a
    few Mbp), and each run is read in one call: whatever the ranges' order or overlap, each
    base they cover is read once, and the bases between sparse ranges are not read at all.
    A range outside the runs is read on demand.

    Examples
    --------
    >>> ahead = genome.read_ahead("chr20", [100, 5000], [200, 5100])  # doctest: +SKIP
    >>> ahead.codes(120, 130).shape, ahead.windows([100, 5000], 50).shape  # doctest: +SKIP
    ((10,), (2, 50))
    """

    def __init__(self, genome: Genome, contig: str, starts, ends, pad: bool = True):
        self.genome, self.contig, self.pad = genome, contig, pad
        starts = np.asarray(starts, np.int64).reshape(-1)
        ends = np.maximum(np.asarray(ends, np.int64).reshape(-1), starts)
        order = np.argsort(starts, kind="stable")
        firsts, lasts, runs = [], [], []
        for start, end in zip(starts[order].tolist(), ends[order].tolist(), strict=True):
            if lasts and start <= lasts[-1] + _AHEAD_GAP_BASES and end - firsts[-1] <= _SPAN_BASES:
                lasts[-1] = max(lasts[-1], end)
            else:
                firsts.append(start)
                lasts.append(end)
        for first, last in zip(firsts, lasts, strict=True):
            runs.append(genome.fetch_codes(contig, first, last, pad))
        self.firsts = np.asarray(firsts, np.int64)
        self.lasts = np.asarray(lasts, np.int64)
        self.runs = runs

    def codes(self, start: int, end: int) -> np.ndarray:
        """Codes of ``[start, end)`` (a view into a run when one holds it)."""
        i = int(np.searchsorted(self.firsts, start, side="right")) - 1
        if i >= 0 and end <= self.lasts[i]:
            first = int(self.firsts[i])
            return self.runs[i][start - first : end - first]
        return self.genome.fetch_codes(self.contig, start, end, self.pad)

    def windows(self, starts, length: int) -> np.ndarray:
        """Codes ``(n, length)`` of the windows ``[s, s + length)``, rows in input order."""
        starts = np.asarray(starts, np.int64).reshape(-1)
        out = np.empty((len(starts), length), np.uint8)
        run = np.searchsorted(self.firsts, starts, side="right") - 1
        inside = np.zeros(len(starts), bool)
        if len(self.firsts):
            inside = (run >= 0) & (starts + length <= self.lasts[np.maximum(run, 0)])
        for i in np.unique(run[inside]).tolist():
            rows = np.flatnonzero(inside & (run == i))
            view = np.lib.stride_tricks.sliding_window_view(self.runs[i], length)
            out[rows] = view[starts[rows] - self.firsts[i]]
        for row in np.flatnonzero(~inside).tolist():
            out[row] = self.codes(int(starts[row]), int(starts[row]) + length)
        return out


# ------------------------------------------------------------------------------ content


def n_fraction(codes: np.ndarray) -> np.ndarray:
    """Share of codes in the last axis that are not ``A C G T`` (N and IUPAC codes).

    Examples
    --------
    >>> from seqcnn.alphabet import sequence_codes
    >>> float(n_fraction(sequence_codes("ACNN")))
    0.5
    """
    codes = np.asarray(codes)
    if codes.shape[-1] == 0:
        return np.ones(codes.shape[:-1])
    return (codes >= N_CODE).sum(axis=-1) / codes.shape[-1]


def gc_content(codes: np.ndarray) -> np.ndarray:
    """GC content ``(G + C) / (A + C + G + T)`` over the last axis; NaN where all N.

    Examples
    --------
    >>> from seqcnn.alphabet import sequence_codes
    >>> float(gc_content(sequence_codes("GGCANNNN")))
    0.75
    """
    codes = np.asarray(codes)
    gc = ((codes == 1) | (codes == 2)).sum(axis=-1)
    bases = (codes < N_CODE).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bases > 0, gc / np.maximum(bases, 1), np.nan)

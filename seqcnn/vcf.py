"""Reading variants: VCF/BCF files (through cyvcf2) or tables of (chrom, pos, ref, alt).

:class:`VariantReader` turns a VCF or BCF file (plain, gzip or bgzip) or a pandas
DataFrame into chunks of :class:`Alleles`, one row per alternative allele, in file order
and in bounded memory.  Parsing is `cyvcf2 <https://github.com/brentp/cyvcf2>`_'s (htslib):
unlike pysam's ``VariantFile`` it also reads plain-gzip VCFs, which are common, and its
rate (about 200,000 records a second) is far above what any network scores them at.

Alleles that cannot be written as bases are skipped and counted by reason (or are errors
with ``strict=True``):

* ``symbolic``: ``<DEL>``, ``<*>``, the spanning deletion ``*``, breakends (``G]17:198982]``,
  ``.A``);
* ``missing``: an ALT of ``.`` (no alternative allele) or a REF of ``.``;
* ``invalid``: letters other than ``A C G T N`` (either case), e.g. IUPAC codes.

Checked up front, each a one-line :class:`~seqcnn.errors.DataError`: a missing file, a file
without a ``##fileformat=VCF`` header, a bgzip file without its end-of-file block (cut
short at a block boundary), a header without its ``#CHROM`` line.  A file cut short
anywhere else is an error when the reader reaches the cut.  A ``#CHROM`` line separated by
spaces instead of tabs, which htslib refuses, is repaired (with a warning) by reading a
temporary copy with a corrected header.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError, UsageError

__all__ = [
    "SKIP_REASONS",
    "VCF_COLUMNS",
    "Alleles",
    "VariantReader",
    "allele_problem",
]

logger = logging.getLogger("seqcnn")

#: Why an allele is skipped (see the module's docstring).
SKIP_REASONS = ("symbolic", "missing", "invalid")
#: The fixed columns of a VCF's ``#CHROM`` line.
VCF_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
#: Columns a DataFrame of variants must have (``id`` is optional).
FRAME_COLUMNS = ("chrom", "pos", "ref", "alt")
#: The empty BGZF block every complete bgzip file ends with.
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
#: Deleting these leaves nothing of a sequence allele.
_BASES = str.maketrans("", "", "ACGTNacgtn")


def allele_problem(allele: str | None) -> str | None:
    """Why an allele cannot be scored (one of :data:`SKIP_REASONS`), or None.

    Examples
    --------
    >>> [allele_problem(a) for a in ("ACGT", "acn", "<DEL>", "*", ".", "R")]
    [None, None, 'symbolic', 'symbolic', 'missing', 'invalid']
    """
    if allele is None or allele in ("", "."):
        return "missing"
    if not allele.translate(_BASES):
        return None
    if allele[0] == "<" or allele == "*" or "[" in allele or "]" in allele or "." in allele:
        return "symbolic"
    return "invalid"


@dataclass
class Alleles:
    """A chunk of variants, one row per alternative allele.

    Attributes
    ----------
    chrom
        Contig names as the input writes them.
    pos
        1-based positions of the first REF base (``int64``), as in a VCF.
    ids
        Variant ids (``"."`` where the input has none).
    ref, alt
        Alleles as the input writes them (any case).
    """

    chrom: list[str] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    ref: list[str] = field(default_factory=list)
    alt: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pos)

    def append(self, chrom: str, pos: int, id_: str, ref: str, alt: str) -> None:
        self.chrom.append(chrom)
        self.pos.append(pos)
        self.ids.append(id_)
        self.ref.append(ref)
        self.alt.append(alt)


class VariantReader:
    """The variants of a VCF/BCF file or a DataFrame, in chunks of alleles.

    Parameters
    ----------
    source
        A VCF or BCF file (plain, gzip or bgzip), or a pandas DataFrame with the columns
        ``chrom``, ``pos`` (1-based), ``ref``, ``alt`` and optionally ``id``.
    strict
        Make an allele that would be skipped an error.
    chunk_size
        Alleles per chunk.
    part
        ``(k, n)``: only the ``k``-th (from 1) of ``n`` parts of the scorable alleles, in
        file order, cut at multiples of ``chunk_size`` (so a part's chunks are those one
        reader of the whole file yields); a first pass over the file counts them.  Records
        and skipped alleles count in the part of the next scorable allele (the last part
        for those after the last), so the parts' counts add up to the file's.

    Attributes
    ----------
    name
        The file (or ``"(table)"``), for messages.
    records
        Records read so far.
    skipped
        Alleles skipped so far, by reason.

    Examples
    --------
    >>> reader = VariantReader("calls.vcf.gz")  # doctest: +SKIP
    >>> sum(len(chunk) for chunk in reader), reader.skipped  # doctest: +SKIP
    (1020, Counter({'symbolic': 3}))
    """

    def __init__(self, source: Any, *, strict: bool = False, chunk_size: int = 4096,
                 part: tuple[int, int] | None = None):  # fmt: skip
        if chunk_size < 1:
            raise UsageError(f"chunk_size must be at least 1, got {chunk_size}")
        if part is not None:
            k, n = (int(v) for v in part)
            if not 1 <= k <= n:
                raise UsageError(f"part {k}/{n} does not exist; parts are numbered 1 to {n}")
        self.part = part
        self.source = source
        self.strict = strict
        self.chunk_size = chunk_size
        self.records = 0
        self.skipped: Counter = Counter()
        if isinstance(source, (str, os.PathLike)):
            self.name = str(source)
            self._header_problem = check_vcf(source)
        elif _is_frame(source):
            self.name = "(table)"
            missing = [c for c in FRAME_COLUMNS if c not in source.columns]
            if missing:
                raise UsageError(
                    f"a table of variants needs the columns {', '.join(FRAME_COLUMNS)} "
                    f"(and optionally id); it lacks {', '.join(missing)}"
                )
        else:
            raise UsageError(
                "variants must be a VCF/BCF file or a pandas DataFrame with the columns "
                f"chrom, pos, ref, alt; got {type(source).__name__}"
            )

    def _rows(self) -> Iterator[tuple]:
        return self._frame_rows() if _is_frame(self.source) else self._vcf_rows()

    def _bounds(self) -> tuple[int, int | None]:
        """The scorable alleles ``[low, high)`` of this part (``high`` None: to the end)."""
        if self.part is None:
            return 0, None
        k, n = self.part
        total = sum(
            allele_problem(ref) is None and allele_problem(alt) is None
            for _, _, _, ref, alts in self._rows()
            for alt in alts
        )
        units = -(-total // self.chunk_size)
        low, high = ((units * p // n) * self.chunk_size for p in (k - 1, k))
        return min(low, total), None if k == n else min(high, total)

    def __iter__(self) -> Iterator[Alleles]:
        low, high = self._bounds()
        high = float("inf") if high is None else high
        chunk, size = Alleles(), 0
        scorable = 0  # scorable alleles before this one, in the whole file
        for chrom, pos, id_, ref, alts in self._rows():
            if scorable >= high:
                break
            self.records += scorable >= low
            # The usual allele (bases only) is recognised inline: a call per allele costs
            # as much as the rest of its reading.
            ref_problem = None if ref and not ref.translate(_BASES) else allele_problem(ref)
            for alt in alts:
                reason = ref_problem or (
                    None if alt and not alt.translate(_BASES) else allele_problem(alt)
                )
                inside = low <= scorable < high
                if reason is not None:
                    if inside:
                        self._skip(reason, chrom, pos, ref, alt)
                    continue
                scorable += 1
                if not inside:
                    continue
                chunk.chrom.append(chrom)
                chunk.pos.append(pos)
                chunk.ids.append(id_)
                chunk.ref.append(ref)
                chunk.alt.append(alt)
                size += 1
                if size >= self.chunk_size:
                    yield chunk
                    chunk, size = Alleles(), 0
        if size:
            yield chunk

    def _skip(self, reason: str, chrom: str, pos: int, ref: str, alt: str) -> None:
        if self.strict:
            raise DataError(
                f"variant {chrom}:{pos} {ref or '.'}>{alt or '.'} cannot be scored "
                f"({reason} allele); drop it or leave out --strict to skip such alleles",
                path=self.name,
            )
        self.skipped[reason] += 1

    def _frame_rows(self) -> Iterator[tuple]:
        frame = self.source
        ids = frame["id"] if "id" in frame.columns else [None] * len(frame)
        columns = zip(frame["chrom"], frame["pos"], ids, frame["ref"], frame["alt"], strict=True)
        for number, (chrom, pos, id_, ref, alt) in enumerate(columns, 1):
            try:
                position = int(pos)
            except (TypeError, ValueError):
                raise DataError(f"row {number}: pos {pos!r} is not a whole number") from None
            if position < 1 or position != pos:
                raise DataError(f"row {number}: pos {pos!r} is not a 1-based position")
            text = None if id_ is None or id_ != id_ else str(id_)  # None and NaN: no id
            yield str(chrom), position, text or ".", _text(ref), [_text(alt)]

    def _vcf_rows(self) -> Iterator[tuple]:
        with _readable_copy(self.source, self._header_problem) as path:
            import cyvcf2

            # Every problem htslib can meet is reported here as one line; its own
            # warnings (contigs missing from the header, ...) are noise to a user.
            quiet = getattr(cyvcf2.cyvcf2, "set_htslib_log_level", None)
            if quiet is not None:
                quiet(0)
            try:
                vcf = cyvcf2.VCF(str(path), lazy=True)
            except Exception as err:  # cyvcf2 raises bare Exceptions
                raise DataError(
                    f"cannot read the VCF/BCF file ({_reason(err)}); it is truncated, corrupt "
                    "or not VCF",
                    path=self.name,
                ) from None
            try:
                records = iter(vcf)
                number, chrom, pos = 0, None, None
                while True:
                    try:
                        record = next(records)
                    except StopIteration:
                        return
                    except Exception as err:  # a cut-short or corrupt file
                        where = f"record {number} ({chrom}:{pos})" if number else "the first record"
                        raise DataError(
                            f"cannot read the record after {where} ({_reason(err)}); "
                            "the file is truncated or corrupt",
                            path=self.name,
                        ) from None
                    chrom, pos = record.CHROM, record.POS
                    number += 1
                    yield chrom, pos, record.ID or ".", record.REF, record.ALT or [None]
            finally:
                vcf.close()


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def _text(value: Any) -> str | None:
    return None if value is None or value != value else str(value)


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


# ------------------------------------------------------------------------------ the file


def _opener(path: Path):
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open if magic == b"\x1f\x8b" else open


def check_vcf(path: str | os.PathLike) -> str | None:
    """Check that a file is a VCF or BCF file that can be read to its end.

    Returns
    -------
    str or None
        ``"spaces"`` when the ``#CHROM`` line is separated by spaces (readable through a
        repaired copy), else None.

    Raises
    ------
    DataError
        A missing file, no ``##fileformat=VCF`` first line, no ``#CHROM`` line, a bgzip
        file without its end-of-file block, a gzip stream that cannot be decompressed.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise DataError("no such file" if not path.exists() else "not a file", path=name)
    opener = _opener(path)
    if opener is gzip.open and _is_bgzip(path):
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - len(_BGZF_EOF)))
            if handle.read() != _BGZF_EOF:
                raise DataError(
                    "the bgzip file has no end-of-file block: it is truncated (copy it again)",
                    path=name,
                )
    try:
        with opener(path, "rb") as handle:
            first = handle.readline()
            if first.startswith(b"BCF\x02"):
                return None
            if not first.startswith(b"##fileformat=VCF"):
                raise DataError(
                    "not a VCF file: it does not start with a ##fileformat=VCF header line "
                    "(a VCF needs its header: ##fileformat=VCFv4.2, then #CHROM POS ID REF "
                    "ALT QUAL FILTER INFO, tab-separated)",
                    path=name,
                )
            for line in handle:
                if not line.startswith(b"#"):
                    break
                if line.startswith(b"#CHROM"):
                    return _chrom_line_problem(line, name)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot decompress the file ({_reason(err)})", path=name) from None
    raise DataError("the VCF header has no #CHROM line before the first record", path=name)


def _is_bgzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(18)
    return len(head) >= 14 and bool(head[3] & 4) and head[12:14] == b"BC"


def _chrom_line_problem(line: bytes, name: str) -> str | None:
    text = line.decode("utf-8", "replace").rstrip("\r\n")
    if tuple(text.split("\t")[:8]) == VCF_COLUMNS:
        return None
    if tuple(text.split()[:8]) == VCF_COLUMNS:
        return "spaces"
    raise DataError(
        f"the #CHROM header line does not list the columns {' '.join(VCF_COLUMNS)} "
        "separated by tabs",
        path=name,
    )


class _readable_copy:
    """The file itself, or a temporary copy whose #CHROM line is tab-separated."""

    def __init__(self, path: str | os.PathLike, problem: str | None):
        self.path, self.problem, self.folder = Path(path), problem, None

    def __enter__(self) -> Path:
        if self.problem is None:
            return self.path
        logger.warning(
            "%s: the #CHROM header line is separated by spaces, not tabs; reading a copy "
            "with a repaired header",
            self.path,
        )
        self.folder = tempfile.mkdtemp(prefix="seqcnn-vcf.")
        copy = Path(self.folder) / "repaired.vcf"
        try:
            with _opener(self.path)(self.path, "rb") as source, open(copy, "wb") as out:
                for line in source:
                    if line.startswith(b"#CHROM"):
                        end = b"\r\n" if line.endswith(b"\r\n") else b"\n"
                        out.write(b"\t".join(line.split()) + end)
                        break
                    out.write(line)
                shutil.copyfileobj(source, out, 1 << 20)
        except (OSError, EOFError, zlib.error) as err:
            self.__exit__()
            raise DataError(
                f"cannot decompress the file ({_reason(err)}); it is truncated or corrupt",
                path=str(self.path),
            ) from None
        return copy

    def __exit__(self, *exc) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

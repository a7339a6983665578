"""Variants against a reference: REF check, normalisation, reference and alternative windows.

For every alternative allele (:class:`seqcnn.vcf.Alleles`), :func:`variant_codes`:

1. **checks REF** against the genome (contig names matched UCSC/Ensembl,
   :meth:`seqcnn.genome.Genome.resolve`): ``ref_match`` is ``match``, ``swapped`` (REF
   differs but the genome holds ALT there) or ``mismatch``; ``ref_mismatch="flag"`` keeps
   such rows and uses the genome's bases as the reference, ``"skip"`` drops them,
   ``"error"`` stops at the first;
2. **normalises** the alleles (the genome's REF bases, and ALT): the shared suffix, then the
   shared prefix are trimmed, and an insertion or deletion is shifted left as far as the
   genome allows (as ``vt normalize`` and ``bcftools norm`` do).  Every way of writing the
   same indel becomes the same ``(p, deleted bases, inserted bases)``, so it gets the same
   windows, hence the same scores;
3. **cuts the windows** (``docs/variants.md`` draws them): with ``c = L // 2`` and ``p``
   the 0-based position of the first changed base after normalisation,

   * the reference window is the genome ``[p - c, p - c + L)``: the first REF base at
     index ``c``;
   * the alternative window is the same ``c`` bases ``[p - c, p)``, then the ALT bases,
     then the genome after the REF bases, cut at ``L``: the first ALT base at index ``c``.
     A deletion pulls more genome in on the right; an insertion pushes bases out there (an
     insertion longer than ``L - c`` is cut itself).  An ALT equal to the reference
     (after a REF mismatch) gives two equal windows at the VCF position.

   Bases off a contig's ends are ``N``.

The rows keep the input's columns and add the normalised variant written VCF-style
(``norm_pos`` 1-based, an indel with the base before it as ``vt normalize`` writes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .alphabet import IUPAC_CODES, LETTER_BYTES
from .errors import DataError, UsageError
from .genome import ReadAhead
from .genome_direct import direct_reader

if TYPE_CHECKING:
    from .genome import Genome
    from .vcf import Alleles

__all__ = [
    "REF_MISMATCH",
    "REF_MATCH_VALUES",
    "VARIANT_COLUMNS",
    "VariantCodes",
    "normalize",
    "variant_codes",
]

#: What to do with a variant whose REF is not the genome's: keep it flagged, drop it, stop.
REF_MISMATCH = ("flag", "skip", "error")
#: Values of the ``ref_match`` column.
REF_MATCH_VALUES = ("match", "mismatch", "swapped")
#: The columns before the scores, in order.
VARIANT_COLUMNS = (
    "chrom", "pos", "id", "ref", "alt", "ref_match", "norm_pos", "norm_ref", "norm_alt",
)  # fmt: skip
#: Indices into :data:`REF_MATCH_VALUES`.
_MATCH, _MISMATCH, _SWAPPED = 0, 1, 2
#: Bases left of an indel read with it, so that most left shifts need no second read.
_SHIFT_BASES = 128
#: Code -> upper-case letter, for ``bytes.translate``.
_CODE_LETTERS = bytes(ord(IUPAC_CODES[i]) if i < len(IUPAC_CODES) else ord("?") for i in range(256))


def _letters(codes: bytes) -> str:
    return codes.translate(_CODE_LETTERS).decode()


def _codes(allele: str) -> bytes:
    return allele.encode().translate(LETTER_BYTES)


# ------------------------------------------------------------------------------ alleles


def _left_align(get, p: int, core: bytes) -> tuple[int, bytes]:
    """Shift an inserted or deleted ``core`` starting at ``p`` left while the base before it
    equals its last base (each step gives the same sequence)."""
    while p > 0:
        low = max(0, p - _SHIFT_BASES)
        block = get(low, p)
        i = len(block)
        while i > 0 and block[i - 1] == core[-1]:
            core = block[i - 1 : i] + core[:-1]
            i -= 1
        p = low + i
        if i > 0:
            break
    return p, core


def normalize(get, pos0: int, ref: bytes, alt: bytes) -> tuple[int, bytes, bytes]:
    """The minimal, left-aligned form of a variant, in codes.

    Parameters
    ----------
    get
        ``get(start, end)`` -> genome codes ``[start, end)`` of the variant's contig.
    pos0
        0-based position of ``ref``'s first base.
    ref, alt
        Codes of the reference bases (the genome's) and of the alternative allele.

    Returns
    -------
    (p, deleted, inserted)
        ``deleted`` (the genome ``[p, p + len(deleted))``) is replaced by ``inserted``;
        both are empty for an ALT equal to the reference.
    """
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    start = 0
    while start < min(len(ref), len(alt)) and ref[start] == alt[start]:
        start += 1
    p, ref, alt = pos0 + start, ref[start:], alt[start:]
    if bool(ref) != bool(alt):  # an insertion or a deletion: left-align it
        p, core = _left_align(get, p, ref or alt)
        ref, alt = (core, b"") if ref else (b"", core)
    return p, ref, alt


def _vcf_style(get, p: int, ref: bytes, alt: bytes, pos0: int) -> tuple[int, str, str]:
    """A normalised variant written as in a VCF: 1-based, an indel with the base before it
    (after it at the start of a contig), an ALT equal to the REF as that base twice."""
    if not ref and not alt:
        base = _letters(get(pos0, pos0 + 1))
        return pos0 + 1, base, base
    if ref and alt:
        return p + 1, _letters(ref), _letters(alt)
    if p > 0:
        anchor = get(p - 1, p)
        return p, _letters(anchor + ref), _letters(anchor + alt)
    anchor = get(p + len(ref), p + len(ref) + 1)
    return 1, _letters(ref + anchor), _letters(alt + anchor)


# ------------------------------------------------------------------------------ windows


@dataclass
class VariantCodes:
    """A chunk of variants ready for the network.

    Attributes
    ----------
    columns
        The :data:`VARIANT_COLUMNS` of the kept rows, as lists.
    ref, alt
        ``(n, L)`` uint8 codes of the reference and alternative windows.
    mismatch, swapped, dropped
        REF mismatches seen (``swapped`` among them), and rows dropped for one.
    changed
        ``(n, 2)`` int64: how many bases of the reference and of the alternative window the
        variant changes, from index ``L // 2`` on (an SNV ``(1, 1)``, a deletion of 3 bases
        ``(3, 0)``, an ALT equal to the reference ``(0, 0)``); not cut at the window's end.
    """

    columns: dict[str, list]
    ref: np.ndarray
    alt: np.ndarray
    mismatch: int = 0
    swapped: int = 0
    dropped: int = 0
    changed: np.ndarray | None = None


def variant_codes(
    alleles: Alleles,
    genome: Genome,
    length: int,
    *,
    ref_mismatch: str = "flag",
    name: str | None = None,
) -> VariantCodes:
    """Check, normalise and cut the windows of a chunk of variants (module docstring).

    Parameters
    ----------
    alleles
        One row per alternative allele (:class:`seqcnn.vcf.Alleles`).
    genome
        The reference.
    length
        The model's input length ``L``.
    ref_mismatch
        ``"flag"``, ``"skip"`` or ``"error"`` (:data:`REF_MISMATCH`).
    name
        The variants' file, for messages.

    Raises
    ------
    DataError
        A contig the genome lacks, a variant past a contig's end, a REF mismatch with
        ``ref_mismatch="error"``.
    """
    if ref_mismatch not in REF_MISMATCH:
        raise UsageError(
            f"unknown ref_mismatch '{ref_mismatch}'; choose one of {', '.join(REF_MISMATCH)}"
        )
    n = len(alleles)
    rows = _Rows(alleles, length)
    chrom = alleles.chrom
    if n and chrom.count(chrom[0]) == n:  # the usual chunk: one contig
        by_contig = {chrom[0]: np.arange(n)}
    else:
        names = np.array(chrom, dtype=object)
        by_contig = {c: np.flatnonzero(names == c) for c in dict.fromkeys(chrom)}
    reader = direct_reader(genome)
    for chrom_name, index in by_contig.items():
        contig = genome.resolve(chrom_name)
        size = genome.contigs[contig]
        past = np.flatnonzero(rows.pos[index] + rows.ref_len[index] - 1 > size)
        if len(past):
            i = int(index[past[0]])
            raise DataError(
                f"variant {chrom_name}:{alleles.pos[i]} {alleles.ref[i]}>{alleles.alt[i]} lies "
                f"past the end of contig '{contig}' ({size} bases); is it the right genome?",
                path=name,
            )
        snv = index[rows.snv[index]]
        other = index[~rows.snv[index]]
        # Everything the chunk needs from this contig, read once (a bgzip block is inflated
        # once, not once for the SNVs and again for the indels).
        centre = length // 2
        snv_starts = rows.pos[snv] - 1 - centre
        span = _indel_span(rows, other, length)
        other_starts = rows.pos[other] - 1 - centre - _SHIFT_BASES
        ahead = ReadAhead(reader, contig, np.r_[snv_starts, other_starts],
                          np.r_[snv_starts + length, other_starts + span])  # fmt: skip
        if len(snv):
            _snv_windows(alleles, snv, ahead, length, rows)
        if len(other):
            _indel_windows(alleles, other, ahead, length, rows)
    return rows.codes(alleles, ref_mismatch, name)


class _Rows:
    """What :func:`variant_codes` works out per row, as arrays filled contig by contig."""

    def __init__(self, alleles: Alleles, length: int):
        n = len(alleles)
        self.pos = np.fromiter(alleles.pos, np.int64, n)
        self.ref_len = np.fromiter(map(len, alleles.ref), np.int64, n)
        self.snv = (self.ref_len == 1) & (np.fromiter(map(len, alleles.alt), np.int64, n) == 1)
        self.ref = np.empty((n, length), np.uint8)
        self.alt = np.empty((n, length), np.uint8)
        self.changed = np.ones((n, 2), np.int64)  # SNVs; the others are set by _indel_windows
        self.match = np.zeros(n, np.int8)  # index into REF_MATCH_VALUES
        self.norm_pos = self.pos.copy()
        self.norm_ref = np.empty(n, object)
        self.norm_alt = np.empty(n, object)
        self.genome_ref = np.empty(n, object)  # the genome's bases under REF, for messages

    def codes(self, alleles: Alleles, ref_mismatch: str, name: str | None) -> VariantCodes:
        """The rows kept, as :class:`VariantCodes`."""
        n = len(self.match)
        differ = np.flatnonzero(self.match)
        if len(differ) and ref_mismatch == "error":
            i = int(differ[0])
            raise DataError(
                f"variant {alleles.chrom[i]}:{alleles.pos[i]} has REF {alleles.ref[i]} but the "
                f"genome has {self.genome_ref[i]} there ({REF_MATCH_VALUES[self.match[i]]}); is "
                "it the right genome? (--ref-mismatch flag or skip keeps going)",
                path=name,
            )
        swapped = int(np.count_nonzero(self.match == _SWAPPED))
        match = np.asarray(REF_MATCH_VALUES, object)[self.match]
        keep: slice | np.ndarray = slice(None)
        if ref_mismatch != "flag" and len(differ):
            keep = np.flatnonzero(self.match == _MATCH)
        columns = {
            "chrom": _kept(alleles.chrom, keep),
            "pos": _kept(alleles.pos, keep),
            "id": _kept(alleles.ids, keep),
            "ref": _kept(alleles.ref, keep),
            "alt": _kept(alleles.alt, keep),
            "ref_match": match[keep].tolist(),
            "norm_pos": self.norm_pos[keep].tolist(),
            "norm_ref": self.norm_ref[keep].tolist(),
            "norm_alt": self.norm_alt[keep].tolist(),
        }
        kept = len(columns["pos"])
        return VariantCodes(columns, self.ref[keep], self.alt[keep], len(differ), swapped,
                            n - kept, self.changed[keep])  # fmt: skip


def _kept(values: list, keep: slice | np.ndarray) -> list:
    return list(values) if isinstance(keep, slice) else [values[i] for i in keep.tolist()]


def _match(genome_ref: bytes, ref: str, genome_alt: bytes, alt: str) -> int:
    if genome_ref == _codes(ref):
        return _MATCH
    return _SWAPPED if genome_alt == _codes(alt) else _MISMATCH


def _indel_span(rows: _Rows, index: np.ndarray, length: int) -> int:
    """Bases read per indel: its left shifts, both windows (a REF longer than a window is
    read apart rather than make every read as long)."""
    if not len(index):
        return 0
    return _SHIFT_BASES + min(int(rows.ref_len[index].max()), max(length, 1024)) + length


def _snv_windows(alleles, index, ahead, length, rows: _Rows) -> None:
    """SNVs, all at once: the base at index ``L // 2`` of the window is replaced."""
    centre = length // 2
    windows = ahead.windows(rows.pos[index] - 1 - centre, length)
    items = index.tolist()
    alts = "".join([alleles.alt[i] for i in items])
    alt = np.frombuffer(_codes(alts), np.uint8)
    ref = np.frombuffer(_codes("".join([alleles.ref[i] for i in items])), np.uint8)
    rows.ref[index] = windows
    genome = windows[:, centre].copy()
    windows[:, centre] = alt
    rows.alt[index] = windows
    rows.match[index] = np.where(genome == ref, _MATCH, np.where(genome == alt, _SWAPPED,
                                                                 _MISMATCH))  # fmt: skip
    letters = list(_letters(genome.tobytes()))
    rows.norm_ref[index] = letters
    rows.genome_ref[index] = letters
    rows.norm_alt[index] = list(alts.upper())


def _indel_windows(alleles, index, ahead, length, rows: _Rows) -> None:
    """Every other variant: normalised one by one, from the bases read ahead."""
    centre = length // 2
    span = _indel_span(rows, index, length)
    starts = rows.pos[index] - 1 - centre - _SHIFT_BASES
    spans = ahead.windows(starts, span)
    for k, i in enumerate(index.tolist()):
        first, row = int(starts[k]), spans[k].tobytes()

        def get(a: int, b: int, first=first, row=row) -> bytes:
            if first <= a and b <= first + span:  # most reads: a slice of bytes is fastest
                return row[a - first : b - first]
            return ahead.codes(a, b).tobytes()

        pos0, ref, alt = alleles.pos[i] - 1, alleles.ref[i], alleles.alt[i]
        genome_ref = get(pos0, pos0 + len(ref))
        rows.match[i] = _match(genome_ref, ref, get(pos0, pos0 + len(alt)), alt)
        p, deleted, inserted = normalize(get, pos0, genome_ref, _codes(alt))
        if not deleted and not inserted:
            p = pos0
        rows.ref[i] = np.frombuffer(get(p - centre, p - centre + length), np.uint8)
        tail = get(p + len(deleted), p + len(deleted) + max(0, length - centre - len(inserted)))
        window = get(p - centre, p) + inserted[: length - centre] + tail
        rows.alt[i] = np.frombuffer(window, np.uint8)
        rows.changed[i] = len(deleted), len(inserted)
        norm = _vcf_style(get, p, deleted, inserted, pos0)
        rows.norm_pos[i], rows.norm_ref[i], rows.norm_alt[i] = norm
        rows.genome_ref[i] = _letters(genome_ref)

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

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .alphabet import IUPAC_CODES, LETTER_BYTES
from .errors import DataError, UsageError

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
    ref_out = np.empty((n, length), np.uint8)
    alt_out = np.empty((n, length), np.uint8)
    rows = np.zeros(n, bool)
    changed = np.ones((n, 2), np.int64)  # SNVs; the others are set by _indel_windows
    norm: list[Any] = [None] * n
    match = [""] * n
    by_contig: dict[str, list[int]] = {}
    for i, chrom in enumerate(alleles.chrom):
        by_contig.setdefault(chrom, []).append(i)
    for chrom, index in by_contig.items():
        contig = genome.resolve(chrom)
        size = genome.contigs[contig]
        for i in index:
            if alleles.pos[i] + len(alleles.ref[i]) - 1 > size:
                raise DataError(
                    f"variant {chrom}:{alleles.pos[i]} {alleles.ref[i]}>{alleles.alt[i]} lies "
                    f"past the end of contig '{contig}' ({size} bases); is it the right genome?",
                    path=name,
                )
        snv = [i for i in index if len(alleles.ref[i]) == 1 == len(alleles.alt[i])]
        other = [i for i in index if not len(alleles.ref[i]) == 1 == len(alleles.alt[i])]
        # Everything the chunk needs from this contig, read once (a bgzip block is inflated
        # once, not once for the SNVs and again for the indels).
        centre = length // 2
        snv_starts = np.array([alleles.pos[i] - 1 - centre for i in snv], np.int64)
        span = _indel_span(alleles, other, length)
        other_starts = np.array([alleles.pos[i] - 1 - centre - _SHIFT_BASES for i in other],
                                np.int64)  # fmt: skip
        ahead = genome.read_ahead(contig, np.r_[snv_starts, other_starts],
                                  np.r_[snv_starts + length, other_starts + span])  # fmt: skip
        if snv:
            _snv_windows(alleles, snv, ahead, length, ref_out, alt_out, norm, match)
        if other:
            _indel_windows(alleles, other, ahead, length, ref_out, alt_out, norm, match,
                           changed)  # fmt: skip
    counts = Counter(match)
    mismatch = counts["mismatch"] + counts["swapped"]
    for i, value in enumerate(match):
        if value != "match" and ref_mismatch == "error":
            raise DataError(
                f"variant {alleles.chrom[i]}:{alleles.pos[i]} has REF {alleles.ref[i]} but the "
                f"genome has {norm[i][3]} there ({value}); is it the right genome? "
                "(--ref-mismatch flag or skip keeps going)",
                path=name,
            )
        rows[i] = value == "match" or ref_mismatch == "flag"
    keep = np.flatnonzero(rows)
    columns = {
        "chrom": [alleles.chrom[i] for i in keep],
        "pos": [alleles.pos[i] for i in keep],
        "id": [alleles.ids[i] for i in keep],
        "ref": [alleles.ref[i] for i in keep],
        "alt": [alleles.alt[i] for i in keep],
        "ref_match": [match[i] for i in keep],
        "norm_pos": [norm[i][0] for i in keep],
        "norm_ref": [norm[i][1] for i in keep],
        "norm_alt": [norm[i][2] for i in keep],
    }
    return VariantCodes(
        columns, ref_out[keep], alt_out[keep], mismatch, counts["swapped"], n - len(keep),
        changed[keep],
    )  # fmt: skip


def _match(genome_ref: bytes, ref: str, genome_alt: bytes, alt: str) -> str:
    if genome_ref == _codes(ref):
        return "match"
    return "swapped" if genome_alt == _codes(alt) else "mismatch"


def _indel_span(alleles, index, length: int) -> int:
    """Bases read per indel: its left shifts, both windows (a REF longer than a window is
    read apart rather than make every read as long)."""
    if not index:
        return 0
    return _SHIFT_BASES + min(max(len(alleles.ref[i]) for i in index), max(length, 1024)) + length


def _snv_windows(alleles, index, ahead, length, ref_out, alt_out, norm, match):
    """SNVs, all at once: the base at index ``L // 2`` of the window is replaced."""
    centre = length // 2
    pos0 = np.array([alleles.pos[i] - 1 for i in index], np.int64)
    windows = ahead.windows(pos0 - centre, length)
    alt = np.frombuffer(_codes("".join(alleles.alt[i] for i in index)), np.uint8)
    ref_out[index] = windows
    windows[:, centre] = alt
    alt_out[index] = windows
    bases = ref_out[index, centre].tobytes()
    letters = _letters(bases)
    for k, i in enumerate(index):
        base = bases[k : k + 1]
        match[i] = _match(base, alleles.ref[i], base, alleles.alt[i])
        norm[i] = (alleles.pos[i], letters[k], alleles.alt[i].upper(), letters[k])


def _indel_windows(alleles, index, ahead, length, ref_out, alt_out, norm, match, changed):
    """Every other variant: normalised one by one, from the bases read ahead."""
    centre = length // 2
    span = _indel_span(alleles, index, length)
    starts = np.array([alleles.pos[i] - 1 - centre - _SHIFT_BASES for i in index], np.int64)
    spans = ahead.windows(starts, span)
    for k, i in enumerate(index):
        first, row = int(starts[k]), spans[k].tobytes()

        def get(a: int, b: int, first=first, row=row) -> bytes:
            if first <= a and b <= first + span:  # most reads: a slice of bytes is fastest
                return row[a - first : b - first]
            return ahead.codes(a, b).tobytes()

        pos0, ref, alt = alleles.pos[i] - 1, alleles.ref[i], alleles.alt[i]
        genome_ref = get(pos0, pos0 + len(ref))
        match[i] = _match(genome_ref, ref, get(pos0, pos0 + len(alt)), alt)
        p, deleted, inserted = normalize(get, pos0, genome_ref, _codes(alt))
        if not deleted and not inserted:
            p = pos0
        ref_out[i] = np.frombuffer(get(p - centre, p - centre + length), np.uint8)
        tail = get(p + len(deleted), p + len(deleted) + max(0, length - centre - len(inserted)))
        window = get(p - centre, p) + inserted[: length - centre] + tail
        alt_out[i] = np.frombuffer(window, np.uint8)
        changed[i] = len(deleted), len(inserted)
        norm[i] = (*_vcf_style(get, p, deleted, inserted, pos0), _letters(genome_ref))

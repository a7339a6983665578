"""A genome's bases read straight from its file by the index offsets, for many ranges.

:meth:`seqcnn.genome.Genome.fetch_codes` reads through pyfaidx, which turns every range into
a ``str`` (each bgzip block decoded, joined, newlines replaced) before it becomes codes: for
variants spread over a chromosome that is about half the time of reading the genome.
:class:`DirectReader` reads the same bytes by the ``.fai`` offsets (and, for a bgzip file,
the ``.gzi`` block offsets): each BGZF block inflated once (its CRC checked), then newline
removal and the letter -> code table in one ``bytes.translate``.  Blocks are inflated by
ISA-L (``isal``, a dependency on the platforms it has wheels for: 2.0-2.4x faster than
zlib on chr20's blocks, which is most of the time of reading a genome for variants spread
over a chromosome), else by zlib.

The codes are those of :meth:`~seqcnn.genome.Genome.fetch_codes`, bit for bit.  Anything
unusual (a byte that is not a sequence letter, a file that does not fit its index, a BGZF
header other than bgzip's, a corrupt block, a range off a contig with ``pad=False``) is
handed to :meth:`~seqcnn.genome.Genome.fetch_codes`, which reads that range the usual way
and raises its usual error.

A :class:`DirectReader` has the ``fetch_codes`` of a :class:`~seqcnn.genome.Genome`, so a
:class:`~seqcnn.genome.ReadAhead` reads through it:
``ReadAhead(direct_reader(genome), contig, starts, ends)``.  It opens the file for each
read, so it may be used from any thread or a forked process.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

try:
    from isal.isal_zlib import decompress as _inflate
    from isal.isal_zlib import error as _InflateError
except ImportError:  # no isal wheel for this platform: zlib, the same bytes
    from zlib import decompress as _inflate
    from zlib import error as _InflateError

import numpy as np

from .alphabet import INVALID_CODE, LETTER_BYTES, N_CODE

if TYPE_CHECKING:
    from .genome import Genome

__all__ = ["DirectReader", "direct_reader"]

#: The fixed start of every block bgzip writes: gzip magic, deflate, FEXTRA; then (bytes
#: 10-15) an extra field of 6 bytes holding only the ``BC`` subfield of 2 bytes.
_BGZF_MAGIC = b"\x1f\x8b\x08\x04"
_BGZF_EXTRA = b"\x06\x00BC\x02\x00"
_DELETED = b"\r\n"

_readers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def direct_reader(genome: Genome) -> DirectReader:
    """The :class:`DirectReader` of ``genome`` (made once per genome object)."""
    reader = _readers.get(genome)
    if reader is None:
        reader = _readers[genome] = DirectReader(genome)
    return reader


class DirectReader:
    """Codes of a :class:`~seqcnn.genome.Genome`'s ranges, read without pyfaidx.

    Parameters
    ----------
    genome
        The genome (its file, ``.fai`` and ``.gzi``).

    Examples
    --------
    >>> reader = DirectReader(Genome("hg19_chr20.fa.gz"))  # doctest: +SKIP
    >>> (reader.fetch_codes("chr20", 60_000, 60_010)
    ...  == genome.fetch_codes("chr20", 60_000, 60_010)).all()  # doctest: +SKIP
    True
    """

    def __init__(self, genome: Genome):
        self.genome = genome
        self.path = genome.path
        #: contig -> (file offset of its first base, bases per line, bytes per line)
        self.layout: dict[str, tuple[int, int, int]] = {}
        for line in genome.fai.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 5 and fields[0] in genome.contigs:
                self.layout[fields[0]] = (int(fields[2]), int(fields[3]), int(fields[4]))
        self.blocks: tuple[np.ndarray, np.ndarray] | None = None
        if genome.gzi is not None:
            raw = genome.gzi.read_bytes()
            count = int.from_bytes(raw[:8], "little")
            pairs = np.frombuffer(raw, "<u8", count=2 * count, offset=8).reshape(count, 2)
            # The first block (offset 0 in both files) is implied, not listed.
            self.blocks = (np.r_[0, pairs[:, 0]].astype(np.int64),
                           np.r_[0, pairs[:, 1]].astype(np.int64))  # fmt: skip

    def fetch_codes(self, contig: str, start: int, end: int, pad: bool = True) -> np.ndarray:
        """Codes of bases ``[start, end)``, as :meth:`seqcnn.genome.Genome.fetch_codes`."""
        name = self.genome.resolve(contig)
        start, end = int(start), int(end)
        size = self.genome.contigs[name]
        if end < start or (not pad and (start < 0 or end > size)) or name not in self.layout:
            return self.genome.fetch_codes(contig, start, end, pad)  # its error
        codes = np.full(end - start, N_CODE, dtype=np.uint8)
        a, b = max(start, 0), min(end, size)
        if a < b:
            inside = self._read(name, a, b)
            if inside is None:  # anything unusual: the usual reader, and its error
                return self.genome.fetch_codes(contig, start, end, pad)
            codes[a - start : b - start] = np.frombuffer(inside, np.uint8)
        return codes

    def _read(self, name: str, a: int, b: int) -> bytes | None:
        """Codes of bases ``[a, b)`` inside a contig, or None if they cannot be read here."""
        offset, line_bases, line_width = self.layout[name]
        if line_bases < 1 or line_width < line_bases:
            return None
        first = offset + a // line_bases * line_width + a % line_bases
        last = offset + (b - 1) // line_bases * line_width + (b - 1) % line_bases + 1
        try:
            text = self._bytes(first, last)
        except (OSError, ValueError, IndexError, _InflateError):
            return None
        if text is None:
            return None
        codes = text.translate(LETTER_BYTES, _DELETED)
        if len(codes) != b - a or INVALID_CODE in codes:
            return None
        return codes

    def _bytes(self, first: int, last: int) -> bytes | None:
        """Bytes ``[first, last)`` of the uncompressed file."""
        with open(self.path, "rb") as handle:
            if self.blocks is None:
                handle.seek(first)
                return handle.read(last - first)
            compressed, uncompressed = self.blocks
            i = int(np.searchsorted(uncompressed, first, side="right")) - 1
            j = int(np.searchsorted(uncompressed, last - 1, side="right")) - 1
            handle.seek(int(compressed[i]))
            if j + 1 < len(compressed):
                data = handle.read(int(compressed[j + 1] - compressed[i]))
            else:
                data = handle.read()
        view, parts, at = memoryview(data), [], 0
        for _ in range(j - i + 1):
            if data[at : at + 4] != _BGZF_MAGIC or data[at + 10 : at + 16] != _BGZF_EXTRA:
                return None
            size = int.from_bytes(data[at + 16 : at + 18], "little") + 1
            parts.append(_inflate(view[at : at + size], 31))  # checks the CRC
            at += size
        skip = first - int(uncompressed[i])
        return b"".join(parts)[skip : skip + last - first]

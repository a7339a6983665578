"""FASTA text -> records, by the rules of Biopython's ``SimpleFastaParser``.

Lines before the first one starting with ``>`` are skipped; a record's title is its header
line after the ``>``, without trailing whitespace; its sequence is its other lines, each
without trailing whitespace, joined, with spaces (and carriage returns) removed.  A test
(``tests/test_fasta.py``) holds the two parsers equal on random text read in blocks of
every size.

Why not Biopython's own: its loop runs once per line in Python, and importing it costs
~0.15 s (``Bio.SeqIO`` imports every format it reads, XML parsers among them), paid by
every ``seqcnn predict``.  This one reads blocks of :data:`_BLOCK` characters and cuts them
into records with string methods, a list of records per block.  Checks (ids, empty
records, duplicates) are :mod:`seqcnn.fasta`'s.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

__all__ = ["parse_fasta", "record_blocks"]

#: Characters of text read at a time.
_BLOCK = 1 << 16
#: Whitespace other than spaces and line ends: where a line's own trailing whitespace
#: must be stripped line by line.
_OTHER_SPACE = re.compile(r"[^\S \n]")
#: The same among ASCII characters, looked for one by one (faster than the expression).
_OTHER_ASCII_SPACE = "\t\r\x0b\x0c\x1c\x1d\x1e\x1f"


def parse_fasta(handle, first_line: str | None = None) -> Iterator[tuple[str, str]]:
    """``(title, sequence)`` of every record of a FASTA text handle.

    The records and rules are those of Biopython's ``SimpleFastaParser`` (see the module
    docstring).

    Parameters
    ----------
    handle
        A text handle with ``\\n`` line ends (the universal newlines of
        :func:`seqcnn.fasta.open_text`).
    first_line
        The first line, if the caller has read it already.
    """
    for titles, sequences in record_blocks(handle, first_line):
        yield from zip(titles, sequences, strict=True)


def record_blocks(handle, first_line: str | None = None) -> Iterator[tuple[list, list]]:
    """The records of :func:`parse_fasta` as lists of titles and sequences, those
    complete in each block of text read."""
    if first_line is None or first_line[:1] != ">":
        lines = itertools.chain([first_line] if first_line else [], handle)
        first_line = next((line for line in lines if line[:1] == ">"), None)
        if first_line is None:
            return
    pieces = [first_line]  # the text of the record being read, from its '>' on
    while block := handle.read(_BLOCK):
        # A record starts at a '>' after a line end, here or at the end of the last block.
        cut = (pieces[-1][-1] + block).rfind("\n>")
        if cut < 0:
            pieces.append(block)
            continue
        pieces.append(block[:cut])
        yield _records("".join(pieces))
        pieces = [block[cut:]]
    yield _records("".join(pieces))


def _records(text: str) -> tuple[list[str], list[str]]:
    """The titles and sequences of ``text``, whole records beginning with ``>``."""
    if text.isascii():
        line_by_line = any(char in text for char in _OTHER_ASCII_SPACE)
    else:
        line_by_line = _OTHER_SPACE.search(text) is not None
    parts = [record.partition("\n") for record in text[1:].split("\n>")]
    titles = [title.rstrip() for title, _, _ in parts]
    if line_by_line:
        sequences = [
            "".join([line.rstrip() for line in lines.split("\n")])
            .replace(" ", "")
            .replace("\r", "")
            for _, _, lines in parts
        ]
    elif " " in text:
        sequences = [lines.replace("\n", "").replace(" ", "") for _, _, lines in parts]
    else:
        sequences = [lines.replace("\n", "") for _, _, lines in parts]
    return titles, sequences

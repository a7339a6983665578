"""MEME minimal motif format: the one reader and writer of MEME files in seqcnn.

:func:`read_meme_file` parses a file into its header text and one :class:`MemeMotif` per
``MOTIF`` block (name, matrix, and the block's text as written, so that a subset of a file
can be copied verbatim); :func:`read_meme` is the common short form, ``name -> (w, 4)``.
:func:`write_meme` writes filter PWMs or a dict of matrices.

Matrices are position-major, ``(w, 4)``, columns A, C, G, T.  The reader keeps the numbers
as written (no normalisation): whoever needs probabilities checks or scales them.

Examples
--------
>>> motifs = read_meme("filters.meme")                 # doctest: +SKIP
>>> write_meme(motifs, "copy.meme")                   # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqcnn._io import atomic_path
from seqcnn.alphabet import ALPHABET
from seqcnn.errors import DataError, UsageError

from .pwm import FilterMotif, _as_background, _named_pwms, _normalised

__all__ = ["MemeMotif", "MemeFile", "read_meme_file", "read_meme", "format_meme", "write_meme"]


@dataclass(frozen=True, eq=False)
class MemeMotif:
    """One ``MOTIF`` block of a MEME file.

    Attributes
    ----------
    name
        The rest of the ``MOTIF`` line, fields joined by one space: ``"MA0139.2 CTCF"``.
    pwm
        The letter-probability matrix as written, shape ``(w, 4)``, columns A, C, G, T.
    text
        The block as it stands in the file, from its ``MOTIF`` line up to the next one,
        ending in a newline.
    """

    name: str
    pwm: np.ndarray = field(repr=False)
    text: str = field(repr=False)

    @property
    def id(self) -> str:
        """The motif identifier, the first field of the ``MOTIF`` line (``"MA0139.2"``)."""
        return self.name.split()[0]

    @property
    def alt(self) -> str | None:
        """The alternate name, the second field of the ``MOTIF`` line (``"CTCF"``), if any."""
        fields = self.name.split()
        return fields[1] if len(fields) > 1 else None


@dataclass(frozen=True, eq=False)
class MemeFile:
    """A parsed MEME file: the header text and its motifs, in file order.

    Attributes
    ----------
    header
        Everything before the first ``MOTIF`` line (version, alphabet, strands, background).
    motifs
        One :class:`MemeMotif` per ``MOTIF`` block.
    alphabet
        The ``ALPHABET=`` of the header, or ``None`` when the header names none.
    """

    header: str
    motifs: tuple[MemeMotif, ...]
    alphabet: str | None = None

    def text(self, motifs: Iterable[MemeMotif] | None = None) -> str:
        """The text of a MEME file with this header and these motifs (default: all), each
        block copied as it stands in the source."""
        header = self.header if self.header.endswith("\n") else self.header + "\n"
        return header + "".join(m.text for m in (self.motifs if motifs is None else motifs))


def read_meme_file(path: str | os.PathLike) -> MemeFile:
    """Parse a MEME minimal-format file with DNA matrices (``alength= 4``).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    MemeFile

    Raises
    ------
    DataError
        The file cannot be read; it has no ``MOTIF`` line; a motif has no name, no
        ``letter-probability matrix`` line, an alphabet length other than 4, a row that is
        not 4 numbers, or not the ``w=`` rows announced; two motifs have the same name.

    Examples
    --------
    >>> meme = read_meme_file("motifs.meme")            # doctest: +SKIP
    >>> [m.name for m in meme.motifs][:2]                # doctest: +SKIP
    ['MA0151.1 Arid3a', 'MA0466.2 CEBPB']
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise DataError(f"cannot read the motif file: {reason}", path=str(path)) from err
    blocks = re.split(r"(?m)^(?=MOTIF\s)", text)
    header, blocks = blocks[0], blocks[1:]
    if not blocks:
        raise DataError("no 'MOTIF' line: not a MEME motif file", path=str(path))
    motifs = tuple(_parse_block(block, path) for block in blocks)
    seen: set[str] = set()
    for motif in motifs:
        if motif.name in seen:
            raise DataError("motif name appears twice", path=str(path), record=motif.name)
        seen.add(motif.name)
    alphabet = re.search(r"(?m)^ALPHABET\s*=\s*(\S+)", header)
    return MemeFile(header, motifs, alphabet.group(1) if alphabet else None)


def _parse_block(block: str, path: str | os.PathLike) -> MemeMotif:
    lines = block.splitlines()
    fields = lines[0].split()[1:]
    if not fields:
        raise DataError("'MOTIF' line without a name", path=str(path))
    name = " ".join(fields)

    def fail(problem: str) -> DataError:
        return DataError(problem, path=str(path), record=name)

    start = next((i for i, ln in enumerate(lines) if ln.startswith("letter-probability")), None)
    if start is None:
        raise fail("no 'letter-probability matrix' line")
    width = re.search(r"\bw=\s*(\d+)", lines[start])
    alength = re.search(r"\balength=\s*(\d+)", lines[start])
    if alength and int(alength.group(1)) != 4:
        raise fail(f"alength= {alength.group(1)}; only DNA motifs (alength= 4) can be read")
    rows = []
    for line in lines[start + 1 :]:
        if width and len(rows) == int(width.group(1)):
            break
        values = line.split()
        if not values:
            # With w= given, blank lines inside the matrix are tolerated; without it a
            # blank line after the first row ends the matrix.
            if width or not rows:
                continue
            break
        try:
            rows.append([float(v) for v in values])
        except ValueError:
            if width:
                raise fail(f"matrix row {len(rows) + 1} is not numbers: {line.strip()!r}") from None
            break
    if width and len(rows) != int(width.group(1)):
        raise fail(f"the matrix has {len(rows)} rows, expected w= {width.group(1)}")
    if not rows:
        raise fail("the matrix has no rows")
    if any(len(r) != 4 for r in rows):
        raise fail("every matrix row needs 4 probabilities (A C G T)")
    if not block.endswith("\n"):
        block += "\n"
    return MemeMotif(name=name, pwm=np.array(rows, dtype=np.float64), text=block)


def read_meme(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a MEME motif file: ``"id alt" -> (w, 4)`` matrices, as written.

    Keys are the rest of the MOTIF line, e.g. ``"MA0139.2 CTCF"`` or ``"filter_3 tGACGt"``.
    See :func:`read_meme_file` for what is checked.

    Examples
    --------
    >>> motifs = read_meme("filters.meme")        # doctest: +SKIP
    >>> motifs["MA0139.2 CTCF"].shape              # doctest: +SKIP
    (19, 4)
    """
    return {motif.name: motif.pwm for motif in read_meme_file(path).motifs}


def format_meme(
    motifs: Sequence[FilterMotif] | Mapping[str, np.ndarray],
    background: np.ndarray | None = None,
    alphabet: str = ALPHABET,
) -> str:
    """The text of a MEME minimal-format (version 4) file; see :func:`write_meme`."""
    if alphabet != ALPHABET:
        raise UsageError(f"only the DNA alphabet ACGT is supported, got {alphabet!r}")
    q = _as_background(background)
    lines = [
        "MEME version 4",
        "",
        f"ALPHABET= {alphabet}",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{b} {v:.6f}" for b, v in zip(alphabet, q, strict=True)),
        "",
    ]
    for name, (pwm, n_sites, alt) in _named_pwms(motifs).items():
        if not 1 <= len(name.split()) <= (1 if alt else 2):
            raise UsageError(f"a MEME motif name is an id and an optional alt name, got {name!r}")
        probs = _normalised(pwm)
        lines.append(f"MOTIF {' '.join(name.split())}" + (f" {alt}" if alt else ""))
        lines.append(
            f"letter-probability matrix: alength= 4 w= {len(probs)} "
            f"nsites= {n_sites if n_sites is not None else 20} E= 0"
        )
        lines += [" ".join(f"{v:.6f}" for v in row) for row in probs]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_meme(
    motifs: Sequence[FilterMotif] | Mapping[str, np.ndarray],
    path: str | os.PathLike,
    background: np.ndarray | None = None,
    alphabet: str = ALPHABET,
) -> Path:
    """Write PWMs in MEME minimal format (version 4), atomically.

    Only exported filters (``n_sites >= min_sites``) are written, each with its
    consensus as alternate name (``MOTIF filter_3 tGACGTCAt``).  A dict ``name -> (w, 4)``
    is written as is; a name may be ``"id alt"`` (``"MA0139.2 CTCF"``), so that
    ``read_meme(write_meme(d))`` has the keys of ``d``.

    Parameters
    ----------
    motifs
        From :func:`seqcnn.motifs.filter_pwms`, or a dict of ``(w, 4)`` probability
        matrices.
    path
        The output file; written under a temporary name and renamed when complete.
    background
        Base frequencies for the header, e.g. ``background_frequencies(x)``; uniform
        by default.
    alphabet
        Only ``"ACGT"`` is supported.

    Examples
    --------
    >>> write_meme({"m1": np.full((3, 4), 0.25)}, "/tmp/m.meme")   # doctest: +SKIP
    """
    text = format_meme(motifs, background, alphabet)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path

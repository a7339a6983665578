"""Planted-motif data sets: random DNA with known transcription-factor motifs.

After Koo & Eddy (2019, PLoS Comput Biol 15:e1007560): each sequence is uniform random
A/C/G/T into which one to five motif instances are planted.  Each instance is drawn from the
position frequency matrix of a motif chosen uniformly from a set (by default the twelve
JASPAR matrices of the paper, bundled as ``seqcnn/data/planted_motifs.meme``), is placed at
a random position that overlaps no other instance, and is reverse-complemented with
probability 0.5.  The targets are multi-label: one 0/1 column per motif, 1 when the sequence
holds at least one instance of it.  Because the truth is known, these data sets test whether
a model's first-layer filters and attributions recover the planted motifs.  Per-position
labels of the same data (masks of the instances, read-count profiles around them) are made
by :mod:`seqcnn.simulate_position`.

Example
-------
>>> from seqcnn.simulate import simulate, write_simulation
>>> data = simulate(n_sequences=1000, seed=1)
>>> data.labels.shape
(1000, 12)
>>> paths = write_simulation(data, "planted")  # planted/planted.fa, planted_labels.tsv, ...
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqcnn._io import atomic_path
from seqcnn.errors import DataError, UsageError
from seqcnn.motifs.meme import MemeFile, MemeMotif, format_meme, read_meme_file

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SimulatedData",
    "simulate",
    "write_simulation",
    "planted_motifs_path",
    "read_planted_motifs",
]

#: Probability of planting 1, 2, 3, 4, 5 motifs in a sequence (Koo & Eddy 2019).
DEFAULT_COUNT_PROBS = (0.50, 0.25, 0.17, 0.05, 0.03)

_BASES = b"ACGT"
# Rounded MEME files (3 decimals) have rows summing to 1 +- 0.002; larger errors mean the
# numbers are counts or garbage rather than probabilities.
_ROW_SUM_TOLERANCE = 0.01


@dataclass(eq=False)
class SimulatedData:
    """A planted-motif data set returned by :func:`simulate`.

    Attributes
    ----------
    ids
        Sequence ids, ``"seq00001"``, ``"seq00002"``, ...
    sequences
        The sequences, upper-case A/C/G/T, all of the same length.
    labels
        uint8 array (n_sequences, n_motifs): 1 where the sequence holds at least one
        instance of the motif.
    motif_names
        One name per label column, ``"<id>_<TF name>"`` as in ``"MA0151.1_Arid3a"`` (just the
        id when the MEME file gives no TF name).
    instances
        One row per planted instance, sorted by sequence and position, with columns ``id``,
        ``motif`` (a name from ``motif_names``), ``start`` (0-based), ``end`` (exclusive, so
        ``sequence[start:end]`` is the instance) and ``strand`` (``"+"`` or ``"-"``; a ``"-"``
        instance is the reverse complement of a sample of the matrix).
    motifs
        Motif name -> probability matrix of shape (width, 4), columns A, C, G, T.
    meme
        Text of a MEME file holding exactly the planted motifs (their blocks copied from the
        source file); written by :func:`write_simulation`.  Empty when unknown.
    """

    ids: list[str]
    sequences: list[str]
    labels: np.ndarray
    motif_names: list[str]
    instances: pd.DataFrame
    motifs: dict[str, np.ndarray]
    meme: str = ""

    def __repr__(self) -> str:
        length = len(self.sequences[0]) if self.sequences else 0
        return (
            f"SimulatedData(n_sequences={len(self.sequences)}, length={length}, "
            f"n_instances={len(self.instances)}, motif_names={self.motif_names!r})"
        )


def planted_motifs_path() -> Path:
    """Path of the bundled MEME file with the twelve motifs of Koo & Eddy (2019).

    Returns
    -------
    pathlib.Path
        ``seqcnn/data/planted_motifs.meme`` inside the installed package.
    """
    return Path(str(resources.files("seqcnn") / "data" / "planted_motifs.meme"))


def read_planted_motifs() -> dict[str, np.ndarray]:
    """Read the bundled planted motifs.

    Returns
    -------
    dict
        Name (``"MA0151.1_Arid3a"``, ...) -> probability matrix (width, 4), columns A, C, G, T,
        in file order.
    """
    return {m.name: m.pfm for m in _read_motifs(planted_motifs_path())[1]}


def simulate(
    n_sequences: int = 30000,
    length: int = 200,
    motifs: Sequence[str] | str | None = None,
    motif_file: str | os.PathLike | None = None,
    count_probs: Sequence[float] = DEFAULT_COUNT_PROBS,
    seed: int | np.random.Generator | None = 0,
) -> SimulatedData:
    """Simulate random sequences with planted motif instances.

    Parameters
    ----------
    n_sequences
        Number of sequences.
    length
        Length of every sequence; it must fit ``len(count_probs)`` copies of the widest
        motif.
    motifs
        The motifs to plant, by JASPAR id (``"MA0151.1"`` or ``"MA0151"``), TF name
        (``"Arid3a"``) or full name (``"MA0151.1_Arid3a"``), case-insensitive.  The label
        columns follow this order.  Default: every motif of the file, in file order.
    motif_file
        A MEME minimal-format file with DNA probability matrices.  Default: the twelve
        bundled motifs of Koo & Eddy (2019), see :func:`planted_motifs_path`.
    count_probs
        ``count_probs[i]`` is the probability that a sequence holds ``i + 1`` instances.
    seed
        Seed or generator for :func:`numpy.random.default_rng`; the same seed gives the same
        data set.

    Returns
    -------
    SimulatedData

    Raises
    ------
    UsageError
        Unknown or ambiguous motif name, bad ``count_probs``, ``length`` too short, or a
        non-positive ``n_sequences``.
    DataError
        ``motif_file`` cannot be read or is not a valid MEME file.

    Examples
    --------
    >>> data = simulate(n_sequences=100, motifs=["SP1", "YY1"], seed=1)
    >>> data.labels.shape, data.motif_names
    ((100, 2), ['MA0079.3_SP1', 'MA0095.2_YY1'])
    """
    import pandas as pd

    n_sequences = _positive_int(n_sequences, "n_sequences")
    length = _positive_int(length, "length")
    probs = _check_count_probs(count_probs)
    path = planted_motifs_path() if motif_file is None else Path(motif_file)
    source, available = _read_motifs(path)
    chosen = available if motifs is None else _select(available, motifs, path)

    names = [m.name for m in chosen]
    widths = np.array([m.pfm.shape[0] for m in chosen])
    max_count = len(probs)
    needed = max_count * int(widths.max())
    if length < needed:
        widest = chosen[int(widths.argmax())]
        raise UsageError(
            f"length {length} is too short: up to {max_count} motifs are planted per sequence "
            f"and the widest motif ({widest.name}) is {widths.max()} bp, so length must be at "
            f"least {needed}; use a longer length, fewer entries in count_probs, or narrower "
            "motifs"
        )

    rng = np.random.default_rng(seed)
    n_motifs = len(chosen)
    slot = np.arange(max_count)

    # Per sequence: how many instances, and per slot which motif on which strand.
    counts = rng.choice(max_count, size=n_sequences, p=probs) + 1
    valid = slot[None, :] < counts[:, None]
    motif_idx = rng.integers(0, n_motifs, size=(n_sequences, max_count))
    reverse = rng.random((n_sequences, max_count)) < 0.5
    slot_width = np.where(valid, widths[motif_idx], 0)
    starts = _place(rng, slot_width, valid, counts, length)

    codes = rng.integers(0, 4, size=(n_sequences, length), dtype=np.uint8)
    flat = codes.reshape(-1)
    rows, cols = np.nonzero(valid)
    inst_motif = motif_idx[rows, cols]
    inst_start = starts[rows, cols]
    inst_reverse = reverse[rows, cols]
    for m, motif in enumerate(chosen):
        sel = np.flatnonzero(inst_motif == m)
        if sel.size == 0:
            continue
        sample = _sample_pfm(rng, motif.pfm, sel.size)
        flip = inst_reverse[sel]
        sample[flip] = 3 - sample[flip, ::-1]
        offsets = rows[sel] * length + inst_start[sel]
        flat[offsets[:, None] + np.arange(motif.pfm.shape[0])] = sample

    labels = np.zeros((n_sequences, n_motifs), dtype=np.uint8)
    labels[rows, inst_motif] = 1

    digits = max(5, len(str(n_sequences)))
    ids = [f"seq{i:0{digits}d}" for i in range(1, n_sequences + 1)]
    text = np.frombuffer(_BASES, dtype=np.uint8)[codes].tobytes().decode("ascii")
    sequences = [text[i : i + length] for i in range(0, n_sequences * length, length)]

    # np.nonzero walks slots in order and slots are placed left to right: already sorted.
    instances = pd.DataFrame(
        {
            "id": np.asarray(ids, dtype=object)[rows],
            "motif": np.asarray(names, dtype=object)[inst_motif],
            "start": inst_start.astype(np.int64),
            "end": (inst_start + widths[inst_motif]).astype(np.int64),
            "strand": np.where(inst_reverse, "-", "+").astype(object),
        }
    )
    meme = source.text(m.source for m in chosen)
    return SimulatedData(
        ids=ids,
        sequences=sequences,
        labels=labels,
        motif_names=names,
        instances=instances,
        motifs={m.name: m.pfm.copy() for m in chosen},
        meme=meme,
    )


def write_simulation(
    data: SimulatedData, out: str | os.PathLike, prefix: str = "planted"
) -> dict[str, Path]:
    """Write a simulated data set as FASTA, label table, instance table and MEME file.

    Each file is written to a temporary name in ``out`` and renamed into place, so a
    crash never leaves a half-written file under the final name.

    Parameters
    ----------
    data
        The data set from :func:`simulate`.
    out
        Output directory; created if missing.
    prefix
        File name prefix.

    Returns
    -------
    dict
        ``{"fasta": <prefix>.fa, "labels": <prefix>_labels.tsv,
        "instances": <prefix>_instances.tsv, "motifs": <prefix>_motifs.meme}``.
        The label table has a column ``id`` and one 0/1 column per motif name.

    Examples
    --------
    >>> paths = write_simulation(simulate(n_sequences=1000), "planted")  # doctest: +SKIP
    >>> seqcnn.encode(paths["fasta"], "planted.ds", labels=paths["labels"])  # doctest: +SKIP
    """
    import pandas as pd

    if not prefix or os.sep in prefix or (os.altsep and os.altsep in prefix):
        raise UsageError(f"prefix must be a non-empty file name without '/', got {prefix!r}")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the output directory: {err.strerror}", path=out) from err

    paths = {
        "fasta": out / f"{prefix}.fa",
        "labels": out / f"{prefix}_labels.tsv",
        "instances": out / f"{prefix}_instances.tsv",
        "motifs": out / f"{prefix}_motifs.meme",
    }
    fasta = "".join(f">{i}\n{s}\n" for i, s in zip(data.ids, data.sequences, strict=True))
    _write_atomic(paths["fasta"], fasta)
    table = pd.DataFrame(data.labels, columns=list(data.motif_names))
    table.insert(0, "id", data.ids)
    _write_atomic(paths["labels"], table.to_csv(sep="\t", index=False))
    _write_atomic(paths["instances"], data.instances.to_csv(sep="\t", index=False))
    _write_atomic(paths["motifs"], data.meme or format_meme(data.motifs))
    return paths


# --------------------------------------------------------------------------------------
# Sampling


def _place(
    rng: np.random.Generator,
    width: np.ndarray,
    valid: np.ndarray,
    counts: np.ndarray,
    length: int,
) -> np.ndarray:
    """Uniformly random non-overlapping starts for the motifs of each row, left to right.

    With ``k`` motifs of total width ``W`` in a row, the ``k`` gaps before them are a
    non-decreasing sequence in ``[0, length - W]``, in one-to-one correspondence with the
    ``k``-subsets of ``range(length - W + k)`` (subtract ``j`` from the ``j``-th smallest).
    Subsets are drawn by rejecting draws with repeats (a few percent of rows).
    """
    n, max_count = width.shape
    slot = np.arange(max_count)
    span = length - width.sum(axis=1) + counts
    # Unused slots get distinct values above any real draw so they sort last.
    filler = np.iinfo(np.int64).max - max_count + slot
    picks = np.empty((n, max_count), dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        draw = rng.integers(0, span[todo, None], size=(todo.size, max_count))
        draw = np.where(valid[todo], draw, filler)
        draw.sort(axis=1)
        repeated = (np.diff(draw, axis=1) == 0).any(axis=1)
        picks[todo[~repeated]] = draw[~repeated]
        todo = todo[repeated]
    gaps = picks - slot
    return gaps + np.cumsum(width, axis=1) - width


def _sample_pfm(rng: np.random.Generator, pfm: np.ndarray, n: int) -> np.ndarray:
    """``n`` samples (n, width) of base codes 0-3 from a probability matrix (width, 4)."""
    cdf = np.cumsum(pfm, axis=1)[:, :3]
    u = rng.random((n, pfm.shape[0]))
    return (u[:, :, None] >= cdf[None, :, :]).sum(axis=2, dtype=np.uint8)


# --------------------------------------------------------------------------------------
# Validation


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _check_count_probs(count_probs: Sequence[float]) -> np.ndarray:
    allowed = (
        "count_probs must be a non-empty list of probabilities (>= 0, summing to 1) of "
        "planting 1, 2, ... motifs per sequence"
    )
    try:
        probs = np.asarray(count_probs, dtype=float)
    except (TypeError, ValueError) as err:
        raise UsageError(f"{allowed}, got {count_probs!r}") from err
    if probs.ndim != 1 or probs.size == 0 or not np.all(np.isfinite(probs)):
        raise UsageError(f"{allowed}, got {count_probs!r}")
    if np.any(probs < 0) or abs(probs.sum() - 1.0) > 1e-6:
        raise UsageError(f"{allowed}, got {list(probs)} (sum {probs.sum():g})")
    return probs / probs.sum()


def _select(available: list[_Motif], wanted: Sequence[str] | str, path: Path) -> list[_Motif]:
    """The motifs named in ``wanted`` (id, versionless id, TF name or full name)."""
    if isinstance(wanted, str):
        wanted = [wanted]
    wanted = list(wanted)
    listing = ", ".join(m.name for m in available)
    if not wanted:
        raise UsageError(f"motifs is empty; choose among {listing} (or None for all)")
    chosen: list[_Motif] = []
    for key in wanted:
        if not isinstance(key, str):
            raise UsageError(f"motif names must be strings, got {key!r}; choose among {listing}")
        hits = [m for m in available if key.lower() in m.keys]
        if not hits:
            raise UsageError(
                f"unknown motif {key!r} in {path.name}; choose by JASPAR id or TF name among "
                f"{listing}"
            )
        if len(hits) > 1:
            several = ", ".join(m.name for m in hits)
            raise UsageError(f"motif {key!r} matches several motifs ({several}); use the id")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen


# --------------------------------------------------------------------------------------
# Motif files


@dataclass
class _Motif:
    name: str  # "<id>_<alt name>" or "<id>"
    keys: frozenset[str]  # lower-case names a user may select it by
    pfm: np.ndarray  # (width, 4), rows sum to 1
    source: MemeMotif  # as read from the file


def _read_motifs(path: Path) -> tuple[MemeFile, list[_Motif]]:
    """Read a MEME file of DNA probability matrices that can be planted."""
    meme = read_meme_file(path)
    if meme.alphabet and meme.alphabet.upper() != "ACGT":
        raise DataError(
            f"alphabet {meme.alphabet} is not DNA; a MEME file with ALPHABET= ACGT is needed",
            path=str(path),
        )
    return meme, [_plantable(motif, path) for motif in meme.motifs]


def _plantable(motif: MemeMotif, path: Path) -> _Motif:
    name = f"{motif.id}_{motif.alt}" if motif.alt else motif.id
    pfm = motif.pwm
    sums = pfm.sum(axis=1)
    if (
        not np.all(np.isfinite(pfm))
        or np.any(pfm < 0)
        or np.any(np.abs(sums - 1) > _ROW_SUM_TOLERANCE)
    ):
        raise DataError(
            "matrix rows must be probabilities >= 0 summing to 1", path=str(path), record=name
        )
    keys = {name.lower(), motif.id.lower(), motif.id.split(".")[0].lower()}
    if motif.alt:
        keys.add(motif.alt.lower())
    return _Motif(name=name, keys=frozenset(keys), pfm=pfm / sums[:, None], source=motif)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`seqcnn._io.atomic_path`)."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8", newline="\n")
    except OSError as err:
        raise DataError(f"cannot write: {err.strerror or err}", path=str(path)) from err

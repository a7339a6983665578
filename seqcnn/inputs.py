"""Any "sequences" argument in, byte codes out: the one reader of every sequence input.

Every function that takes sequences (prediction, interpretation, attribution, influence)
reads them here, so the same inputs are accepted, the same letters checked and the same
errors raised everywhere.  A sequences argument ``x`` may be:

* a FASTA path (plain, gzip or bgzip; ``"-"`` for standard input): ids from the headers;
* a list or tuple (or any iterable) of DNA strings, or a numpy array of strings: ids are
  the positions ``0, 1, ...``;
* a pandas Series or a dict of id -> DNA string: ids are the index or keys;
* an ``(N, L)`` ``uint8`` array (or tensor) of codes (``A=0 C=1 G=2 T=3 N=4``, IUPAC
  ``5..14``, see :mod:`seqcnn.alphabet`): ids are row numbers;
* an ``(N, 4, L)`` one-hot array or tensor (a 2-D float ``(4, L)`` is one sequence):
  ids are row numbers.

:func:`sequence_chunks` streams them as :class:`Chunk` objects from which any window of
any record can be cut (prediction: memory stays flat whatever the input size).
:func:`read_codes` returns them all at once, padded or cropped to one length, or a seeded
uniform sample of them (interpretation, attribution, influence).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .alphabet import (
    DNA_LETTERS,
    INVALID_CODE,
    IUPAC_CODES,
    LETTER_CODES,
    N_CODE,
    ONE_HOT_TABLES,
    check_crop,
    invalid_letter_error,
)
from .errors import DataError, UsageError

__all__ = ["READ_BATCH", "Chunk", "Reservoir", "SequenceCodes", "read_codes", "sequence_chunks"]

#: :func:`read_codes` encodes records this many at a time (also the reservoir's block size,
#: which fixes the random draws: keep it to keep samples identical).
READ_BATCH = 4096
#: Largest valid code: the last IUPAC ambiguity letter.
_MAX_CODE = len(IUPAC_CODES) - 1


# ------------------------------------------------------------------------------ input kinds


@dataclass
class _Input:
    """What a sequences argument is: records to encode, or an array of codes or one-hot."""

    records: Iterable | None = None  # (id, sequence) pairs; ids as given
    total: int | None = None
    name: str | None = None  # the file, for messages
    path: Any = None  # a FASTA file still to open
    codes: np.ndarray | None = None  # (N, L) uint8
    one_hot: np.ndarray | None = None  # (N, 4, L)


def _looks_like_dna(text: str) -> bool:
    return bool(text) and set(text) <= DNA_LETTERS


def _classify(x: Any) -> _Input:
    if isinstance(x, (str, os.PathLike)):
        if isinstance(x, str) and _looks_like_dna(x) and not os.path.exists(x):
            raise UsageError(
                f"'{x[:20]}{'...' if len(x) > 20 else ''}' is not a file; to predict "
                "sequences pass a list of strings, e.g. predict(model, [sequence])"
            )
        from .fasta import display_name

        return _Input(path=x, name=display_name(x))
    if hasattr(x, "items") and hasattr(x, "index"):  # a pandas Series: id -> sequence
        return _Input(records=x.items(), total=len(x))
    if getattr(getattr(x, "dtype", None), "kind", "") in ("U", "S", "O"):
        x = [s.decode() if isinstance(s, bytes) else str(s) for s in x]  # strings
    elif hasattr(x, "shape") and hasattr(x, "ndim"):
        return _array_input(x)
    if isinstance(x, Mapping):
        return _Input(records=x.items(), total=len(x))
    if isinstance(x, Iterable):
        x = list(x)
        return _Input(records=enumerate(x), total=len(x))
    raise UsageError(
        f"cannot read sequences from {type(x).__name__}: pass a FASTA path, a list of "
        "sequences, a dict of id -> sequence, codes (N, length) or a one-hot array "
        "(N, 4, length)"
    )


def _array_input(x: Any) -> _Input:
    array = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    if array.ndim == 2 and array.dtype == np.uint8:
        if array.size and array.max() > _MAX_CODE:
            raise DataError(
                f"codes must be 0..{_MAX_CODE} (A, C, G, T, N, IUPAC letters), "
                f"got {int(array.max())}"
            )
        return _Input(codes=array, total=len(array))
    array = array[None] if array.ndim == 2 else array
    if array.ndim != 3 or array.shape[1] != 4:
        raise UsageError(
            f"expected one-hot sequences of shape (N, 4, length), got {tuple(array.shape)}"
        )
    return _Input(one_hot=np.asarray(array, dtype=np.float32), total=len(array))


# ------------------------------------------------------------------------------ streaming


@dataclass
class Chunk:
    """Records to predict (``ids`` as given, ``lengths`` in bases), with their windows.

    ``inputs(rec, start)`` returns the model inputs of the windows starting at ``start`` in
    records ``rec``: ``uint8`` codes ``(B, L)`` or a ``float32`` one-hot ``(B, 4, L)``,
    records shorter than ``L`` centred in N padding.  ``rows(a, b)``, when set, returns
    those of records ``a:b`` (every record is exactly one window: the common case, served
    without index arithmetic).  ``all_n`` marks records made only of N (``None`` for
    one-hot input).
    """

    ids: list
    lengths: np.ndarray
    inputs: Callable[[np.ndarray, np.ndarray], np.ndarray]
    rows: Callable[[int, int], np.ndarray] | None = None
    all_n: np.ndarray | None = None


def sequence_chunks(
    x: Any, length: int, n_encoding: str, chunk_size: int
) -> tuple[Iterator[Chunk], int | None, str | None]:
    """Stream any sequences argument as chunks of about ``chunk_size`` windows.

    Parameters
    ----------
    x
        A sequences argument (see the module docstring).
    length
        The model input length ``L``: the window length, and the length short records
        are padded to (with N; one-hot input with ``n_encoding``'s N).
    n_encoding
        ``"zeros"``, ``"uniform"`` or ``"iupac"``.
    chunk_size
        Records per chunk, at most; a chunk also ends at ``chunk_size * length`` bases.

    Returns
    -------
    (chunks, total, name)
        The chunks (read lazily: errors in the records surface while iterating), the number
        of records when known up front (``None`` for a FASTA file), and the file name for
        messages (``None`` unless ``x`` is a file).  FASTA ids are not checked for
        duplicates, and an empty file gives no chunks.

    Raises
    ------
    UsageError
        An input of the wrong kind or shape, or a DNA string where a path was expected.
    DataError
        Invalid letters (naming record and position), an empty record, unreadable FASTA.
    """
    source = _classify(x)
    if source.one_hot is not None:
        array = source.one_hot
        chunks = (
            _one_hot_chunk(array[a : a + chunk_size], a, length, n_encoding)
            for a in range(0, len(array), chunk_size)
        )
        return chunks, source.total, None
    if source.codes is not None:
        array = source.codes
        chunks = (
            _codes_chunk(array[a : a + chunk_size], a, length)
            for a in range(0, len(array), chunk_size)
        )
        return chunks, source.total, None
    chunks = _string_chunks(_record_batches(source), length, chunk_size, source.name)
    return chunks, source.total, source.name


def _record_batches(source: _Input, size: int = 1024) -> Iterator[tuple[list, list]]:
    """``(ids, sequences)`` lists of the records of a FASTA file (as the reader batches
    them) or of a sequences argument (``size`` at a time); duplicates allowed."""
    if source.path is not None:
        from .fasta import read_fasta_batches

        # Small batches keep streaming callers (predict) responsive on slow input.
        batches = read_fasta_batches(
            source.path, batch_bases=1 << 16, check_duplicates=False, allow_empty=True
        )
        for ids, _, sequences in batches:
            yield ids, sequences
        return
    records = iter(source.records)
    while batch := list(itertools.islice(records, size)):
        ids, sequences = zip(*batch, strict=True)
        yield list(ids), list(sequences)


def _string_chunks(batches: Iterable, length: int, chunk_size: int, name: str | None):
    """Group batches of ``(ids, sequences)`` into chunks of ``chunk_size`` records, or
    fewer that reach ``chunk_size * length`` bases (whichever comes first, record by
    record: the chunks do not depend on how the records were batched)."""
    max_bases = chunk_size * length
    ids: list = []
    seqs: list[str] = []
    bases = 0
    for batch_ids, batch_seqs in batches:
        lengths = np.fromiter(map(len, batch_seqs), np.int64, len(batch_seqs))
        at = 0
        while at < len(batch_ids):
            totals = np.cumsum(lengths[at : at + chunk_size - len(ids)])
            # Records up to the first that brings the chunk to max_bases, if one does.
            take = min(int(np.searchsorted(totals, max_bases - bases)) + 1, len(totals))
            ids += batch_ids[at : at + take]
            seqs += batch_seqs[at : at + take]
            bases += int(totals[take - 1])
            at += take
            if bases >= max_bases or len(ids) >= chunk_size:
                yield _string_chunk(ids, seqs, length, name)
                ids, seqs, bases = [], [], 0
    if ids:
        yield _string_chunk(ids, seqs, length, name)


def _record_codes(ids: list, seqs: list[str], name: str | None):
    """Codes of several sequences, concatenated, with offsets and lengths; letters checked."""
    try:
        joined = "".join(seqs).encode("ascii", "replace")
    except TypeError:
        raise UsageError("expected DNA sequences as strings") from None
    codes = LETTER_CODES[np.frombuffer(joined, dtype=np.uint8)]
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    ends = np.cumsum(lengths)
    offsets = ends - lengths
    if codes.size and codes.max() == INVALID_CODE:
        row = int(np.searchsorted(ends, int(np.argmax(codes == INVALID_CODE)), side="right"))
        raise invalid_letter_error(seqs[row], codes[offsets[row] : ends[row]], name, ids[row])
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise DataError("empty sequence", path=name, record=ids[empty[0]])
    return codes, offsets, lengths


def _string_chunk(ids: list, seqs: list[str], length: int, name: str | None) -> Chunk:
    codes, offsets, lengths = _record_codes(ids, seqs, name)
    return _flat_chunk(ids, codes, offsets, lengths, length)


def _codes_chunk(array: np.ndarray, first: int, length: int) -> Chunk:
    """A chunk of ``(n, Lx)`` code rows; ids are row numbers."""
    n, width = array.shape
    if width == 0:
        raise DataError("empty sequence", record=first)
    offsets = np.arange(n, dtype=np.int64) * width
    lengths = np.full(n, width, dtype=np.int64)
    ids = list(range(first, first + n))
    return _flat_chunk(ids, np.ascontiguousarray(array).reshape(-1), offsets, lengths, length)


def _flat_chunk(ids: list, codes: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
                length: int) -> Chunk:  # fmt: skip
    """A chunk of records stored one after the other in ``codes``."""
    all_n = ~np.logical_or.reduceat(codes != N_CODE, offsets)
    positions = np.arange(length)

    def inputs(rec: np.ndarray, start: np.ndarray) -> np.ndarray:
        n = lengths[rec]
        pos = start[:, None] + positions - (np.maximum(length - n, 0) // 2)[:, None]
        if (n >= length).all():
            return codes[offsets[rec][:, None] + pos]
        # Records shorter than the model are centred in N padding.
        inside = (pos >= 0) & (pos < n[:, None])
        out = codes[offsets[rec][:, None] + np.clip(pos, 0, (n - 1)[:, None])]
        out[~inside] = N_CODE
        return out

    rows = None
    if (lengths == length).all():
        table = codes.reshape(len(ids), length)
        rows = lambda a, b: table[a:b]  # noqa: E731
    return Chunk(ids, lengths, inputs, rows, all_n)


def _one_hot_chunk(x: np.ndarray, first: int, length: int, n_encoding: str) -> Chunk:
    """A chunk of one-hot rows ``(n, 4, Lx)``; ids are row numbers."""
    n, _, width = x.shape
    lengths = np.full(n, width, dtype=np.int64)
    if width < length:  # centre in N padding, as for strings
        padded = np.empty((n, 4, length), dtype=np.float32)
        padded[:] = ONE_HOT_TABLES[n_encoding][N_CODE][:, None]
        left = (length - width) // 2
        padded[:, :, left : left + width] = x
        x = padded
    positions = np.arange(length)

    def inputs(rec: np.ndarray, start: np.ndarray) -> np.ndarray:
        # Advanced indices around a slice put their dimensions first: (B, L, 4).
        return x[rec[:, None], :, start[:, None] + positions].transpose(0, 2, 1)

    rows = (lambda a, b: x[a:b]) if x.shape[2] == length else None
    return Chunk(list(range(first, first + n)), lengths, inputs, rows)


# ------------------------------------------------------------------------------ all at once


@dataclass
class SequenceCodes:
    """Sequences read by :func:`read_codes`, all of one length.

    Attributes
    ----------
    ids
        Record ids as strings (FASTA ids, dict keys or Series index, or row numbers).
    codes
        ``(N, L)`` ``uint8`` codes, padded with N or cropped to ``L``; for one-hot input a
        position that is not one clear base reads as N (:meth:`one_hot` keeps the values).
    name
        The file read, for messages (``None`` for sequences given in memory).
    lengths
        ``(N,)`` lengths before padding or cropping.
    total
        Records read (more than ``N`` when a sample was drawn).
    first
        The first ``keep_first`` records, whatever the sample (``None`` without).
    """

    ids: list[str]
    codes: np.ndarray
    name: str | None
    lengths: np.ndarray
    total: int
    first: SequenceCodes | None = None
    #: One-hot input as given (cropped, not padded), placed at ``given_offset`` in ``L``.
    given: np.ndarray | None = field(default=None, repr=False)
    given_offset: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def one_hot(self, n_encoding: str = "zeros") -> np.ndarray:
        """The sequences as a ``float32`` ``(N, 4, L)`` one-hot array.

        Padding and N are encoded with ``n_encoding``; one-hot input keeps its own values.
        """
        from .onehot import codes_to_one_hot

        out = codes_to_one_hot(self.codes, n_encoding)
        if self.given is not None:
            left = self.given_offset
            out[:, :, left : left + self.given.shape[2]] = self.given
        return out


class Reservoir:
    """A uniform random sample of at most ``size`` rows of a stream (Algorithm R).

    ``add(rows, *aligned)`` adds a block of rows; arrays in ``aligned`` (ids, lengths...)
    are sampled along with them.  ``size=None`` keeps everything.  The draws depend on the
    seed and on the block sizes, so the same stream in the same blocks gives the same
    sample.  Rows come back in stream order.
    """

    def __init__(self, size: int | None, seed: int = 0):
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.seen = 0
        self.parts: list[tuple[np.ndarray, ...]] = []  # size=None: every block as it came
        self.columns: list[np.ndarray] | None = None
        self.index: np.ndarray | None = None

    def add(self, rows: np.ndarray, *aligned: np.ndarray) -> None:
        """Add a block of rows (and the aligned arrays' rows)."""
        blocks = (rows, *aligned)
        n, first = len(rows), self.seen
        self.seen += n
        if self.size is None:
            self.parts.append(blocks)
            return
        if self.columns is None:
            self.columns = [np.empty((self.size, *b.shape[1:]), dtype=b.dtype) for b in blocks]
            self.index = np.empty(self.size, dtype=np.int64)
        fill = max(0, min(n, self.size - first))
        for column, block in zip(self.columns, blocks, strict=True):
            column[first : first + fill] = block[:fill]
        self.index[first : first + fill] = np.arange(first, first + fill)
        if fill == n:
            return
        # Row i of the stream replaces a random slot j <= i when j is a slot of the sample.
        positions = np.arange(first + fill, first + n)
        slots = self.rng.integers(0, positions + 1)
        chosen = np.flatnonzero(slots < self.size)
        # Of the rows of this block drawn for the same slot, the last one stays.
        _, from_end = np.unique(slots[chosen][::-1], return_index=True)
        chosen = chosen[len(chosen) - 1 - from_end]
        for column, block in zip(self.columns, blocks, strict=True):
            column[slots[chosen]] = block[fill + chosen]
        self.index[slots[chosen]] = positions[chosen]

    def sample(self) -> tuple[np.ndarray, ...]:
        """The sampled rows and aligned arrays, in stream order."""
        if self.size is None:
            if not self.parts:
                return (np.zeros((0,)),)
            return tuple(np.concatenate(blocks) for blocks in zip(*self.parts, strict=True))
        if self.columns is None:
            return (np.zeros((0,)),)
        count = min(self.seen, self.size)
        order = np.argsort(self.index[:count], kind="stable")
        return tuple(column[:count][order] for column in self.columns)

    def result(self) -> np.ndarray:
        """The sampled rows, in stream order."""
        return self.sample()[0]


def read_codes(
    x: Any,
    length: int | None,
    *,
    crop: str = "center",
    max_sequences: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
    keep_first: int = 0,
) -> SequenceCodes:
    """Read every sequence of ``x`` at once, padded with N or cropped to one length.

    Parameters
    ----------
    x
        A sequences argument (see the module docstring).  FASTA ids must be unique.
    length
        Pad or crop every sequence to this length; ``None``: the sequences must share one
        length (records after the first :data:`READ_BATCH` are fitted to it).
    crop
        ``"center"``, ``"left"`` or ``"right"``, as :func:`seqcnn.onehot.encode_sequences`.
    max_sequences
        Keep a uniform random sample of at most this many sequences, in input order
        (reservoir sampling over a stream, a draw without replacement over an array);
        ``None`` keeps all.  ``seed`` seeds it: the same input gives the same sample.
    progress
        Show a progress bar on stderr (``None``: only when stderr is a terminal).
    keep_first
        Also keep the first this many records (:attr:`SequenceCodes.first`).

    Raises
    ------
    DataError
        No sequences, invalid letters (naming record and position), an empty record,
        duplicate FASTA ids, unreadable FASTA, different lengths without ``length``.
    UsageError
        An input of the wrong kind or shape, or bad options.

    Examples
    --------
    >>> data = read_codes(["ACGT", "AC"], 6)
    >>> data.codes.tolist(), data.ids, data.lengths.tolist()
    ([[4, 0, 1, 2, 3, 4], [4, 4, 0, 1, 4, 4]], ['0', '1'], [4, 2])
    """
    check_crop(crop)
    if max_sequences is not None and max_sequences < 1:
        raise UsageError(f"max_sequences must be at least 1 (or None), got {max_sequences}")
    if length is not None and length < 1:
        raise UsageError(f"length must be at least 1, got {length}")
    source = _classify(x)
    if source.codes is not None or source.one_hot is not None:
        return _array_codes(source, length, crop, max_sequences, seed, keep_first)
    records = source.records
    if source.path is not None:
        from .fasta import read_fasta_records

        records = read_fasta_records(source.path)  # duplicates checked, empty files refused
    return _stream_codes(records, source, length, crop, max_sequences, seed, progress,
                         keep_first)  # fmt: skip


def _stream_codes(records, source: _Input, length, crop, max_sequences, seed, progress,
                  keep_first) -> SequenceCodes:  # fmt: skip
    from ._progress import progress_bar

    name = source.name
    sample = Reservoir(max_sequences, seed)
    first: list[tuple[list[str], np.ndarray, np.ndarray]] = []  # the first keep_first
    kept = 0
    with progress_bar(progress, total=source.total, unit=" sequences", desc="reading") as bar:
        batches = _encoded_batches(records, length, crop, name)
        for ids, codes, lengths in batches:
            length = codes.shape[1]  # without a length: that of the first batch
            if kept < keep_first:
                take = keep_first - kept
                first.append((ids[:take], codes[:take], lengths[:take]))
                kept += len(first[-1][0])
            sample.add(codes, np.asarray(ids, dtype=object), lengths)
            bar.update(len(ids))
    if sample.seen == 0:
        raise DataError("no sequences given", path=name)
    codes, ids, lengths = sample.sample()
    head = None
    if keep_first:
        ids_, codes_, lengths_ = zip(*first, strict=True)
        head = SequenceCodes(sum(ids_, []), np.concatenate(codes_), name,
                             np.concatenate(lengths_), sample.seen)  # fmt: skip
    return SequenceCodes(list(ids), codes, name, lengths, sample.seen, head)


def _encoded_batches(
    records: Iterable, length: int | None, crop: str, name: str | None
) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    """``(ids, codes (n, L), lengths)`` per :data:`READ_BATCH` records, letters checked."""
    from .onehot import encode_sequences

    ids: list[str] = []
    seqs: list[str] = []

    def encoded():
        nonlocal length, ids
        ids = ids
        codes = encode_sequences(seqs, length, crop, ids=ids, path=name)
        length = codes.shape[1]
        lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
        return ids, codes, lengths

    for record_id, sequence in records:
        record_id = str(record_id)
        if not isinstance(sequence, str):
            raise UsageError(f"expected DNA sequences as strings, got {type(sequence).__name__}")
        if not sequence:
            raise DataError("empty sequence", path=name, record=record_id)
        ids.append(record_id)
        seqs.append(sequence)
        if len(ids) == READ_BATCH:
            yield encoded()
            ids, seqs = [], []
    if ids:
        yield encoded()


def _array_codes(source: _Input, length, crop, max_sequences, seed, keep_first) -> SequenceCodes:
    """Codes of an in-memory array of codes or one-hot rows, sampled without replacement."""
    array = source.codes if source.codes is not None else source.one_hot
    n = len(array)
    if n == 0:
        raise DataError("no sequences given")
    width = array.shape[-1]
    if width == 0:
        raise DataError("empty sequence", record="0")
    length = length or width
    rows = np.arange(n)
    if max_sequences is not None and n > max_sequences:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(n, size=max_sequences, replace=False))

    def fitted(index: np.ndarray) -> SequenceCodes:
        part = array[index]
        given, offset = None, 0
        if source.one_hot is not None:
            given = part
            part = _clear_bases(part)
        if width > length:  # crop: the same part as encode_sequences keeps
            start = {"center": (width - length) // 2, "left": 0, "right": width - length}[crop]
            part = part[..., start : start + length]
            if given is not None:
                given = np.ascontiguousarray(given[..., start : start + length])
        elif width < length:
            offset = {"center": (length - width) // 2, "left": 0, "right": length - width}[crop]
            padded = np.full((len(part), length), N_CODE, dtype=np.uint8)
            padded[:, offset : offset + width] = part
            part = padded
        ids = [str(i) for i in index]
        lengths = np.full(len(index), width, dtype=np.int64)
        codes = np.ascontiguousarray(part, dtype=np.uint8)
        return SequenceCodes(ids, codes, None, lengths, n, None, given, offset)

    data = fitted(rows)
    if keep_first:
        data.first = fitted(np.arange(min(keep_first, n)))
    return data


def _clear_bases(x: np.ndarray) -> np.ndarray:
    """Codes of one-hot rows ``(n, 4, L)``: a position that is not one clear base is N."""
    best = x.argmax(axis=1)
    top = x.max(axis=1)
    clear = (top > 0.5) & np.isclose(x.sum(axis=1), top)
    return np.where(clear, best, N_CODE).astype(np.uint8)

"""Lines of a text table, formatted a whole column at a time with numpy.

Writing a prediction or variant table formatted every value with Python's ``%`` operator,
one row at a time: at 12 outputs per record that cost more than reading and encoding the
records (3.5 us per row, most of it ``"%.9g" % value``).  Here each column becomes a
:class:`Field`, a ``(rows, width)`` matrix of bytes and a mask saying which of them are
its text, built with array operations; the masked bytes of the fields side by side, with
the delimiters and line ends between them, are the table's lines.

The text is byte for byte what Python writes: floats as ``"%.9g" % value`` (9 significant
digits, so a float32 survives the round trip), integers as ``str(value)``, text as it is
(UTF-8).  A float is rounded to 9 digits from its exact binary value, which the scaling
by a power of ten below reproduces except within a hair of a rounding tie; those values,
and infinities, NaN and the extremes, are formatted by Python (a few in a million).

:func:`write_block_lines` (prediction tables, :mod:`seqcnn.tables`) and
:func:`write_frame_lines` (variant tables) write tables this way; a piece of a table with
text that the ``csv`` module would quote, or very long, is written by Python as before.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import NamedTuple

import numpy as np

__all__ = [
    "FLOAT_FORMAT",
    "Field",
    "float_field",
    "float_columns",
    "int_field",
    "text_field",
    "join_fields",
    "write_block_lines",
    "write_frame_lines",
]

#: float32 survives a text round trip exactly with 9 significant digits.
FLOAT_FORMAT = "%.9g"
#: Significant digits of :data:`FLOAT_FORMAT`.
_DIGITS = 9
#: Magnitudes from ``10**-_RANGE`` to below ``10**_RANGE`` are formatted here; the others
#: (and zeros, NaN, infinities) by Python.
_RANGE = 99
#: ``_SCALE[k + _SCALE_ZERO]`` is the float64 nearest ``10**k`` (exact for 0 <= k <= 22),
#: for the scalings ``k = 8 - exponent`` of that range (exponents one off included).
_SCALE_ZERO = _RANGE + 1
_SCALE = np.array([float(Fraction(10) ** k) for k in range(-_SCALE_ZERO, _SCALE_ZERO + 10)])
#: Places after the point in fixed notation: ``%.9g`` of 1e-4 <= x < 1e-3 shows 12.
_PLACES = 12
_POW10_U64 = np.array([10**k for k in range(20)], np.uint64)
#: ``%g`` writes exponents from -4 to 8 in fixed notation, the others in scientific.
_FIXED_LOW = -4
#: How close to a rounding tie (in units of the 9th digit) a scaled value must be for the
#: float64 scaling's own error (<= 2 ulp, 2.4e-7 at 1e9) to matter: those go to Python.
_TIE_MARGIN = 1e-5
#: Bytes of formatting matrix per piece of a block or frame.
_PIECE_BYTES = 1 << 23
#: Text wider than this (bytes) is joined by Python: the matrix would be mostly padding.
MAX_TEXT_WIDTH = 256


class Field(NamedTuple):
    """One column's text: ``chars`` ``(n, width)`` uint8 and ``mask`` ``(n, width)`` bool,
    True where a byte belongs to the value (in order, not always a prefix)."""

    chars: np.ndarray
    mask: np.ndarray


def _digit_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative integer ``values``, zero-padded to ``width`` columns."""
    rest = values.astype(np.uint32 if width <= 9 else np.uint64)  # 32 bits where they hold it
    out = np.empty((len(values), width), np.uint8)
    for j in range(width - 1, -1, -1):  # by a constant divisor: numpy vectorises it
        quotient = rest // 10
        out[:, j] = rest - quotient * 10
        rest = quotient
    out += ord("0")
    return out


def _scaled(magnitude: np.ndarray, exponent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``magnitude * 10**(8 - exponent)`` rounded half to even, and whether it was within
    :data:`_TIE_MARGIN` of a tie (where the float64 product may round the wrong way)."""
    scaled = magnitude * _SCALE[_DIGITS - 1 - exponent + _SCALE_ZERO]
    rounded = np.rint(scaled)
    near_tie = np.abs(np.abs(scaled - rounded) - 0.5) < _TIE_MARGIN
    return rounded, near_tie


def float_field(values: np.ndarray, separator: str | None = None) -> Field:
    """``"%.9g" % v`` for every value of a 1D float array, each preceded by ``separator``
    (one ASCII character) if given: see :func:`float_columns`.

    Examples
    --------
    >>> values = np.array([0.5, 1e-05, -123456.789, 1e10, 0.0, np.nan], np.float32)
    >>> field = float_field(values)
    >>> [bytes(c[m]).decode() for c, m in zip(field.chars, field.mask)]
    ['0.5', '9.99999975e-06', '-123456.789', '1e+10', '0', 'nan']
    """
    with np.errstate(invalid="ignore", divide="ignore"):  # signalling NaNs, log10(0)
        v = np.asarray(values, np.float64).reshape(-1)
        magnitude = np.abs(v)
        # Zeros, NaN, infinities and the extremes (beyond the scaling table) go to Python.
        regular = (magnitude >= 10.0**-_RANGE) & (magnitude < 10.0**_RANGE)
        safe = np.where(regular, magnitude, 1.0)
        exponent = np.floor(np.log10(safe)).astype(np.int64)
    mantissa, near_tie = _scaled(safe, exponent)
    for _ in range(2):  # log10 may be one off near a power of ten, and rounding may carry
        high, low = mantissa >= 10**_DIGITS, mantissa < 10 ** (_DIGITS - 1)
        if not (high.any() or low.any()):
            break
        exponent += high.astype(np.int64) - low
        mantissa, near_tie = _scaled(safe, exponent)
    zero = magnitude == 0
    by_python = ~(regular | zero) | (regular & near_tie)
    mantissa = np.where(regular & ~near_tie, mantissa, 0).astype(np.uint64)
    fixed = (exponent >= _FIXED_LOW) & (exponent < _DIGITS) | ~regular
    exponent = np.where(regular, exponent, 0)

    # Fixed notation: the integer part, then 12 places (enough for 1e-4 at 9 digits),
    # trailing zeros and a bare point dropped.
    places = _DIGITS - 1 - np.where(fixed, exponent, 0)
    unit = _POW10_U64[places]
    whole = mantissa // unit
    fraction = (mantissa - whole * unit) * _POW10_U64[_PLACES - places]
    whole_width = int(exponent[fixed].max(initial=0)) + 1
    whole_digits = _digit_matrix(whole.astype(np.uint32), whole_width)
    high, low = np.divmod(fraction, 10**6)
    fraction_digits = np.concatenate(
        [_digit_matrix(high.astype(np.uint32), 6), _digit_matrix(low.astype(np.uint32), 6)],
        axis=1,
    )
    fraction_shown = _PLACES - np.argmax(fraction_digits[:, ::-1] != ord("0"), axis=1)
    fraction_shown[fraction == 0] = 0
    first_whole = np.argmax(whole_digits != ord("0"), axis=1)
    first_whole[whole == 0] = whole_width - 1
    width = max(1 + whole_width + 1 + _PLACES, 16)
    lead = 0 if separator is None else 1
    field = Field(
        np.zeros((len(v), lead + width), np.uint8), np.zeros((len(v), lead + width), bool)
    )
    if lead:
        field.chars[:, 0] = ord(separator)
        field.mask[:, 0] = True
    chars, mask = field.chars[:, lead:], field.mask[:, lead:]  # views: written through
    chars[:, 0] = ord("-")
    mask[:, 0] = np.signbit(v) & ~by_python
    chars[:, 1 : 1 + whole_width] = whole_digits
    mask[:, 1 : 1 + whole_width] = np.arange(whole_width) >= first_whole[:, None]
    point = 1 + whole_width
    chars[:, point] = ord(".")
    mask[:, point] = fraction_shown > 0
    chars[:, point + 1 : point + 1 + _PLACES] = fraction_digits
    mask[:, point + 1 : point + 1 + _PLACES] = np.arange(_PLACES) < fraction_shown[:, None]

    if not fixed.all():  # scientific: d.dddddddde+XX
        rows = np.flatnonzero(~fixed)
        digits = _digit_matrix(mantissa[rows].astype(np.uint32), _DIGITS)
        shown = _DIGITS - np.argmax(digits[:, ::-1] != ord("0"), axis=1)
        power = exponent[rows]
        sci = np.empty((len(rows), 14), np.uint8)
        sci[:, 0] = digits[:, 0]
        sci[:, 1] = ord(".")
        sci[:, 2:10] = digits[:, 1:]
        sci[:, 10] = ord("e")
        sci[:, 11] = np.where(power < 0, ord("-"), ord("+"))
        sci[:, 12:14] = _digit_matrix(np.abs(power), 2)
        visible = np.ones((len(rows), 14), bool)
        visible[:, 1] = shown > 1
        visible[:, 2:10] = np.arange(1, _DIGITS) < shown[:, None]
        chars[rows, 1:] = 0
        mask[rows, 1:] = False
        chars[rows, 1:15] = sci
        mask[rows, 1:15] = visible
    if by_python.any():
        rows = np.flatnonzero(by_python)
        texts = text_field([FLOAT_FORMAT % x for x in v[rows].tolist()])  # <= 16 bytes each
        chars[rows, :] = 0
        chars[rows, : texts.chars.shape[1]] = texts.chars
        mask[rows, :] = False
        mask[rows, : texts.mask.shape[1]] = texts.mask
    return field


def float_columns(values: np.ndarray, delimiter: str) -> Field:
    """The columns of a 2D float array ``(n, T)`` as one field of ``n`` rows: the ``T``
    texts of a row separated by ``delimiter``.  One call for all the columns of a block,
    where a call per column pays numpy's per-call costs ``T`` times.

    Examples
    --------
    >>> field = float_columns(np.array([[0.5, 2.0], [1e-5, -3.0]], np.float32), ",")
    >>> [bytes(c[m]).decode() for c, m in zip(field.chars, field.mask)]
    ['0.5,2', '9.99999975e-06,-3']
    """
    n = len(values)
    field = float_field(np.ascontiguousarray(values).reshape(-1), separator=delimiter)
    return Field(field.chars.reshape(n, -1)[:, 1:], field.mask.reshape(n, -1)[:, 1:])


def int_field(values: np.ndarray) -> Field:
    """``str(v)`` for every value of a 1D integer array.

    Examples
    --------
    >>> field = int_field(np.array([0, 7, -42, 1234567890123]))
    >>> [bytes(c[m]).decode() for c, m in zip(field.chars, field.mask)]
    ['0', '7', '-42', '1234567890123']
    """
    v = np.asarray(values).reshape(-1)
    if v.dtype.kind == "u":
        negative = np.zeros(len(v), bool)
        magnitude = v.astype(np.uint64)
    else:
        v = v.astype(np.int64)
        negative = v < 0
        magnitude = np.abs(v).astype(np.uint64)  # int64's minimum wraps to 2**63: still right
    digits = _digit_matrix(magnitude, 20)
    nonzero = digits != ord("0")
    first = np.where(nonzero.any(axis=1), np.argmax(nonzero, axis=1), 19)
    chars = np.empty((len(v), 21), np.uint8)
    chars[:, 0] = ord("-")
    chars[:, 1:] = digits
    mask = np.empty((len(v), 21), bool)
    mask[:, 0] = negative
    mask[:, 1:] = np.arange(20) >= first[:, None]
    return Field(chars, mask)


def text_field(values: Sequence[str]) -> Field | None:
    """The UTF-8 bytes of every text in ``values``; None when one is wider than
    :data:`MAX_TEXT_WIDTH` bytes (join such rows with Python instead).

    Examples
    --------
    >>> field = text_field(["chr1", "séq", ""])
    >>> [bytes(c[m]).decode() for c, m in zip(field.chars, field.mask)]
    ['chr1', 'séq', '']
    """
    encoded = [str(t).encode() for t in values]
    lengths = np.fromiter(map(len, encoded), np.intp, len(encoded))
    width = max(int(lengths.max()) if len(encoded) else 0, 1)
    if width > MAX_TEXT_WIDTH:
        return None
    chars = np.array(encoded, dtype=f"S{width}").view(np.uint8).reshape(len(encoded), width)
    return Field(chars, np.arange(width) < lengths[:, None])


def join_fields(fields: Sequence[Field], delimiter: str) -> str:
    """The lines (each ending in ``\\n``) of the rows whose columns are ``fields``,
    separated by ``delimiter`` (one ASCII character)."""
    n = len(fields[0].chars)
    separator = np.full((n, 1), ord(delimiter), np.uint8)
    newline = np.full((n, 1), ord("\n"), np.uint8)
    shown = np.ones((n, 1), bool)
    chars, mask = [], []
    for i, field in enumerate(fields):
        chars += [field.chars, separator if i < len(fields) - 1 else newline]
        mask += [field.mask, shown]
    return np.concatenate(chars, axis=1)[np.concatenate(mask, axis=1)].tobytes().decode()


# ------------------------------------------------------------------------------ tables


def write_block_lines(blocks: Iterable, handle, header: list[str], delimiter: str,
                      flush: bool = False) -> int:  # fmt: skip
    """Write a header and the lines of :class:`~seqcnn.tables.Block` s (ids, then
    ``start``/``end`` if a block has them, then its values) to a text handle; the rows
    written."""
    # The first block is computed before anything is written, so that a missing file or a
    # bad first record leaves no header behind on standard output.
    blocks = iter(blocks)
    first = next(blocks, None)
    csv.writer(handle, delimiter=delimiter, lineterminator="\n").writerow(header)
    rows = 0
    for block in itertools.chain([first] if first is not None else [], blocks):
        ids = _quoted(block.ids, delimiter)
        n_columns = 1 + (2 if block.start is not None else 0) + block.values.shape[1]
        step = _rows_per_piece(n_columns)
        for low in range(0, len(ids), step):
            high = low + step
            fields = [text_field(ids[low:high])]
            if fields[0] is None:  # an id too long for the matrices: Python formats
                handle.write(_python_lines(block, ids, low, high, delimiter))
                continue
            if block.start is not None:
                fields += [int_field(block.start[low:high]), int_field(block.end[low:high])]
            if block.values.shape[1]:
                fields.append(float_columns(block.values[low:high], delimiter))
            handle.write(join_fields(fields, delimiter))
        rows += len(ids)
        if flush:
            handle.flush()
    return rows


def _rows_per_piece(n_columns: int) -> int:
    """Rows formatted at a time: about :data:`_PIECE_BYTES` of matrix whatever the width."""
    return max(1, _PIECE_BYTES // (24 * n_columns))


def _python_lines(block, ids: list, low: int, high: int, delimiter: str) -> str:
    """Rows ``low:high`` of a block formatted by Python, one ``%`` per row."""
    values = block.values[low:high].tolist()
    if block.start is None:
        line = delimiter.join(["%s", *[FLOAT_FORMAT] * block.values.shape[1]]) + "\n"
        return "".join(line % (i, *v) for i, v in zip(ids[low:high], values, strict=True))
    line = delimiter.join(["%s"] * 3 + [FLOAT_FORMAT] * block.values.shape[1]) + "\n"
    bounds = zip(ids[low:high], block.start[low:high].tolist(), block.end[low:high].tolist(),
                 values, strict=True)  # fmt: skip
    return "".join(line % (i, s, e, *v) for i, s, e, v in bounds)


def _quoted(ids: list, delimiter: str) -> list:
    """Ids quoted as the csv module would, where they hold a delimiter, quote or newline."""
    special = delimiter + '"\r\n'
    joined = "".join(map(str, ids))
    if not any(c in joined for c in special):
        return ids
    return [
        '"' + str(i).replace('"', '""') + '"' if any(c in str(i) for c in special) else i
        for i in ids
    ]


def write_frame_lines(frames, handle, columns: list[str], text: set[str], delimiter: str,
                      flush: bool = False) -> int:  # fmt: skip
    """Write a header and the lines of pandas DataFrames: ``text`` columns as they are
    (text, whole numbers), the others as floats; the rows written."""
    special = delimiter + '"\r\n'
    writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    # Where Python formats a piece: one %-format per row (faster than pandas' to_csv).
    line = delimiter.join("%s" if c in text else FLOAT_FORMAT for c in columns) + "\n"
    rows = 0
    step = _rows_per_piece(len(columns))
    for frame in _pieces(frames, step):
        for low in range(0, len(frame), step):
            piece = frame.iloc[low : low + step]
            fields = _piece_fields(piece, columns, text, special, delimiter)
            if fields is not None:
                handle.write(join_fields(fields, delimiter))
                continue
            values = [piece[c].tolist() for c in columns]
            texts = [_joined(column) for c, column in zip(columns, values, strict=True)
                     if c in text]  # fmt: skip
            if any(char in part for part in texts for char in special):  # quoted as csv does
                formatted = [column if c in text else [FLOAT_FORMAT % v for v in column]
                             for c, column in zip(columns, values, strict=True)]  # fmt: skip
                writer.writerows(zip(*formatted, strict=True))
            else:
                handle.write("".join(line % row for row in zip(*values, strict=True)))
        rows += len(frame)
        if flush:
            handle.flush()
    handle.flush()
    return rows


def _pieces(frames, rows: int):
    """The frames, small ones joined into frames of at least ``rows`` rows (each numpy
    call of the formatting costs the same for 1,000 rows as for 20,000)."""
    import pandas as pd

    waiting, count = [], 0
    for frame in frames:
        waiting.append(frame)
        count += len(frame)
        if count >= rows:
            yield waiting[0] if len(waiting) == 1 else pd.concat(waiting, ignore_index=True)
            waiting, count = [], 0
    if waiting:
        yield waiting[0] if len(waiting) == 1 else pd.concat(waiting, ignore_index=True)


def _piece_fields(piece, columns, text, special: str, delimiter: str) -> list[Field] | None:
    """The fields of a piece of a frame, neighbouring float columns formatted together;
    None if a column needs Python (see :func:`_frame_field`)."""
    fields: list[Field] = []
    floats: list[np.ndarray] = []
    for c in [*columns, None]:
        column = piece[c] if c is not None else None
        if column is not None and c not in text and column.dtype.kind == "f":
            floats.append(column.to_numpy())
            continue
        if floats:
            fields.append(float_columns(np.column_stack(floats), delimiter))
            floats = []
        if column is not None:
            field = _frame_field(column, c in text, special)
            if field is None:
                return None
            fields.append(field)
    return fields


def _frame_field(column, is_text: bool, special: str) -> Field | None:
    """A frame's column as a :class:`Field`; None where Python must format it (text
    holding one of the ``special`` characters, which the csv module quotes, or very long;
    values of other kinds)."""
    kind = column.dtype.kind
    if is_text and kind in "iu":
        return int_field(column.to_numpy())
    if is_text and kind == "O":
        values = column.tolist()
        if not all(type(v) is str for v in values):
            return None
        joined = "".join(values)
        if any(char in joined for char in special):
            return None
        return text_field(values)
    if not is_text and kind == "f":
        return float_field(column.to_numpy())
    return None


def _joined(values: list) -> str:
    try:
        return "".join(values)  # text: one C call
    except TypeError:  # numbers (or a mix)
        return "".join(map(str, values))

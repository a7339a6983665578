"""Labels and learning tasks: where labels come from and what kind of problem they make.

Labels come from a table (TSV/CSV with an id column), from one FASTA file per class, or
from ``key=value`` pairs in FASTA headers.  The task is one of

``binary``, ``multilabel``  one or several 0/1 targets per sequence
``multiclass``    exactly one of several classes per sequence
``regression``    one or more real-valued targets
``segmentation``  0/1 tracks along the sequence; ``profile``: tracks of counts (>= 0)

and (the first four) is inferred from the values unless given.  Missing values (empty,
``NA``, ``NaN``, ``N/A``, ``null``, ``None``, ``.``, any case) are an error naming file,
record, line, column and value, unless ``missing_labels`` says to drop those records or
(multilabel, regression) to mask the entries (NaN in the labels, left out of the loss).
Ids in label tables are stripped of surrounding whitespace, as FASTA ids are.

The *head kind* (:data:`HEAD_KINDS`, :func:`task_head_kind`) is named here, below the code
that dispatches on it: ``"sequence"``, one value per target, ``(N, T)`` (``(N,)`` class
indices for multiclass), or ``"position"``, a track per target, ``(N, T, L_out)``.  Labels
read here are per sequence; per-position labels (:data:`POSITION_TASKS`): :mod:`seqcnn.sites`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from .errors import DataError, UsageError
from .splits import chromosome_of, split_indices

__all__ = [
    "TASKS",
    "HEAD_KINDS",
    "check_task",
    "check_head_kind",
    "POSITION_TASKS",
    "task_head_kind",
    "MISSING_POLICIES",
    "MISSING_VALUES",
    "check_missing_labels",
    "is_missing",
    "missing_rows",
    "read_label_table",
    "parse_header_labels",
    "make_labels",
    "table_labels",
    "infer_task",
    "class_name_from_path",
    "chromosome_of",
    "split_indices",
]

log = logging.getLogger("seqcnn")

TASKS = ("binary", "multiclass", "multilabel", "regression", "segmentation", "profile")
#: Tasks whose labels are tracks along the sequence, ``(N, T, L)``, for a position head.
POSITION_TASKS = ("segmentation", "profile")

#: What to do with a missing label: raise, leave the record out, or mask the entry.
MISSING_POLICIES = ("error", "drop", "mask")
#: Label values that mean "no label" (compared lower-case, after stripping whitespace).
MISSING_VALUES = ("", "na", "nan", "n/a", "null", "none", ".")

# 0/1 as words; numbers equal to 0 or 1 count too, however written (1, 1.00, 1e0)
_TRUE_WORDS = ("true", "t", "yes", "y")
_FALSE_WORDS = ("false", "f", "no", "n")
_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".gz", ".bgz", ".txt")


#: What a network's head returns per sequence: one value per target (``(N, T)``) or a
#: track per target along the sequence (``(N, T, L_out)``).
HEAD_KINDS = ("sequence", "position")


def check_task(task: str | None) -> None:
    """Raise a UsageError for an unknown task name (``None``, "infer it", passes)."""
    if task is not None and task not in TASKS:
        raise UsageError(f"unknown task '{task}'; choose one of {', '.join(TASKS)}")


def task_head_kind(task: str) -> str:
    """``"position"`` for :data:`POSITION_TASKS`, else ``"sequence"`` (UsageError: unknown)."""
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return "position" if task in POSITION_TASKS else "sequence"


def check_head_kind(
    head_kind: str, supported: tuple[str, ...] = ("sequence",), where: str = "this step"
) -> None:
    """Raise a UsageError unless ``head_kind`` is a head kind that ``where`` handles.

    Parameters
    ----------
    head_kind
        One of :data:`HEAD_KINDS` (``model.head_kind``).
    supported
        The kinds the caller handles.
    where
        What the caller is, named in the message (e.g. ``"compute_metrics"``).

    Raises
    ------
    seqcnn.errors.UsageError
        For a name not in :data:`HEAD_KINDS`, or a kind the caller does not handle yet.

    Examples
    --------
    >>> check_head_kind("sequence")
    >>> check_head_kind("position", where="compute_metrics")
    Traceback (most recent call last):
    ...
    seqcnn.errors.UsageError: compute_metrics does not handle per-position outputs ...
    """
    if head_kind not in HEAD_KINDS:
        raise UsageError(f"unknown head kind {head_kind!r}; choose one of {', '.join(HEAD_KINDS)}")
    if head_kind not in supported:
        what = "per-position" if head_kind == "position" else "per-sequence"
        raise UsageError(
            f"{where} does not handle {what} outputs (head kind {head_kind!r}) yet; "
            f"it handles: {', '.join(supported)}"
        )


def class_name_from_path(path: str) -> str:
    """Class name for a FASTA file: its name without FASTA/compression suffixes."""
    name = Path(path).name
    while True:
        lower = name.lower()
        stripped = next((name[: -len(s)] for s in _FASTA_SUFFIXES if lower.endswith(s)), None)
        if not stripped:
            return name
        name = stripped


def read_label_table(path: str, id_column: str | None = None, label_columns=None):
    """Read a label table (TSV, CSV, optionally gzipped) into a DataFrame indexed by id.

    Ids are stripped of surrounding whitespace (``"seq1 "`` is ``seq1``, as in a FASTA
    header); blank lines are skipped; a UTF-8 byte-order mark at the start is ignored.

    Parameters
    ----------
    path
        ``.tsv``/``.txt`` (tab-separated) or ``.csv`` (comma-separated), ``.gz`` allowed.
    id_column
        Column holding the record ids; default ``id`` if present, else the first column.
    label_columns
        Columns to use as labels; default every other column.

    Returns
    -------
    pandas.DataFrame
        Labels as strings, indexed by id, columns in the order given;
        ``table.attrs["lines"]`` holds each row's line number in the file, for messages.
    """
    import pandas as pd

    name = str(path)
    lower = name.lower().removesuffix(".gz")
    sep = "," if lower.endswith(".csv") else "\t"
    try:
        table = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,  # keep them, so that row i is on line i + 2
            encoding="utf-8-sig",
        )
    except FileNotFoundError:
        raise DataError("no such file", path=name) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise DataError(f"cannot read label table ({str(err).strip()})", path=name) from None
    if table.shape[1] < 2:
        raise DataError(
            "label table needs an id column and at least one label column "
            f"(found columns: {', '.join(table.columns)}; is the separator right for "
            "the file's extension?)",
            path=name,
        )
    if id_column is None:
        id_column = "id" if "id" in table.columns else table.columns[0]
    if id_column not in table.columns:
        raise UsageError(
            f"no id column '{id_column}'; columns are {', '.join(table.columns)}", path=name
        )
    if label_columns is None:
        label_columns = [c for c in table.columns if c != id_column]
    missing = [c for c in label_columns if c not in table.columns]
    if missing:
        raise UsageError(
            f"no label column(s) {', '.join(missing)}; columns are {', '.join(table.columns)}",
            path=name,
        )
    table = table.fillna("")  # short rows
    lines = np.arange(len(table)) + 2
    blank = (table.apply(lambda column: column.str.strip()) == "").all(axis=1).to_numpy()
    table, lines = table[~blank].copy(), lines[~blank]
    table[id_column] = table[id_column].str.strip()
    duplicated = table[id_column].duplicated(keep=False).to_numpy()
    if duplicated.any():
        first = table[id_column][duplicated].iloc[0]
        twice = lines[duplicated & (table[id_column] == first).to_numpy()]
        raise DataError(
            f"id appears twice in the label table (lines {twice[0]} and {twice[1]})",
            path=name,
            record=str(first),
        )
    table = table.set_index(id_column)[list(label_columns)]
    table.attrs["lines"] = lines
    return table


_PAIR = re.compile(r"(\S+?)=(\S+)")


def parse_header_labels(description: str) -> dict[str, str]:
    """``key=value`` pairs from the text after the id in a FASTA header.

    Examples
    --------
    >>> parse_header_labels("label=1 cell=K562")
    {'label': '1', 'cell': 'K562'}
    """
    return dict(_PAIR.findall(description))


def check_missing_labels(policy: str) -> None:
    """Raise a UsageError unless ``policy`` is one of :data:`MISSING_POLICIES`."""
    if policy not in MISSING_POLICIES:
        raise UsageError(
            f"unknown missing-label policy {policy!r}; choose one of {', '.join(MISSING_POLICIES)}"
        )


def is_missing(values: np.ndarray) -> np.ndarray:
    """Which label strings mean "no label": :data:`MISSING_VALUES`, in any case.

    Examples
    --------
    >>> is_missing(np.array([["1", " NA", "nan", "N/A", "null", ".", "", "0"]])).tolist()
    [[False, True, True, True, True, True, True, False]]
    """
    values = np.asarray(values, dtype=object).astype(str)
    return np.isin(np.char.lower(np.char.strip(values)), MISSING_VALUES)


class _Parsed:
    """What each label string of an ``(N, T)`` array reads as (stripped strings)."""

    def __init__(self, values: np.ndarray):
        import pandas as pd

        def numbers_of(texts: np.ndarray) -> np.ndarray:
            parsed = pd.to_numeric(pd.Series(texts.ravel(), dtype=object), errors="coerce")
            return parsed.to_numpy(np.float64, na_value=np.nan, copy=True).reshape(texts.shape)

        lowered = np.char.lower(values)
        self.missing = np.isin(lowered, MISSING_VALUES)
        self.numbers = numbers_of(values)
        self.numbers[self.missing] = np.nan
        self.finite = np.isfinite(self.numbers)
        # "3,5" (a decimal comma) or "1,000": numbers a user meant, not class names
        self.comma = np.char.find(values, ",") >= 0
        if self.comma.any():
            without = np.char.replace(values[self.comma], ",", "")
            self.comma[self.comma] = np.isfinite(numbers_of(without))
        self.true = np.isin(lowered, _TRUE_WORDS) | (self.numbers == 1)
        self.false = np.isin(lowered, _FALSE_WORDS) | (self.numbers == 0)
        self.binary = self.true | self.false

    def problem(self, row: int, col: int) -> str:
        """Why the value at ``(row, col)`` is not a number."""
        if self.comma[row, col]:
            return "is not a number (a decimal comma? write decimals with a point, e.g. 3.5)"
        if np.isinf(self.numbers[row, col]):
            return "is not a finite number"
        return "is not a number"


class _Place:
    """Names a label in messages: file, record, line, column and value."""

    def __init__(self, values, ids, columns, lines, source):
        self.values, self.ids, self.columns = values, ids, list(columns)
        self.lines, self.source = lines, source

    def line(self, row: int) -> str:
        return f"line {self.lines[row]}, " if self.lines is not None else ""

    def __call__(self, row: int, col: int) -> str:
        """``'3,5' (line 7, column 'y')``."""
        return f"'{self.values[row, col]}' ({self.line(row)}column '{self.columns[col]}')"

    def error(self, mask: np.ndarray, what, cls=DataError) -> Exception:
        """An error for the first (row-major) True entry of ``mask``; ``what(row, col)``
        says what is wrong with it."""
        row, col = (int(i) for i in np.argwhere(mask)[0])
        return cls(what(row, col), path=self.source, record=self.ids[row])


def _infer(parsed: _Parsed, place: _Place) -> str:
    present = ~parsed.missing
    n_columns = present.shape[1]
    if (parsed.binary | parsed.missing).all():
        return "binary" if n_columns == 1 else "multilabel"
    if (parsed.finite | parsed.missing).all():
        return "regression"
    # A column that is mostly numbers is numbers with stray values, not class names.
    numeric = (parsed.finite | parsed.comma | np.isinf(parsed.numbers)).sum(axis=0)
    columns = (2 * numeric >= present.sum(axis=0)) & (numeric > 0)
    stray = present & ~parsed.finite & columns[None, :]
    if stray.any():
        raise place.error(
            stray,
            lambda r, c: (
                f"label {place(r, c)} {parsed.problem(r, c)}, but most of the column is "
                "numbers: correct it, write it as NA (missing), or give --task multiclass "
                "if the values are class names"
            ),
        )
    if n_columns == 1:
        return "multiclass"
    raise DataError(
        "cannot tell the task from the labels: several columns "
        f"({', '.join(place.columns)}) that are neither 0/1 nor numbers; give --task",
        path=place.source,
    )


def infer_task(
    values: np.ndarray, columns=None, source: str | None = None, ids=None, lines=None
) -> str:
    """Infer the task from an ``(N, T)`` array of label strings (missing values ignored).

    0/1 values, however written (``1``, ``1.00``, ``true``, ``yes``...), make ``binary``
    (one column) or ``multilabel`` (several); other numbers make ``regression``; anything
    else in a single column makes ``multiclass``.  Integer class labels such as 0/1/2 are
    read as regression unless the task is given: pass ``task="multiclass"``.  A column of
    numbers with stray words, ``inf`` or decimal commas (``3,5``) is an error naming the
    first such value, not a class.

    Parameters
    ----------
    values
        Label strings.
    columns, source, ids, lines
        Column names, file, record ids and line numbers, named in error messages.

    Examples
    --------
    >>> infer_task(np.array([["1.00"], ["0"], ["true"]]))
    'binary'
    """
    values = np.char.strip(np.asarray(values, dtype=object).astype(str))
    n, n_columns = values.shape
    columns = list(columns) if columns is not None else [str(c) for c in range(n_columns)]
    ids = list(ids) if ids is not None else [f"row {i + 1}" for i in range(n)]
    return _infer(_Parsed(values), _Place(values, ids, columns, lines, source))


def make_labels(
    values: np.ndarray,
    ids: list[str],
    columns: list[str],
    task: str | None = None,
    classes: list[str] | None = None,
    source: str | None = None,
    *,
    missing_labels: str = "error",
    lines=None,
) -> tuple[np.ndarray, str, list[str]]:
    """Turn label strings into the array a model trains on.

    Parameters
    ----------
    values
        ``(N, T)`` array of label strings, rows in the order of ``ids``; values in
        :data:`MISSING_VALUES` (empty, ``NA``, ``NaN``, ``N/A``, ``null``, ``None``, ``.``,
        any case) are missing.
    ids
        Record ids, named in error messages.
    columns
        Names of the T label columns.
    task
        One of :data:`TASKS`, or ``None`` to infer it (see :func:`infer_task`).
    classes
        For multi-class labels, the class names in index order (default: sorted).
    source
        File named in error messages.
    missing_labels
        What a missing value does (:data:`MISSING_POLICIES`): ``"error"`` raises, naming
        the file, record, line, column and value; ``"drop"`` leaves the records with one
        out (the labels then have a row per record kept, ``~missing_rows(values)``; the
        count is logged as a warning); ``"mask"`` (multilabel and regression only) keeps
        them, with NaN for each missing entry, for the loss to skip.
    lines
        Each row's line number in ``source``, named in error messages.

    Returns
    -------
    labels, task, names
        ``labels`` is ``float32 (N, T)`` for binary/multilabel/regression and ``int64 (N,)``
        class indices for multiclass; ``names`` are the target or class names.

    Raises
    ------
    DataError
        A missing value (with ``"error"``), a value that does not fit the task, or a
        column with the same value for every record (nothing to learn).
    UsageError
        A task that does not fit the number of columns, or ``"mask"`` for a binary or
        multi-class task.
    """
    check_task(task)
    check_missing_labels(missing_labels)
    values = np.char.strip(np.asarray(values, dtype=object).astype(str))
    if values.ndim == 1:
        values = values[:, None]
    ids = list(ids)
    lines = None if lines is None else np.asarray(lines)
    place = _Place(values, ids, columns, lines, source)
    missing = is_missing(values)
    if missing.any() and missing_labels == "error":
        raise place.error(
            missing,
            lambda r, c: (
                f"no label in column '{columns[c]}' ({place.line(r)}value '{values[r, c]}'); "
                "fill it in, or use --missing-labels drop (leave such records out) or mask "
                "(multilabel and regression: leave the entry out of the loss)"
            ),
        )
    if missing.any() and missing_labels == "drop":
        keep = ~missing.any(axis=1)
        row, col = np.argwhere(missing)[0]
        log.warning(
            "%s: left out %d of %d records with a missing label (the first: record '%s', %s)",
            source or "labels", len(ids) - keep.sum(), len(ids), ids[row], place(row, col),
        )  # fmt: skip
        if not keep.any():
            raise DataError("every record has a missing label: no records left", path=source)
        rows = np.flatnonzero(keep)
        values, ids = values[keep], [ids[i] for i in rows]
        lines = None if lines is None else lines[keep]
        place = _Place(values, ids, columns, lines, source)
        missing = missing[keep]
    parsed = _Parsed(values)
    if task is None:
        task = _infer(parsed, place)
    if missing_labels == "mask" and task not in ("multilabel", "regression"):
        raise UsageError(
            f"--missing-labels mask is for multilabel and regression tasks, where one "
            f"target of a record can be left out; this is a {task} task: use drop instead",
            path=source,
        )
    if task in ("multiclass", "binary") and values.shape[1] != 1:
        hint = "; use --task multilabel" if task == "binary" else ""
        raise UsageError(
            f"task '{task}' takes one label column, got {len(columns)} "
            f"({', '.join(columns)}){hint}",
            path=source,
        )
    if task == "multiclass":
        return _class_labels(values[:, 0], place, classes)
    if task in ("binary", "multilabel"):
        bad = ~missing & ~parsed.binary
        labels = parsed.true.astype(np.float32)
        needs = f"is not 0/1 as a {task} task needs"
    else:
        with np.errstate(over="ignore"):
            labels = parsed.numbers.astype(np.float32)
        bad = ~missing & ~np.isfinite(labels)  # float32: 1e300 overflows to inf
        needs = "is not a finite number"
    if bad.any():
        raise place.error(bad, lambda r, c: f"label {place(r, c)} {needs}{_hint(parsed, r, c)}")
    labels[missing] = np.nan
    _check_varies(labels, place)
    return labels, task, list(columns)


def _hint(parsed: _Parsed, row: int, col: int) -> str:
    if parsed.comma[row, col]:
        return " (a decimal comma? write decimals with a point, e.g. 3.5)"
    return " (too large for 32-bit floats)" if parsed.finite[row, col] else ""


def _check_varies(labels: np.ndarray, place: _Place) -> None:
    """A column with one value for every record is an error naming it: nothing to learn."""
    for col, name in enumerate(place.columns):
        known = labels[:, col][~np.isnan(labels[:, col])]
        if known.size == 0:
            raise DataError(f"label column '{name}' has no labels, only missing values",
                            path=place.source)  # fmt: skip
        if (known == known[0]).all():
            raise DataError(
                f"label column '{name}' has the same value ({known[0]:g}) for every record: a "
                "model cannot learn anything from it; leave the column out or check the labels",
                path=place.source,
            )


def _class_labels(column: np.ndarray, place: _Place, classes) -> tuple:
    if classes is None:
        found = np.unique(column)
        try:  # numeric classes in numeric order
            order = np.argsort(found.astype(float), kind="stable")
            found = found[order]
        except ValueError:
            pass
        classes = [str(c) for c in found]
    lookup = {c: i for i, c in enumerate(classes)}
    unknown = ~np.isin(column, list(lookup))
    if unknown.any():
        raise place.error(
            unknown[:, None],
            lambda r, c: f"label {place(r, c)} is not one of the classes {', '.join(classes)}",
        )
    labels = np.fromiter((lookup[c] for c in column), dtype=np.int64, count=len(column))
    if np.unique(labels).size < 2:
        raise DataError(
            f"label column '{place.columns[0]}' has one class ('{column[0]}') for every "
            "record; multi-class labels need at least two classes",
            path=place.source,
        )
    return labels, "multiclass", list(classes)


def missing_rows(values: np.ndarray) -> np.ndarray:
    """``bool (N,)``: the rows of an ``(N, T)`` array of label strings with a missing value
    (the records ``missing_labels="drop"`` leaves out)."""
    missing = is_missing(values)
    return missing.reshape(len(missing), -1).any(axis=1)


def table_labels(
    table,
    ids: list[str],
    task: str | None = None,
    source: str | None = None,
    missing_labels: str = "error",
) -> tuple[np.ndarray, str, list[str], np.ndarray | None]:
    """Labels of the records ``ids`` from a table read by :func:`read_label_table`.

    Parameters
    ----------
    table
        The label table, indexed by id; rows for other records are ignored.
    ids
        The records, in order.
    task, source, missing_labels
        As in :func:`make_labels`; with ``"drop"``, records that have no row in the table
        are left out too (and counted in a warning).

    Returns
    -------
    labels, task, names, keep
        As :func:`make_labels`, and ``keep``, ``bool (N,)``, the records kept (``None``:
        all of them).

    Raises
    ------
    DataError
        A record with no row in the table (unless ``"drop"``), and as :func:`make_labels`.
    """
    check_missing_labels(missing_labels)
    position = table.index.get_indexer(ids)
    absent = position < 0
    n = len(ids)
    if absent.any():
        first = ids[int(np.flatnonzero(absent)[0])]
        if missing_labels != "drop":
            example = f"; the table's ids look like '{table.index[0]}'" if len(table) else ""
            raise DataError(
                f"record has no row in the label table ({int(absent.sum())} of {n} records "
                f"have none{example}); use --missing-labels drop to leave them out",
                path=source,
                record=first,
            )
        log.warning("%s: left out %d of %d records that have no row in the label table "
                    "(the first: '%s')", source, absent.sum(), n, first)  # fmt: skip
        if absent.all():
            raise DataError("no record has a row in the label table", path=source)
    keep = ~absent
    rows = position[keep]
    values = table.to_numpy(dtype=object)[rows]
    lines = table.attrs.get("lines")
    labels, task, names = make_labels(
        values, [ids[i] for i in np.flatnonzero(keep)], list(table.columns), task,
        source=source, missing_labels=missing_labels,
        lines=None if lines is None else np.asarray(lines)[rows],
    )  # fmt: skip
    if missing_labels != "drop":
        return labels, task, names, None
    keep[keep] = ~missing_rows(values)
    return labels, task, names, (None if keep.all() else keep)

"""Labels and learning tasks: where labels come from and what kind of problem they make.

Labels come from a table (TSV/CSV with an id column), from one FASTA file per class, or
from ``key=value`` pairs in FASTA headers.  The task is one of

``binary``      one 0/1 target
``multilabel``  several 0/1 targets per sequence (e.g. one per motif or cell type)
``multiclass``  exactly one of several classes per sequence
``regression``  one or more real-valued targets

and is inferred from the values unless given.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import DataError, UsageError

__all__ = [
    "TASKS",
    "read_label_table",
    "parse_header_labels",
    "make_labels",
    "infer_task",
    "class_name_from_path",
    "chromosome_of",
]

TASKS = ("binary", "multiclass", "multilabel", "regression")

_TRUE = {"1", "true", "t", "yes", "y", "1.0"}
_FALSE = {"0", "false", "f", "no", "n", "0.0"}
_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".gz", ".bgz", ".txt")


def check_task(task: str | None) -> None:
    """Raise a UsageError for an unknown task name."""
    if task is not None and task not in TASKS:
        raise UsageError(f"unknown task '{task}'; choose one of {', '.join(TASKS)}")


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
        Labels as strings, indexed by id, columns in the order given.
    """
    import pandas as pd

    name = str(path)
    lower = name.lower().removesuffix(".gz")
    sep = "," if lower.endswith(".csv") else "\t"
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
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
    duplicated = table[id_column].duplicated()
    if duplicated.any():
        raise DataError(
            "id appears twice in the label table",
            path=name,
            record=str(table[id_column][duplicated].iloc[0]),
        )
    return table.set_index(id_column)[list(label_columns)]


_PAIR = re.compile(r"(\S+?)=(\S+)")


def parse_header_labels(description: str) -> dict[str, str]:
    """``key=value`` pairs from the text after the id in a FASTA header.

    Examples
    --------
    >>> parse_header_labels("label=1 cell=K562")
    {'label': '1', 'cell': 'K562'}
    """
    return dict(_PAIR.findall(description))


def _as_binary(values: np.ndarray) -> np.ndarray | None:
    lowered = np.char.lower(np.char.strip(values.astype(str)))
    is_true = np.isin(lowered, list(_TRUE))
    is_false = np.isin(lowered, list(_FALSE))
    if (is_true | is_false).all():
        return is_true.astype(np.float32)
    return None


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(values.ravel()), errors="coerce").to_numpy(np.float64)
    if np.isfinite(numbers).all():
        return numbers.reshape(values.shape)
    return None


def infer_task(values: np.ndarray) -> str:
    """Infer the task from an ``(N, T)`` array of label strings.

    0/1 (or true/false) values make ``binary`` (one column) or ``multilabel`` (several);
    other numbers make ``regression``; anything else in a single column makes
    ``multiclass``.  Integer class labels such as 0/1/2 are read as regression unless the
    task is given: pass ``task="multiclass"``.
    """
    if _as_binary(values) is not None:
        return "binary" if values.shape[1] == 1 else "multilabel"
    if _as_numbers(values) is not None:
        return "regression"
    if values.shape[1] == 1:
        return "multiclass"
    raise DataError(
        "cannot tell the task from the labels: several columns that are neither 0/1 nor "
        "numbers; give --task"
    )


def make_labels(
    values: np.ndarray,
    ids: list[str],
    columns: list[str],
    task: str | None = None,
    classes: list[str] | None = None,
    source: str | None = None,
) -> tuple[np.ndarray, str, list[str]]:
    """Turn label strings into the array a model trains on.

    Parameters
    ----------
    values
        ``(N, T)`` array of label strings, rows in the order of ``ids``; empty strings
        mean a missing label.
    ids
        Record ids, named in error messages.
    columns
        Names of the T label columns.
    task
        One of :data:`TASKS`, or ``None`` to infer it.
    classes
        For multi-class labels, the class names in index order (default: sorted).
    source
        File named in error messages.

    Returns
    -------
    labels, task, names
        ``labels`` is ``float32 (N, T)`` for binary/multilabel/regression and ``int64 (N,)``
        class indices for multiclass; ``names`` are the target or class names.
    """
    check_task(task)
    values = np.asarray(values, dtype=object).astype(str)
    if values.ndim == 1:
        values = values[:, None]
    empty = np.char.str_len(np.char.strip(values)) == 0
    if empty.any():
        row, col = (int(i[0]) for i in np.nonzero(empty))
        raise DataError(f"no label in column '{columns[col]}'", path=source, record=ids[row])
    if task is None:
        task = infer_task(values)

    def bad_row(mask: np.ndarray, what: str) -> DataError:
        row = int(np.flatnonzero(mask.reshape(len(ids), -1).any(axis=1))[0])
        shown = ", ".join(values[row])
        return DataError(f"label '{shown}' {what}", path=source, record=ids[row])

    if task in ("binary", "multilabel"):
        if task == "binary" and values.shape[1] != 1:
            raise UsageError(
                f"task 'binary' takes one label column, got {len(columns)} "
                f"({', '.join(columns)}); use --task multilabel",
                path=source,
            )
        labels = _as_binary(values)
        if labels is None:
            lowered = np.char.lower(np.char.strip(values))
            ok = np.isin(lowered, list(_TRUE | _FALSE))
            raise bad_row(~ok, f"is not 0/1 as a {task} task needs")
        return labels.astype(np.float32), task, list(columns)
    if task == "regression":
        numbers = _as_numbers(values)
        if numbers is None:
            import pandas as pd

            parsed = pd.to_numeric(pd.Series(values.ravel()), errors="coerce").to_numpy()
            raise bad_row(~np.isfinite(parsed.astype(float)), "is not a finite number")
        return numbers.astype(np.float32), task, list(columns)
    # multiclass
    if values.shape[1] != 1:
        raise UsageError(
            f"task 'multiclass' takes one label column, got {len(columns)}", path=source
        )
    column = np.char.strip(values[:, 0])
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
        raise bad_row(unknown, f"is not one of the classes {', '.join(classes)}")
    if len(classes) < 2:
        raise DataError(
            f"multi-class labels need at least two classes, found only '{classes[0]}'",
            path=source,
        )
    labels = np.fromiter((lookup[c] for c in column), dtype=np.int64, count=len(column))
    return labels, task, list(classes)


_COORDINATE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)")


def chromosome_of(record_id: str) -> str | None:
    """The chromosome of a ``chr1:100-200`` style id, or ``None`` if it has no coordinates.

    Examples
    --------
    >>> chromosome_of("chr8:1200-1300(+)")
    'chr8'
    >>> chromosome_of("seq1") is None
    True
    """
    match = _COORDINATE.match(record_id)
    return match.group("chrom") if match else None


def split_indices(
    ids: list[str],
    *,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.0,
    valid_chroms: list[str] | None = None,
    test_chroms: list[str] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Split records into training, validation and test rows.

    Chromosome lists (for ``chr1:100-200`` style ids) take precedence over fractions for
    the split they name; the rest is split at random with ``seed``.

    Returns
    -------
    dict
        ``{"train": rows, "valid": rows, "test": rows}`` as sorted index arrays.

    Examples
    --------
    >>> parts = split_indices([f"chr{i % 3 + 1}:0-10" for i in range(9)], valid_chroms=["chr2"])
    >>> parts["valid"].tolist()
    [1, 4, 7]
    """
    n = len(ids)
    for name, value in (("valid fraction", valid_fraction), ("test fraction", test_fraction)):
        if not 0 <= value < 1:
            raise UsageError(f"{name} must be in [0, 1), got {value}")
    role = np.zeros(n, dtype=np.int8)  # 0 train, 1 valid, 2 test
    if valid_chroms or test_chroms:
        chroms = np.asarray([chromosome_of(i) for i in ids], dtype=object)
        missing = np.flatnonzero(chroms == None)  # noqa: E711 - elementwise
        if missing.size:
            raise DataError(
                "id has no chromosome coordinates (expected 'chr1:100-200'); chromosome "
                "splits need them — use a fraction instead",
                record=ids[int(missing[0])],
            )
        for value, chosen in ((2, test_chroms), (1, valid_chroms)):
            if chosen:
                role[np.isin(chroms, list(chosen))] = value
    rng = np.random.default_rng(seed)
    free = np.flatnonzero(role == 0)
    order = rng.permutation(free)
    take = 0
    for value, fraction, chosen in (
        (1, valid_fraction, valid_chroms),
        (2, test_fraction, test_chroms),
    ):
        if chosen:
            continue
        count = int(round(fraction * n))
        role[order[take : take + count]] = value
        take += count
    parts = {
        name: np.flatnonzero(role == value) for value, name in enumerate(("train", "valid", "test"))
    }
    if parts["train"].size == 0:
        raise DataError("no records left for training after the validation/test split")
    for name, chosen in (("valid", valid_chroms), ("test", test_chroms)):
        if chosen and parts[name].size == 0:
            raise DataError(f"no records on {', '.join(chosen)} for the {name} split")
    return parts

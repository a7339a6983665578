"""The data a run trains on: datasets resolved and checked against each other, and split.

Validation and test rows come either from separate datasets or from rows of the training
dataset (by fraction or by chromosome, see :func:`seqcnn.labels.split_indices`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset import Dataset, load_dataset
from ..errors import DataError, UsageError
from .options import TrainOptions

__all__ = [
    "Split",
    "TrainingData",
    "training_data",
    "split_indices_for",
    "is_fasta_input",
    "n_outputs",
]


@dataclass
class Split:
    """Rows of a dataset that play one role (validation or test)."""

    dataset: Dataset
    rows: np.ndarray


@dataclass
class TrainingData:
    """The training dataset, the rows trained on and the validation and test splits.

    Attributes
    ----------
    dataset, valid_dataset, test_dataset
        The training data and the separate validation/test datasets given (or ``None``).
    train_rows
        Rows of ``dataset`` trained on.
    valid, test
        Where validation and test rows come from (``test`` has no rows when no test set or
        fraction was asked for, unless ``valid_dataset`` was given: see
        :func:`training_data`).
    """

    dataset: Dataset
    valid_dataset: Dataset | None
    test_dataset: Dataset | None
    train_rows: np.ndarray
    valid: Split
    test: Split

    @property
    def task(self) -> str:
        return self.dataset.task

    def by_role(self) -> dict[str, Dataset | None]:
        """The datasets by role, as :func:`seqcnn.training.checkpoints.run_signature`
        takes them."""
        return {"train": self.dataset, "valid": self.valid_dataset, "test": self.test_dataset}


def training_data(
    data: Dataset | str | os.PathLike,
    valid: Dataset | str | os.PathLike | None,
    test: Dataset | str | os.PathLike | None,
    options: TrainOptions,
) -> TrainingData:
    """Load the datasets, check that they fit together and with the options, and split
    off validation and test rows.

    Separate datasets are used whole; what they do not cover is split off the training data
    by the options' fractions or chromosomes.

    Raises
    ------
    DataError
        A dataset is missing or unlabelled, the validation/test data disagree with the
        training data on task, labels or length, or the validation split is empty.
    UsageError
        ``options.loss`` or ``options.count_weight`` does not fit the task.
    """
    dataset = _resolve(data, "training data")
    _check_labelled(dataset, "training")
    valid_ds = _resolve(valid, "validation data")
    test_ds = _resolve(test, "test data")
    for other, name in ((valid_ds, "validation"), (test_ds, "test")):
        if other is not None:
            _check_matches(other, dataset, name)
    task = dataset.task
    if options.loss is not None and task != "regression":
        raise UsageError(f"--loss applies to regression, but the task is {task}")
    if getattr(options, "count_weight", None) is not None and task != "profile":
        raise UsageError(f"--count-weight applies to profile tasks, but the task is {task}")
    if options.loss == "poisson" and (dataset.labels < 0).any():
        raise DataError("poisson loss needs non-negative counts", path=str(dataset.path))

    if valid_ds is None or (test_ds is None and (options.test_fraction or options.test_chroms)):
        parts = split_indices_for(dataset, options, need_valid=valid_ds is None)
    else:
        parts = {"train": np.arange(len(dataset)), "valid": None, "test": None}
    valid_split = _whole(valid_ds) if valid_ds is not None else Split(dataset, parts["valid"])
    if test_ds is not None:
        test_split = _whole(test_ds)
    elif parts["test"] is not None:
        test_split = Split(dataset, parts["test"])
    else:
        # A separate validation set and no test rows asked for: there is no test set (the
        # training rows are no test of anything).
        test_split = Split(dataset, np.arange(0, dtype=np.int64))
    if valid_ds is None and len(valid_split.rows) == 0:
        raise DataError("the validation split is empty; raise --valid-fraction or give --valid")
    return TrainingData(dataset, valid_ds, test_ds, parts["train"], valid_split, test_split)


def split_indices_for(dataset: Dataset, options: TrainOptions, need_valid: bool) -> dict:
    """Split the training dataset's rows per the options.

    Returns
    -------
    dict
        ``{"train": rows, "valid": rows, "test": rows}`` (see
        :func:`seqcnn.labels.split_indices`); without ``need_valid`` no validation rows are
        split off.
    """
    from ..labels import split_indices

    return split_indices(
        dataset.ids,
        valid_fraction=options.valid_fraction if need_valid else 0.0,
        test_fraction=options.test_fraction,
        valid_chroms=options.valid_chroms if need_valid else None,
        test_chroms=options.test_chroms,
        seed=options.seed,
    )


def is_fasta_input(data) -> bool:
    """Whether ``data`` names FASTA file(s) or stdin rather than an encoded dataset."""
    if isinstance(data, Dataset):
        return False
    if isinstance(data, list | tuple):
        return len(data) != 1 or is_fasta_input(data[0])
    return str(data) == "-" or Path(data).is_file()


def n_outputs(dataset: Dataset) -> int:
    """Outputs the network needs for a dataset: one per class or per label column."""
    if dataset.task == "multiclass":
        return len(dataset.label_names)
    return dataset.labels.shape[1]


def _whole(dataset: Dataset) -> Split:
    return Split(dataset, np.arange(len(dataset)))


def _resolve(data, name: str) -> Dataset | None:
    if isinstance(data, Dataset):
        return data
    if data is None:
        return None
    path = Path(data)
    if path.is_dir():
        return load_dataset(path)
    raise DataError(
        f"{name} is not a dataset folder; create one with 'seqcnn encode' (or pass FASTA "
        "and labels to 'seqcnn train')",
        path=str(path),
    )


def _check_labelled(dataset: Dataset, name: str) -> None:
    if dataset.labels is None or dataset.task is None:
        raise DataError(
            f"the {name} dataset has no labels; encode it with --labels, --class-per-file or "
            "--header-labels",
            path=str(dataset.path),
        )


def _check_matches(other: Dataset, dataset: Dataset, name: str) -> None:
    _check_labelled(other, name)
    if other.task != dataset.task or other.label_names != dataset.label_names:
        raise DataError(
            f"the {name} dataset has task {other.task} with labels "
            f"{other.label_names}, the training data {dataset.task} with {dataset.label_names}",
            path=str(other.path),
        )
    if other.length != dataset.length:
        raise DataError(
            f"the {name} dataset has {other.length} bp sequences, the training data "
            f"{dataset.length} bp; encode both with the same --length",
            path=str(other.path),
        )

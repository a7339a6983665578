"""What shapes a training run (:class:`TrainOptions`) and what it returns (:class:`TrainResult`).

Importable without torch, so the command line can take its choices from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..alphabet import check_n_encoding
from ..errors import UsageError
from ..forward import DEVICES

__all__ = [
    "SCHEDULES",
    "REGRESSION_LOSSES",
    "TUNE_SELECTIONS",
    "TrainOptions",
    "TrainResult",
    "data_defaults",
    "resolve_data_defaults",
    "TASK_ARCHITECTURES",
    "fit_to_task",
]

#: Learning-rate schedules (``TrainOptions.schedule``).
SCHEDULES = ("plateau", "cosine", "constant")
#: Losses a regression task may use (``TrainOptions.loss``).
REGRESSION_LOSSES = ("mse", "poisson")

#: Which trial ``train --tune`` saves: the best if it leads the defaults significantly, or
#: the best (:mod:`seqcnn.training.selection`).
TUNE_SELECTIONS = ("significant", "best")
#: The architecture a task trains when none is named (any other task: ``cnn``).
TASK_ARCHITECTURES = {"segmentation": "unet", "profile": "bpnet"}


@dataclass
class TrainOptions:
    """Everything that shapes a training run (all stored in the bundle).

    Attributes
    ----------
    architecture, model_options
        Network name (``cnn``, ``resnet``, ``dilated``, ``unet``, ``bpnet``) and its
        options (see :func:`seqcnn.models.default_options`).  ``None``: the task's
        (:data:`TASK_ARCHITECTURES`, else ``cnn``); a per-sequence architecture trained on
        a per-position task gets a position head (:func:`fit_to_task`).
    epochs, batch_size, learning_rate, weight_decay
        AdamW settings and the maximum number of epochs.  ``None`` (the default for batch
        size, learning rate, weight decay and patience): chosen from the number of training
        sequences by :func:`data_defaults`.
    schedule
        ``plateau`` (halve the rate when the validation metric stalls), ``cosine``
        (anneal to zero over ``epochs``) or ``constant``.
    patience
        Stop after this many epochs without a better validation metric (``None``: by
        :func:`data_defaults`).
    grad_clip
        Clip the gradient norm to this value (``None``: no clipping).
    rc_augment, shift
        Train on random reverse complements, and on random shifts of up to ``shift``
        bases (the vacated bases become N).  Reverse-complement augmentation is a choice
        about the data, so it is never made for you: turn it on for double-stranded DNA
        where a site counts on either strand (ChIP/ATAC peaks, motif presence); leave it off
        for strand-specific tasks (RNA binding, splice sites, transcripts, promoters in a
        fixed orientation), where the reverse complement is another sequence.  The model
        then also predicts as the mean of both strands (``rc_average``).
    valid_fraction, test_fraction, valid_chroms, test_chroms
        How to split off validation and test rows when no separate datasets are given.
    loss
        For regression: ``mse`` (default) or ``poisson`` (counts; the network predicts the
        log rate).
    pos_weight
        For binary/multilabel: ``"balanced"`` weighs positives by negatives/positives per
        target; a number weighs all targets alike; ``None`` no weighting.  For segmentation
        the same per track, counted over its bases.
    count_weight
        For profile: λ, the weight of the counts term of the loss (``None``: the median
        total count per sequence and track / 10, at least 1, as ChromBPNet chooses it).
    n_encoding
        N/ambiguity encoding (default: the dataset's).
    seed
        Seed for initial weights, splits, batch order, augmentation and dropout.
    device
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    amp
        Mixed precision on CUDA (bfloat16 where supported, else float16 with scaling).

    Examples
    --------
    >>> options = TrainOptions(epochs=20, rc_augment=True, model_options={"first_filters": 128})
    >>> result = train("peaks.ds", "seqcnn_model", options=options, seed=1)  # doctest: +SKIP
    """

    architecture: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 100
    batch_size: int | None = None
    learning_rate: float | None = None
    weight_decay: float | None = None
    schedule: str = "plateau"
    patience: int | None = None
    grad_clip: float | None = 1.0
    rc_augment: bool = False
    shift: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.0
    valid_chroms: list[str] | None = None
    test_chroms: list[str] | None = None
    loss: str | None = None
    pos_weight: str | float | None = None
    count_weight: float | None = None
    n_encoding: str | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True

    def check(self) -> None:
        """Raise UsageError for values that cannot work."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size}
        for name, value in positive.items():
            if value is not None and int(value) < 1:
                raise UsageError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise UsageError(f"learning rate must be positive, got {self.learning_rate}")
        if self.weight_decay is not None and self.weight_decay < 0:
            raise UsageError(f"weight decay must be >= 0, got {self.weight_decay}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule '{self.schedule}'; choose {', '.join(SCHEDULES)}")
        if self.loss is not None and self.loss not in REGRESSION_LOSSES:
            raise UsageError(f"unknown loss '{self.loss}'; choose {', '.join(REGRESSION_LOSSES)}")
        if self.shift < 0:
            raise UsageError(f"shift must be >= 0, got {self.shift}")
        if self.patience is not None and self.patience < 1:
            raise UsageError(f"patience must be at least 1, got {self.patience}")
        if self.n_encoding is not None:
            check_n_encoding(self.n_encoding)
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise UsageError(f"unknown device '{self.device}'; choose auto, cpu, cuda or mps")
        if isinstance(self.pos_weight, str) and self.pos_weight != "balanced":
            raise UsageError("pos-weight must be 'balanced' or a number")
        if self.count_weight is not None and not self.count_weight >= 0:
            raise UsageError(f"count-weight must be >= 0, got {self.count_weight}")


# The data-size rule of data_defaults; the planted demo (21,000 training sequences) gets the
# settings it was tuned with (batch 64, AdamW 1e-3 / 1e-3, patience 6).
_PATIENCE_EXAMPLES = 120_000
_PATIENCE_RANGE = (6, 20)
_SMALL_DATA = 10_000


def data_defaults(n_train: int) -> dict[str, Any]:
    """Batch size, learning rate, weight decay and patience for ``n_train`` training rows.

    The rule (``benchmarks/defaults.py`` measures it):

    * ``batch_size`` 64, or 32 below 8,000 sequences: an epoch keeps >= ~125 steps.
    * ``learning_rate`` 1e-3 (AdamW) at any size.
    * ``weight_decay`` 1e-3, or 1e-2 below 10,000 sequences, where a network of a few
      hundred thousand weights fits the noise first (the 60 nt position set of
      ``benchmarks/defaults.py``, 8,000 sequences: test accuracy 0.826 against 0.822 with
      1e-3, mean of 3 seeds).
    * ``patience`` about 120,000 examples' worth of epochs, ``round(120000 / n_train)``
      within 6..20: small sets are cheap per epoch and their validation metric is noisy,
      so they wait longer; 6 at >= 21,000 sequences.

    Parameters
    ----------
    n_train
        Number of training sequences.

    Returns
    -------
    dict
        ``{"batch_size", "learning_rate", "weight_decay", "patience"}``.

    Examples
    --------
    >>> data_defaults(21_000)
    {'batch_size': 64, 'learning_rate': 0.001, 'weight_decay': 0.001, 'patience': 6}
    >>> data_defaults(2_000)["patience"]
    20
    """
    n = max(1, int(n_train))
    low, high = _PATIENCE_RANGE
    return {
        "batch_size": 64 if n >= 8_000 else 32,
        "learning_rate": 1e-3,
        "weight_decay": 1e-3 if n >= _SMALL_DATA else 1e-2,
        "patience": int(min(high, max(low, round(_PATIENCE_EXAMPLES / n)))),
    }


def fit_to_task(options: TrainOptions, task: str) -> TrainOptions:
    """``options`` with what the task decides filled in.

    The architecture, when none was named: :data:`TASK_ARCHITECTURES` (``unet`` for
    segmentation, ``bpnet`` for profiles), else ``cnn``.  A per-position task on a
    per-sequence architecture (``cnn``, ``resnet``, ``dilated``) without a ``head`` option
    gets ``head="position"``: its pooling and dense layers give way to a per-base head.

    Examples
    --------
    >>> fit_to_task(TrainOptions(), "profile").architecture
    'bpnet'
    >>> fit_to_task(TrainOptions(architecture="dilated"), "segmentation").model_options
    {'head': 'position'}
    """
    from ..labels import task_head_kind
    from ..models.names import POSITION_ARCHITECTURES

    changes: dict[str, Any] = {}
    architecture = options.architecture or TASK_ARCHITECTURES.get(task, "cnn")
    if architecture != options.architecture:
        changes["architecture"] = architecture
    per_position = task_head_kind(task) == "position"
    if per_position and architecture not in POSITION_ARCHITECTURES:
        if "head" not in options.model_options:
            changes["model_options"] = {**options.model_options, "head": "position"}
    return dataclasses.replace(options, **changes) if changes else options


def resolve_data_defaults(options: TrainOptions, n_train: int) -> TrainOptions:
    """``options`` with every field left ``None`` filled by :func:`data_defaults`.

    The result is what the bundle records, so a model says what it was trained with.
    """
    chosen = data_defaults(n_train)
    filled = {k: v for k, v in chosen.items() if getattr(options, k) is None}
    return dataclasses.replace(options, **filled) if filled else options


@dataclass
class TrainResult:
    """What :func:`seqcnn.training.train` returns: the model, its history and where it was
    saved."""

    model: Any
    history: Any
    path: Path | None
    metrics: dict[str, dict[str, float]]

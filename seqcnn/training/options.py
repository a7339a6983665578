"""What shapes a training run (:class:`TrainOptions`) and what it returns (:class:`TrainResult`).

Importable without torch, so the command line can take its choices from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..alphabet import check_n_encoding
from ..errors import UsageError
from ..forward import DEVICES

__all__ = ["SCHEDULES", "REGRESSION_LOSSES", "TrainOptions", "TrainResult"]

#: Learning-rate schedules (``TrainOptions.schedule``).
SCHEDULES = ("plateau", "cosine", "constant")
#: Losses a regression task may use (``TrainOptions.loss``).
REGRESSION_LOSSES = ("mse", "poisson")


@dataclass
class TrainOptions:
    """Everything that shapes a training run (all stored in the bundle).

    Attributes
    ----------
    architecture, model_options
        Network name (``cnn``, ``resnet``, ``dilated``) and its options
        (see :func:`seqcnn.models.default_options`).
    epochs, batch_size, learning_rate, weight_decay
        AdamW settings and the maximum number of epochs.
    schedule
        ``plateau`` (halve the rate when the validation metric stalls), ``cosine``
        (anneal to zero over ``epochs``) or ``constant``.
    patience
        Stop after this many epochs without a better validation metric.
    grad_clip
        Clip the gradient norm to this value (``None``: no clipping).
    rc_augment, shift
        Train on random reverse complements, and on random shifts of up to ``shift``
        bases (the vacated bases become N).
    valid_fraction, test_fraction, valid_chroms, test_chroms
        How to split off validation and test rows when no separate datasets are given.
    loss
        For regression: ``mse`` (default) or ``poisson`` (counts; the network predicts the
        log rate).
    pos_weight
        For binary/multilabel: ``"balanced"`` weighs positives by negatives/positives per
        target; a number weighs all targets alike; ``None`` no weighting.
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

    architecture: str = "cnn"
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-3
    schedule: str = "plateau"
    patience: int = 6
    grad_clip: float | None = 1.0
    rc_augment: bool = False
    shift: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.0
    valid_chroms: list[str] | None = None
    test_chroms: list[str] | None = None
    loss: str | None = None
    pos_weight: str | float | None = None
    n_encoding: str | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True

    def check(self) -> None:
        """Raise UsageError for values that cannot work."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size}
        for name, value in positive.items():
            if int(value) < 1:
                raise UsageError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        if self.learning_rate <= 0:
            raise UsageError(f"learning rate must be positive, got {self.learning_rate}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule '{self.schedule}'; choose {', '.join(SCHEDULES)}")
        if self.loss is not None and self.loss not in REGRESSION_LOSSES:
            raise UsageError(f"unknown loss '{self.loss}'; choose {', '.join(REGRESSION_LOSSES)}")
        if self.shift < 0:
            raise UsageError(f"shift must be >= 0, got {self.shift}")
        if self.patience < 1:
            raise UsageError(f"patience must be at least 1, got {self.patience}")
        if self.n_encoding is not None:
            check_n_encoding(self.n_encoding)
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise UsageError(f"unknown device '{self.device}'; choose auto, cpu, cuda or mps")
        if isinstance(self.pos_weight, str) and self.pos_weight != "balanced":
            raise UsageError("pos-weight must be 'balanced' or a number")


@dataclass
class TrainResult:
    """What :func:`seqcnn.training.train` returns: the model, its history and where it was
    saved."""

    model: Any
    history: Any
    path: Path | None
    metrics: dict[str, dict[str, float]]

"""Training: from an encoded dataset to a model bundle, one step per module.

:func:`train` runs the steps in order (:mod:`~seqcnn.training.run`):

* :mod:`~seqcnn.training.options`: :class:`TrainOptions` (everything that shapes a run)
  and :class:`TrainResult`.
* :mod:`~seqcnn.training.data`: load and check the datasets, split off validation and
  test rows.
* :mod:`~seqcnn.training.devices`: the device, mixed precision and ``torchrun`` processes.
* :mod:`~seqcnn.training.batches`: rows -> codes with reverse-complement and shift
  augmentation -> one-hot tensors.
* :mod:`~seqcnn.training.losses`: the loss, chosen by the network's head and the task.
* :mod:`~seqcnn.training.loop`: the epoch loop (AdamW, gradient clipping, the schedule,
  validation and early stopping).
* :mod:`~seqcnn.training.evaluation`: loss and metrics of a split, both strands for an
  ``rc_augment`` model.
* :mod:`~seqcnn.training.checkpoints`: a checkpoint after every epoch that survives
  ``kill -9``, and ``--resume``.
* :mod:`~seqcnn.training.finish`: the best weights evaluated on validation and test, the
  bundle written (:mod:`seqcnn.bundle`).

Reproducibility: the initial weights come from ``torch.manual_seed(seed)``, each epoch's
order, augmentation and dropout from seeds derived from ``(seed, epoch)``, so a resumed run
continues exactly as an uninterrupted one, and the same seed gives bit-identical weights on
the same CPU.
"""

from __future__ import annotations

from .options import REGRESSION_LOSSES, SCHEDULES, TUNE_SELECTIONS, TrainOptions, TrainResult
from .run import train

__all__ = [
    "train",
    "TrainOptions",
    "TrainResult",
    "SCHEDULES",
    "REGRESSION_LOSSES",
    "TUNE_SELECTIONS",
]

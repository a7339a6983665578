"""The loss a network is trained with, chosen by its head and the task.

A network declares what its head puts out (``network.head_kind``, see
:mod:`seqcnn.models`): ``"sequence"`` heads give one value per target and sequence,
``(N, T)``, and take the task's usual loss.  Other head kinds are refused until training
knows how to weigh them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError
from .options import TrainOptions

if TYPE_CHECKING:
    import torch

__all__ = ["TRAINABLE_HEADS", "head_kind", "criterion_for"]

#: Head kinds training has a loss for.
TRAINABLE_HEADS = ("sequence",)


def head_kind(network) -> str:
    """What a network's head declares it puts out (``"sequence"`` for networks that do not
    say)."""
    return getattr(network, "head_kind", "sequence")


def criterion_for(
    network, task: str, options: TrainOptions, labels: np.ndarray, device: torch.device
) -> torch.nn.Module:
    """The loss module for a network's head and a task.

    Parameters
    ----------
    network
        The network to train (its ``head_kind`` chooses the family of losses).
    task
        ``binary``, ``multilabel``, ``multiclass`` or ``regression``.
    options
        ``loss`` (regression: ``mse`` or ``poisson``) and ``pos_weight`` (binary and
        multilabel) are used.
    labels
        The training rows' labels (for ``pos_weight="balanced"``).
    device
        Where the loss's weights go.

    Raises
    ------
    UsageError
        The network's head is of a kind training does not support yet.
    """
    kind = head_kind(network)
    if kind not in TRAINABLE_HEADS:
        raise UsageError(
            f"training supports networks with a {' or '.join(TRAINABLE_HEADS)} head; this "
            f"network's head is '{kind}'"
        )
    return _sequence_criterion(task, options, labels, device)


def _sequence_criterion(task: str, options: TrainOptions, labels: np.ndarray, device):
    import torch
    from torch import nn

    from .masked import MaskedLoss

    if task in ("binary", "multilabel"):
        weight = None
        if options.pos_weight == "balanced":
            # Masked (NaN) labels count as neither positive nor negative.
            positives = np.nansum(labels, axis=0)
            negatives = (labels == 0).sum(axis=0)
            weight = negatives / np.maximum(positives, 1)
        elif options.pos_weight is not None:
            weight = np.full(labels.shape[1], float(options.pos_weight))
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=torch.float32, device=device)
        return MaskedLoss(nn.BCEWithLogitsLoss, pos_weight=weight)
    if task == "multiclass":
        return nn.CrossEntropyLoss()
    if options.loss == "poisson":
        return MaskedLoss(nn.PoissonNLLLoss, log_input=True, full=False)
    return MaskedLoss(nn.MSELoss)

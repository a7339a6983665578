"""The loss a network is trained with, chosen by its head and the task.

A network declares what its head puts out (``network.head_kind``, see
:mod:`seqcnn.models`): ``"sequence"`` heads give one value per target and sequence,
``(N, T)``, and take the task's usual loss; ``"position"`` heads give a track per target,
``(N, T, L_out)``, and train on a per-position task (:data:`seqcnn.labels.POSITION_TASKS`):
per-base binary cross-entropy for ``segmentation`` (positives weighted as for binary
tasks), BPNet's multinomial + counts loss for ``profile``
(:class:`~seqcnn.training.masked.ProfileLoss`).  The head must fit the task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError
from .options import TrainOptions

if TYPE_CHECKING:
    import torch

__all__ = [
    "TRAINABLE_HEADS",
    "head_kind",
    "criterion_for",
    "count_weight_from_data",
    "start_counts_head",
]

#: Head kinds training has a loss for.
TRAINABLE_HEADS = ("sequence", "position")


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
        A name in :data:`seqcnn.labels.TASKS`.
    options
        ``loss`` (regression: ``mse`` or ``poisson``), ``pos_weight`` (binary, multilabel,
        segmentation: per track over its bases) and ``count_weight`` (profile: λ; ``None``:
        :func:`count_weight_from_data` of the labels' output windows) are used.
    labels
        The training rows' labels (for ``pos_weight="balanced"`` and the profile's λ).
    device
        Where the loss's weights go.

    Raises
    ------
    UsageError
        The network's head does not fit the task (a per-position task needs a position
        head, any other task a sequence head).
    """
    from ..labels import task_head_kind

    kind = head_kind(network)
    if kind not in TRAINABLE_HEADS:
        raise UsageError(
            f"training supports networks with a {' or '.join(TRAINABLE_HEADS)} head; this "
            f"network's head is '{kind}'"
        )
    wanted = task_head_kind(task)
    if kind != wanted:
        if wanted == "position":
            raise UsageError(
                f"the task {task} has labels along the sequence and needs a per-position "
                f"network: --arch unet or bpnet, or --option head=position"
            )
        raise UsageError(f"the task {task} needs a per-sequence network, not a {kind!r} head")
    if kind == "position":
        return _position_criterion(network, task, options, labels, device)
    return _sequence_criterion(task, options, labels, device)


def _balanced_weight(positives: np.ndarray, negatives: np.ndarray, options: TrainOptions):
    """``pos_weight`` per target: negatives/positives ("balanced"), a number, or None."""
    if options.pos_weight == "balanced":
        return negatives / np.maximum(positives, 1)
    if options.pos_weight is not None:
        return np.full(len(positives), float(options.pos_weight))
    return None


def count_weight_from_data(totals: np.ndarray) -> float:
    """λ of the profile loss from the training data, as ChromBPNet chooses it: the median
    total count of a sequence's output window (per track) divided by 10, at least 1.

    The profile term grows with the depth of the data and the counts term does not, so
    the weight scales with the typical total to keep both in play.

    Parameters
    ----------
    totals
        Total counts per training sequence and track.

    Examples
    --------
    >>> count_weight_from_data(np.array([50.0, 200.0, 400.0]))
    20.0
    >>> count_weight_from_data(np.array([3.0, 5.0]))
    1.0
    """
    totals = np.asarray(totals, dtype=np.float64).ravel()
    totals = totals[~np.isnan(totals)]
    if not totals.size:
        return 1.0
    return float(max(1.0, np.median(totals) / 10.0))


def _position_criterion(network, task: str, options: TrainOptions, labels, device):
    import torch

    from .masked import PositionBCE, ProfileLoss

    output_length = network.output_shape()[-1]
    if task == "profile":
        weight = getattr(options, "count_weight", None)
        if weight is None:
            weight = count_weight_from_data(_window_totals(labels, output_length))
        return ProfileLoss(weight)
    weight = None
    if options.pos_weight is not None:
        positives, negatives = _window_classes(labels, output_length)
        weight = _balanced_weight(positives, negatives, options)
        weight = torch.as_tensor(weight, dtype=torch.float32, device=device)
    return PositionBCE(weight)


# Rows of (N, T, L) labels looked at a time: the training labels may be a large memory map.
_ROWS = 1024


def start_counts_head(network, labels) -> bool:
    """Start a profile network's counts head at the training data's mean ``log(1 + total)``
    per track over the output window, as ChromBPNet does, so that training begins at the
    right depth instead of spending its first epochs on the offset.

    Parameters
    ----------
    network
        The network; only a head with ``start_counts_at`` (a
        :class:`~seqcnn.models.heads.ProfileHead`) is changed.
    labels
        The training rows' count labels ``(N, T, L)``.

    Returns
    -------
    bool
        Whether the head was changed.
    """
    import torch

    head = getattr(network, "head", None)
    if not hasattr(head, "start_counts_at") or labels is None or not len(labels):
        return False
    output_length = network.output_shape()[-1]
    sums = np.zeros(labels.shape[1])
    rows = np.zeros(labels.shape[1])
    for totals, known in _track_totals(labels, output_length):
        sums += np.where(known, np.log1p(totals), 0).sum(axis=0)
        rows += known.sum(axis=0)
    mean = np.divide(sums, rows, out=np.zeros_like(sums), where=rows > 0)
    head.start_counts_at(torch.as_tensor(mean, dtype=torch.float32))
    return True


def _track_totals(labels, output_length: int):
    """``(totals, known)`` per block of rows, each ``(rows, T)``: the total count of each
    row and track over the output window, and whether it has a known base."""
    from ..position_metrics import centre_labels, track_values

    for start in range(0, len(labels), _ROWS):
        values = centre_labels(track_values(labels[start : start + _ROWS]), output_length)
        known = ~np.isnan(values)
        yield np.where(known, values, 0).sum(axis=-1), known.any(axis=-1)


def _window_totals(labels, output_length: int) -> np.ndarray:
    """Total counts of each training row and track over the output window (tracks with no
    known base left out)."""
    if labels is None:
        return np.zeros(0)
    totals = [block[known] for block, known in _track_totals(labels, output_length)]
    return np.concatenate(totals) if totals else np.zeros(0)


def _window_classes(labels, output_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative bases per track over the output window (unknown: neither)."""
    from ..position_metrics import centre_labels

    positives = negatives = 0
    for start in range(0, len(labels), _ROWS):
        values = centre_labels(np.asarray(labels[start : start + _ROWS]), output_length)
        positives = positives + (values == 1).sum(axis=(0, 2))
        negatives = negatives + (values == 0).sum(axis=(0, 2))
    return np.asarray(positives), np.asarray(negatives)


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

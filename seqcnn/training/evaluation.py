"""Evaluating a network in training: the loss and the task's metrics on a split.

Predictions go through :func:`seqcnn.forward.run_network`, as ``seqcnn predict`` makes them,
so the metrics stored in a bundle are those of the predictions a user gets: a model trained
on both strands (``rc_augment``) is evaluated on both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .data import Split
from .options import TrainOptions

if TYPE_CHECKING:
    import torch

__all__ = ["predict_rows", "split_logits", "evaluate"]


def predict_rows(
    network,
    split: Split,
    *,
    batch_size: int,
    n_encoding: str,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    rc_transform: str | None = None,
) -> torch.Tensor:
    """Logits of a split's rows, as a float32 CPU tensor.

    With ``rc_transform`` (the output transform's name), both strands are predicted and
    averaged after the transform, as ``seqcnn predict --rc-average`` does, and the mean is
    returned as logits again (its inverse).
    """
    import torch

    from ..forward import invert_transform, run_network

    rows, codes = split.rows, split.dataset.codes
    batches = (
        np.asarray(codes[rows[start : start + batch_size]])
        for start in range(0, len(rows), batch_size)
    )
    outputs = run_network(
        network,
        batches,
        transform=rc_transform,
        rc_average=rc_transform is not None,
        n_encoding=n_encoding,
        device=device,
        amp_dtype=amp_dtype,
    )
    if not len(rows):
        shape = network.output_shape() if hasattr(network, "output_shape") else None
        return torch.zeros((0, *(shape or (network.config["n_outputs"],))))
    logits = torch.from_numpy(outputs)
    if rc_transform is None:
        return logits
    # Batch by batch, as predicted: an elementwise kernel may round a tensor's tail
    # differently from its body, so one long tensor could change the last bit of a logit.
    return torch.cat([invert_transform(part, rc_transform) for part in logits.split(batch_size)])


def split_logits(
    network,
    split: Split,
    task: str,
    options: TrainOptions,
    *,
    n_encoding: str,
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> torch.Tensor:
    """Logits of a split's rows as the validation metrics see them: a model trained on both
    strands (``options.rc_augment``) is predicted on both, as it predicts by default."""
    from ..forward import output_transform

    rc_transform = output_transform(task, options.loss) if options.rc_augment else None
    return predict_rows(
        network,
        split,
        batch_size=options.batch_size * 4,
        n_encoding=n_encoding,
        device=device,
        amp_dtype=amp_dtype,
        rc_transform=rc_transform,
    )


def evaluate(
    network,
    split: Split,
    task: str,
    criterion,
    options: TrainOptions,
    *,
    n_encoding: str,
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> dict[str, Any]:
    """The task's metrics (:func:`seqcnn.metrics.compute_metrics`, or
    :func:`seqcnn.position_metrics.compute_position_metrics` for a per-position task) and
    ``"loss"`` on a split.

    The network's mode is left as it was.
    """
    import torch

    from ..labels import POSITION_TASKS
    from ..metrics import compute_metrics

    logits = split_logits(
        network, split, task, options, n_encoding=n_encoding, device=device, amp_dtype=amp_dtype
    )
    if task in POSITION_TASKS:
        return _evaluate_positions(logits, split, task, criterion, device)
    y = torch.from_numpy(np.asarray(split.dataset.labels[split.rows]))
    y = y.long() if task == "multiclass" else y.float()
    loss = float(criterion.to("cpu")(logits, y)) if len(split.rows) else float("nan")
    criterion.to(device)
    metrics = compute_metrics(task, y.numpy(), logits.numpy(), poisson=options.loss == "poisson")
    metrics["loss"] = loss
    return metrics


def _evaluate_positions(logits, split: Split, task: str, criterion, device) -> dict[str, Any]:
    """Loss and per-position metrics of a split's outputs ``(N, T, L_out)``."""
    import torch

    from ..position_metrics import compute_position_metrics, track_values

    values = track_values(split.dataset.labels[split.rows])
    loss = float("nan")
    if len(split.rows):
        loss = float(criterion.to("cpu")(logits, torch.from_numpy(values)))
        criterion.to(device)
    return compute_position_metrics(task, values, logits.numpy(), loss=loss)

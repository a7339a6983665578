"""Losses that leave unknown labels out: the targets stored as NaN by
``encode(missing_labels="mask")``."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MaskedLoss"]


class MaskedLoss(nn.Module):
    """The mean of an element-wise loss over the labels that are known.

    Labels stored as NaN are left out of both the sum and the count, so a record with some
    unknown targets still trains the others.  Without NaN in a batch this is the plain mean,
    the same numbers as the loss's own ``reduction="mean"``.

    Parameters
    ----------
    loss
        A loss class taking ``reduction=`` (``nn.BCEWithLogitsLoss``, ``nn.MSELoss``, ...).
    **options
        Passed to it.

    Examples
    --------
    >>> loss = MaskedLoss(nn.MSELoss)
    >>> float(loss(torch.tensor([1.0, 5.0]), torch.tensor([0.0, float("nan")])))
    1.0
    """

    def __init__(self, loss: type[nn.Module], **options):
        super().__init__()
        # The loss's own mean where every label is known: its gradients are not bit for bit
        # those of an element-wise loss followed by .mean(), and models must not change.
        self.mean = loss(reduction="mean", **options)
        self.elementwise = loss(reduction="none", **options)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        known = ~torch.isnan(target)
        if bool(known.all()):
            return self.mean(logits, target)
        values = self.elementwise(logits, torch.where(known, target, torch.zeros_like(target)))
        return (values * known).sum() / known.sum().clamp_min(1)

"""Losses that leave unknown labels out: the targets stored as NaN by
``encode(missing_labels="mask")``, and the unknown bases of per-position tracks."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MaskedLoss", "PositionBCE", "ProfileLoss"]


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


def _centred(target: torch.Tensor, length: int) -> torch.Tensor:
    from ..position_metrics import centre_labels

    return centre_labels(target, length)


class PositionBCE(nn.Module):
    """Per-base binary cross-entropy of a segmentation: the mean over the known bases.

    Targets are tracks ``(N, T, L)`` (NaN: unknown base), cropped to the central
    ``L_out`` bases the logits ``(N, T, L_out)`` cover.

    Parameters
    ----------
    pos_weight
        Weight of the positive bases per track, ``(T,)`` (``None``: 1).

    Examples
    --------
    >>> loss = PositionBCE()
    >>> target = torch.tensor([[[float("nan"), 1.0, 0.0, float("nan")]]])
    >>> round(float(loss(torch.zeros(1, 1, 2), target)), 4)  # log(2), the masked ends cut
    0.6931
    """

    def __init__(self, pos_weight: torch.Tensor | None = None):
        super().__init__()
        weight = None if pos_weight is None else pos_weight.reshape(-1, 1)
        self.loss = MaskedLoss(nn.BCEWithLogitsLoss, pos_weight=weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss(logits, _centred(target, logits.shape[-1]))


class ProfileLoss(nn.Module):
    """BPNet's loss: multinomial NLL of the profile + ``count_weight`` · MSE of log counts.

    For each sequence and track, with observed counts ``x_i`` over the known bases (total
    ``n``) and outputs (log-rates) ``o_i``::

        profile = -(lgamma(n + 1) - sum_i lgamma(x_i + 1) + sum_i x_i log softmax(o)_i)
        counts  = (logsumexp_i o_i - log(1 + n)) ** 2

    The loss is the mean of ``profile`` plus ``count_weight`` times the mean of ``counts``
    over the sequences and tracks with a known base.  Targets ``(N, T, L)`` (NaN: unknown)
    are cropped to the central bases the outputs ``(N, T, L_out)`` cover; unknown bases
    leave both the profile and the total.

    Parameters
    ----------
    count_weight
        λ, the weight of the counts term (see :func:`count_weight_from_data`).
    """

    def __init__(self, count_weight: float = 1.0):
        super().__init__()
        self.count_weight = float(count_weight)

    def forward(self, log_rates: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = _centred(target, log_rates.shape[-1])
        known = ~torch.isnan(target)
        counts = torch.where(known, target, torch.zeros_like(target))
        has_known = known.any(dim=-1)
        # A track with no known base keeps finite logits; it is left out below.
        logits = log_rates.masked_fill(~known & has_known.unsqueeze(-1), float("-inf"))
        log_p = torch.log_softmax(logits, dim=-1)
        total = counts.sum(dim=-1)
        log_likelihood = (
            torch.lgamma(total + 1)
            - torch.lgamma(counts + 1).sum(dim=-1)
            + (counts * torch.where(known, log_p, torch.zeros_like(log_p))).sum(dim=-1)
        )
        squared = (torch.logsumexp(logits, dim=-1) - torch.log1p(total)) ** 2
        if not bool(has_known.all()):
            log_likelihood, squared = log_likelihood[has_known], squared[has_known]
        return -log_likelihood.mean() + self.count_weight * squared.mean()

    def extra_repr(self) -> str:
        return f"count_weight={self.count_weight:g}"

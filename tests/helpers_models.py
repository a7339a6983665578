"""Hand-made toy networks that follow the SeqCNN contract (stem / body / head).

They let interpretation code be tested without training and without seqcnn.models:
``stem.conv`` is a valid ``Conv1d(4, F, w)`` whose weights the test chooses (e.g. the
log-odds of a known PWM), followed by ``stem.norm`` and ``stem.activation``; ``body``
pools each filter over positions; ``head`` is a ``Linear(F, T)``, and the network declares
a sequence head as :class:`seqcnn.models.SeqCNN` does (``head_kind``, ``output_shape``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Exp(nn.Module):
    """The exponential activation (Koo & Ploenzke 2021)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


ACTIVATIONS = {"relu": nn.ReLU, "exp": Exp, "identity": nn.Identity}


class ToyStem(nn.Module):
    """``activation(norm(conv(x)))`` with a fixed convolution."""

    def __init__(self, weight, bias=None, activation: str = "relu", batch_norm: bool = False):
        super().__init__()
        weight = torch.as_tensor(np.asarray(weight), dtype=torch.float32)
        n_filters, _, width = weight.shape
        self.conv = nn.Conv1d(4, n_filters, width)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            self.conv.bias.copy_(
                torch.zeros(n_filters) if bias is None else torch.as_tensor(bias).float()
            )
        self.norm = nn.BatchNorm1d(n_filters) if batch_norm else nn.Identity()
        self.activation = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.conv(x)))


class ToySeqCNN(nn.Module):
    """A SeqCNN look-alike: ``head(body(stem(x)))``.

    Parameters
    ----------
    weight
        First-layer weights ``(F, 4, w)``.
    bias
        First-layer biases ``(F,)``; zeros by default.
    head_weight, head_bias
        The head ``Linear(F, T)``: weights ``(T, F)`` and biases ``(T,)``; by default one
        output that sums the pooled filters.
    pooling
        ``"max"`` or ``"mean"`` over positions, per filter.
    """

    def __init__(
        self,
        weight,
        bias=None,
        head_weight=None,
        head_bias=None,
        activation: str = "relu",
        pooling: str = "max",
        batch_norm: bool = False,
    ):
        super().__init__()
        self.stem = ToyStem(weight, bias, activation, batch_norm)
        n_filters = self.stem.conv.out_channels
        pool = nn.AdaptiveMaxPool1d(1) if pooling == "max" else nn.AdaptiveAvgPool1d(1)
        self.body = nn.Sequential(pool, nn.Flatten())
        head_weight = np.ones((1, n_filters)) if head_weight is None else np.asarray(head_weight)
        self.head = nn.Linear(n_filters, head_weight.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(torch.as_tensor(head_weight).float())
            self.head.bias.copy_(
                torch.zeros(head_weight.shape[0])
                if head_bias is None
                else torch.as_tensor(head_bias).float()
            )
        self.eval()

    head_kind = "sequence"

    def output_shape(self, input_length: int | None = None) -> tuple[int, ...]:
        """``(T,)``: one value per output, whatever the length."""
        return (self.head.out_features,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))


class ToyBundle:
    """Stands in for ``seqcnn.bundle.Model``: only ``.network`` is used by interpretation."""

    def __init__(self, network: nn.Module):
        self.network = network


def log_odds_weight(pwm: np.ndarray, background: float = 0.25) -> np.ndarray:
    """Conv weights ``(4, w)`` whose output is the log2-odds score of a ``(w, 4)`` PWM."""
    return np.log2(np.asarray(pwm) / background).T

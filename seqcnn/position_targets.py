"""What attribution explains for a per-position model: one number per track and sequence.

A per-position network returns ``(N, T, L_out)`` raw outputs; saliency, ISM and
DeepLIFT/SHAP explain one scalar per sequence, so the positions are reduced first
(:class:`PositionTarget`: the network and a reduction, ``(N, 4, L) -> (N, T)``), then the
target track is taken as for a sequence model.  The reductions (``position_target``):

``"counts"``   ``log sum_l exp(y_l)``: the log of the predicted total over the positions
               (for log-rate outputs; for a bpnet exactly its counts head).  Default for
               ``profile`` models.
``"profile"``  ``sum_l softmax(y)_l * (y_l - mean(y))`` with the softmax weights held
               constant (detached), BPNet's way of explaining the shape of a profile: for a
               bpnet, ``y - mean(y)`` is its profile head's logits, centred.
``"sum"``      ``sum_l y_l``: the sum of the logits (segmentation's default).

A ``window`` ``(start, end)`` restricts every reduction to output columns
``start..end-1``.  Each non-linear step is a module with a DeepLIFT rule
(:func:`seqcnn.deeplift.nonlinear_rules`) that keeps the sum of the attributions equal to
the change of the target: :class:`Exp` and :class:`Log` are elementwise (the rescale
rule), :class:`ProfileWeights` has :func:`profile_weights_rule`.
"""

from __future__ import annotations

import torch
from torch import nn

from .errors import UsageError

__all__ = [
    "Exp",
    "Log",
    "PositionTarget",
    "ProfileWeights",
    "default_target",
    "position_network",
    "profile_weights_rule",
]

# The reductions; seqcnn.attribution.POSITION_TARGETS names them for the command line.
_MODES = ("counts", "profile", "sum")


class Exp(nn.Module):
    """``exp``, elementwise (a module, so that a DeepLIFT rule can apply)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


class Log(nn.Module):
    """``log``, elementwise (a module, so that a DeepLIFT rule can apply)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


class ProfileWeights(nn.Module):
    """``(y_l - mean(y)) * softmax(y)_l`` over the last axis, the softmax held constant."""

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(y, dim=-1).detach()
        return (y - y.mean(dim=-1, keepdim=True)) * weights


def profile_weights_rule(module: nn.Module, grad_input: tuple, grad_output: tuple) -> tuple:
    """DeepLIFT multipliers of :class:`ProfileWeights` that keep the sums exact.

    The rescale rule (``delta out / delta in`` per position) would lose what a position
    whose input does not change between sequence and reference still changes in the output
    (its softmax weight and the mean move with the others: in a network with dead regions
    that is most positions).  That remainder is spread over the positions that do change,
    in proportion to their change, so that ``sum(multiplier * delta in)`` is the change of
    the weighted sum exactly.
    """
    x, x_ref = module.input.chunk(2)
    y, y_ref = module.output.chunk(2)
    upstream = grad_output[0].chunk(2)[0]
    delta, change = x - x_ref, y - y_ref
    small = delta.abs() < 1e-6
    ratio = change / delta.masked_fill(small, 1.0)
    rest = (upstream * change).masked_fill(~small, 0.0).sum(dim=-1, keepdim=True)
    norm = (delta * delta).masked_fill(small, 0.0).sum(dim=-1, keepdim=True)
    spread = torch.where(norm > 0, rest / norm.clamp_min(1e-30), torch.zeros_like(rest))
    half = torch.where(small, grad_input[0].chunk(2)[0], upstream * ratio + spread * delta)
    return (torch.cat([half, half]),)


def default_target(task: str | None, head: nn.Module | None = None) -> str:
    """``"counts"`` for a profile model (or a bpnet head), ``"sum"`` otherwise."""
    if task == "profile" or _is_profile_head(head):
        return "counts"
    return "sum"


def _is_profile_head(head: nn.Module | None) -> bool:
    return hasattr(head, "profile") and hasattr(head, "counts")


def position_network(
    network: nn.Module,
    task: str | None,
    position_target: str | None,
    position_window: tuple[int, int] | None,
    transform: object,
) -> nn.Module:
    """What attribution runs for ``network``: the network itself, or for a per-position
    network a :class:`seqcnn.position_targets.PositionTarget` (one number per track).

    Raises
    ------
    UsageError
        A position target for a sequence model, or an output transform with a position
        target (it is computed from raw outputs).
    """
    if getattr(network, "head_kind", "sequence") != "position":
        if position_target is not None or position_window is not None:
            raise UsageError(
                "position_target and position_window are for per-position models; this model "
                "gives one value per sequence"
            )
        return network
    if transform not in (None, "identity"):
        raise UsageError(
            "a per-position model is explained through its position target (counts, profile "
            "or sum of the raw outputs); leave transform unset"
        )
    mode = position_target or default_target(task, getattr(network, "head", None))
    return PositionTarget(network, mode, position_window)


class PositionTarget(nn.Module):
    """A per-position network with its positions reduced: ``(N, 4, L) -> (N, T)``.

    Explains ``network`` through one number per track (the module docs).  For a bpnet
    (:class:`~seqcnn.models.heads.ProfileHead`) the two heads are read directly, as BPNet
    does: ``"counts"`` is its counts head (exactly the log of the total of its output),
    ``"profile"`` the softmax-weighted sum of its profile logits, and the ``log_softmax``
    that joins them becomes ``p - log(sum(exp(p)))`` of elementwise steps.

    Parameters
    ----------
    network
        A per-position network (``head_kind == "position"``), ``(N, 4, L) -> (N, T, L_out)``.
    mode
        ``"counts"``, ``"profile"`` or ``"sum"``.
    window
        ``(start, end)``: output columns reduced (default all).

    Examples
    --------
    >>> from seqcnn.models import build_model
    >>> net = build_model("unet", 64, 2, first_filters=4, bottleneck_filters=4)
    >>> PositionTarget(net, "sum")(torch.zeros(3, 4, 64)).shape
    torch.Size([3, 2])
    """

    head_kind = "sequence"

    def __init__(self, network: nn.Module, mode: str, window: tuple[int, int] | None = None):
        super().__init__()
        if mode not in _MODES:
            raise UsageError(f"unknown position target {mode!r}; choose one of {', '.join(_MODES)}")
        self.network = network
        self.mode = mode
        self.window = None if window is None else (int(window[0]), int(window[1]))
        self.exp, self.log, self.weights = Exp(), Log(), ProfileWeights()

    def _columns(self, n: int) -> slice:
        if self.window is None:
            return slice(0, n)
        start, end = self.window
        if not 0 <= start < end <= n:
            raise UsageError(
                f"position window {start}-{end} is not inside the model's {n} output positions"
            )
        return slice(start, end)

    def _log_total(self, y: torch.Tensor) -> torch.Tensor:
        return self.log(self.exp(y).sum(dim=-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = getattr(self.network, "head", None)
        if _is_profile_head(head):
            return self._profile_head(x, head)
        y = self.network(x)
        y = y[..., self._columns(y.shape[-1])]
        if self.mode == "sum":
            return y.sum(dim=-1)
        if self.mode == "counts":
            return self._log_total(y)
        return self.weights(y).sum(dim=-1)

    def _profile_head(self, x: torch.Tensor, head: nn.Module) -> torch.Tensor:
        features = self.network.embed(x)
        logits = head.profile(features)
        counts = head.log_counts(features)
        columns = self._columns(logits.shape[-1])
        if self.mode == "profile":
            return self.weights(logits[..., columns]).sum(dim=-1)
        whole = self._log_total(logits)  # output = logits - whole + counts
        if self.mode == "counts":
            if self.window is None:
                return counts
            return self._log_total(logits[..., columns]) - whole + counts
        n = columns.stop - columns.start
        return logits[..., columns].sum(dim=-1) + n * (counts - whole)

"""How much each first-layer filter matters for each output: nullification (Basset)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn.errors import UsageError
from seqcnn.forward import evaluating

from .pwm import _batches, _check_batch_size, _check_x, _network, _stem_conv

if TYPE_CHECKING:
    import torch

__all__ = ["filter_influence"]


def filter_influence(
    model: Any,
    x: np.ndarray | torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
    *,
    position_target: str | None = None,
    position_window: tuple[int, int] | None = None,
) -> np.ndarray:
    """How much each filter matters for each output, by nullification (Basset).

    Filter ``f``'s stem activation is replaced by its mean over all sequences and
    positions of ``x``, and the rest of the network (body, head) is run again.  The
    influence is the mean over sequences of ``output_nullified - output_original``:
    negative when the filter pushes that output up.

    A per-position model's outputs ``(N, T, L_out)`` are reduced per track first, as
    attribution reduces them (:mod:`seqcnn.position_targets`): the influence is on each
    track's position target, of the raw outputs.

    Parameters
    ----------
    model
        A :class:`seqcnn.bundle.Model` or a bare ``SeqCNN``.
    x
        One-hot sequences ``(N, 4, L)``.
    transform
        Applied to the logits before differences are taken, e.g. ``torch.sigmoid``;
        ``None`` compares raw logits.
    batch_size
        Sequences per forward pass.
    position_target, position_window
        Per-position models only: ``"counts"``, ``"profile"`` or ``"sum"`` over the output
        columns ``position_window`` (default all); ``None``: the task's default (see
        :func:`seqcnn.attribution.attribution`).  ``transform`` must then be ``None``.

    Returns
    -------
    numpy.ndarray
        Shape ``(F, T)``: filters by outputs (by tracks).

    Examples
    --------
    >>> influence = filter_influence(model, x, transform=torch.sigmoid)  # doctest: +SKIP
    >>> influence[:, 0].argsort()[:5]  # the five filters that most raise output 0  # doctest: +SKIP
    """
    import torch

    network = _network(model)
    conv = _stem_conv(network)
    _check_x(x, conv.kernel_size[0])
    _check_batch_size(batch_size)
    if transform is not None and not callable(transform):
        raise UsageError("transform must be a callable on the logits, or None")
    after_stem = _after_stem(model, network, transform, position_target, position_window)

    def outputs(act: torch.Tensor) -> torch.Tensor:
        out = after_stem(act)
        out = out if transform is None else transform(out)
        return out.reshape(out.shape[0], -1).double()

    with evaluating(network), torch.no_grad():
        total, n_values = None, 0
        for _, xb in _batches(network, x, batch_size):
            act = network.stem(xb)
            s = act.double().sum(dim=(0, 2))
            total = s if total is None else total + s
            n_values += act.shape[0] * act.shape[2]
        means = (total / n_values).to(act.dtype)

        influence = None
        for _, xb in _batches(network, x, batch_size):
            act = network.stem(xb)
            reference = outputs(act)
            if influence is None:
                influence = torch.zeros(act.shape[1], reference.shape[1], dtype=torch.float64)
            for f in range(act.shape[1]):
                # Nullify in place and restore: a copy of the whole batch per filter
                # costs more than the rest of the network.
                kept = act[:, f, :].clone()
                act[:, f, :] = means[f]
                influence[f] += (outputs(act) - reference).sum(dim=0).cpu()
                act[:, f, :] = kept
    return (influence / x.shape[0]).numpy()


def _after_stem(model: Any, network: Any, transform: Any, position_target: str | None,
                position_window: tuple[int, int] | None) -> Callable:  # fmt: skip
    """The network from its stem's activations on: ``(N, F, L') -> (N, T)``, a
    per-position network's tracks reduced by their position target."""
    from seqcnn.position_targets import PositionTarget, default_target, position_network

    def rest(act: torch.Tensor) -> torch.Tensor:
        return network.head(network.body(act))

    task = getattr(model, "task", None)
    # Checks the options (and refuses them for a sequence model) as attribution does.
    position_network(network, task, position_target, position_window, transform)
    if getattr(network, "head_kind", "sequence") != "position":
        return rest
    mode = position_target or default_target(task, getattr(network, "head", None))
    # The reduction of the outputs themselves: for a bpnet the same numbers as reading its
    # two heads (its output is log_softmax(profile) + counts).
    return PositionTarget(rest, mode, position_window)

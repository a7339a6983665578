"""Receptive field and a layer-by-layer description of a network, with its head's output.

Receptive field, as used throughout seqcnn
------------------------------------------
Every architecture today feeds a sequence head through flatten or global pooling and dense
layers, so each output of the *whole* model depends on the whole input.  The number
reported is instead
the receptive field of **one position of the trunk's output** -- the feature map of the last
convolutional layer, ``model.trunk(x)`` = ``body.tower(stem(x))``, including that layer's
pooling -- i.e. how many consecutive input bases can influence one position of it.  For a
position near the ends of the sequence part of that window is zero padding.

It is computed exactly from the modules themselves: walking the stem and the tower in
order, every ``Conv1d`` and pooling layer with (effective) kernel ``k`` and stride ``s``
grows it by ``(k - 1) * jump`` bases, where ``jump`` is the product of the strides before.
In residual blocks only the main branch is walked: the shortcut (identity or a strided 1x1
convolution) sees a subset of the main branch's window.

Per-position networks (a position head, ``model.head_kind == "position"``) report the
receptive field of **one output position**, which is what it means there: the trunk's, plus
the head's own convolution (``bpnet``'s profile convolution).  A tower that is no chain of
layers computes its own (:meth:`seqcnn.models.unet.UNetTower.grow_receptive_field`, by
interval arithmetic over every path, the skip connections included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .architectures import SeqCNN, build_model
from .position import layer_steps

__all__ = ["describe", "receptive_field", "summary"]


def receptive_field(model_or_config: Any) -> int:
    """Receptive field in bases of one position of the last convolutional layer.

    See the module documentation for the exact definition: for a :class:`SeqCNN` (or a
    loaded model) it is the number of consecutive input bases that can influence one
    position of ``model.trunk(x)``, the feature map before flatten/global pooling; the
    model's outputs themselves see the whole input.

    Parameters
    ----------
    model_or_config
        A :class:`SeqCNN`, a loaded :class:`seqcnn.bundle.Model` (its ``.network``), a
        config dict as in ``model.config``, or any convolutional module (a block or an
        ``nn.Sequential`` of blocks), for which the whole module is traced.

    Returns
    -------
    int

    Examples
    --------
    >>> receptive_field({"architecture": "dilated", "input_length": 200, "n_outputs": 1,
    ...                  "options": {"first_width": 21, "dilated_layers": 2}})
    33
    """
    if isinstance(model_or_config, Mapping):
        network = build_model(**model_or_config)
    else:
        network = getattr(model_or_config, "network", model_or_config)
    parts = [network.stem, network.body.tower] if isinstance(network, SeqCNN) else [network]
    size, jump = 1, 1
    for part in parts:
        grow = getattr(part, "grow_receptive_field", None)  # a tower that is no chain (unet)
        if grow is not None:
            size, jump = grow(size, jump)
            continue
        for step in layer_steps(part):
            size += (step.kernel - 1) * jump
            jump *= step.stride
    if isinstance(network, SeqCNN) and network.head_kind == "position":
        # The head reads a map at base resolution; its own convolution widens the window.
        size += getattr(network.head, "kernel_size", 1) - 1
    return size


def _layers(network: SeqCNN) -> list[tuple[str, nn.Module]]:
    return [
        ("stem", network.stem),
        *((f"body.tower.{name}", m) for name, m in network.body.tower.named_children()),
        *((f"body.reduce.{name}", m) for name, m in network.body.reduce.named_children()),
        ("head", network.head),
    ]


def summary(model: Any, input_length: int | None = None) -> dict[str, Any]:
    """The numbers :func:`describe` shows, as a dict.

    Parameters
    ----------
    model
        A :class:`SeqCNN` or a loaded model (its ``.network``).
    input_length
        Length to compute output shapes for; default the model's own input length.

    Returns
    -------
    dict
        ``{"architecture", "input_length", "head_kind", "output_shape", "parameters",
        "trainable_parameters", "receptive_field", "layers"}``; ``head_kind`` and
        ``output_shape`` are what the head declares (``model.head_kind``,
        ``model.output_shape(input_length)``); ``layers`` is a list of ``{"name", "type",
        "output_shape", "parameters"}`` in order.  Output shapes are without the batch
        dimension.  The layers' parameters add up to ``parameters``.
    """
    network = getattr(model, "network", model)
    length = input_length or network.config["input_length"]
    layers = _layers(network)
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            shapes[name] = tuple(output.shape[1:])

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in layers]
    modes = {module: module.training for module in network.modules()}
    parameter = next(network.parameters())
    try:
        network.eval()
        with torch.no_grad():
            network(torch.zeros(1, 4, length, device=parameter.device, dtype=parameter.dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return {
        "architecture": network.config["architecture"],
        "input_length": length,
        "head_kind": network.head_kind,
        "output_shape": network.output_shape(length),
        "parameters": sum(p.numel() for p in network.parameters()),
        "trainable_parameters": sum(p.numel() for p in network.parameters() if p.requires_grad),
        "receptive_field": receptive_field(network),
        "output_offset": network.head.output_offset(length)
        if network.head_kind == "position"
        else 0,
        "layers": [
            {
                "name": name,
                "type": type(module).__name__,
                "output_shape": shapes[name],
                "parameters": sum(p.numel() for p in module.parameters()),
            }
            for name, module in layers
        ],
    }


def describe(model: Any, input_length: int | None = None) -> str:
    """A table of the network's layers with output shapes and parameter counts.

    Parameters
    ----------
    model
        A :class:`SeqCNN` or a loaded model (its ``.network``).
    input_length
        Length to compute output shapes for; default the model's own input length.

    Returns
    -------
    str
        The head's kind and output shape per sequence, one line per layer (name, type,
        output shape without the batch dimension, parameters), then total and trainable
        parameters and the receptive field.

    Examples
    --------
    >>> print(describe(build_model("cnn", 200, 12)))  # doctest: +SKIP
    """
    info = summary(model, input_length)
    rows = [("layer", "type", "output shape", "parameters")]
    rows += [
        (layer["name"], layer["type"], str(layer["output_shape"]), f"{layer['parameters']:,}")
        for layer in info["layers"]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"architecture {info['architecture']!r}, input length {info['input_length']} bases",
        f"head: {info['head_kind']}, output shape {info['output_shape']} per sequence",
        *(
            f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d:>{widths[3]}}"
            for a, b, c, d in rows
        ),
        f"total parameters: {info['parameters']:,}",
        f"trainable parameters: {info['trainable_parameters']:,}",
        f"receptive field: {info['receptive_field']} bases (of one position of the last "
        f"convolutional block, before flatten/global pooling; the outputs see the whole input)"
        if info["head_kind"] == "sequence"
        else f"receptive field: {info['receptive_field']} bases (of one output position); "
        f"the output covers input bases {info['output_offset']}.."
        f"{info['output_offset'] + info['output_shape'][-1] - 1}",
    ]
    return "\n".join(lines)

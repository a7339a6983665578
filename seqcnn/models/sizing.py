"""Length-aware defaults: the options of an architecture that follow from the input length.

A network sized for 200 bp throws position information away at 60 bp and wastes compute
(or parameters) at 5 kb.  :func:`length_defaults` fills the options that depend on the
length, only those the user did not give; :func:`seqcnn.models.build_model` records the
result in ``model.config["options"]``, so a saved bundle rebuilds with exactly the values
it was trained with, whatever this rule becomes later.

The rules (``L`` the input length, ``w`` the first layer's width, ``P = L - w + 1`` the
positions the first layer outputs):

``cnn``, short inputs (``P <= 64``: up to 82 bp with the default 19 bp filters)
    Positions are what such data are about (splice sites, promoters, sites at a fixed
    offset), and there are few enough for the dense layer to read them all, whatever the
    number of training sequences: ``first_pool = 1``, no convolution block, and
    ``dense_units`` the largest power of two from 32 to 512 that keeps the dense layer
    within about 200,000 weights (``P x first_filters x units``; the 200 bp network's has
    131,000): 64 at 60 bp.  A user who asks for convolution blocks gets the rule for
    longer inputs.  Measured on ``benchmarks/defaults.py``'s position set (60 nt, 8,000
    training sequences, oracle accuracy 0.837), test accuracy: 0.800 with the rule for
    longer inputs (pool 6, one block, 512 units; one seed), 0.822 this way (3 seeds),
    0.826 with the weight decay of fewer than 10,000 sequences; a logistic regression on
    the one-hot bases reaches 0.835.
``cnn``, longer inputs
    ``first_pool = clamp(P // k, 1, 25)``: the largest pool of at most 25 (Koo & Eddy's
    motif-sized pool for 200 bp) that leaves at least ``k`` positions, so short sequences
    keep their positions; ``k = 7``, or ``clamp(n_train // 1000, 2, 7)`` given the number
    of training sequences: the dense layer learns weights per position, which a small set
    cannot teach it, so small sets pool more (position-invariant, as at 200 bp).
    ``conv_pool = min(4, Q)`` for the ``Q`` positions left after the first pool; then
    convolution blocks of 128 filters are stacked until at most 8 positions remain (at
    least one block), so the dense layer sees a few positions at any length instead of
    thousands.
``resnet``
    The fewest residual blocks (64, then 128 filters) whose receptive field covers the input.
``dilated``
    The fewest dilated layers (dilations 2, 4, 8, ...) whose receptive field covers the
    input.

At 200 bp every rule gives the architecture's keyword defaults (the planted demo's
settings).  Importable without torch, so ``seqcnn describe`` can explain the choices.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = ["LENGTH_RULES", "SIZING_RULE", "length_defaults"]

#: Recorded with each trained model, so a bundle says which rule sized it.
SIZING_RULE = "length-v2"

# cnn: positions kept after the first pool, the largest first pool, and the most positions
# the dense layer reads; resnet/dilated: the most blocks or layers a rule may choose.
_MIN_POSITIONS_AFTER_FIRST_POOL = 7
_MAX_FIRST_POOL = 25
_MAX_POSITIONS_BEFORE_DENSE = 8
_CONV_BLOCK_FILTERS = 128
_MAX_DEPTH = 12
_TRAIN_PER_POSITION = 1000
_SHORT_POSITIONS = 64
_DENSE_WEIGHTS = 200_000
_DENSE_UNITS = (32, 512)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _cnn(
    length: int, options: Mapping[str, Any], given: Collection[str], n_train: int | None
) -> dict[str, Any]:
    positions = max(1, length - options["first_width"] + 1)
    if positions <= _SHORT_POSITIONS and not ("conv_filters" in given and options["conv_filters"]):
        return _short_cnn(positions, options, given)
    chosen: dict[str, Any] = {}
    first_pool = options["first_pool"]
    if "first_pool" not in given:
        keep = _MIN_POSITIONS_AFTER_FIRST_POOL
        if n_train is not None:
            keep = max(2, min(keep, int(n_train) // _TRAIN_PER_POSITION))
        first_pool = max(1, min(_MAX_FIRST_POOL, positions // keep))
        chosen["first_pool"] = first_pool
    positions = _ceil_div(positions, first_pool)
    conv_pool = options["conv_pool"]
    if "conv_pool" not in given:
        conv_pool = min(4, positions)
        chosen["conv_pool"] = conv_pool
    if "conv_filters" not in given:
        filters = [_CONV_BLOCK_FILTERS]
        positions = _ceil_div(positions, conv_pool)
        while positions > _MAX_POSITIONS_BEFORE_DENSE and conv_pool > 1:
            filters.append(_CONV_BLOCK_FILTERS)
            positions = _ceil_div(positions, conv_pool)
        chosen["conv_filters"] = filters
    return chosen


def _short_cnn(positions: int, options: Mapping[str, Any], given: Collection[str]) -> dict:
    """Short inputs: every position of the first layer reaches the dense layer."""
    chosen: dict[str, Any] = {}
    if "first_pool" not in given:
        chosen["first_pool"] = 1
    if "conv_filters" not in given:
        chosen["conv_filters"] = []
    first_pool = chosen.get("first_pool", options["first_pool"])
    if "dense_units" not in given:
        features = _ceil_div(positions, first_pool) * options["first_filters"]
        low, high = _DENSE_UNITS
        units = low
        while units * 2 <= high and units * 2 * features <= _DENSE_WEIGHTS:
            units *= 2
        chosen["dense_units"] = units
    return chosen


def _resnet_field(options: Mapping[str, Any], blocks: int) -> int:
    """Receptive field of the resnet trunk with ``blocks`` residual blocks."""
    field, jump = options["first_width"], 1
    field += (options["first_pool"] - 1) * jump
    jump *= options["first_pool"]
    for _ in range(blocks):
        field += (options["block_width"] - 1) * jump  # strided convolution
        jump *= options["block_stride"]
        field += (options["block_width"] - 1) * jump
    return field


def _resnet(length: int, options: Mapping[str, Any], given: Collection[str], _=None) -> dict:
    if "block_filters" in given:
        return {}
    blocks = 1
    while _resnet_field(options, blocks) < length and blocks < _MAX_DEPTH:
        blocks += 1
    return {"block_filters": [64] + [128] * (blocks - 1)}


def _dilated(length: int, options: Mapping[str, Any], given: Collection[str], _=None) -> dict:
    if "dilated_layers" in given:
        return {}
    layers, field = 1, options["first_width"] + (options["dilated_width"] - 1) * 2
    while field < length and layers < _MAX_DEPTH:
        layers += 1
        field += (options["dilated_width"] - 1) * 2**layers
    return {"dilated_layers": layers}


#: Architecture name -> ``rule(input_length, options, given, n_train) -> {option: value}``.
LENGTH_RULES: dict[str, Callable[..., dict[str, Any]]] = {
    "cnn": _cnn,
    "resnet": _resnet,
    "dilated": _dilated,
}


def length_defaults(
    architecture: str,
    input_length: int,
    options: Mapping[str, Any],
    given: Collection[str] = (),
    n_train: int | None = None,
) -> dict[str, Any]:
    """The length-dependent options the user did not give, chosen for ``input_length``.

    Parameters
    ----------
    architecture
        An architecture name; one without a rule gets ``{}``.
    input_length
        Sequence length in bases.
    options
        Every option of the architecture: its defaults updated with what the user gave.
    given
        Names of the options the user gave: these are never changed.
    n_train
        Number of training sequences, if known (``None``: plenty).

    Returns
    -------
    dict
        Option name -> value, only for options the rule chose.

    Examples
    --------
    >>> from seqcnn.models import default_options
    >>> length_defaults("cnn", 60, default_options("cnn"))
    {'first_pool': 1, 'conv_filters': [], 'dense_units': 64}
    >>> length_defaults("cnn", 100, default_options("cnn"))
    {'first_pool': 11, 'conv_pool': 4, 'conv_filters': [128]}
    >>> length_defaults("dilated", 200, default_options("dilated"))
    {'dilated_layers': 6}
    """
    rule = LENGTH_RULES.get(architecture)
    if rule is None:
        return {}
    return rule(int(input_length), options, set(given), n_train)

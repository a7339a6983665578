"""Named architectures: each builds a trunk, which :func:`build_model` tops with a head.

An architecture is a function ``builder(input_length, **options) -> (Stem, Body)``
registered in :data:`ARCHITECTURES`; its keyword defaults are the architecture's defaults
(see :func:`default_options`).  The trunk is the ``stem`` and the convolutional
``body.tower``; ``body.reduce`` (flatten or global pooling, then an optional dense layer)
turns the trunk's feature map into the embedding a
:class:`~seqcnn.models.heads.SequenceHead` reads.  Call :func:`build_model`, which
validates the options and records them in ``model.config``, rather than a builder directly.

The attribute names ``stem``, ``body`` and ``head`` are the keys of every saved bundle's
weights (``stem.conv.weight``, ``body.tower.0...``, ``head.weight``): they stay.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import json
import numbers
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from ..errors import ModelError, UsageError
from .blocks import (
    ACTIVATIONS,
    GLOBAL_POOLS,
    ConvBlock,
    DilatedResidualBlock,
    GlobalPool,
    ResidualBlock,
    Stem,
    pooled_length,
)
from .checks import boolean, choice, fraction, integer, integers
from .heads import Head, attach_head
from .sizing import length_defaults

__all__ = [
    "ARCHITECTURES",
    "Body",
    "SeqCNN",
    "build_model",
    "default_options",
    "load_model_config",
]

ARCHITECTURES: dict[str, Callable[..., tuple[Stem, Body]]] = {}


class Body(nn.Module):
    """Everything between the stem and the head: ``reduce(tower(x))``.

    Parameters
    ----------
    tower
        The convolutional rest of the trunk, ``(N, F, L1)`` -> ``(N, C, L2)``.
    reduce
        What fits the trunk's output to the head: for a sequence head, flatten or global
        pooling, then the dense layer, ``(N, C, L2)`` -> ``(N, D)``.
    out_features
        ``D``, the width of the embedding.
    fixed_length
        Whether the network only accepts its own input length (it flattens positions).
    """

    def __init__(self, tower: nn.Module, reduce: nn.Module, out_features: int, fixed_length: bool):
        super().__init__()
        self.tower = tower
        self.reduce = reduce
        self.out_features = out_features
        self.fixed_length = fixed_length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.tower(x))


class SeqCNN(nn.Module):
    """A 1D CNN on one-hot DNA, trunk + head: ``head(body(stem(x)))``, returning raw
    outputs of the shape the head declares (``(N, T)`` for a sequence head).

    Build one with :func:`build_model`.

    Attributes
    ----------
    stem
        First part of the trunk, :class:`~seqcnn.models.blocks.Stem`; ``stem.conv`` is
        ``nn.Conv1d(4, F, w)`` without padding and ``stem(x)`` has shape
        ``(N, F, L - w + 1)``.
    body
        :class:`Body`: ``body.tower`` completes the trunk (``trunk(x)``, ``(N, C, L')``),
        ``body.reduce`` turns its output into what the head reads (``embed(x)``).
    head
        A head (:mod:`seqcnn.models.heads`), which declares the output: see
        :attr:`head_kind` and :meth:`output_shape`.  :func:`build_model` gives a
        :class:`~seqcnn.models.heads.SequenceHead`, ``nn.Linear(D, n_outputs)``.
    config
        ``{"architecture", "input_length", "n_outputs", "options"}``, JSON-serialisable;
        ``build_model(**config)`` rebuilds the same network.
    """

    def __init__(self, stem: Stem, body: Body, head: Head, config: dict[str, Any]):
        super().__init__()
        self.stem = stem
        self.body = body
        self.head = head
        self.config = config

    @property
    def input_length(self) -> int:
        """The sequence length the network was built for."""
        return self.config["input_length"]

    @property
    def head_kind(self) -> str:
        """What one sequence's output is, as the head declares it: ``"sequence"``
        (``(N, T)``) or ``"position"`` (``(N, T, L_out)``); see
        :data:`seqcnn.models.heads.HEAD_KINDS`."""
        return self.head.kind

    def output_shape(self, input_length: int | None = None) -> tuple[int, ...]:
        """Shape of one sequence's output, without the batch axis, as the head declares it.

        Parameters
        ----------
        input_length
            Length of the input sequences in bases; default the length the network was
            built for.

        Returns
        -------
        tuple of int
            ``(T,)`` for a sequence head; ``self(x).shape[1:]`` for ``x`` of that length.

        Raises
        ------
        seqcnn.errors.ModelError
            For a length the network does not accept (as :meth:`forward` would).

        Examples
        --------
        >>> build_model("dilated", 200, 3).output_shape(500)
        (3,)
        """
        length = self.input_length if input_length is None else input_length
        self._check_length(length)
        return tuple(self.head.output_shape(int(length)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``(N, *output_shape(L))`` (logits for classification) for one-hot
        sequences ``x`` of shape ``(N, 4, L)``."""
        return self.head(self.embed(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """What the head reads: the embedding ``(N, D)`` for a sequence head."""
        self._check_input(x)
        return self.body(self.stem(x))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's output, the feature map of the last convolutional layer
        ``(N, C, L')``, before ``body.reduce`` pools or flattens it."""
        self._check_input(x)
        return self.body.tower(self.stem(x))

    def _check_input(self, x: torch.Tensor) -> None:
        # Say what the model expects instead of failing deep inside a layer.
        if x.ndim != 3 or x.shape[1] != 4:
            raise ModelError(
                f"the model expects one-hot sequences of shape (N, 4, length), "
                f"got shape {tuple(x.shape)}"
            )
        self._check_length(x.shape[2])

    def _check_length(self, length: int) -> None:
        if self.body.fixed_length and length != self.input_length:
            raise ModelError(
                f"the model expects sequences of length {self.input_length}, got length "
                f"{length}; encode them with length={self.input_length}"
            )
        if length < self.stem.conv.kernel_size[0]:
            raise ModelError(
                f"sequences of length {length} are shorter than the first layer's filters "
                f"({self.stem.conv.kernel_size[0]} bases)"
            )


def register_architecture(builder: Callable[..., Any], rules: Mapping | None = None) -> Any:
    """Add ``builder`` to :data:`ARCHITECTURES`; ``rules``: its new options' checks (see below)."""
    ARCHITECTURES[builder.__name__] = builder
    _OPTION_RULES.update(rules) if rules else None  # the rules are defined further down
    return builder


def _body(
    tower: nn.Module,
    channels: int,
    length: int,
    global_pool: str,
    dense_units: int,
    dropout: float,
) -> Body:
    """Top a tower with flatten/global pooling and an optional dense layer."""
    if global_pool == "none":
        layers: list[nn.Module] = [nn.Flatten()]
        width = channels * length
    else:
        layers = [GlobalPool(global_pool)]
        width = channels
    if dense_units:
        layers += [nn.Linear(width, dense_units), nn.ReLU()]
        width = dense_units
    if dropout:
        layers.append(nn.Dropout(dropout))
    return Body(tower, nn.Sequential(*layers), width, fixed_length=global_pool == "none")


@register_architecture
def cnn(
    input_length: int,
    *,
    first_filters: int = 64,
    first_width: int = 19,
    first_activation: str = "relu",
    first_pool: int = 25,
    conv_filters: Sequence[int] = (128,),
    conv_width: int = 5,
    conv_pool: int = 4,
    conv_dropout: float = 0.1,
    dense_units: int = 512,
    dropout: float = 0.5,
    global_pool: str = "none",
    batch_norm: bool = True,
) -> tuple[Stem, Body]:
    """Basset/DeepSEA-style stack: stem -> max-pool -> conv blocks -> flatten -> dense.

    The large first pool (Koo & Eddy 2019) makes first-layer filters learn whole motifs.
    The first activation is relu: on the planted-motif set it gave both the more accurate
    model and the more readable filters (``benchmarks/RESULTS.md``); ``"exp"`` (Koo &
    Ploenzke 2021) is the choice for deep towers, where relu filters learn motif parts.
    Pool sizes are clamped to the positions available, so any length >= ``first_width``
    works without changing options.  ``conv_dropout`` follows every pooling step.
    """
    stem = Stem(first_filters, first_width, first_activation, batch_norm)
    length = input_length - first_width + 1
    pool = min(first_pool, length)
    layers: list[nn.Module] = [nn.MaxPool1d(pool, ceil_mode=True)]
    if conv_dropout:
        layers.append(nn.Dropout(conv_dropout))
    channels, length = first_filters, pooled_length(length, pool)
    for filters in conv_filters:
        pool = min(conv_pool, length)
        layers.append(
            ConvBlock(
                channels,
                filters,
                conv_width,
                batch_norm=batch_norm,
                pool="max",
                pool_size=pool,
                dropout=conv_dropout,
            )
        )
        channels, length = filters, pooled_length(length, pool)
    return stem, _body(nn.Sequential(*layers), channels, length, global_pool, dense_units, dropout)


@register_architecture
def resnet(
    input_length: int,
    *,
    first_filters: int = 64,
    first_width: int = 19,
    first_activation: str = "exp",
    first_pool: int = 4,
    block_filters: Sequence[int] = (64, 128, 128),
    block_width: int = 5,
    block_stride: int = 2,
    dense_units: int = 256,
    dropout: float = 0.3,
    global_pool: str = "max",
    batch_norm: bool = True,
) -> tuple[Stem, Body]:
    """Residual tower: stem -> max-pool -> residual blocks, each downsampling by
    ``block_stride`` -> global pooling -> dense.

    The defaults for the towers, exponential first layer and global *max* pooling, are
    measured (``benchmarks/RESULTS.md``, issue 21): on the planted demo a site anywhere in
    the input makes a sequence positive, which a maximum over positions says directly and
    an average dilutes over ~180 positions.  With relu and average pooling both towers
    overfitted and trailed the ``cnn`` by 0.02-0.04 test AUROC; with these, by 0.002-0.007,
    and the exponential first layer (Koo & Ploenzke 2021) learns faster and keeps its
    filters readable as motifs."""
    stem = Stem(first_filters, first_width, first_activation, batch_norm)
    length = input_length - first_width + 1
    pool = min(first_pool, length)
    layers: list[nn.Module] = [nn.MaxPool1d(pool, ceil_mode=True)]
    channels, length = first_filters, pooled_length(length, pool)
    for filters in block_filters:
        layers.append(
            ResidualBlock(
                channels, filters, block_width, stride=block_stride, batch_norm=batch_norm
            )
        )
        channels, length = filters, pooled_length(length, block_stride)
    return stem, _body(nn.Sequential(*layers), channels, length, global_pool, dense_units, dropout)


@register_architecture
def dilated(
    input_length: int,
    *,
    first_filters: int = 64,
    first_width: int = 21,
    first_activation: str = "exp",
    dilated_layers: int = 6,
    dilated_width: int = 3,
    dense_units: int = 256,
    dropout: float = 0.3,
    global_pool: str = "max",
    batch_norm: bool = True,
) -> tuple[Stem, Body]:
    """BPNet/Basenji-style: wide stem -> dilated residual tower (dilation ``2**i``, i = 1..n,
    ``first_filters`` channels throughout) -> global pooling -> dense.  Exponential first
    layer and global max pooling by default, as for :func:`resnet`."""
    stem = Stem(first_filters, first_width, first_activation, batch_norm)
    tower = nn.Sequential(
        *[
            DilatedResidualBlock(first_filters, 2**i, dilated_width, batch_norm=batch_norm)
            for i in range(1, dilated_layers + 1)
        ]
    )
    length = input_length - first_width + 1
    return stem, _body(tower, first_filters, length, global_pool, dense_units, dropout)


# ----------------------------------------------------------------------------------------
# Options: validation at the boundary


_POSITIVE = ("a positive integer", integer(1))
# option name -> (what is allowed, check returning the normalised value or raising ValueError)
_OPTION_RULES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "first_filters": _POSITIVE,
    "first_width": _POSITIVE,
    "first_activation": (f"one of {', '.join(ACTIVATIONS)}", choice(ACTIVATIONS)),
    "first_pool": _POSITIVE,
    "conv_filters": ("a list of positive integers (may be empty)", integers(0)),
    "conv_width": _POSITIVE,
    "conv_pool": _POSITIVE,
    "block_filters": ("a non-empty list of positive integers", integers(1)),
    "block_width": _POSITIVE,
    "block_stride": _POSITIVE,
    "dilated_layers": ("an integer >= 0", integer(0)),
    "dilated_width": _POSITIVE,
    "dense_units": ("an integer >= 0 (0: no dense layer)", integer(0)),
    "dropout": ("a number in [0, 1)", fraction),
    "conv_dropout": ("a number in [0, 1)", fraction),
    "global_pool": (
        f"one of none, {', '.join(GLOBAL_POOLS)} (none: flatten)",
        choice(("none", *GLOBAL_POOLS)),
    ),
    "batch_norm": ("true or false", boolean),
}


def _builder(architecture: Any) -> Callable[..., tuple[Stem, Body]]:
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        raise UsageError(
            f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}"
        )
    return ARCHITECTURES[architecture]


def default_options(architecture: str) -> dict[str, Any]:
    """All options of an architecture with their default values.

    Parameters
    ----------
    architecture
        A name in :data:`ARCHITECTURES` (``"cnn"``, ``"resnet"``, ``"dilated"``).

    Returns
    -------
    dict
        Option name -> default (lists, not tuples, so it is JSON-serialisable).

    Examples
    --------
    >>> default_options("cnn")["first_width"]
    19
    """
    parameters = inspect.signature(_builder(architecture)).parameters
    return {
        name: list(p.default) if isinstance(p.default, tuple) else p.default
        for name, p in parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _resolve_options(architecture: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults updated with validated, normalised ``options``."""
    resolved = default_options(architecture)
    for name, value in options.items():
        if name not in resolved:
            close = difflib.get_close_matches(str(name), resolved, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(
                f"unknown option {name!r} for architecture {architecture!r}{hint}; "
                f"allowed options: {', '.join(resolved)}"
            )
        allowed, check = _OPTION_RULES[name]
        try:
            resolved[name] = check(value)
        except (ValueError, TypeError):
            raise UsageError(f"option {name!r} must be {allowed}, got {value!r}") from None
    return resolved


def build_model(
    architecture: str,
    input_length: int,
    n_outputs: int,
    options: Mapping[str, Any] | None = None,
    head: str | None = None,
    n_train: int | None = None,
    **kwargs: Any,
) -> SeqCNN:
    """Build a named architecture for sequences of one length.

    Parameters
    ----------
    architecture
        A name in :data:`ARCHITECTURES`.
    input_length
        Sequence length in bases.  Must be at least ``first_width``; architectures that
        flatten (``global_pool="none"``) only accept this length afterwards.
    n_outputs, head
        Outputs (targets, classes or tracks); the head's kind, ``None``: the architecture's
        own (see :func:`~seqcnn.models.heads.attach_head`), recorded unless ``"sequence"``.
    options, **kwargs
        Architecture options (see :func:`default_options`), as a mapping, as keywords, or
        both; ``build_model(**model.config)`` rebuilds ``model``.  Options left out that
        depend on the length follow :mod:`seqcnn.models.sizing` (``n_train``: training size).

    Returns
    -------
    SeqCNN
        Freshly initialised (deterministic under ``torch.manual_seed``), in training mode.

    Raises
    ------
    seqcnn.errors.UsageError
        For an unknown architecture or option, a bad option value, or an input length too
        short for the architecture.

    Examples
    --------
    >>> model = build_model("cnn", 200, 12, first_activation="exp")
    >>> model.config["options"]["first_activation"]
    'exp'
    """
    builder = _builder(architecture)
    given = dict(options or {})
    twice = sorted(set(given) & set(kwargs))
    if twice:
        raise UsageError(f"option(s) {', '.join(twice)} given both in options and as keywords")
    given.update(kwargs)
    resolved = _resolve_options(architecture, given)
    for name, value, minimum in (("input_length", input_length, 1), ("n_outputs", n_outputs, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if input_length < resolved["first_width"]:
        raise UsageError(
            f"input length {input_length} is too short for architecture {architecture!r}: "
            f"the minimum length is {resolved['first_width']} bases (first_width); use longer "
            f"sequences or a smaller first_width"
        )
    resolved.update(sized := length_defaults(architecture, input_length, resolved, given, n_train))
    stem, body = builder(int(input_length), **copy.deepcopy(resolved))
    body, head = attach_head(stem, body, int(n_outputs), head)
    config = {
        "architecture": architecture,
        "input_length": int(input_length),
        "n_outputs": int(n_outputs),
        "options": resolved,
        **({"head": head.kind} if head.kind != "sequence" else {}),
    }
    model = SeqCNN(stem, body, head, config)
    model.sized_options = copy.deepcopy(sized)  # the length rule's choices (describe, bundle)
    return model


def load_model_config(path: str | Path) -> tuple[str, dict[str, Any]]:
    """Read an architecture and its options from a YAML or JSON file.

    The file holds a mapping with ``architecture`` and the options either under
    ``options`` or as top-level keys (or both).  ``input_length`` and ``n_outputs`` (as in
    a saved model's ``config.json``) are ignored: the data decide them.

    Parameters
    ----------
    path
        ``.json`` files are read as JSON, anything else as YAML (a superset of JSON).

    Returns
    -------
    (architecture, options)
        ``options`` holds only the options the file sets, validated and normalised.

    Raises
    ------
    seqcnn.errors.UsageError
        Naming the file, if it cannot be read or parsed, or holds an unknown architecture,
        an unknown option or a bad value.

    Examples
    --------
    A file ``model.yaml``::

        architecture: dilated
        options:
          dilated_layers: 8
          first_activation: exp
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise UsageError(f"cannot read the model configuration: {reason}", path=path) from None
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        data = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise UsageError(f"not valid {kind}: {first_line}", path=path) from None
    if not isinstance(data, dict):
        raise UsageError("expected a mapping with 'architecture' and options", path=path)
    data = dict(data)
    architecture = data.pop("architecture", None)
    if architecture is None:
        raise UsageError(
            f"no 'architecture' key; choose one of {', '.join(ARCHITECTURES)}", path=path
        )
    nested = data.pop("options", None) or {}
    data.pop("input_length", None)
    data.pop("n_outputs", None)
    if not isinstance(nested, dict):
        raise UsageError("'options' must be a mapping of option names to values", path=path)
    head = data.pop("head", None) or nested.pop("head", None)  # build_model's head=, not an option
    twice = sorted(set(nested) & set(data))
    if twice:
        raise UsageError(f"option(s) {', '.join(twice)} set twice", path=path)
    given = {**data, **nested}
    try:
        resolved = _resolve_options(architecture, given)
    except UsageError as error:
        raise UsageError(error.message, path=path) from None
    return architecture, {name: resolved[name] for name in given} | ({"head": head} if head else {})


from . import bpnet, position, unet  # noqa: E402 (they cannot import this module)

register_architecture(unet.unet, position.OPTION_RULES)
register_architecture(bpnet.bpnet, bpnet.OPTION_RULES)

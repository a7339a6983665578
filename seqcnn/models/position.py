"""What per-position networks share: where a feature map sits on the input, the body that
lines it up with the bases, and the checks of their options.

Output window
-------------
A position head's output covers the **central** ``L_out`` bases of an input of ``L``
bases: it starts at base ``margin = (L - L_out) // 2`` and ``L - L_out`` is even, so the
same number of bases is cut on both sides.  Labels ``(N, T, L)`` are cropped the same way
(:func:`seqcnn.position_metrics.centre_labels`) by the loss, the metrics and prediction,
which need no other knowledge of the network; the reverse complement of an output is the
output of the reverse complement, flipped, base for base.  The margin is fixed when the network is
built (from its layers and an optional ``output_length``), so a longer input gives a
longer output: ``L_out = L - 2 * margin``.

Map geometry
------------
A chain of layers (stem, convolution and pooling blocks, residual blocks: the main branch)
maps the input to a feature map whose position ``j`` sees the bases
``[start + j * jump, start + j * jump + size)``; :func:`chain_geometry` reads ``start``,
``size`` and ``jump`` from the modules (as :func:`seqcnn.models.receptive_field` reads
kernels and strides) and the map's length for any input length.  Position ``j`` is then
assigned the ``jump`` bases centred in its window, ``[a + j * jump, a + (j + 1) * jump)``
with ``a = start + (size - jump) // 2``; :class:`AlignToBases` repeats each position over
its bases (a strided map, e.g. ``resnet``'s) and cuts the central window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from ..errors import ModelError
from .checks import integer, integers

__all__ = [
    "Step",
    "Geometry",
    "layer_steps",
    "chain_geometry",
    "AlignToBases",
    "PositionBody",
    "output_margin",
    "natural_margin",
    "OPTION_RULES",
]


@dataclass(frozen=True)
class Step:
    """One layer along the path data take: effective kernel, stride, zero padding on the
    left and right, and whether a partial last window is kept (``ceil_mode``)."""

    kernel: int
    stride: int = 1
    pad_left: int = 0
    pad_right: int = 0
    ceil: bool = False

    def length(self, n: int) -> int:
        """Positions out for ``n`` positions in (as PyTorch computes them)."""
        span = n + self.pad_left + self.pad_right - self.kernel
        if span < 0:
            return 0
        out = (-(-span // self.stride) if self.ceil else span // self.stride) + 1
        # PyTorch drops a ceil-mode window that would start in the right padding.
        if self.ceil and (out - 1) * self.stride >= n + self.pad_left:
            out -= 1
        return out


def _first(value: int | tuple[int, ...]) -> int:
    return value[0] if isinstance(value, tuple) else value


def layer_steps(module: nn.Module) -> Iterator[Step]:
    """The :class:`Step` of each layer of a chain, in order; residual blocks contribute their
    main branch (the shortcut sees a subset of its window).

    Raises
    ------
    ValueError
        For a layer that mixes all positions (global pooling, flatten, dense).
    """
    from .blocks import DilatedResidualBlock, GlobalPool, ResidualBlock

    if isinstance(module, (ResidualBlock, DilatedResidualBlock)):
        yield from layer_steps(module.main)
    elif isinstance(module, nn.Conv1d):
        if isinstance(module.padding, str):
            raise ValueError("string padding in Conv1d is not traced; use ConstantPad1d")
        kernel = module.dilation[0] * (module.kernel_size[0] - 1) + 1
        pad = module.padding[0]
        yield Step(kernel, module.stride[0], pad, pad)
    elif isinstance(module, (nn.MaxPool1d, nn.AvgPool1d)):
        dilation = _first(getattr(module, "dilation", 1))
        kernel = dilation * (_first(module.kernel_size) - 1) + 1
        pad = _first(module.padding)
        yield Step(kernel, _first(module.stride), pad, pad, bool(module.ceil_mode))
    elif isinstance(module, nn.ConstantPad1d):
        yield Step(1, 1, module.padding[0], module.padding[1])
    elif isinstance(
        module, (GlobalPool, nn.Flatten, nn.Linear, nn.AdaptiveMaxPool1d, nn.AdaptiveAvgPool1d)
    ):
        raise ValueError(
            f"{type(module).__name__} mixes all positions: the receptive field is defined for "
            f"convolutional layers only"
        )
    else:
        for child in module.children():
            yield from layer_steps(child)


@dataclass(frozen=True)
class Geometry:
    """Where the positions of a chain's output map sit on its input.

    Position ``j`` sees input bases ``[start + j * jump, start + j * jump + size)``
    (``size`` is the receptive field); ``steps`` give the map's length for any input.
    """

    start: int
    size: int
    jump: int
    steps: tuple[Step, ...]

    def length(self, input_length: int) -> int:
        """Positions of the map for an input of ``input_length`` bases."""
        n = int(input_length)
        for step in self.steps:
            n = step.length(n)
        return n

    @property
    def first_base(self) -> int:
        """``a``: the first of the ``jump`` bases assigned to position 0 (centred in its
        window)."""
        return self.start + (self.size - self.jump) // 2


def chain_geometry(*modules: nn.Module) -> Geometry:
    """The :class:`Geometry` of modules applied one after the other (e.g. stem, tower)."""
    start, size, jump = 0, 1, 1
    steps: list[Step] = []
    for module in modules:
        for step in layer_steps(module):
            start -= step.pad_left * jump
            size += (step.kernel - 1) * jump
            jump *= step.stride
            steps.append(step)
    return Geometry(start, size, jump, tuple(steps))


def natural_margin(geometry: Geometry) -> int:
    """Bases to cut on each side so that a map's positions cover a centred window: the
    more of what it leaves uncovered on the left and on the right.

    A stride-1 map leaves the same number of bases at every input length; a strided one is
    cut by its first base only (:class:`AlignToBases` repeats its last position over what
    a dropped last window left).
    """
    first_base = geometry.first_base
    if geometry.jump != 1:
        return max(0, first_base)
    probe = 4 * geometry.size + 1024
    return max(0, first_base, probe - first_base - geometry.length(probe))


def output_margin(natural: int, input_length: int, output_length: int, extra: int = 0) -> int:
    """Bases cut on each side of the input for an output of ``output_length`` bases at
    ``input_length`` (0: as long as the layers allow, ``natural`` bases on each side).

    ``extra`` bases more are cut by the head's own valid convolution.

    Raises
    ------
    seqcnn.errors.UsageError
        ``output_length`` is longer than the layers allow or leaves an odd difference.
    """
    from ..errors import UsageError

    natural += extra
    if input_length - 2 * natural < 1:
        raise UsageError(
            f"input length {input_length} is too short: the layers cut {natural} bases on each "
            f"side, so at least {2 * natural + 1} bases are needed for any output"
        )
    if not output_length:
        return natural
    longest = input_length - 2 * natural
    if output_length > longest:
        raise UsageError(
            f"output_length {output_length} is too long for input length {input_length}: "
            f"the layers leave at most {longest} central bases (output_length 0: that many)"
        )
    if (input_length - output_length) % 2:
        raise UsageError(
            f"output_length {output_length} and input length {input_length} differ by an odd "
            f"number; the output is the central window, so choose {output_length - 1} or "
            f"{output_length + 1}"
        )
    return (input_length - output_length) // 2


class AlignToBases(nn.Module):
    """A feature map ``(N, C, n)`` -> the central window at base resolution ``(N, C, L - 2m)``.

    Parameters
    ----------
    first_base
        ``a``, the first base assigned to map position 0 (see the module docs).
    jump
        Bases per map position; each position is repeated over its bases.
    margin
        ``m``, bases cut on each side of the input.  Bases past the map's end (a strided
        map whose last window was dropped) repeat its last position.
    """

    def __init__(self, first_base: int, jump: int, margin: int):
        super().__init__()
        if margin < max(0, first_base):
            raise ValueError(f"margin {margin} is left of the map's first base {first_base}")
        self.first_base, self.jump, self.margin = int(first_base), int(jump), int(margin)

    def forward(self, x: torch.Tensor, input_length: int) -> torch.Tensor:
        out_length = input_length - 2 * self.margin
        if out_length < 1:
            raise ModelError(
                f"sequences of length {input_length} leave no output: the model cuts "
                f"{self.margin} bases on each side"
            )
        if self.jump > 1:
            x = x.repeat_interleave(self.jump, dim=-1)
        begin = self.margin - self.first_base
        end = begin + out_length
        if end > x.shape[-1]:
            x = functional.pad(x, (0, end - x.shape[-1]), mode="replicate")
        return x[..., begin:end]

    def extra_repr(self) -> str:
        return f"first_base={self.first_base}, jump={self.jump}, margin={self.margin}"


class PositionBody(nn.Module):
    """The body of a per-position network: ``reduce(tower(x))`` with ``reduce`` an
    :class:`AlignToBases`, so the head reads a map at base resolution, ``(N, C, L - 2m)``.

    It has what :class:`seqcnn.models.SeqCNN` reads of a body (``tower``, ``reduce``,
    ``out_features``, ``fixed_length``) and knows its head (:meth:`make_head`).

    Parameters
    ----------
    tower
        The trunk after the stem, ``(N, F, L - w + 1)`` -> ``(N, C, n)``.
    reduce
        The :class:`AlignToBases` for that map.
    out_features
        ``C``.
    stem_width
        ``w``: the input length is the stem's output length + ``w - 1``.
    make_head
        ``make_head(n_outputs) -> head``, the head this body is made for.
    """

    fixed_length = False

    def __init__(
        self,
        tower: nn.Module,
        reduce: AlignToBases,
        out_features: int,
        stem_width: int,
        make_head: Callable[[int], nn.Module],
    ):
        super().__init__()
        self.tower = tower
        self.reduce = reduce
        self.out_features = int(out_features)
        self.stem_width = int(stem_width)
        self._make_head = make_head

    def make_head(self, n_outputs: int) -> nn.Module:
        """A fresh head of ``n_outputs`` tracks for this body."""
        return self._make_head(int(n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.tower(x), x.shape[-1] + self.stem_width - 1)


# ----------------------------------------------------------------------------- options


def _odd(value: Any) -> int:
    value = integer(1)(value)
    if value % 2 == 0:
        raise ValueError
    return value


#: Checks of the options the per-position architectures add (name -> (what is allowed,
#: check returning the normalised value or raising ValueError)).
OPTION_RULES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "encoder_filters": ("a non-empty list of positive integers", integers(1)),
    "bottleneck_filters": ("a positive integer", integer(1)),
    "pool_size": ("an integer >= 2", integer(2)),
    "profile_width": ("a positive odd integer", _odd),
    "output_length": ("an integer >= 0 (0: as long as the layers allow)", integer(0)),
}

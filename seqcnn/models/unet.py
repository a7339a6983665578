"""``unet``: a 1D U-Net, the classic network for an output at every base.

The encoder convolves and pools, level by level, so deeper levels see wider context at
coarser resolution; a bottleneck convolves at the coarsest; the decoder upsamples level by
level and concatenates the encoder's map of the same resolution (the skip connection),
so the output has the full resolution of the input and its fine detail::

    stem -> pad -> [down_i (conv, conv) -> pool_i] x depth -> bottleneck (conv, conv)
         -> [up_i (upsample, concatenate down_i's map, conv, conv)] x depth -> head

Lengths: the stem (``Conv1d(4, F, w)`` without padding, as every seqcnn stem) is padded
back to the input length (``(w - 1) // 2`` zeros on the left, ``w // 2`` on the right), so
position ``i`` stands for base ``i``.  Pooling keeps a partial last window
(``ceil_mode``), so any length works, not only multiples of ``pool_size ** depth``; each
decoder level repeats every position ``pool_size`` times (nearest-neighbour upsampling)
and crops the result to its skip's length.  The output covers every base, or the central
``output_length`` bases (see :mod:`seqcnn.models.position`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .blocks import ConvBlock, Stem
from .heads import PositionHead
from .position import AlignToBases, PositionBody, output_margin

__all__ = ["UNetTower", "UpBlock", "unet"]

# Interval arithmetic marks a zero-padded position as depending on no base at all.
_NONE_LO, _NONE_HI = np.iinfo(np.int64).max // 4, np.iinfo(np.int64).min // 4


def _conv_pair(in_channels: int, out_channels: int, width: int, batch_norm: bool, dropout: float):
    return nn.Sequential(
        ConvBlock(in_channels, out_channels, width, batch_norm=batch_norm),
        ConvBlock(out_channels, out_channels, width, batch_norm=batch_norm, dropout=dropout),
    )


class UpBlock(nn.Module):
    """A decoder level: upsample ``x`` by ``scale`` (nearest), crop it to the skip's length,
    concatenate ``[skip, x]`` and convolve twice.

    Shapes
    ------
    ``x (N, C_in, n)``, ``skip (N, C_skip, m)`` with ``m <= scale * n`` ->
    ``(N, C_out, m)``.
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        width: int,
        scale: int,
        batch_norm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.scale = int(scale)
        channels = in_channels + skip_channels
        self.convs = _conv_pair(channels, out_channels, width, batch_norm, dropout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = x.repeat_interleave(self.scale, dim=-1)[..., : skip.shape[-1]]
        return self.convs(torch.cat([skip, x], dim=1))


class UNetTower(nn.Module):
    """Encoder, bottleneck and decoder after the stem: ``(N, F, L - w + 1)`` -> ``(N, C, L)``.

    Children are registered in the order ``forward`` runs them (``pad``, ``down0``,
    ``pool0``, ..., ``bottleneck``, ``up{depth-1}``, ..., ``up0``), so a layer-by-layer
    description lists them as data flow.

    Parameters
    ----------
    in_channels
        ``F``, the stem's filters.
    encoder_filters
        Channels of each encoder level (and of the decoder level of the same resolution);
        their number is the depth.
    bottleneck_filters
        Channels at the coarsest resolution.
    width
        Width of every convolution.
    pool_size
        Pooling (and upsampling) factor between levels.
    stem_width
        ``w``: the stem's output is padded back to the input length.
    batch_norm, dropout
        As in :class:`~seqcnn.models.blocks.ConvBlock` (dropout after each pair of
        convolutions).
    """

    def __init__(
        self,
        in_channels: int,
        encoder_filters: Sequence[int],
        bottleneck_filters: int,
        width: int,
        pool_size: int,
        stem_width: int,
        batch_norm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.depth = len(encoder_filters)
        self.width, self.pool_size = int(width), int(pool_size)
        self.pad = nn.ConstantPad1d(((stem_width - 1) // 2, stem_width // 2), 0.0)
        channels = in_channels
        for level, filters in enumerate(encoder_filters):
            down = _conv_pair(channels, filters, width, batch_norm, dropout)
            self.add_module(f"down{level}", down)
            self.add_module(f"pool{level}", nn.MaxPool1d(pool_size, ceil_mode=True))
            channels = filters
        self.bottleneck = _conv_pair(channels, bottleneck_filters, width, batch_norm, dropout)
        channels = bottleneck_filters
        for level in reversed(range(self.depth)):
            filters = encoder_filters[level]
            up = UpBlock(channels, filters, filters, width, pool_size, batch_norm, dropout)
            self.add_module(f"up{level}", up)
            channels = filters
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pad(x)
        skips = []
        for level in range(self.depth):
            x = getattr(self, f"down{level}")(x)
            skips.append(x)
            x = getattr(self, f"pool{level}")(x)
        x = self.bottleneck(x)
        for level in reversed(range(self.depth)):
            x = getattr(self, f"up{level}")(x, skips[level])
        return x

    # -------------------------------------------------------------- receptive field

    def dependencies(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first and last input base each output position depends on, given those of
        each input position (interval arithmetic mirroring :meth:`forward`)."""
        left, right = self.pad.padding
        lo = np.concatenate([np.full(left, _NONE_LO), lo, np.full(right, _NONE_LO)])
        hi = np.concatenate([np.full(left, _NONE_HI), hi, np.full(right, _NONE_HI)])
        skips = []
        for _ in range(self.depth):
            lo, hi = _convolved(lo, hi, self.width, times=2)
            skips.append((lo, hi))
            lo, hi = _pooled(lo, hi, self.pool_size)
        lo, hi = _convolved(lo, hi, self.width, times=2)
        for level in reversed(range(self.depth)):
            skip_lo, skip_hi = skips[level]
            index = np.arange(len(skip_lo)) // self.pool_size
            lo = np.minimum(skip_lo, lo[index])
            hi = np.maximum(skip_hi, hi[index])
            lo, hi = _convolved(lo, hi, self.width, times=2)
        return lo, hi

    def grow_receptive_field(self, size: int, jump: int) -> tuple[int, int]:
        """``(size, jump)`` after this tower, for input positions that each see ``size``
        bases, ``jump`` bases apart: the most bases one output position depends on."""
        length, previous = 256, None
        while True:
            start = np.arange(length, dtype=np.int64) * jump
            lo, hi = self.dependencies(start, start + size - 1)
            known = lo <= hi
            field = int((hi[known] - lo[known]).max()) + 1
            # Long enough that the middle positions see no padding: the answer stops growing.
            if field == previous and field < length * jump // 4:
                return field, jump
            previous, length = field, length * 2


def _convolved(lo: np.ndarray, hi: np.ndarray, width: int, times: int):
    """Intervals after ``times`` "same" convolutions of ``width`` (ConvBlock's padding)."""
    left = (width - 1) // 2
    right = width - 1 - left
    for _ in range(times):
        padded_lo = np.concatenate([np.full(left, _NONE_LO), lo, np.full(right, _NONE_LO)])
        padded_hi = np.concatenate([np.full(left, _NONE_HI), hi, np.full(right, _NONE_HI)])
        windows = np.lib.stride_tricks.sliding_window_view
        lo = windows(padded_lo, width).min(axis=1)
        hi = windows(padded_hi, width).max(axis=1)
    return lo, hi


def _pooled(lo: np.ndarray, hi: np.ndarray, size: int):
    """Intervals after non-overlapping pooling with a partial last window."""
    extra = -len(lo) % size
    lo = np.concatenate([lo, np.full(extra, _NONE_LO)]).reshape(-1, size).min(axis=1)
    hi = np.concatenate([hi, np.full(extra, _NONE_HI)]).reshape(-1, size).max(axis=1)
    return lo, hi


def unet(
    input_length: int,
    *,
    first_filters: int = 32,
    first_width: int = 15,
    first_activation: str = "relu",
    encoder_filters: Sequence[int] = (32, 64, 128),
    bottleneck_filters: int = 128,
    conv_width: int = 5,
    pool_size: int = 2,
    dropout: float = 0.0,
    batch_norm: bool = True,
    output_length: int = 0,
) -> tuple[Stem, PositionBody]:
    """1D U-Net (see the module docs): an output for every base, or the central
    ``output_length`` bases (0: every base).

    The depth is ``len(encoder_filters)``; the map is pooled ``pool_size ** depth``-fold
    at the bottleneck.  ``dropout`` follows every pair of convolutions.  The head is a
    :class:`~seqcnn.models.heads.PositionHead`.
    """
    stem = Stem(first_filters, first_width, first_activation, batch_norm)
    tower = UNetTower(
        first_filters,
        encoder_filters,
        bottleneck_filters,
        conv_width,
        pool_size,
        first_width,
        batch_norm=batch_norm,
        dropout=dropout,
    )
    margin = output_margin(0, input_length, output_length)
    channels = tower.out_channels

    def make_head(n_outputs: int) -> PositionHead:
        return PositionHead(channels, n_outputs, margin)

    body = PositionBody(tower, AlignToBases(0, 1, margin), channels, first_width, make_head)
    return stem, body

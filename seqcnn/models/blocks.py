"""Building blocks of the networks: stem, conv, residual and dilated residual blocks.

Every block maps ``(N, C_in, L)`` to ``(N, C_out, L_out)`` and registers its submodules
in the order ``forward`` uses them, so that :func:`seqcnn.models.receptive_field` can
trace kernel sizes, dilations and strides from the modules themselves.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UsageError
from .names import ACTIVATIONS

__all__ = [
    "ACTIVATIONS",
    "GLOBAL_POOLS",
    "ConvBlock",
    "DilatedResidualBlock",
    "Exp",
    "GlobalPool",
    "ResidualBlock",
    "Stem",
    "make_activation",
    "pooled_length",
]

GLOBAL_POOLS = ("max", "avg")
_PADDINGS = ("valid", "same")


class Exp(nn.Module):
    """Exponential activation, ``exp(min(x, max_input))``.

    Koo & Ploenzke (2021, Nature Machine Intelligence) showed that an exponential
    activation in the first layer makes its filters look like whole, clean motifs.

    Parameters
    ----------
    max_input
        Inputs are clamped to this value first.  ``exp(10) ~ 22,026`` fits in float16
        (largest finite value 65,504, i.e. ``exp(11.09)``), so with the default the
        activation is the same function in float32, bfloat16 and float16/AMP, and a
        large pre-activation can never become ``inf`` in the next layer.
    """

    def __init__(self, max_input: float = 10.0):
        super().__init__()
        self.max_input = float(max_input)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x.clamp(max=self.max_input))

    def extra_repr(self) -> str:
        return f"max_input={self.max_input}"


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module by name.

    Parameters
    ----------
    name
        One of ``"relu"``, ``"gelu"``, ``"elu"``, ``"softplus"``, ``"exp"``.

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    seqcnn.errors.UsageError
        If the name is not one of :data:`ACTIVATIONS`.

    Examples
    --------
    >>> make_activation("exp")
    Exp(max_input=10.0)
    """
    factories = {
        "relu": nn.ReLU,
        "gelu": nn.GELU,
        "elu": nn.ELU,
        "softplus": nn.Softplus,
        "exp": Exp,
    }
    if name not in factories:
        raise UsageError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return factories[name]()


def pooled_length(length: int, pool_size: int) -> int:
    """Length after non-overlapping pooling with ``ceil_mode=True`` (no base is dropped)."""
    return -(-length // pool_size)


def _pool(kind: str | None, size: int) -> nn.Module:
    # ceil_mode keeps the last, partial window, so no position at the end is ignored.
    if kind is None or size == 1:
        return nn.Identity()
    if kind == "max":
        return nn.MaxPool1d(size, ceil_mode=True)
    if kind == "avg":
        return nn.AvgPool1d(size, ceil_mode=True)
    raise ValueError(f"pool must be None, 'max' or 'avg', got {kind!r}")


class Stem(nn.Module):
    """The first layer: ``conv`` -> ``norm`` -> ``activation``.

    ``conv`` is ``nn.Conv1d(4, filters, width)`` without padding, so position ``i`` of the
    output sees exactly the input bases ``[i, i + width)``; motif extraction relies on it.

    Parameters
    ----------
    filters
        Number of first-layer filters ``F``.
    width
        Filter width ``w`` in bases.
    activation
        Activation name, see :func:`make_activation`.
    batch_norm
        Whether to normalise the convolution's output before the activation.

    Shapes
    ------
    ``(N, 4, L)`` -> ``(N, F, L - w + 1)``.
    """

    def __init__(self, filters: int, width: int, activation: str = "relu", batch_norm: bool = True):
        super().__init__()
        self.conv = nn.Conv1d(4, filters, width)
        self.norm = nn.BatchNorm1d(filters) if batch_norm else nn.Identity()
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.conv(x)))


class ConvBlock(nn.Module):
    """Convolution -> batch norm -> activation -> pooling -> dropout.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    kernel_size
        Width of the convolution.
    stride, dilation
        Of the convolution.
    padding
        ``"same"``: zero-pad so the output has ``ceil(L / stride)`` positions (odd or even
        kernels, any stride); ``"valid"``: no padding.
    batch_norm
        Normalise the convolution's output (the convolution then has no bias).
    activation
        Activation name (see :func:`make_activation`) or ``None`` for none.
    pool
        ``"max"``, ``"avg"`` or ``None``; non-overlapping windows of ``pool_size``,
        the last window may be partial.
    pool_size
        Pooling window and stride; 1 means no pooling.
    dropout
        Dropout probability applied last.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        padding: str = "same",
        batch_norm: bool = True,
        activation: str | None = "relu",
        pool: str | None = None,
        pool_size: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        if padding not in _PADDINGS:
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        total = dilation * (kernel_size - 1) if padding == "same" else 0
        # Undilated convolutions with an even total (odd kernels) pad inside the convolution:
        # 1.4x faster on CPU for the cnn's conv block than a pad layer copying every
        # activation, the same numbers.  Dilated ones keep the pad layer, which oneDNN ran
        # faster for some dilations; odd totals need the extra zero on the right, which
        # Conv1d's integer padding cannot express.
        inside = total // 2 if total % 2 == 0 and dilation == 1 else 0
        self.pad = (
            nn.ConstantPad1d((total // 2, total - total // 2), 0.0)
            if total and not inside
            else nn.Identity()
        )
        self.conv = nn.Conv1d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            dilation=dilation,
            padding=inside,
            bias=not batch_norm,
        )
        self.norm = nn.BatchNorm1d(out_channels) if batch_norm else nn.Identity()
        self.activation = make_activation(activation) if activation else nn.Identity()
        self.pool = _pool(pool, pool_size)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activation(self.norm(self.conv(self.pad(x))))
        return self.dropout(self.pool(x))


class ResidualBlock(nn.Module):
    """Two ``"same"`` convolutions with a shortcut: ``act(main(x) + shortcut(x))``.

    The shortcut is the identity when channels and stride are unchanged, otherwise a 1x1
    convolution with the block's stride (plus batch norm), as in ResNet.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    kernel_size
        Width of both convolutions.
    stride
        Stride of the first convolution (and the shortcut); 2 halves the length.
    batch_norm, activation, dropout
        As in :class:`ConvBlock`; dropout is applied after the addition.

    Shapes
    ------
    ``(N, in_channels, L)`` -> ``(N, out_channels, ceil(L / stride))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        batch_norm: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        self.main = nn.Sequential(
            ConvBlock(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                batch_norm=batch_norm,
                activation=activation,
            ),
            ConvBlock(
                out_channels, out_channels, kernel_size, batch_norm=batch_norm, activation=None
            ),
        )
        if in_channels == out_channels and stride == 1:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = ConvBlock(
                in_channels, out_channels, 1, stride=stride, batch_norm=batch_norm, activation=None
            )
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.activation(self.main(x) + self.shortcut(x)))


class DilatedResidualBlock(nn.Module):
    """BPNet/Basenji-style dilated convolution with a residual add: ``x + main(x)``.

    ``main`` is a ``"same"``-padded :class:`ConvBlock` (conv -> norm -> activation ->
    dropout), so the length and channels are unchanged.

    Parameters
    ----------
    channels
        Channels in and out.
    dilation
        Dilation of the convolution; stacking blocks with dilation ``2**i`` grows the
        receptive field exponentially with depth.
    kernel_size
        Width of the convolution (3 in BPNet and Basenji).
    batch_norm, activation, dropout
        As in :class:`ConvBlock`.
    """

    def __init__(
        self,
        channels: int,
        dilation: int,
        kernel_size: int = 3,
        *,
        batch_norm: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        self.main = ConvBlock(
            channels,
            channels,
            kernel_size,
            dilation=dilation,
            batch_norm=batch_norm,
            activation=activation,
            dropout=dropout,
        )
        self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.main(x)


class GlobalPool(nn.Module):
    """Pool over all positions: ``(N, C, L)`` -> ``(N, C)``, by ``"max"`` or ``"avg"``."""

    def __init__(self, mode: str = "avg"):
        super().__init__()
        if mode not in GLOBAL_POOLS:
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=-1) if self.mode == "max" else x.mean(dim=-1)

    def extra_repr(self) -> str:
        return repr(self.mode)

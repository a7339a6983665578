"""``bpnet``: BPNet / ChromBPNet, base-resolution profiles with a profile and a counts head.

A wide first convolution, a tower of dilated residual convolutions (dilation ``2**i``,
``i = 1..dilated_layers``, ``x + relu(conv(x))``, no batch norm, as in BPNet), then two
heads on the same map (:class:`~seqcnn.models.heads.ProfileHead`): a wide valid
convolution gives per-base logits per track over the central ``output_length`` bases,
and a counts head gives the log of ``1 +`` the total count per track: a linear layer on
the map's mean as in BPNet (``counts_pool="avg"``), or the log of the mean of per-position
rates (``"logmeanexp"``, which learns totals driven by a short site in a long window far
sooner; see :class:`~seqcnn.models.heads.ProfileHead`).
The network returns both in one tensor, the log expected counts per base
(``log_softmax(profile) + counts``; see :mod:`seqcnn.models.heads`).

With the defaults (``first_width`` 21, 8 dilated layers, ``profile_width`` 75) one output
base sees 1,115 input bases, and ``input_length`` 2,114 with ``output_length`` 1,000 is
ChromBPNet's setup: no output base sees padding.  The convolutions here are "same"-padded
and the output cropped (as in bpnet-lite), which gives the same outputs at the centre.
"""

from __future__ import annotations

from torch import nn

from .blocks import DilatedResidualBlock, Stem
from .checks import choice
from .heads import COUNTS_POOLS, ProfileHead
from .position import AlignToBases, PositionBody, chain_geometry, natural_margin, output_margin

__all__ = ["bpnet", "OPTION_RULES"]

#: Checks of the options bpnet adds to the per-position ones (see :mod:`.architectures`).
OPTION_RULES = {"counts_pool": (f"one of {', '.join(COUNTS_POOLS)}", choice(COUNTS_POOLS))}


def bpnet(
    input_length: int,
    *,
    first_filters: int = 64,
    first_width: int = 21,
    first_activation: str = "relu",
    dilated_layers: int = 8,
    dilated_width: int = 3,
    profile_width: int = 75,
    output_length: int = 0,
    dropout: float = 0.0,
    batch_norm: bool = False,
    counts_pool: str = "avg",
) -> tuple[Stem, PositionBody]:
    """BPNet (see the module docs): ``(N, 4, L)`` -> log expected counts ``(N, T, L_out)``.

    ``output_length`` 0 gives the longest central window the layers allow
    (``L - first_width + 1 - profile_width + 1`` bases, give or take one for centring).
    ``dropout`` (none in BPNet) acts in every dilated layer.  ``counts_pool``: how the
    counts head pools the map (:data:`~seqcnn.models.heads.COUNTS_POOLS`).
    """
    stem = Stem(first_filters, first_width, first_activation, batch_norm)
    tower = nn.Sequential(
        *[
            DilatedResidualBlock(
                first_filters, 2**i, dilated_width, batch_norm=batch_norm, dropout=dropout
            )
            for i in range(1, dilated_layers + 1)
        ]
    )
    geometry = chain_geometry(stem, tower)
    half = profile_width // 2
    margin = output_margin(natural_margin(geometry), input_length, output_length, extra=half)
    # The profile convolution is valid: the body hands it `half` bases beyond each side.
    align = AlignToBases(geometry.first_base, 1, margin - half)

    def make_head(n_outputs: int) -> ProfileHead:
        return ProfileHead(first_filters, n_outputs, margin, profile_width, counts_pool)

    body = PositionBody(tower, align, first_filters, first_width, make_head)
    return stem, body

"""Heads: the last layer of a network, which declares the shape of what the network returns.

A network is a trunk + a head.  The trunk (``stem`` + ``body.tower``) turns one-hot
sequences ``(N, 4, L)`` into a per-position feature map ``(N, C, L')`` (``model.trunk(x)``);
``body.reduce`` fits that map to what the head reads (``model.embed(x)``); the head turns
that into the outputs.  The head alone decides what one sequence's output *is*, and says
so, so that the code downstream (loss, metrics, output transforms, prediction tables)
dispatches on the declaration instead of assuming ``(N, T)``.

The head interface
------------------
A head is an ``nn.Module`` with

``kind``
    A class attribute, one of :data:`HEAD_KINDS`:

    - ``"sequence"``: one value per target and sequence, outputs ``(N, T)``;
    - ``"position"``: a track of values per target along the sequence, outputs
      ``(N, T, L_out)``.

    ``SeqCNN.head_kind`` returns it; everything downstream branches on it (see
    :func:`seqcnn.labels.check_head_kind`).
``forward(features)``
    Receives what ``body`` returns for ``stem(x)`` -- ``model.embed(x)`` -- and returns
    raw outputs (logits, log-rates, values) of shape ``(N, *output_shape(L))``.  A
    sequence head reads the embedding ``(N, D)``, positions already pooled or flattened
    by ``body.reduce``; a position head reads a map that still has positions, lined up
    with the bases by ``body.reduce`` (see below).  Output transforms act on the target
    axis (axis 1: softmax over classes) in both cases.
``output_shape(input_length) -> tuple[int, ...]``
    The shape of one sequence's output, without the batch axis, for network inputs of
    ``input_length`` bases; it must equal ``forward(...).shape[1:]`` and is computed
    without running the network (``(T,)`` for a sequence head, ``(T, L_out)`` for a
    position head, which is built knowing how its trunk maps input length to ``L'`` and
    how it crops ``L'`` to ``L_out``).  ``SeqCNN.output_shape`` and
    :attr:`seqcnn.bundle.Model.output_shape` delegate here.
``n_outputs``
    ``T``, the number of targets (classes for a multiclass task).
``output_offset(input_length) -> int`` (position heads)
    The input base the first output position stands for: ``(L - L_out) // 2``.

Position heads
--------------
A position head reads a map at base resolution, ``(N, C, L - 2m)``: the body of a
per-position network (:class:`~seqcnn.models.position.PositionBody`) lines the trunk's
map up with the bases and cuts ``m`` bases on each side.  Its output covers the
**central** ``L_out`` bases of the input (see :mod:`seqcnn.models.position`), so
``output_offset(L) = (L - L_out) // 2`` and labels are cropped to the centre to match.

- :class:`PositionHead`: a ``Conv1d(C, T, 1)``, one logit (segmentation) or log-rate
  (profile) per track and base.
- :class:`ProfileHead` (``bpnet``): BPNet's two heads in **one tensor**.  The profile head
  (a wide valid convolution) gives per-base logits ``p`` per track, the counts head (a
  linear layer on the mean of the map, or per-base log-rates pooled by their log mean
  exponential: ``counts_pool``) the log of ``1 +`` the total count per track,
  ``c``; the network returns the log expected counts per base,
  ``log_softmax(p) + c``, of shape ``(N, T, L_out)``.  Both heads are recovered exactly:
  the profile is ``softmax`` over positions of the output, ``c`` its ``logsumexp``.  So
  everything downstream treats a bpnet like any position model with log-rate outputs:
  the profile loss (multinomial NLL of ``log_softmax(output)`` + λ · MSE of
  ``logsumexp(output)`` against ``log(1 + total)``), the ``exp`` output transform
  (expected counts per base), the metrics and prediction files.

:func:`attach_head` gives a trunk its head: the one a per-position body is made for, a
:class:`SequenceHead` on the others, or (``kind="position"``) a :class:`PositionHead` on
a sequence trunk (``dilated``, ``resnet``, ``cnn``), whose pooling and dense layers are
then left out.  A saved bundle's ``config.json`` names the head (``model.head``) when it
is not a sequence head; a bundle without that entry has its architecture's own head, so
bundles written before heads were named keep loading.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..errors import ModelError, UsageError
from ..labels import HEAD_KINDS

__all__ = [
    "HEAD_KINDS",
    "COUNTS_POOLS",
    "Head",
    "SequenceHead",
    "PositionHead",
    "ProfileHead",
    "attach_head",
]

#: How :class:`ProfileHead` pools the map for its counts head.
COUNTS_POOLS = ("avg", "logmeanexp")


@runtime_checkable
class Head(Protocol):
    """What :class:`~seqcnn.models.SeqCNN` needs of its head (see the module docs)."""

    kind: str

    @property
    def n_outputs(self) -> int: ...

    def output_shape(self, input_length: int) -> tuple[int, ...]: ...

    def __call__(self, features: torch.Tensor) -> torch.Tensor: ...


class SequenceHead(nn.Linear):
    """One output per target and sequence: ``Linear(D, T)`` on the embedding ``(N, D)``.

    A subclass of ``nn.Linear``, so its parameters stay ``head.weight`` and ``head.bias``
    in a network's state dict, as in every saved bundle, and it initialises exactly as
    ``nn.Linear`` does (same seed, same weights).

    Parameters
    ----------
    in_features
        ``D``, the width of the embedding the trunk produces.
    n_outputs
        ``T``, the number of targets (or classes).

    Examples
    --------
    >>> head = SequenceHead(16, 3)
    >>> head.kind, head.output_shape(200)
    ('sequence', (3,))
    """

    kind = "sequence"

    def __init__(self, in_features: int, n_outputs: int):
        super().__init__(in_features, n_outputs)

    @property
    def n_outputs(self) -> int:
        """``T``, the number of outputs per sequence."""
        return self.out_features

    def output_shape(self, input_length: int) -> tuple[int, ...]:
        """``(T,)``: one value per target, whatever the input length.

        Parameters
        ----------
        input_length
            Length of the network's input in bases (unused: the embedding has no
            positions left).
        """
        return (self.out_features,)


class _TrackHead(nn.Module):
    """What both position heads share: ``T`` tracks over the central window."""

    kind = "position"

    def __init__(self, n_outputs: int, margin: int):
        super().__init__()
        self._n_outputs = int(n_outputs)
        self.margin = int(margin)

    @property
    def n_outputs(self) -> int:
        """``T``, the number of tracks."""
        return self._n_outputs

    def output_offset(self, input_length: int) -> int:
        """The input base the first output position stands for, ``(L - L_out) // 2``."""
        return self.margin

    def output_shape(self, input_length: int) -> tuple[int, ...]:
        """``(T, L - 2 * margin)``: one value per track and base of the central window.

        Raises
        ------
        seqcnn.errors.ModelError
            For an input too short to leave any output.
        """
        length = int(input_length) - 2 * self.margin
        if length < 1:
            raise ModelError(
                f"sequences of length {input_length} leave no output: the model cuts "
                f"{self.margin} bases on each side (it needs at least {2 * self.margin + 1})"
            )
        return (self._n_outputs, length)


class PositionHead(_TrackHead):
    """One raw output per track and base: ``Conv1d(C, T, 1)`` on a base-resolution map.

    Parameters
    ----------
    in_channels
        ``C``, the channels of the map the body gives.
    n_outputs
        ``T``, the number of tracks.
    margin
        Bases the body cut on each side of the input (the output covers ``[margin,
        L - margin)``).

    Examples
    --------
    >>> head = PositionHead(16, 2, margin=10)
    >>> head.kind, head.output_shape(200), head.output_offset(200)
    ('position', (2, 180), 10)
    """

    kernel_size = 1

    def __init__(self, in_channels: int, n_outputs: int, margin: int = 0):
        super().__init__(n_outputs, margin)
        self.conv = nn.Conv1d(in_channels, n_outputs, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(features)


class ProfileHead(_TrackHead):
    """BPNet's profile and counts heads as one output, the log expected counts per base.

    ``profile`` is a valid ``Conv1d(C, T, width)``: the map it reads extends
    ``width // 2`` bases beyond the output window on each side, as in BPNet.  ``counts``
    gives the log of ``1 +`` the total count per track (:meth:`log_counts`), pooled over
    positions as ``counts_pool`` says:

    - ``"avg"`` (BPNet's): ``Linear(C, T)`` on the map's mean over positions;
    - ``"logmeanexp"``: ``Conv1d(C, T, 1)``, a log-rate per position, and the log of the
      mean of their exponentials: the total as a sum of per-base contributions.  A site
      that covers a few bases of a long window moves this by as much as its own
      log-rate rises, where the mean dilutes it by the window's length over the site's,
      so the weights it needs are that many times smaller -- and with Adam's
      near-constant step sizes, reached that many times sooner.

    The output is ``log_softmax(profile) + counts`` (see the module docs).

    Parameters
    ----------
    in_channels
        ``C``.
    n_outputs
        ``T``, the number of tracks.
    margin
        Bases cut on each side of the input, this head's own ``width // 2`` included.
    width
        Width of the profile convolution (odd; 75 in BPNet).
    counts_pool
        One of :data:`COUNTS_POOLS` (above).

    Examples
    --------
    >>> head = ProfileHead(8, 1, margin=47, width=75)
    >>> head(torch.zeros(2, 8, 1074)).shape
    torch.Size([2, 1, 1000])
    """

    def __init__(
        self,
        in_channels: int,
        n_outputs: int,
        margin: int,
        width: int = 75,
        counts_pool: str = "avg",
    ):
        super().__init__(n_outputs, margin)
        if counts_pool not in COUNTS_POOLS:
            raise UsageError(f"counts_pool must be one of {', '.join(COUNTS_POOLS)}")
        self.counts_pool = counts_pool
        self.profile = nn.Conv1d(in_channels, n_outputs, width)
        if counts_pool == "avg":
            self.counts = nn.Linear(in_channels, n_outputs)
        else:
            self.counts = nn.Conv1d(in_channels, n_outputs, 1)

    @property
    def kernel_size(self) -> int:
        """Width of the profile convolution (it adds ``width - 1`` to the receptive field)."""
        return self.profile.kernel_size[0]

    def log_counts(self, features: torch.Tensor) -> torch.Tensor:
        """The counts head alone: ``(N, T)``, the log of ``1 +`` each track's total."""
        if self.counts_pool == "avg":
            return self.counts(features.mean(dim=-1))
        rates = self.counts(features)
        return torch.logsumexp(rates, dim=-1) - math.log(rates.shape[-1])

    def start_counts_at(self, log_total: torch.Tensor | float) -> None:
        """Set the counts head's bias so that an untrained head predicts ``log_total``
        (e.g. the training data's mean ``log(1 + total)`` per track, as ChromBPNet starts
        its counts head) for a map of zeros."""
        with torch.no_grad():
            self.counts.bias.copy_(torch.as_tensor(log_total, dtype=self.counts.bias.dtype))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits = self.profile(features)
        return torch.log_softmax(logits, dim=-1) + self.log_counts(features).unsqueeze(-1)

    def extra_repr(self) -> str:
        return f"counts_pool={self.counts_pool!r}"


def attach_head(stem: nn.Module, body: nn.Module, n_outputs: int, kind: str | None = None):
    """The body and head a network gets: ``(body, head)``.

    Parameters
    ----------
    stem, body
        The trunk an architecture built.
    n_outputs
        ``T``, targets or tracks.
    kind
        ``None``: the architecture's own head (a per-position body's, else a
        :class:`SequenceHead`); ``"sequence"``; or ``"position"``, which turns a sequence
        trunk into a per-position one: its map is lined up with the bases
        (:class:`~seqcnn.models.position.PositionBody`, pooling and dense layers left out)
        and read by a :class:`PositionHead`.

    Raises
    ------
    seqcnn.errors.UsageError
        An unknown kind, or a sequence head asked of a per-position architecture.
    """
    from .position import AlignToBases, PositionBody, chain_geometry, natural_margin

    if kind is not None and kind not in HEAD_KINDS:
        raise UsageError(f"unknown head {kind!r}; choose one of {', '.join(HEAD_KINDS)}")
    made_for = getattr(body, "make_head", None)
    if made_for is not None:
        if kind == "sequence":
            raise UsageError("this architecture has a position head only (head: position)")
        return body, made_for(n_outputs)
    if kind in (None, "sequence"):
        return body, SequenceHead(body.out_features, n_outputs)
    geometry = chain_geometry(stem, body.tower)
    channels = [m.out_channels for m in body.tower.modules() if isinstance(m, nn.Conv1d)]
    channels = channels[-1] if channels else stem.conv.out_channels
    margin = natural_margin(geometry)
    width = stem.conv.kernel_size[0]
    align = AlignToBases(geometry.first_base, geometry.jump, margin)

    def make_head(n: int) -> nn.Module:
        return PositionHead(channels, n, margin)

    position_body = PositionBody(body.tower, align, channels, width, make_head)
    return position_body, position_body.make_head(n_outputs)

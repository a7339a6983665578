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
    by ``body.reduce``; a position head reads a map that still has positions,
    ``(N, C, L')``, since a trunk made for it ends with an ``nn.Identity`` (or
    per-position layers) as ``body.reduce``.  Output transforms act on the target axis
    (axis 1: softmax over classes) in both cases.
``output_shape(input_length) -> tuple[int, ...]``
    The shape of one sequence's output, without the batch axis, for network inputs of
    ``input_length`` bases; it must equal ``forward(...).shape[1:]`` and is computed
    without running the network (``(T,)`` for a sequence head, ``(T, L_out)`` for a
    position head, which is built knowing how its trunk maps input length to ``L'`` and
    how it crops ``L'`` to ``L_out``).  ``SeqCNN.output_shape`` and
    :attr:`seqcnn.bundle.Model.output_shape` delegate here.
``n_outputs``
    ``T``, the number of targets (classes for a multiclass task).

Adding the position head means a class here with ``kind = "position"``; which head a
network gets is :func:`seqcnn.models.build_model`'s choice.  A saved bundle's
``config.json`` does not name the head today: a bundle without that entry has a
sequence head, so bundles written before heads were named keep loading.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..labels import HEAD_KINDS

__all__ = ["HEAD_KINDS", "Head", "SequenceHead"]


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

"""The networks: building blocks, named architectures, receptive field and description.

A network is a :class:`SeqCNN` = ``stem`` (first conv layer) + ``body`` (to a flat
embedding) + ``head`` (linear), built by name::

    >>> from seqcnn.models import build_model, describe
    >>> model = build_model("cnn", input_length=200, n_outputs=12)
    >>> print(describe(model))  # doctest: +SKIP

This package imports torch; ``seqcnn`` imports it only when it is needed.
"""

from __future__ import annotations

from .architectures import ARCHITECTURES, SeqCNN, build_model, default_options, load_model_config
from .blocks import ACTIVATIONS, make_activation
from .summary import describe, receptive_field, summary

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "SeqCNN",
    "build_model",
    "default_options",
    "describe",
    "load_model_config",
    "make_activation",
    "receptive_field",
    "summary",
]

"""The networks: building blocks, trunks (named architectures), heads, and description.

A network is a :class:`SeqCNN`, a trunk topped by a head: the trunk is ``stem`` (first
conv layer) + ``body`` (the convolutional ``body.tower``, then ``body.reduce``, which
pools or flattens to the embedding), and the head turns that into the outputs and
declares their shape (``model.head_kind``, ``model.output_shape(length)``).  Built by
name::

    >>> from seqcnn.models import build_model, describe
    >>> model = build_model("cnn", input_length=200, n_outputs=12)
    >>> model.head_kind, model.output_shape()
    ('sequence', (12,))
    >>> print(describe(model))  # doctest: +SKIP

Where things go: a new architecture (trunk) is a builder in :mod:`.architectures`; a new
kind of head a class in :mod:`.heads` (whose docstring describes the interface); a new
layer type a block in :mod:`.blocks`.  Per-position networks (``unet``, ``bpnet``, or
``build_model(..., head="position")``) return ``(N, T, L_out)``: :mod:`.position`,
:mod:`.unet`, :mod:`.bpnet`.

Its submodules import torch; the names here are loaded lazily, when first used.
"""

from __future__ import annotations

import importlib
import sys
import types

# public name -> submodule that defines it
_EXPORTS = {
    "ARCHITECTURES": "architectures",
    "SeqCNN": "architectures",
    "build_model": "architectures",
    "default_options": "architectures",
    "load_model_config": "architectures",
    "register_architecture": "architectures",
    "ACTIVATIONS": "names",
    "HEAD_KINDS": "heads",
    "SequenceHead": "heads",
    "PositionHead": "heads",
    "ProfileHead": "heads",
    "POSITION_ARCHITECTURES": "names",
    "make_activation": "blocks",
    "describe": "summary",
    "receptive_field": "summary",
    "summary": "summary",
}

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "HEAD_KINDS",
    "POSITION_ARCHITECTURES",
    "PositionHead",
    "ProfileHead",
    "SeqCNN",
    "SequenceHead",
    "build_model",
    "default_options",
    "describe",
    "load_model_config",
    "make_activation",
    "register_architecture",
    "receptive_field",
    "summary",
]


class _Package(types.ModuleType):
    """``seqcnn.models``: ``summary`` stays the function when its submodule is imported.

    Importing ``seqcnn.models.summary`` makes Python set the package attribute to the module;
    the function of the same name is stored instead, as the eager imports used to leave it.
    """

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seqcnn.models' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

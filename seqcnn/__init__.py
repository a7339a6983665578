"""seqcnn: train convolutional networks on DNA sequences and explain what they learned.

The public API, re-exported here, follows the pipeline::

    read_fasta -> one_hot / encode -> train -> load_model -> predict -> filter_pwms / match_motifs

Names are imported lazily, so ``import seqcnn`` stays fast and torch is loaded only when
a function that needs it is called.
"""

from __future__ import annotations

import importlib

from ._version import __version__

# public name -> module that defines it
_EXPORTS = {
    # reading and encoding
    "read_fasta": "fasta",
    "write_fasta": "fasta",
    "reverse_complement": "fasta",
    "one_hot": "onehot",
    "decode": "onehot",
    "rc": "onehot",
    "encode": "dataset",
    "load_dataset": "dataset",
    "Dataset": "dataset",
    # models and training
    "build_model": "models",
    "describe": "models",
    "train": "train",
    "TrainOptions": "train",
    "load_model": "bundle",
    "Model": "bundle",
    # prediction
    "predict": "predict",
    "predict_file": "predict",
    # interpretation
    "filter_pwms": "motifs",
    "write_meme": "motifs",
    "read_meme": "motifs",
    "match_motifs": "motifs",
    "jaspar_motifs": "motifs",
    "filter_influence": "motifs",
    "information_content": "motifs",
    "attribution": "attribution",
    "plot_logo": "plots",
    "plot_attribution_logo": "plots",
    # data sets
    "simulate": "simulate",
    "write_simulation": "simulate",
    "dinucleotide_shuffle": "shuffle",
    "shuffle_sequences": "shuffle",
    # errors
    "SeqcnnError": "errors",
    "DataError": "errors",
    "UsageError": "errors",
    "ModelError": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seqcnn' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

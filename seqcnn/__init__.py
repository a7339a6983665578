"""seqcnn: train convolutional networks on DNA sequences and explain what they learned.

The public API, re-exported here, follows the pipeline::

    read_fasta -> one_hot / encode -> train -> load_model -> predict -> filter_pwms / match_motifs

Names are imported lazily, so ``import seqcnn`` stays fast and torch is loaded only when
a function that needs it is called.
"""

from __future__ import annotations

import importlib
import sys
import types

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
    "encode_intervals": "intervals",
    "Genome": "genome",
    "load_dataset": "dataset",
    "Dataset": "dataset",
    # models and training
    "build_model": "models",
    "describe": "models",
    "train": "training",
    "TrainOptions": "training",
    "tune": "training.tune",
    "load_model": "bundle",
    "as_model": "bundle",
    "Model": "bundle",
    "set_threads": "threads",
    "available_cpus": "threads",
    # prediction
    "predict": "predict",
    "predict_file": "predict",
    "predict_positions_file": "position_outputs",
    "read_positions": "position_outputs",
    "scan": "scan",
    "score_variants": "variants",
    "split_fasta": "shard",
    "gather_tables": "shard",
    # interpretation
    "filter_pwms": "motifs",
    "write_meme": "motifs",
    "read_meme": "motifs",
    "match_motifs": "motifs",
    "jaspar_motifs": "motifs",
    "filter_influence": "motifs",
    "information_content": "motifs",
    "interpret": "interpret",
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


class _Package(types.ModuleType):
    """``seqcnn`` itself: a function keeps its name when its submodule is imported.

    ``predict``, ``scan``, ``interpret``, ``simulate`` and ``attribution`` are each a
    function defined in a submodule of the same name.  Importing such a submodule (``import
    seqcnn.predict``, or any ``from seqcnn.predict import ...``) makes Python set the package
    attribute to the module, which would turn ``seqcnn.predict(...)`` into "module is not
    callable" depending on import order.  Here the function is stored instead; the modules
    stay importable by their full name (``from seqcnn.predict import predict_file``).
    """

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seqcnn' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""benchmarks/train.py pairs every seqcnn epoch with a bare epoch (issue 20): the bare epoch
runs after each epoch's checkpoint, outside seqcnn's clock, and continues one network."""

from __future__ import annotations

import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("train")


def test_a_bare_epoch_follows_each_checkpoint(bench, tmp_path):
    import numpy as np
    import torch

    from seqcnn.training import TrainOptions, loop
    from seqcnn.training.options import resolve_data_defaults

    dataset = bench.write_data(tmp_path, 200, 40, seed=1)
    options = TrainOptions(architecture="cnn", epochs=2, batch_size=32, patience=3,
                           valid_fraction=0.1, seed=0, device="cpu")  # fmt: skip
    rows = np.arange(len(dataset))
    options = resolve_data_defaults(options, len(rows))  # as train() fills in
    x = torch.from_numpy(dataset.one_hot(rows))
    y = torch.from_numpy(np.asarray(dataset.labels[rows], dtype=np.float32))
    bare = bench.BareEpochs(x, y, options)
    work = tmp_path / ".model.partial"
    seen = []

    def after():
        # The checkpoint of the epoch just finished is written; the next is not.
        seen.append(sorted(p.name for p in work.glob("checkpoint-*.safetensors")))
        bare.epoch()

    run = bench.seqcnn_run(dataset, options, tmp_path / "model", after_epoch=after)
    assert seen == [["checkpoint-0.safetensors"], ["checkpoint-1.safetensors"]]
    assert len(bare.seconds) == run["epochs"] == len(run["epoch seconds"]) == 2
    assert loop.save_checkpoint.__name__ == "save_checkpoint"  # the wrapper is removed
    assert not hasattr(loop.save_checkpoint, "__wrapped__")

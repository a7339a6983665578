"""Parallel CPU streams: the plan, the order of results, errors, threads, and outputs that
do not depend on whether batches ran in streams."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from conftest import random_sequences, write_fasta_file

from seqcnn.forward import activation_floats, run_network, stream_outputs, sub_batches
from seqcnn.models import build_model
from seqcnn.predict import predict
from seqcnn.streams import (
    ACTIVATION_BUDGET,
    MIN_STREAM_BATCH,
    STREAMS,
    StreamPlan,
    Streams,
    stream_plan,
)

CPU = torch.device("cpu")


@pytest.fixture
def threads():
    """Set torch's thread count in this test; the count before is put back after."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def test_plan_streams_only_on_a_cpu_with_two_threads(threads):
    threads(2)
    assert stream_plan(256, CPU, lambda: 40_000) == StreamPlan(STREAMS, 1, 256)
    assert stream_plan(256, torch.device("cuda"), lambda: 40_000).streams == 1
    assert stream_plan(256, CPU, lambda: None) == StreamPlan(1, None, 256)
    threads(1)
    assert stream_plan(256, CPU, lambda: 40_000) == StreamPlan(1, None, 256)


def test_plan_sizes_sub_batches_by_the_activations(threads):
    threads(4)
    plan = stream_plan(256, CPU, lambda: ACTIVATION_BUDGET // 100)
    assert (plan.streams, plan.threads, plan.batch_size) == (2, 2, 100)
    # never below the minimum, never above the batch asked for
    assert stream_plan(256, CPU, lambda: ACTIVATION_BUDGET).batch_size == MIN_STREAM_BATCH
    assert stream_plan(256, CPU, lambda: 1).batch_size == 256
    assert stream_plan(8, CPU, lambda: ACTIVATION_BUDGET).batch_size == 8


def test_activation_floats_counts_every_layer_output_once():
    network = torch.nn.Sequential(torch.nn.Conv1d(4, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                  torch.nn.Linear(8 * 8, 2))  # fmt: skip
    # conv 8 x 8, relu 8 x 8, flatten 64, linear 2
    assert activation_floats(network, 10) == 64 + 64 + 64 + 2
    network.train()
    activation_floats(network, 12)
    assert network.training  # the dry run left the mode as it was
    assert activation_floats(network, 3) is None  # too short for the network: unknown


def test_map_keeps_order_and_bounds_what_is_read_ahead(threads):
    threads(2)
    read = []

    def items():
        for i in range(20):
            read.append(i)
            yield i

    with Streams(StreamPlan(2, 1, 8)) as streams:
        results = streams.map(lambda i: (i, threading.current_thread().name), items(), ahead=3)
        first = next(results)
        assert first[0] == 0 and first[1].startswith("seqcnn-stream")
        assert len(read) <= 1 + 3 + 1  # the one waited for, 3 ahead, one being submitted
        rest = list(results)
    assert [i for i, _ in [first, *rest]] == list(range(20))


def test_an_error_in_a_stream_is_raised_to_the_caller(threads):
    threads(2)

    def fail_on_3(i):
        if i == 3:
            raise ValueError("bad batch 3")
        return i

    with Streams(StreamPlan(2, 1, 8)) as streams, pytest.raises(ValueError, match="bad batch 3"):
        list(streams.map(fail_on_3, range(10)))


def test_the_callers_thread_count_is_kept(threads):
    threads(2)
    with Streams(StreamPlan(2, 1, 8)) as streams:
        counts = list(streams.map(lambda _: torch.get_num_threads(), range(4)))
    assert counts == [1, 1, 1, 1]  # each stream runs one torch thread
    assert torch.get_num_threads() == 2


def test_one_stream_runs_in_the_calling_thread():
    with Streams(StreamPlan(1, None, 8)) as streams:
        names = list(streams.map(lambda _: threading.current_thread().name, range(3)))
        future = streams.submit(lambda: 1 / 0)
    assert set(names) == {threading.current_thread().name}
    with pytest.raises(ZeroDivisionError):
        future.result()


def test_sub_batches_cover_every_row_in_order():
    batches = [np.arange(7), np.arange(7, 9)]
    pieces = list(sub_batches(batches, 3))
    assert [len(p) for p in pieces] == [3, 3, 1, 2]
    assert np.concatenate(pieces).tolist() == list(range(9))


def network(length: int = 60, outputs: int = 3):
    torch.manual_seed(0)
    return build_model("cnn", input_length=length, n_outputs=outputs, first_filters=16,
                       conv_filters=[16], dense_units=16)  # fmt: skip


def test_run_network_gives_the_same_outputs_in_streams(threads):
    net = network()
    codes = np.random.default_rng(1).integers(0, 5, (700, 60)).astype(np.uint8)
    threads(1)
    alone = run_network(net, codes, batch_size=256, transform="sigmoid", rc_average=True)
    threads(2)
    assert stream_plan(256, CPU, lambda: activation_floats(net, 60)).streams == 2
    streamed = run_network(net, codes, batch_size=256, transform="sigmoid", rc_average=True)
    given = run_network(net, (codes[a : a + 300] for a in range(0, 700, 300)), rc_average=True,
                        transform="sigmoid")  # fmt: skip
    assert alone.shape == (700, 3)
    np.testing.assert_allclose(streamed, alone, rtol=0, atol=1e-6)
    np.testing.assert_allclose(given, alone, rtol=0, atol=1e-6)


def test_predict_gives_the_same_table_in_streams(threads, tmp_path):
    """Records of the model's length, shorter (padded) and longer (windows, several
    batches), per record and per window: the same rows, in the same order."""
    net = network()
    seqs = random_sequences(300, 60, seed=2) + random_sequences(40, 250, seed=3)
    seqs += random_sequences(20, 30, seed=4)
    fasta = write_fasta_file(tmp_path / "x.fa", [(f"r{i}", s) for i, s in enumerate(seqs)])
    results = {}
    for n in (1, 2):
        threads(n)
        results[n] = (predict(net, fasta, batch_size=64),
                      predict(net, fasta, batch_size=64, per_window=True))  # fmt: skip
    for alone, streamed in zip(results[1], results[2], strict=True):
        assert streamed.index.tolist() == alone.index.tolist()
        assert streamed.columns.tolist() == alone.columns.tolist()
        values = streamed.select_dtypes("number").to_numpy(float)
        np.testing.assert_allclose(values, alone.select_dtypes("number").to_numpy(float), atol=1e-6)
    assert len(results[2][1]) > len(seqs)  # the long records gave several windows


def test_stream_outputs_gives_each_chunk_in_order_from_one_set_of_streams(threads, monkeypatch):
    import seqcnn.streams as streams_module

    net = network()
    rng = np.random.default_rng(2)
    chunks = [rng.integers(0, 5, (n, 60)).astype(np.uint8) for n in (0, 300, 7, 0, 512, 0)]
    threads(1)
    expected = [run_network(net, chunk, batch_size=64, rc_average=True) for chunk in chunks]
    threads(2)
    pools = []
    real = streams_module.ThreadPoolExecutor
    monkeypatch.setattr(streams_module, "ThreadPoolExecutor",
                        lambda *a, **k: pools.append(1) or real(*a, **k))  # fmt: skip
    read = []

    def lazily():
        for chunk in chunks:
            read.append(len(chunk))
            yield chunk

    outputs = stream_outputs(net, lazily(), batch_size=64, rc_average=True)
    first = next(outputs)  # the first chunk (empty) comes before the others are all read
    assert first.shape == (0,) and len(read) < len(chunks)
    got = [first, *outputs]
    assert pools == [1]  # one pool of streams for every chunk, not one per chunk
    assert [len(out) for out in got] == [len(chunk) for chunk in chunks]
    for out, want in zip(got, expected, strict=True):
        if len(want):
            np.testing.assert_allclose(out, want, rtol=0, atol=1e-6)

"""seqcnn.inputs: every kind of sequences argument, read whole or streamed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import random_sequences, write_fasta_file

from seqcnn.errors import DataError, UsageError
from seqcnn.inputs import READ_BATCH, Reservoir, read_codes, sequence_chunks
from seqcnn.onehot import encode_sequences, one_hot


def test_every_input_kind_gives_the_same_codes(tmp_path):
    seqs = random_sequences(5, 30, seed=1)
    expected = encode_sequences(seqs, 40)
    fasta = write_fasta_file(tmp_path / "x.fa", [(f"r{i}", s) for i, s in enumerate(seqs)])
    inputs = [seqs, tuple(seqs), np.array(seqs), dict(zip("abcde", seqs, strict=True)),
              pd.Series(seqs, index=list("abcde")), fasta, encode_sequences(seqs),
              one_hot(seqs), torch.from_numpy(one_hot(seqs))]  # fmt: skip
    for x in inputs:
        data = read_codes(x, 40)
        np.testing.assert_array_equal(data.codes, expected)
        assert data.lengths.tolist() == [30] * 5 and data.total == 5 and len(data) == 5
    assert read_codes(fasta, 40).ids == [f"r{i}" for i in range(5)]
    assert read_codes(fasta, 40).name == str(fasta)
    assert read_codes(pd.Series(seqs, index=list("abcde")), None).ids == list("abcde")
    assert read_codes(seqs, None).ids == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("crop", ["center", "left", "right"])
def test_crop_and_pad_as_encode_sequences(crop):
    seqs = random_sequences(4, 30, seed=2)
    for length in (20, 30, 41):
        expected = encode_sequences(seqs, length, crop)
        for x in (seqs, encode_sequences(seqs), one_hot(seqs)):
            np.testing.assert_array_equal(read_codes(x, length, crop=crop).codes, expected)


def test_one_hot_input_keeps_its_values():
    x = one_hot(random_sequences(3, 30, seed=3), n_encoding="iupac")
    x[:, :, 4] = [0.1, 0.2, 0.3, 0.4]  # not one clear base: an N code, values kept
    data = read_codes(x, 36)
    assert (data.codes[:, 3 + 4] == 4).all()
    out = data.one_hot("uniform")
    np.testing.assert_array_equal(out[:, :, 3:33], x)
    assert (out[:, :, :3] == 0.25).all() and (out[:, :, 33:] == 0.25).all()


def test_sample_is_uniform_seeded_and_in_input_order():
    seqs = random_sequences(3 * READ_BATCH, 12, seed=4)
    a = read_codes(seqs, None, max_sequences=500, seed=0, keep_first=3)
    b = read_codes(seqs, None, max_sequences=500, seed=0)
    c = read_codes(seqs, None, max_sequences=500, seed=1)
    assert a.ids == b.ids != c.ids and len(a) == 500 and a.total == len(seqs)
    rows = [int(i) for i in a.ids]
    assert rows == sorted(rows)
    np.testing.assert_array_equal(a.codes, encode_sequences([seqs[i] for i in rows]))
    assert a.first.ids == ["0", "1", "2"] and b.first is None
    # every part of the stream is sampled, not only the start
    assert min(rows) < READ_BATCH < 2 * READ_BATCH < max(rows)
    array = read_codes(encode_sequences(seqs), None, max_sequences=500, seed=0)
    assert len(array) == 500 and array.ids == sorted(array.ids, key=int)


def test_reservoir_samples_aligned_columns_together():
    sample = Reservoir(100, seed=3)
    for start in range(0, 5000, 700):
        block = np.arange(start, min(start + 700, 5000))
        sample.add(block, block * 2)
    rows, doubled = sample.sample()
    assert len(rows) == 100 and (np.diff(rows) > 0).all()
    np.testing.assert_array_equal(doubled, rows * 2)
    everything = Reservoir(None)
    everything.add(np.arange(3))
    everything.add(np.arange(3, 5))
    assert everything.result().tolist() == [0, 1, 2, 3, 4]


def test_non_ascii_fasta_ids_are_read_as_written(tmp_path):
    ids = ["séq_α1", "序列", "plain"]
    fasta = write_fasta_file(tmp_path / "u.fa", list(zip(ids, ["ACGT"] * 3, strict=True)))
    assert read_codes(fasta, None).ids == ids
    chunks, _, _ = sequence_chunks(fasta, 4, "zeros", 2)
    assert [i for chunk in chunks for i in chunk.ids] == ids


def test_sequence_chunks_cut_windows_and_pad():
    seqs = ["ACGTACGTAC", "ACG"]
    chunks, total, name = sequence_chunks(seqs, 4, "zeros", 16)
    (chunk,) = list(chunks)
    assert total == 2 and name is None and chunk.ids == [0, 1] and chunk.rows is None
    windows = chunk.inputs(np.array([0, 0, 1]), np.array([0, 6, 0]))
    np.testing.assert_array_equal(windows, encode_sequences(["ACGT", "GTAC", "ACGN"]))
    codes_chunks, total, _ = sequence_chunks(encode_sequences(["ACGT"] * 5), 4, "zeros", 2)
    assert total == 5 and [len(c.ids) for c in codes_chunks] == [2, 2, 1]


def test_errors():
    with pytest.raises(DataError, match="no sequences given"):
        read_codes([], 10)
    with pytest.raises(DataError, match="record '1': empty sequence"):
        read_codes(["ACGT", ""], 10)
    with pytest.raises(DataError, match="record 'b'.*position 3"):
        read_codes({"a": "ACGT", "b": "ACXT"}, 10)
    with pytest.raises(DataError, match="length 3 differs"):
        read_codes(["ACGT", "ACG"], None)
    with pytest.raises(DataError, match="codes must be 0..14"):
        read_codes(np.full((2, 5), 20, dtype=np.uint8), None)
    with pytest.raises(UsageError, match=r"shape \(N, 4, length\)"):
        read_codes(np.zeros((2, 5, 9), dtype=np.float32), None)
    with pytest.raises(UsageError, match="not a file"):
        read_codes("ACGTACGT", None)
    with pytest.raises(UsageError, match="cannot read sequences from int"):
        read_codes(5, None)
    with pytest.raises(UsageError, match="max_sequences"):
        read_codes(["ACGT"], None, max_sequences=0)


def test_chunks_end_at_the_same_records_however_the_reader_batches_them(tmp_path):
    # Records of very different lengths, so that chunks end on the base limit as well as on
    # the record count; a FASTA file is read in batches of ~65 kb, a dict 1,024 at a time.
    rng = np.random.default_rng(7)
    lengths = rng.choice([5, 50, 400, 3000], size=5000, p=[0.4, 0.3, 0.2, 0.1])
    records = {f"r{i}": "".join(rng.choice(list("ACGT"), n)) for i, n in enumerate(lengths)}
    path = write_fasta_file(tmp_path / "mixed.fa", records.items())
    from_file, _, _ = sequence_chunks(str(path), 100, n_encoding="zeros", chunk_size=64)
    from_dict, _, _ = sequence_chunks(records, 100, n_encoding="zeros", chunk_size=64)
    file_ids = [chunk.ids for chunk in from_file]
    assert file_ids == [[str(i) for i in chunk.ids] for chunk in from_dict]
    # the expected boundaries, record by record: 64 records or 6,400 bases
    expected, current, bases = [], [], 0
    for name, n in zip(records, lengths, strict=True):
        current.append(name)
        bases += n
        if bases >= 6400 or len(current) == 64:
            expected.append(current)
            current, bases = [], 0
    assert file_ids == expected + ([current] if current else [])

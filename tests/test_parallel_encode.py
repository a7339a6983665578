"""Encoding a plain FASTA file in byte ranges, one process each, gives the same dataset."""

import json

import numpy as np
import pytest
from conftest import random_sequences, run_seqcnn, write_fasta_file

import seqcnn.sequence_file
from seqcnn.dataset import encode
from seqcnn.errors import DataError
from seqcnn.fasta import count_records, fasta_byte_ranges, read_fasta_batches


@pytest.fixture
def small_parts(monkeypatch):
    """Let files of a few kilobytes be cut into ranges (the default needs 32 MB)."""
    monkeypatch.setattr(seqcnn.sequence_file, "MIN_PART_BYTES", 64)


def _records(n=300, length=50, seed=0):
    return [(f"s{i}", s) for i, s in enumerate(random_sequences(n, length, seed))]


def _dataset_files(path):
    header = json.loads((path / "dataset.json").read_text())
    labels = (path / "labels.npy").read_bytes() if (path / "labels.npy").exists() else None
    return (
        (path / "sequences.u8").read_bytes(),
        (path / "ids.txt").read_text(),
        labels,
        header["content_hash"],
    )


def test_byte_ranges_start_at_records_and_cover_the_file(tmp_path):
    fasta = write_fasta_file(tmp_path / "x.fa", _records(), width=17, newline="\r\n")
    data = fasta.read_bytes()
    ranges = fasta_byte_ranges(fasta, 4, min_bytes=64)
    assert len(ranges) == 4
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(data[start : start + 1] == b">" for start, _ in ranges)
    # Reading the ranges one after the other gives every record of the file once.
    parts = [
        rid
        for byte_range in ranges
        for ids, _, _ in read_fasta_batches(fasta, byte_range=byte_range)
        for rid in ids
    ]
    assert parts == [rid for rid, _ in _records()]
    assert sum(count_records(fasta, r) for r in ranges) == 300
    assert fasta_byte_ranges(fasta, 4) == [(0, len(data))]  # too small for the default
    gz = write_fasta_file(tmp_path / "x.fa.gz", _records(), compress="gzip")
    assert fasta_byte_ranges(gz, 4, min_bytes=64) == []
    assert fasta_byte_ranges("-", 4) == []


def test_count_records_follows_line_starts_only(tmp_path):
    path = tmp_path / "odd.fa"
    path.write_bytes(b"\n\n>a x>y\nACGT>\n>b\r\nAC\r\n>c\rGG\r")
    assert count_records(path) == 3
    assert sum(len(ids) for ids, _, _ in read_fasta_batches(path)) == 3


@pytest.mark.parametrize(
    ("workers", "start"), [(2, "fork"), (3, "fork"), (5, "fork"), (2, "spawn")]
)
def test_parallel_encode_is_byte_identical(tmp_path, small_parts, monkeypatch, workers, start):
    monkeypatch.setattr(seqcnn.sequence_file, "start_method", lambda: start)
    fasta = write_fasta_file(tmp_path / "x.fa", _records(), width=13)
    serial = encode(fasta, tmp_path / "one", workers=1)
    calls = []
    parallel_path = seqcnn.sequence_file.encode_in_parallel
    monkeypatch.setattr(
        seqcnn.sequence_file,
        "encode_in_parallel",
        lambda *args: calls.append(len(args[3])) or parallel_path(*args),
    )
    parallel = encode(fasta, tmp_path / "many", workers=workers)
    assert calls == [workers]  # the file really was cut into one range per worker
    assert _dataset_files(tmp_path / "many") == _dataset_files(tmp_path / "one")
    assert parallel.ids == serial.ids and len(parallel) == 300


def test_parallel_encode_with_crop_labels_and_several_files(tmp_path, small_parts):
    pos = [(f"p{i} label={i % 3}", s) for i, (_, s) in enumerate(_records(200, 60, 1))]
    neg = [(f"n{i}", s) for i, s in enumerate(random_sequences(150, 45, 2))]
    pos_file = write_fasta_file(tmp_path / "pos.fa", pos, width=20)
    neg_file = write_fasta_file(tmp_path / "neg.fa", neg)
    for workers in (1, 4):
        encode([pos_file, neg_file], tmp_path / f"cls{workers}", class_per_file=True,
               length=50, workers=workers)  # fmt: skip
        encode(pos_file, tmp_path / f"hdr{workers}", header_labels=True, task="regression",
               workers=workers)  # fmt: skip
    assert _dataset_files(tmp_path / "cls4") == _dataset_files(tmp_path / "cls1")
    assert _dataset_files(tmp_path / "hdr4") == _dataset_files(tmp_path / "hdr1")
    labels = np.load(tmp_path / "hdr4" / "labels.npy")
    assert labels[:, 0].tolist() == [i % 3 for i in range(200)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda recs: recs.__setitem__(290, ("s290", "ACGTE" * 10)), "record 's290'"),
        (lambda recs: recs.__setitem__(280, ("s3", recs[280][1])), "record 's3': duplicate"),
        (lambda recs: recs.__setitem__(250, ("s250", "ACGT" * 11)), "record 's250': length 44"),
    ],
)
def test_errors_in_a_worker_range_match_the_serial_ones(tmp_path, small_parts, change, message):
    records = _records()
    change(records)
    fasta = write_fasta_file(tmp_path / "x.fa", records, width=13)
    errors = []
    for workers in (1, 3):
        with pytest.raises(DataError) as err:
            encode(fasta, tmp_path / f"ds{workers}", workers=workers)
        errors.append(str(err.value))
        assert not (tmp_path / f"ds{workers}").exists()
    assert errors[0] == errors[1]
    assert message in errors[0] and str(fasta) in errors[0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds")]  # no leftovers


def test_cli_encodes_a_large_file_in_parallel(tmp_path):
    # 36 MB: big enough for the default part size, so the real command cuts it in two.
    rng = np.random.default_rng(0)
    rows = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size=(180_000, 200))]
    fasta = tmp_path / "big.fa"
    with open(fasta, "wb") as out:
        for i, row in enumerate(rows):
            out.write(b">r%d\n%s\n" % (i, row.tobytes()))
    assert len(fasta_byte_ranges(fasta, 2)) == 2
    for workers in ("1", "2"):
        result = run_seqcnn("encode", fasta, "-o", tmp_path / f"ds{workers}", "-q", "-j", workers)
        assert result.returncode == 0, result.stderr
    assert _dataset_files(tmp_path / "ds2") == _dataset_files(tmp_path / "ds1")
    assert (tmp_path / "ds2" / "sequences.u8").read_bytes()[:200] == rows[0].tobytes().translate(
        bytes.maketrans(b"ACGT", b"\x00\x01\x02\x03")
    )
    result = run_seqcnn("encode", fasta, "-o", tmp_path / "bad", "-j", "0")
    assert result.returncode == 2 and "--workers" in result.stderr

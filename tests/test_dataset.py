import json

import numpy as np
import pytest
from conftest import random_sequences, write_fasta_file

from seqcnn.dataset import encode, load_dataset
from seqcnn.errors import DataError, UsageError
from seqcnn.onehot import decode, one_hot


@pytest.fixture
def pos_neg(tmp_path):
    pos = write_fasta_file(
        tmp_path / "pos.fa", [(f"p{i}", s) for i, s in enumerate(random_sequences(5, 20, 1))]
    )
    neg = write_fasta_file(
        tmp_path / "neg.fa.gz",
        [(f"n{i}", s) for i, s in enumerate(random_sequences(4, 20, 2))],
        compress="gzip",
    )
    return pos, neg


def test_class_per_file_binary(tmp_path, pos_neg):
    ds = encode(pos_neg, tmp_path / "ds", class_per_file=True)
    assert ds.task == "binary" and ds.label_names == ["pos"]
    assert ds.labels.shape == (9, 1)
    assert ds.labels[:, 0].tolist() == [1] * 5 + [0] * 4
    assert ds.ids[:2] == ["p0", "p1"] and ds.ids[-1] == "n3"
    assert isinstance(ds.codes, np.memmap) and ds.codes.shape == (9, 20)


def test_class_per_file_multiclass_with_names(tmp_path, pos_neg):
    third = write_fasta_file(tmp_path / "c.fa", [("c0", "A" * 20)])
    ds = encode([*pos_neg, third], tmp_path / "ds", class_per_file=True, classes=["x", "y", "z"])
    assert ds.task == "multiclass" and ds.label_names == ["x", "y", "z"]
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == [0] * 5 + [1] * 4 + [2]


def test_round_trip_one_hot(tmp_path, records):
    fasta = write_fasta_file(tmp_path / "x.fa", records, width=11)
    ds = encode(fasta, tmp_path / "ds")
    np.testing.assert_array_equal(ds.one_hot(), one_hot([s for _, s in records]))
    assert decode(ds.one_hot([2])) == [records[2][1]]
    assert ds.task is None and ds.labels is None


def test_header_format_is_documented_fields(tmp_path, records):
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    encode(fasta, tmp_path / "ds", n_encoding="uniform")
    header = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    for key in (
        "format",
        "format_version",
        "alphabet",
        "n_sequences",
        "length",
        "task",
        "label_names",
        "n_encoding",
        "sources",
        "content_hash",
    ):
        assert key in header
    assert header["alphabet"] == "ACGT" and header["n_encoding"] == "uniform"
    assert header["sources"][0]["path"].endswith("x.fa")
    assert (tmp_path / "ds" / "sequences.u8").stat().st_size == 6 * 40


def test_hash_depends_on_content_only(tmp_path, records):
    a = encode(write_fasta_file(tmp_path / "a.fa", records), tmp_path / "a")
    b = encode(write_fasta_file(tmp_path / "b.fa.gz", records, compress="gzip"), tmp_path / "b")
    changed = [(records[0][0], "T" + records[0][1][1:]), *records[1:]]
    c = encode(write_fasta_file(tmp_path / "c.fa", changed), tmp_path / "c")
    assert a.content_hash == b.content_hash != c.content_hash


@pytest.mark.parametrize("sep, suffix", [("\t", ".tsv"), (",", ".csv")])
def test_label_table_regression_and_multilabel(tmp_path, records, sep, suffix):
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    table = tmp_path / f"labels{suffix}"
    rows = ["name" + sep + "a" + sep + "b"] + [
        f"{rid}{sep}{i % 2}{sep}{1 - i % 2}" for i, (rid, _) in enumerate(reversed(records))
    ]
    table.write_text("\n".join(rows) + "\n")
    ds = encode(fasta, tmp_path / "ml", labels=table)
    assert ds.task == "multilabel" and ds.label_names == ["a", "b"]
    # rows follow the FASTA order, not the table order
    assert ds.labels[:, 0].tolist() == [(5 - i) % 2 for i in range(6)]
    ds = encode(fasta, tmp_path / "reg", labels=table, label_columns=["a"], task="regression")
    assert ds.task == "regression" and ds.labels.dtype == np.float32


def test_boolean_and_string_labels(tmp_path, records):
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    table = tmp_path / "t.csv"
    table.write_text(
        "id,bound\n" + "".join(f"{r},{i % 2 == 0}\n" for i, (r, _) in enumerate(records))
    )
    assert encode(fasta, tmp_path / "b", labels=table).task == "binary"
    table.write_text(
        "id,cell\n" + "".join(f"{r},{'KHM'[i % 3]}\n" for i, (r, _) in enumerate(records))
    )
    ds = encode(fasta, tmp_path / "m", labels=table)
    assert ds.task == "multiclass" and ds.label_names == ["H", "K", "M"]
    assert ds.labels.tolist() == [1, 0, 2, 1, 0, 2]


def test_header_labels(tmp_path):
    fasta = tmp_path / "h.fa"
    fasta.write_text(">a x=1 y=2.5\nACGT\n>b x=0 y=-1\nACGT\n")
    ds = encode(fasta, tmp_path / "ds", header_labels=True, label_columns=["y"])
    assert ds.task == "regression" and ds.labels[:, 0].tolist() == [2.5, -1.0]
    ds = encode(fasta, tmp_path / "ds2", header_labels=True, label_columns=["x"])
    assert ds.task == "binary"


def test_length_pad_and_crop(tmp_path):
    fasta = tmp_path / "v.fa"
    fasta.write_text(">a\nACGTACGT\n>b\nAC\n")
    with pytest.raises(DataError, match=r"record 'b': length 2 differs.*--length"):
        encode(fasta, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()
    ds = encode(fasta, tmp_path / "ds", length=4)
    assert decode(ds.one_hot()) == ["GTAC", "NACN"]


@pytest.mark.parametrize(
    "table, task, message",
    [
        ("id,y\nseq0,1\n", None, "record 'seq1': record has no row in the label table"),
        (
            "id,y\n" + "".join(f"seq{i},{i % 2 or ''}\n" for i in range(6)),
            None,
            "record 'seq0': no label in column 'y'",
        ),
        ("id,y\n" + "".join(f"seq{i},{i}\n" for i in range(6)), "binary", "is not 0/1"),
        ("id,y\n" + "".join(f"seq{i},x{i}\n" for i in range(6)), "regression", "not a finite"),
        ("id,y\nseq0,1\nseq0,0\n", None, "id appears twice"),
    ],
)
def test_label_errors_name_the_record(tmp_path, records, table, task, message):
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    (tmp_path / "t.csv").write_text(table)
    with pytest.raises(DataError, match=message):
        encode(fasta, tmp_path / "ds", labels=tmp_path / "t.csv", task=task)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "x.fa"]


def test_usage_errors(tmp_path, pos_neg):
    with pytest.raises(UsageError, match="one way"):
        encode(pos_neg, tmp_path / "ds", class_per_file=True, header_labels=True)
    with pytest.raises(UsageError, match="at least two"):
        encode(pos_neg[:1], tmp_path / "ds", class_per_file=True)
    encode(pos_neg, tmp_path / "ds", class_per_file=True)
    with pytest.raises(UsageError, match="already exists"):
        encode(pos_neg, tmp_path / "ds", class_per_file=True)
    assert len(encode(pos_neg[:1], tmp_path / "ds", overwrite=True)) == 5


def test_duplicate_across_files(tmp_path, records):
    a = write_fasta_file(tmp_path / "a.fa", records)
    b = write_fasta_file(tmp_path / "b.fa", records[:1])
    with pytest.raises(DataError, match="record 'seq0': duplicate"):
        encode([a, b], tmp_path / "ds", class_per_file=True)


def test_load_rejects_incomplete(tmp_path, records):
    ds = encode(write_fasta_file(tmp_path / "x.fa", records), tmp_path / "ds")
    with pytest.raises(DataError, match="not a seqcnn dataset"):
        load_dataset(tmp_path)
    (ds.path / "sequences.u8").write_bytes(b"\0" * 10)
    with pytest.raises(DataError, match="incomplete"):
        load_dataset(ds.path)


def dinucleotides(seq: str) -> list[str]:
    return sorted(seq[i : i + 2] for i in range(len(seq) - 1))


def test_shuffled_negatives(tmp_path):
    records = [
        (f"chr{i % 3 + 1}:{100 * i}-{100 * i + 60}", s)
        for i, s in enumerate(random_sequences(7, 60, 4))
    ]
    # soft-masked and split over lines, as real peak files are
    records[0] = (records[0][0], records[0][1][:20].lower() + records[0][1][20:])
    fasta = write_fasta_file(tmp_path / "peaks.fa.gz", records, width=25, compress="gzip")
    ds = encode(fasta, tmp_path / "ds", shuffled_negatives=2, shuffle_seed=3)
    assert ds.task == "binary" and ds.label_names == ["peaks"]
    assert len(ds) == 21
    assert ds.labels[:, 0].tolist() == [1.0] * 7 + [0.0] * 14
    ids = [rid for rid, _ in records]
    assert ds.ids[:7] == ids
    assert ds.ids[7:] == [f"{rid}{suffix}" for rid in ids for suffix in ("_shuf", "_shuf2")]
    seqs = [decode(ds.one_hot([i]))[0] for i in range(len(ds))]
    for i, (_, original) in enumerate(records):
        original = original.upper()
        assert seqs[i] == original
        for copy in seqs[7 + 2 * i : 9 + 2 * i]:
            assert copy != original
            assert dinucleotides(copy) == dinucleotides(original)
            assert copy[0] == original[0] and copy[-1] == original[-1]
    assert ds.header["shuffled_negatives"] == {"copies": 2, "seed": 3, "k": 2}
    assert sorted(p.name for p in ds.path.iterdir()) == [
        "dataset.json",
        "ids.txt",
        "labels.npy",
        "sequences.u8",
    ]
    # same seed, same negatives; another seed, other negatives
    again = encode(fasta, tmp_path / "again", shuffled_negatives=2, shuffle_seed=3)
    other = encode(fasta, tmp_path / "other", shuffled_negatives=2, shuffle_seed=4)
    assert again.content_hash == ds.content_hash != other.content_hash


def test_shuffled_negatives_errors(tmp_path, pos_neg):
    with pytest.raises(UsageError, match="one way"):
        encode(pos_neg, tmp_path / "ds", class_per_file=True, shuffled_negatives=1)
    with pytest.raises(UsageError, match="binary task"):
        encode(pos_neg[0], tmp_path / "ds", shuffled_negatives=1, task="regression")
    with pytest.raises(UsageError, match="count"):
        encode(pos_neg[0], tmp_path / "ds", shuffled_negatives=True)
    bad = write_fasta_file(tmp_path / "bad.fa", [("a", "ACGTACGT"), ("b", "ACGTEFACGT")])
    with pytest.raises(DataError, match="bad.fa.*record 'b'"):
        encode(bad, tmp_path / "ds", shuffled_negatives=1)
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("shuffled", [False, True])
def test_non_ascii_ids_round_trip(tmp_path, shuffled):
    ids = ["séq_α1", "序列-2", "plain"]
    fasta = tmp_path / "utf8.fa"
    fasta.write_text("".join(f">{i} note=é\nACGTACGTAC\n" for i in ids), encoding="utf-8")
    options = {"shuffled_negatives": 1} if shuffled else {}
    ds = encode([str(fasta)], tmp_path / "d.ds", **options)
    expected = ids + [f"{i}_shuf" for i in ids] if shuffled else ids
    assert list(ds.ids) == expected

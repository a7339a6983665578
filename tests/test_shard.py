"""Scatter and gather: seqcnn split (split_fasta) and seqcnn gather (gather_tables)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import (
    TINY_MODEL,
    assert_one_line_error,
    fasta_text,
    random_sequences,
    run_seqcnn,
    write_fasta_file,
)

import seqcnn
from seqcnn import shard as shard_module
from seqcnn.errors import DataError, UsageError
from seqcnn.fasta import read_fasta
from seqcnn.models import build_model
from seqcnn.predict import predict_file
from seqcnn.shard import gather_tables, shard_names, shard_sizes, split_fasta


def make_records(n: int, seed: int = 0):
    lengths = np.random.default_rng(seed).integers(5, 90, size=n)
    seqs = random_sequences(n, 90, seed=seed)
    return [
        (f"r{i} desc>{i}", s[:length])
        for i, (s, length) in enumerate(zip(seqs, lengths, strict=True))
    ]


def read_all(paths) -> list:
    return [record for path in paths for record in read_fasta(path, allow_empty=True)]


def ids_only(records) -> list:
    return [(r.split()[0], s) for r, s in records]


# ---------------------------------------------------------------------- split


@pytest.mark.parametrize("compress", [None, "gzip", "bgzip"])
@pytest.mark.parametrize("n_shards", [1, 3, 7, 10])
def test_split_is_balanced_in_order_and_complete(tmp_path, compress, n_shards):
    records = make_records(7)
    fasta = write_fasta_file(tmp_path / "in.fa", records, width=13, compress=compress)
    shards = split_fasta(fasta, n_shards, tmp_path / "out", multiple=1)
    assert [s.path.name for s in shards] == [f"shard_{k:03d}.fa" for k in range(n_shards)]
    assert [s.records for s in shards] == shard_sizes(7, n_shards)
    assert max(s.records for s in shards) - min(s.records for s in shards) <= 1
    for s in shards:  # each shard holds what it says, and is FASTA (or empty)
        assert len(read_all([s.path])) == s.records
    assert read_all(s.path for s in shards) == ids_only(records)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 22])
def test_shards_concatenated_are_the_input_byte_for_byte(tmp_path, monkeypatch, block):
    """Whatever the block size of the stream (headers on block edges, CRLF split in two)."""
    monkeypatch.setattr(shard_module, "BLOCK_BYTES", block)
    data = fasta_text(make_records(11, seed=2), width=17, newline="\r\n").encode()
    (tmp_path / "in.fa").write_bytes(data)
    shards = split_fasta(tmp_path / "in.fa", 4, tmp_path / "out", multiple=1)
    assert [s.records for s in shards] == [3, 3, 3, 2]
    assert b"".join(s.path.read_bytes() for s in shards) == data
    assert all(s.path.read_bytes().startswith(b">") for s in shards)


@pytest.mark.parametrize("n_records", [0, 1, 255, 256, 257, 1000, 5000])
@pytest.mark.parametrize("n_shards", [1, 2, 3, 8])
@pytest.mark.parametrize("multiple", [1, 7, 256])
def test_shard_sizes_are_whole_multiples_and_balanced(n_records, n_shards, multiple):
    sizes = shard_sizes(n_records, n_shards, multiple)
    assert len(sizes) == n_shards and sum(sizes) == n_records
    filled = [k for k, size in enumerate(sizes) if size]
    assert filled == list(range(len(filled)))  # empty shards only at the end
    assert all(sizes[k] % multiple == 0 for k in filled[:-1])
    units = [-(-size // multiple) for size in sizes]
    assert max(units) - min(units) <= 1


def test_shards_in_whole_batches_predict_like_one_run(tmp_path, network):
    """Shards cut at batch boundaries see the batches of one run: identical tables."""
    records = [(f"s{i}", s) for i, s in enumerate(random_sequences(22, 40, seed=8))]
    fasta = write_fasta_file(tmp_path / "in.fa", records)
    shards = split_fasta(fasta, 3, tmp_path / "shards", multiple=4)
    assert [s.records for s in shards] == [8, 8, 6]  # balanced to one record: 8, 7, 7
    tables = [s.path.with_suffix(".tsv") for s in shards]
    for s, table in zip(shards, tables, strict=True):
        predict_file(network, s.path, table, batch_size=4)
    gather_tables(tables, tmp_path / "gathered.tsv")
    predict_file(network, fasta, tmp_path / "direct.tsv", batch_size=4)
    assert text(tmp_path / "gathered.tsv") == text(tmp_path / "direct.tsv")
    with pytest.raises(UsageError, match="multiple must be a positive integer"):
        split_fasta(fasta, 3, tmp_path / "x", multiple=0)


def test_more_shards_than_records_gives_empty_files(tmp_path):
    fasta = write_fasta_file(tmp_path / "in.fa", make_records(2))
    shards = split_fasta(fasta, 4, tmp_path / "out", pattern="part{index}.fa.gz", multiple=1)
    assert [s.records for s in shards] == [1, 1, 0, 0]
    for s in shards:
        assert s.path.read_bytes()[:2] == b"\x1f\x8b"  # gzip, even when empty
    assert gzip.decompress(shards[3].path.read_bytes()) == b""
    assert read_all(s.path for s in shards) == ids_only(make_records(2))
    empty = write_fasta_file(tmp_path / "empty.fa", [])
    assert [s.records for s in split_fasta(empty, 2, tmp_path / "e", multiple=1)] == [0, 0]
    assert [p.read_bytes() for p in sorted((tmp_path / "e").iterdir())] == [b"", b""]


def test_blank_lines_before_the_first_record_are_dropped(tmp_path):
    (tmp_path / "in.fa").write_text("\n  \n>a\nAC\n\n>b\nGT\n")
    shards = split_fasta(tmp_path / "in.fa", 2, tmp_path / "out", multiple=1)
    assert [s.path.read_text() for s in shards] == [">a\nAC\n\n", ">b\nGT\n"]


def test_shard_names_sort_in_shard_order():
    names = shard_names(1001)
    assert names[0] == "shard_0000.fa" and names[-1] == "shard_1000.fa"
    assert sorted(names) == names
    assert shard_names(2, "x_{index}.fasta.gz") == ["x_000.fasta.gz", "x_001.fasta.gz"]
    with pytest.raises(UsageError, match="must hold '{index}' once"):
        shard_names(2, "sub/shard_{index}.fa")
    with pytest.raises(UsageError, match="must hold '{index}' once"):
        shard_names(2, "shard.fa")


def test_split_errors_leave_nothing(tmp_path, monkeypatch):
    (tmp_path / "bad.fa").write_text("hello\n>a\nACGT\n")
    with pytest.raises(DataError, match="not a FASTA file.*'hello'"):
        split_fasta(tmp_path / "bad.fa", 2, tmp_path / "out")
    with pytest.raises(DataError, match="no such file"):
        split_fasta(tmp_path / "missing.fa", 2, tmp_path / "out")
    with pytest.raises(UsageError, match="positive integer"):
        split_fasta(tmp_path / "bad.fa", 0, tmp_path / "out")
    with pytest.raises(UsageError, match="standard input"):
        split_fasta("-", 2, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # A failure while shards are written (here: a file that changed between the passes)
    # leaves neither shards nor temporary files.
    fasta = write_fasta_file(tmp_path / "in.fa", make_records(5))
    monkeypatch.setattr(shard_module, "_count_records", lambda path: 4)
    with pytest.raises(DataError, match="changed while it was split"):
        split_fasta(fasta, 2, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_split_cli_equals_api_and_errors_are_one_line(tmp_path):
    records = make_records(9, seed=3)
    fasta = write_fasta_file(tmp_path / "in.fa.gz", records, compress="bgzip")
    api = split_fasta(fasta, 4, tmp_path / "api", multiple=1)
    result = run_seqcnn("split", fasta, "-n", 4, "-o", tmp_path / "cli", "--multiple-of", 1)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"wrote 4 shards of 2 or 3 records to {tmp_path / 'cli'}"
    for shard in api:
        assert (tmp_path / "cli" / shard.path.name).read_bytes() == shard.path.read_bytes()
    assert len(list((tmp_path / "cli").iterdir())) == 4

    (tmp_path / "bad.fa").write_text("ACGT\n")
    result = run_seqcnn("split", tmp_path / "bad.fa", "-n", 2, "-o", tmp_path / "x")
    assert_one_line_error(result, "bad.fa", "not a FASTA file", code=1)
    cut = gzip.compress(fasta_text(records).encode() * 50)[:-30]
    (tmp_path / "cut.fa.gz").write_bytes(cut)
    result = run_seqcnn("split", tmp_path / "cut.fa.gz", "-n", 2, "-o", tmp_path / "x")
    assert_one_line_error(result, "cut.fa.gz", "truncated or corrupt gzip", code=1)
    result = run_seqcnn("split", fasta, "-n", 2, "-o", tmp_path / "x", "--pattern", "a.fa")
    assert_one_line_error(result, "{index}", code=2)
    result = run_seqcnn("split", fasta, "-n", 0, "-o", tmp_path / "x")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()
    assert "Examples" in run_seqcnn("split", "--help").stdout


# ---------------------------------------------------------------------- gather


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return build_model("cnn", input_length=40, n_outputs=2, **TINY_MODEL)


@pytest.fixture
def shard_tables(tmp_path, network):
    """Factory: the prediction tables of 3 shards of a FASTA file, in a given format."""

    def make(suffix: str, per_window: bool = False):
        records = [(f"s{i}", s) for i, s in enumerate(random_sequences(10, 60, seed=5))]
        records[4] = ("NA", records[4][1])  # ids that pandas would read as missing
        records[5] = ("null", records[5][1])
        fasta = write_fasta_file(tmp_path / "in.fa", records)
        shards = split_fasta(fasta, 3, tmp_path / "shards", multiple=1)
        tables = [s.path.with_suffix(suffix) for s in shards]
        for s, table in zip(shards, tables, strict=True):
            predict_file(network, s.path, table, per_window=per_window)
        return tables

    return make


def text(path) -> str:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        return handle.read()


@pytest.mark.parametrize("suffix", [".tsv", ".csv.gz"])
@pytest.mark.parametrize("per_window", [False, True])
def test_gather_text_is_the_concatenation_with_one_header(
    tmp_path, shard_tables, suffix, per_window
):
    tables = shard_tables(suffix, per_window)
    out = tmp_path / f"all{suffix}"
    rows = gather_tables(tables, out)
    parts = [text(t).split("\n", 1) for t in tables]
    assert text(out) == parts[0][0] + "\n" + "".join(body for _, body in parts)
    assert rows == sum(body.count("\n") for _, body in parts)
    assert rows == (20 if per_window else 10)  # 60 bp: two windows of 40 each
    assert text(out).count("id") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all" + suffix, "in.fa", "shards"]


@pytest.mark.parametrize("suffix, out_name", [(".parquet", "all.parquet"),
                                              (".parquet", "all.tsv"),
                                              (".tsv", "all.parquet"),
                                              (".tsv", "all.csv")])  # fmt: skip
def test_gather_converts_formats_exactly(tmp_path, shard_tables, suffix, out_name):
    tables = shard_tables(suffix, per_window=True)
    out = tmp_path / out_name
    gather_tables(tables, out)

    def read(path):
        if str(path).endswith(".parquet"):
            return pd.read_parquet(path)
        sep = "," if str(path).endswith(".csv") else "\t"
        types = {"id": str, "output_0": np.float32, "output_1": np.float32}
        return pd.read_csv(path, sep=sep, dtype=types, keep_default_na=False)

    expected = pd.concat([read(t) for t in tables], ignore_index=True)
    got = read(out)
    assert list(got.columns) == ["id", "start", "end", "output_0", "output_1"]
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["output_0"].dtype == np.float32
    np.testing.assert_array_equal(got.iloc[:, 1:].to_numpy(), expected.iloc[:, 1:].to_numpy())


@pytest.mark.parametrize("per_window", [False, True])
@pytest.mark.parametrize("out_name", ["all.tsv", "all.csv.gz", "all.parquet"])
def test_gather_keeps_non_ascii_ids_exactly(tmp_path, network, out_name, per_window):
    from seqcnn.tables import read_table

    ids = ["séq_α1", "序列", 'naïve,"ü"', "Ωmega", "plain", "日本語_2", "ß"]
    records = list(zip(ids, random_sequences(len(ids), 60, seed=6), strict=True))
    fasta = write_fasta_file(tmp_path / "in.fa", records)
    shards = split_fasta(fasta, 3, tmp_path / "shards", multiple=1)
    tables = [s.path.with_suffix(suffix) for s, suffix in
              zip(shards, [".tsv", ".csv.gz", ".parquet"], strict=True)]  # fmt: skip
    for shard, table in zip(shards, tables, strict=True):
        predict_file(network, shard.path, table, per_window=per_window)
    out = tmp_path / out_name
    gather_tables(tables, out)
    whole = tmp_path / ("whole" + out_name[3:])
    predict_file(network, fasta, whole, per_window=per_window)
    got = read_table(out)
    assert list(dict.fromkeys(got["id"])) == ids
    pd.testing.assert_frame_equal(got, read_table(whole))
    if out_name.endswith(".tsv"):
        assert out.read_bytes() == whole.read_bytes()


def test_gather_keeps_awkward_ids_and_special_values(tmp_path):
    table = tmp_path / "t.csv"
    # Values as predict writes float32 ('%.9g'): they come back digit for digit.
    table.write_text('id,a\n"x,y",nan\nNA,inf\n"say ""hi""",-inf\n,1.50000005e-07\n')
    gather_tables([table, table], tmp_path / "out.csv")
    body = table.read_text().split("\n", 1)[1]
    assert (tmp_path / "out.csv").read_text() == "id,a\n" + body + body


def test_gather_errors_are_one_line_and_leave_no_output(tmp_path, shard_tables):
    tables = shard_tables(".tsv")
    out = tmp_path / "out.tsv"
    out.write_text("old\n")
    window = tmp_path / "window.tsv"
    window.write_text("id\tstart\tend\toutput_0\toutput_1\n")
    bad_value = tmp_path / "value.tsv"
    bad_value.write_text("id\toutput_0\toutput_1\na\t0.5\tmaybe\n")
    extra_field = tmp_path / "extra.tsv"
    extra_field.write_text("id\toutput_0\toutput_1\na\t0.5\t0.5\t0.5\n")
    not_table = tmp_path / "labels.tsv"
    not_table.write_text("name\tvalue\na\t1\n")
    cases = [
        (window, ["window.tsv", "columns (id, start, end, output_0, output_1) differ"]),
        (bad_value, ["value.tsv", "not a prediction table", "maybe"]),
        (extra_field, ["extra.tsv", "not a prediction table"]),
        (not_table, ["labels.tsv", "not a prediction table", "name, value"]),
        (tmp_path / "missing.tsv", ["missing.tsv", "no such file"]),
    ]
    for second, fragments in cases:
        result = run_seqcnn("gather", tables[0], second, "-o", out, "--force")
        assert_one_line_error(result, *fragments, code=1)
        with pytest.raises(DataError):
            gather_tables([tables[0], second], out)
    result = run_seqcnn("gather", tables[0], tmp_path / "in.fa", "-o", out, "--force")
    assert_one_line_error(result, "in.fa", "cannot tell the input format", code=2)
    with pytest.raises(UsageError, match="list of tables"):
        gather_tables(tables[0], out)
    assert out.read_text() == "old\n"  # untouched, no temporary file left
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_gather_cli_equals_api_and_writes_stdout(tmp_path, shard_tables):
    tables = shard_tables(".tsv")
    gather_tables(tables, tmp_path / "api.tsv")
    result = run_seqcnn("gather", *tables, "-o", tmp_path / "cli.tsv")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"wrote {tmp_path / 'cli.tsv'}: 10 rows from 3 tables"
    assert (tmp_path / "cli.tsv").read_text() == (tmp_path / "api.tsv").read_text()
    result = run_seqcnn("gather", *tables)
    assert result.returncode == 0 and result.stdout == (tmp_path / "api.tsv").read_text()
    assert "Examples" in run_seqcnn("gather", "--help").stdout


def test_public_api():
    assert seqcnn.split_fasta is split_fasta and seqcnn.gather_tables is gather_tables

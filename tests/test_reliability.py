"""Fault injection: messy label tables, byte-order marks, damaged or hostile model bundles.

Each test feeds seqcnn the kind of input real labs produce and asserts the outcome: the
exception type and a message naming the user's file, record, line, column or field, and
from the command line a one-line error without a traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import time

import numpy as np
import pytest
from conftest import assert_one_line_error, random_sequences, run_seqcnn, write_fasta_file

from seqcnn.dataset import encode
from seqcnn.errors import DataError, ModelError, UsageError
from seqcnn.labels import (
    MISSING_VALUES,
    infer_task,
    is_missing,
    make_labels,
    read_label_table,
)

N = 8


@pytest.fixture
def fasta(tmp_path):
    records = [(f"seq{i}", s) for i, s in enumerate(random_sequences(N, 30, seed=5))]
    return write_fasta_file(tmp_path / "x.fa", records)


def table(tmp_path, column: list[str], header: str = "id\ty", name: str = "t.tsv", ids=None):
    """A label table with one row per record (``seq0``...), one label column."""
    ids = ids or [f"seq{i}" for i in range(len(column))]
    rows = [f"{i}\t{v}" for i, v in zip(ids, column, strict=True)]
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def encode_error(tmp_path, fasta, labels, error=DataError, **options) -> str:
    with pytest.raises(error) as caught:
        encode(fasta, tmp_path / "ds", labels=labels, **options)
    assert not (tmp_path / "ds").exists()
    return str(caught.value)


BINARY = ["1", "0"] * (N // 2)


# ------------------------------------------------------------------------- missing labels


@pytest.mark.parametrize("value", ["", "NA", "NaN", "nan", "N/A", "null", "None", ".", "na"])
def test_a_missing_label_is_an_error_naming_file_record_line_column_value(tmp_path, fasta, value):
    column = BINARY.copy()
    column[3] = value
    message = encode_error(tmp_path, fasta, table(tmp_path, column))
    assert message.startswith(f"{tmp_path / 't.tsv'}: record 'seq3': no label in column 'y'")
    assert f"line 5, value '{value}'" in message
    assert "--missing-labels drop" in message


def test_missing_values_are_recognised_in_any_case():
    assert is_missing(np.array([v.upper() for v in MISSING_VALUES] + [" nA "])).all()
    assert not is_missing(np.array(["0", "1", "none1", "-"])).any()


def test_a_missing_label_from_the_command_line_is_one_line(tmp_path, fasta):
    column = BINARY.copy()
    column[6] = "NA"
    labels = table(tmp_path, column)
    result = run_seqcnn("encode", fasta, "--labels", labels, "-o", tmp_path / "ds")
    assert_one_line_error(result, str(labels), "record 'seq6'", "column 'y'", "line 8", "'NA'")
    assert not (tmp_path / "ds").exists()


def test_drop_leaves_the_records_out_and_says_how_many(tmp_path, fasta, caplog):
    column = BINARY.copy()
    column[2], column[5] = "NaN", ""
    with caplog.at_level(logging.WARNING, logger="seqcnn"):
        ds = encode(fasta, tmp_path / "ds", labels=table(tmp_path, column), missing_labels="drop")
    assert "left out 2 of 8 records" in caplog.text and "seq2" in caplog.text
    kept = [i for i in range(N) if i not in (2, 5)]
    assert ds.ids == [f"seq{i}" for i in kept] and len(ds) == 6
    assert ds.labels[:, 0].tolist() == [float(BINARY[i]) for i in kept]
    assert ds.header["missing_labels"] == {"policy": "drop", "dropped": 2, "masked": 0}
    # the same bytes and hash as encoding only the records kept
    records = [(f"seq{i}", s) for i, s in enumerate(random_sequences(N, 30, seed=5))]
    alone = write_fasta_file(tmp_path / "kept.fa", [records[i] for i in kept])
    other = encode(alone, tmp_path / "alone", labels=table(tmp_path, column))
    assert other.content_hash == ds.content_hash
    assert np.array_equal(np.asarray(other.codes), np.asarray(ds.codes))


def test_drop_also_leaves_out_records_without_a_row(tmp_path, fasta, caplog):
    labels = table(tmp_path, BINARY[:6])
    message = encode_error(tmp_path, fasta, labels)
    assert "record 'seq6': record has no row in the label table (2 of 8" in message
    assert "--missing-labels drop" in message
    with caplog.at_level(logging.WARNING, logger="seqcnn"):
        ds = encode(fasta, tmp_path / "ds", labels=labels, missing_labels="drop")
    assert len(ds) == 6 and "no row in the label table" in caplog.text


def test_mask_keeps_records_with_nan_for_the_missing_entries(tmp_path, fasta):
    rows = [f"seq{i}\t{i % 2}\t{'NA' if i == 4 else (i + 1) % 2}" for i in range(N)]
    (tmp_path / "m.tsv").write_text("id\ta\tb\n" + "\n".join(rows) + "\n")
    ds = encode(fasta, tmp_path / "ds", labels=tmp_path / "m.tsv", missing_labels="mask")
    assert ds.task == "multilabel" and len(ds) == N
    assert np.isnan(ds.labels[4, 1]) and np.isnan(ds.labels).sum() == 1
    assert ds.header["missing_labels"] == {"policy": "mask", "dropped": 0, "masked": 1}


def test_mask_is_refused_for_binary_and_multiclass(tmp_path, fasta):
    message = encode_error(
        tmp_path, fasta, table(tmp_path, BINARY), UsageError, missing_labels="mask"
    )
    assert "mask is for multilabel and regression" in message and "binary" in message
    with pytest.raises(UsageError, match="unknown missing-label policy"):
        encode(fasta, tmp_path / "ds", labels=table(tmp_path, BINARY), missing_labels="skip")


def test_missing_key_in_headers_follows_the_policy(tmp_path):
    path = tmp_path / "h.fa"
    path.write_text(">a y=1\nACGT\n>b\nACGT\n>c y=0\nACGT\n>d y=NA\nACGT\n>e y=1\nACGT\n")
    with pytest.raises(DataError, match="record 'b': no label 'y='"):
        encode(path, tmp_path / "ds", header_labels=True, label_columns=["y"])
    ds = encode(path, tmp_path / "ds", header_labels=True, label_columns=["y"],
                missing_labels="drop")  # fmt: skip
    assert ds.ids == ["a", "c", "e"] and ds.labels[:, 0].tolist() == [1, 0, 1]


# ----------------------------------------------------------------------- what values mean


@pytest.mark.parametrize(
    "column",
    [
        ["1.00", "0", "1.0", "0.000", "1", "0", "1e0", "0"],
        ["true", "0", "1", "False", "yes", "no", "1.00", "0"],
        [" 1 ", "0 ", "1", "0", "1", "0", "1", "0"],
    ],
)
def test_zero_one_numbers_are_binary_whatever_their_spelling(tmp_path, fasta, column):
    ds = encode(fasta, tmp_path / "ds", labels=table(tmp_path, column))
    assert ds.task == "binary" and ds.labels[:, 0].tolist() == [1, 0] * 4


@pytest.mark.parametrize(
    ("stray", "problem"),
    [
        ("O", "is not a number"),  # a typo for 0
        ("3,5", "is not a number (a decimal comma?"),
        ("inf", "is not a finite number"),
        ("-Infinity", "is not a finite number"),
    ],
)
@pytest.mark.parametrize("base", [BINARY, ["0.5", "2.25", "1", "7", "3.5", "0", "1.5", "2"]])
def test_numbers_with_a_stray_value_are_an_error_not_a_class(tmp_path, fasta, stray, problem, base):
    column = base.copy()
    column[5] = stray
    message = encode_error(tmp_path, fasta, table(tmp_path, column))
    assert f"record 'seq5': label '{stray}' (line 7, column 'y') {problem}" in message
    assert str(tmp_path / "t.tsv") in message and "--task multiclass" in message


def test_a_column_of_decimal_commas_is_an_error(tmp_path, fasta):
    column = ["3,5", "1,25", "0,5", "2,0", "7,1", "0,3", "1,1", "4,4"]
    message = encode_error(tmp_path, fasta, table(tmp_path, column))
    assert "record 'seq0': label '3,5' (line 2, column 'y')" in message
    assert "decimal comma" in message


def test_one_nan_in_a_regression_column_does_not_make_classes(tmp_path, fasta):
    column = [f"{0.1 * i:.2f}" for i in range(N)]
    column[7] = "nan"
    message = encode_error(tmp_path, fasta, table(tmp_path, column))
    assert "record 'seq7': no label in column 'y' (line 9, value 'nan')" in message


def test_nan_across_several_columns_names_the_file(tmp_path, fasta):
    rows = [f"seq{i}\t{i * 0.5}\tNaN\t{i}" for i in range(N)]
    path = tmp_path / "w.tsv"
    path.write_text("id\ta\tb\tc\n" + "\n".join(rows) + "\n")
    message = encode_error(tmp_path, fasta, path)
    assert message.startswith(f"{path}: record 'seq0': no label in column 'b'")


def test_several_word_columns_name_the_file(tmp_path, fasta):
    rows = [f"seq{i}\t{'xy'[i % 2]}\t{'uv'[i % 2]}" for i in range(N)]
    (tmp_path / "w.tsv").write_text("id\ta\tb\n" + "\n".join(rows) + "\n")
    message = encode_error(tmp_path, fasta, tmp_path / "w.tsv")
    assert message.startswith(f"{tmp_path / 'w.tsv'}: cannot tell the task")


def test_given_tasks_still_read_words_and_numbers_as_asked(tmp_path, fasta):
    column = ["0", "1", "2", "other", "0", "1", "2", "other"]
    ds = encode(fasta, tmp_path / "ds", labels=table(tmp_path, column), task="multiclass")
    assert ds.label_names == ["0", "1", "2", "other"]
    shutil.rmtree(tmp_path / "ds")
    message = encode_error(tmp_path, fasta, table(tmp_path, column), task="regression")
    assert "label 'other' (line 5, column 'y') is not a finite number" in message
    message = encode_error(tmp_path, fasta, table(tmp_path, ["1e300"] + BINARY[1:]),
                           task="regression")  # fmt: skip
    assert "too large" in message


@pytest.mark.parametrize(
    ("column", "shown"),
    [(["1"] * N, "(1)"), (["2.5"] * N, "(2.5)"), (["K562"] * N, "('K562')")],
)
def test_a_constant_label_column_is_an_error_naming_it(tmp_path, fasta, column, shown):
    message = encode_error(tmp_path, fasta, table(tmp_path, column))
    assert message.startswith(f"{tmp_path / 't.tsv'}: label column 'y' has")
    assert shown in message


def test_ids_are_stripped_of_surrounding_whitespace(tmp_path, fasta):
    ids = [f"  seq{i}\u00a0 " if i % 2 else f"seq{i} " for i in range(N)]
    ds = encode(fasta, tmp_path / "ds", labels=table(tmp_path, BINARY, ids=ids))
    assert ds.labels[:, 0].tolist() == [1, 0] * 4
    with_spaces = tmp_path / "s.fa"
    with_spaces.write_text("".join(f">  seq{i}  \t\nACGTAC\n" for i in range(N)))
    assert encode(with_spaces, tmp_path / "ds2", labels=table(tmp_path, BINARY)).ids[0] == "seq0"


def test_unmatched_ids_say_what_the_table_ids_look_like(tmp_path, fasta):
    message = encode_error(
        tmp_path, fasta, table(tmp_path, BINARY, ids=[f"s{i}" for i in range(N)])
    )
    assert "8 of 8 records have none; the table's ids look like 's0'" in message


def test_duplicate_ids_name_both_lines(tmp_path, fasta):
    ids = [f"seq{i}" for i in range(N)]
    ids[4] = "seq1 "
    message = encode_error(tmp_path, fasta, table(tmp_path, BINARY, ids=ids))
    assert "record 'seq1': id appears twice in the label table (lines 3 and 6)" in message


def test_line_numbers_count_blank_lines(tmp_path, fasta):
    rows = [f"seq{i}\t{v}" for i, v in enumerate(BINARY)]
    rows[5] = "seq5\tNA"
    (tmp_path / "b.tsv").write_text("id\ty\n\n" + "\n".join(rows[:4]) + "\n\n" +
                                    "\n".join(rows[4:]) + "\n")  # fmt: skip
    message = encode_error(tmp_path, fasta, tmp_path / "b.tsv")
    assert "(line 9, value 'NA')" in message


def test_the_demo_labels_do_not_change():
    demo = read_label_table("data/planted_labels.tsv.gz")
    values = demo.to_numpy(dtype=object)
    labels, task, names = make_labels(values, list(demo.index), list(demo.columns))
    assert task == "multilabel" and names == list(demo.columns) and len(names) == 12
    np.testing.assert_array_equal(labels, (values == "1").astype(np.float32))
    assert infer_task(values) == "multilabel"


# --------------------------------------------------------------------- byte-order marks

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("compress", [None, "gzip"])
def test_fasta_with_a_byte_order_mark(tmp_path, records, compress):
    plain = write_fasta_file(tmp_path / "plain.fa", records)
    data = BOM + plain.read_bytes()
    path = tmp_path / ("bom.fa.gz" if compress else "bom.fa")
    path.write_bytes(gzip.compress(data) if compress else data)
    a = encode(plain, tmp_path / "a")
    b = encode(path, tmp_path / "b")
    assert a.ids == b.ids and a.content_hash == b.content_hash


def test_fasta_with_a_byte_order_mark_on_stdin_and_in_parallel(tmp_path, records, monkeypatch):
    import seqcnn.sequence_file
    from seqcnn.fasta import count_records

    plain = write_fasta_file(tmp_path / "plain.fa", records * 1)
    path = tmp_path / "bom.fa"
    path.write_bytes(BOM + plain.read_bytes())
    assert count_records(path) == len(records)
    result = run_seqcnn("encode", "-", "-o", tmp_path / "stdin.ds", stdin=path.read_bytes())
    assert result.returncode == 0, result.stderr
    monkeypatch.setattr(seqcnn.sequence_file, "MIN_PART_BYTES", 64)
    serial = encode(plain, tmp_path / "serial", workers=1)
    parallel = encode(path, tmp_path / "parallel", workers=3)
    assert parallel.content_hash == serial.content_hash
    stdin = json.loads((tmp_path / "stdin.ds" / "dataset.json").read_text())
    assert stdin["content_hash"] == serial.content_hash


@pytest.mark.parametrize("suffix", [".tsv", ".csv.gz"])
def test_label_table_with_a_byte_order_mark(tmp_path, fasta, suffix):
    sep = "," if ".csv" in suffix else "\t"
    text = f"name{sep}id{sep}y\n" + "".join(
        f"n{i}{sep}seq{i}{sep}{v}\n" for i, v in enumerate(BINARY)
    )
    data = BOM + text.encode()
    path = tmp_path / f"t{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    ds = encode(fasta, tmp_path / "ds", labels=path, id_column="id", label_columns=["y"])
    assert ds.labels[:, 0].tolist() == [1, 0] * 4
    assert list(read_label_table(str(path)).columns) == ["name", "y"]  # not "\ufeffname"
    data = BOM + f"id{sep}y\n".encode()
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    assert read_label_table(str(path)).index.name == "id"  # not "\ufeffid"


# ------------------------------------------------------------------------- model bundles

LENGTH = 40


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    import torch

    from seqcnn.bundle import save_model
    from seqcnn.models import build_model, receptive_field

    torch.manual_seed(0)
    network = build_model("cnn", LENGTH, 2, first_filters=4, conv_filters=[4], dense_units=8)
    folder = tmp_path_factory.mktemp("bundle")
    config = {"alphabet": "ACGT", "input_length": LENGTH, "n_encoding": "zeros",
              "task": "multilabel", "loss": None, "output_names": ["a", "b"],
              "output_transform": "sigmoid", "rc_average": False,
              "receptive_field": receptive_field(network)}  # fmt: skip
    return save_model(network, config, folder)


def damaged(bundle, tmp_path, edit=None, **fields):
    """A copy of ``bundle`` with config.json fields replaced (``edit(config)`` for nested
    ones)."""
    folder = tmp_path / "model"
    shutil.copytree(bundle, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(fields)
    if edit:
        edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def load_error(folder) -> str:
    from seqcnn.bundle import load_model

    with pytest.raises(ModelError) as caught:
        load_model(folder)
    message = str(caught.value)
    assert message.startswith(f"{folder}: ") and "\n" not in message
    return message


def test_the_bundle_loads_untouched(bundle):
    from seqcnn.bundle import load_model

    assert load_model(bundle).output_names == ["a", "b"]


def both_lengths(value):
    def edit(config):
        config["input_length"] = config["model"]["input_length"] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "fields", "expected"),
    [
        (both_lengths(10**9), {}, "input_length must be a whole number from 1 to 10,000,000"),
        (both_lengths("two hundred"), {}, "got 'two hundred'"),
        (both_lengths(200.0), {}, "input_length must be a whole number"),
        (None, {"input_length": True}, "input_length must be a whole number"),
        (None, {"weights": "x"}, "weights must be {'file'"),
        (None, {"weights": {"file": "../../etc/passwd"}}, "a file name in the bundle folder"),
        (None, {"weights": {"file": "weights.safetensors", "sha256": 5}}, "weights must be"),
        (None, {"output_transform": "tanh"}, "output_transform must be one of"),
        (None, {"output_transform": "identity"}, "'identity' does not fit a multilabel task"),
        (None, {"task": "ranking"}, "task must be one of binary"),
        (None, {"n_encoding": "ones"}, "n_encoding must be one of zeros"),
        (None, {"output_names": ["a"]}, "output_names must be 2 different names"),
        (None, {"output_names": ["a", "a"]}, "with repeats"),
        (None, {"output_names": "ab"}, "output_names must be a list"),
        (None, {"rc_average": "yes"}, "rc_average must be true or false"),
        (None, {"receptive_field": -3}, "receptive_field must be a whole number"),
        (None, {"model": "cnn"}, "'model' must describe the network"),
        (lambda c: c["model"].update(n_outputs=0), {}, "model.n_outputs must be"),
        (lambda c: c["model"].update(options=[1]), {}, "model.options must be a mapping"),
        (lambda c: c["model"].update(architecture="transformer"), {}, "not describe a known"),
    ],
)
def test_every_config_field_is_checked(bundle, tmp_path, edit, fields, expected):
    assert expected in load_error(damaged(bundle, tmp_path, edit, **fields))


def test_a_huge_input_length_fails_fast_without_allocating(bundle, tmp_path):
    # within the cap, but the flattened dense layer would hold ~10^9 weights
    folder = damaged(bundle, tmp_path, both_lengths(10_000_000))
    start = time.perf_counter()
    message = load_error(folder)
    assert time.perf_counter() - start < 5
    assert "weights do not fit the architecture in config.json: tensor 'body.reduce" in message


def test_a_top_level_length_that_disagrees_gives_the_right_advice(bundle, tmp_path):
    message = load_error(damaged(bundle, tmp_path, input_length=200))
    assert f"built for {LENGTH} bases (model.input_length)" in message
    assert f"set input_length back to {LENGTH}" in message


def test_non_finite_weights_are_refused_naming_the_tensor(bundle, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = damaged(bundle, tmp_path)
    state = load_file(str(folder / "weights.safetensors"))
    state["head.bias"][1] = float("nan")
    save_file(state, str(folder / "weights.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    digest = hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest()
    config["weights"]["sha256"] = f"sha256:{digest}"
    (folder / "config.json").write_text(json.dumps(config))
    assert "NaN or infinite values (tensor 'head.bias')" in load_error(folder)


@pytest.mark.parametrize(
    ("edit", "fields", "expected"),
    [
        (both_lengths(10**9), {}, "input_length must be a whole number"),
        (None, {"weights": "x"}, "weights must be"),
        (both_lengths("two hundred"), {}, "'two hundred'"),
        (None, {"output_transform": "logit"}, "output_transform must be one of"),
    ],
)
def test_hostile_bundles_are_one_line_errors_on_the_command_line(
    bundle, tmp_path, edit, fields, expected
):
    folder = damaged(bundle, tmp_path, edit, **fields)
    fasta = write_fasta_file(tmp_path / "x.fa", [("a", "ACGT" * 10)])
    result = run_seqcnn("predict", fasta, "-m", folder, "-o", tmp_path / "out.tsv")
    assert_one_line_error(result, str(folder), expected)
    assert not (tmp_path / "out.tsv").exists()

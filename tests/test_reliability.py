"""Fault injection: messy label tables, byte-order marks, damaged or hostile model bundles,
outputs that would destroy inputs, interrupted and concurrent runs, closed pipes.

Each test feeds seqcnn the kind of input or handling real labs produce and asserts the
outcome: the exception type and a message naming the user's file, record, line, column or
field, and from the command line a one-line error without a traceback, the exit status,
inputs byte-identical afterwards, no partial or temporary file and no process left.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

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


# ====================================================== outputs, interruptions and pipes

LINUX = pytest.mark.skipif(sys.platform != "linux", reason="needs Linux (/proc, prctl)")


def digest(path: Path) -> str:
    """SHA-256 of a file, or of every file under a folder (names included)."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    hasher = hashlib.sha256()
    for file in files:
        hasher.update(str(file.relative_to(path) if path.is_dir() else "").encode())
        hasher.update(file.read_bytes())
    return hasher.hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Hidden entries (temporary files and folders) anywhere under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def wait_for(condition, what: str, timeout: float = 60.0):
    """Poll ``condition()`` until it is true (returned), failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def temporaries(folder: Path, pid: int | None = None) -> list[Path]:
    """seqcnn's temporary entries in ``folder`` (of process ``pid``)."""
    from seqcnn._io import TEMP_PREFIX

    found = sorted(folder.glob(f"{TEMP_PREFIX}.*"))
    return [p for p in found if pid is None or p.name.split(".")[3] == str(pid)]


def seqcnn_process(*args, cwd=None, **options) -> subprocess.Popen:
    """The real command line, started: stdin a pipe the test writes (and holds open)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SEQCNN_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "seqcnn", *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        **options,
    )


@pytest.fixture
def work(tmp_path, bundle):
    """A folder with a FASTA file of 20 records and a copy of the test bundle."""
    records = [(f"s{i}", s) for i, s in enumerate(random_sequences(20, LENGTH, seed=2))]
    write_fasta_file(tmp_path / "x.fa", records)
    shutil.copytree(bundle, tmp_path / "model")
    return tmp_path


# ------------------------------------------------------------ an output is never an input


def _same_file_cases(work: Path) -> dict[str, tuple[list, Path]]:
    """Command -> (arguments, the input it would destroy)."""
    os.link(work / "x.fa", work / "hard.fa")
    (work / "soft.fa").symlink_to(work / "x.fa")
    (work / "sub").mkdir()
    shutil.copy(work / "x.fa", work / "sub" / "in.fa")
    (work / "t.tsv").write_text("id\ta\tb\ns0\t0.5\t0.5\n")
    x, model = work / "x.fa", work / "model"
    return {
        "predict onto its FASTA": (["predict", x, "-m", model, "-o", x], x),
        "predict onto a hard link": (["predict", x, "-m", model, "-o", work / "hard.fa"], x),
        "predict onto a symlink": (["predict", x, "-m", model, "-o", work / "soft.fa"], x),
        "encode onto its FASTA": (["encode", x, "-o", x], x),
        "encode over the folder of its input": (
            ["encode", work / "sub" / "in.fa", "-o", work / "sub"],
            work / "sub" / "in.fa",
        ),
        "interpret onto its model": (
            ["interpret", x, "-m", model, "-o", model, "--motif-db", "none"],
            model,
        ),
        "train onto its data": (["train", work / "sub", "-o", work / "sub"], work / "sub"),
        "gather onto a table": (["gather", work / "t.tsv", "-o", work / "t.tsv"], work / "t.tsv"),
        "split onto its FASTA": (
            ["split", work / "sub" / "shard_000.fa", "-n", "1", "-o", work / "sub"],
            work / "sub" / "shard_000.fa",
        ),
    }


def test_no_command_writes_over_one_of_its_inputs_even_with_force(work):
    cases = _same_file_cases(work)
    shutil.copy(work / "x.fa", work / "sub" / "shard_000.fa")
    before = {name: digest(path) for name, (_, path) in cases.items()}
    for name, (args, path) in cases.items():
        result = run_seqcnn(*args, "--force")
        assert_one_line_error(result, "input", code=2)
        assert "also an input" in result.stderr or "holds an input" in result.stderr, name
        assert str(args[args.index("-o") + 1]) in result.stderr, name  # the user's path
        assert path.exists() and digest(path) == before[name], name
    assert (work / "x.fa").is_file() and os.path.samefile(work / "x.fa", work / "hard.fa")
    # a folder written into, not replaced, may hold the input
    args = [
        "split",
        work / "sub" / "in.fa",
        "-n",
        "2",
        "-o",
        work / "sub",
        "--pattern",
        "p{index}.fa",
    ]
    result = run_seqcnn(*args)
    assert result.returncode == 0, result.stderr
    assert digest(work / "sub" / "in.fa") == digest(work / "x.fa")
    assert leftovers(work) == []


def test_every_commands_output_is_known_as_one():
    """The command line protects every path parameter that is not the output: an output
    under another name would be refused as an input of its own command."""
    from seqcnn.cli import cli
    from seqcnn.cli.options import OUTPUT_PARAMETERS

    for name, command in cli.commands.items():
        for param in command.params:
            if "--output" in param.opts or "-o" in param.opts:
                assert param.name in OUTPUT_PARAMETERS, (name, param.name)
        assert getattr(command.callback, "guarded", False), name


def test_the_api_refuses_its_inputs_too(work):
    from seqcnn._io import atomic_directory, atomic_path, protect_inputs

    fasta = work / "x.fa"
    before = digest(fasta)
    with protect_inputs([fasta, "-", None]):
        with pytest.raises(UsageError, match="also an input"), atomic_path(fasta) as tmp:
            tmp.write_text("replaced")
        with pytest.raises(UsageError, match="holds an input"):
            with atomic_directory(work, overwrite=True):
                pass
    with atomic_path(work / "other.txt") as tmp:  # outside the protection: allowed
        tmp.write_text("fine")
    assert digest(fasta) == before and leftovers(work) == []


# --------------------------------------------------- --force, alike for every command


def test_every_command_refuses_an_existing_output_without_force(work):
    x, model = work / "x.fa", work / "model"
    (work / "table.tsv").write_text("id\ta\tb\ns0\t0.5\t0.5\n")
    existing = {
        "predict": (["predict", x, "-m", model, "-o", work / "out.tsv"], work / "out.tsv"),
        "gather": (["gather", work / "table.tsv", "-o", work / "all.tsv"], work / "all.tsv"),
        "split": (["split", x, "-n", "2", "-o", work / "shards"], work / "shards/shard_001.fa"),
        "encode": (["encode", x, "-o", work / "x.ds"], work / "x.ds"),
        "interpret": (
            ["interpret", x, "-m", model, "-o", work / "interp", "--motif-db", "none"],
            work / "interp",
        ),
    }
    for name, (args, path) in existing.items():
        path.parent.mkdir(exist_ok=True)
        if name in ("encode", "interpret"):
            path.mkdir()
            (path / "keep.txt").write_text("mine")
        else:
            path.write_text("mine\n")
        before = digest(path)
        result = run_seqcnn(*args)
        assert_one_line_error(result, str(path), "already exists", "--force", code=2)
        assert digest(path) == before, name
    result = run_seqcnn(*existing["predict"][0], "--force")
    assert result.returncode == 0, result.stderr
    assert (work / "out.tsv").read_text().startswith("id\ta\tb\n")
    result = run_seqcnn(*existing["split"][0], "--force")
    assert result.returncode == 0, result.stderr
    assert leftovers(work) == []


@pytest.mark.parametrize("command", ["predict", "gather", "encode", "interpret"])
def test_force_never_turns_a_file_into_a_folder_or_back(work, command):
    x, model = work / "x.fa", work / "model"
    (work / "table.tsv").write_text("id\ta\tb\ns0\t0.5\t0.5\n")
    folder_output = command in ("encode", "interpret")
    target = work / "target"
    if folder_output:
        target.write_text("a file\n")
    else:
        target.mkdir()
        (target / "keep.txt").write_text("mine")
    args = {
        "predict": ["predict", x, "-m", model],
        "gather": ["gather", work / "table.tsv"],
        "encode": ["encode", x],
        "interpret": ["interpret", x, "-m", model, "--motif-db", "none"],
    }[command]
    before = digest(target)
    result = run_seqcnn(*args, "-o", target, "--force")
    kind = "is a file, not a folder" if folder_output else "is a folder, not a file"
    assert_one_line_error(result, str(target), kind, "remove it", code=2)
    assert digest(target) == before and target.is_dir() != folder_output
    assert leftovers(work) == []


# ------------------------------------------------------------------ concurrent writers


@pytest.mark.parametrize("folder", [False, True])
def test_the_final_rename_never_replaces_what_another_writer_put_there(tmp_path, folder):
    from seqcnn._io import atomic_directory, atomic_path

    target = tmp_path / ("out.ds" if folder else "out.tsv")
    with pytest.raises(UsageError) as caught:
        writer = atomic_directory(target) if folder else atomic_path(target)
        with writer as tmp:
            (tmp / "data" if folder else tmp).write_text("ours")
            if folder:  # the other writer finishes first
                target.mkdir()
                (target / "data").write_text("theirs")
            else:
                target.write_text("theirs")
    assert str(caught.value).startswith(f"{target}: output already exists: another process")
    assert (target / "data" if folder else target).read_text() == "theirs"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("how", ["renameat2", "link", "check"])
def test_no_replace_rename_without_renameat2_or_hard_links(tmp_path, monkeypatch, how):
    import seqcnn._io as io

    if how != "renameat2":
        monkeypatch.setattr(io, "_rename_flags", lambda *args: False)
    if how == "check":

        def no_links(*args, **kwargs):
            raise PermissionError(errno.EPERM, "no hard links here")

        monkeypatch.setattr(io.os, "link", no_links)
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    with pytest.raises(FileExistsError):
        io.rename_no_replace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_text() == "b" and (tmp_path / "a").exists()
    io.rename_no_replace(tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "c").read_text() == "a" and not (tmp_path / "a").exists()
    (tmp_path / "d").mkdir()
    (tmp_path / "e").mkdir()  # an empty folder: a plain rename would replace it silently
    with pytest.raises(FileExistsError):
        io.rename_no_replace(tmp_path / "d", tmp_path / "e")
    io.rename_no_replace(tmp_path / "d", tmp_path / "f")
    assert (tmp_path / "f").is_dir() and not (tmp_path / "d").exists()


@pytest.mark.parametrize("exchange", [True, False])
def test_force_replaces_a_folder_in_one_step_or_puts_the_old_one_back(
    tmp_path, monkeypatch, exchange
):
    import seqcnn._io as io

    if not exchange:  # no renameat2: move the old folder aside, then rename
        monkeypatch.setattr(io, "_rename_flags", lambda *args: False)
    target = tmp_path / "out.ds"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with io.atomic_directory(target, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert leftovers(tmp_path) == []
    if not exchange:
        monkeypatch.setattr(io, "rename_no_replace", lambda *args: 1 / 0)
        with pytest.raises(ZeroDivisionError), io.atomic_directory(target, overwrite=True):
            pass
        assert sorted(p.name for p in target.iterdir()) == ["new.txt"]  # back in place
        assert leftovers(tmp_path) == []


def test_two_encodes_of_the_same_output_one_fails_cleanly(work):
    """The first started holds its input open (standard input); the second finishes first."""
    first = seqcnn_process("encode", "-", "-o", work / "same.ds", "-q")
    try:
        first.stdin.write(b">first0\n" + b"ACGT" * 10 + b"\n")
        first.stdin.flush()
        wait_for(lambda: temporaries(work, first.pid), "the first encode's temporary folder")
        second = run_seqcnn("encode", work / "x.fa", "-o", work / "same.ds")
        assert second.returncode == 0, second.stderr
        first.stdin.write(b">first1\n" + b"ACGT" * 10 + b"\n")
        first.stdin.close()
        first.wait(timeout=120)
        stderr = first.stderr.read().decode()
    finally:
        first.kill()
        first.wait()
    assert first.returncode == 2, stderr
    assert stderr.strip() == (
        f"seqcnn: error: {work / 'same.ds'}: output already exists: another process wrote "
        "it while this one ran; nothing was replaced"
    )
    from seqcnn.dataset import load_dataset

    assert load_dataset(work / "same.ds").ids == [f"s{i}" for i in range(20)]  # the second's
    assert leftovers(work) == []


# --------------------------------------------------------------------- interruptions


def _start_held(command: str, work: Path) -> tuple[subprocess.Popen, Path]:
    """A run reading standard input, held after its first record: (process, output)."""
    out = work / ("out.tsv" if command == "predict" else f"out.{command}")
    args = {
        "predict": ["predict", "-", "-m", work / "model", "-o", out],
        "encode": ["encode", "-", "-o", out],
        "interpret": ["interpret", "-", "-m", work / "model", "-o", out, "--motif-db", "none"],
    }[command]
    process = seqcnn_process(*args)
    process.stdin.write(b">held\n" + b"ACGT" * 10 + b"\n")
    process.stdin.flush()
    wait_for(lambda: temporaries(work, process.pid), f"the temporary output of {command}")
    return process, out


@pytest.mark.parametrize(
    ("command", "sent", "status", "message"),
    [
        ("predict", signal.SIGTERM, 143, "seqcnn: terminated (SIGTERM); temporary files removed"),
        ("encode", signal.SIGTERM, 143, "seqcnn: terminated (SIGTERM); temporary files removed"),
        ("interpret", signal.SIGTERM, 143, "seqcnn: terminated (SIGTERM); temporary files removed"),
        ("predict", signal.SIGINT, 130, "seqcnn: interrupted"),
    ],
)
def test_sigterm_is_handled_like_ctrl_c(work, command, sent, status, message):
    before = digest(work / "x.fa"), digest(work / "model")
    process, out = _start_held(command, work)
    try:
        process.send_signal(sent)
        process.wait(timeout=60)
        stderr = process.stderr.read().decode()
    finally:
        process.kill()
        process.wait()
    assert process.returncode == status, stderr
    assert stderr.strip() == message and "Traceback" not in stderr
    assert not out.exists() and leftovers(work) == []
    assert (digest(work / "x.fa"), digest(work / "model")) == before


def test_sigterm_swallowed_by_a_catch_all_is_raised_again(work):
    """Code that catches everything (a compiled module importing itself) can swallow the
    exception a signal handler raises; the command must still end, not hang."""
    marker = work / "waiting"
    script = (
        "import importlib, sys\n"
        "def swallowing(*args, **kwargs):\n"
        "    try:\n"
        f"        open({str(marker)!r}, 'w').close()\n"
        "        sys.stdin.read()\n"
        "    except BaseException:\n"
        "        pass\n"
        "    sys.stdin.read()\n"
        "importlib.import_module('seqcnn.predict').predict_file = swallowing\n"
        "from seqcnn.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "predict", "-", "-m", str(work / "model")],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(marker.exists, "the command to wait on its input")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        stderr = process.stderr.read().decode()
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 143, stderr
    assert stderr.strip() == "seqcnn: terminated (SIGTERM); temporary files removed"


def test_a_killed_run_leaves_recognisable_files_that_the_next_run_removes(work):
    from seqcnn._io import TEMP_PREFIX, temporary_name

    process, out = _start_held("predict", work)
    process.kill()  # kill -9: nothing of ours runs
    process.wait()
    left = temporaries(work)
    assert [p.name.split(".")[3] for p in left] == [str(process.pid)]
    assert left[0].name.startswith(TEMP_PREFIX + ".") and left[0].name.endswith(".out.tsv")
    # what a live process (this one) or another host is writing is left alone
    alive = work / temporary_name("other.tsv")
    alive.write_text("in progress")
    elsewhere = work / f"{TEMP_PREFIX}.otherhost.{process.pid}.0123abcd.x.tsv"
    elsewhere.write_text("another machine's")
    result = run_seqcnn("predict", work / "x.fa", "-m", work / "model", "-o", work / "next.tsv")
    assert result.returncode == 0, result.stderr
    assert not left[0].exists() and alive.exists() and elsewhere.exists()
    assert not out.exists() and (work / "next.tsv").is_file()


@LINUX
@pytest.mark.parametrize("death_signal", [True, False])
def test_killing_a_parallel_encode_leaves_no_worker_behind(work, death_signal):
    """kill -9 of the main process while its workers wait for it: they end too (by the
    kernel's parent-death signal, or else by seeing their pipe closed), and the next encode
    into the folder removes the half-written dataset."""
    records = [(f"r{i}", s) for i, s in enumerate(random_sequences(400, 100, seed=3))]
    fasta = write_fasta_file(work / "big.fa", records)
    # Small byte ranges, and the main process held (reading stdin) once its workers run.
    script = (
        "import os, sys\n"
        "import seqcnn.sequence_file as sf\n"
        "sf.MIN_PART_BYTES = 1 << 12\n"
        f"sf._PR_SET_PDEATHSIG = {1 if death_signal else 0}\n"  # 0: prctl does nothing
        "main_pid, count = os.getpid(), sf.count_records\n"
        "def held(path, byte_range):\n"
        "    if os.getpid() == main_pid:\n"
        "        sys.stdin.read()\n"
        "    return count(path, byte_range)\n"
        "sf.count_records = held\n"
        "from seqcnn.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    out = work / "big.ds"
    process = subprocess.Popen(
        [sys.executable, "-c", script, "encode", str(fasta), "-o", str(out), "-j", "4", "-q"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        workers = wait_for(lambda: len(_children(process.pid)) == 3 and _children(process.pid),
                           "three worker processes")  # fmt: skip
        process.kill()
        process.wait()
        wait_for(lambda: all(_ended(pid) for pid in workers), "the workers to end", timeout=30)
    finally:
        process.kill()
        process.wait()
        for pid in _children(process.pid):
            os.kill(pid, signal.SIGKILL)
    assert temporaries(work, process.pid)  # recognisable: named after its owner
    result = run_seqcnn("encode", fasta, "-o", out, "-q")
    assert result.returncode == 0, result.stderr
    assert temporaries(work) == [] and leftovers(work) == []


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie has ended; only its exit status is left


# ----------------------------------------------------------------------------- pipes


def test_a_closed_standard_output_ends_the_command_quietly(work):
    records = [(f"s{i}", s) for i, s in enumerate(random_sequences(8000, LENGTH, seed=4))]
    fasta = write_fasta_file(work / "many.fa", records)
    process = seqcnn_process("predict", fasta, "-m", work / "model")
    process.stdin.close()
    try:
        assert process.stdout.readline() == b"id\ta\tb\n"  # like `| head -1`
        process.stdout.close()
        process.wait(timeout=120)
        stderr = process.stderr.read().decode()
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, stderr
    assert stderr == ""


def test_zero_records_are_said_on_stderr(work):
    result = run_seqcnn("predict", "-", "-m", work / "model", stdin=b"")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "id\ta\tb\n"
    assert result.stderr.strip() == "seqcnn: warning: no records read from standard input"
    (work / "empty.fa").write_text("")
    result = run_seqcnn("predict", work / "empty.fa", "-m", work / "model", "-o", work / "e.tsv")
    assert result.returncode == 0
    assert f"no records read from {work / 'empty.fa'}" in result.stderr
    assert (work / "e.tsv").read_text() == "id\ta\tb\n"


# ------------------------------------------------------- messages name the user's path


def _file_size_limit():
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killing signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("output", ["out.tsv", "out.parquet", "out.ds"])
def test_write_errors_name_the_users_path_not_a_temporary_one(work, output):
    records = [(f"s{i}", s) for i, s in enumerate(random_sequences(4000, LENGTH, seed=5))]
    fasta = write_fasta_file(work / "many.fa", records)
    before = digest(fasta)
    if output == "out.ds":
        args = ["encode", fasta, "-o", work / output]
    else:
        args = ["predict", fasta, "-m", work / "model", "-o", work / output]
    result = subprocess.run(
        [sys.executable, "-m", "seqcnn", *map(str, args)],
        capture_output=True,
        text=True,
        preexec_fn=_file_size_limit,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert_one_line_error(result, f"seqcnn: error: {work / output}: ", "File too large")
    assert ".seqcnn-tmp" not in result.stderr
    assert not (work / output).exists() and leftovers(work) == [] and digest(fasta) == before


def test_errors_inside_a_temporary_output_are_given_the_users_path(tmp_path):
    from seqcnn._io import atomic_directory, atomic_path

    with pytest.raises(OSError) as caught:
        with atomic_path(tmp_path / "full.tsv"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what write() raises
    assert caught.value.filename == str(tmp_path / "full.tsv")
    assert f"'{tmp_path / 'full.tsv'}'" in str(caught.value)
    with pytest.raises(FileNotFoundError) as caught:
        with atomic_directory(tmp_path / "out.ds") as tmp:
            (tmp / "no" / "such.txt").write_text("x")
    assert caught.value.filename == str(tmp_path / "out.ds" / "no" / "such.txt")
    with pytest.raises(DataError) as caught:
        with atomic_directory(tmp_path / "out.ds") as tmp:
            raise DataError("bad bytes", path=str(tmp / "sequences.u8"))
    assert str(caught.value) == f"{tmp_path / 'out.ds' / 'sequences.u8'}: bad bytes"
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------ interpret and make demo


def test_interpret_warns_when_it_crops_and_maps_the_top_scoring_sequences(work, caplog):
    from seqcnn.attribution import load_attributions
    from seqcnn.interpret import interpret
    from seqcnn.predict import predict

    seqs = random_sequences(30, LENGTH + 20, seed=6)
    seqs[0] = seqs[0][:LENGTH]  # fits: not counted
    with caplog.at_level(logging.WARNING, logger="seqcnn"):
        result = interpret(work / "model", seqs, work / "out", motif_db=None, influence=False,
                           attribution="saliency", target="b", attribution_sequences=3)  # fmt: skip
    assert f"29 of 30 sequences are longer than the model's input ({LENGTH} bp)" in caplog.text
    cropped = [s if len(s) == LENGTH else s[10 : 10 + LENGTH] for s in seqs]  # centred
    scores = predict(work / "model", cropped)["b"].to_numpy()
    top = np.argsort(-scores, kind="stable")[:3]
    assert load_attributions(result.attribution)["ids"] == [str(i) for i in top]


def test_make_demo_continues_an_interrupted_run(tmp_path):
    """scripts/demo.sh with a stand-in for seqcnn that records its calls."""
    root = Path(__file__).resolve().parents[1]
    log = tmp_path / "calls.log"
    stub = tmp_path / "seqcnn"
    stub.write_text(
        "#!/usr/bin/env bash\n"
        'echo "$*" >> "$CALLS"\n'
        "cmd=$1; out=; prev=\n"
        'for a in "$@"; do [[ $prev == -o ]] && out=$a; prev=$a; done\n'
        'case $cmd in encode|train|interpret) mkdir -p "$out";; '
        "predict) printf 'id\\ta\\n' > \"$out\";; esac\n"
    )
    stub.chmod(0o755)
    out = tmp_path / "demo"

    def demo() -> list[str]:
        log.unlink(missing_ok=True)
        env = {**os.environ, "SEQCNN": str(stub), "CALLS": str(log)}
        done = subprocess.run(["bash", "scripts/demo.sh", str(out)], cwd=root, env=env,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return [line.split()[0] + (" --resume" if "--resume" in line else "")
                for line in log.read_text().splitlines()]  # fmt: skip

    assert demo() == ["encode", "train", "describe", "predict", "interpret"]
    assert demo() == ["describe"]  # everything complete: nothing redone
    shutil.rmtree(out / "seqcnn_model")  # interrupted during training, checkpoints kept
    (out / ".seqcnn_model.partial").mkdir()
    (out / ".seqcnn_model.partial" / "checkpoint.json").write_text("{}")
    assert demo() == ["train --resume", "describe", "predict", "interpret"]


def test_simulate_refuses_to_overwrite_without_force(tmp_path):
    first = run_seqcnn("simulate", "-o", tmp_path, "-n", 20)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "planted.fa").read_bytes()
    again = run_seqcnn("simulate", "-o", tmp_path, "-n", 30)
    assert_one_line_error(again, "planted.fa", "--force", code=2)
    assert (tmp_path / "planted.fa").read_bytes() == before
    forced = run_seqcnn("simulate", "-o", tmp_path, "-n", 30, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "planted.fa").read_bytes() != before

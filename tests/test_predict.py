"""Prediction: API and command line, lengths, strands, formats, errors.

Models are built, not trained: a small ``cnn`` with seeded random weights saved as a bundle,
and hand-made networks whose outputs are known (base counts per window, or the input as
seen), wrapped in :class:`seqcnn.bundle.Model`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_one_line_error, random_sequences, run_seqcnn, write_fasta_file
from torch import nn

from seqcnn.bundle import Model, load_model, save_model
from seqcnn.errors import DataError, UsageError
from seqcnn.fasta import reverse_complement
from seqcnn.forward import output_transform
from seqcnn.models import build_model, receptive_field
from seqcnn.onehot import one_hot
from seqcnn.predict import predict, predict_chunks, predict_file

LENGTH = 50


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One torch thread here and in the CLI subprocesses: the tests use tiny batches, which
    on a busy machine wait far longer for a second thread than they take to compute."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_network(n_outputs: int, seed: int = 0, length: int = LENGTH):
    torch.manual_seed(seed)
    return build_model("cnn", input_length=length, n_outputs=n_outputs, first_filters=8,
                       conv_filters=[8], dense_units=16)  # fmt: skip


def bundle_config(network, task: str, names, alphabet: str = "ACGT") -> dict:
    return {
        "alphabet": alphabet,
        "input_length": network.config["input_length"],
        "n_encoding": "zeros",
        "task": task,
        "loss": None,
        "output_names": list(names),
        "output_transform": output_transform(task),
        "receptive_field": receptive_field(network),
        "parameters": sum(p.numel() for p in network.parameters()),
    }


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """Factory: a saved bundle of a seeded random ``cnn`` for a task and output names."""

    def make(task: str = "multilabel", names=("a", "b"), folder=None, **config):
        folder = folder or tmp_path_factory.mktemp(f"bundle_{task}")
        folder.mkdir(exist_ok=True)
        network = make_network(len(names))
        save_model(network, {**bundle_config(network, task, names), **config}, folder)
        return folder

    return make


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return tiny_bundle()


@pytest.fixture(scope="module")
def mixed_fasta(tmp_path_factory):
    """Records shorter than, equal to and longer than the model input, two with N."""
    seqs = random_sequences(40, LENGTH, seed=3)
    seqs += [s * 3 for s in random_sequences(5, 41, seed=4)]  # 123 bases: several windows
    seqs += random_sequences(5, 17, seed=5)
    seqs += ["N" * 30, "ACGTN" * 10]
    records = [(f"r{i}", s) for i, s in enumerate(seqs)]
    return write_fasta_file(tmp_path_factory.mktemp("fa") / "mixed.fa", records, width=60)


def read_table(text_or_path, sep="\t", **kwargs) -> pd.DataFrame:
    source = io.StringIO(text_or_path) if isinstance(text_or_path, str) else text_or_path
    return pd.read_csv(source, sep=sep, dtype={"id": str}, **kwargs)


def assert_same_numbers(table: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal to the last bit of the float32 values (text keeps 9 significant digits)."""
    assert list(table.columns) == list(expected.columns)
    for column in expected.columns:
        if expected[column].dtype == np.float32:
            np.testing.assert_array_equal(table[column].to_numpy(np.float32), expected[column])
        else:
            np.testing.assert_array_equal(table[column].to_numpy(), expected[column].to_numpy())


# ---------------------------------------------------------------------- CLI == API


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--rc-average", "--per-window", "--window-stride", "7", "--logits", "--batch-size", "16"],
    ],
)
def test_cli_and_api_give_identical_numbers(bundle, mixed_fasta, options):
    result = run_seqcnn("predict", mixed_fasta, "-m", bundle, *options)
    assert result.returncode == 0, result.stderr
    api_options = {}
    if options:
        api_options = dict(rc_average=True, per_window=True, window_stride=7, logits=True,
                           batch_size=16)  # fmt: skip
    expected = predict(load_model(bundle), mixed_fasta, **api_options)
    table = read_table(result.stdout)
    if not options:
        assert list(table.columns) == ["id", "a", "b"] and len(table) == 52
        table = table.set_index("id")
    else:
        assert list(table.columns[:3]) == ["id", "start", "end"]
    assert_same_numbers(table, expected)
    assert "only N" in result.stderr and "r50" in result.stderr  # the all-N record, warned


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    network = make_network(3, seed=7)
    config = bundle_config(network, "multiclass", ["x", "y", "z"])
    seqs = random_sequences(20, LENGTH, seed=8) + random_sequences(3, 90, seed=9)
    before = predict(Model(network, {**config, "model": network.config}), seqs, as_frame=False)
    save_model(network, config, tmp_path)
    after = predict(load_model(tmp_path), seqs, as_frame=False)
    np.testing.assert_array_equal(before, after)
    np.testing.assert_allclose(after[:20].sum(axis=1), 1.0, rtol=1e-6)  # softmax rows


# ---------------------------------------------------------------------- strands


@pytest.mark.parametrize("task, logits", [("multilabel", False), ("multiclass", False),
                                          ("multiclass", True)])  # fmt: skip
def test_rc_average_is_the_mean_of_both_strands(tiny_bundle, task, logits):
    model = load_model(tiny_bundle(task, names=("p", "q", "r")))
    names = ["p", "q", "r"]
    options = dict(logits=logits, batch_size=16)

    def by_hand(seqs):
        forward = predict(model, seqs, as_frame=False, **options)
        reverse = predict(model, [reverse_complement(s) for s in seqs], as_frame=False, **options)
        assert not np.allclose(forward, reverse)  # the strands do differ
        return (forward + reverse) / 2

    # records of the model's length: the reverse complement predicted as a sequence
    exact = random_sequences(20, LENGTH, seed=11)
    both = predict(model, exact, rc_average=True, as_frame=False, **options)
    np.testing.assert_allclose(both, by_hand(exact), rtol=1e-5, atol=1e-6)

    # windows of long records and padded short ones (even padding, so the reverse
    # complement of the padded input is the padded reverse complement)
    seqs = exact[:3] + random_sequences(3, 20, seed=12) + random_sequences(3, 77, seed=13)
    windows = predict(model, seqs, per_window=True, window_stride=9, rc_average=True, **options)
    cut = [seqs[i][s:e] for i, s, e in windows[["id", "start", "end"]].itertuples(index=False)]
    np.testing.assert_allclose(windows[names].to_numpy(), by_hand(cut), rtol=1e-5, atol=1e-6)
    # and a record's row aggregates the averaged windows
    rows = predict(model, seqs, window_stride=9, rc_average=True, **options)
    expected = windows.groupby("id")[names].max()
    np.testing.assert_allclose(rows.to_numpy(), expected.to_numpy(), rtol=1e-6)


def test_rc_average_defaults_to_the_bundle_setting(tiny_bundle, tmp_path):
    seqs = random_sequences(12, LENGTH, seed=21)
    plain = load_model(tiny_bundle("multilabel", names=("p", "q")))
    both = load_model(tiny_bundle("multilabel", names=("p", "q"), rc_average=True))
    one_strand = predict(plain, seqs, as_frame=False)
    averaged = predict(both, seqs, as_frame=False)
    np.testing.assert_allclose(averaged, predict(plain, seqs, rc_average=True, as_frame=False))
    np.testing.assert_array_equal(predict(both, seqs, rc_average=False, as_frame=False),
                                  one_strand)  # fmt: skip
    assert not np.allclose(averaged, one_strand)
    fasta = write_fasta_file(tmp_path / "s.fa", [(f"s{i}", s) for i, s in enumerate(seqs)])
    for flags, expected in (([], averaged), (["--no-rc-average"], one_strand)):
        result = run_seqcnn(
            "predict", fasta, "-m", both.path, "-o", tmp_path / "o.tsv", "-f", *flags
        )
        assert result.returncode == 0, result.stderr
        table = pd.read_csv(tmp_path / "o.tsv", sep="\t")
        np.testing.assert_allclose(table[["p", "q"]].to_numpy(), expected, rtol=1e-6)


# ---------------------------------------------------------------------- lengths


class CountBases(nn.Module):
    """Outputs the A, C, G, T content of each input window; remembers what it saw."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.clone())
        return x.sum(dim=2)


def count_model(length: int, n_encoding: str = "zeros") -> Model:
    config = {"input_length": length, "output_names": list("ACGT"), "n_encoding": n_encoding,
              "output_transform": "identity"}  # fmt: skip
    return Model(CountBases(), config)


@pytest.mark.parametrize("n_encoding", ["zeros", "uniform"])
def test_short_sequences_are_centred_in_n_padding(n_encoding):
    model = count_model(10, n_encoding)
    seqs = ["AC", "GGGTT", "ACGTACGTAC", "T"]
    values = predict(model, seqs, as_frame=False)
    seen = torch.cat(model.network.seen).numpy()
    np.testing.assert_array_equal(seen, one_hot(seqs, 10, "center", n_encoding))
    pad = 0.25 if n_encoding == "uniform" else 0.0
    np.testing.assert_allclose(values[0], [1 + 8 * pad, 1 + 8 * pad, 8 * pad, 8 * pad])
    # as the padding shows: "AC" sits at positions 4-5 of 10
    assert seen[0, 0, 4] == 1 and seen[0, 1, 5] == 1


def windows_by_hand(sequence: str, length: int, stride: int) -> list[tuple[int, str]]:
    starts = list(range(0, len(sequence) - length, stride)) + [len(sequence) - length]
    return [(s, sequence[s : s + length]) for s in starts]


@pytest.mark.parametrize("stride", [None, 1, 4, 10])
def test_long_sequences_are_scored_in_windows(stride):
    model = count_model(10)
    sequence = "A" * 5 + "C" * 20 + "G" * 3  # 28 bases
    effective = stride or 5  # default: half the input
    by_hand = windows_by_hand(sequence, 10, effective)
    counts = np.array([[w.count(b) for b in "ACGT"] for _, w in by_hand], dtype=np.float32)

    frame = predict(model, {"long": sequence}, per_window=True, window_stride=stride)
    assert list(frame.columns) == ["id", "start", "end", *"ACGT"]
    assert frame["start"].tolist() == [s for s, _ in by_hand]
    assert frame["end"].tolist() == [s + 10 for s, _ in by_hand]
    assert frame["end"].iloc[-1] == len(sequence)  # the last window reaches the end
    np.testing.assert_array_equal(frame[list("ACGT")].to_numpy(), counts)

    for aggregate, expected in (("max", counts.max(axis=0)), ("mean", counts.mean(axis=0))):
        row = predict(model, {"long": sequence}, window_stride=stride, aggregate=aggregate)
        assert row.index.tolist() == ["long"]
        np.testing.assert_allclose(row.loc["long"].to_numpy(), expected, rtol=1e-6)


def test_window_aggregation_across_batches_and_chunks():
    """Records whose windows straddle batch and chunk boundaries aggregate like a groupby."""
    model = count_model(12)
    rng = np.random.default_rng(0)
    seqs = {f"s{i}": "".join(rng.choice(list("ACGT"), int(n)))
            for i, n in enumerate(rng.integers(3, 80, size=60))}  # fmt: skip
    windows = predict(model, seqs, per_window=True, window_stride=5, batch_size=3)
    for aggregate in ("max", "mean"):
        rows = predict(model, seqs, window_stride=5, batch_size=3, aggregate=aggregate)
        expected = windows.groupby("id", sort=False)[list("ACGT")].agg(aggregate)
        assert rows.index.tolist() == list(seqs)
        np.testing.assert_allclose(rows.to_numpy(), expected.to_numpy(), rtol=1e-6)
    # windows of each record as cut by hand, in order
    for record_id in ("s0", "s7"):
        got = windows[windows["id"] == record_id]
        by_hand = windows_by_hand(seqs[record_id], 12, 5) if len(seqs[record_id]) > 12 else [
            (0, seqs[record_id])]  # fmt: skip
        assert got["start"].tolist() == [s for s, _ in by_hand]


def test_only_n_sequence_gives_a_finite_prediction(bundle, caplog):
    model = load_model(bundle)
    frame = predict(model, {"allN": "N" * LENGTH, "shortN": "NNN", "long_n": "n" * 200})
    assert np.isfinite(frame.to_numpy()).all()
    assert "3 record(s) contain only N" in caplog.text


# ---------------------------------------------------------------------- inputs


def test_inputs_strings_dict_array_and_fasta_agree(bundle, tmp_path):
    model = load_model(bundle)
    seqs = random_sequences(12, LENGTH, seed=21)
    path = write_fasta_file(tmp_path / "x.fa", [(f"q{i}", s) for i, s in enumerate(seqs)])
    from_list = predict(model, seqs)
    assert from_list.index.tolist() == list(range(12)) and from_list.index.name == "id"
    from_fasta = predict(model, path)
    assert from_fasta.index.tolist() == [f"q{i}" for i in range(12)]
    from_array = predict(model, one_hot(seqs), as_frame=False)
    from_tensor = predict(model, torch.from_numpy(one_hot(seqs)), as_frame=False)
    from_dict = predict(model, dict(zip(from_fasta.index, seqs, strict=True)))
    for other in (from_fasta.to_numpy(), from_array, from_tensor, from_dict.to_numpy()):
        np.testing.assert_array_equal(from_list.to_numpy(), other)
    # lower case and U read as in encode
    np.testing.assert_array_equal(
        predict(model, [s.lower().replace("t", "u") for s in seqs], as_frame=False), from_array
    )
    # a short one-hot array is padded like a short string
    np.testing.assert_array_equal(
        predict(model, one_hot(["ACGTAC"]), as_frame=False),
        predict(model, ["ACGTAC"], as_frame=False),
    )


def test_codes_series_and_bundle_path_inputs_agree(bundle):
    from seqcnn.onehot import encode_sequences

    seqs = random_sequences(6, LENGTH, seed=24) + ["ACGTN" * 4]  # a short one, padded
    expected = predict(load_model(bundle), seqs, as_frame=False)
    codes = encode_sequences(seqs[:6])
    np.testing.assert_array_equal(predict(bundle, codes, as_frame=False), expected[:6])
    short = predict(bundle, [s[:20] for s in seqs[:6]], as_frame=False)
    np.testing.assert_array_equal(predict(str(bundle), codes[:, :20], as_frame=False), short)
    series = pd.Series(seqs, index=[f"r{i}" for i in range(len(seqs))])
    frame = predict(bundle, series)
    assert frame.index.tolist() == series.index.tolist()
    np.testing.assert_array_equal(frame.to_numpy(), expected)


def test_outputs_the_table_cannot_hold_are_refused_up_front(bundle):
    model = load_model(bundle)
    model.network.output_shape = lambda length: (2, length)  # as a per-position head declares
    with pytest.raises(UsageError, match=r"shape \(2, 50\).*cannot be written as a table"):
        predict(model, ["A" * LENGTH])


def test_predict_chunks_streams(bundle):
    model = load_model(bundle)
    seqs = random_sequences(100, LENGTH, seed=22)
    frames = list(predict_chunks(model, seqs, batch_size=2))  # chunks of 16 batches
    assert [len(f) for f in frames] == [32, 32, 32, 4]
    whole = pd.concat(frames).set_index("id")
    np.testing.assert_array_equal(whole.to_numpy(), predict(model, seqs, batch_size=2).to_numpy())
    assert list(whole.columns) == ["a", "b"]


def test_stdin_and_gzip_input(bundle, tmp_path):
    records = [(f"s{i}", s) for i, s in enumerate(random_sequences(30, 60, seed=23))]
    plain = write_fasta_file(tmp_path / "p.fa", records)
    expected = predict(load_model(bundle), plain)
    data = gzip.compress(plain.read_bytes())
    result = run_seqcnn("predict", "-", "-m", bundle, stdin=data)  # gzip on stdin
    assert result.returncode == 0, result.stderr
    assert_same_numbers(read_table(result.stdout).set_index("id"), expected)
    bgzip = write_fasta_file(tmp_path / "b.fa.gz", records, width=50, compress="bgzip")
    assert_same_numbers(predict(load_model(bundle), bgzip), expected)


# ---------------------------------------------------------------------- outputs


@pytest.mark.parametrize("name", ["out.tsv", "out.csv", "out.tsv.gz", "out.csv.gz", "out.parquet"])
def test_output_formats_read_back(bundle, mixed_fasta, tmp_path, name):
    model = load_model(bundle)
    out = tmp_path / name
    rows = predict_file(model, mixed_fasta, out, per_window=True)
    expected = predict(model, mixed_fasta, per_window=True)
    if name.endswith(".parquet"):
        table = pd.read_parquet(out)
        assert table["a"].dtype == np.float32
    else:
        table = read_table(out, sep="," if ".csv" in name else "\t")
    assert rows == len(expected) == len(table)
    assert_same_numbers(table, expected)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


@pytest.mark.parametrize("name", ["out.csv", "out.tsv"])
def test_text_output_quotes_awkward_ids(bundle, tmp_path, name):
    model = load_model(bundle)
    seqs = {"chr1:10-60,+": "ACGT" * 12, 'say"hi"': "T" * 50, "plain": "G" * 50}
    predict_file(model, seqs, tmp_path / name)
    table = read_table(tmp_path / name, sep="," if name.endswith(".csv") else "\t")
    assert table["id"].tolist() == list(seqs)
    assert_same_numbers(table, predict(model, seqs).reset_index())


#: Ids in several scripts, one with a delimiter and a quote: tables must keep them exactly.
UNICODE_IDS = ["séq_α1", "序列", 'naïve,"ü"', "plain", "Ωmega|1"]


def unicode_fasta(folder, compress=None):
    seqs = random_sequences(4, LENGTH, seed=41) + ["ACGT" * 30]  # the last has windows
    name = "unicode.fa.gz" if compress else "unicode.fa"
    records = list(zip(UNICODE_IDS, seqs, strict=True))
    return write_fasta_file(folder / name, records, compress=compress)


@pytest.mark.parametrize("per_window", [False, True])
@pytest.mark.parametrize("name", ["out.tsv", "out.csv", "out.tsv.gz", "out.csv.gz", "out.parquet"])
def test_non_ascii_ids_come_out_as_they_went_in(bundle, tmp_path, name, per_window):
    from seqcnn.tables import read_table as read_prediction_table

    model = load_model(bundle)
    fasta = unicode_fasta(tmp_path, compress="gzip" if per_window else None)
    out = tmp_path / name
    predict_file(model, fasta, out, per_window=per_window)
    expected = predict(model, fasta, per_window=per_window)
    ids = expected["id"] if per_window else expected.index
    assert list(dict.fromkeys(ids)) == UNICODE_IDS
    table = read_prediction_table(out)
    assert table["id"].tolist() == list(ids)
    assert_same_numbers(table, expected if per_window else expected.reset_index())
    if not name.endswith(".parquet"):  # UTF-8 bytes, the ids' own
        raw = gzip.decompress(out.read_bytes()) if name.endswith(".gz") else out.read_bytes()
        for record_id in UNICODE_IDS[:2]:
            assert record_id.encode("utf-8") in raw


def test_non_ascii_ids_on_stdout_are_utf8_whatever_the_locale(bundle, tmp_path):
    fasta = unicode_fasta(tmp_path)
    script = (
        "import sys; from seqcnn.bundle import load_model; from seqcnn.predict import "
        "predict_file; predict_file(load_model(sys.argv[1]), sys.argv[2])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(bundle), str(fasta)],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "latin-1", "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr.decode()
    table = read_table(result.stdout.decode("utf-8"))
    assert table["id"].tolist() == UNICODE_IDS


def test_cli_writes_parquet_atomically(bundle, mixed_fasta, tmp_path):
    result = run_seqcnn("predict", mixed_fasta, "-m", bundle, "-o", tmp_path / "p.parquet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    table = pd.read_parquet(tmp_path / "p.parquet").set_index("id")
    assert_same_numbers(table, predict(load_model(bundle), mixed_fasta))


def test_empty_input_gives_header_only(bundle, tmp_path):
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    result = run_seqcnn("predict", empty, "-m", bundle, "--per-window")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "id\tstart\tend\ta\tb\n"
    model = load_model(bundle)
    assert predict_file(model, empty, tmp_path / "e.parquet") == 0
    table = pd.read_parquet(tmp_path / "e.parquet")
    assert list(table.columns) == ["id", "a", "b"] and len(table) == 0
    frame = predict(model, empty)
    assert list(frame.columns) == ["a", "b"] and len(frame) == 0
    assert predict(model, [], as_frame=False).shape == (0, 2)


# ---------------------------------------------------------------------- model lookup


def test_model_from_environment_then_default_folder(bundle, tmp_path, monkeypatch):
    monkeypatch.delenv("SEQCNN_MODEL", raising=False)
    fasta = write_fasta_file(tmp_path / "x.fa", [("a", "ACGT" * 20)])
    from_env = run_seqcnn("predict", fasta, env={"SEQCNN_MODEL": str(bundle)}, cwd=tmp_path)
    assert from_env.returncode == 0, from_env.stderr
    shutil.copytree(bundle, tmp_path / "seqcnn_model")
    from_default = run_seqcnn("predict", "x.fa", cwd=tmp_path)
    assert from_default.returncode == 0, from_default.stderr
    assert from_env.stdout == from_default.stdout and from_env.stdout.startswith("id\ta\tb\na\t")


def test_missing_model_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQCNN_MODEL", raising=False)
    fasta = write_fasta_file(tmp_path / "x.fa", [("a", "ACGT")])
    result = run_seqcnn("predict", fasta, cwd=tmp_path)
    assert_one_line_error(result, "seqcnn_model", "seqcnn train", "-m PATH", "SEQCNN_MODEL")
    assert result.stdout == ""


@pytest.mark.parametrize("damage, message", [
    ("config", "config.json is not valid JSON"),
    ("weights", "weights do not match config.json"),
    ("alphabet", "alphabet 'ACGU'"),
])  # fmt: skip
def test_corrupt_or_foreign_model_is_a_one_line_error(bundle, tmp_path, damage, message):
    folder = tmp_path / "model"
    shutil.copytree(bundle, folder)
    if damage == "config":
        (folder / "config.json").write_text('{"format": "seqcnn-model", ')
    elif damage == "weights":
        weights = folder / "weights.safetensors"
        weights.write_bytes(weights.read_bytes()[:-100])
    else:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "alphabet": "ACGU"}))
    fasta = write_fasta_file(tmp_path / "x.fa", [("a", "ACGT" * 20)])
    result = run_seqcnn("predict", fasta, "-m", folder, "-o", tmp_path / "out.tsv")
    assert_one_line_error(result, str(folder), message)
    assert not (tmp_path / "out.tsv").exists()


# ---------------------------------------------------------------------- data and usage errors


def test_invalid_letter_names_record_and_position_and_leaves_no_file(bundle, tmp_path):
    records = [(f"s{i}", s) for i, s in enumerate(random_sequences(50, LENGTH, seed=31))]
    records[40] = ("bad_one", "ACGTAXGT")  # after a first chunk of 32 records
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    result = run_seqcnn("predict", fasta, "-m", bundle, "-o", tmp_path / "out.tsv",
                        "--batch-size", "2")  # fmt: skip
    assert_one_line_error(result, str(fasta), "record 'bad_one'", "'X' at position 6")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.fa"]  # no output, no temp file
    with pytest.raises(DataError, match="record 'bad_one'.*position 6"):
        predict(load_model(bundle), fasta)


def test_api_errors(bundle, tmp_path):
    model = load_model(bundle)
    with pytest.raises(UsageError, match="pass a list of strings"):
        predict(model, "ACGTACGT")
    with pytest.raises(DataError, match="no such file"):
        predict(model, tmp_path / "missing.fa")
    with pytest.raises(DataError, match="record '1': empty sequence"):
        predict(model, ["ACGT", ""])
    with pytest.raises(UsageError, match=r"between 1 and the model input length \(50\), got 51"):
        predict(model, ["ACGT"], window_stride=51)
    with pytest.raises(UsageError, match="aggregate"):
        predict(model, ["ACGT"], aggregate="median")
    with pytest.raises(UsageError, match=r"shape \(N, 4, length\), got \(2, 5, 50\)"):
        predict(model, np.zeros((2, 5, 50), np.float32))
    with pytest.raises(UsageError, match="output format"):
        predict_file(model, ["ACGT"], tmp_path / "out.txt")
    with pytest.raises(UsageError, match="drop the .gz"):
        predict_file(model, ["ACGT"], tmp_path / "out.parquet.gz")


def test_cli_usage_errors_and_help(bundle, tmp_path):
    fasta = write_fasta_file(tmp_path / "x.fa", [("a", "ACGT" * 20)])
    result = run_seqcnn("predict", fasta, "-m", bundle, "-o", tmp_path / "out.xlsx")
    assert_one_line_error(result, "out.xlsx", ".tsv, .csv or .parquet", code=2)
    help_text = " ".join(run_seqcnn("predict", "--help").stdout.split())
    for fragment in ("padded with N", "centred", "--window-stride", "--per-window",
                     "--aggregate", "SEQCNN_MODEL", "--rc-average", "--logits"):  # fmt: skip
        assert fragment in help_text, fragment

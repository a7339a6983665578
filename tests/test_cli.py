import gzip
import subprocess
import sys
import time

import pytest
from conftest import assert_one_line_error, fasta_text, run_seqcnn, write_fasta_file

from seqcnn import load_dataset


def test_version_and_help():
    result = run_seqcnn("--version")
    assert result.returncode == 0 and "seqcnn" in result.stdout
    result = run_seqcnn("--help")
    assert result.returncode == 0
    for command in ("encode",):
        assert command in result.stdout
        sub = run_seqcnn(command, "--help")
        assert sub.returncode == 0 and "Examples" in sub.stdout


def test_import_and_help_are_fast():
    start = time.perf_counter()
    result = run_seqcnn("--help")
    assert result.returncode == 0
    assert time.perf_counter() - start < 2.0  # generous: < 1 s on an idle machine
    import subprocess
    import sys

    code = "import sys, seqcnn; print('torch' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]


def test_encode_from_stdin_gzip(tmp_path, records):
    data = gzip.compress(fasta_text(records).encode())
    result = run_seqcnn("encode", "-", "-o", tmp_path / "ds", "-q", stdin=data)
    assert result.returncode == 0, result.stderr
    assert load_dataset(tmp_path / "ds").ids == [r for r, _ in records]


@pytest.mark.parametrize(
    "text, fragments",
    [
        (">a\nACGT\n>b\nACJT\n", ["bad.fa", "record 'b'", "invalid letter 'J' at position 3"]),
        (">a\nACGT\n>a\nACGT\n", ["bad.fa", "record 'a'", "duplicate"]),
        ("", ["bad.fa", "empty"]),
        ("hello\n", ["bad.fa", "not a FASTA file"]),
        (">a\nACGT\n>b\nACG\n", ["bad.fa", "record 'b'", "--length"]),
    ],
)
def test_bad_data_one_line_exit_1_no_output(tmp_path, text, fragments):
    (tmp_path / "bad.fa").write_text(text)
    result = run_seqcnn("encode", tmp_path / "bad.fa", "-o", tmp_path / "out.ds")
    assert_one_line_error(result, *fragments, code=1)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.fa"]


def test_truncated_gzip_cli(tmp_path, records):
    data = gzip.compress(fasta_text(records * 1).encode() * 200)
    (tmp_path / "cut.fa.gz").write_bytes(data[:-20])
    result = run_seqcnn("encode", tmp_path / "cut.fa.gz", "-o", tmp_path / "out.ds")
    assert_one_line_error(result, "cut.fa.gz", "truncated", code=1)
    assert not (tmp_path / "out.ds").exists()


def test_bad_usage_exit_2(tmp_path, records):
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    result = run_seqcnn("encode", fasta, "-o", tmp_path / "ds", "--class-per-file")
    assert_one_line_error(result, "at least two", code=2)
    result = run_seqcnn("encode", fasta, "-o", tmp_path / "ds", "--crop", "middle")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    run_seqcnn("encode", fasta, "-o", tmp_path / "ds")
    result = run_seqcnn("encode", fasta, "-o", tmp_path / "ds")
    assert_one_line_error(result, "already exists", "--force", code=2)


def test_debug_shows_traceback(tmp_path):
    (tmp_path / "bad.fa").write_text("nope\n")
    result = run_seqcnn("--debug", "encode", tmp_path / "bad.fa", "-o", tmp_path / "o")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_every_public_name_resolves():
    import seqcnn

    for name in seqcnn.__all__:
        assert getattr(seqcnn, name) is not None, name


def test_encode_is_the_function_even_after_submodules_load():
    import seqcnn
    import seqcnn.dataset
    import seqcnn.onehot  # noqa: F401

    assert callable(seqcnn.encode) and seqcnn.encode.__module__ == "seqcnn.dataset"


def test_encode_shuffled_negatives_cli_equals_api(tmp_path, records):
    from seqcnn.dataset import encode

    fasta = write_fasta_file(tmp_path / "peaks.fa", records)
    result = run_seqcnn(
        "encode", fasta, "--shuffled-negatives", "--shuffle-copies", "2", "--shuffle-seed", "5",
        "-o", tmp_path / "cli.ds", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "task binary (peaks)" in result.stderr
    api = encode(fasta, tmp_path / "api.ds", shuffled_negatives=2, shuffle_seed=5)
    cli = load_dataset(tmp_path / "cli.ds")
    assert cli.content_hash == api.content_hash
    assert len(cli) == 3 * len(records)


def test_functions_keep_their_names_whatever_the_import_order():
    code = (
        "import seqcnn.train, seqcnn.predict, seqcnn.interpret, seqcnn.simulate\n"
        "import seqcnn.attribution\n"
        "from seqcnn.train import TrainOptions\n"
        "import seqcnn, sys, types\n"
        "names = ['train', 'predict', 'interpret', 'simulate', 'attribution']\n"
        "print(all(callable(getattr(seqcnn, n)) for n in names))\n"
        "print(all(not isinstance(getattr(seqcnn, n), types.ModuleType) for n in names))\n"
        "print(isinstance(sys.modules['seqcnn.train'], types.ModuleType))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]

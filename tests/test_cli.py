import gzip
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from conftest import (
    TINY_MODEL,
    assert_one_line_error,
    fasta_text,
    planted_records,
    run_seqcnn,
    write_fasta_file,
)

from seqcnn import load_dataset
from seqcnn.cli import cli

COMMANDS = sorted(cli.commands)


def test_version_and_help():
    result = run_seqcnn("--version")
    assert result.returncode == 0 and "seqcnn" in result.stdout
    result = run_seqcnn("--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: seqcnn [OPTIONS] COMMAND")
    for command in COMMANDS:
        assert f"  {command} " in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"], prog_name="seqcnn")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: seqcnn {command} [OPTIONS]")
    assert "Examples:" in result.output
    for param in cli.commands[command].params:
        for name in param.opts if isinstance(param, click.Option) else ():
            assert name in result.output, name
    assert "-h, --help" in result.output


def _choice_constants() -> dict:
    """(command, parameter) -> the API constant its choice list must equal."""
    from seqcnn.alleles import REF_MISMATCH
    from seqcnn.alphabet import CROP_MODES, N_ENCODINGS
    from seqcnn.attribution import METHODS, POSITION_TARGETS
    from seqcnn.forward import DEVICES
    from seqcnn.interpret import OVERVIEW_ORDERS
    from seqcnn.intervals import NEGATIVE_KINDS, OFF_END
    from seqcnn.labels import MISSING_POLICIES, TASKS
    from seqcnn.models.names import ACTIVATIONS, ARCHITECTURE_NAMES
    from seqcnn.plots import FIGURE_FORMATS
    from seqcnn.predict import AGGREGATES
    from seqcnn.scan import SCAN_FORMATS
    from seqcnn.training import REGRESSION_LOSSES, SCHEDULES, TUNE_SELECTIONS
    from seqcnn.variant_report import ATTRIBUTION_METHODS

    return {
        ("encode", "task"): TASKS,
        ("encode", "crop"): CROP_MODES,
        ("encode", "n_encoding"): N_ENCODINGS,
        ("encode", "missing_labels"): MISSING_POLICIES,
        ("encode", "negatives"): NEGATIVE_KINDS,
        ("encode", "off_end"): OFF_END,
        ("train", "missing_labels"): MISSING_POLICIES,
        ("train", "architecture"): ARCHITECTURE_NAMES,
        ("train", "first_activation"): ACTIVATIONS,
        ("train", "schedule"): SCHEDULES,
        ("train", "loss"): REGRESSION_LOSSES,
        ("train", "n_encoding"): N_ENCODINGS,
        ("train", "task"): TASKS,
        ("train", "tune_select"): TUNE_SELECTIONS,
        ("predict", "aggregate"): AGGREGATES,
        ("predict", "device"): DEVICES,
        ("interpret", "order"): OVERVIEW_ORDERS,
        ("interpret", "formats"): FIGURE_FORMATS,
        ("interpret", "attribution"): METHODS,
        ("interpret", "position_target"): POSITION_TARGETS,
        ("scan", "fmt"): SCAN_FORMATS,
        ("scan", "device"): DEVICES,
        ("variants", "ref_mismatch"): REF_MISMATCH,
        ("variants", "device"): DEVICES,
        ("variants", "attribution"): ATTRIBUTION_METHODS,
    }


def _walk(command, path=()):
    """(command path, parameter) for every parameter in the Click command tree."""
    for param in command.params:
        yield path, param
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))


def test_every_choice_list_is_its_api_constant():
    expected = _choice_constants()
    found = {
        (" ".join(path), param.name): tuple(param.type.choices)
        for path, param in _walk(cli)
        if isinstance(param.type, click.Choice)
    }
    # A new choice list must be added to _choice_constants, with the constant it comes from.
    assert set(found) == set(expected)
    for key, choices in found.items():
        assert choices == tuple(expected[key]), key


def test_torch_free_names_are_the_registries():
    from seqcnn import models
    from seqcnn.models import names

    assert tuple(models.ARCHITECTURES) == names.ARCHITECTURE_NAMES
    assert tuple(models.ACTIVATIONS) == names.ACTIVATIONS


def _imported_modules(stderr: str) -> set[str]:
    """Module names from ``python -X importtime`` output."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if "|" in line}


def test_import_and_help_do_not_load_torch():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "seqcnn", "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    modules = _imported_modules(result.stderr)
    assert "seqcnn.cli" in modules and "torch" not in modules
    # Every command's help, in one process: the choice lists come from torch-free modules.
    code = (
        "import contextlib, io, sys\n"
        "from seqcnn.cli import cli\n"
        "for args in [['--help']] + [[c, '--help'] for c in cli.commands]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert cli.main(args, prog_name='seqcnn', standalone_mode=False) == 0\n"
        "print([m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]"]
    code = "import sys, seqcnn; print('torch' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("command", ["train", "predict", "interpret"])
@pytest.mark.parametrize("given, expected", [(["--threads", "3"], 3), ([], None)])
def test_threads_reach_set_threads(monkeypatch, tmp_path, command, given, expected):
    import seqcnn.threads

    calls = []
    monkeypatch.setattr(seqcnn.threads, "set_threads", lambda n: calls.append(n) or 1)
    missing = str(tmp_path / "missing.fa")
    args = {
        "train": [missing, "-o", str(tmp_path / "model")],
        "predict": [missing, "-m", str(tmp_path / "no_model")],
        "interpret": [missing, "-m", str(tmp_path / "no_model"), "-o", str(tmp_path / "out")],
    }[command]
    result = CliRunner().invoke(cli, [command, *args, *given, "-q"], prog_name="seqcnn")
    assert result.exit_code != 0  # the input is missing, but only after --threads was used
    assert calls == [expected]


@pytest.mark.parametrize(
    "given, workers",
    [
        ([], None),
        (["--threads", "3"], 3),
        (["--threads", "20"], 8),
        (["--threads", "3", "-j", "2"], 2),
    ],
)
def test_encode_threads_are_its_workers(monkeypatch, tmp_path, given, workers):
    import seqcnn.dataset
    import seqcnn.threads
    from seqcnn.errors import DataError

    monkeypatch.setattr(seqcnn.threads, "_threads", None)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # recorded, so that the value before is put back
    monkeypatch.delenv("OMP_NUM_THREADS")
    seen = {}

    def fake_encode(*args, **kwargs):
        seen.update(kwargs, default=seqcnn.threads.default_workers())
        raise DataError("stop here")

    monkeypatch.setattr(seqcnn.dataset, "encode", fake_encode)
    args = ["encode", str(tmp_path / "x.fa"), "-o", str(tmp_path / "ds"), *given]
    result = CliRunner().invoke(cli, args, prog_name="seqcnn")
    assert result.exit_code != 0
    used = seen["workers"] or seen["default"]
    expected = min(seqcnn.threads.available_cpus(), 8) if workers is None else workers
    assert used == expected


def test_encode_with_threads_does_not_load_torch(tmp_path, records):
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "seqcnn", "encode", str(fasta), "-o",
         str(tmp_path / "ds"), "--threads", "2", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "torch" not in _imported_modules(result.stderr)


def test_threads_train_and_predict(tmp_path):
    records, labels = planted_records(200, 60)
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    (tmp_path / "labels.tsv").write_text(
        "id\tbound\n" + "".join(f"{r}\t{y}\n" for (r, _), y in zip(records, labels, strict=True))
    )
    tiny = [f"--option={key}={value}" for key, value in TINY_MODEL.items()]
    result = run_seqcnn(
        "train", fasta, "--labels", tmp_path / "labels.tsv", "-o", tmp_path / "model",
        "--epochs", 1, "--device", "cpu", "--threads", 1, "-q", *tiny,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = run_seqcnn("predict", fasta, "-m", tmp_path / "model", "--threads", 1, "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("id\tbound\n") and result.stdout.count("\n") == 201


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_bad_threads_is_a_usage_error(tmp_path, value):
    fasta = write_fasta_file(tmp_path / "x.fa", [("a", "ACGT")])
    result = run_seqcnn("predict", fasta, "--threads", value)
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stdout == ""
    # Click's usage error: the usage line, a hint, and one line saying what is wrong.
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "'--threads'" in errors[0], result.stderr


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
        "import seqcnn.training, seqcnn.predict, seqcnn.interpret, seqcnn.simulate\n"
        "import seqcnn.attribution\n"
        "from seqcnn.training import TrainOptions\n"
        "import seqcnn, sys, types\n"
        "names = ['train', 'predict', 'interpret', 'simulate', 'attribution']\n"
        "print(all(callable(getattr(seqcnn, n)) for n in names))\n"
        "print(all(not isinstance(getattr(seqcnn, n), types.ModuleType) for n in names))\n"
        "print(isinstance(sys.modules['seqcnn.predict'], types.ModuleType))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]


def test_console_entry_ends_with_mains_status_after_the_exit_steps(tmp_path):
    # seqcnn.cli.run skips the interpreter's teardown (os._exit) but must still run the
    # exit handlers, flush standard output and exit with main's status.
    marker = tmp_path / "handler_ran"
    code = (
        "import atexit, sys\n"
        "from seqcnn import cli\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('yes'))\n"
        "sys.stdout.write('buffered, not yet flushed')\n"
        "sys.argv = ['seqcnn', *sys.argv[1:]]\n"
        "cli.run()\n"
    )
    missing = [sys.executable, "-c", code, "predict", str(tmp_path / "no.fa"), "-m", str(tmp_path)]
    result = subprocess.run(missing, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr  # a data error's status
    assert result.stdout == "buffered, not yet flushed"
    assert result.stderr.startswith("seqcnn: error") and result.stderr.count("\n") == 1
    assert marker.read_text() == "yes"
    version = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True,
                             text=True)  # fmt: skip
    assert version.returncode == 0
    assert version.stdout.startswith("buffered, not yet flushedseqcnn, version ")

"""`seqcnn encode --bed` and `seqcnn scan` on a small synthetic genome, through ``main``.

The commands run in this process (``seqcnn.cli.main``) for speed; ``--threads 1`` keeps
torch to one thread, and the fixture below restores what ``--threads`` changes.  The scan
model is a seeded random ``cnn`` saved as a bundle (built, not trained).
"""

from __future__ import annotations

import gzip
import os
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_one_line_error, random_sequences, write_fasta_file

from seqcnn.bundle import save_model
from seqcnn.cli import main
from seqcnn.dataset import load_dataset
from seqcnn.forward import output_transform
from seqcnn.genome import Genome
from seqcnn.intervals import encode_intervals
from seqcnn.models import build_model, receptive_field

LENGTH = 40
SEQS = random_sequences(2, 3000, seed=5)


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch):
    """--threads sets torch's threads and two environment variables: undo both."""
    threads = torch.get_num_threads()
    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))
    yield
    torch.set_num_threads(threads)


def seqcnn(capsys, *args) -> SimpleNamespace:
    """Run ``seqcnn ARGS`` in this process: returncode, stdout, stderr."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """bgzip reference with Ensembl names (``1``, ``2``); ``2`` holds a block of N."""
    folder = tmp_path_factory.mktemp("genome")
    two = SEQS[1][:1200] + "N" * 200 + SEQS[1][1400:2000]
    records = [("1", SEQS[0]), ("2", two)]
    return write_fasta_file(folder / "ref.fa.gz", records, width=60, compress="bgzip")


def write(path, text: str, compress: bool = False):
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def narrowpeaks(starts, chrom="chr1", width=60, summit=10) -> str:
    return "".join(
        f"{chrom}\t{s}\t{s + width}\tp{k}\t0\t.\t{k + 0.5}\t2\t3\t{summit}\n"
        for k, s in enumerate(starts)
    )


# ------------------------------------------------------------------------------ encode --bed


def test_encode_bed_with_gc_matched_negatives(tmp_path, capsys, genome):
    bed = write(tmp_path / "peaks.narrowPeak.gz", narrowpeaks(range(100, 2900, 200)), True)
    out = tmp_path / "peaks.ds"
    result = seqcnn(capsys, "encode", "--bed", bed, "--genome", genome, "--length", LENGTH,
                    "--negatives", "gc-matched", "--seed", 3, "-o", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "14 GC-matched negatives, GC KS statistic" in result.stderr
    dataset = load_dataset(out)
    # Summit 10 of a peak at s: centre s + 10, window [s + 10 - 20, s + 10 + 20).
    assert dataset.ids[0] == "chr1:90-130" and dataset.length == LENGTH
    assert dataset.task == "binary" and int(dataset.labels.sum()) == 14 and len(dataset) == 28
    expected = encode_intervals(bed, genome, tmp_path / "api.ds", length=LENGTH,
                                negatives="gc-matched", seed=3)  # fmt: skip
    assert dataset.ids == expected.ids
    np.testing.assert_array_equal(dataset.codes, expected.codes)


def test_encode_bed_classes_labels_and_shuffles(tmp_path, capsys, genome):
    a = write(tmp_path / "a.bed", "chr1\t100\t200\nchr1\t2990\t3000\n")
    b = write(tmp_path / "b.bed", "2\t300\t400\n")
    result = seqcnn(capsys, "encode", "--bed", a, "--bed", b, "--class-per-file", "--genome",
                    genome, "--length", LENGTH, "-o", tmp_path / "ab.ds")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 windows padded with N off a contig's end" in result.stderr
    dataset = load_dataset(tmp_path / "ab.ds")
    assert dataset.ids == ["chr1:130-170", "chr1:2975-3000", "2:330-370"]
    assert dataset.label_names == ["a"] and dataset.labels[:, 0].tolist() == [1, 1, 0]

    scored = write(tmp_path / "scored.bed", narrowpeaks([100, 500, 900], summit=-1))
    result = seqcnn(capsys, "encode", "--bed", scored, "--genome", genome, "--length", LENGTH,
                    "--label-columns", "signal_value", "-o", tmp_path / "reg.ds")  # fmt: skip
    assert result.returncode == 0, result.stderr
    dataset = load_dataset(tmp_path / "reg.ds")
    assert dataset.task == "regression" and dataset.labels[:, 0].tolist() == [0.5, 1.5, 2.5]

    result = seqcnn(capsys, "encode", "--bed", a, "--genome", genome, "--length", LENGTH,
                    "--negatives", "shuffled", "--negative-ratio", 2, "--off-end", "drop",
                    "-o", tmp_path / "shuf.ds")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 windows off a contig's end dropped" in result.stderr
    dataset = load_dataset(tmp_path / "shuf.ds")
    assert dataset.ids == ["chr1:130-170", "chr1:130-170_shuf", "chr1:130-170_shuf2"]


@pytest.mark.parametrize(
    ("lines", "fragments"),
    [
        ("chr1\t10\t20\nchr1\t50\t40\n", ["peaks.bed:2", "end 40 is not after start 50"]),
        ("chr1\t10\t2O\n", ["peaks.bed:1", "end '2O' is not an integer"]),
        ("chr1\t10\t20\nchr7\t10\t20\n", ["peaks.bed:2", "contig 'chr7' is not in the genome"]),
    ],
)
def test_encode_bed_errors_name_file_and_line(tmp_path, capsys, genome, lines, fragments):
    bed = write(tmp_path / "peaks.bed", lines)
    result = seqcnn(capsys, "encode", "--bed", bed, "--genome", genome, "--length", LENGTH,
                    "-o", tmp_path / "out.ds")  # fmt: skip
    assert_one_line_error(result, *fragments)
    assert not list(tmp_path.glob("*.ds*")) and not list(tmp_path.glob(".out.ds*"))


def test_encode_input_kind_errors(tmp_path, capsys, genome):
    bed = write(tmp_path / "peaks.bed", "chr1\t10\t20\n")
    fasta = write_fasta_file(tmp_path / "x.fa", [("s", "ACGT")])
    out = tmp_path / "out.ds"
    cases = [
        (["-o", out], "give FASTA file(s) or --bed interval file(s) with --genome, one of"),
        ([fasta, "--bed", bed, "-o", out], "not both"),
        (["--bed", bed, "--length", 10, "-o", out], "--bed needs --genome"),
        (["--bed", bed, "--genome", genome, "--labels", bed, "-o", out], "--label-columns"),
        (["--bed", bed, "--genome", genome, "--shuffled-negatives", "--crop", "left",
          "-o", out], "--crop, --shuffled-negatives go with FASTA input, not --bed"),
        ([fasta, "--negatives", "gc-matched", "--seed", 1, "-o", out],
         "--negatives, --seed go with --bed"),
    ]  # fmt: skip
    for args, fragment in cases:
        assert_one_line_error(seqcnn(capsys, "encode", *args), fragment, code=2)
    assert not out.exists()


# ------------------------------------------------------------------------------ scan


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    torch.manual_seed(0)
    network = build_model("cnn", input_length=LENGTH, n_outputs=2, first_filters=8,
                          conv_filters=[8], dense_units=16)  # fmt: skip
    config = {"alphabet": "ACGT", "input_length": LENGTH, "n_encoding": "zeros",
              "task": "multilabel", "loss": None, "output_names": ["ctcf", "pu.1"],
              "output_transform": output_transform("multilabel"),
              "receptive_field": receptive_field(network), "parameters": 0}  # fmt: skip
    return save_model(network, config, tmp_path_factory.mktemp("bundle"))


def test_scan_table_equals_predict_on_the_windows(tmp_path, capsys, genome, bundle):
    table = tmp_path / "windows.tsv"
    result = seqcnn(capsys, "scan", "-m", bundle, "--genome", genome, "--regions", "chr2",
                    "--stride", 7, "-o", table, "--threads", 1)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "skipped (too many N)" in result.stderr
    windows = pd.read_csv(table, sep="\t")
    reference = Genome(genome)
    records = [(f"w{k}", reference.fetch(c, s, e)) for k, (c, s, e) in
               enumerate(windows[["id", "start", "end"]].itertuples(index=False))]  # fmt: skip
    fasta = write_fasta_file(tmp_path / "windows.fa", records)
    result = seqcnn(capsys, "predict", fasta, "-m", bundle, "-o", tmp_path / "p.tsv",
                    "--threads", 1)  # fmt: skip
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    np.testing.assert_allclose(windows[["ctcf", "pu.1"]], predicted[["ctcf", "pu.1"]],
                               rtol=1e-5, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("suffix", ["bedgraph.gz", "bw"])
def test_scan_parts_gathered_equal_one_scan(tmp_path, capsys, genome, bundle, suffix):
    if suffix == "bw":
        pytest.importorskip("pybigtools")
    common = ["-m", bundle, "--genome", genome, "--stride", 5, "--batch-size", 4, "--threads", 1]
    assert seqcnn(capsys, "scan", *common, "-o", tmp_path / f"whole.{suffix}").returncode == 0
    folders = []
    for k in (1, 2, 3):
        folder = tmp_path / f"part{k}"
        folder.mkdir()
        result = seqcnn(capsys, "scan", *common, "--part", f"{k}/3", "-o", folder / "p.bedgraph")
        assert result.returncode == 0, result.stderr
        folders.append(folder)
    assert all(len((f / "p.ctcf.bedgraph").read_text().splitlines()) > 100 for f in folders)
    result = seqcnn(capsys, "scan", "--gather", *folders, "--genome", genome,
                    "-o", tmp_path / f"joined.{suffix}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    for output in ("ctcf", "pu.1"):
        joined, whole = (tmp_path / f"{name}.{output}.{suffix}" for name in ("joined", "whole"))
        assert track_records(joined) == track_records(whole)


def track_records(path) -> list:
    if path.name.endswith(".bw"):
        import pybigtools

        reader = pybigtools.open(str(path))
        return [reader.chroms()] + [list(reader.records(c)) for c in reader.chroms()]
    with gzip.open(path, "rt") as handle:
        return handle.read().splitlines()


def test_scan_errors(tmp_path, capsys, genome, bundle):
    common = ["-m", bundle, "--genome", genome]
    result = seqcnn(capsys, "scan", *common, "--regions", "chr9", "-o", tmp_path / "t.bedgraph")
    assert_one_line_error(result, "contig 'chr9' is not in the genome")
    write(tmp_path / "t.pu.1.bedgraph", "")  # one of the two outputs' files exists
    result = seqcnn(capsys, "scan", *common, "--regions", "1", "-o", tmp_path / "t.bedgraph")
    assert_one_line_error(result, "t.pu.1.bedgraph: output already exists; use --force", code=2)
    assert (tmp_path / "t.pu.1.bedgraph").read_text() == ""
    # Parts given out of order: the second starts before the first ends.
    write(tmp_path / "a.bedgraph", "chr1\t100\t110\t0.5\nchr1\t110\t120\t0.25\n")
    write(tmp_path / "b.bedgraph", "chr1\t30\t40\t0.5\n")
    result = seqcnn(capsys, "scan", "--gather", tmp_path / "a.bedgraph", tmp_path / "b.bedgraph",
                    "--genome", genome, "-o", tmp_path / "g.bedgraph")  # fmt: skip
    assert_one_line_error(result, "b.bedgraph:1", "give the parts in order")
    result = seqcnn(capsys, "scan", "--gather", tmp_path / "a.bedgraph", "--stride", 5,
                    "--genome", genome, "-o", tmp_path / "g.bedgraph")  # fmt: skip
    assert_one_line_error(result, "--stride go with scanning, not --gather", code=2)
    result = seqcnn(capsys, "scan", *common, "--part", "4/3", "-o", tmp_path / "p.bedgraph")
    assert result.returncode == 2 and "is not K/N with 1 <= K <= N" in result.stderr
    result = seqcnn(capsys, "scan", *common, "--part", "1/3", "-o", tmp_path / "p.bw")
    assert_one_line_error(result, "--gather joins parts written as bedGraph", code=2)
    written = sorted(p.name for p in tmp_path.iterdir())  # nothing more, no temporary file
    assert written == ["a.bedgraph", "b.bedgraph", "t.pu.1.bedgraph"]

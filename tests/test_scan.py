"""Genome scans: values equal predict on the same windows, track conventions, formats, parts.

The model is a small ``cnn`` with seeded random weights (built, not trained); the genome is
written here, with an N block that must leave a gap in the track.
"""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import random_sequences, write_fasta_file

from seqcnn.bundle import Model
from seqcnn.errors import DataError, UsageError
from seqcnn.forward import output_transform
from seqcnn.genome import Genome
from seqcnn.models import build_model, receptive_field
from seqcnn.predict import predict
from seqcnn.scan import parse_regions, scan, split_regions

LENGTH = 40


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    network = build_model("cnn", input_length=LENGTH, n_outputs=2, first_filters=8,
                          conv_filters=[8], dense_units=16)  # fmt: skip
    config = {"alphabet": "ACGT", "input_length": LENGTH, "n_encoding": "zeros",
              "task": "multilabel", "loss": None, "output_names": ["ctcf", "pu.1/spi1"],
              "output_transform": output_transform("multilabel"),
              "receptive_field": receptive_field(network), "parameters": 0}  # fmt: skip
    return Model(network, config)


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    one, two = random_sequences(2, 1500, seed=11)
    one = one[:600] + "N" * 100 + one[700:]  # windows over it hold > 10% N: a gap
    folder = tmp_path_factory.mktemp("genome")
    records = [("1", one), ("2", two[:333])]
    return Genome(write_fasta_file(folder / "ref.fa.gz", records, width=60, compress="bgzip"))


@pytest.mark.parametrize("rc_average", [False, True])
def test_scan_equals_predict_on_the_same_windows(tmp_path, model, genome, rc_average):
    frame = scan(model, genome, regions=["chr1", "chr2:50-300"], rc_average=rc_average,
                 batch_size=7)  # fmt: skip
    assert frame.columns.tolist() == ["chrom", "start", "end", "ctcf", "pu.1/spi1"]
    assert (frame["end"] - frame["start"] == LENGTH).all()
    fasta = tmp_path / "windows.fa"
    windows = frame[["chrom", "start", "end"]].itertuples(index=False)
    records = [(f"w{i}", genome.fetch(c, s, e)) for i, (c, s, e) in enumerate(windows)]
    write_fasta_file(fasta, records)
    expected = predict(model, fasta, rc_average=rc_average, batch_size=32)
    np.testing.assert_allclose(frame[["ctcf", "pu.1/spi1"]].to_numpy(), expected.to_numpy(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_grid_gaps_and_names(model, genome):
    frame = scan(model, genome, regions="chr1")
    starts = frame["start"].to_numpy()
    assert set(frame["chrom"]) == {"chr1"} and (starts % 20 == 0).all()
    # Windows with more than 10% N (4 of 40 bases) are skipped: none starts in 564..699.
    assert not ((starts > 560) & (starts < 700)).any() and 560 in starts and 700 in starts
    assert starts.max() == 1460  # the last window that fits in 1500 bases
    whole = scan(model, genome)  # every contig, named as the genome names them
    assert list(dict.fromkeys(whole["chrom"])) == ["1", "2"]
    np.testing.assert_array_equal(whole[whole["chrom"] == "1"]["ctcf"], frame["ctcf"])


def test_bedgraph_tracks_one_per_output(tmp_path, model, genome):
    result = scan(model, genome, tmp_path / "track.bedgraph.gz", regions="chr2", stride=10)
    assert [p.name for p in result.paths] == [
        "track.ctcf.bedgraph.gz",
        "track.pu.1_spi1.bedgraph.gz",
    ]
    frame = scan(model, genome, regions="chr2", stride=10)
    assert result.windows == len(frame) == (333 - LENGTH) // 10 + 1 and result.skipped == 0
    with gzip.open(result.paths[1], "rt") as handle:
        track = pd.read_csv(handle, sep="\t", header=None, names=["chrom", "start", "end", "value"])
    # Each window's value covers its central stride bases: [s + 15, s + 25).
    np.testing.assert_array_equal(track["start"], frame["start"] + 15)
    np.testing.assert_array_equal(track["end"], frame["start"] + 25)
    np.testing.assert_array_equal(track["value"].to_numpy(np.float32), frame["pu.1/spi1"])
    assert set(track["chrom"]) == {"chr2"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in result.paths)


def test_bigwig_and_table_outputs(tmp_path, model, genome):
    pybigtools = pytest.importorskip("pybigtools")
    result = scan(model, genome, tmp_path / "ctcf.bw", regions="chr1", targets=["ctcf"])
    assert result.paths == [tmp_path / "ctcf.bw"] and result.skipped == 6
    frame = scan(model, genome, regions="chr1")
    reader = pybigtools.open(str(result.paths[0]))
    assert reader.chroms() == {"chr1": 1500}
    records = list(reader.records("chr1"))
    assert [r[0] for r in records] == (frame["start"] + 10).tolist()
    np.testing.assert_array_equal(np.array([r[2] for r in records], np.float32), frame["ctcf"])
    with pytest.raises(DataError, match="no window was scored"):
        scan(model, genome, tmp_path / "gap.bw", regions="chr1:600-700", targets=["ctcf"])
    empty = scan(model, genome, tmp_path / "gap.bedgraph", regions="chr1:600-700", targets=[0])
    assert empty.windows == 0 and empty.skipped == 4 and empty.paths[0].read_text() == ""
    table = scan(model, genome, tmp_path / "windows.tsv", regions="chr1", targets=[1])
    written = pd.read_csv(table.paths[0], sep="\t")
    assert written.columns.tolist() == ["id", "start", "end", "pu.1/spi1"]
    np.testing.assert_array_equal(written["start"], frame["start"])


def test_split_regions_scan_equals_one_scan(tmp_path, model, genome):
    scan(model, genome, tmp_path / "whole.bedgraph", stride=15)
    parts = split_regions(genome, None, 3, LENGTH, stride=15)
    assert len(parts) == 3 and all(parts)
    pieces = ""
    for k, regions in enumerate(parts):
        regions = [(r.name, r.start, r.end) for r in regions]
        out = tmp_path / f"part{k}.ctcf.bedgraph"
        scan(model, genome, out, regions=regions, stride=15, targets=["ctcf"])
        pieces += out.read_text()
    assert pieces == (tmp_path / "whole.ctcf.bedgraph").read_text()


def test_regions_and_errors(tmp_path, model, genome):
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t0\t300\nchr1\t250\t500\n2\t10\t200\n")
    regions = parse_regions(genome, str(bed))
    assert [(r.contig, r.start, r.end, r.name) for r in regions] == [
        ("1", 0, 500, "chr1"), ("2", 10, 200, "2")]  # fmt: skip
    assert [(r.start, r.end) for r in parse_regions(genome, "chr1:1,000-1,200")] == [(1000, 1200)]
    with pytest.raises(DataError, match="contig 'chr3' is not in the genome"):
        scan(model, genome, regions="chr3")
    with pytest.raises(UsageError, match="cannot tell the output format"):
        scan(model, genome, tmp_path / "track.txt")
    with pytest.raises(UsageError, match="stride must be between 1"):
        scan(model, genome, regions="chr2", stride=41)
    with pytest.raises(UsageError, match="unknown target"):
        scan(model, genome, regions="chr2", targets=["nope"])
    assert not list(tmp_path.glob("track*"))

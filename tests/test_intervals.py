"""Intervals: BED/narrowPeak reading, window coordinates, GC-matched negatives, datasets.

Every expected window below is worked out by hand from the documented convention
(0-based half-open; centre = summit, else ``start + (end - start) // 2``; window
``[c - L // 2, c - L // 2 + L)``) and compared with a slice of the contig string.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from conftest import random_sequences, write_fasta_file

from seqcnn.dataset import load_dataset
from seqcnn.errors import DataError, UsageError
from seqcnn.genome import Genome, gc_content
from seqcnn.intervals import encode_intervals, read_intervals, windows_from_beds
from seqcnn.labels import chromosome_of
from seqcnn.negatives import gc_matched_negatives, ks_statistic

SEQ = random_sequences(1, 1000, seed=7)[0]


@pytest.fixture(scope="module")
def small_genome(tmp_path_factory):
    """``1`` (Ensembl name, 1000 bp, soft-masked start) and ``2`` with an N block."""
    folder = tmp_path_factory.mktemp("genome")
    records = [("1", SEQ[:30].lower() + SEQ[30:]), ("2", "ACGT" * 25 + "N" * 100 + "GATC" * 25)]
    return Genome(write_fasta_file(folder / "ref.fa", records, width=50))


def write_bed(path: Path, lines, compress=False) -> Path:
    text = "".join("\t".join(map(str, line)) + "\n" if not isinstance(line, str) else line + "\n"
                   for line in lines)  # fmt: skip
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def narrowpeak(chrom, start, end, summit):
    return (chrom, start, end, "peak", 0, ".", 1.5, 2.0, 3.0, summit)


# Hand-worked windows: (BED line, L, expected window start, expected window end).
CASES = [
    (("chr1", 10, 20), 4, 13, 17),  # even interval: c = 10 + 10 // 2 = 15
    (("chr1", 10, 20), 5, 13, 18),  # odd L: the centre base is the middle one
    (("chr1", 10, 21), 4, 13, 17),  # odd interval: c = 10 + 11 // 2 = 15
    (("chr1", 10, 21), 5, 13, 18),
    (narrowpeak("chr1", 100, 200, 3), 4, 101, 105),  # summit: c = 100 + 3
    (narrowpeak("chr1", 100, 200, 3), 5, 101, 106),
    (narrowpeak("chr1", 100, 200, -1), 4, 148, 152),  # no summit: the midpoint 150
    (("chr1", 300, 301), 1, 300, 301),  # one base, one-base window: itself
    (("chr1", 20, 40), 60, 0, 60),  # soft-masked bases come out upper case
]


@pytest.mark.parametrize(("line", "length", "start", "end"), CASES)
def test_windows_against_hand_extracted_sequences(tmp_path, small_genome, line, length, start, end):
    bed = write_bed(tmp_path / "peaks.bed", [line])
    windows = windows_from_beds([bed], small_genome, length)
    row = windows.table.iloc[0]
    assert (row["start"], row["end"], row["id"]) == (start, end, f"chr1:{start}-{end}")
    assert row["contig"] == "1" and row["chrom"] == "chr1"
    _, _, sequences = next(iter(_batches(small_genome, windows)))
    assert sequences == [SEQ[start:end].upper()]


def _batches(genome, windows):
    from seqcnn.intervals import window_batches

    return window_batches(genome, windows)


def test_windows_off_the_contig_are_padded_or_dropped(tmp_path, small_genome):
    bed = write_bed(
        tmp_path / "edge.bed", [("chr1", 0, 2), ("chr1", 995, 1000), ("chr1", 500, 510)]
    )
    windows = windows_from_beds([bed], small_genome, 10)
    assert windows.table["id"].tolist() == ["chr1:0-6", "chr1:500-510", "chr1:992-1000"]
    _, _, sequences = next(iter(_batches(small_genome, windows)))
    assert sequences == ["NNNN" + SEQ[0:6].upper(), SEQ[500:510], SEQ[992:1000] + "NN"]
    assert windows.padded == 2
    dropped = windows_from_beds([bed], small_genome, 10, off_end="drop")
    assert dropped.table["id"].tolist() == ["chr1:500-510"] and dropped.off_end == 2


def test_reading_skips_comments_and_names_columns(tmp_path):
    lines = ["track name=peaks", "browser position chr1", "# a comment",
             "#chrom\tstart\tend\tscore2", ("chr1", 5, 9, "0.5"), "",
             ("chr2", 1, 3, "1.5")]  # fmt: skip
    frame = read_intervals(write_bed(tmp_path / "p.bed.gz", lines, compress=True))
    assert frame["chrom"].tolist() == ["chr1", "chr2"] and frame["line"].tolist() == [5, 7]
    assert frame["score2"].tolist() == ["0.5", "1.5"] and frame["summit"].tolist() == [-1, -1]
    header = read_intervals(write_bed(tmp_path / "h.tsv", ["chrom start end y", "chr1 1 4 3"]))
    assert header["y"].tolist() == ["3"]
    peaks = read_intervals(write_bed(tmp_path / "x.narrowPeak", [narrowpeak("chr1", 0, 9, 4)]))
    assert peaks["summit"].tolist() == [4] and "signal_value" in peaks.columns


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (("chr1", 20, 10), "peaks.bed:2: end 10 is not after start 20"),
        (("chr1", 20, 20), "peaks.bed:2: end 20 is not after start 20"),
        (("chr1", "1e3", 10), "peaks.bed:2: start '1e3' is not an integer"),
        (("chr1", 5, "x"), "peaks.bed:2: end 'x' is not an integer"),
        (("chr1", 5), "peaks.bed:2: expected at least 3 columns"),
        (("chr9", 5, 10), "peaks.bed:2: contig 'chr9' is not in the genome; it has 1, 2"),
        (("chr2", 120, 180), "peaks.bed:2: window chr2:130-170 is all N"),
        (narrowpeak("chr1", 0, 10, 10), "peaks.bed:2: summit offset 10 (column 10) is outside"),
    ],
)
def test_bad_lines_are_one_line_errors(tmp_path, small_genome, line, message):
    bed = write_bed(tmp_path / "peaks.bed", [("chr1", 1, 5), line])
    with pytest.raises(DataError) as err:
        windows = windows_from_beds([bed], small_genome, 40)
        list(_batches(small_genome, windows))
    assert str(err.value).endswith(message) or message in str(err.value), str(err.value)
    assert str(err.value).startswith(str(bed)) and "\n" not in str(err.value)


# ------------------------------------------------------------------------------ negatives


@pytest.fixture(scope="module")
def gc_genome(tmp_path_factory):
    """Two contigs of 2 kb segments alternating between 35% and 65% GC, and an N block."""
    rng = np.random.default_rng(3)

    def segment(gc, n):
        p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
        return "".join(rng.choice(list("ACGT"), size=n, p=p))

    one = "".join(segment(0.35 if k % 2 else 0.65, 2000) for k in range(60))
    one = one[:40_000] + "N" * 3000 + one[43_000:]
    two = "".join(segment(0.65 if k % 2 else 0.35, 2000) for k in range(30))
    folder = tmp_path_factory.mktemp("gc")
    return Genome(write_fasta_file(folder / "gc.fa.gz", [("chr1", one), ("chr2", two)],
                                   width=60, compress="bgzip"))  # fmt: skip


def positives(genome, n=300, length=100, seed=0):
    """Windows in the GC-rich segments of chr1, away from the N block."""
    rng = np.random.default_rng(seed)
    starts = (rng.integers(0, 30, n) * 2 * 2000) + rng.integers(0, 1900, n)
    starts = np.unique(starts[(starts < 39_000) | (starts > 44_000)])
    return ["chr1"] * len(starts), starts


def gc_bins(gc):
    return np.bincount(np.floor(np.asarray(gc) * 50 + 1e-9).astype(int), minlength=51)


def test_gc_matched_negatives_match_the_histogram_and_avoid_positives(gc_genome):
    length = 100
    contigs, starts = positives(gc_genome)
    blacklist = (["chr2", "chrUn"], np.array([10_000, 0]), np.array([30_000, 500]))
    sample = gc_matched_negatives(gc_genome, contigs, starts, length, exclude=blacklist, seed=1)
    report = sample.report
    assert report["shortfall"] == 0 and report["sampled"] == len(starts)
    assert report["excluded_regions"] == 1  # chrUn is not in the genome: ignored
    positive_gc = gc_content(gc_genome.window_codes("chr1", starts, length))
    # GC fractions are k / n exactly: bin them as the sampler does, not with float edges.
    np.testing.assert_array_equal(gc_bins(sample.gc), gc_bins(positive_gc))
    assert report["ks_statistic"] == pytest.approx(ks_statistic(positive_gc, sample.gc), abs=1e-6)
    assert report["ks_statistic"] < 0.05
    on_one = sample.contigs == "chr1"
    gaps = np.abs(sample.starts[on_one][:, None] - starts[None, :])
    assert gaps.min() >= 2 * length  # no negative within one window length of a positive
    on_two = sample.starts[~on_one]
    assert not ((on_two + length > 10_000) & (on_two < 30_000)).any()  # blacklist kept out
    for contig in ("chr1", "chr2"):
        codes = gc_genome.window_codes(contig, sample.starts[sample.contigs == contig], length)
        assert (codes >= 4).mean(axis=1).max() <= 0.1
    assert sample.names[0] == "chr1" and set(sample.starts % 50) == {0}


def test_gc_matched_negatives_are_seeded(gc_genome):
    contigs, starts = positives(gc_genome, n=50)
    a = gc_matched_negatives(gc_genome, contigs, starts, 100, ratio=2, seed=5)
    b = gc_matched_negatives(gc_genome, contigs, starts, 100, ratio=2, seed=5)
    c = gc_matched_negatives(gc_genome, contigs, starts, 100, ratio=2, seed=6)
    np.testing.assert_array_equal(a.starts, b.starts)
    assert len(a.starts) == 2 * len(starts) and not np.array_equal(a.starts, c.starts)


def test_short_bins_borrow_from_their_neighbours(gc_genome):
    contigs, starts = positives(gc_genome, n=200)
    sample = gc_matched_negatives(gc_genome, contigs, starts, 100, ratio=8, seed=0)
    report = sample.report
    assert report["requested"] == 8 * len(starts)
    assert report["sampled"] == report["requested"] and report["shortfall"] == 0
    # Too few GC-rich candidates: the rest come from the nearest bins, so the negatives
    # stay GC-rich (the genome is half 35% GC), and the KS statistic says how far off.
    assert 0.5 < np.mean(sample.gc) < 0.7
    assert report["ks_statistic"] > 0.1


# ------------------------------------------------------------------------------ datasets


def test_encode_with_gc_matched_negatives(tmp_path, gc_genome):
    contigs, starts = positives(gc_genome, n=100)
    bed = write_bed(tmp_path / "ctcf.bed", [("chr1", s, s + 100) for s in starts])
    blacklist = write_bed(tmp_path / "black.bed", [("chr2", 0, 20_000)])
    ds = encode_intervals(bed, gc_genome.path, tmp_path / "ds", length=100,
                          negatives="gc-matched", exclude=blacklist, seed=2)  # fmt: skip
    n = len(starts)
    assert len(ds) == 2 * n and ds.task == "binary" and ds.label_names == ["ctcf"]
    assert ds.labels[:n].sum() == n and ds.labels[n:].sum() == 0
    assert all(chromosome_of(i) in ("chr1", "chr2") for i in ds.ids)
    negatives = ds.header["negatives"]
    assert negatives["kind"] == "gc-matched" and negatives["ks_statistic"] < 0.1
    assert negatives["exclude"] == str(blacklist) and negatives["sampled"] == n
    assert ds.header["genome"]["path"] == str(gc_genome.path)
    first = ds.ids[n]
    chrom, span = first.split(":")
    a, b = map(int, span.split("-"))
    assert chrom != "chr2" or a >= 20_000
    letters = np.frombuffer(b"ACGTNRYSWKMBDHV", np.uint8)
    assert letters[ds.codes[n]].tobytes().decode() == gc_genome.fetch(chrom, a, b)
    again = encode_intervals(bed, gc_genome, tmp_path / "ds2", length=100,
                             negatives="gc-matched", exclude=blacklist, seed=2)  # fmt: skip
    assert again.content_hash == ds.content_hash


def test_encode_with_shuffled_negatives_and_ensembl_genome(tmp_path, small_genome):
    bed = write_bed(tmp_path / "pos.narrowPeak", [narrowpeak("chr1", 100, 200, 3),
                                                  narrowpeak("chr1", 400, 500, -1)])  # fmt: skip
    ds = encode_intervals(bed, small_genome, tmp_path / "ds", length=20,
                          negatives="shuffled", negative_ratio=2)  # fmt: skip
    assert ds.ids == ["chr1:93-113", "chr1:440-460", "chr1:93-113_shuf", "chr1:93-113_shuf2",
                      "chr1:440-460_shuf", "chr1:440-460_shuf2"]  # fmt: skip
    assert ds.labels.ravel().tolist() == [1, 1, 0, 0, 0, 0] and ds.label_names == ["pos"]
    assert ds.header["shuffled_negatives"] == {"copies": 2, "seed": 0, "k": 2}
    letters = np.frombuffer(b"ACGTNRYSWKMBDHV", np.uint8)
    rows = [letters[row].tobytes().decode() for row in ds.codes]
    assert rows[0] == SEQ[93:113] and sorted(rows[2]) == sorted(rows[0])


def test_encode_classes_and_label_columns(tmp_path, small_genome):
    a = write_bed(tmp_path / "a.bed", [("chr1", 100, 140), ("chr1", 600, 640)])
    b = write_bed(tmp_path / "b.bed.gz", [("chr1", 300, 340)], compress=True)
    ds = encode_intervals([a, b], small_genome, tmp_path / "classes", length=30,
                          class_per_file=True)  # fmt: skip
    assert ds.label_names == ["a"] and ds.labels.ravel().tolist() == [1, 1, 0]
    peaks = write_bed(tmp_path / "p.narrowPeak", [narrowpeak("chr1", 100, 200, 3),
                                                  (*narrowpeak("chr1", 500, 600, 10)[:6], 7.5,
                                                   1, 1, 10)])  # fmt: skip
    ds = encode_intervals(peaks, small_genome, tmp_path / "signal", length=30,
                          label_columns=["signal_value"])  # fmt: skip
    assert ds.task == "regression" and ds.labels.ravel().tolist() == [1.5, 7.5]
    assert load_dataset(tmp_path / "signal").ids == ["chr1:88-118", "chr1:495-525"]


def test_encode_option_errors(tmp_path, small_genome):
    bed = write_bed(tmp_path / "a.bed", [("chr1", 100, 140)])
    with pytest.raises(UsageError, match="unknown negatives 'random'"):
        encode_intervals(bed, small_genome, tmp_path / "x", length=10, negatives="random")
    with pytest.raises(UsageError, match="--exclude goes with --negatives gc-matched"):
        encode_intervals(bed, small_genome, tmp_path / "x", length=10, exclude=bed)
    with pytest.raises(UsageError, match="whole number of copies"):
        encode_intervals(bed, small_genome, tmp_path / "x", length=10, negatives="shuffled",
                         negative_ratio=1.5)  # fmt: skip
    with pytest.raises(UsageError, match="no label column 'nope'"):
        encode_intervals(bed, small_genome, tmp_path / "x", length=10, label_columns=["nope"])
    assert not (tmp_path / "x").exists()

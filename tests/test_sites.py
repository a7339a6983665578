"""Per-position labels: sites rasterised to masks (record and genome coordinates), bigWig
signal, NumPy arrays, the dataset round trip and the command line's errors.

Every expected mask is worked out by hand from the documented convention (0-based,
half-open; a window ``[c - L // 2, c - L // 2 + L)``; bases off a contig's end masked 255).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pybigtools
import pytest
from conftest import assert_one_line_error, random_sequences, write_fasta_file

from seqcnn.cli import main
from seqcnn.dataset import encode, load_dataset
from seqcnn.errors import DataError, UsageError
from seqcnn.intervals import encode_intervals
from seqcnn.labels import POSITION_TASKS, TASKS, check_task, task_head_kind
from seqcnn.position_labels import check_label_array, read_label_array
from seqcnn.signal import parse_signals
from seqcnn.sites import MASKED, rasterise, rasterise_sites, read_sites

SEQS = random_sequences(3, 20, seed=3)
GENOME_SEQS = random_sequences(2, 1000, seed=11)


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch):
    """--threads sets two environment variables (and torch's threads, once imported)."""
    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    yield
    if torch is not None:
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


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def fasta(tmp_path) -> Path:
    return write_fasta_file(tmp_path / "seqs.fa", [(f"r{i}", s) for i, s in enumerate(SEQS)])


def row(length: int, ones=(), masked=()) -> list[int]:
    values = [0] * length
    for i in ones:
        values[i] = 1
    for i in masked:
        values[i] = MASKED
    return values


# ------------------------------------------------------------------------------ tasks


def test_sequence_datasets_are_unchanged(tiny_binary):
    ds = load_dataset(tiny_binary.path)
    assert ds.head_kind == "sequence" and ds.labels.shape == (600, 1)
    assert not isinstance(ds.labels, np.memmap)  # loaded into memory, as before


def test_position_tasks_and_head_kinds():
    assert set(POSITION_TASKS) <= set(TASKS)
    assert [task_head_kind(t) for t in TASKS] == ["sequence"] * 4 + ["position"] * 2
    check_task("segmentation")
    with pytest.raises(UsageError, match="unknown task"):
        task_head_kind("segment")
    with pytest.raises(UsageError, match="unknown task"):
        task_head_kind(None)


# ------------------------------------------------------------------------------ rasterising


def test_rasterise_by_hand():
    # overlapping sites of one track merge; a site may run off either end and is cut
    masks = rasterise(
        rows=[0, 0, 0, 1, 1, 1],
        tracks=[0, 0, 1, 1, 0, 1],
        starts=[1, 3, 0, -2, 5, 7],
        ends=[4, 6, 1, 2, 8, 9],
        shape=(3, 2, 8),
    )
    assert masks.dtype == np.uint8
    assert masks.tolist() == [
        [row(8, [1, 2, 3, 4, 5]), row(8, [0])],
        [row(8, [5, 6, 7]), row(8, [0, 1, 7])],
        [row(8), row(8)],
    ]


def test_rasterise_writes_every_row_of_out_in_chunks(monkeypatch):
    import seqcnn.sites

    monkeypatch.setattr(seqcnn.sites, "_CHUNK", 10)  # a row (2 x 6 entries) at a time
    out = np.full((3, 2, 5), 7, dtype=np.uint8)
    rasterise([2, 0], [1, 0], [4, 0], [5, 1], (3, 2, 5), out=out)
    assert out.tolist() == [[row(5, [0]), row(5)], [row(5), row(5)], [row(5), row(5, [4])]]


def test_read_sites_with_and_without_header(tmp_path):
    named = read_sites(write(tmp_path / "a.tsv", "id\tstart\tend\tlabel\n r1 \t2\t5\tCTCF\n"))
    assert named[["id", "start", "end", "label", "line"]].values.tolist() == [
        ["r1", 2, 5, "CTCF", 2]
    ]
    plain = read_sites(write(tmp_path / "b.csv", "r1,2,5\n\nr2,0,1\n"))
    assert plain[["id", "label", "line"]].values.tolist() == [["r1", "site", 1], ["r2", "site", 3]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id\tstart\tend\nr0\t5\t5\n", "sites.tsv:2: start 5 is not before end 5"),
        ("r0\t6\t5\n", "sites.tsv:1: start 6 is not before end 5"),
        ("r0\t-1\t5\n", "sites.tsv:1: start -1 is negative"),
        ("r0\t1\t5\nr0\t1.5\t5\n", "sites.tsv:2: start '1.5' is not an integer"),
        ("name\tfrom\tto\nr0\t1\t2\n", "no column id, start, end"),
        ("r0\t1\n", "needs the columns id, start, end"),
    ],
)
def test_read_sites_errors_name_file_and_line(tmp_path, text, message):
    with pytest.raises(DataError) as caught:
        read_sites(write(tmp_path / "sites.tsv", text))
    assert message in str(caught.value)


def test_rasterise_sites_tracks_ids_and_errors(tmp_path):
    sites = read_sites(
        write(tmp_path / "s.tsv", "id\tstart\tend\tlabel\nb\t0\t2\tY\na\t3\t4\tX\nb\t9\t10\tX\n")
    )
    masks, names = rasterise_sites(sites, ["a", "b"], 10)
    assert names == ["Y", "X"]  # in order of first appearance
    assert masks.tolist() == [[row(10), row(10, [3])], [row(10, [0, 1]), row(10, [9])]]
    masks, names = rasterise_sites(sites, ["a", "b"], 10, tracks=["X", "Z"])
    assert names == ["X", "Z"]
    assert masks.tolist() == [[row(10, [3]), row(10)], [row(10, [9]), row(10)]]
    with pytest.raises(DataError, match=r"s\.tsv:4: site 9-10 of record 'b' ends past"):
        rasterise_sites(sites, ["a", "b"], 9, path="s.tsv")
    with pytest.raises(DataError, match=r"s\.tsv:2: record 'b' of this site is not in the FASTA"):
        rasterise_sites(sites, ["a"], 10, path="s.tsv")
    with pytest.raises(UsageError, match="different tracks"):
        rasterise_sites(sites, ["a", "b"], 10, tracks=["X", "X"])


# ------------------------------------------------------------------------------ FASTA + sites


def test_encode_sites_in_record_coordinates_round_trip(tmp_path, capsys, fasta):
    sites = write(
        tmp_path / "sites.tsv",
        "id\tstart\tend\tlabel\nr2\t18\t20\tB\nr0\t0\t3\tA\nr0\t2\t5\tA\nr1\t19\t20\tA\n",
    )
    out = tmp_path / "seg.ds"
    result = seqcnn(capsys, "encode", fasta, "--sites", sites, "-o", out, "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "task segmentation (B, A)" in result.stderr
    ds = load_dataset(out)
    assert (ds.task, ds.head_kind, ds.label_names) == ("segmentation", "position", ["B", "A"])
    assert isinstance(ds.labels, np.memmap) and ds.labels.dtype == np.uint8
    assert ds.labels.shape == (3, 2, 20) == (len(ds), len(ds.label_names), ds.length)
    assert ds.labels.tolist() == [
        [row(20), row(20, [0, 1, 2, 3, 4])],
        [row(20), row(20, [19])],
        [row(20, [18, 19]), row(20)],
    ]
    with pytest.raises(ValueError):
        ds.labels[0, 0, 0] = 1  # read-only
    header = json.loads((out / "dataset.json").read_text())
    assert header["per_position"]["source"] == "sites" and header["per_position"]["sites"] == 4


def test_loading_checks_the_label_shape(tmp_path, fasta):
    out = tmp_path / "seg.ds"
    encode(fasta, out, sites=write(tmp_path / "s.tsv", "r0\t1\t2\tA\nr1\t1\t3\tB\n"))
    header = json.loads((out / "dataset.json").read_text())
    header["label_names"] = ["A"]
    (out / "dataset.json").write_text(json.dumps(header))
    with pytest.raises(DataError, match=r"labels.npy is \(3, 2, 20\), expected .* \(3, 1, 20\)"):
        load_dataset(out)


@pytest.mark.parametrize(
    ("sites", "extra", "code", "fragments"),
    [
        ("r0\t1\t2\nr9\t0\t1\n", (), 1, ("sites.tsv:2", "record 'r9'", "not in the FASTA")),
        ("r0\t1\t21\n", (), 1, ("sites.tsv:1", "ends past the record's 20 bases")),
        ("r0\t3\t3\n", (), 1, ("sites.tsv:1", "not before end")),
        ("r0\t1\t2\n", ("--length", "20"), 2, ("--sites are in record coordinates",)),
        ("r0\t1\t2\n", ("--task", "profile"), 2, ("sites make a segmentation task",)),
        ("r0\t1\t2\n", ("--labels", "x.tsv"), 2, ("give labels one way",)),
        ("r0\t1\t2\n", ("--signal", "x.bw"), 2, ("--signal goes with --bed",)),
        ("", (), 1, ("sites.tsv: no sites in the file",)),
        ("id\tstart\tend\n\n", (), 1, ("sites.tsv: no sites in the file",)),
    ],
)
def test_encode_sites_errors_are_one_line_and_leave_nothing(
    tmp_path, capsys, fasta, sites, extra, code, fragments
):
    path = write(tmp_path / "sites.tsv", sites)
    before = sorted(os.listdir(tmp_path))
    result = seqcnn(capsys, "encode", fasta, "--sites", path, *extra, "-o", tmp_path / "out.ds")
    assert_one_line_error(result, *fragments, code=code)
    assert sorted(os.listdir(tmp_path)) == before


# ------------------------------------------------------------------------------ arrays


@pytest.mark.parametrize(
    ("values", "task", "dtype"),
    [
        ([0, 1, 255], "segmentation", np.uint8),
        ([True, False, True], "segmentation", np.uint8),
        ([0, 3, 65535], "profile", np.uint16),
        ([0, 3.0, 65536], "profile", np.int32),
        ([0, 0.5, 2], "profile", np.float32),
    ],
)
def test_label_arrays_take_the_compact_type(tmp_path, fasta, values, task, dtype):
    array = np.zeros((3, 1, 20), dtype=np.asarray(values).dtype)
    array[1, 0, :3] = values
    ds = encode(fasta, tmp_path / "a.ds", labels=array, task=task, tracks=["t"])
    assert ds.labels.dtype == dtype and ds.label_names == ["t"]
    np.testing.assert_array_equal(ds.labels, array.astype(dtype))


@pytest.mark.parametrize(
    ("array", "task", "message"),
    [
        (np.full((3, 1, 20), 2, np.uint8), "segmentation", "value 2 in row 1, track 1, position 0"),
        (np.full((3, 1, 20), -1.0), "profile", "is not a finite count >= 0"),
        (np.full((3, 1, 20), np.nan), "profile", "is not a finite count >= 0"),
        (np.zeros((3, 1, 19)), "profile", "must be (N, T, L) = (3, T, 20)"),
        (np.zeros((2, 1, 20)), "profile", "must be (N, T, L) = (3, T, 20)"),
    ],
)
def test_label_array_errors(tmp_path, fasta, array, task, message):
    with pytest.raises(DataError) as caught:
        encode(fasta, tmp_path / "a.ds", labels=array, task=task)
    assert message in str(caught.value)
    assert not (tmp_path / "a.ds").exists()


def test_label_array_needs_a_position_task(tmp_path, fasta):
    with pytest.raises(UsageError, match="need --task segmentation or profile"):
        encode(fasta, tmp_path / "a.ds", labels=np.zeros((3, 1, 20)))
    with pytest.raises(UsageError, match="not 'regression'"):
        check_label_array(np.zeros((3, 1, 20)), "regression", 3, 20)
    with pytest.raises(UsageError, match="needs per-position labels"):
        encode(fasta, tmp_path / "a.ds", task="segmentation")


def test_labels_npy_on_the_command_line(tmp_path, capsys, fasta):
    counts = np.arange(3 * 2 * 20, dtype=np.float64).reshape(3, 2, 20)
    np.savez(tmp_path / "c.npz", labels=counts, names=np.array(["plus", "minus"]))
    np.save(tmp_path / "c.npy", counts / 4)
    out = tmp_path / "p.ds"
    result = seqcnn(capsys, "encode", fasta, "--labels-npy", tmp_path / "c.npz", "--task",
                    "profile", "-o", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    ds = load_dataset(out)
    assert ds.label_names == ["plus", "minus"] and ds.labels.dtype == np.uint16
    np.testing.assert_array_equal(ds.labels, counts)
    result = seqcnn(capsys, "encode", fasta, "--labels-npy", tmp_path / "c.npy", "--task",
                    "profile", "--tracks", "a,b", "-o", tmp_path / "q.ds")  # fmt: skip
    ds = load_dataset(tmp_path / "q.ds")
    assert ds.label_names == ["a", "b"] and ds.labels.dtype == np.float32
    np.testing.assert_array_equal(ds.labels, counts / 4)
    bad = seqcnn(capsys, "encode", fasta, "--labels-npy", tmp_path / "c.txt", "--task",
                 "profile", "-o", tmp_path / "r.ds")  # fmt: skip
    assert_one_line_error(bad, "takes a .npy or .npz file", code=2)
    missing = seqcnn(capsys, "encode", fasta, "--labels-npy", tmp_path / "no.npy", "--task",
                     "profile", "-o", tmp_path / "r.ds")  # fmt: skip
    assert_one_line_error(missing, "no.npy", "no such file", code=1)
    assert not (tmp_path / "r.ds").exists()
    assert read_label_array(tmp_path / "c.npz")[1] == ["plus", "minus"]


# ------------------------------------------------------------------------------ genome


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """Ensembl names: ``1`` (1000 bp) and ``2`` (300 bp)."""
    folder = tmp_path_factory.mktemp("genome")
    records = [("1", GENOME_SEQS[0]), ("2", GENOME_SEQS[1][:300])]
    return write_fasta_file(folder / "ref.fa.gz", records, width=60, compress="bgzip")


@pytest.fixture
def windows_bed(tmp_path) -> Path:
    # L = 20: windows [95, 115), [-4, 16) (4 bases off the start), [985, 1005) (5 off the
    # end) on 1, and [45, 65) on 2; rows in genome order: [-4, 16), [95, 115), [985, 1005), 2
    return write(tmp_path / "w.bed", "chr1\t100\t110\nchr1\t5\t7\nchr1\t990\t1000\nchr2\t50\t60\n")


def test_sites_in_genome_coordinates_by_hand(tmp_path, capsys, genome, windows_bed):
    sites = write(
        tmp_path / "sites.bed",
        "chr1\t100\t103\tA\n"  # window [95, 115): 5..7
        "chr1\t110\t200\tB\n"  # [95, 115): 15..19
        "chr1\t0\t2\tA\n"  # [-4, 16): 4..5
        "chr1\t998\t1000\tB\n"  # [985, 1005): 13..14
        "1\t101\t104\tA\n"  # either spelling; overlaps the first: 6..8
        "chrX\t0\t10\tA\n"  # a contig the genome lacks: left out
        "chr2\t60\t70\tB\n",  # [45, 65) on 2: 15..19
    )
    out = tmp_path / "g.ds"
    result = seqcnn(capsys, "encode", "--bed", windows_bed, "--genome", genome, "--length", 20,
                    "--sites", sites, "-o", out, "--threads", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 sites on contigs the genome lacks left out" in result.stderr
    assert "9 bases off a contig's end masked (255)" in result.stderr
    ds = load_dataset(out)
    assert ds.ids == ["chr1:0-16", "chr1:95-115", "chr1:985-1000", "chr2:45-65"]
    assert (ds.task, ds.label_names, ds.labels.dtype) == ("segmentation", ["A", "B"], np.uint8)
    edge, end = range(4), range(15, 20)
    assert ds.labels.tolist() == [
        [row(20, [4, 5], edge), row(20, [], edge)],
        [row(20, [5, 6, 7, 8]), row(20, range(15, 20))],
        [row(20, [], end), row(20, [13, 14], end)],
        [row(20), row(20, range(15, 20))],
    ]
    info = ds.header["per_position"]
    assert (info["sites"], info["off_genome"], info["masked_bases"]) == (6, 1, 9)


def test_bed_sites_without_a_label_column_make_one_track(tmp_path, genome, windows_bed):
    narrowpeak = "chr1\t100\t104\tpeak1\t0\t.\t1\t2\t3\t1\nchr2\t50\t51\tpeak2\t0\t.\t1\t2\t3\t0\n"
    sites = write(tmp_path / "peaks.narrowPeak", narrowpeak)
    ds = encode_intervals(windows_bed, genome, tmp_path / "n.ds", length=20, sites=sites)
    assert ds.label_names == ["site"]
    assert ds.labels[1, 0].tolist() == row(20, [5, 6, 7, 8])
    assert ds.labels[3, 0].tolist() == row(20, [5])
    ds = encode_intervals(windows_bed, genome, tmp_path / "t.ds", length=20, sites=sites,
                          tracks=["site", "other"])  # fmt: skip
    assert ds.label_names == ["site", "other"] and not (ds.labels[:, 1] == 1).any()


def write_bigwig(path: Path, sizes: dict, entries) -> Path:
    writer = pybigtools.open(str(path), "w")
    writer.write(sizes, entries)
    return path


def test_signal_from_bigwig_by_hand(tmp_path, capsys, caplog, genome, windows_bed):
    plus = write_bigwig(tmp_path / "plus.bw", {"chr1": 1000},
                        [("chr1", 100, 105, 2.0), ("chr1", 105, 110, float("nan")),
                         ("chr1", 990, 1000, 1.5)])  # fmt: skip
    other = write_bigwig(tmp_path / "x.bigWig", {"1": 1000, "2": 300},
                         [("1", 0, 3, 4.0), ("2", 64, 65, 7.0)])  # fmt: skip
    out = tmp_path / "p.ds"
    result = seqcnn(capsys, "encode", "--bed", windows_bed, "--genome", genome, "--length", 20,
                    "--signal", plus, "--signal", f"ctl={other}", "-o", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "plus.bw has no data on 2: track 'plus' is 0 there" in caplog.text
    ds = load_dataset(out)
    assert (ds.task, ds.head_kind, ds.label_names) == ("profile", "position", ["plus", "ctl"])
    assert isinstance(ds.labels, np.memmap) and ds.labels.dtype == np.float32
    expected = np.zeros((4, 2, 20), dtype=np.float32)
    expected[1, 0, 5:10] = 2.0  # [95, 115); NaN (10..14) and uncovered bases are 0
    expected[2, 0, 5:15] = 1.5  # [985, 1005); off the contig (15..19) 0
    expected[0, 1, 4:7] = 4.0  # [-4, 16): bases 0..2 of the contig
    expected[3, 1, 19] = 7.0  # [45, 65) on 2
    np.testing.assert_array_equal(ds.labels, expected)
    assert ds.header["per_position"]["contigs_without_data"] == {"plus": ["2"]}


def test_signal_errors(tmp_path, capsys, genome, windows_bed):
    negative = write_bigwig(tmp_path / "neg.bw", {"chr1": 1000}, [("chr1", 100, 101, -1.0)])
    base = ("encode", "--bed", windows_bed, "--genome", genome, "--length", 20)
    out = tmp_path / "p.ds"
    result = seqcnn(capsys, *base, "--signal", negative, "-o", out)
    assert_one_line_error(result, "neg.bw", "value -1.0 at chr1:100 is not a count >= 0")
    not_bigwig = write(tmp_path / "text.bw", "hello\n")
    assert_one_line_error(seqcnn(capsys, *base, "--signal", not_bigwig, "-o", out),
                          "text.bw", "cannot read as bigWig")  # fmt: skip
    assert_one_line_error(seqcnn(capsys, *base, "--signal", tmp_path / "no.bw", "-o", out),
                          "no.bw: no such file")  # fmt: skip
    assert_one_line_error(seqcnn(capsys, *base, "--signal", negative, "--task", "binary", "-o",
                                 out), "--signal makes a profile task", code=2)  # fmt: skip
    assert_one_line_error(seqcnn(capsys, *base, "--signal", negative, "--tracks", "a", "-o", out),
                          "--tracks goes with --sites", code=2)  # fmt: skip
    assert not out.exists()
    with pytest.raises(UsageError, match="different names"):
        parse_signals(["a/x.bw", "b/x.bigWig"])
    assert parse_signals({"a": "x.bw"}) == {"a": "x.bw"}

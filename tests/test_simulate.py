"""Tests for seqcnn.simulate: planted-motif data sets after Koo & Eddy (2019)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio import SeqIO
from memelite.io import read_meme

from seqcnn.errors import DataError, UsageError
from seqcnn.simulate import (
    SimulatedData,
    planted_motifs_path,
    read_planted_motifs,
    simulate,
    write_simulation,
)

KOO_EDDY_IDS = {
    "MA0151.1": "Arid3a",
    "MA0466.2": "CEBPB",
    "MA0477.1": "FOSL1",
    "MA0062.2": "Gabpa",
    "MA0496.1": "MAFK",
    "MA0058.3": "MAX",
    "MA0052.3": "MEF2A",
    "MA0502.1": "NFYB",
    "MA0079.3": "SP1",
    "MA0083.3": "SRF",
    "MA0137.3": "STAT1",
    "MA0095.2": "YY1",
}
COMPLEMENT = str.maketrans("ACGT", "TGCA")

TWO_MOTIFS = """MEME version 4

ALPHABET= ACGT

MOTIF first GATA1
letter-probability matrix: alength= 4 w= 4 nsites= 10 E= 0
0.0 0.0 1.0 0.0
1.0 0.0 0.0 0.0
0.0 0.0 0.0 1.0
1.0 0.0 0.0 0.0

MOTIF second
letter-probability matrix: alength= 4 w= 3 nsites= 10 E= 0
0.0 1.0 0.0 0.0
0.0 1.0 0.0 0.0
0.5 0.0 0.0 0.5
"""


@pytest.fixture(scope="module")
def big() -> tuple[SimulatedData, None]:
    return simulate(n_sequences=30000, length=200, seed=0), None


def one_hot(seqs: list[str]) -> np.ndarray:
    codes = np.frombuffer("".join(seqs).encode(), dtype=np.uint8)
    lookup = np.full(256, 255, dtype=np.uint8)
    lookup[list(b"ACGT")] = [0, 1, 2, 3]
    return np.eye(4)[lookup[codes]].reshape(len(seqs), -1, 4)


def test_bundled_meme_file_reads_with_memelite():
    path = planted_motifs_path()
    assert path.is_file()
    motifs = read_meme(str(path))
    assert set(motifs) == {f"{i} {name}" for i, name in KOO_EDDY_IDS.items()}
    for pwm in motifs.values():
        assert pwm.shape[0] == 4
        np.testing.assert_allclose(pwm.sum(axis=0), 1, atol=1e-5)
    ours = read_planted_motifs()
    assert list(ours) == [f"{i}_{name}" for i, name in KOO_EDDY_IDS.items()]
    np.testing.assert_allclose(ours["MA0095.2_YY1"], motifs["MA0095.2 YY1"].T, atol=1e-6)


def test_shape_and_fields(big):
    data, _ = big
    assert len(data.ids) == len(data.sequences) == 30000
    assert data.ids[0] == "seq00001" and data.ids[-1] == "seq30000"
    assert len(set(data.ids)) == 30000
    assert {len(s) for s in data.sequences} == {200}
    assert set("".join(data.sequences[:100])) == set("ACGT")
    assert data.labels.shape == (30000, 12) and data.labels.dtype == np.uint8
    assert data.motif_names == [f"{i}_{name}" for i, name in KOO_EDDY_IDS.items()]
    assert list(data.motifs) == data.motif_names
    assert list(data.instances.columns) == ["id", "motif", "start", "end", "strand"]
    assert "n_sequences=30000" in repr(data)


def test_labels_match_planted_instances(big):
    data, _ = big
    inst = data.instances
    row = pd.Index(data.ids).get_indexer(inst["id"])
    col = pd.Index(data.motif_names).get_indexer(inst["motif"])
    assert (row >= 0).all() and (col >= 0).all()
    expected = np.zeros_like(data.labels)
    expected[row, col] = 1
    np.testing.assert_array_equal(data.labels, expected)
    assert data.labels.sum(axis=1).min() >= 1


def test_instances_are_placed_without_overlap(big):
    data, _ = big
    inst = data.instances
    widths = {name: len(pfm) for name, pfm in data.motifs.items()}
    assert ((inst["end"] - inst["start"]) == inst["motif"].map(widths)).all()
    assert inst["start"].min() == 0 and inst["end"].max() == 200
    same_seq = inst["id"].to_numpy()[1:] == inst["id"].to_numpy()[:-1]
    gap = inst["start"].to_numpy()[1:] - inst["end"].to_numpy()[:-1]
    assert (gap[same_seq] >= 0).all()
    # Positions are uniform: a lone instance's start is uniform over [0, 200 - width].
    lone = inst[~inst["id"].duplicated(keep=False)]
    rel = lone["start"] / (200 - lone["end"] + lone["start"])
    assert abs(rel.mean() - 0.5) < 0.01
    assert abs((rel < 0.25).mean() - 0.25) < 0.015


def test_instances_are_samples_of_their_motif_on_their_strand(big):
    data, _ = big
    inst = data.instances.iloc[:20000]
    seq_of = dict(zip(data.ids, data.sequences, strict=True))
    for name, pfm in data.motifs.items():
        rows = inst[inst["motif"] == name]
        words = []
        columns = (rows["id"], rows["start"], rows["end"], rows["strand"])
        for rid, start, end, strand in zip(*columns, strict=True):
            word = seq_of[rid][start:end]
            words.append(word if strand == "+" else word.translate(COMPLEMENT)[::-1])
        x = one_hot(words)
        # Every planted base has non-zero probability under the matrix...
        assert (np.einsum("nwb,wb->nw", x, pfm) > 0).all(), name
        # ...and the base frequencies match it.
        np.testing.assert_allclose(x.mean(axis=0), pfm, atol=0.06, err_msg=name)


def test_count_distribution_motif_choice_and_strands(big):
    data, _ = big
    inst = data.instances
    counts = inst.groupby("id").size().reindex(data.ids, fill_value=0)
    freq = np.bincount(counts, minlength=6)[1:6] / len(data.ids)
    np.testing.assert_allclose(freq, [0.50, 0.25, 0.17, 0.05, 0.03], atol=0.015)
    share = inst["motif"].value_counts(normalize=True)
    assert len(share) == 12
    np.testing.assert_allclose(share.to_numpy(), 1 / 12, atol=0.01)
    assert set(inst["strand"]) == {"+", "-"}
    assert abs((inst["strand"] == "-").mean() - 0.5) < 0.02


def test_background_is_uniform(big):
    data, _ = big
    text = "".join(data.sequences[:2000])
    freq = np.array([text.count(b) for b in "ACGT"]) / len(text)
    np.testing.assert_allclose(freq, 0.25, atol=0.01)


def test_deterministic_for_a_seed():
    a = simulate(n_sequences=300, seed=7)
    b = simulate(n_sequences=300, seed=7)
    c = simulate(n_sequences=300, seed=8)
    assert a.sequences == b.sequences
    np.testing.assert_array_equal(a.labels, b.labels)
    pd.testing.assert_frame_equal(a.instances, b.instances)
    assert a.sequences != c.sequences


def test_select_motifs_by_id_or_name():
    data = simulate(n_sequences=200, motifs=["yy1", "MA0151.1", "ma0058", "MA0083.3_SRF"], seed=1)
    assert data.motif_names == ["MA0095.2_YY1", "MA0151.1_Arid3a", "MA0058.3_MAX", "MA0083.3_SRF"]
    assert data.labels.shape == (200, 4)
    assert set(data.instances["motif"]) == set(data.motif_names)
    meme = data.meme
    assert meme.count("MOTIF ") == 4 and "MOTIF MA0095.2 YY1" in meme
    one = simulate(n_sequences=50, motifs="SRF", seed=1)
    assert one.motif_names == ["MA0083.3_SRF"] and one.labels.all()


def test_custom_motif_file(tmp_path):
    path = tmp_path / "two.meme"
    path.write_text(TWO_MOTIFS)
    data = simulate(n_sequences=500, length=30, motif_file=path, seed=0)
    assert data.motif_names == ["first_GATA1", "second"]
    for rid, _, start, end, strand in data.instances.itertuples(index=False):
        word = data.sequences[int(rid[3:]) - 1][start:end]
        if strand == "-":
            word = word.translate(COMPLEMENT)[::-1]
        assert word in {"GATA", "CCA", "CCT"}
    assert simulate(n_sequences=5, length=30, motif_file=path, motifs="gata1").motif_names == [
        "first_GATA1"
    ]


def test_write_simulation(tmp_path):
    data = simulate(n_sequences=100, seed=2)
    out = tmp_path / "new" / "dir"
    paths = write_simulation(data, out, prefix="toy")
    assert set(paths) == {"fasta", "labels", "instances", "motifs"}
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["toy.fa", "toy_labels.tsv", "toy_instances.tsv", "toy_motifs.meme"]
    )
    records = list(SeqIO.parse(paths["fasta"], "fasta"))
    assert [r.id for r in records] == data.ids
    assert [str(r.seq) for r in records] == data.sequences
    labels = pd.read_csv(paths["labels"], sep="\t")
    assert list(labels.columns) == ["id", *data.motif_names]
    np.testing.assert_array_equal(labels[data.motif_names].to_numpy(), data.labels)
    inst = pd.read_csv(paths["instances"], sep="\t")
    pd.testing.assert_frame_equal(inst, data.instances, check_dtype=False)
    assert len(read_meme(str(paths["motifs"]))) == 12
    # Rewriting replaces the files and leaves nothing else behind.
    write_simulation(simulate(n_sequences=10, motifs=["SP1"], seed=3), out, prefix="toy")
    assert len(list(out.iterdir())) == 4
    assert list(read_meme(str(paths["motifs"]))) == ["MA0079.3 SP1"]
    assert len(list(SeqIO.parse(paths["fasta"], "fasta"))) == 10


def test_write_without_meme_text(tmp_path):
    data = simulate(n_sequences=10, motifs=["MAX"], seed=0)
    data.meme = ""
    paths = write_simulation(data, tmp_path)
    assert paths["fasta"].name == "planted.fa"
    pwm = read_meme(str(paths["motifs"]))["MA0058.3_MAX"]
    np.testing.assert_allclose(pwm.T, data.motifs["MA0058.3_MAX"], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"motifs": ["NOTAMOTIF"]}, "unknown motif 'NOTAMOTIF'.*MA0151.1_Arid3a"),
        ({"motifs": []}, "motifs is empty"),
        ({"motifs": [3]}, "must be strings"),
        ({"length": 79}, "length must be at least 80"),
        ({"count_probs": (0.5, 0.4)}, "summing to 1"),
        ({"count_probs": (1.5, -0.5)}, "summing to 1"),
        ({"count_probs": ()}, "non-empty"),
        ({"count_probs": (float("nan"), 1.0)}, "non-empty"),
        ({"n_sequences": 0}, "n_sequences must be a positive integer"),
        ({"n_sequences": 2.5}, "n_sequences must be a positive integer"),
    ],
)
def test_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        simulate(**{"n_sequences": 10, **kwargs})


def test_length_limit_is_exact():
    # 5 copies of SRF (16 bp) fill 80 bp exactly.
    data = simulate(n_sequences=2000, length=80, seed=0)
    assert data.instances["end"].max() == 80
    with pytest.raises(UsageError, match="at least 32"):
        simulate(n_sequences=10, length=31, motifs=["SRF"], count_probs=(0.5, 0.5))


def test_ambiguous_motif_name(tmp_path):
    path = tmp_path / "dup.meme"
    path.write_text(TWO_MOTIFS.replace("MOTIF second", "MOTIF second GATA1"))
    with pytest.raises(UsageError, match="matches several motifs"):
        simulate(n_sequences=5, length=30, motif_file=path, motifs=["GATA1"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("hello\n", "no 'MOTIF' line"),
        (TWO_MOTIFS.replace("0.5 0.0 0.0 0.5", "0.5 0.0 0.0 0.9"), "summing to 1"),
        (TWO_MOTIFS.replace("w= 3", "w= 5"), "expected w= 5"),
        (TWO_MOTIFS.replace("alength= 4 w= 3", "alength= 20 w= 3"), "alength= 20"),
        (TWO_MOTIFS.replace("ALPHABET= ACGT", "ALPHABET= ACGU"), "ACGU is not DNA"),
        (TWO_MOTIFS + TWO_MOTIFS[TWO_MOTIFS.index("MOTIF second") :], "appears twice"),
    ],
)
def test_bad_motif_file(tmp_path, text, message):
    path = tmp_path / "bad.meme"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        simulate(n_sequences=5, length=30, motif_file=path)


def test_missing_motif_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        simulate(n_sequences=5, motif_file=tmp_path / "absent.meme")


def test_bad_prefix(tmp_path):
    with pytest.raises(UsageError, match="prefix"):
        write_simulation(simulate(n_sequences=5), tmp_path, prefix="a/b")


def test_bundled_demo_data_is_reproduced_by_simulate(tmp_path):
    """data/ holds what `seqcnn simulate -o data -n 30000 --seed 0` writes (gzipped)."""
    import gzip

    from seqcnn.simulate import simulate, write_simulation

    data = Path(__file__).resolve().parent.parent / "data"
    paths = write_simulation(simulate(n_sequences=30000, seed=0), tmp_path)
    for key in ("fasta", "labels", "instances"):
        bundled = gzip.decompress((data / (paths[key].name + ".gz")).read_bytes())
        assert bundled == paths[key].read_bytes(), key
    assert (data / "planted_motifs.meme").read_bytes() == paths["motifs"].read_bytes()

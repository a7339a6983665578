"""Per-position labels of the planted-motif data: instance masks, read-count profiles and
``seqcnn simulate --per-position`` read back by ``seqcnn encode``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import run_seqcnn

from seqcnn.dataset import load_dataset
from seqcnn.simulate import simulate
from seqcnn.simulate_position import instance_masks, simulate_profiles, write_per_position

# Deterministic motifs: every instance of "first" is GATA; "second" is CC then A or T
# (each 0.5: both the best base, affinity 1); "third" is A (0.8, best) or C (0.2).
MOTIFS = """MEME version 4

ALPHABET= ACGT

MOTIF first
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

MOTIF third
letter-probability matrix: alength= 4 w= 2 nsites= 10 E= 0
0.8 0.2 0.0 0.0
0.8 0.2 0.0 0.0
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("motifs") / "m.meme"
    path.write_text(MOTIFS)
    return simulate(n_sequences=400, length=120, motif_file=path, seed=4)


def test_instance_masks_agree_with_the_instances(data):
    masks = instance_masks(data)
    assert masks.shape == (400, 3, 120) and masks.dtype == np.uint8
    expected = np.zeros_like(masks)
    for item in data.instances.itertuples():
        expected[data.ids.index(item.id), data.motif_names.index(item.motif),
                 item.start : item.end] = 1  # fmt: skip
    np.testing.assert_array_equal(masks, expected)
    # and the sequence-level labels are "some base of the track is 1"
    np.testing.assert_array_equal(masks.any(axis=2), data.labels.astype(bool))


def test_profiles_follow_the_footprint(data):
    profiles = simulate_profiles(data, strength=50.0, background=0.0, offset=10, sigma=3,
                                 seed=1)  # fmt: skip
    assert profiles.names == data.motif_names
    assert profiles.rates.shape == (400, 3, 120) and profiles.rates.dtype == np.float32
    # affinities by hand: GATA and CC[AT] are their motifs' best; "third" AA 1, AC/CA 1/2,
    # CC 1/4 (the geometric mean of 1 and 1/4 is 1/2; of 1/4 and 1/4 it is 1/4)
    table = data.instances
    assert np.allclose(profiles.affinity[table["motif"].to_numpy() != "third"], 1.0)
    third = np.flatnonzero(table["motif"].to_numpy() == "third")
    for k in third:
        item = table.iloc[k]
        bases = data.sequences[data.ids.index(item.id)][item.start : item.end]
        if item.strand == "-":
            bases = bases[::-1].translate(str.maketrans("ACGT", "TGCA"))
        expected = np.sqrt(np.prod([1.0 if b == "A" else 0.25 for b in bases]))
        assert profiles.affinity[k] == pytest.approx(expected)
    # an instance of "second" (3 bases: its centre is a base) alone in its sequence, away
    # from the ends: peaks at centre - 10 and centre + 10, symmetric, total ~ strength
    counts = table["id"].value_counts()
    alone = table[(table["motif"] == "second") & table["id"].map(counts).eq(1)
                  & (table["start"] > 35) & (table["end"] < 85)]  # fmt: skip
    assert len(alone)
    item = alone.iloc[0]
    track = profiles.rates[data.ids.index(item.id), 1].astype(np.float64)
    centre = item.start + 1
    assert np.argmax(track[:centre]) == centre - 10
    assert np.argmax(track[centre:]) == 10
    np.testing.assert_allclose(track[centre - 30 : centre][::-1], track[centre + 1 : centre + 31])
    assert track.sum() == pytest.approx(50.0, rel=1e-3)
    others = np.delete(profiles.rates[data.ids.index(item.id)], 1, axis=0)
    assert not others.any()


def test_counts_are_poisson_draws_of_the_rates(data):
    profiles = simulate_profiles(data, seed=2)
    assert profiles.counts.dtype == np.uint16
    assert (profiles.rates >= 0.01 - 1e-6).all()  # the background is everywhere
    ratio = profiles.counts.sum() / profiles.rates.sum()
    assert 0.97 < ratio < 1.03
    again = simulate_profiles(data, seed=2)
    np.testing.assert_array_equal(again.counts, profiles.counts)


def test_write_per_position_files(tmp_path, data):
    paths = write_per_position(data, tmp_path, "sim", profiles=simulate_profiles(data))
    sites = pd.read_csv(paths["sites"], sep="\t")
    assert list(sites.columns) == ["id", "start", "end", "label"]
    assert list(dict.fromkeys(sites["label"])) == data.motif_names  # grouped in motif order
    with np.load(paths["counts"]) as archive:
        assert archive["labels"].shape == (400, 3, 120)
        assert archive["names"].tolist() == data.motif_names


def test_simulate_per_position_then_encode(tmp_path):
    out = tmp_path / "demo"
    first = run_seqcnn("simulate", "-o", out, "-n", 60, "--length", 100, "--motifs",
                       "YY1,SP1,SRF", "--per-position", "--seed", 3)  # fmt: skip
    assert first.returncode == 0, first.stderr
    seg = run_seqcnn("encode", out / "planted.fa", "--sites", out / "planted_sites.tsv",
                     "-o", tmp_path / "seg.ds")  # fmt: skip
    assert seg.returncode == 0, seg.stderr
    prof = run_seqcnn("encode", out / "planted.fa", "--labels-npy", out / "planted_counts.npz",
                      "--task", "profile", "-o", tmp_path / "prof.ds")  # fmt: skip
    assert prof.returncode == 0, prof.stderr
    data = simulate(n_sequences=60, length=100, motifs=["YY1", "SP1", "SRF"], seed=3)
    seg_ds, prof_ds = load_dataset(tmp_path / "seg.ds"), load_dataset(tmp_path / "prof.ds")
    assert seg_ds.label_names == prof_ds.label_names == data.motif_names
    np.testing.assert_array_equal(seg_ds.labels, instance_masks(data))
    np.testing.assert_array_equal(prof_ds.labels, simulate_profiles(data, seed=3).counts)
    with np.load(out / "planted_rates.npz") as archive:
        np.testing.assert_array_equal(archive["labels"], simulate_profiles(data, seed=3).rates)
    again = run_seqcnn("simulate", "-o", out, "-n", 60, "--per-position")
    assert again.returncode != 0 and "--force" in again.stderr

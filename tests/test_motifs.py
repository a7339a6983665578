"""Filters -> PWMs -> MEME files -> JASPAR matches, and filter influence."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch
from helpers_models import ToyBundle, ToySeqCNN, log_odds_weight

from seqcnn.errors import DataError, ModelError, UsageError
from seqcnn.motifs import (
    MATCH_COLUMNS,
    MATCH_DTYPES,
    FilterMotif,
    background_frequencies,
    consensus,
    filter_influence,
    filter_pwms,
    information_content,
    jaspar_motifs,
    match_motifs,
    no_matches,
    read_meme,
    read_meme_file,
    trim_pwm,
    write_meme,
    write_pfm_tsv,
)

CONSENSUS = "TGACGCTAGCAT"
N_SEQS, LENGTH, N_PLANTED = 200, 60, 120


def sharp_pwm(consensus: str, p: float = 0.97) -> np.ndarray:
    pwm = np.full((len(consensus), 4), (1 - p) / 3)
    pwm[np.arange(len(consensus)), ["ACGT".index(b) for b in consensus]] = p
    return pwm


PWM = sharp_pwm(CONSENSUS)


def one_hot(codes: np.ndarray) -> np.ndarray:
    """(N, L) codes 0-3 (4 = N) -> float32 (N, 4, L)."""
    x = (codes[:, None, :] == np.arange(4)[None, :, None]).astype(np.float32)
    return x


@pytest.fixture(scope="module")
def planted():
    """Random sequences; the first N_PLANTED hold one site drawn from PWM with at most one
    mismatch, so each site scores far above 0.5 x max and random windows far below."""
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 4, size=(N_SEQS, LENGTH))
    consensus_codes = np.array(["ACGT".index(b) for b in CONSENSUS])
    sites, starts = [], rng.integers(0, LENGTH - len(CONSENSUS) + 1, size=N_PLANTED)
    while len(sites) < N_PLANTED:
        site = np.array([rng.choice(4, p=col) for col in PWM])
        if (site != consensus_codes).sum() <= 1:
            sites.append(site)
    sites = np.array(sites)
    for n, (site, start) in enumerate(zip(sites, starts, strict=True)):
        codes[n, start : start + len(site)] = site
    n_mismatches = (sites != consensus_codes).sum(axis=1)
    return {"codes": codes, "x": one_hot(codes), "sites": sites, "starts": starts,
            "mismatches": n_mismatches}  # fmt: skip


def motif_model(**options) -> ToySeqCNN:
    """Filter 0 scores PWM's log-odds; filter 1 never fires (all weights negative)."""
    w = len(CONSENSUS)
    weight = np.stack([log_odds_weight(PWM), -np.ones((4, w))])
    return ToySeqCNN(weight, bias=[0.0, -1.0], **options)


def site_counts(sites: np.ndarray) -> np.ndarray:
    return np.stack([(sites == b).sum(axis=0) for b in range(4)], axis=1).astype(float)


# ------------------------------------------------------------------------ filter_pwms


def test_threshold_mode_recovers_the_planted_sites(planted):
    motifs = filter_pwms(motif_model(), planted["x"], threshold=0.5, pseudocount=0.1)
    assert [m.name for m in motifs] == ["filter_0", "filter_1"]
    m = motifs[0]
    assert m.n_sites == N_PLANTED
    np.testing.assert_allclose(m.counts, site_counts(planted["sites"]))
    np.testing.assert_allclose(m.pwm, PWM, atol=0.05)
    np.testing.assert_allclose(m.pwm.sum(axis=1), 1.0)
    assert m.counts.shape == m.pwm.shape == (len(CONSENSUS), 4)
    assert m.consensus == CONSENSUS
    assert m.max_activation == pytest.approx(log_odds_weight(PWM).max(axis=0).sum(), rel=1e-5)
    assert m.exported and m.total_ic == pytest.approx(m.ic.sum()) and m.total_ic > 18


def test_dead_filter_has_no_sites_and_a_uniform_pwm(planted):
    dead = filter_pwms(motif_model(), planted["x"])[1]
    assert dead.n_sites == 0 and not dead.exported
    np.testing.assert_allclose(dead.pwm, 0.25)
    assert dead.consensus == "n" * len(CONSENSUS)


def test_min_sites_sets_the_exported_flag(planted):
    assert filter_pwms(motif_model(), planted["x"], min_sites=N_PLANTED)[0].exported
    assert not filter_pwms(motif_model(), planted["x"], min_sites=N_PLANTED + 1)[0].exported


def test_top_k_mode_takes_the_best_windows(planted):
    model = motif_model()
    all_sites = filter_pwms(model, planted["x"], top_k=N_PLANTED)[0]
    np.testing.assert_allclose(all_sites.counts, site_counts(planted["sites"]))
    # The 10 best windows are perfect consensus sites (69 % of the sites are), whichever
    # of the tied ones is taken.
    assert (planted["mismatches"] == 0).sum() >= 10
    best = filter_pwms(model, planted["x"], top_k=10, batch_size=7)[0]
    assert best.n_sites == 10
    np.testing.assert_allclose(best.counts, 10 * sharp_pwm(CONSENSUS, 1.0))
    # Only positive activations count: the dead filter still has none.
    assert filter_pwms(model, planted["x"], top_k=10)[1].n_sites == 0


def test_lower_threshold_takes_more_windows(planted):
    strict = filter_pwms(motif_model(), planted["x"], threshold=0.9)[0]
    assert strict.n_sites == (planted["mismatches"] == 0).sum()
    loose = filter_pwms(motif_model(), planted["x"], threshold=0.1)[0]
    assert loose.n_sites > N_PLANTED


def test_batches_inputs_and_bundles_give_the_same_motifs(planted):
    model = motif_model()
    reference = filter_pwms(model, planted["x"])
    for other in (
        filter_pwms(model, planted["x"], batch_size=9),
        filter_pwms(ToyBundle(model), torch.from_numpy(planted["x"])),
    ):
        for a, b in zip(reference, other, strict=True):
            assert a.n_sites == b.n_sites
            np.testing.assert_allclose(a.counts, b.counts)
    top = filter_pwms(model, torch.from_numpy(planted["x"]), top_k=15, batch_size=11)[0]
    np.testing.assert_allclose(top.counts, 15 * sharp_pwm(CONSENSUS, 1.0))


def test_windows_with_n_add_less(planted):
    codes = planted["codes"].copy()
    hit = np.arange(10)  # one N inside each of the first 10 sites, at site position 3
    codes[hit, planted["starts"][hit] + 3] = 4
    m = filter_pwms(motif_model(), one_hot(codes))[0]
    assert m.n_sites == N_PLANTED
    expected = np.full(len(CONSENSUS), float(N_PLANTED))
    expected[3] -= 10
    np.testing.assert_allclose(m.counts.sum(axis=1), expected)


def test_threshold_applies_after_batch_norm_in_eval_mode(planted):
    model = motif_model(batch_norm=True)
    with torch.no_grad():
        # eval-mode batch norm subtracts 14: max 23.5 -> 9.5, so 0.5 x max keeps only
        # windows scoring above 18.7 before the norm: the perfect sites, not those with
        # one mismatch (16.9).
        model.stem.norm.running_mean.fill_(14.0)
        model.stem.norm.running_var.fill_(1.0 - model.stem.norm.eps)
    model.train()
    m = filter_pwms(model, planted["x"])[0]
    assert m.n_sites == (planted["mismatches"] == 0).sum()
    assert model.training  # the mode is restored


def test_bad_inputs_raise_seqcnn_errors(planted):
    model = motif_model()
    with pytest.raises(DataError, match=r"\(N, 4, L\)"):
        filter_pwms(model, planted["x"][:, :3])
    with pytest.raises(DataError, match="shorter than the filters"):
        filter_pwms(model, planted["x"][:, :, :5])
    with pytest.raises(UsageError, match="threshold"):
        filter_pwms(model, planted["x"], threshold=1.5)
    padded = motif_model()
    padded.stem.conv.padding = (2,)
    with pytest.raises(ModelError, match="valid padding"):
        filter_pwms(padded, planted["x"])


# ------------------------------------------------------------- information, trimming


def test_information_content_of_uniform_and_one_hot_columns():
    pwm = np.array([[0.25] * 4, [1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    np.testing.assert_allclose(information_content(pwm), [0.0, 2.0, 1.0])
    # Relative to a background where A is half of all bases, a pure A column holds 1 bit.
    background = [0.5, 1 / 6, 1 / 6, 1 / 6]
    assert information_content(pwm[1:2], background)[0] == pytest.approx(1.0)
    # Counts are normalised first.
    np.testing.assert_allclose(information_content(pwm * 37), [0.0, 2.0, 1.0])
    with pytest.raises(UsageError):
        information_content(pwm.T[:, :3])


def test_trim_cuts_low_information_edges_only():
    flat = [0.25] * 4
    pwm = np.array([flat, flat, [0.9, 0.05, 0.03, 0.02], flat, [0, 0, 1.0, 0], flat])
    trimmed, offset = trim_pwm(pwm, min_ic=0.5)
    assert offset == 2
    np.testing.assert_array_equal(trimmed, pwm[2:5])
    empty, offset = trim_pwm(np.full((5, 4), 0.25))
    assert empty.shape == (0, 4) and offset == 0


def test_consensus_marks_weak_positions():
    pwm = np.array([[0.97, 0.01, 0.01, 0.01], [0.1, 0.55, 0.2, 0.15], [0.25] * 4])
    assert consensus(pwm) == "Acn"


def test_background_frequencies_ignore_n():
    x = one_hot(np.array([[0, 0, 1, 4, 3, 4]]))
    np.testing.assert_allclose(background_frequencies(x), [0.5, 0.25, 0.0, 0.25])
    np.testing.assert_allclose(background_frequencies(torch.from_numpy(x)), [0.5, 0.25, 0, 0.25])


# ------------------------------------------------------------------------ file formats


def test_meme_file_round_trips_through_memelite(planted, tmp_path):
    from memelite.io import read_meme as memelite_read

    motifs = filter_pwms(motif_model(), planted["x"])
    background = background_frequencies(planted["x"])
    path = write_meme(motifs, tmp_path / "filters.meme", background=background)
    text = path.read_text()
    for line in ("MEME version 4", "ALPHABET= ACGT", "strands: + -"):
        assert line + "\n" in text
    assert "Background letter frequencies\nA " in text
    assert f"letter-probability matrix: alength= 4 w= 12 nsites= {N_PLANTED} E= 0" in text
    values = text.split("Background letter frequencies\n")[1].splitlines()[0].split()[1::2]
    np.testing.assert_allclose(np.array(values, dtype=float), background, atol=1e-6)

    loaded = memelite_read(str(path))
    # Only the exported filter is written; its consensus is the alternate name.
    assert list(loaded) == [f"filter_0 {CONSENSUS}"]
    assert loaded[f"filter_0 {CONSENSUS}"].shape == (4, 12)
    np.testing.assert_allclose(loaded[f"filter_0 {CONSENSUS}"], motifs[0].pwm.T, atol=1e-6)
    ours = read_meme(path)
    np.testing.assert_allclose(ours[f"filter_0 {CONSENSUS}"], motifs[0].pwm, atol=1e-6)
    assert os.listdir(tmp_path) == ["filters.meme"]  # no temporary file left behind


def test_meme_file_of_a_dict_keeps_id_and_name(tmp_path):
    motifs = {"MA0000.1 TOY": PWM, "other": np.full((3, 4), 0.25)}
    loaded = read_meme(write_meme(motifs, tmp_path / "db.meme"))
    assert list(loaded) == list(motifs)
    for name in motifs:
        np.testing.assert_allclose(loaded[name], motifs[name], atol=1e-6)
    with pytest.raises(DataError):
        read_meme(tmp_path / "missing.meme")


def test_meme_file_keeps_header_blocks_and_numbers_as_written(tmp_path):
    text = (
        "MEME version 4\n\nALPHABET= ACGT\n\n"
        "MOTIF MA1.1 ONE\nletter-probability matrix: alength= 4 w= 2 nsites= 5 E= 0\n"
        "0.5 0.5 0 0\n\n2 0 0 0\nURL http://x\n\n"
        "MOTIF two\nletter-probability matrix: alength= 4\n0.1 0.2 0.3 0.4"
    )
    path = tmp_path / "m.meme"
    path.write_text(text)
    meme = read_meme_file(path)
    assert meme.alphabet == "ACGT" and meme.header == "MEME version 4\n\nALPHABET= ACGT\n\n"
    one, two = meme.motifs
    assert (one.name, one.id, one.alt, two.name, two.alt) == (
        "MA1.1 ONE",
        "MA1.1",
        "ONE",
        "two",
        None,
    )
    np.testing.assert_array_equal(one.pwm, [[0.5, 0.5, 0, 0], [2, 0, 0, 0]])  # not rescaled
    assert one.text.startswith("MOTIF MA1.1 ONE\n") and one.text.endswith("URL http://x\n\n")
    assert two.text.endswith("0.4\n")  # a newline added at the end of the file
    assert meme.text() == text + "\n" and meme.text([two]) == meme.header + two.text
    assert list(read_meme(path)) == ["MA1.1 ONE", "two"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no 'MOTIF' line"),
        ("MOTIF\n", "without a name"),
        ("MOTIF a\n0.1 0.2 0.3 0.4\n", "no 'letter-probability matrix' line"),
        ("MOTIF a\nletter-probability matrix: w= 2\n1 0 0 0\n", "has 1 rows, expected w= 2"),
        ("MOTIF a\nletter-probability matrix: w= 1\n1 0 x 0\n", "row 1 is not numbers"),
        ("MOTIF a\nletter-probability matrix: w= 1\n1 0 0\n", "4 probabilities"),
        ("MOTIF a\nletter-probability matrix: alength= 20 w= 1\n1\n", "alength= 20"),
        (
            "MOTIF a\nletter-probability matrix:\n1 0 0 0\nMOTIF a\n"
            "letter-probability matrix:\n1 0 0 0\n",
            "record 'a': motif name appears twice",
        ),
    ],
)
def test_bad_meme_files(tmp_path, text, message):
    path = tmp_path / "bad.meme"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_meme(path)


def test_pfm_and_tsv_files(planted, tmp_path):
    from Bio import motifs as bio_motifs

    motif = filter_pwms(motif_model(), planted["x"])[0]
    pfm_path, tsv_path = write_pfm_tsv(motif, tmp_path / "filter_0.pfm")
    assert (pfm_path.name, tsv_path.name) == ("filter_0.pfm", "filter_0.tsv")
    with open(pfm_path) as handle:
        record = bio_motifs.read(handle, "pfm")
    counts = np.array([record.counts[b] for b in "ACGT"]).T
    np.testing.assert_allclose(counts, motif.counts)
    table = pd.read_csv(tsv_path, sep="\t")
    assert list(table.columns) == ["A", "C", "G", "T"]
    np.testing.assert_allclose(table.to_numpy(), motif.pwm, atol=1e-6)


# ---------------------------------------------------------------------------- matching


@pytest.fixture(scope="module")
def jaspar():
    return jaspar_motifs()


def test_jaspar_motifs_are_latest_core_vertebrate_probabilities(jaspar):
    assert len(jaspar) > 500
    assert "MA0139.2 CTCF" in jaspar and "MA0139.1 CTCF" not in jaspar
    ctcf = jaspar["MA0139.2 CTCF"]
    assert ctcf.ndim == 2 and ctcf.shape[1] == 4 and len(ctcf) >= 10
    np.testing.assert_allclose(ctcf.sum(axis=1), 1.0)
    assert jaspar_motifs() is not jaspar and jaspar_motifs()["MA0139.2 CTCF"] is ctcf  # cached
    with pytest.raises(UsageError, match="JASPAR1999"):
        jaspar_motifs(release="JASPAR1999")


def test_a_jaspar_motif_finds_itself_on_both_strands(jaspar):
    ctcf = jaspar["MA0139.2 CTCF"]
    flanked = np.vstack([np.full((3, 4), 0.25), ctcf])  # trimmed before matching
    queries = {"forward": ctcf, "reverse": ctcf[::-1, ::-1], "core": ctcf[5:14], "flanked": flanked}
    table = match_motifs(queries, jaspar, n_matches=3)
    best = table[table["rank"] == 1].set_index("filter")
    assert list(best.index) == ["forward", "reverse", "core", "flanked"]
    assert (best["match_id"] == "MA0139.2").all()
    assert (best["match_name"] == "CTCF").all()
    assert (best["p_value"] < 1e-20).all() and (best["q_value"] < 1e-15).all()
    assert best["strand"].tolist() == ["+", "-", "+", "+"]
    # Offsets count from the first column of the untrimmed query.
    assert best["offset"].tolist() == [0, 0, 5, -3]
    assert best.loc["forward", "overlap"] == len(trim_pwm(ctcf, min_ic=0.1)[0])
    np.testing.assert_allclose(best["e_value"], best["p_value"] * len(jaspar))
    # Up to 3 ranks per query, sorted by p-value, all significant.
    assert table.groupby("filter")["rank"].max().max() <= 3
    assert (table.groupby("filter")["p_value"].is_monotonic_increasing).all()
    assert (table["q_value"] <= 0.05).all()


def test_filters_of_a_model_match_jaspar(jaspar):
    """End to end: a filter holding CTCF's log-odds, on sequences with CTCF sites."""
    ctcf = jaspar["MA0139.2 CTCF"]
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, size=(150, 50))
    for n in range(100):
        site = [rng.choice(4, p=col / col.sum()) for col in ctcf]
        codes[n, 10 : 10 + len(site)] = site
    pwm = (ctcf + 0.01) / 1.04
    model = ToySeqCNN(log_odds_weight(pwm)[None])
    motifs = filter_pwms(model, one_hot(codes))
    table = match_motifs(motifs, "jaspar")
    assert table.loc[table["rank"] == 1, "match_id"].tolist() == ["MA0139.2"]
    assert table.loc[0, "filter"] == "filter_0"


def test_uninformative_pwms_are_never_reported(jaspar):
    rng = np.random.default_rng(0)
    weak = rng.dirichlet(np.full(4, 50.0), size=12)  # about 0.02 bits per position
    assert information_content(weak).sum() < 1
    one_column = np.full((9, 4), 0.25)
    one_column[4] = [0.85, 0.05, 0.05, 0.05]  # 1.2 bits: survives trimming, below 2 bits
    queries = {
        "uniform": np.full((12, 4), 0.25),
        "weak": weak,
        "one_column": one_column,
        "ctcf": jaspar["MA0139.2 CTCF"],
    }
    for metric in ("pearson", "euclidean"):
        table = match_motifs(queries, jaspar, q_threshold=None, metric=metric)
        assert set(table["filter"]) == {"ctcf"}, metric


def test_pearson_columns_do_not_reward_flat_against_flat(jaspar):
    """Why the default metric is Pearson: with memelite's Euclidean distance a near-flat
    PWM aligns with the flat spacers of long targets and looks significant."""
    rng = np.random.default_rng(1)
    flat = np.full((10, 4), 0.25) + rng.normal(0, 0.01, size=(10, 4))
    flat /= flat.sum(axis=1, keepdims=True)
    unguarded = {"min_ic": 0.0, "min_total_ic": 0.0}
    euclidean = match_motifs({"flat": flat}, jaspar, metric="euclidean", **unguarded)
    assert len(euclidean) > 0 and euclidean["p_value"].min() < 1e-6
    pearson = match_motifs({"flat": flat}, jaspar, metric="pearson", **unguarded)
    assert len(pearson) == 0


def test_match_against_a_meme_file(jaspar, tmp_path):
    path = write_meme(jaspar, tmp_path / "jaspar.meme")
    table = match_motifs({"q": jaspar["MA0139.2 CTCF"]}, path, n_matches=1)
    assert table[["match_id", "match_name", "strand"]].values.tolist() == [
        ["MA0139.2", "CTCF", "+"]
    ]
    with pytest.raises(UsageError, match="metric"):
        match_motifs({"q": PWM}, jaspar, metric="cosine")


def test_no_queries_give_an_empty_table_with_the_columns(jaspar):
    dead = FilterMotif(0, "filter_0", np.zeros((5, 4)), 0, np.full((5, 4), 0.25), 0.0, False)
    table = match_motifs([dead], jaspar)
    assert len(table) == 0
    assert list(table.columns[:4]) == ["filter", "rank", "match_id", "match_name"]
    assert {"p_value", "q_value", "offset", "strand", "overlap"} <= set(table.columns)
    pd.testing.assert_frame_equal(table, no_matches())
    assert list(no_matches().columns) == MATCH_COLUMNS == list(MATCH_DTYPES)
    found = match_motifs({"q": jaspar["MA0139.2 CTCF"]}, jaspar)
    assert found.dtypes.to_dict() == no_matches().dtypes.to_dict()


def test_matching_leaves_torch_threads_as_they_were(jaspar, monkeypatch):
    """numba's OpenMP layer resets the thread count torch shares; match_motifs puts it back."""
    import memelite

    tomtom = memelite.tomtom

    def numba_like_tomtom(*args, **kwargs):
        torch.set_num_threads(1)  # what an OpenMP numba kernel does to torch
        return tomtom(*args, **kwargs)

    monkeypatch.setattr(memelite, "tomtom", numba_like_tomtom)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        table = match_motifs({"q": jaspar["MA0139.2 CTCF"]}, jaspar, n_matches=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert table["match_id"].tolist() == ["MA0139.2"]


# --------------------------------------------------------------------------- influence


def test_filter_influence_matches_the_analytic_value(planted):
    x = planted["x"][:80]
    w = len(CONSENSUS)
    rng = np.random.default_rng(5)
    weight = np.stack([log_odds_weight(PWM), rng.normal(size=(4, w))])
    head_weight, head_bias = np.array([[1.5, 0.0], [-0.7, 0.0]]), np.array([0.2, -0.1])
    model = ToySeqCNN(weight, head_weight=head_weight, head_bias=head_bias)

    # Filter 0's activations, computed independently of torch.
    windows = np.lib.stride_tricks.sliding_window_view(x, w, axis=2)  # (N, 4, P, w)
    act0 = np.maximum(np.einsum("ncpw,cw->np", windows, weight[0]), 0)
    mean0, max0 = act0.mean(), act0.max(axis=1)
    logits = head_bias + head_weight[:, 0] * max0[:, None]
    nullified = head_bias + head_weight[:, 0] * mean0

    influence = filter_influence(model, x)
    assert influence.shape == (2, 2)
    np.testing.assert_allclose(influence[0], (nullified - logits).mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(influence[1], 0.0, atol=1e-6)  # disconnected filter
    assert influence[0, 0] < 0 < influence[0, 1]

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    prob = filter_influence(ToyBundle(model), torch.from_numpy(x), torch.sigmoid, batch_size=7)
    expected = (sigmoid(nullified) - sigmoid(logits)).mean(axis=0)
    np.testing.assert_allclose(prob[0], expected, rtol=1e-4)
    np.testing.assert_allclose(prob[1], 0.0, atol=1e-6)

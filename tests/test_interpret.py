"""seqcnn interpret: a bundle whose filters are known motifs, run once, checked everywhere.

The model is a real ``cnn`` bundle whose first-layer filters are set by hand:

- filter_0 scores MEF2A (log-odds), planted in half the sequences: exported, matches MEF2A;
- filter_1 scores YY1, planted in only 5 sequences: reported, not exported (min_sites 10);
- filter_2 scores GABPA, planted in the other half, but nothing downstream reads it:
  exported and matched, influence exactly 0;
- filter_3 has only negative weights: it never fires, no sites.

Matching runs once per module (memelite's numba kernels are slow to compile the first
time), against the 12 bundled planted motifs, not all of JASPAR.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_one_line_error, run_seqcnn, write_fasta_file

from seqcnn.errors import DataError, UsageError
from seqcnn.interpret import interpret

MOTIF_FILE = Path(__file__).resolve().parents[1] / "seqcnn" / "data" / "planted_motifs.meme"
WIDTH, LENGTH, N_SEQS = 12, 100, 300
OUTPUTS = ["alpha", "beta"]
PLANTED = {0: "MA0052.3 MEF2A", 1: "MA0095.2 YY1", 2: "MA0062.2 Gabpa"}


def _motifs():
    from seqcnn.motifs import read_meme

    return read_meme(MOTIF_FILE)


def _log_odds(pwm: np.ndarray) -> np.ndarray:
    """(4, WIDTH) conv weights scoring a (w, 4) PWM; shorter motifs are padded with zeros."""
    p = (pwm + 0.01) / (1 + 0.04)
    weight = np.zeros((4, WIDTH))
    weight[:, : len(pwm)] = np.log2(p / 0.25).T
    return weight


def _sample(pwm: np.ndarray, rng) -> str:
    return "".join("ACGT"[rng.choice(4, p=col / col.sum())] for col in pwm)


def _records():
    """Random sequences with planted sites; two records are shorter/longer than the model."""
    motifs = _motifs()
    rng = np.random.default_rng(3)
    records = []
    for i in range(N_SEQS):
        seq = list("".join(rng.choice(list("ACGT"), size=LENGTH)))
        if i % 2 == 0:
            site, start = _sample(motifs[PLANTED[0]], rng), int(rng.integers(0, 38))
        elif i < 10:
            site, start = _sample(motifs[PLANTED[1]], rng), int(rng.integers(0, 38))
        else:
            site = None
        if site:
            seq[start : start + len(site)] = site
        if i % 2 == 1:
            site, start = _sample(motifs[PLANTED[2]], rng), int(rng.integers(50, 88))
            seq[start : start + len(site)] = site
        records.append((f"r{i}", "".join(seq)))
    # Padded and cropped (centred) to the model's 100 bp.
    records[-2] = (records[-2][0], records[-2][1][5:95])
    records[-1] = (records[-1][0], "ACGTA" + records[-1][1] + "TTGCA")
    return records


def _bundle(folder: Path) -> Path:
    from seqcnn.bundle import save_model
    from seqcnn.models import build_model

    motifs = _motifs()
    network = build_model(
        "cnn",
        LENGTH,
        len(OUTPUTS),
        first_filters=4,
        first_width=WIDTH,
        first_activation="relu",
        conv_filters=[4],
        conv_width=3,
        dense_units=8,
        batch_norm=False,
        conv_dropout=0.0,
        dropout=0.0,
    )
    stem = np.stack([_log_odds(motifs[PLANTED[f]]) for f in range(3)] + [-np.ones((4, WIDTH))])
    with torch.no_grad():
        network.stem.conv.weight.copy_(torch.as_tensor(stem, dtype=torch.float32))
        network.stem.conv.bias.fill_(0.0)
        conv = network.body.tower[1].conv
        conv.weight.zero_()
        conv.bias.zero_()
        for c in (0, 1, 3):  # channel 2 (filter_2) is read by nothing
            conv.weight[c, c, 1] = 1.0
        dense = network.body.reduce[1]
        dense.weight.fill_(0.5)
        dense.bias.zero_()
        network.head.weight.copy_(torch.tensor([[0.3] * 8, [-0.3] * 8]))
        network.head.bias.copy_(torch.tensor([-2.0, 1.0]))
    folder.mkdir()
    config = {
        "alphabet": "ACGT",
        "input_length": LENGTH,
        "n_encoding": "zeros",
        "task": "multilabel",
        "output_names": OUTPUTS,
        "output_transform": "sigmoid",
        "receptive_field": WIDTH,
    }
    return save_model(network, config, folder)


def top_ids(model, sequences, target: str, n: int) -> list[str]:
    """The ids of the ``n`` sequences the model scores highest for ``target``: those whose
    attribution maps interpret draws."""
    from seqcnn.predict import predict

    scores = predict(model, sequences)[target]
    return [str(i) for i in scores.sort_values(ascending=False, kind="stable").index[:n]]


# The networks here are tiny: one thread does the work faster than two threads agree on
# it, by far so on a shared, oversubscribed test machine.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("interpret")
    fasta = write_fasta_file(root / "seqs.fa", _records())
    return {"root": root, "fasta": fasta, "model": _bundle(root / "model")}


@pytest.fixture(scope="module")
def result(setup):
    """One full run: matching against the planted motifs, ISM for 'beta', SVG logos too."""
    return interpret(
        setup["model"],
        setup["fasta"],
        setup["root"] / "out",
        motif_db=MOTIF_FILE,
        attribution="ism",
        target="beta",
        attribution_sequences=3,
        formats=("svg",),
        max_sequences=None,
    )


def test_outputs_have_the_documented_names(result, setup):
    out = result.path
    names = {p.relative_to(out).as_posix() for p in out.rglob("*")}
    expected = {"report.html", "filters.tsv", "matches.tsv", "filters.meme", "overview.png",
                "attribution.npz", "matrices", "logos", "attribution"}  # fmt: skip
    assert expected <= names
    for f in range(4):
        assert f"logos/filter_{f}.png" in names and f"logos/filter_{f}.svg" in names
    for f in (0, 2):
        assert f"matrices/filter_{f}.pfm" in names and f"matrices/filter_{f}.tsv" in names
    assert "matrices/filter_1.pfm" not in names and "matrices/filter_3.pfm" not in names
    top = top_ids(setup["model"], setup["fasta"], "beta", 3)
    assert {f"attribution/{i}.png" for i in top} <= names
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())
    assert result.report == out / "report.html"
    assert set(result.timings) >= {"read", "filters", "matching", "influence", "logos", "total"}


def test_meme_file_reads_back_with_memelite_and_holds_exported_filters(result):
    from memelite.io import read_meme

    motifs = read_meme(str(result.path / "filters.meme"))
    assert sorted(name.split()[0] for name in motifs) == ["filter_0", "filter_2"]
    text = (result.path / "filters.meme").read_text()
    assert "MEME version 4" in text
    frequencies = [float(v) for v in re.search(r"A (\S+) C (\S+) G (\S+) T (\S+)", text).groups()]
    assert frequencies == pytest.approx(result.background, abs=1e-5)


def test_recovered_motifs_match_the_planted_ones(result):
    table = result.table.set_index("filter")
    for f in (0, 2):
        match_id, name = PLANTED[f].split()
        row = table.loc[f"filter_{f}"]
        assert row["best_match_id"] == match_id and row["best_match_name"] == name
        assert row["q_value"] < 0.05 and row["exported"]
        assert row["n_sites"] >= 100
    # The file has the same rows as the returned table.
    written = pd.read_csv(result.path / "filters.tsv", sep="\t")
    assert list(written["filter"]) == [f"filter_{f}" for f in range(4)]
    assert written.loc[0, "best_match_id"] == PLANTED[0].split()[0]
    assert set(pd.read_csv(result.path / "matches.tsv", sep="\t")["filter"]) <= {
        "filter_0",
        "filter_2",
    }


def test_low_site_and_dead_filters_are_reported_not_exported(result):
    table = result.table.set_index("filter")
    assert 0 < table.loc["filter_1", "n_sites"] < 10
    assert not table.loc["filter_1", "exported"]
    assert table.loc["filter_3", "n_sites"] == 0 and not table.loc["filter_3", "exported"]
    assert pd.isna(table.loc["filter_1", "best_match_id"])


def test_influence_per_output_in_probability_units(result):
    influence = result.influence
    assert influence.shape == (4, 2) and result.output_names == OUTPUTS
    assert np.abs(influence[2]).max() < 1e-7  # disconnected
    assert np.abs(influence[3]).max() < 1e-7  # never fires
    # filter_0 raises alpha and lowers beta; differences of probabilities stay in [-1, 1].
    assert influence[0, 0] < -1e-3 and influence[0, 1] > 1e-3
    assert np.abs(influence).max() <= 1
    table = result.table.set_index("filter")
    assert table.loc["filter_0", "influence_alpha"] == pytest.approx(influence[0, 0])
    assert "mean_abs_influence" in table.columns


def test_report_is_self_contained_with_every_filter(result):
    page = result.report.read_text()
    for f in range(4):
        assert f"filter_{f}" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4 + 4 + 3  # logos in the table and the overview, attribution maps
    assert all(base64.b64decode(i[:12]).startswith(b"\x89PNG") for i in images)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "MEF2A" in page


def test_ism_attribution_file(result, setup):
    from seqcnn.attribution import load_attributions

    data = load_attributions(result.attribution)
    assert data["scores"].shape == (3, 4, LENGTH) and data["one_hot"].shape == (3, 4, LENGTH)
    # the sequences scored highest for beta: those without the MEF2A (or YY1) sites it avoids
    assert data["ids"] == top_ids(setup["model"], setup["fasta"], "beta", 3)
    assert all(int(i[1:]) % 2 == 1 and int(i[1:]) >= 10 for i in data["ids"])
    assert data["method"] == "ism" and data["target"] == "beta"
    assert np.all(data["scores"][data["one_hot"] == 1] == 0)
    assert np.abs(data["scores"]).max() > 0


def test_overview_and_logos_are_pngs_of_sensible_size(result):
    from PIL import Image

    logo = Image.open(result.path / "logos" / "filter_0.png")
    overview = Image.open(result.path / "overview.png")
    assert logo.width > 300 and overview.width >= logo.width  # 4 columns at half size
    assert overview.height > logo.height // 2


def test_sampling_and_trimming(setup, tmp_path):
    from seqcnn.bundle import load_model

    model = load_model(setup["model"])
    result = interpret(model, setup["fasta"], tmp_path / "o", motif_db=None, influence=False,
                       max_sequences=100, trim=True)  # fmt: skip
    assert result.n_sequences == 100 and result.n_read == N_SEQS
    assert result.influence is None and len(result.matches) == 0 and result.attribution is None
    table = result.table.set_index("filter")
    assert table.loc["filter_2", "width"] < WIDTH  # the GABPA filter's zero column is cut
    assert table.loc["filter_2", "trim_start"] == 0
    assert "best_match_id" in table.columns and "influence" not in table.columns
    pfm = (result.path / "matrices" / "filter_2.pfm").read_text().splitlines()
    assert len(pfm) == 4 and len(pfm[0].split()) == table.loc["filter_2", "width"]


def test_one_hot_input_is_sampled_padded_and_cropped(setup, tmp_path):
    from seqcnn.attribution import load_attributions
    from seqcnn.onehot import one_hot

    seqs = [s for _, s in _records()][:50]
    short = one_hot([s[:90] for s in seqs])
    options = dict(motif_db=None, influence=False, attribution="saliency", target="beta",
                   attribution_sequences=3)  # fmt: skip
    result = interpret(setup["model"], short, tmp_path / "short", max_sequences=20, **options)
    assert result.n_sequences == 20 and result.n_read == 50
    data = load_attributions(result.attribution)
    chosen = [int(i) for i in data["ids"]]
    assert len(set(chosen)) == 3 and data["one_hot"].shape == (3, 4, LENGTH)
    assert np.all(data["one_hot"][:, :, :5] == 0)  # padded with N (zeros encoding)
    assert np.array_equal(data["one_hot"][:, :, 5:95], short[chosen])
    long = one_hot([s + s[:20] for s in seqs])
    result = interpret(setup["model"], long, tmp_path / "long", **options)
    data = load_attributions(result.attribution)
    chosen = [int(i) for i in data["ids"]]
    assert result.n_sequences == 50 and np.array_equal(data["one_hot"], long[chosen, :, 10:110])


def test_bare_network_and_list_input_print_nothing(tmp_path, capsys):
    from helpers_models import ToySeqCNN

    motif = _motifs()[PLANTED[0]]
    network = ToySeqCNN(np.stack([_log_odds(motif), -np.ones((4, WIDTH))]),
                        head_weight=[[1.0, 0.0], [0.0, 1.0]])  # fmt: skip
    network.config = {"input_length": LENGTH, "n_outputs": 2}  # what seqcnn.as_model reads
    seqs = [s for _, s in _records()][:100]
    result = interpret(network, seqs, tmp_path / "o", motif_db=None, min_sites=5,
                       attribution="saliency", target="1", attribution_sequences=1)  # fmt: skip
    assert result.output_names == ["output_0", "output_1"]
    assert result.table["exported"].tolist() == [True, False]
    assert result.influence[0, 0] < 0 and result.influence[1, 1] == 0
    (top,) = top_ids(network, seqs, "output_1", 1)
    assert sorted(p.name for p in (tmp_path / "o" / "attribution").iterdir()) == [f"{top}.png"]
    assert capsys.readouterr().out == ""


def test_bad_target_is_an_error_before_anything_is_written(setup, tmp_path):
    with pytest.raises(UsageError, match="unknown target 'gamma'.*alpha, beta"):
        interpret(setup["model"], setup["fasta"], tmp_path / "o", attribution="ism",
                  target="gamma")  # fmt: skip
    with pytest.raises(UsageError, match="--target"):
        interpret(setup["model"], setup["fasta"], tmp_path / "o", attribution="saliency")
    with pytest.raises(UsageError, match="only used with an attribution"):
        interpret(setup["model"], setup["fasta"], tmp_path / "o", target="beta")
    with pytest.raises(UsageError, match="unsupported figure format tiff"):
        interpret(setup["model"], setup["fasta"], tmp_path / "o", formats=("tiff",))
    with pytest.raises(DataError, match="no such file"):
        interpret(setup["model"], tmp_path / "missing.fa", tmp_path / "o", motif_db=None)
    assert list(tmp_path.iterdir()) == []


def test_cli_force_saliency_and_no_matching(setup, tmp_path):
    out = tmp_path / "cli"
    out.mkdir()
    (out / "old.txt").write_text("old")
    args = ["interpret", "-m", setup["model"], setup["fasta"], "-o", out, "--motif-db", "none",
            "--attribution", "saliency", "--target", "alpha", "--attribution-sequences", "2",
            "--no-influence", "-q"]  # fmt: skip
    assert_one_line_error(run_seqcnn(*args), "already exists", "--force", code=2)
    assert (out / "old.txt").exists()
    done = run_seqcnn(*args, "--force", env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    assert "report.html" in done.stdout
    assert not (out / "old.txt").exists() and (out / "report.html").is_file()
    top = top_ids(setup["model"], setup["fasta"], "alpha", 2)
    maps = sorted(p.name for p in (out / "attribution").iterdir())
    assert maps == sorted(f"{i}.png" for i in top)
    header = (out / "filters.tsv").read_text().splitlines()[0].split("\t")
    assert header[:5] == ["filter", "consensus", "n_sites", "information", "exported"]
    assert not any(column.startswith("influence") for column in header)
    from seqcnn.attribution import load_attributions

    data = load_attributions(out / "attribution.npz")
    assert data["method"] == "saliency" and data["target"] == "alpha"
    assert np.all(data["scores"][data["one_hot"] == 0] == 0)


def test_cli_user_errors_are_one_line_and_leave_no_output(setup, tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGTXACGT\n")
    out = tmp_path / "o"
    result = run_seqcnn("interpret", "-m", setup["model"], bad, "-o", out, env=ONE_THREAD)
    assert_one_line_error(result, "bad.fa", "record 'a'", "invalid letter 'X'", code=1)
    result = run_seqcnn("interpret", "-m", setup["model"], setup["fasta"], "-o", out,
                        "--attribution", "ism", "--target", "gamma", env=ONE_THREAD)  # fmt: skip
    assert_one_line_error(result, "unknown target 'gamma'", "alpha, beta", code=2)
    assert list(tmp_path.iterdir()) == [bad]

"""Motif discovery: settings that fit the sequence length, a planted motif recovered from a
hand-made scanner's attributions, seqlets mapped back to records and positions, N padding
and empty attributions handled, the files and figures written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqcnn.errors import UsageError
from seqcnn.interpret import interpret
from seqcnn.models.blocks import GlobalPool
from seqcnn.motifs import (
    DiscoverySettings,
    discover_motifs,
    discovery_settings,
    find_patterns,
    output_rows,
    read_meme,
    write_discovery,
)
from seqcnn.motifs.modisco import SEQLET_COLUMNS
from seqcnn.onehot import one_hot
from seqcnn.plots import plot_pattern
from seqcnn.simulate import simulate

# The optional "discover" extra (pip install 'seqcnn[discover]').
pytest.importorskip("tangermeme")
pytest.importorskip("modiscolite")

LENGTH = 200
# The planted motif file has 12 matrices; Tomtom warns below 25, and 12 are enough here.
pytestmark = pytest.mark.filterwarnings("ignore:tomtom was given")
MOTIF_FILE = Path(__file__).resolve().parents[1] / "seqcnn" / "data" / "planted_motifs.meme"


def _log_odds(pwm: np.ndarray) -> np.ndarray:
    """Filters ``(2, 4, w)`` scoring a ``(w, 4)`` PWM on both strands."""
    log_odds = np.log2((pwm + 0.01) / 1.04 / 0.25).T
    return np.stack([log_odds, log_odds[::-1, ::-1]]).copy()


class Scanner(nn.Module):
    """Scores the best site of one PWM on either strand: log-odds filters, relu, global max,
    a sum.  A bare network with a ``.config``, every operation with a DeepLIFT rule."""

    def __init__(self, pwm: np.ndarray, length: int, task: str | None = None):
        super().__init__()
        weight = _log_odds(pwm)
        self.conv = nn.Conv1d(4, 2, weight.shape[2])
        self.activation = nn.ReLU()
        self.pool = GlobalPool("max")
        self.head = nn.Linear(2, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.as_tensor(weight))
            self.conv.bias.fill_(-4.0)
            self.head.weight.fill_(1.0)
            self.head.bias.zero_()
        self.config = {"input_length": length, "n_outputs": 1, "task": task}
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.activation(self.conv(x))))


def _bundle(pwm: np.ndarray, folder: Path) -> Path:
    """The same scanner as a seqcnn ``cnn`` bundle (stem -> global max -> head)."""
    from seqcnn.bundle import save_model
    from seqcnn.models import build_model

    options = {"first_filters": 2, "first_width": len(pwm), "first_pool": 1, "conv_filters": []}
    options |= {"dense_units": 0, "global_pool": "max", "batch_norm": False, "conv_dropout": 0.0}
    network = build_model("cnn", LENGTH, 1, dropout=0.0, **options)
    with torch.no_grad():
        network.stem.conv.weight.copy_(torch.as_tensor(_log_odds(pwm)))
        network.stem.conv.bias.fill_(-4.0)
        network.head.weight.fill_(1.0)
        network.head.bias.zero_()
    folder.mkdir()
    config = {"alphabet": "ACGT", "input_length": LENGTH, "n_encoding": "zeros"}
    config |= {"task": "binary", "output_names": ["yy1"], "output_transform": "sigmoid"}
    return save_model(network, config, folder)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """``seqcnn interpret --discover`` on 200 sequences with one YY1 site each, some padded
    (190 bp) or cropped (210 bp) to the model's 200, for a scanner of YY1."""
    root = tmp_path_factory.mktemp("discovery")
    data = simulate(n_sequences=200, length=LENGTH, motifs=["YY1"], count_probs=(1.0,), seed=0)
    sites = data.instances.set_index("id")
    records = []
    for i, (record_id, seq) in enumerate(zip(data.ids, data.sequences, strict=True)):
        if i % 8 == 1 and 5 <= sites.loc[record_id, "start"] <= LENGTH - 20:
            seq = seq[5:-5]  # padded with 5 N on each side
            sites.loc[record_id, ["start", "end"]] -= 5
        elif i % 8 == 2:
            seq = "ACGTA" + seq + "TGCAT"  # cropped by 5 on each side
            sites.loc[record_id, ["start", "end"]] += 5
        records.append((record_id, seq))
    fasta = root / "planted.fa"
    fasta.write_text("".join(f">{r}\n{s}\n" for r, s in records))
    model = _bundle(data.motifs[data.motif_names[0]], root / "model")
    result = interpret(
        model, fasta, root / "out", motif_db=MOTIF_FILE, influence=False, discover=True,
        discover_sequences=None, max_sequences=None,
    )  # fmt: skip
    return data, sites, dict(records), result


def test_settings_fit_the_sequence_length():
    assert discovery_settings(200) == DiscoverySettings()
    for length in (12, 20, 30, 50, 100, 1000):
        s = discovery_settings(length)
        assert s.window + 2 * s.flank < length
        assert s.trim + 2 * s.pattern_flank <= length
        assert s.window <= s.trim
    assert discovery_settings(50, max_seqlets=100).max_seqlets == 100
    with pytest.raises(UsageError, match="too short"):
        discovery_settings(8)
    with pytest.raises(UsageError, match="unknown discovery setting"):
        discovery_settings(200, windw=10)
    with pytest.raises(UsageError, match="do not fit"):
        discovery_settings(30, window=29)


def test_the_planted_motif_is_recovered(planted):
    *_, result = planted
    found = result.discovery
    assert found.convergence.converged, found.convergence.summary()
    assert found.patterns, found.summary()
    top = found.patterns[0]
    assert top.sign == 1 and top.n_seqlets >= 100
    assert top.best_match() == "MA0095.2 YY1"
    assert top.core[1] - top.core[0] >= 8
    table = found.table()
    assert table.loc[0, "best_match_name"] == "YY1" and table.loc[0, "q_value"] < 0.05
    assert set(found.timings) == {"attributions", "clustering", "matching"}
    assert found.target == "yy1" and found.n_sequences == 200


def test_seqlets_map_back_to_records_and_positions(planted):
    data, sites, records, result = planted
    seqlets = result.discovery.patterns[0].seqlets
    assert list(seqlets.columns) == SEQLET_COLUMNS
    assert (seqlets["id"] == [data.ids[i] for i in seqlets["index"]]).all()
    assert (seqlets["seqlet_start"] <= seqlets["start"]).all()
    assert (seqlets["end"] <= seqlets["seqlet_end"]).all()
    start, end = seqlets["start"].to_numpy(), seqlets["end"].to_numpy()
    width = len(data.motifs[data.motif_names[0]])

    # Where the scanner reads each record: its best window, on either strand, in the
    # record's own coordinates (padded and cropped records included).
    scanner = Scanner(data.motifs[data.motif_names[0]], LENGTH)
    best = []
    for record_id in seqlets["id"]:
        with torch.no_grad():
            scores = scanner.conv(torch.from_numpy(one_hot([records[record_id]])))[0].numpy()
        best.append(int(scores.max(axis=0).argmax()))
    best = np.array(best)
    overlap = np.minimum(end, best + width) - np.maximum(start, best)
    # (A few seqlets sit where a reference, not the sequence, had its best site.)
    assert (overlap >= width - 2).mean() > 0.9
    resized = seqlets["id"].map(lambda r: len(records[r]) != LENGTH).to_numpy()
    assert resized.sum() >= 10 and (overlap[resized] >= width - 2).mean() > 0.9
    # ... which is the planted site, unless chance put a better one elsewhere.
    site = sites.loc[seqlets["id"]]
    at_site = (np.minimum(end, site["end"]) - np.maximum(start, site["start"])) >= width - 2
    assert at_site.mean() > 0.85
    # One orientation: the seqlets on the pattern's strand were planted on one strand.
    same = (seqlets["strand"].to_numpy() == site["strand"].to_numpy())[at_site.to_numpy()]
    assert same.mean() > 0.95 or same.mean() < 0.05


def test_offsets_shift_positions_into_records(planted):
    data, _, records, result = planted
    found = result.discovery
    x = one_hot([records[r] for r in data.ids], length=LENGTH)
    patterns = find_patterns(
        x, found.hypothetical, ids=data.ids, offsets=np.full(len(x), 7), n_leiden=2
    )
    shifted, original = patterns[0].seqlets, found.patterns[0].seqlets
    padded = original["id"].map(lambda r: len(records[r]) < LENGTH).to_numpy()
    cropped = original["id"].map(lambda r: len(records[r]) > LENGTH).to_numpy()
    expected = original["start"] + 7 + np.where(padded, 5, 0) - np.where(cropped, 5, 0)
    np.testing.assert_array_equal(shifted["start"], expected)
    pd.testing.assert_series_equal(shifted["id"], original["id"])


def test_n_padding_short_sequences_and_zero_scores_do_not_crash():
    rng = np.random.default_rng(3)
    x = one_hot(["".join(rng.choice(list("ACGT"), 30)) for _ in range(40)])
    x[:, :, :6] = 0.0  # N padding
    x[5, :, 10] = 0.25
    hypothetical = rng.normal(size=x.shape).astype(np.float32)
    assert isinstance(find_patterns(x, hypothetical), list)
    assert find_patterns(x, np.zeros_like(hypothetical)) == []
    with pytest.raises(UsageError, match="too short"):
        find_patterns(x[:, :, :8], hypothetical[:, :, :8])
    with pytest.raises(UsageError, match="NaN"):
        find_patterns(x, np.full_like(hypothetical, np.nan))


def test_interpret_checks_discovery_options_before_any_work(tmp_path):
    model = _bundle(np.full((8, 4), 0.25), tmp_path / "model")
    with pytest.raises(UsageError, match="discover_sequences"):
        interpret(model, ["ACGT" * 50], tmp_path / "out", discover=True, discover_sequences=0)
    assert not (tmp_path / "out").exists()


def test_output_rows_per_task():
    logits = np.array([[2.0, -1.5, 0.5], [-3.0, -1.0, -2.0], [1.0, 3.0, -0.5], [0.5, -2, -1]])
    # Multilabel: probability >= 0.5, the highest-scoring first when capped.
    rows = output_rows(logits, "multilabel", min_per_output=1, max_per_output=4)
    assert [r.tolist() for r in rows] == [[0, 2, 3], [2], [0]]
    rows = output_rows(logits, "multilabel", min_per_output=1, max_per_output=2)
    assert [r.tolist() for r in rows] == [[0, 2], [2], [0]]
    # Too few predicted: filled up with the highest-scoring others.
    rows = output_rows(logits, "multilabel", min_per_output=2, max_per_output=4)
    assert [r.tolist() for r in rows] == [[0, 2, 3], [1, 2], [0, 2]]
    # Multiclass: the predicted class; probabilities, not logits, rank the fill-up (row 1
    # gives class 2 the larger share, row 0 the larger logit).
    rows = output_rows(logits, "multiclass", min_per_output=1, max_per_output=4)
    assert [r.tolist() for r in rows] == [[0, 3], [1, 2], [1]]
    # Regression (and unknown tasks): the top fraction by value.
    rows = output_rows(logits, "regression", min_per_output=1, fraction=0.5, max_per_output=4)
    assert [r.tolist() for r in rows] == [[0, 2], [1, 2], [0, 2]]
    assert [r.tolist() for r in output_rows(logits, None, min_per_output=1)] == [[0], [2], [0]]
    # The default cap keeps the rows near N in all: ceil(4 / 3) = 2, at least min_per_output.
    assert [len(r) for r in output_rows(logits, "multilabel", min_per_output=1)] == [2, 1, 1]
    assert [len(r) for r in output_rows(logits, "multilabel")] == [4, 4, 4]
    with pytest.raises(UsageError, match="at least 1"):
        output_rows(logits, "multilabel", max_per_output=0)


class _TwoScanners(nn.Module):
    """Two outputs, each the best site of one PWM minus a bias (multilabel)."""

    def __init__(self, pwms, length: int, bias=(0.0, 0.0), names=None):
        super().__init__()
        self.scanners = nn.ModuleList(Scanner(p, length) for p in pwms)
        with torch.no_grad():
            for scanner, value in zip(self.scanners, bias, strict=True):
                scanner.head.bias.fill_(-value)
        self.config = {"input_length": length, "n_outputs": 2, "task": "multilabel"}
        if names is not None:
            self.config["output_names"] = list(names)
        self.eval()

    def forward(self, x):
        return torch.cat([s(x) for s in self.scanners], dim=1)


def test_without_a_target_each_output_is_explained_on_its_own_rows():
    data = simulate(n_sequences=12, length=60, motifs=["YY1", "SRF"], count_probs=(1.0,), seed=2)
    network = _TwoScanners([data.motifs[m] for m in data.motif_names], 60)
    x = one_hot(data.sequences)
    found = discover_motifs(
        network, x, motif_db=None, n_shuffles=3, min_metacluster=1000, min_per_output=4,
        max_per_output=5,
    )  # fmt: skip
    assert found.target.startswith("each of 2 outputs") and not found.patterns
    # The rows: output by output, the sequences output_rows picks for it.
    with torch.no_grad():
        logits = network(torch.from_numpy(x)).numpy()
    groups = output_rows(logits, "multilabel", min_per_output=4, max_per_output=5)
    np.testing.assert_array_equal(found.rows, np.concatenate(groups))
    np.testing.assert_array_equal(found.row_outputs, np.repeat([0, 1], [len(g) for g in groups]))
    assert found.outputs["explained"].tolist() == [5, 5] and found.n_sequences == 12
    # One pass, each row explaining its own output alone.
    from seqcnn.attribution import deep_lift_shap

    assert found.convergence.converged and found.attributions.shape == (10, 4, 60)
    again = deep_lift_shap(
        network, x[found.rows], None, output_weights=np.eye(2)[found.row_outputs], n_shuffles=3
    )
    np.testing.assert_array_equal(found.attributions, again.attributions)
    alone = deep_lift_shap(network, x[found.rows[:5]], target=0, n_shuffles=3)
    np.testing.assert_allclose(found.attributions[:5], alone.attributions, atol=1e-5)


@pytest.fixture(scope="module")
def two_outputs():
    """Two scanners (YY1, SRF) on sequences with one or two sites; each output predicted
    where its motif was planted."""
    data = simulate(n_sequences=500, length=LENGTH, motifs=["YY1", "SRF"], count_probs=(0.6, 0.4),
                    seed=1)  # fmt: skip
    x = one_hot(data.sequences)
    pwms = [data.motifs[m] for m in data.motif_names]
    with torch.no_grad():
        logits = _TwoScanners(pwms, LENGTH)(torch.from_numpy(x)).numpy()
    # Each output's bias halfway between the typical scores with and without its motif.
    labels = data.labels
    bias = [
        (np.median(logits[labels[:, k] == 1, k]) + np.median(logits[labels[:, k] == 0, k])) / 2
        for k in range(2)
    ]
    network = _TwoScanners(pwms, LENGTH, bias, names=["YY1 site", "SRF"])
    ids = [f"r{i}" for i in range(len(x))]
    found = discover_motifs(network, x, ids=ids, motif_db=MOTIF_FILE, n_shuffles=10)
    return data, labels, ids, found


def test_two_outputs_each_find_their_own_motif(two_outputs):
    _, labels, _, found = two_outputs
    assert found.convergence.converged, found.convergence.summary()
    assert list(found.outputs["output"]) == ["YY1 site", "SRF"]
    # The rows explained for an output are (mostly) those where its motif was planted,
    # and sequences with both motifs are explained twice.
    for k in range(2):
        rows = found.rows[found.row_outputs == k]
        assert labels[rows, k].mean() > 0.9
    assert len(found.rows) > len(set(found.rows.tolist()))
    by_output = {}
    for pattern in found.patterns:
        by_output.setdefault(pattern.output, []).append(pattern)
    for output, motif, other in (("YY1 site", "YY1", "SRF"), ("SRF", "SRF", "YY1")):
        top = by_output[output][0]
        assert top.sign == 1 and top.best_match().endswith(motif), found.table()
        positive = [p for p in by_output[output] if p.sign > 0 and p.best_match()]
        assert not any(p.best_match().endswith(other) for p in positive)
    table = found.table()
    assert table.loc[0, "pattern"] == "YY1_site/pattern_1" and table.loc[0, "output"] == "YY1 site"
    assert found.patterns[0].file_stem == "YY1_site__pattern_1"
    assert set(found.matches["filter"]) <= set(table["pattern"])


def test_seqlets_map_back_through_the_repetition(two_outputs):
    data, _, ids, found = two_outputs
    sites = data.instances
    for pattern in found.patterns[:1] + [p for p in found.patterns if p.output == "SRF"][:1]:
        seqlets = pattern.seqlets
        assert (seqlets["pattern"] == pattern.name).all()
        # index: the row of the sequences given (not of the repeated rows), id its record.
        assert seqlets["index"].max() < len(ids)
        assert (seqlets["id"] == [ids[i] for i in seqlets["index"]]).all()
        motif = data.motif_names[0 if pattern.output == "YY1 site" else 1]
        mine = sites[sites["motif"] == motif]
        hits = []
        for row in seqlets.itertuples():
            here = mine[mine["id"] == data.ids[row.index]]
            overlap = np.minimum(row.end, here["end"]) - np.maximum(row.start, here["start"])
            hits.append(bool(len(here)) and overlap.max() >= 6)
        # ... at the planted site of the output's own motif, in both kinds of sequences.
        assert np.mean(hits) > 0.85, pattern.name
        both = seqlets["index"].map(lambda i: len(set(sites[sites["id"] == data.ids[i]]["motif"])))
        assert (both == 2).sum() >= 10


def test_output_labels_are_file_safe_and_unique(two_outputs, tmp_path):
    from seqcnn.motifs.modisco import file_stem
    from seqcnn.motifs.per_output import output_labels

    assert output_labels(["a b", "a_b", "c/d"]) == ["a_b", "a_b_1", "c/d"]
    assert file_stem("c/d/pattern_2") == "c__d__pattern_2" and file_stem("x:y") == "x_y"
    *_, found = two_outputs
    write_discovery(found, tmp_path)
    from seqcnn.plots import draw_pattern_logos

    logos = draw_pattern_logos(found.patterns[:2], tmp_path / "logos")
    for pattern in found.patterns[:2]:
        assert (tmp_path / "matrices" / f"{pattern.file_stem}.cwm.tsv").exists()
        assert logos[pattern.name] == tmp_path / "logos" / f"{pattern.file_stem}.png"
    meme = read_meme(tmp_path / "patterns.meme")
    assert set(meme) == {p.name for p in found.patterns}
    table = pd.read_csv(tmp_path / "patterns.tsv", sep="\t")
    assert table["output"].tolist() == [p.output for p in found.patterns]
    from seqcnn.report import discovery_section

    section = discovery_section(found.table(), logos)
    assert ">Output<" in section and "<td>YY1 site</td>" in section
    assert "YY1_site/pattern_1" in section


def test_interpret_writes_the_patterns_and_a_report_section(planted, tmp_path):
    *_, result = planted
    found, folder = result.discovery, result.path / "discovery"
    table = pd.read_csv(folder / "patterns.tsv", sep="\t")
    assert list(table["pattern"]) == [p.name for p in found.patterns]
    seqlets = pd.read_csv(folder / "seqlets.tsv", sep="\t")
    assert len(seqlets) == sum(p.n_seqlets for p in found.patterns)
    meme = read_meme(folder / "patterns.meme")
    assert set(meme) == {p.name for p in found.patterns}
    top = found.patterns[0]
    np.testing.assert_allclose(meme[top.name], top.core_pwm, atol=1e-5)
    cwm = pd.read_csv(folder / "matrices" / f"{top.name}.cwm.tsv", sep="\t")
    assert list(cwm.columns) == ["A", "C", "G", "T"] and len(cwm) == top.width
    assert (folder / "logos" / f"{top.name}.png").read_bytes().startswith(b"\x89PNG")
    assert (folder / "pattern_matches.tsv").exists()
    page = result.report.read_text()
    assert "Discovered motifs" in page and "converged" in page and "MA0095.2" in page
    assert "patterns from 200 sequences" in result.summary()
    fig = plot_pattern(top, core_only=True)
    assert len(fig.axes) == 2 and "YY1" in fig.get_suptitle()
    # The API writes the same files anywhere.
    assert set(write_discovery(found, tmp_path)) == {"patterns", "seqlets", "matches", "meme"}

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
    predicted_outputs,
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


def test_predicted_outputs_per_task():
    logits = np.array([[2.0, -1.0, 0.5], [-3.0, -1.0, -2.0]])
    np.testing.assert_array_equal(predicted_outputs(logits, "multilabel"), [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(predicted_outputs(logits, "multiclass"), [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(predicted_outputs(logits, "regression"), np.ones((2, 3)))
    np.testing.assert_array_equal(predicted_outputs(logits, None), np.ones((2, 3)))


class _TwoScanners(nn.Module):
    """Two outputs, each the best site of one PWM (multilabel)."""

    def __init__(self, pwms, length: int):
        super().__init__()
        self.scanners = nn.ModuleList(Scanner(p, length) for p in pwms)
        self.config = {"input_length": length, "n_outputs": 2, "task": "multilabel"}

    def forward(self, x):
        return torch.cat([s(x) for s in self.scanners], dim=1)


def test_without_a_target_each_sequence_explains_its_predicted_outputs():
    data = simulate(n_sequences=12, length=60, motifs=["YY1", "SRF"], count_probs=(1.0,), seed=2)
    network = _TwoScanners([data.motifs[m] for m in data.motif_names], 60).eval()
    x = one_hot(data.sequences)
    found = discover_motifs(network, x, motif_db=None, n_shuffles=3, min_metacluster=1000)
    assert found.target.startswith("the outputs predicted for each sequence")
    assert found.convergence.converged and not found.patterns
    # The same as explaining, sequence by sequence, the outputs it is predicted to have.
    from seqcnn.attribution import deep_lift_shap

    with torch.no_grad():
        weights = predicted_outputs(network(torch.from_numpy(x)).numpy(), "multilabel")
    assert weights.sum(axis=1).min() >= 1
    np.testing.assert_array_equal(
        found.attributions,
        deep_lift_shap(network, x, output_weights=weights, n_shuffles=3).attributions,
    )
    for k in range(2):
        alone = deep_lift_shap(network, x, target=k, n_shuffles=3)
        rows = (weights == np.eye(2)[k]).all(axis=1)
        np.testing.assert_allclose(found.attributions[rows], alone.attributions[rows], atol=1e-5)


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

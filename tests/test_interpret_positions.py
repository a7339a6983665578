"""``seqcnn interpret`` on per-position models (unet, bpnet): attribution maps of each
position target, motif discovery per track and filter influence per track."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from conftest import write_fasta_file
from test_position_training import write_dataset

from seqcnn.attribution import POSITION_TARGETS, load_attributions
from seqcnn.bundle import load_model
from seqcnn.cli import cli
from seqcnn.errors import UsageError
from seqcnn.interpret import interpret
from seqcnn.motifs import filter_influence, output_rows
from seqcnn.position_targets import PositionTarget
from seqcnn.training import train

LENGTH = 64
TRACKS = ["tgac", "ccaat"]
MOTIFS = {"tgac": "TGACTCA", "ccaat": "CCAATGG"}
CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny networks: one thread is faster than two agreeing on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def planted(n: int = 96, seed: int = 0):
    """Random sequences with each track's motif planted at random in half of them: codes,
    site masks (N, 2, L) and counts around the sites, and the records as FASTA records."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, LENGTH)).astype(np.uint8)
    masks = np.zeros((n, len(TRACKS), LENGTH), dtype=np.uint8)
    counts = rng.poisson(0.2, size=masks.shape).astype(np.float32)
    for row in range(n):
        for t, name in enumerate(TRACKS):
            if rng.random() < 0.5:
                motif = np.array([CODE[b] for b in MOTIFS[name]], dtype=np.uint8)
                start = rng.integers(0, LENGTH - len(motif))
                codes[row, start : start + len(motif)] = motif
                masks[row, t, start : start + len(motif)] = 1
                counts[row, t, start : start + len(motif)] += rng.poisson(5, len(motif))
    records = [(f"r{i}", "".join("ACGT"[c] for c in row)) for i, row in enumerate(codes)]
    return codes, masks, counts, records


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """A segmentation unet and a profile bpnet, trained one epoch, and their FASTA."""
    root = tmp_path_factory.mktemp("positions")
    codes, masks, counts, records = planted()
    fasta = write_fasta_file(root / "seqs.fa", records)
    options = {
        "unet": ("segmentation", masks, {"encoder_filters": [8, 8], "bottleneck_filters": 8}),
        "bpnet": ("profile", counts, {"dilated_layers": 2, "profile_width": 5,
                                      "output_length": 30}),
    }  # fmt: skip
    models = {}
    for architecture, (task, labels, extra) in options.items():
        dataset = write_dataset(root / f"{architecture}.ds", codes, labels, task, TRACKS)
        train(dataset, root / architecture, architecture=architecture,
              model_options={"first_filters": 4, **extra}, epochs=1, batch_size=32,
              device="cpu")  # fmt: skip
        models[architecture] = root / architecture
    return {"fasta": fasta, **models}


def run_cli(*args):
    result = CliRunner().invoke(cli, ["interpret", *map(str, args)], prog_name="seqcnn")
    return result


@pytest.mark.parametrize("position_target", POSITION_TARGETS)
@pytest.mark.parametrize("architecture", ["unet", "bpnet"])
def test_cli_attribution_of_each_position_target(bundles, tmp_path, architecture,
                                                 position_target):  # fmt: skip
    out = tmp_path / "out"
    result = run_cli("-m", bundles[architecture], bundles["fasta"], "-o", out,
                     "--motif-db", "none", "--attribution", "deeplift_shap", "--target",
                     "ccaat", "--position-target", position_target,
                     "--attribution-sequences", "2", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = load_attributions(out / "attribution.npz")
    assert data["method"] == "deeplift_shap" and data["target"] == "ccaat"
    assert data["scores"].shape == (2, 4, LENGTH) and np.abs(data["scores"]).sum() > 0
    assert len(list((out / "attribution").glob("*.png"))) == 2
    # The maps are of the sequences whose position target of the track is highest.
    model = load_model(bundles[architecture])
    from seqcnn.inputs import read_codes

    x = read_codes(bundles["fasta"], LENGTH).one_hot()
    with torch.no_grad():
        values = PositionTarget(model.network, position_target)(torch.from_numpy(x))[:, 1]
        if model.rc_average:
            flipped = torch.from_numpy(np.ascontiguousarray(x[:, ::-1, ::-1]))
            values = (values + PositionTarget(model.network, position_target)(flipped)[:, 1]) / 2
    top = [f"r{i}" for i in np.argsort(-values.numpy(), kind="stable")[:2]]
    assert data["ids"] == top
    page = (out / "report.html").read_text()
    assert f"deeplift_shap for ccaat ({position_target} over the output positions" in page


@pytest.mark.parametrize("architecture", ["unet", "bpnet"])
def test_filter_influence_has_one_column_per_track(bundles, tmp_path, architecture):
    out = tmp_path / "out"
    result = run_cli("-m", bundles[architecture], bundles["fasta"], "-o", out,
                     "--motif-db", "none", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    header = (out / "filters.tsv").read_text().splitlines()[0].split("\t")
    influence = [c for c in header if c.startswith("influence")]
    assert influence == [f"influence_{t}" for t in TRACKS]
    # Each column: the change of the track's mean position target (the default for the
    # task) when a filter is nullified.
    model = load_model(bundles[architecture])
    from seqcnn.inputs import read_codes
    from seqcnn.position_targets import default_target

    x = read_codes(bundles["fasta"], LENGTH).one_hot()
    mode = default_target(model.task)
    effects = filter_influence(model, x, position_target=mode)
    table = pd.read_csv(out / "filters.tsv", sep="\t")
    np.testing.assert_allclose(table[influence].to_numpy(), effects, rtol=1e-4, atol=1e-6)
    network, f = model.network, 3
    with torch.no_grad():
        xt = torch.from_numpy(x)
        act = network.stem(xt)
        before = PositionTarget(network, mode)(xt)
        act[:, f, :] = network.stem(xt)[:, f, :].mean()
        nullified = network.head(network.body(act))
        y = nullified
        after = {"sum": y.sum(-1), "counts": torch.logsumexp(y, -1)}[mode]
    np.testing.assert_allclose(effects[f], (after - before).mean(0).numpy(), rtol=1e-3,
                               atol=1e-5)  # fmt: skip
    # A transform is for sequence models' outputs: the position target is of raw outputs.
    with pytest.raises(UsageError, match="leave transform unset"):
        filter_influence(model, x, transform=torch.sigmoid)


@pytest.mark.parametrize("architecture", ["unet", "bpnet"])
def test_cli_discover_without_target_works_per_track(bundles, tmp_path, architecture):
    out = tmp_path / "out"
    result = run_cli("-m", bundles[architecture], bundles["fasta"], "-o", out,
                     "--motif-db", "none", "--no-influence", "--discover",
                     "--discover-sequences", "30", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "discovery" / "patterns.tsv").is_file()
    assert "each of 2 outputs" in result.output


def test_discovery_rows_are_chosen_by_the_position_target(bundles):
    from seqcnn.inputs import read_codes
    from seqcnn.motifs import discover_motifs

    model = load_model(bundles["bpnet"])
    x = read_codes(bundles["fasta"], LENGTH).one_hot()
    found = discover_motifs(model, x, position_target="counts", n_shuffles=2, motif_db=None,
                            max_per_output=10, min_per_output=10)  # fmt: skip
    with torch.no_grad():
        values = PositionTarget(model.network, "counts")(torch.from_numpy(x)).numpy()
    expected = output_rows(values, None, max_per_output=10, min_per_output=10)
    np.testing.assert_array_equal(found.rows, np.concatenate(expected))
    assert found.attributions.shape == (20, 4, LENGTH)
    assert "counts" in found.target
    with pytest.raises(UsageError, match="reduce"):
        output_rows(np.zeros((4, 2, 30)), None)


def test_position_target_on_a_sequence_model_is_refused_before_any_work(tmp_path):
    from seqcnn.models import build_model

    network = build_model("cnn", 40, 1)
    network.config["output_names"] = ["y"]
    with pytest.raises(UsageError, match="per-position"):
        interpret(network, ["ACGT" * 10], tmp_path / "out", position_target="counts",
                  attribution="saliency", motif_db=None)  # fmt: skip
    assert not (tmp_path / "out").exists()

"""Training per-position models (issue 17): losses against hand-computed values, metrics,
augmentation of label tracks, a tiny training run and the bundle round trip."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqcnn.bundle import check_config, load_model
from seqcnn.dataset import FORMAT, FORMAT_VERSION, finish_dataset, load_dataset
from seqcnn.errors import ModelError, UsageError
from seqcnn.forward import run_network
from seqcnn.metrics import auprc, auroc
from seqcnn.models import build_model
from seqcnn.position_metrics import compute_position_metrics, primary_metric, track_values
from seqcnn.training import TrainOptions, train
from seqcnn.training.batches import AugmentedBatches
from seqcnn.training.losses import count_weight_from_data, criterion_for, start_counts_head
from seqcnn.training.masked import PositionBCE, ProfileLoss

NAN = float("nan")
MOTIF = np.array([3, 2, 0, 1, 3, 1, 0], dtype=np.uint8)  # TGACTCA


def write_dataset(folder: Path, codes: np.ndarray, labels: np.ndarray, task: str, names):
    """A dataset folder with per-position labels, written as the encoder writes one."""
    folder.mkdir(parents=True)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    codes.tofile(folder / "sequences.u8")
    n, length = codes.shape
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "n_sequences": n,
        "length": length,
        "n_encoding": "zeros",
        "sources": [],
    }
    ids = [f"r{i}" for i in range(n)]
    finish_dataset(folder, header, ids, hashlib.sha256(codes.tobytes()), (labels, task, names))
    return load_dataset(folder)


def planted(n: int = 160, length: int = 64, seed: int = 0):
    """Random sequences with TGACTCA planted 0-2 times: site masks and counts around them."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    masks = np.zeros((n, 1, length), dtype=np.uint8)
    counts = rng.poisson(0.2, size=(n, 1, length)).astype(np.float32)
    for row in range(n):
        for _ in range(rng.integers(0, 3)):
            start = rng.integers(0, length - len(MOTIF))
            codes[row, start : start + len(MOTIF)] = MOTIF
            masks[row, 0, start : start + len(MOTIF)] = 1
            counts[row, 0, start : start + len(MOTIF)] += rng.poisson(5, len(MOTIF))
    masks[:4, 0, :3] = 255  # unknown bases
    return codes, masks, counts


# ------------------------------------------------------------------------------- losses


def test_profile_loss_by_hand():
    # counts (1, 2, 0), outputs log(1, 2, 1): profile (1/4, 1/2, 1/4), 3 counts in all.
    counts = torch.tensor([[[1.0, 2.0, 0.0]]])
    outputs = torch.log(torch.tensor([[[1.0, 2.0, 1.0]]]))
    # -log multinomial = -(log 3! - log(1! 2! 0!) + log(1/4) + 2 log(1/2)) = log(16/3);
    # predicted log total log 4 = log(1 + 3): no counts error.
    assert float(ProfileLoss(5.0)(outputs, counts)) == pytest.approx(math.log(16 / 3))
    # Twice the rates: the same profile, log total log 8: counts error (log 2)^2, weighted.
    doubled = outputs + math.log(2)
    expected = math.log(16 / 3) + 5.0 * math.log(2) ** 2
    assert float(ProfileLoss(5.0)(doubled, counts)) == pytest.approx(expected)


def test_profile_loss_leaves_unknown_bases_out_and_crops_the_centre():
    # Labels one base longer on each side than the outputs: the ends are cut.
    counts = torch.tensor([[[9.0, 1.0, 2.0, NAN, 9.0]]])
    outputs = torch.log(torch.tensor([[[1.0, 2.0, 5.0]]]))
    # Known bases (1, 2): profile (1/3, 2/3), 3 counts; total predicted log 3, true log 4.
    nll = -(math.log(6) - math.log(2) + math.log(1 / 3) + 2 * math.log(2 / 3))
    expected = nll + 2.0 * (math.log(3) - math.log(4)) ** 2
    assert float(ProfileLoss(2.0)(outputs, counts)) == pytest.approx(expected)
    # A track with no known base is left out, not a NaN.
    both = torch.cat([counts, torch.full_like(counts, NAN)], dim=1)
    assert float(ProfileLoss(2.0)(outputs.repeat(1, 2, 1), both)) == pytest.approx(expected)


def test_position_bce_by_hand():
    logits = torch.tensor([[[0.0, 2.0, -1.0]]])
    target = torch.tensor([[[1.0, 0.0, NAN]]])
    # Known bases: log(2) for a 1 at logit 0 (weighted 3), log(1 + e^2) for a 0 at logit 2.
    expected = (3 * math.log(2) + math.log(1 + math.exp(2))) / 2
    loss = PositionBCE(torch.tensor([3.0]))
    assert float(loss(logits, target)) == pytest.approx(expected, rel=1e-6)
    # Two tracks, each its own positive weight.
    two = PositionBCE(torch.tensor([3.0, 1.0]))
    both = two(logits.repeat(1, 2, 1), target.repeat(1, 2, 1))
    assert float(both) == pytest.approx((4 * math.log(2) + 2 * math.log(1 + math.exp(2))) / 4)


def test_count_weight_follows_chrombpnet():
    assert count_weight_from_data(np.array([10.0, 300.0, 500.0])) == 30.0
    assert count_weight_from_data(np.array([2.0, 4.0])) == 1.0  # never below 1


def test_counts_head_starts_at_the_mean_log_total():
    network = build_model(
        "bpnet", 40, 2, first_filters=4, first_width=7, dilated_layers=1, profile_width=5
    )
    assert network.output_shape() == (2, 30)  # bases 5-34 of 40
    labels = np.zeros((3, 2, 40), dtype=np.float32)
    labels[:, 0, 0] = 100  # outside the output window: not counted
    labels[0, 0, 10], labels[1, 0, 20], labels[2, 0, 30] = 1, 3, 7
    labels[:, 1, 5:35] = 1  # 30 counts in every row
    labels[2, 1] = NAN  # no known base: left out
    assert start_counts_head(network, labels)
    expected = [np.mean(np.log1p([1, 3, 7])), math.log1p(30)]
    np.testing.assert_allclose(network.head.counts.bias.detach().numpy(), expected, rtol=1e-6)
    unet = build_model("unet", 40, 2, encoder_filters=[4], first_filters=4)
    assert not start_counts_head(unet, labels)  # only a counts head is started


def test_criterion_fits_head_to_task():
    options = TrainOptions()
    labels = np.zeros((4, 1, 40), dtype=np.float32)
    labels[:, 0, 10:20] = 30  # 300 counts per sequence in the central 20 bases
    unet = build_model("unet", 40, 1, output_length=20, encoder_filters=[4], first_filters=4)
    criterion = criterion_for(unet, "profile", options, labels, torch.device("cpu"))
    assert isinstance(criterion, ProfileLoss) and criterion.count_weight == 30.0
    given = TrainOptions(count_weight=0.5)
    assert criterion_for(unet, "profile", given, labels, "cpu").count_weight == 0.5
    masks = np.zeros((4, 1, 40), dtype=np.uint8)
    masks[:, 0, 15] = 1
    masks[:, 0, :5] = 255
    bce = criterion_for(unet, "segmentation", TrainOptions(pos_weight="balanced"), masks, "cpu")
    assert float(bce.loss.mean.pos_weight) == 19.0  # 19 negatives per positive in the centre
    with pytest.raises(UsageError, match="per-position network"):
        criterion_for(build_model("cnn", 40, 1), "segmentation", options, masks, "cpu")
    with pytest.raises(UsageError, match="per-sequence network"):
        criterion_for(unet, "binary", options, np.zeros((4, 1)), "cpu")


# ------------------------------------------------------------------------------ metrics


def test_segmentation_metrics_flatten_positions_per_track():
    rng = np.random.default_rng(0)
    labels = (rng.random((5, 2, 12)) < 0.3).astype(np.uint8)
    labels[0, 0, 0] = 255
    scores = rng.normal(size=(5, 2, 10)) + labels[..., 1:11]
    got = compute_position_metrics("segmentation", labels, scores)
    centre = track_values(labels)[..., 1:11]
    expected = []
    for track in range(2):
        truth, score = centre[:, track].ravel(), scores[:, track].ravel()
        known = ~np.isnan(truth)
        expected.append((auroc(truth[known], score[known]), auprc(truth[known], score[known])))
    assert got["auroc"] == pytest.approx(np.mean([a for a, _ in expected]))
    assert got["auprc"] == pytest.approx(np.mean([p for _, p in expected]))
    assert primary_metric("segmentation") == ("auprc", "max")
    assert primary_metric("profile") == ("loss", "min")


def test_profile_metrics():
    counts = np.array([[[0.0, 4.0, 4.0, 0.0]], [[1.0, 1.0, 1.0, 1.0]], [[0.0, 0.0, 2.0, 7.0]]])
    totals = counts.sum(-1, keepdims=True)
    # The profile exactly, and log(1 + total) as the predicted log total.
    perfect = np.log(np.maximum(counts, 1e-12) / totals) + np.log1p(totals)
    got = compute_position_metrics("profile", counts, perfect)
    assert got["profile_pearson"] == pytest.approx(1.0)  # the constant row is left out
    assert got["profile_jsd"] == pytest.approx(0.0, abs=1e-4)
    assert got["counts_pearson"] == pytest.approx(1.0)
    assert got["counts_spearman"] == pytest.approx(1.0)
    # Flat predictions of a (0, 1/2, 1/2, 0) profile: JS divergence (base 2) by hand.
    flat = compute_position_metrics("profile", counts[:1], np.zeros((1, 1, 4)))
    m = np.array([1 / 8, 3 / 8, 3 / 8, 1 / 8])
    p, q = np.full(4, 0.25), np.array([0, 0.5, 0.5, 0])
    js = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q[1:3] * np.log2(q[1:3] / m[1:3]))
    assert flat["profile_jsd"] == pytest.approx(math.sqrt(js))
    assert np.isnan(flat["profile_pearson"])  # a flat prediction has no correlation


# ------------------------------------------------------------------------- augmentation


def test_augmentation_moves_label_tracks_with_the_sequence(tmp_path):
    codes = np.tile(np.arange(10, dtype=np.uint8) % 4, (6, 1))
    masks = np.zeros((6, 2, 10), dtype=np.uint8)
    masks[:, 0, 2] = 1
    masks[:, 1, 7] = 255
    dataset = write_dataset(tmp_path / "ds", codes, masks, "segmentation", ["a", "b"])
    batches = AugmentedBatches(dataset, "zeros", torch.device("cpu"), rc=True, shift=2)
    rows = np.arange(6)
    rng = np.random.default_rng(3)
    augmented, flip, offsets = batches.augment(rows, rng)
    assert flip.any() and not flip.all() and offsets.any()
    # Same draws as codes_for, so sequence models train exactly as before.
    assert np.array_equal(augmented, batches.codes_for(rows, np.random.default_rng(3)))
    y = batches.targets(rows, "segmentation", flip, offsets).numpy()
    assert y.shape == (6, 2, 10) and y.dtype == np.float32
    for row in rows:
        site = 9 - 2 if flip[row] else 2  # reversed along the sequence, tracks kept
        unknown = 9 - 7 if flip[row] else 7
        site, unknown = site + offsets[row], unknown + offsets[row]
        assert y[row, 0, site] == 1 and np.nansum(y[row, 0]) == 1
        # The label stays on its base: G (code 2), or C where the row was complemented.
        assert augmented[row, site] == (1 if flip[row] else 2)
        assert np.isnan(y[row, 1, unknown])
        # Bases shifted in are unknown.
        shifted_in = range(offsets[row]) if offsets[row] > 0 else range(10 + offsets[row], 10)
        assert all(np.isnan(y[row, :, base]).all() for base in shifted_in)
    plain = batches.targets(rows, "segmentation")
    assert np.array_equal(np.isnan(plain.numpy()), masks == 255)


def test_rc_average_flips_per_position_outputs():
    torch.manual_seed(0)
    model = build_model("dilated", 30, 1, head="position", first_filters=4, dilated_layers=1)
    x = np.random.default_rng(0).integers(0, 4, size=(3, 30)).astype(np.uint8)
    forward = run_network(model, x)
    reverse = run_network(model, np.ascontiguousarray(3 - x[:, ::-1]))
    averaged = run_network(model, x, rc_average=True)
    assert np.allclose(averaged, (forward + reverse[..., ::-1]) / 2, atol=1e-6)


# ------------------------------------------------------------------- training, bundles


@pytest.mark.parametrize(
    ("task", "architecture", "options"),
    [
        ("segmentation", "unet", {"encoder_filters": [8, 8], "bottleneck_filters": 8}),
        ("profile", "bpnet", {"dilated_layers": 2, "profile_width": 5, "output_length": 30}),
        (
            "profile",
            "bpnet",
            {"dilated_layers": 1, "profile_width": 5, "counts_pool": "logmeanexp"},
        ),
        # a per-sequence trunk on a per-position task gets its position head by itself
        ("segmentation", "dilated", {"dilated_layers": 1}),
    ],
)
def test_tiny_training_run_and_bundle_round_trip(tmp_path, task, architecture, options):
    codes, masks, counts = planted()
    labels = masks if task == "segmentation" else counts
    dataset = write_dataset(tmp_path / "ds", codes, labels, task, ["site"])
    out = tmp_path / "model"
    result = train(
        dataset,
        out,
        architecture=architecture,
        model_options={"first_filters": 8, **options},
        epochs=2,
        batch_size=32,
        rc_augment=True,
        shift=2 if task == "segmentation" else 0,
        device="cpu",
    )
    history = pd.read_csv(out / "metrics.csv")
    assert len(history) == 2 and (out / "learning_curve.png").is_file()
    names = ["auroc", "auprc"] if task == "segmentation" else ["profile_pearson", "profile_jsd"]
    for name in names:
        assert history[f"valid_{name}"].notna().all()
        assert name in result.metrics["valid"]

    config = json.loads((out / "config.json").read_text())
    assert config["model"]["head"] == "position" and config["task"] == task
    for name, value in options.items():
        assert config["model"]["options"].get(name, value) == value
    assert config["output_transform"] == ("sigmoid" if task == "segmentation" else "exp")
    model = load_model(out)
    assert model.head_kind == "position"
    x = torch.from_numpy(codes[:4])
    one_hot = torch.nn.functional.one_hot(x.long(), 4).permute(0, 2, 1).float()
    with torch.no_grad():
        assert torch.equal(model.network(one_hot), result.model.network(one_hot))
    assert model.output_shape == tuple(model.network(one_hot).shape[1:])
    if "output_length" in options:
        assert model.output_shape == (1, options["output_length"])


def test_config_checks_the_head_against_the_task():
    config = {
        "model": {"architecture": "unet", "input_length": 50, "n_outputs": 1, "head": "position"},
        "input_length": 50,
        "task": "segmentation",
        "output_names": ["site"],
        "output_transform": "sigmoid",
    }
    check_config(config)
    with pytest.raises(ModelError, match="needs a position head"):
        check_config({**config, "model": {**config["model"], "head": "sequence"}})
    with pytest.raises(ModelError, match="output_transform"):
        check_config({**config, "output_transform": "exp"})
    # Bundles written before heads were named: a sequence head.
    old = {**config, "task": "binary", "model": {**config["model"], "architecture": "cnn"}}
    del old["model"]["head"]
    check_config(old)


# ------------------------------------------------------------------------- predictions


def test_position_predictions_file_reads_back(tmp_path):
    from seqcnn.position_outputs import predict_positions_file, read_positions

    torch.manual_seed(0)
    network = build_model("bpnet", 60, 2, first_filters=4, dilated_layers=1, profile_width=5)
    margin = network.head.output_offset(60)  # 10 (stem) + 2 (profile convolution)
    rng = np.random.default_rng(0)
    records = {
        "exact": "".join(rng.choice(list("ACGT"), 60)),
        "short": "".join(rng.choice(list("ACGT"), 50)),
        "long": "".join(rng.choice(list("ACGT"), 71)),
    }
    out = predict_positions_file(network, records, tmp_path / "tracks.npz", batch_size=2)
    saved = read_positions(out)
    assert saved.ids == list(records)
    assert saved.tracks == ["output_0", "output_1"]
    assert saved.info["output_length"] == 60 - 2 * margin
    # Column j stands for base offset + j of the record: short records are centred in N
    # padding (5 bases on the left), long ones cropped to their centre (5 bases cut).
    assert saved.offsets.tolist() == [margin, margin - 5, margin + 5]
    codes = np.frombuffer(records["exact"].encode(), dtype=np.uint8)
    codes = np.searchsorted(np.frombuffer(b"ACGT", dtype=np.uint8), codes).astype(np.uint8)
    expected = run_network(network, codes[None])[0]
    assert saved.values["exact"].shape == (2, 60 - 2 * margin)
    np.testing.assert_allclose(saved.values["exact"], expected, rtol=1e-6)
    with pytest.raises(UsageError, match="one value per sequence"):
        predict_positions_file(build_model("cnn", 60, 1), records, tmp_path / "x.npz")


def test_cli_trains_a_profile_model(tmp_path):
    from conftest import run_seqcnn

    codes, _, counts = planted(n=80, length=64)
    write_dataset(tmp_path / "ds", codes, counts, "profile", ["cov"])
    result = run_seqcnn(
        "train", tmp_path / "ds", "-o", tmp_path / "model",  # no --arch: bpnet for profiles
        "--option", "first_filters=4", "--option", "dilated_layers=1",
        "--option", "profile_width=5", "--count-weight", "2.5",
        "--epochs", "1", "--device", "cpu", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "profile_pearson" in result.stdout
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["training"]["options"]["count_weight"] == 2.5
    assert config["model"]["head"] == "position" and config["model"]["architecture"] == "bpnet"

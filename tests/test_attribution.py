"""Tests of seqcnn.attribution on models whose attributions are known analytically."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seqcnn.attribution import attribution, load_attributions, resolve_target, save_attributions
from seqcnn.bundle import Model
from seqcnn.errors import DataError, ModelError, UsageError

LENGTH = 12


class PositionLinear(nn.Module):
    """``f_t(x) = sum_{b,i} w[t, b, i] x[b, i] + c_t``: a full-width Conv1d, summed."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        n_outputs, _, length = weight.shape
        self.conv = nn.Conv1d(4, n_outputs, kernel_size=length, bias=bias is not None)
        self.conv = self.conv.to(weight.dtype)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            if bias is not None:
                self.conv.bias.copy_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).sum(dim=-1)


class SmallCNN(nn.Module):
    """A non-linear network with batch norm and dropout, which eval mode must disable."""

    def __init__(self, n_outputs: int = 2):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, kernel_size=5)
        self.norm = nn.BatchNorm1d(6)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(6, n_outputs)
        with torch.no_grad():
            self.norm.running_mean.uniform_(-0.5, 0.5)
            self.norm.running_var.uniform_(0.5, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(torch.relu(self.norm(self.conv(x))))
        return self.head(h.max(dim=-1).values)


def with_outputs(network: nn.Module, output_names: list[str], input_length: int) -> Model:
    """A :class:`seqcnn.bundle.Model` view of a test network: output names and length."""
    return Model(network, {"output_names": output_names, "input_length": input_length})


def random_one_hot(n: int, length: int = LENGTH, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length))
    return np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()


def integer_weights(n_outputs: int = 2, seed: int = 0) -> torch.Tensor:
    # Small integers keep every sum exact in float32, so ISM can be compared exactly.
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(-8, 9, (n_outputs, 4, LENGTH)).astype(np.float32))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("target", [0, 1])
def test_ism_of_linear_model_is_weight_difference(target):
    weight = integer_weights()
    model = PositionLinear(weight, bias=torch.tensor([3.0, -5.0]))
    x = random_one_hot(5)
    scores = attribution(model, x, method="ism", target=target, batch_size=7)
    w = weight[target].numpy()
    reference_weight = (w[None] * x).sum(axis=1, keepdims=True)  # w[ref base, i]
    expected = w[None] - reference_weight
    assert scores.dtype == np.float32 and scores.shape == x.shape
    np.testing.assert_array_equal(scores, expected)
    assert np.all(scores[x == 1] == 0)
    assert np.count_nonzero(scores[x == 0]) > 0


def test_ism_matches_analytic_change_in_double_precision():
    weight = torch.randn(1, 4, LENGTH, dtype=torch.float64)
    model = PositionLinear(weight, bias=torch.randn(1, dtype=torch.float64))
    x = random_one_hot(3, seed=1)
    scores = attribution(model, x, method="ism")
    w = weight[0].numpy()
    expected = w[None] - (w[None] * x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-6)


def test_ism_scores_every_base_at_ambiguous_positions():
    weight = integer_weights(1)
    x = random_one_hot(2, seed=2)
    x[0, :, 3] = 0.0  # N as zeros: no reference base there
    x[1, :, 5] = 0.25  # N as uniform
    scores = attribution(PositionLinear(weight), x, method="ism")
    w = weight[0].numpy()
    np.testing.assert_array_equal(scores[0, :, 3], w[:, 3])
    np.testing.assert_allclose(scores[1, :, 5], w[:, 5] - w[:, 5].mean(), atol=1e-5)


def test_ism_of_nonlinear_model_matches_direct_mutation():
    model = SmallCNN().eval()
    x = random_one_hot(2, seed=3)
    scores = attribution(model, x, method="ism", target=1)
    assert np.all(scores[x == 1] == 0)
    with torch.no_grad():
        reference = model(torch.from_numpy(x))[:, 1]
        for n, base, pos in [(0, 0, 0), (0, 3, 7), (1, 2, LENGTH - 1)]:
            if x[n, base, pos] == 1:
                continue
            mutant = x[n : n + 1].copy()
            mutant[0, :, pos] = 0
            mutant[0, base, pos] = 1
            change = model(torch.from_numpy(mutant))[0, 1] - reference[n]
            assert scores[n, base, pos] == pytest.approx(float(change), abs=1e-5)


def test_saliency_of_linear_model_is_weight_times_input():
    weight = integer_weights(seed=4)
    model = PositionLinear(weight, bias=torch.tensor([1.0, 2.0]))
    x = random_one_hot(6, seed=4)
    for target in (0, 1):
        scores = attribution(model, x, method="saliency", target=target, batch_size=4)
        np.testing.assert_array_equal(scores, weight[target].numpy()[None] * x)


def test_saliency_with_transform_scales_by_the_derivative():
    weight = integer_weights(1, seed=5) / 8
    model = PositionLinear(weight)
    x = random_one_hot(3, seed=5)
    logits = attribution(model, x, method="saliency")
    probabilities = attribution(model, x, method="saliency", transform="sigmoid")
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(x))[:, 0]).numpy()
    np.testing.assert_allclose(probabilities, logits * (p * (1 - p))[:, None, None], rtol=1e-5)


def test_ism_with_transform_uses_transformed_outputs():
    weight = integer_weights(1, seed=6) / 8
    model = PositionLinear(weight)
    x = random_one_hot(2, seed=6)
    scores = attribution(model, x, method="ism", transform=torch.sigmoid)
    w = weight[0].numpy()
    logit = (w[None] * x).sum(axis=(1, 2))
    mutant_logit = logit[:, None, None] + w[None] - (w[None] * x).sum(axis=1, keepdims=True)

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    expected = sigmoid(mutant_logit) - sigmoid(logit)[:, None, None]
    np.testing.assert_allclose(scores, expected, atol=1e-6)


@pytest.mark.parametrize("method", ["saliency", "ism"])
def test_results_do_not_depend_on_batch_size(method):
    model = SmallCNN()
    x = random_one_hot(3, seed=7)
    results = [attribution(model, x, method=method, batch_size=b) for b in (1, 3, 1000)]
    for other in results[1:]:
        np.testing.assert_allclose(results[0], other, rtol=1e-5, atol=1e-6)


def test_eval_mode_is_used_and_training_mode_restored():
    model = SmallCNN().train()
    x = random_one_hot(4, seed=8)
    first = attribution(model, x, method="saliency")
    second = attribution(model, x, method="saliency")
    np.testing.assert_array_equal(first, second)  # dropout off
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_target_by_name_on_a_model_and_tensor_input():
    weight = integer_weights(seed=9)
    model = with_outputs(PositionLinear(weight), ["enhancer", "promoter"], LENGTH)
    x = random_one_hot(3, seed=9)
    by_name = attribution(model, torch.from_numpy(x), method="ism", target="promoter")
    by_index = attribution(model.network, x, method="ism", target=1)
    np.testing.assert_array_equal(by_name, by_index)
    assert not np.array_equal(by_name, attribution(model, x, method="ism", target="enhancer"))


def test_target_errors_name_the_valid_outputs():
    model = with_outputs(PositionLinear(integer_weights()), ["enhancer", "promoter"], LENGTH)
    x = random_one_hot(1)
    with pytest.raises(UsageError, match="enhancer, promoter"):
        attribution(model, x, target="silencer")
    with pytest.raises(UsageError, match="out of range"):
        attribution(model, x, target=2)
    with pytest.raises(UsageError, match="no output names"):
        attribution(model.network, x, target="enhancer")
    with pytest.raises(UsageError, match="out of range"):
        attribution(model.network, x, method="ism", target=5)


def test_input_errors():
    model = with_outputs(PositionLinear(integer_weights()), ["a", "b"], LENGTH)
    with pytest.raises(UsageError, match="saliency, ism"):
        attribution(model, random_one_hot(1), method="deeplift")
    with pytest.raises(UsageError, match="sigmoid"):
        attribution(model, random_one_hot(1), transform="tanh")
    with pytest.raises(DataError, match=r"\(N, 4, L\)"):
        attribution(model, np.zeros((2, LENGTH), dtype=np.float32))
    with pytest.raises(ModelError, match=f"length {LENGTH}, got length 10"):
        attribution(model, random_one_hot(1, length=10))


def test_empty_input_gives_empty_scores():
    model = PositionLinear(integer_weights())
    scores = attribution(model, np.zeros((0, 4, LENGTH), dtype=np.float32), method="ism")
    assert scores.shape == (0, 4, LENGTH)


def test_save_and_load_attributions_round_trip(tmp_path):
    x = random_one_hot(3)
    scores = np.random.default_rng(0).normal(size=x.shape).astype(np.float32)
    path = tmp_path / "out" / "attributions.npz"
    path.parent.mkdir()
    path.write_bytes(b"old contents")
    written = save_attributions(path, ["s1", "s2", "s3"], x, scores, "ism", "promoter")
    assert written == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["attributions.npz"]
    loaded = load_attributions(path)
    assert loaded["ids"] == ["s1", "s2", "s3"]
    np.testing.assert_array_equal(loaded["one_hot"], x)
    np.testing.assert_array_equal(loaded["scores"], scores)
    assert (loaded["method"], loaded["target"]) == ("ism", "promoter")


def test_save_attributions_rejects_mismatched_shapes(tmp_path):
    x = random_one_hot(2)
    with pytest.raises(DataError, match="ids"):
        save_attributions(tmp_path / "a.npz", ["only one"], x, x, "saliency", 0)
    with pytest.raises(DataError, match="same"):
        save_attributions(tmp_path / "a.npz", ["s1", "s2"], x, x[:, :, :5], "saliency", 0)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="not an attribution file"):
        (tmp_path / "bad.npz").write_text("not a zip")
        load_attributions(tmp_path / "bad.npz")


def test_resolve_target_by_name_or_index():
    assert resolve_target("promoter", ["enhancer", "promoter"]) == 1
    assert resolve_target(0, None) == 0
    with pytest.raises(UsageError, match="out of range"):
        resolve_target(2, ["a", "b"])


def test_named_transforms_are_those_of_forward():
    model = SmallCNN(n_outputs=3)
    x = random_one_hot(3, seed=10)
    for name, fn in [("softmax", lambda out: torch.softmax(out, dim=1)), ("exp", torch.exp)]:
        by_name = attribution(model, x, method="ism", target=2, transform=name)
        by_callable = attribution(model, x, method="ism", target=2, transform=fn)
        np.testing.assert_array_equal(by_name, by_callable)
    identity = attribution(model, x, method="saliency", transform="identity")
    np.testing.assert_array_equal(identity, attribution(model, x, method="saliency"))


def test_bundle_path_model_and_bare_network_agree(tmp_path):
    from seqcnn.bundle import load_model, save_model
    from seqcnn.models import build_model

    network = build_model("cnn", 40, 2, first_filters=4, conv_filters=[4], dense_units=8)
    config = {"alphabet": "ACGT", "input_length": 40, "n_encoding": "zeros",
              "task": "multilabel", "output_names": ["a", "b"],
              "output_transform": "sigmoid", "receptive_field": 19}  # fmt: skip
    save_model(network, config, tmp_path)
    x = random_one_hot(2, length=40, seed=11)
    from_path = attribution(tmp_path, x, method="ism", target="b")
    np.testing.assert_array_equal(from_path, attribution(load_model(tmp_path), x, "ism", "b"))
    np.testing.assert_array_equal(from_path, attribution(network, x, "ism", "output_1"))
    with pytest.raises(ModelError, match="length 40, got length 12"):
        attribution(network, random_one_hot(1), method="ism")

"""DeepLIFT/SHAP: analytic values on a linear model, the sum rule on every architecture
seqcnn builds, N padding, references, and a convergence check that catches what is wrong."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from conftest import random_sequences
from helpers_models import ToySeqCNN
from torch import nn

from seqcnn.attribution import METHODS, attribution, check_convergence, deep_lift_shap
from seqcnn.deeplift import DEFAULT_TOLERANCE, dinucleotide_references
from seqcnn.errors import UsageError
from seqcnn.models import build_model
from seqcnn.models.blocks import GlobalPool
from seqcnn.onehot import one_hot

# The optional "discover" extra (pip install 'seqcnn[discover]').
pytest.importorskip("tangermeme")


def _x(n: int, length: int, seed: int = 0) -> np.ndarray:
    return one_hot(random_sequences(n, length, seed))


def _scramble_batch_norm(network: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial running statistics, so eval-mode batch norm is not the identity."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.BatchNorm1d):
                size = module.num_features
                module.running_mean.copy_(torch.rand(size, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(size, generator=generator) * 0.4 - 0.2)
    return network.eval()


def test_deeplift_shap_is_an_attribution_method():
    assert "deeplift_shap" in METHODS


def test_linear_model_attributions_are_analytic():
    """f(x) = <W, x> + b: the multiplier of every base is its weight, so the hypothetical
    score of base b at l is W[b, l] - mean_k <r_k[:, l], W[:, l]>."""
    torch.manual_seed(0)
    length, shuffles, seed = 30, 6, 3
    network = nn.Sequential(nn.Flatten(), nn.Linear(4 * length, 2)).eval()
    x = _x(5, length)
    x[1, :, :4] = 0.0  # N padding
    result = deep_lift_shap(network, x, target=1, n_shuffles=shuffles, seed=seed)

    weight = network[1].weight[1].detach().numpy().reshape(4, length).astype(np.float64)
    references = dinucleotide_references(x, shuffles, seed)
    expected = weight[None] - np.einsum("nkcl,cl->nl", references, weight)[:, None] / shuffles
    np.testing.assert_allclose(result.hypothetical, expected, atol=1e-5)
    np.testing.assert_allclose(result.attributions, expected * x, atol=1e-5)
    assert np.all(result.attributions[1][:, :4] == 0)
    # The sum rule, with the outputs computed directly.
    with torch.no_grad():
        fx = network(torch.from_numpy(x))[:, 1].numpy()
        fr = network(torch.from_numpy(references.reshape(-1, 4, length)))[:, 1].numpy()
    difference = fx - fr.reshape(5, shuffles).mean(axis=1)
    np.testing.assert_allclose(result.attributions.sum(axis=(1, 2)), difference, atol=1e-5)
    assert result.convergence.converged
    np.testing.assert_allclose(result.convergence.output_difference, difference, atol=1e-5)


@pytest.mark.parametrize(
    "architecture, options",
    [
        ("cnn", {"first_activation": "relu"}),
        ("cnn", {"first_activation": "exp", "global_pool": "max"}),
        ("resnet", {"first_activation": "exp", "block_filters": [8, 8]}),
        ("dilated", {"global_pool": "max", "dilated_layers": 3}),
        ("dilated", {"first_activation": "gelu", "dilated_layers": 2}),
    ],
)
def test_every_architecture_converges(architecture, options):
    """Exp, residual adds, max and average pooling, global max, batch norm in eval mode."""
    torch.manual_seed(1)
    sizes = {"first_filters": 8, "dense_units": 16}
    if architecture == "cnn":
        sizes["conv_filters"] = [8]
    network = _scramble_batch_norm(build_model(architecture, 60, 3, **sizes, **options))
    x = _x(6, 60, seed=2)
    x[0, :, 50:] = 0.0
    for target, transform in ((2, None), ([0, 1, 2], "sigmoid")):
        result = deep_lift_shap(network, x, target=target, transform=transform, n_shuffles=4)
        assert result.convergence.converged, result.convergence.summary()
        assert result.convergence.relative_error < DEFAULT_TOLERANCE
        np.testing.assert_allclose(result.attributions, result.hypothetical * x, atol=1e-6)
        assert np.all(result.attributions[0][:, 50:] == 0)


def test_attribution_method_matches_deep_lift_shap():
    torch.manual_seed(2)
    network = build_model("cnn", 40, 2, first_filters=4, conv_filters=[4], dense_units=8)
    x = _x(3, 40)
    scores = attribution(network, x, method="deeplift_shap", target="output_1")
    result = deep_lift_shap(network, x, target=1)
    np.testing.assert_array_equal(scores, result.attributions)
    assert scores.shape == x.shape and scores.dtype == np.float32


def test_convergence_check_catches_a_broken_reference():
    torch.manual_seed(3)
    network = _scramble_batch_norm(
        build_model("cnn", 50, 1, first_filters=6, conv_filters=[6], dense_units=8)
    )
    x = _x(8, 50, seed=4)
    result = deep_lift_shap(network, x, n_shuffles=5, seed=7)
    right = dinucleotide_references(x, 5, 7)
    assert check_convergence(network, x, result.attributions, right).converged
    # References the attributions were not computed against: other shuffles, or no
    # reference at all (all zeros), break the sum and the check says so.
    other = dinucleotide_references(x, 5, 8)
    broken = check_convergence(network, x, result.attributions, other)
    assert not broken.converged and broken.relative_error > 10 * DEFAULT_TOLERANCE
    assert "NOT converged" in broken.summary()
    assert not check_convergence(network, x, result.attributions, np.zeros_like(right)).converged


class _FunctionalExp(nn.Module):
    """A network with an operation no DeepLIFT rule sees: a functional exp."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 3, 5)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(torch.exp(self.conv(x)).mean(dim=-1))


@pytest.mark.parametrize("make", [_FunctionalExp, None])
def test_an_operation_without_a_rule_is_reported(make, caplog):
    torch.manual_seed(4)
    if make is None:  # adaptive max pooling has no rule either
        pwm = np.full((6, 4), 0.1)
        pwm[np.arange(6), [0, 1, 2, 3, 0, 1]] = 0.7
        network = ToySeqCNN(np.log2(pwm / 0.25).T[None], bias=[-2.0])
    else:
        network = make().eval()
    with caplog.at_level(logging.WARNING, logger="seqcnn"):
        result = deep_lift_shap(network, _x(10, 40, seed=5), n_shuffles=4)
    assert not result.convergence.converged
    assert "NOT converged" in caplog.text


def test_global_pool_rule_sums_to_the_difference():
    torch.manual_seed(5)
    for mode in ("max", "avg"):
        network = nn.Sequential(nn.Conv1d(4, 5, 7), nn.ReLU(), GlobalPool(mode), nn.Linear(5, 1))
        result = deep_lift_shap(network.eval(), _x(6, 40, seed=6), n_shuffles=5)
        assert result.convergence.relative_error < 1e-4, mode


def test_references_keep_dinucleotides_and_n_columns():
    x = _x(4, 40, seed=7)
    x[2, :, :5] = 0.0
    x[3, :, 10] = 0.25
    references = dinucleotide_references(x, 3, seed=1)
    assert references.shape == (4, 3, 4, 40)
    np.testing.assert_array_equal(references[2, :, :, :5], 0.0)
    np.testing.assert_array_equal(references[3, :, :, 10], 0.25)

    def dinucleotides(column_major):
        codes = column_major.argmax(axis=0)
        return sorted(zip(codes[:-1], codes[1:], strict=True))

    for k in range(3):
        assert dinucleotides(references[0, k]) == dinucleotides(x[0])
        assert not np.array_equal(references[0, k], x[0])
    # Sequence i draws its own stream: chunks give the same references.
    np.testing.assert_array_equal(dinucleotide_references(x[2:], 3, 1, first=2), references[2:])


def test_deep_lift_shap_checks_its_arguments():
    network = nn.Sequential(nn.Flatten(), nn.Linear(40, 1))
    with pytest.raises(UsageError, match="n_shuffles"):
        deep_lift_shap(network, _x(2, 10), n_shuffles=0)
    with pytest.raises(UsageError, match="transform"):
        deep_lift_shap(network, _x(2, 10), transform="tanh")
    with pytest.raises(UsageError, match="out of range"):
        deep_lift_shap(network, _x(2, 10), target=3)

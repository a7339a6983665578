"""Per-position networks: unet, bpnet and position heads on sequence trunks (issue 17).

Output shapes are checked against a forward pass, receptive fields against the input bases
that really move an output (gradients over random inputs), and the output window against
the base each output position stands for.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run_seqcnn

from seqcnn.errors import ModelError, UsageError
from seqcnn.models import ARCHITECTURES, build_model, default_options, describe, receptive_field
from seqcnn.models.names import ARCHITECTURE_NAMES

SMALL_UNET = {"first_filters": 4, "bottleneck_filters": 4}


def _forward(model, length: int, batch: int = 2) -> torch.Tensor:
    torch.manual_seed(0)
    with torch.no_grad():
        return model.eval()(torch.randn(batch, 4, length))


def _linearised(model):
    """The same wiring with every ReLU an identity and every max-pool an average: then each
    input base a layer is wired to moves the output, whatever the weights and inputs."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.ReLU):
                setattr(module, name, torch.nn.Identity())
            elif isinstance(child, torch.nn.MaxPool1d):
                pool = torch.nn.AvgPool1d(child.kernel_size, child.stride, ceil_mode=True)
                setattr(module, name, pool)
    return model


def _dependent_bases(model, position: int, length: int, trials: int = 4) -> np.ndarray:
    """Input bases whose value changes output ``position`` (union over random inputs)."""
    model = _linearised(model).double().eval()
    torch.manual_seed(1)
    x = torch.randn(trials, 4, length, dtype=torch.float64, requires_grad=True)
    model(x)[:, :, position].sum().backward()
    return np.flatnonzero(x.grad.abs().sum(dim=(0, 1)).numpy() > 0)


def test_architecture_names_match_the_registry():
    assert tuple(ARCHITECTURES) == ARCHITECTURE_NAMES
    assert ARCHITECTURE_NAMES[-2:] == ("unet", "bpnet")
    assert default_options("bpnet")["profile_width"] == 75
    assert default_options("unet")["encoder_filters"] == [32, 64, 128]


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("length", [64, 101, 203])
def test_unet_output_covers_every_base_at_any_length(depth, length):
    model = build_model("unet", length, 3, encoder_filters=[4] * depth, **SMALL_UNET)
    assert model.head_kind == "position"
    assert model.config["head"] == "position"
    assert model.output_shape() == (3, length)
    assert tuple(_forward(model, length).shape) == (2, 3, length)
    # Not only the built length: a longer input gives a longer output, base for base.
    assert tuple(_forward(model, length + 7).shape) == (2, 3, length + 7)
    assert model.output_shape(length + 7) == (3, length + 7)
    assert model.head.output_offset(length) == 0


def test_unet_output_length_crops_the_centre():
    model = build_model("unet", 200, 1, encoder_filters=[4, 4], output_length=100, **SMALL_UNET)
    assert model.output_shape() == (1, 100)
    assert model.head.output_offset(200) == 50
    full = build_model("unet", 200, 1, encoder_filters=[4, 4], **SMALL_UNET)
    full.load_state_dict(model.state_dict())
    assert torch.equal(_forward(model, 200), _forward(full, 200)[..., 50:150])
    with pytest.raises(UsageError, match="odd"):
        build_model("unet", 200, 1, output_length=99)
    with pytest.raises(UsageError, match="too long"):
        build_model("unet", 200, 1, output_length=201)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_unet_receptive_field_is_what_moves_an_output(depth):
    model = build_model(
        "unet", 400, 1, encoder_filters=[2] * depth, first_activation="softplus", **SMALL_UNET
    )
    field = receptive_field(model)
    # By hand for depth 1 (stem 15, width 5, pool 2): 15 + 2*4 + 1 (pool) + 2*4*2
    # (bottleneck) + up to 2 more coarse positions reached by the two decoder convolutions.
    assert {1: 48, 2: 98, 3: 198}[depth] == field
    spans = []
    for position in range(200, 200 + 2**depth):
        bases = _dependent_bases(model, position, 400)
        assert bases.min() <= position <= bases.max()
        spans.append(bases.max() - bases.min() + 1)
    assert max(spans) == field


@pytest.mark.parametrize("layers", [0, 2, 3])
def test_bpnet_receptive_field_and_centre(layers):
    model = build_model(
        "bpnet", 300, 2, first_filters=4, dilated_layers=layers, profile_width=9, first_width=7
    )
    # stem 7 + 2 * (2 + 4 + ...) for the dilated layers + the profile convolution's 8
    expected = 7 + 2 * sum(2**i for i in range(1, layers + 1)) + 8
    assert receptive_field(model) == expected
    margin = model.head.output_offset(300)
    assert margin == 3 + 4  # the stem's and the profile convolution's half widths
    assert model.output_shape() == (2, 300 - 2 * margin)
    bases = _dependent_bases(model, 10, 300)
    # Output position 10 stands for base margin + 10, in the middle of what moves it (the
    # counts head's mean over the map touches every base; profile logits dominate the span
    # only through the softmax, so check the profile convolution's window instead).
    assert bases.min() <= margin + 10 <= bases.max()


def test_bpnet_counts_pool_log_mean_exp_by_hand():
    model = build_model(
        "bpnet", 80, 2, first_filters=3, dilated_layers=1, profile_width=5, counts_pool="logmeanexp"
    )
    head = model.head
    assert head.counts_pool == "logmeanexp"
    torch.manual_seed(2)
    features = torch.randn(4, 3, 80 - 2 * head.output_offset(80) + 4)
    # one log-rate per track and position, then the log of the mean of their exponentials
    rates = torch.einsum("tc,ncl->ntl", head.counts.weight[:, :, 0], features)
    rates = rates + head.counts.bias[None, :, None]
    expected = torch.log(torch.exp(rates).mean(dim=-1))
    with torch.no_grad():
        assert torch.allclose(head.log_counts(features), expected, atol=1e-5)
        # the output carries it exactly: its logsumexp over positions is the counts head
        assert torch.allclose(torch.logsumexp(head(features), dim=-1), expected, atol=1e-5)
    head.start_counts_at(torch.tensor([1.5, -0.5]))
    with torch.no_grad():  # a map of zeros then predicts the starting values
        zeros = head.log_counts(torch.zeros(1, 3, 20))
    assert torch.allclose(zeros, torch.tensor([[1.5, -0.5]]))


def test_bpnet_counts_pool_is_checked_and_kept_in_the_config():
    with pytest.raises(UsageError, match="counts_pool"):
        build_model("bpnet", 200, 1, first_filters=4, counts_pool="max")
    assert default_options("bpnet")["counts_pool"] == "avg"  # BPNet's, for old bundles too
    model = build_model("bpnet", 200, 1, first_filters=4, counts_pool="logmeanexp")
    assert model.config["options"]["counts_pool"] == "logmeanexp"


def test_bpnet_chrombpnet_geometry():
    model = build_model("bpnet", 2114, 1, output_length=1000, first_filters=4)
    assert model.output_shape() == (1, 1000)
    assert model.head.output_offset(2114) == 557
    assert receptive_field(model) == 1115  # no output base sees padding at 2114 -> 1000
    out = _forward(model, 2114, batch=1)
    assert tuple(out.shape) == (1, 1, 1000)
    # One tensor, both heads: softmax over positions is the profile, logsumexp the counts.
    profile = torch.softmax(out, dim=-1)
    assert torch.allclose(profile.sum(-1), torch.ones(1, 1), atol=1e-5)
    features = model.embed(torch.randn(1, 4, 2114))
    log_counts = model.head.counts(features.mean(-1))
    assert torch.allclose(torch.logsumexp(model.head(features), dim=-1), log_counts, atol=1e-4)


@pytest.mark.parametrize("architecture", ["dilated", "resnet", "cnn"])
def test_position_head_on_sequence_trunks(architecture):
    model = build_model(architecture, 200, 2, head="position", first_filters=4)
    assert model.head_kind == "position" and model.config["head"] == "position"
    out = _forward(model, 200)
    assert tuple(out.shape) == (2, *model.output_shape())
    margin = model.head.output_offset(200)
    assert out.shape[-1] == 200 - 2 * margin
    if architecture != "cnn":  # cnn flattens by default, but a position head needs none
        assert tuple(_forward(model, 260).shape) == (2, *model.output_shape(260))
    # The network built from its own config has the same head and shape.
    rebuilt = build_model(**model.config)
    assert rebuilt.head_kind == "position" and rebuilt.output_shape() == model.output_shape()


def test_dilated_position_output_is_centred_on_its_base():
    model = build_model(
        "dilated", 120, 1, head="position", first_filters=4, first_width=9, dilated_layers=2
    )
    margin = model.head.output_offset(120)
    assert margin == 4
    for position in (0, 30, model.output_shape()[-1] - 1):
        bases = _dependent_bases(model, position, 120)
        if position == 30:  # away from the ends, the window is centred on its base
            assert (bases.min() + bases.max()) / 2 == margin + position
            assert bases.max() - bases.min() + 1 == receptive_field(model)
        assert bases.min() <= margin + position <= bases.max()


def test_sequence_trunks_keep_their_sequence_head():
    model = build_model("dilated", 200, 3)
    assert model.head_kind == "sequence" and "head" not in model.config
    assert model.output_shape() == (3,)
    with pytest.raises(UsageError, match="position head only"):
        build_model("unet", 200, 1, head="sequence")
    with pytest.raises(UsageError, match="unknown head"):
        build_model("cnn", 200, 1, head="pixel")


def test_too_short_for_any_output():
    model = build_model("bpnet", 200, 1, first_filters=4)
    with pytest.raises(ModelError, match="no output"):
        model.output_shape(60)


def test_describe_names_the_output_window():
    text = describe(build_model("bpnet", 2114, 1, output_length=1000, first_filters=4))
    assert "output shape (1, 1000)" in text
    assert "receptive field: 1115 bases (of one output position)" in text
    assert "input bases 557..1556" in text


def test_cli_describe_unet():
    result = run_seqcnn("describe", "unet", "--length", "2000")
    assert result.returncode == 0, result.stderr
    assert "head: position, output shape (1, 2000)" in result.stdout
    assert "body.tower.up0" in result.stdout


def test_model_config_file_names_the_head(tmp_path):
    from seqcnn.models import load_model_config

    path = tmp_path / "model.yaml"
    path.write_text("architecture: dilated\nhead: position\noptions:\n  dilated_layers: 2\n")
    architecture, options = load_model_config(path)
    assert options == {"dilated_layers": 2, "head": "position"}
    model = build_model(architecture, 100, 1, **options)
    assert model.head_kind == "position"
    # A saved model's description (config.json's "model") reads back the same way.
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps(model.config))
    assert load_model_config(saved)[1]["head"] == "position"

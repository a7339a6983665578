"""Tests for seqcnn.models: blocks, architectures, heads, receptive field, description,
configs."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from seqcnn.errors import ModelError, UsageError  # noqa: E402
from seqcnn.models import (  # noqa: E402
    ACTIVATIONS,
    ARCHITECTURES,
    HEAD_KINDS,
    SeqCNN,
    SequenceHead,
    build_model,
    default_options,
    describe,
    load_model_config,
    make_activation,
    receptive_field,
    summary,
)
from seqcnn.models.blocks import (  # noqa: E402
    ConvBlock,
    DilatedResidualBlock,
    Exp,
    GlobalPool,
    ResidualBlock,
    Stem,
)
from seqcnn.models.heads import Head  # noqa: E402
from seqcnn.models.names import POSITION_ARCHITECTURES  # noqa: E402

# Architectures with a sequence head (unet and bpnet: tests/test_position_models.py).
SEQUENCE_ARCHITECTURES = sorted(set(ARCHITECTURES) - set(POSITION_ARCHITECTURES))


def empirical_receptive_field(module: nn.Module, channels: int, length: int) -> int:
    """Span of input positions with a non-zero gradient for the middle output position.

    A batch of random inputs makes every max-pool window and ReLU pass gradient for some
    sample, so the union over the batch covers the whole receptive field.
    """
    torch.manual_seed(1)
    module.eval()
    x = torch.randn(16, channels, length, requires_grad=True)
    y = module(x)
    y[..., y.shape[-1] // 2].sum().backward()
    hit = torch.nonzero(x.grad.abs().sum(dim=(0, 1))).flatten()
    # A window cut by the sequence's ends would be measured too small.
    assert 0 < hit[0] and hit[-1] < length - 1, "measurement window touches the ends"
    return int(hit[-1] - hit[0] + 1)


# --------------------------------------------------------------------------- activations


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_make_activation_returns_fresh_modules(name):
    first, second = make_activation(name), make_activation(name)
    assert isinstance(first, nn.Module) and first is not second
    x = torch.linspace(-3, 3, 7)
    assert first(x).shape == x.shape


def test_make_activation_unknown_name_lists_choices():
    with pytest.raises(UsageError, match="unknown activation 'swish'.*relu, gelu, elu, softplus"):
        make_activation("swish")


def test_exp_activation_is_exp_below_the_clamp_and_finite_above():
    activation = make_activation("exp")
    assert isinstance(activation, Exp)
    x = torch.tensor([-5.0, 0.0, 2.0, 9.0])
    torch.testing.assert_close(activation(x), torch.exp(x))
    large = torch.tensor([50.0, 1e4, 1e30, float("inf")])
    assert torch.isfinite(activation(large)).all()
    assert torch.isfinite(activation(large.half())).all()
    assert torch.isfinite(activation(large.bfloat16())).all()


def test_exp_activation_passes_finite_gradients_for_large_inputs():
    x = torch.tensor([1.0, 1e4], requires_grad=True)
    make_activation("exp")(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[0] == pytest.approx(torch.e)


# --------------------------------------------------------------------------- blocks


@pytest.mark.parametrize(
    ("kwargs", "length", "expected"),
    [
        ({"padding": "valid"}, 50, 46),
        ({"padding": "same"}, 50, 50),
        ({"padding": "same", "stride": 2}, 51, 26),
        ({"padding": "valid", "dilation": 3}, 50, 38),
        ({"padding": "same", "dilation": 3}, 50, 50),
        ({"pool": "max", "pool_size": 4}, 50, 13),
        ({"pool": "avg", "pool_size": 5, "dropout": 0.5}, 50, 10),
    ],
)
def test_conv_block_output_shape(kwargs, length, expected):
    block = ConvBlock(4, 8, 5, **kwargs)
    assert block(torch.randn(3, 4, length)).shape == (3, 8, expected)


def test_conv_block_same_padding_with_even_kernel():
    assert ConvBlock(4, 8, 4, padding="same")(torch.randn(2, 4, 30)).shape == (2, 8, 30)


def test_conv_block_batch_norm_replaces_the_bias():
    assert ConvBlock(4, 8, 3).conv.bias is None
    assert ConvBlock(4, 8, 3, batch_norm=False).conv.bias is not None
    assert isinstance(ConvBlock(4, 8, 3, batch_norm=False).norm, nn.Identity)


def test_conv_block_rejects_unknown_padding():
    with pytest.raises(ValueError, match="padding"):
        ConvBlock(4, 8, 3, padding="full")


def test_residual_block_identity_shortcut():
    block = ResidualBlock(16, 16, 3)
    assert isinstance(block.shortcut, nn.Identity)
    assert block(torch.randn(2, 16, 40)).shape == (2, 16, 40)


@pytest.mark.parametrize(("out_channels", "stride", "expected"), [(32, 1, 40), (16, 2, 20)])
def test_residual_block_projection_shortcut(out_channels, stride, expected):
    block = ResidualBlock(16, out_channels, 5, stride=stride)
    assert isinstance(block.shortcut, ConvBlock)
    assert block.shortcut.conv.kernel_size == (1,)
    assert block.shortcut.conv.stride == (stride,)
    assert block(torch.randn(2, 16, 40)).shape == (2, out_channels, expected)
    assert block(torch.randn(2, 16, 41)).shape[-1] == -(-41 // stride)


def test_dilated_residual_block_keeps_shape_and_adds_the_input():
    block = DilatedResidualBlock(8, dilation=4).eval()
    x = torch.randn(2, 8, 33)
    assert block(x).shape == x.shape
    with torch.no_grad():
        block.main.conv.weight.zero_()
    torch.testing.assert_close(block(x), x)


def test_stem_is_a_valid_conv_of_one_hot_input():
    stem = Stem(12, 7, "exp")
    assert stem(torch.randn(2, 4, 30)).shape == (2, 12, 24)
    assert isinstance(stem.activation, Exp)


@pytest.mark.parametrize(("mode", "reduce"), [("max", torch.amax), ("avg", torch.mean)])
def test_global_pool(mode, reduce):
    x = torch.randn(3, 5, 11)
    torch.testing.assert_close(GlobalPool(mode)(x), reduce(x, dim=-1))


# --------------------------------------------------------------------------- architectures


@pytest.mark.parametrize("architecture", SEQUENCE_ARCHITECTURES)
@pytest.mark.parametrize(("length", "n_outputs"), [(50, 1), (100, 3), (200, 12), (1000, 2)])
def test_forward_and_embedding_shapes(architecture, length, n_outputs):
    model = build_model(architecture, length, n_outputs)
    x = torch.randn(2, 4, length)
    assert model(x).shape == (2, n_outputs)
    embedding = model.embed(x)
    assert embedding.shape == (2, model.head.in_features)
    assert model.trunk(x).ndim == 3


def test_cnn_handles_long_sequences_without_new_options():
    model = build_model("cnn", 2000, 4)
    assert model(torch.randn(2, 4, 2000)).shape == (2, 4)


@pytest.mark.parametrize("architecture", SEQUENCE_ARCHITECTURES)
def test_stem_contract(architecture):
    model = build_model(architecture, 150, 2, first_filters=10, first_width=13)
    conv = model.stem.conv
    assert isinstance(conv, nn.Conv1d)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (4, 10, (13,))
    assert conv.padding == (0,) and conv.stride == (1,) and conv.dilation == (1,)
    assert model.stem(torch.randn(2, 4, 150)).shape == (2, 10, 150 - 13 + 1)
    assert isinstance(model.head, nn.Linear) and model.head.out_features == 2


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_config_round_trip_rebuilds_the_same_network(architecture):
    torch.manual_seed(0)
    model = build_model(architecture, 120, 5, first_activation="exp", dropout=0.1).eval()
    config = json.loads(json.dumps(model.config))  # as it would be saved to config.json
    assert config == model.config
    assert config["options"] == {
        **default_options(architecture),
        **model.sized_options,  # the length-aware choices are recorded too
        "first_activation": "exp",
        "dropout": 0.1,
    }
    torch.manual_seed(1)
    rebuilt = build_model(**config).eval()
    expected = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == expected
    x = torch.randn(3, 4, 120)
    assert not torch.allclose(rebuilt(x), model(x))  # different seed: different weights
    rebuilt.load_state_dict(model.state_dict())
    torch.testing.assert_close(rebuilt(x), model(x))


def test_config_records_options_given_as_mapping_and_keywords():
    model = build_model("cnn", 200, 2, {"conv_filters": (32, 16)}, conv_width=3)
    assert model.config["options"]["conv_filters"] == [32, 16]
    assert model.config["options"]["conv_width"] == 3
    assert sum(isinstance(m, ConvBlock) for m in model.body.tower) == 2
    with pytest.raises(UsageError, match="conv_width"):
        build_model("cnn", 200, 2, {"conv_width": 3}, conv_width=5)


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_same_seed_gives_identical_weights(architecture):
    def weights(seed):
        torch.manual_seed(seed)
        return build_model(architecture, 100, 3).state_dict()

    first, again, other = weights(7), weights(7), weights(8)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["stem.conv.weight"], other["stem.conv.weight"])


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_default_models_are_small(architecture):
    n = sum(p.numel() for p in build_model(architecture, 200, 12).parameters())
    assert 50_000 <= n <= 1_000_000


def test_default_options_are_complete_and_accepted():
    for architecture in ARCHITECTURES:
        options = default_options(architecture)
        assert {"first_filters", "first_width", "first_activation", "dropout", "batch_norm"} <= set(
            options
        )
        model = build_model(architecture, 200, 1, **options)
        assert model.config["options"] == options
    assert default_options("cnn")["first_pool"] == 25


@pytest.mark.parametrize("architecture", ["resnet", "dilated"])
def test_towers_default_to_an_exp_first_layer_and_global_max_pooling(architecture):
    # Measured on the planted demo (benchmarks/RESULTS.md, issue 21): relu + global average
    # trailed the cnn by 0.02-0.04 test AUROC, these by 0.002-0.007.
    model = build_model(architecture, 200, 1)
    assert isinstance(model.stem.activation, Exp)
    assert isinstance(model.body.reduce[0], GlobalPool) and model.body.reduce[0].mode == "max"
    cnn = build_model("cnn", 200, 1)
    assert isinstance(cnn.stem.activation, nn.ReLU)


def test_options_change_the_network():
    model = build_model("dilated", 300, 1, dilated_layers=3, batch_norm=False, global_pool="max")
    assert len(model.body.tower) == 3
    assert [block.main.conv.dilation[0] for block in model.body.tower] == [2, 4, 8]
    assert not any(isinstance(m, nn.BatchNorm1d) for m in model.modules())
    assert isinstance(model.body.reduce[0], GlobalPool) and model.body.reduce[0].mode == "max"
    no_dense = build_model("resnet", 200, 1, dense_units=0, block_filters=[8, 24])
    assert no_dense.head.in_features == 24


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"first_filter": 32}, r"unknown option 'first_filter'.*did you mean 'first_filters'"),
        ({"dilated_layers": 4}, r"unknown option 'dilated_layers' for architecture 'cnn'"),
        ({"first_width": 0}, r"option 'first_width' must be a positive integer, got 0"),
        ({"first_width": 9.5}, r"option 'first_width' must be a positive integer"),
        ({"batch_norm": "yes"}, r"option 'batch_norm' must be true or false"),
        ({"dropout": 1.0}, r"option 'dropout' must be a number in \[0, 1\)"),
        ({"first_activation": "tanh"}, r"'first_activation' must be one of relu, gelu"),
        ({"global_pool": "sum"}, r"'global_pool' must be one of none, max, avg"),
        ({"conv_filters": [64, -1]}, r"'conv_filters' must be a list of positive integers"),
    ],
)
def test_bad_options_raise_usage_errors_naming_the_option(options, pattern):
    with pytest.raises(UsageError, match=pattern) as raised:
        build_model("cnn", 200, 2, **options)
    assert raised.value.exit_code == 2


def test_unknown_option_message_lists_allowed_options():
    with pytest.raises(UsageError, match="allowed options: first_filters, first_width"):
        build_model("dilated", 200, 2, conv_pool=4)


def test_unknown_architecture_lists_choices():
    with pytest.raises(UsageError, match="unknown architecture 'vgg'; choose one of cnn"):
        build_model("vgg", 200, 2)


@pytest.mark.parametrize("architecture", SEQUENCE_ARCHITECTURES)
def test_too_short_input_states_the_minimum_length(architecture):
    width = default_options(architecture)["first_width"]
    with pytest.raises(UsageError, match=f"input length {width - 1} .* minimum length is {width}"):
        build_model(architecture, width - 1, 1)
    assert build_model(architecture, width, 1)(torch.randn(2, 4, width)).shape == (2, 1)


@pytest.mark.parametrize(("length", "n_outputs"), [(0, 1), (100, 0), (100.0, 1)])
def test_bad_lengths_and_outputs_raise(length, n_outputs):
    with pytest.raises(UsageError, match="must be a positive integer"):
        build_model("cnn", length, n_outputs)


def test_wrong_input_shapes_say_what_the_model_expects():
    flattening = build_model("cnn", 200, 1)
    with pytest.raises(ModelError, match="expects sequences of length 200, got length 150"):
        flattening(torch.randn(2, 4, 150))
    with pytest.raises(ModelError, match=r"shape \(N, 4, length\), got shape \(2, 5, 200\)"):
        flattening(torch.randn(2, 5, 200))
    pooling = build_model("dilated", 200, 1)
    assert pooling(torch.randn(2, 4, 150)).shape == (2, 1)  # global pooling: any length
    with pytest.raises(ModelError, match="shorter than the first layer"):
        pooling(torch.randn(2, 4, 10))


# --------------------------------------------------------------------------- heads

# The weights of build_model("cnn", 40, 2, **OLD_CNN_OPTIONS) as bundles saved before heads
# were named stored them (taken from that code): names, order and shapes must not change.
OLD_CNN_OPTIONS = {"first_filters": 4, "first_width": 5, "conv_filters": [6], "dense_units": 8}
OLD_CNN_LAYOUT = {
    "stem.conv.weight": (4, 4, 5),
    "stem.conv.bias": (4,),
    "stem.norm.weight": (4,),
    "stem.norm.bias": (4,),
    "stem.norm.running_mean": (4,),
    "stem.norm.running_var": (4,),
    "stem.norm.num_batches_tracked": (),
    "body.tower.2.conv.weight": (6, 4, 5),
    "body.tower.2.norm.weight": (6,),
    "body.tower.2.norm.bias": (6,),
    "body.tower.2.norm.running_mean": (6,),
    "body.tower.2.norm.running_var": (6,),
    "body.tower.2.norm.num_batches_tracked": (),
    "body.reduce.1.weight": (8, 6),
    "body.reduce.1.bias": (8,),
    "head.weight": (2, 8),
    "head.bias": (2,),
}


@pytest.mark.parametrize("architecture", SEQUENCE_ARCHITECTURES)
@pytest.mark.parametrize(("length", "n_outputs"), [(50, 1), (200, 12)])
def test_declared_output_shape_is_the_forward_shape(architecture, length, n_outputs):
    model = build_model(architecture, length, n_outputs).eval()
    assert model.head_kind == model.head.kind == "sequence"
    assert model.head_kind in HEAD_KINDS
    assert model.output_shape() == model.output_shape(length) == (n_outputs,)
    with torch.no_grad():
        assert model(torch.randn(3, 4, length)).shape[1:] == model.output_shape(length)
        if not model.body.fixed_length:  # global pooling: other lengths too
            other = 2 * length + 1
            assert model(torch.randn(2, 4, other)).shape[1:] == model.output_shape(other)


def test_output_shape_refuses_lengths_the_network_refuses():
    flattening = build_model("cnn", 200, 3)
    with pytest.raises(ModelError, match="expects sequences of length 200, got length 150"):
        flattening.output_shape(150)
    with pytest.raises(ModelError, match="shorter than the first layer"):
        build_model("dilated", 200, 3).output_shape(10)


def test_sequence_head_is_a_linear_layer_that_declares_its_shape():
    head = SequenceHead(16, 3)
    assert isinstance(head, nn.Linear) and isinstance(head, Head)
    assert head.kind == "sequence" and head.n_outputs == 3
    assert head.output_shape(100) == head.output_shape(5000) == (3,)
    assert list(head.state_dict()) == ["weight", "bias"]
    assert head(torch.randn(5, 16)).shape == (5, *head.output_shape(100))


def test_sequence_head_initialises_as_linear_did():
    torch.manual_seed(11)
    head = SequenceHead(32, 4)
    after_head = torch.rand(3)
    torch.manual_seed(11)
    linear = nn.Linear(32, 4)
    assert torch.equal(head.weight, linear.weight) and torch.equal(head.bias, linear.bias)
    assert torch.equal(after_head, torch.rand(3))  # and leaves the generator where it did


def test_weight_names_are_those_of_bundles_saved_before_heads():
    # Old bundles record every option, so the length-aware defaults do not apply to them.
    model = build_model("cnn", 40, 2, **{**default_options("cnn"), **OLD_CNN_OPTIONS})
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == OLD_CNN_LAYOUT
    assert list(model.state_dict()) == list(OLD_CNN_LAYOUT)


def test_an_old_style_bundle_still_loads(tmp_path):
    from safetensors.torch import save_file

    from seqcnn.bundle import FORMAT, FORMAT_VERSION, load_model

    # Weights as the old code wrote them: made without SequenceHead, the head a plain Linear.
    generator = torch.Generator().manual_seed(5)
    state = {
        name: torch.tensor(3) if not shape else torch.randn(shape, generator=generator)
        for name, shape in OLD_CNN_LAYOUT.items()
    }
    state["stem.norm.running_var"] = state["stem.norm.running_var"].abs()
    state["body.tower.2.norm.running_var"] = state["body.tower.2.norm.running_var"].abs()
    save_file(state, str(tmp_path / "weights.safetensors"))
    options = {**default_options("cnn"), **OLD_CNN_OPTIONS}
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"architecture": "cnn", "input_length": 40, "n_outputs": 2, "options": options},
        "task": "multilabel",
        "output_names": ["a", "b"],
        "input_length": 40,
        "weights": {"file": "weights.safetensors"},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = load_model(tmp_path)
    assert isinstance(loaded.network.head, SequenceHead)
    assert torch.equal(loaded.network.head.weight, state["head.weight"])
    assert loaded.network.head_kind == "sequence" and loaded.output_shape == (2,)
    old = build_model("cnn", 40, 2, **options)
    old.head = nn.Linear(8, 2)  # the old network, Linear head included
    old.load_state_dict(state)
    x = torch.randn(4, 4, 40)
    with torch.no_grad():
        torch.testing.assert_close(loaded.network(x), old.eval()(x), rtol=0, atol=0)


# --------------------------------------------------------------------------- receptive field


@pytest.mark.parametrize(
    ("block", "channels", "expected"),
    [
        (ConvBlock(4, 6, 7, padding="valid"), 4, 7),
        (ConvBlock(4, 6, 3, dilation=4), 4, 9),
        (ConvBlock(4, 6, 3, stride=2, dilation=2, pool="avg", pool_size=3), 4, 9),
        (ConvBlock(4, 6, 5, pool="max", pool_size=4), 4, 8),
        (ResidualBlock(6, 6, 3), 6, 5),
        (ResidualBlock(6, 8, 5, stride=2), 6, 13),
        (DilatedResidualBlock(6, dilation=8), 6, 17),
        (nn.Sequential(*[DilatedResidualBlock(6, 2**i) for i in range(1, 4)]), 6, 29),
        (Stem(6, 11), 4, 11),
    ],
)
def test_block_receptive_field_matches_gradients(block, channels, expected):
    assert receptive_field(block) == expected
    assert empirical_receptive_field(block, channels, 4 * expected + 40) == expected


@pytest.mark.parametrize(
    ("architecture", "options"),
    [
        ("cnn", {}),
        ("cnn", {"conv_filters": [32, 32], "first_pool": 5, "conv_pool": 3}),
        ("resnet", {}),
        ("resnet", {"block_stride": 3, "block_width": 3}),
        ("dilated", {}),
        ("dilated", {"dilated_layers": 3, "dilated_width": 5, "first_activation": "exp"}),
    ],
)
def test_architecture_receptive_field_matches_gradients(architecture, options):
    torch.manual_seed(0)
    probe = build_model(architecture, 200, 1, **options)
    expected = receptive_field(probe)
    length = 3 * expected + 60
    # The options the probe was built with: at another length the defaults would differ.
    model = build_model(architecture, length, 1, **probe.config["options"])
    assert receptive_field(model) == expected  # independent of the input length
    assert receptive_field(model.config) == expected
    trunk = nn.Sequential(model.stem, model.body.tower)
    assert empirical_receptive_field(trunk, 4, length) == expected


def test_receptive_field_of_known_architectures():
    # stem 21 + kernel-3 layers with dilations 2, 4, ..., 64: 21 + 2 * 126
    assert receptive_field(build_model("dilated", 200, 1)) == 273
    # stem 19, pool 25 (jump 25), conv 5 (+4 * 25), pool 4 (+3 * 25)
    assert receptive_field(build_model("cnn", 1000, 1, conv_filters=[128])) == 218


def test_receptive_field_rejects_position_mixing_modules():
    with pytest.raises(ValueError, match="GlobalPool mixes all positions"):
        receptive_field(nn.Sequential(nn.Conv1d(4, 4, 3), GlobalPool("max")))


# --------------------------------------------------------------------------- describe / summary


def test_summary_numbers_add_up():
    model = build_model("cnn", 200, 12)
    info = summary(model)
    total = sum(p.numel() for p in model.parameters())
    assert info["parameters"] == total == info["trainable_parameters"]
    assert sum(layer["parameters"] for layer in info["layers"]) == total
    assert info["receptive_field"] == receptive_field(model)
    names = [layer["name"] for layer in info["layers"]]
    assert names[0] == "stem" and names[-1] == "head"
    assert info["layers"][0]["output_shape"] == (64, 182)
    assert info["layers"][-1]["output_shape"] == (12,)
    assert info["head_kind"] == "sequence" and info["output_shape"] == (12,)


def test_summary_keeps_the_training_mode():
    model = build_model("resnet", 200, 2)
    model.train()
    summary(model)
    assert all(m.training for m in model.modules())
    model.eval()
    summary(model)
    assert not any(m.training for m in model.modules())


def test_describe_mentions_layers_parameters_and_receptive_field():
    model = build_model("dilated", 200, 3)
    model.stem.conv.weight.requires_grad_(False)
    text = describe(model)
    total = sum(p.numel() for p in model.parameters())
    trainable = total - model.stem.conv.weight.numel()
    assert f"total parameters: {total:,}" in text
    assert f"trainable parameters: {trainable:,}" in text
    assert f"receptive field: {receptive_field(model)} bases" in text
    assert "body.tower.5" in text and "(64, 180)" in text
    assert "head: sequence, output shape (3,) per sequence" in text
    assert "head: sequence, output shape (3,)" in describe(model, input_length=500)


def test_describe_accepts_a_loaded_model_wrapper():
    class Loaded:
        network = build_model("cnn", 100, 1)

    assert "total parameters" in describe(Loaded())
    assert isinstance(Loaded.network, SeqCNN)


# --------------------------------------------------------------------------- config files


def test_load_model_config_from_yaml(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("architecture: dilated\noptions:\n  dilated_layers: 8\nfirst_activation: exp\n")
    architecture, options = load_model_config(path)
    assert architecture == "dilated"
    assert options == {"dilated_layers": 8, "first_activation": "exp"}
    model = build_model(architecture, 300, 2, **options)
    assert len(model.body.tower) == 8


def test_load_model_config_from_json_and_saved_model_config(tmp_path):
    config = build_model("resnet", 200, 3, block_filters=[16, 32]).config
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    architecture, options = load_model_config(path)
    assert architecture == "resnet"
    assert options == config["options"]


@pytest.mark.parametrize(
    ("name", "text", "pattern"),
    [
        ("bad.yaml", "architecture: [cnn\n", "not valid YAML"),
        ("bad.json", "{architecture: cnn}", "not valid JSON"),
        ("list.yaml", "- cnn\n", "expected a mapping"),
        ("none.yaml", "options: {first_width: 9}\n", "no 'architecture' key; choose one of cnn"),
        ("arch.yaml", "architecture: vgg\n", "unknown architecture 'vgg'"),
        ("opt.yaml", "architecture: cnn\nfirst_widht: 9\n", "unknown option 'first_widht'"),
        ("val.json", '{"architecture": "cnn", "dropout": 2}', "'dropout' must be a number"),
    ],
)
def test_load_model_config_errors_name_the_file(tmp_path, name, text, pattern):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError, match=pattern) as raised:
        load_model_config(path)
    assert raised.value.path == str(path)
    assert str(path) in str(raised.value)


def test_load_model_config_missing_file(tmp_path):
    with pytest.raises(UsageError, match="cannot read the model configuration") as raised:
        load_model_config(tmp_path / "absent.yaml")
    assert raised.value.path.endswith("absent.yaml")

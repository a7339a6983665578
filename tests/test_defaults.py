"""Defaults that follow the data: length-aware architectures (seqcnn.models.sizing) and
data-size training options (seqcnn.training.options.data_defaults)."""

import json

import pytest
import torch
from conftest import TINY_MODEL, run_seqcnn

from seqcnn.models import build_model, default_options, receptive_field
from seqcnn.models.sizing import length_defaults
from seqcnn.training import TrainOptions, train
from seqcnn.training.options import data_defaults, resolve_data_defaults

# What the planted demo (200 bp, 21,000 training sequences) was tuned with.
DEMO_MODEL = {
    "cnn": {"first_pool": 25, "conv_pool": 4, "conv_filters": [128]},
    "resnet": {"block_filters": [64, 128, 128]},
    "dilated": {"dilated_layers": 6},
}


@pytest.mark.parametrize("architecture", sorted(DEMO_MODEL))
def test_the_demo_length_gets_the_settings_the_demo_was_tuned_with(architecture):
    for n_train in (None, 21_000):  # make demo: 70% of 30,000
        chosen = build_model(architecture, 200, 12, n_train=n_train).config["options"]
        assert {k: chosen[k] for k in DEMO_MODEL[architecture]} == DEMO_MODEL[architecture]
    assert data_defaults(21_000) == {
        "batch_size": 64,
        "learning_rate": 1e-3,
        "weight_decay": 1e-3,
        "patience": 6,
    }


def test_short_sequences_keep_every_position():
    for n_train in (None, 3_000, 500):  # a splice-site set of a few thousand: still every base
        model = build_model("cnn", 60, 3, n_train=n_train)
        assert model.sized_options == {"first_pool": 1, "conv_filters": [], "dense_units": 64}
        assert model.trunk(torch.zeros(1, 4, 60)).shape[-1] == 42  # every stem position
    dense = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][0]
    assert dense.in_features == 42 * 64 and dense.weight.numel() <= 200_000
    # From 83 bp (65 stem positions) the rule for longer inputs pools again.
    assert build_model("cnn", 82, 1).config["options"]["first_pool"] == 1
    assert build_model("cnn", 83, 1).config["options"]["first_pool"] == 65 // 7


def test_conv_blocks_the_user_asks_for_are_pooled_as_for_longer_inputs():
    model = build_model("cnn", 60, 1, conv_filters=[16])
    assert model.sized_options == {"first_pool": 6, "conv_pool": 4}


def test_small_training_sets_pool_more():
    def first_pool(n_train):
        return build_model("cnn", 120, 1, n_train=n_train).config["options"]["first_pool"]

    # 102 positions: >= 7 kept with 7,000+ sequences, 5 with 5,000, 2 with a few hundred
    assert [first_pool(n) for n in (None, 8_000, 5_000, 500)] == [14, 14, 20, 25]
    assert build_model("cnn", 200, 1, n_train=500).config["options"]["first_pool"] == 25


@pytest.mark.parametrize("length", [40, 60, 82, 100, 200, 500, 1000, 3000, 8000])
def test_cnn_dense_layer_sees_a_few_positions_at_any_length(length):
    model = build_model("cnn", length, 1)
    positions = model.trunk(torch.zeros(1, 4, length)).shape[-1]
    if length - 19 + 1 <= 64:  # short: every position, a dense layer of <= 200,000 weights
        assert positions == length - 18
        assert positions * 64 * model.config["options"]["dense_units"] <= 200_000
    else:
        assert 1 <= positions <= 8
    assert sum(p.numel() for p in model.parameters()) < 1_000_000


@pytest.mark.parametrize("architecture", ["resnet", "dilated"])
@pytest.mark.parametrize("length", [40, 60, 200, 1000, 4000])
def test_deep_towers_are_just_deep_enough_to_see_the_input(architecture, length):
    model = build_model(architecture, length, 1)
    assert receptive_field(model) >= length
    options = dict(model.config["options"])
    if architecture == "resnet" and len(options["block_filters"]) > 1:
        options["block_filters"] = options["block_filters"][:-1]
        assert receptive_field(build_model(architecture, length, 1, **options)) < length
    if architecture == "dilated" and options["dilated_layers"] > 1:
        options["dilated_layers"] -= 1
        assert receptive_field(build_model(architecture, length, 1, **options)) < length


def test_given_options_are_never_changed_and_saved_configs_rebuild_unchanged():
    given = build_model("cnn", 60, 1, first_pool=25, conv_filters=[16])
    assert given.config["options"]["first_pool"] == 25
    assert given.config["options"]["conv_filters"] == [16]
    assert given.sized_options == {"conv_pool": 2}  # 2 positions left: pool them
    # A bundle's config records every option: rebuilding applies no rule.
    old = {**default_options("cnn"), "first_width": 7}
    rebuilt = build_model("cnn", 60, 1, **old)
    assert rebuilt.config["options"] == old and rebuilt.sized_options == {}


def test_length_rule_reads_the_first_width_the_user_gave():
    assert (
        length_defaults("cnn", 120, {**default_options("cnn"), "first_width": 5})["first_pool"]
        == (120 - 5 + 1) // 7
    )
    assert length_defaults("unknown-architecture", 60, {}) == {}


def test_describe_says_what_the_length_rule_chose():
    result = run_seqcnn("describe", "cnn", "--length", "60")
    assert result.returncode == 0, result.stderr
    assert "chosen for 60 bp" in result.stdout and "first_pool=1" in result.stdout


def test_data_size_rule_and_what_the_user_gives_wins():
    small = data_defaults(2_000)
    assert small["patience"] == 20 and small["weight_decay"] == 1e-2 and small["batch_size"] == 32
    assert data_defaults(10_000)["patience"] == 12
    assert [data_defaults(n)["weight_decay"] for n in (8_000, 9_999, 10_000)] == [1e-2, 1e-2, 1e-3]
    options = resolve_data_defaults(TrainOptions(learning_rate=5e-4, patience=3), 2_000)
    assert (options.learning_rate, options.patience) == (5e-4, 3)
    assert (options.batch_size, options.weight_decay) == (32, 1e-2)


def test_bundle_records_the_rules_choices(tiny_binary, tmp_path):
    model_options = {k: v for k, v in TINY_MODEL.items() if k != "conv_filters"}
    train(tiny_binary, tmp_path / "m", epochs=1, model_options=model_options, learning_rate=3e-3)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    chosen = config["training"]["defaults_chosen"]
    n_train = config["training"]["n_train"]
    assert chosen["training"] == {
        k: v for k, v in data_defaults(n_train).items() if k != "learning_rate"
    }
    # 60 bp: the short-input rule (dense_units was given)
    assert chosen["model"] == {"first_pool": 1, "conv_filters": []}
    assert config["training"]["options"]["batch_size"] == data_defaults(n_train)["batch_size"]
    options = config["model"]["options"]
    assert {k: options[k] for k in chosen["model"]} == chosen["model"]

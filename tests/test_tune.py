"""seqcnn train --tune: Optuna search on the validation split, resumable, best model saved."""

import json

import pandas as pd
import pytest
from conftest import run_seqcnn

import seqcnn.training.finish as finish_module
from seqcnn.bundle import load_model
from seqcnn.errors import UsageError
from seqcnn.training import TrainOptions
from seqcnn.training.tune import search_space, tune

pytest.importorskip("optuna")

# Small, fixed network parts so each trial takes a second; the rest is searched.
FIXED = {"first_filters": 8, "first_width": 7, "conv_filters": [8], "dense_units": 16}


def test_tuning_searches_what_was_not_given_and_saves_the_best(tiny_binary, tmp_path, monkeypatch):
    evaluated = []
    original = finish_module.final_metrics
    monkeypatch.setattr(
        finish_module,
        "final_metrics",
        lambda trainer, data: evaluated.append(len(data.test.rows)) or original(trainer, data),
    )
    result = tune(tiny_binary, tmp_path / "m", n_trials=3, epochs=2, test_fraction=0.2,
                  model_options=FIXED, learning_rate=3e-3)  # fmt: skip
    bundle = tmp_path / "m"
    trials = pd.read_csv(bundle / "tuning.csv")
    assert len(trials) == 3 and (bundle / "tuning.db").exists()
    assert not (tmp_path / ".m.tuning").exists()
    config = json.loads((bundle / "config.json").read_text())
    tuning = config["training"]["tuning"]
    assert "learning_rate" not in tuning["searched"] and "first_filters" not in tuning["searched"]
    assert {"weight_decay", "batch_size", "dropout", "first_pool"} <= set(tuning["searched"])
    # The first trial is the defaults themselves (420 training sequences: pool 25 of 54).
    assert trials.loc[0, "params_first_pool"] == 25 and trials.loc[0, "params_dropout"] == 0.5
    best = trials.loc[trials["value"].idxmax()]
    assert tuning["best_trial"] == best["number"]
    assert config["model"]["options"]["first_pool"] == best["params_first_pool"]
    # The trials never touched the test rows: they were evaluated once, for the saved model.
    assert len(evaluated) == 1 and evaluated[0] > 0 and "test" in result.metrics
    assert load_model(bundle).config["training"]["tuning"]["trials"] == 3


def test_tuning_resumes_its_study(tiny_binary, tmp_path):
    common = {"epochs": 1, "model_options": FIXED, "seed": 1}
    tune(tiny_binary, tmp_path / "m", n_trials=2, **common)
    tune(tiny_binary, tmp_path / "m", n_trials=3, resume=True, **common)
    trials = pd.read_csv(tmp_path / "m" / "tuning.csv")
    assert list(trials["number"]) == [0, 1, 2]  # two kept, one added


def test_search_space_defaults_follow_the_length_and_the_data_size():
    space = search_space(TrainOptions(), 120, 2_000)
    assert space["first_pool"][2] == 25 and space["weight_decay"][2] == 1e-2
    assert search_space(TrainOptions(), 120, 8_000)["first_pool"][2] == 14
    short = search_space(TrainOptions(), 60, 8_000)  # every position, 64 dense units
    assert short["first_pool"][2] == 1 and short["dense_units"][1:] == (((64, 128, 256, 512),), 64)
    assert "global_pool" not in space  # the cnn flattens
    fixed = search_space(TrainOptions(weight_decay=0.0, model_options={"dropout": 0.1}), 60, 10)
    assert "weight_decay" not in fixed and "dropout" not in fixed


def test_tuning_needs_trials_or_time(tiny_binary, tmp_path):
    with pytest.raises(UsageError, match="number of trials"):
        tune(tiny_binary, tmp_path / "m", n_trials=None)


def test_cli_tune_writes_the_trials_table(tiny_binary, tmp_path):
    out = tmp_path / "cli"
    options = [f"{k}={v}" for k, v in FIXED.items()]
    args = [part for option in options for part in ("--option", option)]
    result = run_seqcnn("train", tiny_binary.path, "-o", out, "--tune", "2", "--epochs", "1", *args)
    assert result.returncode == 0, result.stderr
    assert "model saved to" in result.stdout and "tuning: 2 trials" in result.stdout
    assert len(pd.read_csv(out / "tuning.csv")) == 2

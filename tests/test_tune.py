"""seqcnn train --tune: Optuna search on the validation split, resumable, best model saved."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import planted_records, run_seqcnn, write_fasta_file

import seqcnn.training.finish as finish_module
import seqcnn.training.tune as tune_module
from seqcnn.bundle import load_model
from seqcnn.dataset import encode
from seqcnn.errors import UsageError
from seqcnn.training import TrainOptions
from seqcnn.training.selection import Selection, paired_standard_error, select_trial
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
                  model_options=FIXED, learning_rate=3e-3, select="best")  # fmt: skip
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
    assert tuning["best_trial"] == best["number"] == tuning["chosen_trial"]
    assert config["model"]["options"]["first_pool"] == best["params_first_pool"]
    assert tuning["selection"] == {"rule": "best"}
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
    with pytest.raises(UsageError, match="select must be one of significant, best"):
        tune(tiny_binary, tmp_path / "m", n_trials=2, select="luckiest")


def test_cli_tune_writes_the_trials_table(tiny_binary, tmp_path):
    out = tmp_path / "cli"
    options = [f"{k}={v}" for k, v in FIXED.items()]
    args = [part for option in options for part in ("--option", option)]
    result = run_seqcnn("train", tiny_binary.path, "-o", out, "--tune", "2", "--epochs", "1", *args)
    assert result.returncode == 0, result.stderr
    assert "model saved to" in result.stdout and "tuning: 2 trials" in result.stdout
    assert len(pd.read_csv(out / "tuning.csv")) == 2


@pytest.mark.filterwarnings("ignore:Fixed parameter learning_rate")  # trial 0's 1e-7, below
@pytest.mark.parametrize("chosen", ["defaults", "best"])
def test_tuning_saves_the_trial_the_rule_chose(tiny_binary, tmp_path, monkeypatch, chosen):
    seen = {}

    def rule(task, metric, mode, y, defaults, best, **kwargs):
        seen.update(defaults=defaults, best=best, y=y)
        return Selection(chosen, best[0] - defaults[0], 0.01)

    def space(*args, **kwargs):  # defaults that learn nothing, so a later trial leads them
        searched = search_space(*args, **kwargs)
        return searched | {"learning_rate": ("float_log", (3e-3, 1e-2), 1e-7)}

    monkeypatch.setattr(tune_module, "select_trial", rule)
    monkeypatch.setattr(tune_module, "search_space", space)
    # A separate validation set: the rule must get its labels, for its rows.
    train, valid = (
        _encoded(tmp_path, "train", 600, seed=0),
        _encoded(tmp_path, "valid", 200, seed=5),
    )
    tune(train, tmp_path / "m", valid=valid, n_trials=3, epochs=4, model_options=FIXED, seed=2)
    trials = pd.read_csv(tmp_path / "m" / "tuning.csv")
    tuning = json.loads((tmp_path / "m" / "config.json").read_text())["training"]["tuning"]
    best = trials.loc[trials["value"].idxmax()]
    assert best["number"] != 0 and tuning["best_trial"] == best["number"]
    # It was handed both trials' validation scores and outputs on the validation rows.
    assert seen["defaults"][0] == trials.loc[0, "value"] and seen["best"][0] == best["value"]
    np.testing.assert_array_equal(seen["y"], valid.labels)
    assert seen["best"][1].shape == (200, 1) and not np.array_equal(
        valid.labels, train.labels[:200]
    )
    assert not np.array_equal(seen["defaults"][1], seen["best"][1])
    number = 0 if chosen == "defaults" else best["number"]
    assert tuning["chosen_trial"] == number
    assert tuning["selection"] == {"rule": "significant", "chosen": chosen,
                                   "lead": best["value"] - trials.loc[0, "value"],
                                   "standard_error": 0.01}  # fmt: skip
    saved = load_model(tmp_path / "m").config["model"]["options"]
    assert saved["first_pool"] == trials.loc[number, "params_first_pool"]
    assert saved["dropout"] == pytest.approx(trials.loc[number, "params_dropout"])


def _encoded(folder, name, n, seed):
    records, labels = planted_records(n, 60, seed=seed)
    order = np.random.default_rng(seed).permutation(n)  # labels not in train's order
    records, labels = [(f"{name}{i}", records[i][1]) for i in order], labels[order]
    fasta = write_fasta_file(folder / f"{name}.fa", records)
    table = folder / f"{name}.tsv"
    rows = (f"{r}\t{y}\n" for (r, _), y in zip(records, labels, strict=True))
    table.write_text("id\tbound\n" + "".join(rows))
    return encode(fasta, folder / f"{name}.ds", labels=table)


def test_paired_standard_error_is_that_of_the_row_differences():
    # Two classifiers that agree on most rows: the error of their accuracy difference is
    # sd(d) / sqrt(n) of the per-row differences d, far below either accuracy's own error.
    rng = np.random.default_rng(0)
    n = 2_000
    y = rng.integers(0, 3, n)
    first = np.eye(3)[np.where(rng.random(n) < 0.8, y, (y + 1) % 3)]
    second = first.copy()
    flip = rng.random(n) < 0.05
    second[flip] = np.eye(3)[y[flip]]
    d = (second.argmax(1) == y).astype(float) - (first.argmax(1) == y)
    expected = d.std(ddof=1) / np.sqrt(n)
    error = paired_standard_error("multiclass", "accuracy", y, first, second, seed=1)
    assert error == pytest.approx(expected, rel=0.15)
    assert error < 0.5 * np.sqrt(0.8 * 0.2 / n)  # the unpaired error of one accuracy


def test_select_trial_keeps_the_defaults_unless_the_lead_is_significant():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500).astype(float)
    noise = rng.normal(size=500)
    weak, strong = y + 2.0 * noise, y + 1.5 * noise  # logits of two binary models
    error = paired_standard_error("binary", "auprc", y, weak, strong)
    assert 0.001 < error < 0.05
    # The lead is what the search measured; the error comes from the rows.  1.5 standard
    # errors is not enough (one would be Breiman's rule), 2.5 is.
    for lead, chosen in ((1.5 * error, "defaults"), (2.5 * error, "best")):
        selection = select_trial("binary", "auprc", "max", y, (0.6, weak), (0.6 + lead, strong))
        assert selection.chosen == chosen and selection.standard_error == error
    # Direction: for a metric to minimise, a lower value leads.
    lower = select_trial("regression", "pearson", "min", y, (0.9, weak), (0.2, strong))
    assert lower.lead == pytest.approx(0.7) and lower.chosen == "best"

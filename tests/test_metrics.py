"""Tests of seqcnn.metrics against scikit-learn and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    roc_auc_score,
)

from seqcnn.errors import DataError, UsageError
from seqcnn.labels import HEAD_KINDS, POSITION_TASKS, TASKS
from seqcnn.metrics import (
    accuracy,
    auprc,
    auroc,
    compute_metrics,
    macro_f1,
    pearson,
    per_target_metrics,
    primary_metric,
    spearman,
)

SETTINGS = settings(max_examples=150, deadline=None)

# Tasks scored here (the per-position ones: tests/test_position_training.py).
SEQUENCE_TASKS = [task for task in TASKS if task not in POSITION_TASKS]


@st.composite
def labelled_scores(draw, tied: bool):
    """0/1 labels with both classes and scores, drawn from a few values when ``tied``."""
    n = draw(st.integers(2, 60))
    labels = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    labels[0], labels[1] = 0, 1
    if tied:
        scores = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    else:
        scores = draw(
            st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=n, max_size=n)
        )
    order = draw(st.permutations(range(n)))
    return np.array(labels)[order], np.array(scores, dtype=np.float32)[order]


# --------------------------------------------------------------------------- AUROC / AUPRC


@SETTINGS
@given(data=st.one_of(labelled_scores(tied=True), labelled_scores(tied=False)))
def test_auroc_matches_sklearn(data):
    y, s = data
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@SETTINGS
@given(data=st.one_of(labelled_scores(tied=True), labelled_scores(tied=False)))
def test_auprc_matches_sklearn(data):
    y, s = data
    assert auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_auroc_auprc_hand_values():
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    assert auroc(y, s) == 0.75
    # Thresholds 0.8 (P=1, R=.5), 0.4 (P=.5), 0.35 (P=2/3, R=1): AP = .5 + .5 * 2/3.
    assert auprc(y, s) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # All scores tied: one threshold, AUROC one half, AP the positive fraction.
    assert auroc([0, 1, 1, 0], [2, 2, 2, 2]) == 0.5
    assert auprc([0, 1, 1, 1], [2, 2, 2, 2]) == 0.75
    # A tie between a positive and a negative counts one half.
    assert auroc([0, 1, 0, 1], [0, 1, 1, 2]) == pytest.approx(0.875)


def test_auroc_auprc_large_with_ties_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200_000)
    s = np.round(rng.normal(size=len(y)) + y, 1).astype(np.float32)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-10)
    assert auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-10)


@pytest.mark.parametrize("metric", [auroc, auprc])
def test_ranking_metrics_nan_when_undefined(metric):
    assert math.isnan(metric([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(metric([0, 0, 0], [0.1, 0.2, 0.3]))
    assert math.isnan(metric([], []))
    assert math.isnan(metric([0, 1, 0], [0.1, np.nan, 0.3]))


@pytest.mark.parametrize("metric", [auroc, auprc])
def test_ranking_metrics_reject_bad_labels(metric):
    with pytest.raises(DataError, match="0 or 1"):
        metric([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="length"):
        metric([0, 1, 1], [0.1, 0.2])


def test_ranking_metrics_are_monotone_invariant():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    logits = rng.normal(size=500) + y
    probabilities = 1 / (1 + np.exp(-logits))
    assert auroc(y, logits) == pytest.approx(auroc(y, probabilities), abs=1e-12)
    assert auprc(y, logits) == pytest.approx(auprc(y, probabilities), abs=1e-12)


# --------------------------------------------------------------------------- classification


@SETTINGS
@given(pairs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=50))
def test_accuracy_and_macro_f1_match_sklearn(pairs):
    y_true, y_pred = (np.array(v) for v in zip(*pairs, strict=True))
    assert accuracy(y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))
    expected = f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert macro_f1(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


def test_macro_f1_hand_value():
    # F1 = 2 tp / (2 tp + fp + fn).  Class 0: tp=1, fp=0, fn=1 -> 2/3; class 1: tp=1,
    # fp=2, fn=0 -> 1/2; class 2: tp=0 -> 0.
    assert macro_f1([0, 0, 1, 2], [0, 1, 1, 1]) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert math.isnan(macro_f1([], []))
    assert math.isnan(accuracy([], []))


# --------------------------------------------------------------------------- correlation


def round6(value: float) -> float:
    return round(value, 6)


@SETTINGS
@given(
    values=st.lists(
        # Rounded: values near 1e-308 make both implementations' products underflow.
        st.tuples(st.integers(-4, 4), st.floats(-100, 100, allow_nan=False).map(round6)),
        min_size=3,
        max_size=40,
    )
)
def test_pearson_and_spearman_match_numpy_and_pandas(values):
    x, y = (np.array(v, dtype=np.float64) for v in zip(*values, strict=True))
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert math.isnan(pearson(x, y))
        assert math.isnan(spearman(x, y))
        return
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-9)
    # pandas ranks ties by their average rank, independently of our implementation.
    ranks_x = pd.Series(x).rank(method="average").to_numpy()
    ranks_y = pd.Series(y).rank(method="average").to_numpy()
    assert spearman(x, y) == pytest.approx(np.corrcoef(ranks_x, ranks_y)[0, 1], abs=1e-9)


def test_spearman_hand_value_with_ties():
    # Ranks of x are 1, 2.5, 2.5, 4; of y 1, 3, 2, 4: correlation 4.5 / sqrt(4.5 * 5).
    assert spearman([1, 2, 2, 3], [10, 30, 20, 40]) == pytest.approx(3 / math.sqrt(10))
    assert spearman([1, 2, 3], [1, 4, 9]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [1, 4, 9]) < 1.0
    assert pearson([1, 2, 3], [6, 4, 2]) == pytest.approx(-1.0)


@pytest.mark.parametrize("metric", [pearson, spearman])
def test_correlation_nan_when_undefined(metric):
    assert math.isnan(metric([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert math.isnan(metric([1.0], [2.0]))
    assert math.isnan(metric([], []))
    assert math.isnan(metric([1.0, np.nan, 3.0], [1.0, 2.0, 3.0]))


# --------------------------------------------------------------------------- per task


def test_compute_metrics_binary_accepts_column_and_flat_shapes():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 100)
    s = rng.normal(size=100) + y
    flat = compute_metrics("binary", y, s)
    column = compute_metrics("binary", y[:, None], s[:, None])
    assert flat == column
    assert flat["auroc"] == pytest.approx(roc_auc_score(y, s))
    assert flat["auprc"] == pytest.approx(average_precision_score(y, s))
    assert compute_metrics("binary", y, s, loss=0.25)["loss"] == 0.25


def test_multilabel_macro_ignores_single_class_targets():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (200, 3)).astype(float)
    y[:, 1] = 0  # target 1 has no positives: its metrics are undefined
    s = rng.normal(size=(200, 3)) + y
    result = compute_metrics("multilabel", y, s)
    for name, sk in [("auroc", roc_auc_score), ("auprc", average_precision_score)]:
        expected = np.mean([sk(y[:, t], s[:, t]) for t in (0, 2)])
        assert result[name] == pytest.approx(expected)
    rows = per_target_metrics("multilabel", y, s, names=["a", "b", "c"])
    assert [r["target"] for r in rows] == ["a", "b", "c"]
    assert math.isnan(rows[1]["auroc"]) and math.isnan(rows[1]["auprc"])
    assert rows[0]["auroc"] == pytest.approx(roc_auc_score(y[:, 0], s[:, 0]))
    assert rows[2]["n_positive"] == int(y[:, 2].sum())


def test_multilabel_all_targets_single_class_gives_nan():
    result = compute_metrics("multilabel", np.zeros((5, 2)), np.ones((5, 2)))
    assert math.isnan(result["auroc"]) and math.isnan(result["auprc"])


def test_multilabel_nan_labels_are_left_out():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, (100, 2)).astype(float)
    s = rng.normal(size=(100, 2)) + y
    missing = rng.random((100, 2)) < 0.3
    y_missing = np.where(missing, np.nan, y)
    expected = np.mean([roc_auc_score(y[~missing[:, t], t], s[~missing[:, t], t]) for t in (0, 1)])
    assert compute_metrics("multilabel", y_missing, s)["auroc"] == pytest.approx(expected)
    rows = per_target_metrics("multilabel", y_missing, s)
    assert [r["n"] for r in rows] == list((~missing).sum(axis=0))


def test_compute_metrics_multiclass_from_logits():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4))
    logits[np.arange(300), y] += 1.0
    predicted = logits.argmax(axis=1)
    result = compute_metrics("multiclass", y, logits)
    assert result["accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert result["macro_f1"] == pytest.approx(f1_score(y, predicted, average="macro"))
    rows = per_target_metrics("multiclass", y, logits, names=list("ACGT"))
    assert [r["target"] for r in rows] == list("ACGT")
    per_class = f1_score(y, predicted, average=None)
    assert [r["f1"] for r in rows] == pytest.approx(list(per_class))
    assert [r["n"] for r in rows] == list(np.bincount(y, minlength=4))


def test_multiclass_rejects_out_of_range_labels_and_flags_nan_logits():
    with pytest.raises(DataError, match="integers in 0..2"):
        compute_metrics("multiclass", [0, 3], np.zeros((2, 3)))
    result = compute_metrics("multiclass", [0, 1], np.array([[np.nan, 0.0], [0.0, 1.0]]))
    assert math.isnan(result["accuracy"]) and math.isnan(result["macro_f1"])


def test_compute_metrics_regression_means_over_targets():
    rng = np.random.default_rng(6)
    y = rng.normal(size=(150, 2))
    pred = y + rng.normal(size=(150, 2))
    pred[:, 1] = np.round(pred[:, 1])  # ties in the predictions
    result = compute_metrics("regression", y, pred)
    assert result["pearson"] == pytest.approx(
        np.mean([np.corrcoef(y[:, t], pred[:, t])[0, 1] for t in (0, 1)])
    )
    assert result["spearman"] == pytest.approx(
        np.mean([spearman(y[:, t], pred[:, t]) for t in (0, 1)])
    )
    assert result["mse"] == pytest.approx(np.mean((y - pred) ** 2))
    rows = per_target_metrics("regression", y, pred, names=["x", "y"])
    assert rows[1]["pearson"] == pytest.approx(np.corrcoef(y[:, 1], pred[:, 1])[0, 1])


def test_regression_constant_target_is_ignored_in_mean():
    y = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
    pred = np.array([[1.0, 0.0], [2.5, 1.0], [2.9, 5.0]])
    result = compute_metrics("regression", y, pred)
    assert result["pearson"] == pytest.approx(pearson(y[:, 0], pred[:, 0]))


def test_poisson_regression_compares_rates_with_counts():
    counts = np.array([1.0, 2.0, 4.0, 8.0])
    log_rates = np.log(counts)
    result = compute_metrics("regression", counts, log_rates, poisson=True)
    assert result["mse"] == pytest.approx(0.0, abs=1e-12)
    assert result["pearson"] == pytest.approx(1.0)
    # Without poisson the log-rates are compared as they are.
    assert compute_metrics("regression", counts, log_rates)["mse"] > 1.0


def test_shape_mismatch_and_unknown_task():
    with pytest.raises(DataError, match="do not match"):
        compute_metrics("multilabel", np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(UsageError, match="regression"):
        compute_metrics("ranking", [0, 1], [0, 1])
    with pytest.raises(UsageError, match="2 target names"):
        per_target_metrics("multilabel", np.zeros((4, 3)), np.zeros((4, 3)), names=["a", "b"])


@pytest.mark.parametrize("task", SEQUENCE_TASKS)
def test_primary_metric_is_computed_for_its_task(task):
    name, mode = primary_metric(task)
    assert mode in ("max", "min")
    y = np.array([0, 1, 1, 0, 1])
    pred = np.stack([-y, y], axis=1).astype(float) if task == "multiclass" else y + 0.5
    assert name in compute_metrics(task, y, pred)


def test_primary_metric_choices():
    assert primary_metric("binary") == ("auprc", "max")
    assert primary_metric("multilabel") == ("auprc", "max")
    assert primary_metric("multiclass") == ("macro_f1", "max")
    assert primary_metric("regression") == ("pearson", "max")
    with pytest.raises(UsageError):
        primary_metric("other")


# --------------------------------------------------------------------------- output kinds


def _example(task):
    """Labels and raw outputs of a small sequence-head output for ``task``."""
    rng = np.random.default_rng(7)
    if task == "multiclass":
        return rng.integers(0, 3, 40), rng.normal(size=(40, 3))
    y = rng.integers(0, 2, (40, 2)).astype(float)
    if task == "binary":
        y = y[:, :1]
    elif task == "regression":
        y = rng.normal(size=(40, 2))
    return y, y + rng.normal(size=y.shape)


@pytest.mark.parametrize("task", SEQUENCE_TASKS)
def test_sequence_outputs_give_the_same_numbers_named_or_not(task):
    y, pred = _example(task)
    unnamed = compute_metrics(task, y, pred, loss=0.5)
    assert compute_metrics(task, y, pred, loss=0.5, head_kind="sequence") == unnamed
    rows = per_target_metrics(task, y, pred)
    assert per_target_metrics(task, y, pred, head_kind="sequence") == rows
    assert primary_metric(task, head_kind="sequence") == primary_metric(task)
    assert primary_metric(task)[0] in unnamed


@pytest.mark.parametrize("task", TASKS)
def test_position_outputs_are_refused_until_they_have_metrics(task):
    assert "position" in HEAD_KINDS
    y, pred = _example(task)
    position_y, position_pred = y[..., None].repeat(5, -1), pred[..., None].repeat(5, -1)
    for call in (
        lambda: compute_metrics(task, position_y, position_pred, head_kind="position"),
        lambda: per_target_metrics(task, position_y, position_pred, head_kind="position"),
        lambda: primary_metric(task, head_kind="position"),
    ):
        with pytest.raises(UsageError, match=r"per-position outputs \(head kind 'position'\)"):
            call()


def test_unknown_head_kind_and_missing_task_say_what_is_allowed():
    y, pred = _example("binary")
    with pytest.raises(UsageError, match="unknown head kind 'profile'; choose one of sequence"):
        compute_metrics("binary", y, pred, head_kind="profile")
    with pytest.raises(UsageError, match="no task given; choose one of binary"):
        compute_metrics(None, y, pred)
    with pytest.raises(UsageError, match="unknown task 'ranking'"):
        primary_metric("ranking")


def test_the_task_list_is_defined_once():
    import seqcnn.labels
    import seqcnn.metrics

    assert seqcnn.metrics.TASKS is seqcnn.labels.TASKS
    assert "TASKS" not in vars(seqcnn.metrics).get("__all__", [])

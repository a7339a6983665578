"""Evaluation metrics for every task, in plain numpy.

Each metric is a sorting- or counting-based computation that handles a million
predictions in well under a second, gives the same numbers as scikit-learn (which is
only a test dependency), and returns ``nan`` instead of raising when it is undefined:
a single class in the labels, a constant input, no samples, or a ``nan`` score from a
diverged model.

=================  =====================================  ==========================
task               metrics of :func:`compute_metrics`      :func:`primary_metric`
=================  =====================================  ==========================
``binary``         ``auroc``, ``auprc``                    ``("auprc", "max")``
``multilabel``     ``auroc``, ``auprc`` (macro)            ``("auprc", "max")``
``multiclass``     ``accuracy``, ``macro_f1``              ``("macro_f1", "max")``
``regression``     ``pearson``, ``spearman`` (mean), mse   ``("pearson", "max")``
=================  =====================================  ==========================

The tasks are :data:`seqcnn.labels.TASKS`.  The per-task functions take the network's
output kind, ``head_kind`` (:data:`seqcnn.labels.HEAD_KINDS`): today only ``"sequence"``
outputs, ``(N, T)``, are scored; ``"position"`` outputs, ``(N, T, L_out)``, raise a
UsageError until the position head brings their metrics.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError, UsageError
from .labels import POSITION_TASKS, TASKS, check_head_kind, check_task

__all__ = [
    "auroc",
    "auprc",
    "accuracy",
    "macro_f1",
    "pearson",
    "spearman",
    "compute_metrics",
    "per_target_metrics",
    "primary_metric",
]

# exp() of a Poisson log-rate above this overflows float64; no real count gets near it.
_MAX_LOG_RATE = 700.0


# --------------------------------------------------------------------------- helpers


def _as_1d(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` as a 1-D float64 array (a float64 copy is exact for every input dtype)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


def _check_pair(y_true: np.ndarray, y_other: np.ndarray) -> None:
    if len(y_true) != len(y_other):
        raise DataError(f"labels and predictions differ in length: {len(y_true)} vs {len(y_other)}")


def _binary_labels(y_true: np.ndarray) -> np.ndarray:
    """Validate 0/1 labels and return them as a boolean array."""
    positive = y_true == 1
    if not np.all(positive | (y_true == 0)):
        bad = np.unique(y_true[~(positive | (y_true == 0))])[:5]
        raise DataError(f"binary labels must be 0 or 1, found {bad.tolist()}")
    return positive


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, tied values sharing the mean of their ranks.

    Same result as ``scipy.stats.rankdata(values, method="average")``.
    """
    n = len(values)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_group = np.empty(n, dtype=bool)
    starts_group[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_group[1:])
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], n)
    # The ranks start + 1 .. end of a tie group average to (start + 1 + end) / 2.
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = mean_rank[group]
    return ranks


# --------------------------------------------------------------------------- metrics


def auroc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve, computed as the Mann-Whitney U statistic.

    Tied scores count one half, as in :func:`sklearn.metrics.roc_auc_score`.

    Parameters
    ----------
    y_true
        0/1 labels, shape (N,).
    y_score
        Scores of any monotone scale (logits, probabilities), shape (N,).

    Returns
    -------
    float
        The AUROC, or ``nan`` when ``y_true`` holds a single class or a score is ``nan``.

    Examples
    --------
    >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y_true = _as_1d(y_true, "labels")
    y_score = _as_1d(y_score, "scores")
    _check_pair(y_true, y_score)
    positive = _binary_labels(y_true)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0 or np.isnan(y_score).any():
        return float("nan")
    rank_sum = _average_ranks(y_score)[positive].sum()
    u_statistic = rank_sum - n_pos * (n_pos + 1) / 2.0
    return float(u_statistic / (n_pos * n_neg))


def auprc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision.

    ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds in decreasing
    order, with all samples of a tied score entering at the same threshold: the
    definition of :func:`sklearn.metrics.average_precision_score` (no interpolation).

    Parameters
    ----------
    y_true
        0/1 labels, shape (N,).
    y_score
        Scores of any monotone scale (logits, probabilities), shape (N,).

    Returns
    -------
    float
        The average precision, or ``nan`` when ``y_true`` holds a single class (where
        scikit-learn warns and returns 0 or 1, values that say nothing about the model
        and would bias a macro average) or a score is ``nan``.

    Examples
    --------
    >>> round(auprc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    y_true = _as_1d(y_true, "labels")
    y_score = _as_1d(y_score, "scores")
    _check_pair(y_true, y_score)
    positive = _binary_labels(y_true)
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == len(positive) or np.isnan(y_score).any():
        return float("nan")
    order = np.argsort(y_score, kind="stable")[::-1]
    ordered = y_score[order]
    true_pos = np.cumsum(positive[order])
    # The last sample of each run of tied scores closes one threshold.
    last = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    true_pos = true_pos[last].astype(np.float64)
    precision = true_pos / (last + 1)
    recall_step = np.diff(true_pos, prepend=0.0) / n_pos
    return float(np.sum(recall_step * precision))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of predicted labels equal to the true labels (``nan`` if empty).

    Parameters
    ----------
    y_true, y_pred
        Class labels, shape (N,).
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    _check_pair(y_true, y_pred)
    if len(y_true) == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def _class_counts(
    y_true: np.ndarray, y_pred: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels present in either array and their true-positive, predicted and true counts."""
    labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    codes = codes.reshape(-1)
    true_codes, pred_codes = codes[: len(y_true)], codes[len(y_true) :]
    n = len(labels)
    hits = np.bincount(true_codes[true_codes == pred_codes], minlength=n)
    predicted = np.bincount(pred_codes, minlength=n)
    support = np.bincount(true_codes, minlength=n)
    return labels, hits, predicted, support


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores.

    The classes are those present in ``y_true`` or ``y_pred``, as in
    ``sklearn.metrics.f1_score(average="macro")``; a class that is true but never
    predicted (or the reverse) scores 0.

    Parameters
    ----------
    y_true, y_pred
        Integer class labels, shape (N,).

    Returns
    -------
    float
        Macro F1, ``nan`` if there are no samples.
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    _check_pair(y_true, y_pred)
    if len(y_true) == 0:
        return float("nan")
    _, hits, predicted, support = _class_counts(y_true, y_pred)
    # Each class here was predicted or true at least once, so the denominator is > 0.
    f1 = 2.0 * hits / (predicted + support)
    return float(f1.mean())


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation coefficient (``nan`` for fewer than 2 samples or constant input).

    Parameters
    ----------
    x, y
        Values, shape (N,).
    """
    x = _as_1d(x, "values")
    y = _as_1d(y, "values")
    _check_pair(x, y)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:  # constant: the mean can round off
        return float("nan")
    dx = x - x.mean()
    dy = y - y.mean()
    # Scale to a maximum of 1 first, so tiny (or huge) values do not under/overflow squares.
    scale_x, scale_y = np.abs(dx).max(), np.abs(dy).max()
    if not (scale_x > 0 and scale_y > 0):
        return float("nan")
    dx, dy = dx / scale_x, dy / scale_y
    denominator = np.sqrt(np.dot(dx, dx) * np.dot(dy, dy))
    if not denominator > 0:  # also catches nan
        return float("nan")
    return float(np.clip(np.dot(dx, dy) / denominator, -1.0, 1.0))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation: Pearson correlation of average ranks (ties share ranks).

    Parameters
    ----------
    x, y
        Values, shape (N,).

    Returns
    -------
    float
        The correlation, ``nan`` for fewer than 2 samples, constant input, or ``nan`` values.
    """
    x = _as_1d(x, "values")
    y = _as_1d(y, "values")
    _check_pair(x, y)
    if np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    return pearson(_average_ranks(x), _average_ranks(y))


def _mean_defined(values: list[float]) -> float:
    """Mean of the values that are not ``nan``; ``nan`` if none are."""
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


# --------------------------------------------------------------------------- per task


def _check_call(task: str, head_kind: str, where: str) -> None:
    # check_task lets None through (there it means "infer the task"); scoring needs one.
    if task is None:
        raise UsageError(f"no task given; choose one of {', '.join(TASKS)}")
    check_task(task)
    check_head_kind(head_kind, where=where)
    if task in POSITION_TASKS:
        raise UsageError(
            f"{where} scores per-sequence outputs; the {task} task's are scored by "
            f"seqcnn.position_metrics"
        )


def _as_columns(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of binary/multilabel/regression tasks as (N, T) float64."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise DataError(
            f"labels of shape {y_true.shape} do not match predictions of shape {y_pred.shape}"
        )
    return y_true, y_pred


def _regression_values(y_pred: np.ndarray, poisson: bool) -> np.ndarray:
    return np.exp(np.minimum(y_pred, _MAX_LOG_RATE)) if poisson else y_pred


def _multiclass_inputs(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels (N,) and argmax predictions (N,) of a multiclass task."""
    logits = np.asarray(y_pred)
    if logits.ndim != 2:
        raise DataError(f"multiclass predictions must be (N, classes), got shape {logits.shape}")
    labels = np.asarray(y_true).reshape(-1)
    _check_pair(labels, logits)
    if labels.size and (
        np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= logits.shape[1]
    ):
        raise DataError(
            f"multiclass labels must be integers in 0..{logits.shape[1] - 1}, "
            f"found values {labels.min()}..{labels.max()}"
        )
    return labels.astype(np.int64), logits.argmax(axis=1)


def _target_columns(y_true: np.ndarray, y_pred: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per target, the labels and predictions of the samples whose label is not ``nan``."""
    columns = []
    for t in range(y_true.shape[1]):
        known = ~np.isnan(y_true[:, t])
        if known.all():
            columns.append((y_true[:, t], y_pred[:, t]))
        else:
            columns.append((y_true[known, t], y_pred[known, t]))
    return columns


def compute_metrics(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    loss: float | None = None,
    poisson: bool = False,
    head_kind: str = "sequence",
) -> dict[str, float]:
    """All metrics of a task, averaged over targets.

    Parameters
    ----------
    task
        ``"binary"``, ``"multilabel"``, ``"multiclass"`` or ``"regression"``.
    y_true
        binary/multilabel: 0/1 labels (N,) or (N, T); multiclass: class indices (N,);
        regression: values (N,) or (N, T).  In binary, multilabel and regression tasks a
        ``nan`` label means "unknown": that sample is left out of that target's metrics.
    y_pred
        Raw network outputs of the same shape (multiclass: logits (N, C)).  Scores are
        used as logits: AUROC and AUPRC only depend on their order, and the predicted
        class is the argmax, so no sigmoid or softmax is needed.
    loss
        If given, returned as ``"loss"`` alongside the metrics.
    poisson
        Regression only: ``y_pred`` are log-rates, exponentiated before comparing with
        the counts in ``y_true``.
    head_kind
        The network's output kind (``model.head_kind``); only ``"sequence"`` is scored yet.

    Returns
    -------
    dict[str, float]
        binary/multilabel: ``auroc`` and ``auprc``, the mean over targets that have both
        classes (``nan`` if none has); multiclass: ``accuracy`` and ``macro_f1``;
        regression: ``pearson`` and ``spearman`` (mean over targets with a defined
        correlation) and ``mse`` (over all known labels).

    Examples
    --------
    >>> compute_metrics("binary", [0, 0, 1, 1], [-2.0, 0.5, 0.1, 3.0])
    {'auroc': 0.75, 'auprc': 0.8333333333333333}
    """
    _check_call(task, head_kind, "compute_metrics")
    result: dict[str, float] = {}
    if task == "multiclass":
        labels, predicted = _multiclass_inputs(y_true, y_pred)
        if np.isnan(np.asarray(y_pred, dtype=np.float64)).any():
            # argmax would silently pick the first nan: report the diverged model instead.
            result["accuracy"] = result["macro_f1"] = float("nan")
        else:
            result["accuracy"] = accuracy(labels, predicted)
            result["macro_f1"] = macro_f1(labels, predicted)
    else:
        y_true, y_pred = _as_columns(y_true, y_pred)
        if task == "regression":
            values = _regression_values(y_pred, poisson)
            columns = _target_columns(y_true, values)
            result["pearson"] = _mean_defined([pearson(t, p) for t, p in columns])
            result["spearman"] = _mean_defined([spearman(t, p) for t, p in columns])
            known = ~np.isnan(y_true)
            errors = (y_true[known] - values[known]) ** 2
            result["mse"] = float(errors.mean()) if errors.size else float("nan")
        else:
            columns = _target_columns(y_true, y_pred)
            result["auroc"] = _mean_defined([auroc(t, p) for t, p in columns])
            result["auprc"] = _mean_defined([auprc(t, p) for t, p in columns])
    if loss is not None:
        result["loss"] = float(loss)
    return result


def per_target_metrics(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    names: list[str] | None = None,
    poisson: bool = False,
    head_kind: str = "sequence",
) -> list[dict[str, float | int | str]]:
    """Metrics of each target (multiclass: of each class), one dict per target.

    Parameters
    ----------
    task, y_true, y_pred, poisson, head_kind
        As in :func:`compute_metrics`.
    names
        Names of the targets (multiclass: of the classes); ``"0"``, ``"1"``, ... if omitted.

    Returns
    -------
    list of dict
        binary/multilabel: ``target``, ``n``, ``n_positive``, ``auroc``, ``auprc``;
        multiclass: ``target``, ``n`` (true samples of the class), ``precision``,
        ``recall``, ``f1`` (``nan`` where undefined, e.g. precision of a class never
        predicted); regression: ``target``, ``n``, ``pearson``, ``spearman``, ``mse``.
        ``n`` counts the samples with a known label.
    """
    _check_call(task, head_kind, "per_target_metrics")
    if task == "multiclass":
        labels, predicted = _multiclass_inputs(y_true, y_pred)
        n_targets = np.asarray(y_pred).shape[1]
    else:
        y_true, y_pred = _as_columns(y_true, y_pred)
        n_targets = y_true.shape[1]
    if names is None:
        names = [str(i) for i in range(n_targets)]
    names = list(names)
    if len(names) != n_targets:
        raise UsageError(f"{len(names)} target names given for {n_targets} targets")

    rows: list[dict[str, float | int | str]] = []
    if task == "multiclass":
        hits = np.bincount(labels[labels == predicted], minlength=n_targets)
        n_predicted = np.bincount(predicted, minlength=n_targets)
        support = np.bincount(labels, minlength=n_targets)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = hits / n_predicted
            recall = hits / support
            f1 = 2.0 * hits / (n_predicted + support)
        for i in range(n_targets):
            rows.append(
                {
                    "target": names[i],
                    "n": int(support[i]),
                    "precision": float(precision[i]),
                    "recall": float(recall[i]),
                    "f1": float(f1[i]),
                }
            )
        return rows

    if task == "regression":
        y_pred = _regression_values(y_pred, poisson)
    for name, (truth, pred) in zip(names, _target_columns(y_true, y_pred), strict=True):
        row: dict[str, float | int | str] = {"target": name, "n": len(truth)}
        if task == "regression":
            row["pearson"] = pearson(truth, pred)
            row["spearman"] = spearman(truth, pred)
            row["mse"] = float(np.mean((truth - pred) ** 2)) if len(truth) else float("nan")
        else:
            row["n_positive"] = int(np.sum(truth == 1))
            row["auroc"] = auroc(truth, pred)
            row["auprc"] = auprc(truth, pred)
        rows.append(row)
    return rows


def primary_metric(task: str, head_kind: str = "sequence") -> tuple[str, str]:
    """The metric early stopping and checkpoint selection watch, and its direction.

    - binary/multilabel: ``("auprc", "max")``.  Genomic classification sets are usually
      imbalanced (few bound or accessible sites among many background sequences).  There
      AUROC is dominated by the many easy negatives and saturates close to 1, while
      average precision keeps moving as the top of the ranking, where the positives are,
      improves; on balanced data both rank checkpoints alike.
    - multiclass: ``("macro_f1", "max")``.  For the same reason: a model that predicts
      only the majority class already has high accuracy, macro F1 weighs all classes
      equally.
    - regression: ``("pearson", "max")``, the usual score of sequence-to-activity models,
      insensitive to the output scale that the loss may not pin down.

    Parameters
    ----------
    task
        One of :data:`seqcnn.labels.TASKS`.
    head_kind
        As in :func:`compute_metrics`.

    Returns
    -------
    tuple of str
        ``(metric name, "max" or "min")``, the name being a key of :func:`compute_metrics`.
    """
    _check_call(task, head_kind, "primary_metric")
    return {
        "binary": ("auprc", "max"),
        "multilabel": ("auprc", "max"),
        "multiclass": ("macro_f1", "max"),
        "regression": ("pearson", "max"),
    }[task]

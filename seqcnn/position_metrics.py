"""Metrics of per-position outputs (``segmentation`` and ``profile`` tasks), in numpy.

Labels are tracks ``(N, T, L)``; a network's outputs cover the central ``L_out`` bases
``(N, T, L_out)`` (see :mod:`seqcnn.models.position`), so the labels are cropped to the
centre first.  A NaN label (a ``uint8`` 255 in a segmentation dataset, see
:func:`track_values`) is unknown and left out.

================  ==================================================  ===================
task              metrics of :func:`compute_position_metrics`         :func:`primary_metric`
================  ==================================================  ===================
``segmentation``  ``auroc``, ``auprc``: per track over every known     ``("auprc", "max")``
                  base of every sequence (flattened), mean of tracks
``profile``       ``profile_pearson``, ``profile_jsd``,                ``("loss", "min")``
                  ``counts_pearson``, ``counts_spearman``
================  ==================================================  ===================

Profile metrics, as BPNet and ChromBPNet report them: the predicted profile is the
softmax of the outputs (log-rates) over the known bases of a sequence and track;
``profile_pearson`` is its Pearson correlation with the observed counts and
``profile_jsd`` the Jensen-Shannon distance (base 2, so in [0, 1]) between it and the
observed counts normalised to sum to one, both averaged over the sequences and tracks
where they are defined (some count, not constant).  ``counts_pearson`` and
``counts_spearman`` correlate, per track across sequences, ``log(1 + total)`` with the
predicted log total (the ``logsumexp`` of the outputs: a bpnet's counts head), averaged
over tracks.  Early stopping on a profile task watches the validation loss, as BPNet
does: the two parts of the loss pull in different directions and no single metric
covers both.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError, UsageError
from .labels import POSITION_TASKS
from .metrics import auprc, auroc, pearson, spearman

__all__ = [
    "MASKED_SEGMENT",
    "track_values",
    "centre_labels",
    "compute_position_metrics",
    "primary_metric",
]

#: A base of unknown label in a ``uint8`` segmentation track.
MASKED_SEGMENT = 255


def track_values(labels: np.ndarray) -> np.ndarray:
    """Per-position labels as float32 with NaN for unknown bases (``uint8`` 255 in a
    segmentation track; NaN stays NaN; counts of any integer type become floats)."""
    labels = np.asarray(labels)
    values = labels.astype(np.float32)
    if labels.dtype == np.uint8:
        values[labels == MASKED_SEGMENT] = np.nan
    return values


def centre_labels(labels: np.ndarray, output_length: int) -> np.ndarray:
    """The central ``output_length`` bases of labels ``(..., L)``, where a position head's
    output lies.

    Raises
    ------
    DataError
        Labels shorter than the output, or an odd difference (no centred window).
    """
    total = labels.shape[-1]
    if total == output_length:
        return labels
    if total < output_length or (total - output_length) % 2:
        raise DataError(
            f"labels of length {total} do not centre on outputs of length {output_length}"
        )
    margin = (total - output_length) // 2
    return labels[..., margin : margin + output_length]


def _check(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if task not in POSITION_TASKS:
        raise UsageError(f"per-position metrics are for {', '.join(POSITION_TASKS)}, not {task!r}")
    y_pred = np.asarray(y_pred, dtype=np.float64)
    y_true = np.asarray(y_true)
    if y_pred.ndim != 3 or y_true.ndim != 3 or y_true.shape[:2] != y_pred.shape[:2]:
        raise DataError(
            f"per-position labels {y_true.shape} and outputs {y_pred.shape} must be "
            f"(N, T, L) and (N, T, L_out)"
        )
    y_true = centre_labels(track_values(y_true), y_pred.shape[-1]).astype(np.float64)
    return y_true, y_pred


def _segmentation(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    aurocs, auprcs = [], []
    for track in range(y_true.shape[1]):
        truth, scores = y_true[:, track].ravel(), y_pred[:, track].ravel()
        known = ~np.isnan(truth)
        if not known.all():
            truth, scores = truth[known], scores[known]
        aurocs.append(auroc(truth, scores))
        auprcs.append(auprc(truth, scores))
    return {"auroc": _mean_defined(aurocs), "auprc": _mean_defined(auprcs)}


def _mean_defined(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _profile(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    known = ~np.isnan(y_true)
    counts = np.where(known, y_true, 0.0)
    log_rates = np.where(known, np.minimum(y_pred, 700.0), -np.inf)
    top = log_rates.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    weights = np.exp(log_rates - top)
    sums = weights.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        predicted = weights / sums  # the profile over the known bases
        log_total = np.log(sums[..., 0]) + top[..., 0]
    n_known = known.sum(axis=-1)
    totals = counts.sum(axis=-1)

    # Pearson of each (sequence, track) profile over its known bases.
    mean_p = predicted.sum(axis=-1) / np.maximum(n_known, 1)
    mean_c = totals / np.maximum(n_known, 1)
    dp = np.where(known, predicted - mean_p[..., None], 0.0)
    dc = np.where(known, counts - mean_c[..., None], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (dp * dc).sum(-1) / np.sqrt((dp**2).sum(-1) * (dc**2).sum(-1))
    r = np.where((n_known >= 2) & np.isfinite(r), np.clip(r, -1.0, 1.0), np.nan)

    # Jensen-Shannon distance (base 2) between predicted and observed profiles.
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = counts / totals[..., None]
        middle = (predicted + observed) / 2
        kl_p = np.where(predicted > 0, predicted * np.log2(predicted / middle), 0.0)
        kl_o = np.where(observed > 0, observed * np.log2(observed / middle), 0.0)
    divergence = 0.5 * np.where(known, kl_p + kl_o, 0.0).sum(-1)
    jsd = np.where(totals > 0, np.sqrt(np.clip(divergence, 0.0, 1.0)), np.nan)

    true_log = np.log1p(totals)
    count_r = [pearson(true_log[:, t], log_total[:, t]) for t in range(true_log.shape[1])]
    count_rho = [spearman(true_log[:, t], log_total[:, t]) for t in range(true_log.shape[1])]
    return {
        "profile_pearson": _mean_defined(r.ravel()),
        "profile_jsd": _mean_defined(jsd.ravel()),
        "counts_pearson": _mean_defined(count_r),
        "counts_spearman": _mean_defined(count_rho),
    }


def compute_position_metrics(
    task: str, y_true: np.ndarray, y_pred: np.ndarray, loss: float | None = None
) -> dict[str, float]:
    """Metrics of per-position outputs, averaged over tracks (see the module docs).

    Parameters
    ----------
    task
        ``"segmentation"`` or ``"profile"``.
    y_true
        Labels ``(N, T, L)``: 0/1 (NaN or ``uint8`` 255: unknown) or counts (NaN: unknown).
    y_pred
        Raw outputs ``(N, T, L_out)``, ``L_out <= L`` centred: logits (segmentation) or
        log-rates (profile).
    loss
        If given, returned as ``"loss"`` alongside the metrics.

    Returns
    -------
    dict[str, float]
        ``nan`` where a metric is undefined (one class only, no counts, no sequences).

    Examples
    --------
    >>> y = np.array([[[0, 1, 1, 0]]], dtype=np.uint8)
    >>> compute_position_metrics("segmentation", y, np.array([[[-1.0, 2.0, 0.5, 0.0]]]))
    {'auroc': 1.0, 'auprc': 1.0}
    """
    y_true, y_pred = _check(task, y_true, y_pred)
    if task == "segmentation":
        result = _segmentation(y_true, y_pred)
    else:
        result = _profile(y_true, y_pred)
    if loss is not None:
        result["loss"] = float(loss)
    return result


def primary_metric(task: str) -> tuple[str, str]:
    """The metric early stopping watches for a per-position task, and its direction:
    ``("auprc", "max")`` for segmentation (few positive bases among many), the validation
    ``("loss", "min")`` for profiles (as BPNet)."""
    if task not in POSITION_TASKS:
        raise UsageError(f"per-position metrics are for {', '.join(POSITION_TASKS)}, not {task!r}")
    return ("auprc", "max") if task == "segmentation" else ("loss", "min")

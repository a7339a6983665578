"""Which sequences motif discovery explains for each output of a model, and how its
patterns are named, as BPNet and ChromBPNet run TF-MoDISco per task over that task's peaks.

:func:`output_rows` picks, per output, the sequences the model predicts for it (filled up
or cut to the highest-scoring ones); :func:`seqcnn.motifs.discover_motifs` explains each
output over its own rows, in one DeepLIFT/SHAP pass, and clusters each output's rows on
their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqcnn.errors import UsageError

from .modisco import file_stem

__all__ = [
    "MIN_PER_OUTPUT",
    "REGRESSION_FRACTION",
    "output_labels",
    "output_rows",
    "predicted_rows",
]

#: Fewest sequences explained for one output (the highest-scoring ones fill up the
#: sequences predicted for it).
MIN_PER_OUTPUT = 100
#: A regression output is explained over this fraction of the sequences, those with the
#: largest values.
REGRESSION_FRACTION = 0.1


def output_rows(
    logits: np.ndarray,
    task: str | None,
    *,
    max_per_output: int | None = None,
    min_per_output: int = MIN_PER_OUTPUT,
    fraction: float = REGRESSION_FRACTION,
) -> list[np.ndarray]:
    """Per output, the sequences that discovery explains for it, as BPNet runs TF-MoDISco
    per task over that task's peaks.

    The sequences the model predicts for an output: a multilabel (or binary) model's with
    a probability of at least 0.5, a multiclass model's with it as the predicted class, a
    regression's (or a network of unknown task) top ``fraction`` by the output's value.
    Fewer than ``min_per_output`` are filled up with the highest-scoring other sequences
    (an output the model rarely predicts still gets its motifs looked for); more than
    ``max_per_output`` are cut to the highest-scoring ones.

    Parameters
    ----------
    logits
        Raw outputs ``(N, T)``; a per-position model's reduced to one number per track
        first (:class:`seqcnn.position_targets.PositionTarget`).
    task
        ``"binary"``, ``"multilabel"``, ``"multiclass"``, ``"regression"`` or ``None``.
    max_per_output
        Most sequences per output; ``None``: ``max(min_per_output, ceil(N / T))``, so the
        attributions cost about as much as explaining every sequence once.
    min_per_output
        Fewest sequences per output (all N when fewer).
    fraction
        Of the sequences, predicted for a regression output.

    Returns
    -------
    list of numpy.ndarray
        Per output, the sorted row indices of its sequences.

    Examples
    --------
    >>> logits = np.array([[2.0, -1.0], [-3.0, 1.0], [0.5, -2.0]])
    >>> output_rows(logits, "multilabel", min_per_output=1)
    [array([0, 2]), array([1])]
    >>> output_rows(logits, "multilabel", min_per_output=1, max_per_output=1)
    [array([0]), array([1])]
    """
    logits = _per_sequence(logits)
    n, t = logits.shape
    if min_per_output < 1 or (max_per_output is not None and max_per_output < 1):
        raise UsageError("min_per_output and max_per_output must be at least 1")
    if not 0 < fraction <= 1:
        raise UsageError(f"fraction must be in (0, 1], got {fraction}")
    scores, predicted = predicted_rows(logits, task, fraction)
    cap = max(min_per_output, -(-n // max(t, 1))) if max_per_output is None else max_per_output
    chosen = []
    for j in range(t):
        # Predicted ones first, each group from the highest score down.
        order = np.lexsort((-scores[:, j], ~predicted[:, j]))
        k = min(n, cap, max(min_per_output, int(predicted[:, j].sum())))
        chosen.append(np.sort(order[:k]))
    return chosen


def predicted_rows(
    logits: np.ndarray, task: str | None, fraction: float = REGRESSION_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Scores to rank sequences by, and which sequences the model predicts, per output.

    Parameters
    ----------
    logits
        Raw outputs ``(N, T)``.
    task, fraction
        As for :func:`output_rows`.

    Returns
    -------
    scores : numpy.ndarray
        ``(N, T)``: probabilities (multiclass) or the raw outputs (ranked the same as the
        probabilities of a multilabel model).
    predicted : numpy.ndarray
        ``(N, T)`` bool: probability >= 0.5 (binary, multilabel), the predicted class
        (multiclass), or among the top ``fraction`` by value (regression, unknown task).
    """
    logits = _per_sequence(logits)
    n = len(logits)
    if task == "multiclass":
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        predicted = np.zeros(logits.shape, dtype=bool)
        predicted[np.arange(n), logits.argmax(axis=1)] = True
        return shifted / shifted.sum(axis=1, keepdims=True), predicted
    if task in ("binary", "multilabel"):
        return logits, logits >= 0
    top = np.argsort(-logits, axis=0, kind="stable")[: int(np.ceil(fraction * n))]
    predicted = np.zeros(logits.shape, dtype=bool)
    np.put_along_axis(predicted, top, True, axis=0)
    return logits, predicted


def _per_sequence(logits: np.ndarray) -> np.ndarray:
    """``(N, T)`` float64 outputs; ``(N, T, L_out)`` is refused (flattened, its positions
    would pass for outputs)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim > 2:
        raise UsageError(
            f"outputs of shape {logits.shape} are per position; reduce them to one number "
            "per track (a position target) first"
        )
    return logits.reshape(len(logits), -1)


def output_labels(names: Sequence[str]) -> list[str]:
    """Output names as pattern-name prefixes: no whitespace, unique, and unique as file
    names too (a suffix ``_<index>`` where two would collide).

    Examples
    --------
    >>> output_labels(["a b", "a_b", "CTCF"])
    ['a_b', 'a_b_1', 'CTCF']
    """
    labels, stems = [], set()
    for j, name in enumerate(names):
        label = "_".join(str(name).split()) or f"output_{j}"
        if label in labels or file_stem(label) in stems:
            label = f"{label}_{j}"
        labels.append(label)
        stems.add(file_stem(label))
    return labels

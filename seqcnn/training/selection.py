"""After a search: keep the defaults unless the best trial beats them significantly.

The best of N trials on one validation split is an optimistic estimate: with a few thousand
validation rows, trials differ by about as much as the metric's own sampling error, and the
one that scores highest may only have been luckiest on those rows (and its best epoch,
also chosen on them, luckier still).  :func:`select_trial` keeps the defaults, trial 0,
unless the best trial's lead over them on the validation rows is significant: at least
:data:`Z` = 1.96 standard errors (a paired test at the 5 % level, two-sided).  The standard
error comes from a paired bootstrap: the validation rows are resampled with replacement,
both models' outputs on the same resample are scored, and the spread of the differences is
the error of the lead.  Pairing matters: two models that misclassify mostly the same rows
have a difference far less noisy than either score.

Why not one standard error (Breiman's rule): on ``benchmarks/defaults.py``'s position set
(1,000 validation sequences) the best of 20 trials led the defaults by 1.20 points of macro
F1, 1.15 standard errors (1.04 points), and was 1.5 points *worse* on the 3,000 test
sequences; see ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics import compute_metrics
from .data import Split
from .evaluation import split_logits
from .loop import Trainer

__all__ = [
    "RESAMPLES",
    "Z",
    "Selection",
    "paired_standard_error",
    "select_trial",
    "validation_logits",
]

#: Bootstrap resamples of the validation rows (Efron & Tibshirani: 200 suffice for an error).
RESAMPLES = 200

#: Standard errors a lead must reach: 1.96, a paired test at the 5 % level (two-sided).
Z = 1.96


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select_trial`.

    Attributes
    ----------
    chosen
        ``"defaults"`` or ``"best"``.
    lead
        Best trial's validation metric minus the defaults' (oriented so that > 0 is better).
    standard_error
        Paired bootstrap standard error of ``lead``.
    """

    chosen: str
    lead: float
    standard_error: float

    def as_dict(self) -> dict[str, float | str]:
        return {"chosen": self.chosen, "lead": self.lead, "standard_error": self.standard_error}


def validation_logits(trainer: Trainer, best_state: dict, split: Split) -> np.ndarray:
    """Load ``best_state`` into the trainer's network and predict the split's rows as its
    validation metric was computed (:func:`~seqcnn.training.evaluation.split_logits`)."""
    trainer.network.load_state_dict(best_state)
    logits = split_logits(
        trainer.network,
        split,
        trainer.task,
        trainer.options,
        n_encoding=trainer.n_encoding,
        device=trainer.device,
        amp_dtype=trainer.amp_dtype,
    )
    return logits.numpy()


def paired_standard_error(
    task: str,
    metric: str,
    y: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    *,
    poisson: bool = False,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> float:
    """Bootstrap standard error of ``metric(second) - metric(first)`` on the same rows.

    Parameters
    ----------
    task, metric
        A per-sequence task and a key of :func:`seqcnn.metrics.compute_metrics`.
    y
        Labels of the rows, as ``compute_metrics`` takes them.
    first, second
        Both models' raw outputs on those rows.
    poisson
        As for ``compute_metrics``.
    resamples
        Bootstrap resamples of the rows.
    seed
        Seed of the resampling.

    Returns
    -------
    float
        The standard deviation of the differences over the resamples where both are
        defined; ``nan`` with fewer than two such resamples.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    differences = []
    for _ in range(resamples):
        rows = rng.integers(0, n, size=n)
        a = compute_metrics(task, y[rows], first[rows], poisson=poisson)[metric]
        b = compute_metrics(task, y[rows], second[rows], poisson=poisson)[metric]
        if np.isfinite(a) and np.isfinite(b):
            differences.append(b - a)
    return float(np.std(differences, ddof=1)) if len(differences) > 1 else float("nan")


def select_trial(
    task: str,
    metric: str,
    mode: str,
    y: np.ndarray,
    defaults: tuple[float, np.ndarray],
    best: tuple[float, np.ndarray],
    *,
    poisson: bool = False,
    seed: int = 0,
) -> Selection:
    """The defaults, unless the best trial leads them by at least :data:`Z` standard errors.

    Parameters
    ----------
    task, metric, mode
        The task, its validation metric and ``"max"`` or ``"min"``.
    y
        Validation labels.
    defaults, best
        ``(validation metric, validation outputs)`` of the defaults' trial and of the best.
    poisson, seed
        As for :func:`paired_standard_error`.

    Returns
    -------
    Selection
        ``"best"`` when its lead is at least ``Z`` standard errors, else ``"defaults"``
        (also when the error cannot be estimated: a lead that cannot be told from noise is
        not one).
    """
    sign = 1.0 if mode == "max" else -1.0
    lead = sign * (best[0] - defaults[0])
    error = paired_standard_error(task, metric, y, defaults[1], best[1], poisson=poisson, seed=seed)
    chosen = "best" if np.isfinite(error) and lead >= Z * error and lead > 0 else "defaults"
    return Selection(chosen, float(lead), error)

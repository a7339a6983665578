"""``train --tune N``: a hyperparameter search on the validation split, then the best model.

Optuna (``pip install 'seqcnn[tune]'``) drives the search: its TPE sampler proposes
options, its median pruner stops a trial whose validation metric after an epoch is below
the median of earlier trials at that epoch, and its SQLite storage makes the search
resumable.  It is the most used library for this, keeps a study in one file, and prunes
per epoch without owning the training loop.

What is searched (:func:`search_space`) is what the user left to the defaults: an option
given on the command line (``--lr``, ``--option first_pool=10``, ...) stays fixed.  The
first trial is the defaults themselves, so the search never ends below them on the
validation split.  Every trial trains on the training rows and is scored on the validation
rows only; the test rows are evaluated once, for the chosen model, when the bundle is
written, and never seen by the search.

The best trial is kept only if its lead over the defaults on the validation rows is
significant (``select="significant"``: at least 1.96 paired standard errors,
:mod:`~seqcnn.training.selection`): on a small validation split the best of 20 trials is
often the luckiest, not the best.  ``select="best"`` keeps the best trial whatever its lead.

While the search runs its study lives in ``.<name>.tuning/study.db`` beside the bundle;
``resume=True`` continues it.  The bundle gets ``tuning.csv`` (one row per trial) and
``tuning.db`` (the study, to continue with more trials), and ``config.json`` a
``training.tuning`` summary.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..dataset import Dataset
from ..errors import DataError, UsageError
from .checkpoints import fresh_state
from .data import training_data
from .finish import finish
from .options import TUNE_SELECTIONS, TrainOptions, TrainResult, data_defaults, fit_to_task
from .run import PreparedRun, prepare_run, run_epochs
from .selection import select_trial, validation_logits

__all__ = ["TUNED_TRAINING", "search_space", "tune"]

log = logging.getLogger("seqcnn")

#: Training options the search may set (when the user left them ``None``).
TUNED_TRAINING = ("learning_rate", "weight_decay", "batch_size")

# model option -> (kind, arguments); only options the architecture has are searched.
_MODEL_SPACE: dict[str, tuple[str, tuple]] = {
    "first_filters": ("categorical", ((32, 64, 128),)),
    "first_width": ("int", (7, 25)),
    "first_activation": ("categorical", (("relu", "exp"),)),
    "first_pool": ("int_log", (1, 25)),
    "dense_units": ("categorical", ((128, 256, 512),)),
    "dropout": ("float", (0.0, 0.6)),
    "conv_dropout": ("float", (0.0, 0.3)),
    "global_pool": ("categorical", (("avg", "max"),)),
}
_TRAINING_SPACE: dict[str, tuple[str, tuple]] = {
    "learning_rate": ("float_log", (1e-4, 1e-2)),
    "weight_decay": ("float_log", (1e-5, 1e-1)),
    "batch_size": ("categorical", ((32, 64, 128),)),
}


def search_space(
    options: TrainOptions, input_length: int, n_train: int
) -> dict[str, tuple[str, tuple, Any]]:
    """What the search varies: option name -> ``(kind, arguments, default value)``.

    ``kind`` is ``"float"``, ``"float_log"``, ``"int"``, ``"int_log"`` or
    ``"categorical"`` (Optuna's ``suggest_*``).  Options the user gave (training fields not
    ``None``, keys of ``model_options``) are left out; so are ``global_pool`` for the
    ``cnn`` (it flattens by design) and ``first_width`` beyond the input length.

    Parameters
    ----------
    options
        The options as given; ``architecture`` decides the model options (``None``:
        ``cnn``; :func:`tune` fills it from the task first).
    input_length, n_train
        Sequence length and number of training rows: the defaults of length- and
        size-dependent options.
    """
    from ..models import build_model, default_options

    architecture = options.architecture or "cnn"  # as for a per-sequence task
    model = build_model(architecture, input_length, 1, n_train=n_train, **options.model_options)
    model_defaults = {**default_options(architecture), **model.config["options"]}
    training_defaults = data_defaults(n_train)
    space: dict[str, tuple[str, tuple, Any]] = {}
    for name, (kind, arguments) in _TRAINING_SPACE.items():
        if getattr(options, name) is None:
            space[name] = (kind, arguments, training_defaults[name])
    for name, (kind, arguments) in _MODEL_SPACE.items():
        if name not in model_defaults or name in options.model_options:
            continue
        if name == "global_pool" and model_defaults[name] == "none":
            continue
        if name == "first_width":
            arguments = (min(arguments[0], input_length), min(arguments[1], input_length))
        if kind == "categorical" and model_defaults[name] not in arguments[0]:
            # a length rule's choice (64 dense units at 60 bp) is a choice too
            arguments = (tuple(sorted({*arguments[0], model_defaults[name]})),)
        space[name] = (kind, arguments, model_defaults[name])
    return space


def _suggest(trial, space: dict[str, tuple[str, tuple, Any]]) -> dict[str, Any]:
    values = {}
    for name, (kind, arguments, _) in space.items():
        if kind == "categorical":
            values[name] = trial.suggest_categorical(name, list(arguments[0]))
        elif kind.startswith("int"):
            values[name] = trial.suggest_int(name, *arguments, log=kind.endswith("_log"))
        else:
            values[name] = trial.suggest_float(name, *arguments, log=kind.endswith("_log"))
    return values


def _apply(options: TrainOptions, values: dict[str, Any]) -> TrainOptions:
    training = {k: v for k, v in values.items() if k in TUNED_TRAINING}
    model = {k: v for k, v in values.items() if k not in TUNED_TRAINING}
    return dataclasses.replace(
        options, model_options={**options.model_options, **model}, **training
    )


def tune(
    data: Dataset | str | os.PathLike,
    out: str | os.PathLike | None = "seqcnn_model",
    *,
    n_trials: int | None = 20,
    timeout: float | None = None,
    valid: Dataset | str | os.PathLike | None = None,
    test: Dataset | str | os.PathLike | None = None,
    options: TrainOptions | None = None,
    resume: bool = False,
    overwrite: bool = False,
    select: str = "significant",
    **kwargs: Any,
) -> TrainResult:
    """Search training and model options on the validation split; save the best model.

    Parameters
    ----------
    data, out, valid, test, options, overwrite, **kwargs
        As for :func:`seqcnn.training.train` (encoded datasets only).  Options given stay
        fixed; the others are searched (:func:`search_space`).  ``options.epochs`` caps
        each trial, ``options.seed`` seeds the sampler and every trial.
    n_trials
        Trials in all, those of a resumed study included (``None``: until ``timeout``).
    timeout
        Stop starting trials after this many seconds (the running trial finishes).
    resume
        Continue the study of an interrupted search (or of the bundle at ``out``).
    select
        ``"significant"``: the best trial only if its validation lead over the defaults
        (trial 0) is at least 1.96 paired bootstrap standard errors, else the defaults;
        ``"best"``: the best trial.  ``config.json``'s ``training.tuning.selection``
        records the lead, the error and the choice.

    Returns
    -------
    TrainResult
        The chosen trial's model, evaluated once on validation and test, as
        :func:`~seqcnn.training.train` returns it; ``result.model.path / "tuning.csv"``
        holds the trials.

    Raises
    ------
    seqcnn.errors.UsageError
        Optuna is not installed, neither ``n_trials`` nor ``timeout`` is given, or ``out``
        exists without ``overwrite``.

    Examples
    --------
    >>> result = tune("peaks.ds", "tuned_model", n_trials=20, epochs=30)  # doctest: +SKIP
    """
    try:
        import optuna
    except ImportError:
        raise UsageError(
            "tuning needs Optuna: pip install 'seqcnn[tune]' (or pip install optuna)"
        ) from None
    if n_trials is None and timeout is None:
        raise UsageError("give a number of trials (--tune) or a time limit (--tune-time)")
    if n_trials is not None and n_trials < 1:
        raise UsageError(f"the number of trials must be at least 1, got {n_trials}")
    if select not in TUNE_SELECTIONS:
        raise UsageError(f"select must be one of {', '.join(TUNE_SELECTIONS)}, got {select!r}")
    options = dataclasses.replace(options or TrainOptions(), **kwargs)
    options.check()
    split = training_data(data, valid, test, options)
    options = fit_to_task(options, split.task)
    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.exists() and not overwrite and not resume:
        raise UsageError("output already exists; use --force to replace it", path=str(out_path))

    folder = _study_folder(out_path, resume)
    space = search_space(options, split.dataset.length, len(split.train_rows))
    from ..metrics import primary_metric

    metric, mode = primary_metric(split.task)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=f"sqlite:///{folder / 'study.db'}",
        study_name="seqcnn",
        direction="maximize" if mode == "max" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=options.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
        load_if_exists=True,
    )
    if not study.trials:
        study.enqueue_trial({name: default for name, (_, _, default) in space.items()})
    kept: dict[int, tuple[PreparedRun, Any, bool]] = {}  # trial -> (run, state, stopped)

    def objective(trial) -> float:
        values = _suggest(trial, space)
        run = prepare_run(split, _apply(options, values))
        state = fresh_state(run.trainer.network, run.trainer.mode)

        def report(row: dict) -> None:
            value = row.get(f"valid_{metric}", float("nan"))
            if math.isfinite(value):
                trial.report(value, row["epoch"])
            if trial.should_prune():
                raise optuna.TrialPruned

        stopped = run_epochs(run, state, on_epoch=report)
        trial.set_user_attr("epochs_run", len(state.history))
        trial.set_user_attr("best_epoch", state.best_epoch + 1)
        # keep the defaults (trial 0) and the best other trial so far, to choose between them
        leader = next((n for n in kept if n != 0), None)
        if trial.number == 0:
            kept[0] = (run, state, stopped)
        elif leader is None or _ahead(state.best_value, kept[leader][1].best_value, mode):
            kept.pop(leader, None)
            kept[trial.number] = (run, state, stopped)
        log.info("trial %d: valid %s %.4g", trial.number, metric, state.best_value)
        return state.best_value

    done = sum(t.state.is_finished() for t in study.trials)
    remaining = None if n_trials is None else max(0, n_trials - done)
    if remaining != 0:
        study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(DataError,))
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise DataError("no tuning trial completed; see the log for why", path=str(folder))
    best = study.best_trial
    chosen, selection = best, None
    first = study.trials[0]
    if select == "significant" and best.number != 0 and first.state == best.state:
        runs = {t.number: _trained(kept, t, split, options) for t in (first, best)}
        logits = {n: validation_logits(r.trainer, s.best_state, split.valid)
                  for n, (r, s, _) in runs.items()}  # fmt: skip
        selection = select_trial(
            split.task,
            metric,
            mode,
            np.asarray(split.valid.dataset.labels[split.valid.rows]),
            (first.value, logits[first.number]),
            (best.value, logits[best.number]),
            poisson=options.loss == "poisson",
            seed=options.seed,
        )
        if selection.chosen == "defaults":
            chosen = first
        log.info("best trial %d leads the defaults by %.4g (standard error %.4g): keeping %s",
                 best.number, selection.lead, selection.standard_error,
                 "it" if chosen is best else "the defaults")  # fmt: skip
    run, state, stopped = _trained(kept, chosen, split, options)
    table = study.trials_dataframe()
    with open(folder / "tuning.csv", "w", encoding="utf-8") as handle:
        table.to_csv(handle, index=False)
    summary = {
        "trials": len(study.trials),
        "completed": len(completed),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        "best_trial": best.number,
        f"best_valid_{metric}": best.value,
        "chosen_trial": chosen.number,
        "params": chosen.params,
        "searched": sorted(space),
        "sampler": "optuna TPE",
        "pruner": "optuna median (per-epoch validation metric)",
        "selection": {"rule": select} | (selection.as_dict() if selection else {}),
    }
    result = finish(
        run.trainer,
        run.data,
        state,
        info=run.info,
        stopped_early=stopped,
        out=out_path,
        overwrite=overwrite or resume,
        chosen=run.chosen,
        extra_files={"tuning.csv": folder / "tuning.csv", "tuning.db": folder / "study.db"},
        extra_training={"tuning": summary},
    )
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _ahead(value: float, than: float, mode: str) -> bool:
    return value > than if mode == "max" else value < than


def _trained(kept: dict, trial, split, options: TrainOptions) -> tuple[PreparedRun, Any, bool]:
    """A trial's trained run: kept from this session, or trained again (same seed, same
    weights) when it ran before a resume."""
    if trial.number not in kept:
        run = prepare_run(split, _apply(options, trial.params))
        state = fresh_state(run.trainer.network, run.trainer.mode)
        kept[trial.number] = (run, state, run_epochs(run, state))
    return kept[trial.number]


def _study_folder(out: Path | None, resume: bool) -> Path:
    """The hidden folder that holds the study while the search runs."""
    import tempfile

    if out is None:
        return Path(tempfile.mkdtemp(prefix="seqcnn-tune-"))
    folder = out.parent / f".{out.name}.tuning"
    if not resume:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    saved = out / "tuning.db"
    if resume and not (folder / "study.db").exists() and saved.exists():
        shutil.copy2(saved, folder / "study.db")
    return folder

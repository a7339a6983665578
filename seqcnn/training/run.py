"""A training run from start to end: the steps of :func:`train` in order."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path

from ..dataset import Dataset
from ..errors import UsageError
from .batches import AugmentedBatches
from .checkpoints import (
    LoopState,
    fresh_state,
    resume_state,
    run_signature,
    start_work,
    work_folder,
)
from .data import TrainingData, is_fasta_input, n_outputs, training_data
from .devices import amp_dtype_for, distributed, end_distributed, training_device
from .finish import finish
from .loop import Trainer, fit, make_trainer
from .losses import criterion_for, start_counts_head
from .options import TrainOptions, TrainResult, fit_to_task, resolve_data_defaults

__all__ = ["PreparedRun", "prepare_run", "run_epochs", "train"]

log = logging.getLogger("seqcnn")


def train(
    data: Dataset | str | os.PathLike,
    out: str | os.PathLike | None = "seqcnn_model",
    *,
    valid: Dataset | str | os.PathLike | None = None,
    test: Dataset | str | os.PathLike | None = None,
    options: TrainOptions | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = False,
    encode_options: dict | None = None,
    **kwargs,
) -> TrainResult:
    """Train a network on an encoded dataset and save it as a model bundle.

    Parameters
    ----------
    data
        Training dataset (folder written by :func:`seqcnn.encode`, or a :class:`Dataset`),
        or FASTA file(s), which are encoded first with ``encode_options``.
    out
        Bundle folder to write (``None``: do not save).  While training, checkpoints live
        in a hidden ``.<name>.partial`` folder beside it; the bundle appears when done.
    valid, test
        Separate validation / test datasets; without them validation (and optionally test)
        rows are split off ``data`` (see :class:`TrainOptions`).  The test set is
        evaluated once, with the best weights, at the end.
    options
        A :class:`TrainOptions`; keyword arguments override its fields, e.g.
        ``train(ds, epochs=5, architecture="dilated")``.
    resume
        Continue an interrupted run from its last checkpoint.
    overwrite
        Replace an existing bundle at ``out``.
    progress
        Progress bars on stderr (``None``: when stderr is a terminal).
    encode_options
        For FASTA input: keyword arguments of :func:`seqcnn.encode` (``labels``,
        ``class_per_file``, ``length``, ...).

    Returns
    -------
    TrainResult
        ``.model`` (a loaded :class:`seqcnn.bundle.Model`), ``.history`` (per-epoch
        DataFrame), ``.metrics`` (final validation/test metrics), ``.path``.

    Examples
    --------
    >>> result = train("planted.ds", "seqcnn_model", epochs=20, rc_augment=True)  # doctest: +SKIP
    >>> result.metrics["valid"]["auroc"]  # doctest: +SKIP
    0.97
    """
    if encode_options is not None or is_fasta_input(data):
        return _train_from_fasta(
            data,
            out,
            encode_options or {},
            valid=valid,
            test=test,
            options=options,
            resume=resume,
            overwrite=overwrite,
            progress=progress,
            **kwargs,
        )
    options = dataclasses.replace(options or TrainOptions(), **kwargs)
    options.check()
    run = prepare_run(training_data(data, valid, test, options), options)
    trainer, data, options = run.trainer, run.data, run.options

    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.exists() and not overwrite:
        raise UsageError("output already exists; use --force to replace it", path=str(out_path))
    work = work_folder(out_path)
    signature = run_signature(options, data.by_role())
    if resume:
        optimizer, scheduler = trainer.optimizer, trainer.scheduler
        state = resume_state(work, out_path, signature, trainer.network, optimizer, scheduler)
        log.info("resuming after epoch %d", state.start_epoch)
    else:
        state = fresh_state(trainer.network, trainer.mode)
        if work is not None and trainer.rank == 0:
            start_work(work)

    stopped_early = run_epochs(
        run, state, work=work, signature=signature, show=progress if trainer.rank == 0 else False
    )
    result = finish(
        trainer,
        data,
        state,
        info=run.info,
        stopped_early=stopped_early,
        out=out_path,
        overwrite=overwrite,
        chosen=run.chosen,
    )
    end_distributed(trainer.world)
    return result


@dataclasses.dataclass
class PreparedRun:
    """A run ready for its first epoch: see :func:`prepare_run`.

    Attributes
    ----------
    trainer
        The network, optimizer, schedule and loss (:class:`~seqcnn.training.loop.Trainer`).
    batches
        Augmented one-hot batches of the training dataset.
    data
        The datasets and the rows of each role.
    options
        The options with the data-size defaults filled in (what the bundle records).
    info
        The network's :func:`seqcnn.models.summary`.
    chosen
        The training options :func:`~seqcnn.training.options.data_defaults` filled in.
    """

    trainer: Trainer
    batches: AugmentedBatches
    data: TrainingData
    options: TrainOptions
    info: dict
    chosen: dict


def prepare_run(data: TrainingData, options: TrainOptions) -> PreparedRun:
    """Build the network, the batches and the trainer for ``options`` on split ``data``.

    Options left ``None`` (batch size, rates, patience) follow the size of the data
    (:func:`~seqcnn.training.options.resolve_data_defaults`); the network's initial weights
    come from ``torch.manual_seed(options.seed)``.
    """
    import torch

    from ..models import build_model, summary

    given = fit_to_task(options, data.task)
    options = resolve_data_defaults(given, len(data.train_rows))
    chosen = {k: v for k, v in dataclasses.asdict(options).items() if v != getattr(given, k)}
    dataset, task = data.dataset, data.task
    n_encoding = options.n_encoding or dataset.n_encoding
    rank, world = distributed()
    device = training_device(options.device, world)
    amp_dtype = amp_dtype_for(device, options.amp)

    # The initial weights are the only draw from torch's global generator before the loop.
    torch.manual_seed(options.seed)
    network = build_model(
        options.architecture,
        dataset.length,
        n_outputs(dataset),
        n_train=len(data.train_rows),
        **options.model_options,
    ).to(device)
    info = summary(network)
    batches = AugmentedBatches(dataset, n_encoding, device, options.rc_augment, options.shift)
    train_labels = dataset.labels[data.train_rows]
    criterion = criterion_for(network, task, options, train_labels, device)
    if task == "profile":
        start_counts_head(network, train_labels)
    trainer = make_trainer(
        network,
        criterion,
        options,
        task,
        n_encoding=n_encoding,
        device=device,
        amp_dtype=amp_dtype,
        rank=rank,
        world=world,
    )
    return PreparedRun(trainer, batches, data, options, info, chosen)


def run_epochs(
    run: PreparedRun,
    state: LoopState,
    *,
    work: Path | None = None,
    signature: dict | None = None,
    show: bool | None = False,
    on_epoch: Callable[[dict], None] | None = None,
) -> bool:
    """The epoch loop (:func:`~seqcnn.training.loop.fit`); whether it stopped early.

    ``on_epoch(row)`` is called after every epoch with its row of the history (what
    ``metrics.csv`` gets); an exception it raises (e.g. ``optuna.TrialPruned``) ends the
    run there.
    """
    trainer, data = run.trainer, run.data
    if on_epoch is None:
        return fit(trainer, run.batches, data.train_rows, data.valid, state,
                   work=work, signature=signature, show=show)  # fmt: skip
    # One epoch per call: each epoch's order, augmentation and dropout depend only on
    # (seed, epoch), so this trains exactly as one call would.
    options = trainer.options
    try:
        for epoch in range(state.start_epoch, options.epochs):
            state.start_epoch = epoch
            trainer.options = dataclasses.replace(options, epochs=epoch + 1)
            before = len(state.history)
            stopped = fit(trainer, run.batches, data.train_rows, data.valid, state,
                          work=work, signature=signature, show=show)  # fmt: skip
            if len(state.history) == before:
                return stopped
            on_epoch(state.history[-1])
    finally:
        trainer.options = options
    return state.bad_epochs >= options.patience


def _train_from_fasta(data, out, encode_options, **kwargs) -> TrainResult:
    """Encode FASTA input into a temporary dataset beside the output, then train on it."""
    import tempfile

    from ..dataset import encode

    files = list(data) if isinstance(data, list | tuple) else [data]
    parent = Path(out).parent if out is not None else Path(".")
    with tempfile.TemporaryDirectory(prefix=".seqcnn-encode-", dir=parent) as tmp:
        dataset = encode(files, Path(tmp) / "data", **encode_options)
        return train(dataset, out, **kwargs)

"""The epoch loop: AdamW steps on augmented batches, validation, early stopping, the
learning-rate schedule and a checkpoint after every epoch.

Reproducibility: each epoch's row order, augmentation and dropout come from seeds derived
from ``(seed, epoch)``, so a resumed run continues exactly as an uninterrupted one, and the
same seed gives bit-identical weights on the same CPU.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress_bar
from ..errors import DataError
from .batches import AugmentedBatches
from .checkpoints import LoopState, save_checkpoint, weights_on_cpu
from .data import Split
from .devices import for_world
from .evaluation import evaluate
from .options import TrainOptions

__all__ = ["Trainer", "make_trainer", "make_scheduler", "train_epoch", "fit"]

log = logging.getLogger("seqcnn")


@dataclass
class Trainer:
    """What every epoch works with.

    Attributes
    ----------
    network
        The network being trained (its weights are checkpointed and evaluated).
    step_model
        What the training step runs: the network, or its DistributedDataParallel wrapper.
    criterion, optimizer, scheduler, scaler
        The loss, AdamW, the learning-rate scheduler (``None``: constant) and the float16
        gradient scaler (``None`` unless training in float16).
    metric, mode
        The validation metric early stopping watches and whether higher (``"max"``) or
        lower (``"min"``) is better.
    """

    network: Any
    step_model: Any
    criterion: Any
    optimizer: Any
    scheduler: Any
    scaler: Any
    metric: str
    mode: str
    options: TrainOptions
    task: str
    n_encoding: str
    device: Any
    amp_dtype: Any = None
    rank: int = 0
    world: int = 1


def make_trainer(
    network,
    criterion,
    options: TrainOptions,
    task: str,
    *,
    n_encoding: str,
    device,
    amp_dtype=None,
    rank: int = 0,
    world: int = 1,
) -> Trainer:
    """AdamW, the schedule, the gradient scaler and (several processes) DDP for a network."""
    import torch

    from ..labels import POSITION_TASKS
    from ..metrics import primary_metric
    from ..position_metrics import primary_metric as position_metric

    optimizer = torch.optim.AdamW(
        network.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    metric, mode = (position_metric if task in POSITION_TASKS else primary_metric)(task)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    return Trainer(
        network=network,
        step_model=for_world(network, device, world),
        criterion=criterion,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, options, mode),
        scaler=scaler,
        metric=metric,
        mode=mode,
        options=options,
        task=task,
        n_encoding=n_encoding,
        device=device,
        amp_dtype=amp_dtype,
        rank=rank,
        world=world,
    )


def make_scheduler(optimizer, options: TrainOptions, mode: str):
    """The learning-rate scheduler of ``options.schedule`` (``None`` for ``constant``)."""
    import torch

    if options.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=0.5, patience=max(1, options.patience // 3)
        )
    if options.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.epochs)
    return None


def train_epoch(
    trainer: Trainer, batches: AugmentedBatches, rows: np.ndarray, epoch: int, show
) -> tuple[float, int]:
    """One pass over this process's share of ``rows``; ``(summed loss, rows seen)``."""
    import torch

    from ..forward import autocast

    options, network = trainer.options, trainer.network
    rng = np.random.default_rng([options.seed, epoch])
    order = rng.permutation(rows)
    if trainer.world > 1:
        order = order[trainer.rank :: trainer.world][: len(rows) // trainer.world]
    torch.manual_seed(options.seed * 100_003 + epoch)
    network.train()
    total_loss, seen = 0.0, 0
    n_batches = -(-len(order) // options.batch_size)
    bar = progress_bar(
        show, total=n_batches, desc=f"epoch {epoch + 1}/{options.epochs}", unit="batch"
    )
    for start in range(0, len(order), options.batch_size):
        part = np.sort(order[start : start + options.batch_size])
        if len(part) < 2:  # batch norm cannot normalise a batch of one
            continue
        codes, flip, offsets = batches.augment(part, rng)
        x = batches.one_hot(codes)
        y = batches.targets(part, trainer.task, flip, offsets)
        trainer.optimizer.zero_grad(set_to_none=True)
        with autocast(trainer.device, trainer.amp_dtype):
            loss = trainer.criterion(trainer.step_model(x).float(), y)
        _step(trainer, loss)
        total_loss = total_loss + loss.detach() * len(part)  # stays on the device: no sync
        seen += len(part)
        bar.update(1)
    bar.close()
    return float(total_loss), seen


def _step(trainer: Trainer, loss) -> None:
    """Backward, gradient clipping and the optimizer step (scaled for float16)."""
    import torch

    scaler, optimizer = trainer.scaler, trainer.optimizer
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if trainer.options.grad_clip:
        torch.nn.utils.clip_grad_norm_(trainer.network.parameters(), trainer.options.grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


def fit(
    trainer: Trainer,
    batches: AugmentedBatches,
    train_rows: np.ndarray,
    valid: Split,
    state: LoopState,
    *,
    work: Path | None = None,
    signature: dict | None = None,
    show: bool | None = False,
) -> bool:
    """Run epochs from ``state.start_epoch`` until ``options.epochs`` or early stopping.

    Updates ``state`` (history, best weights, counters) and, with ``work``, writes a
    checkpoint after every epoch (rank 0 only).  Returns whether training stopped early.
    """
    options = trainer.options
    for epoch in range(state.start_epoch, options.epochs):
        if state.bad_epochs >= options.patience:
            break
        started = time.perf_counter()
        total_loss, seen = train_epoch(trainer, batches, train_rows, epoch, show)
        if not np.isfinite(total_loss):
            raise DataError(
                f"training diverged (loss is {total_loss}) in epoch {epoch + 1}; lower "
                "--lr or check the labels for extreme values"
            )
        metrics = evaluate(
            trainer.network,
            valid,
            trainer.task,
            trainer.criterion,
            options,
            n_encoding=trainer.n_encoding,
            device=trainer.device,
            amp_dtype=trainer.amp_dtype,
        )
        improved = _keep_best(trainer, state, metrics, epoch)
        row = {
            "epoch": epoch + 1,
            "train_loss": total_loss / max(seen, 1),
            "valid_loss": metrics.pop("loss"),
            **{f"valid_{k}": v for k, v in metrics.items()},
            "learning_rate": trainer.optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - started,
        }
        state.history.append(row)
        log.info(
            "epoch %d/%d  %s%s",
            epoch + 1,
            options.epochs,
            "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch",)),
            "  *" if improved else "",
        )
        if work is not None and trainer.rank == 0:
            network, optimizer, scheduler = trainer.network, trainer.optimizer, trainer.scheduler
            save_checkpoint(work, epoch, network, optimizer, scheduler, state, signature)
    return state.bad_epochs >= options.patience


def _keep_best(trainer: Trainer, state: LoopState, metrics: dict, epoch: int) -> bool:
    """Keep the weights if the validation metric improved and step the schedule; whether it
    improved."""
    import torch

    value = metrics.get(trainer.metric, float("nan"))
    maximise = trainer.mode == "max"
    if not np.isfinite(value):  # e.g. a single class in validation: fall back to loss
        value = -metrics["loss"] if maximise else metrics["loss"]
    improved = value > state.best_value if maximise else value < state.best_value
    if improved:
        state.best_value, state.best_epoch, state.bad_epochs = float(value), epoch, 0
        state.best_state = weights_on_cpu(trainer.network)
    else:
        state.bad_epochs += 1
    if isinstance(trainer.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        trainer.scheduler.step(value)
    elif trainer.scheduler is not None:
        trainer.scheduler.step()
    return improved

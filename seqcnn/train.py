"""Training: from an encoded dataset to a model bundle.

One function, :func:`train`, does the whole job: split the data, build the network, run
AdamW with a learning-rate schedule, gradient clipping, reverse-complement and shift
augmentation, early stopping on a validation metric, checkpoints that survive ``kill -9``
(``--resume``), optional distributed data parallel under ``torchrun``, and finally writes
the bundle (:mod:`seqcnn.bundle`).

Batches are built in the main process straight from the dataset's memory-mapped byte
codes: a row gather, optional augmentation on the codes, and a table lookup to one-hot.
On a CPU this costs far less than worker processes would.

Reproducibility: the initial weights come from ``torch.manual_seed(seed)``, each epoch's
order, augmentation and dropout from seeds derived from ``(seed, epoch)``, so a resumed run
continues exactly as an uninterrupted one, and the same seed gives bit-identical weights on
the same CPU.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_directory, atomic_path
from ._version import __version__
from .alphabet import COMPLEMENT_CODES, N_CODE, ONE_HOT_TABLES, check_n_encoding
from .dataset import Dataset, load_dataset
from .errors import DataError, UsageError

__all__ = ["TrainOptions", "TrainResult", "train"]

log = logging.getLogger("seqcnn")

SCHEDULES = ("plateau", "cosine", "constant")
REGRESSION_LOSSES = ("mse", "poisson")


@dataclass
class TrainOptions:
    """Everything that shapes a training run (all stored in the bundle).

    Attributes
    ----------
    architecture, model_options
        Network name (``cnn``, ``resnet``, ``dilated``) and its options
        (see :func:`seqcnn.models.default_options`).
    epochs, batch_size, learning_rate, weight_decay
        AdamW settings and the maximum number of epochs.
    schedule
        ``plateau`` (halve the rate when the validation metric stalls), ``cosine``
        (anneal to zero over ``epochs``) or ``constant``.
    patience
        Stop after this many epochs without a better validation metric.
    grad_clip
        Clip the gradient norm to this value (``None``: no clipping).
    rc_augment, shift
        Train on random reverse complements, and on random shifts of up to ``shift``
        bases (the vacated bases become N).
    valid_fraction, test_fraction, valid_chroms, test_chroms
        How to split off validation and test rows when no separate datasets are given.
    loss
        For regression: ``mse`` (default) or ``poisson`` (counts; the network predicts the
        log rate).
    pos_weight
        For binary/multilabel: ``"balanced"`` weighs positives by negatives/positives per
        target; a number weighs all targets alike; ``None`` no weighting.
    n_encoding
        N/ambiguity encoding (default: the dataset's).
    seed
        Seed for initial weights, splits, batch order, augmentation and dropout.
    device
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    amp
        Mixed precision on CUDA (bfloat16 where supported, else float16 with scaling).

    Examples
    --------
    >>> options = TrainOptions(epochs=20, rc_augment=True, model_options={"first_filters": 128})
    >>> result = train("peaks.ds", "seqcnn_model", options=options, seed=1)  # doctest: +SKIP
    """

    architecture: str = "cnn"
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-3
    schedule: str = "plateau"
    patience: int = 6
    grad_clip: float | None = 1.0
    rc_augment: bool = False
    shift: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.0
    valid_chroms: list[str] | None = None
    test_chroms: list[str] | None = None
    loss: str | None = None
    pos_weight: str | float | None = None
    n_encoding: str | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True

    def check(self) -> None:
        """Raise UsageError for values that cannot work."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size}
        for name, value in positive.items():
            if int(value) < 1:
                raise UsageError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        if self.learning_rate <= 0:
            raise UsageError(f"learning rate must be positive, got {self.learning_rate}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule '{self.schedule}'; choose {', '.join(SCHEDULES)}")
        if self.loss is not None and self.loss not in REGRESSION_LOSSES:
            raise UsageError(f"unknown loss '{self.loss}'; choose {', '.join(REGRESSION_LOSSES)}")
        if self.shift < 0:
            raise UsageError(f"shift must be >= 0, got {self.shift}")
        if self.patience < 1:
            raise UsageError(f"patience must be at least 1, got {self.patience}")
        if self.n_encoding is not None:
            check_n_encoding(self.n_encoding)
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith(
            "cuda:"
        ):
            raise UsageError(f"unknown device '{self.device}'; choose auto, cpu, cuda or mps")
        if isinstance(self.pos_weight, str) and self.pos_weight != "balanced":
            raise UsageError("pos-weight must be 'balanced' or a number")


@dataclass
class TrainResult:
    """What :func:`train` returns: the model, its history and where it was saved."""

    model: Any
    history: Any
    path: Path | None
    metrics: dict[str, dict[str, float]]


# ---------------------------------------------------------------------------- batches


class _Batches:
    """Builds one-hot batches from a dataset's byte codes, with augmentation."""

    def __init__(self, dataset: Dataset, n_encoding: str, device, rc: bool, shift: int):
        import torch

        self.codes = dataset.codes
        self.labels = dataset.labels
        self.table = torch.from_numpy(ONE_HOT_TABLES[n_encoding]).to(device)
        self.table_by_channel = np.ascontiguousarray(ONE_HOT_TABLES[n_encoding].T)
        self.device = device
        self.rc = rc
        self.shift = shift

    def codes_for(self, rows: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        codes = np.asarray(self.codes[rows])
        if rng is None:
            return codes
        if self.rc:
            flip = rng.random(len(rows)) < 0.5
            if flip.any():
                codes[flip] = COMPLEMENT_CODES[codes[flip, ::-1]]
        if self.shift:
            # Pad with N on both sides, then take each row's window at its own offset.
            n, length, s = len(rows), codes.shape[1], self.shift
            padded = np.full((n, length + 2 * s), N_CODE, dtype=np.uint8)
            padded[:, s : s + length] = codes
            offsets = rng.integers(-s, s + 1, size=n)
            windows = np.lib.stride_tricks.sliding_window_view(padded, length, axis=1)
            codes = windows[np.arange(n), s - offsets]
        return codes

    def one_hot(self, codes: np.ndarray):
        import torch

        if self.device.type == "cpu":
            # One numpy gather per channel, straight into (B, 4, L): no transpose copy, and
            # single-threaded, so it does not stall when the cores are busy.
            out = np.empty((len(codes), 4, codes.shape[1]), dtype=np.float32)
            for channel in range(4):
                np.take(self.table_by_channel[channel], codes, out=out[:, channel, :])
            return torch.from_numpy(out)
        # On accelerators send the 1-byte codes and expand there.
        index = torch.from_numpy(codes)
        if self.device.type == "cuda":
            index = index.pin_memory()
        index = index.to(self.device, non_blocking=True).long()
        return self.table[index].transpose(1, 2).contiguous()

    def targets(self, rows: np.ndarray, task: str):
        import torch

        y = torch.from_numpy(np.asarray(self.labels[rows]))
        return y.to(self.device, dtype=torch.long if task == "multiclass" else torch.float32)


# ---------------------------------------------------------------------------- setup


def _distributed():
    """(rank, world_size), initialising torch.distributed when run under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def _criterion(task: str, options: TrainOptions, labels: np.ndarray, device):
    import torch
    from torch import nn

    if task in ("binary", "multilabel"):
        weight = None
        if options.pos_weight == "balanced":
            positives = labels.sum(axis=0)
            weight = (len(labels) - positives) / np.maximum(positives, 1)
        elif options.pos_weight is not None:
            weight = np.full(labels.shape[1], float(options.pos_weight))
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=torch.float32, device=device)
        return nn.BCEWithLogitsLoss(pos_weight=weight)
    if task == "multiclass":
        return nn.CrossEntropyLoss()
    if options.loss == "poisson":
        return nn.PoissonNLLLoss(log_input=True, full=False)
    return nn.MSELoss()


def _scheduler(optimizer, options: TrainOptions, mode: str):
    import torch

    if options.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=0.5, patience=max(1, options.patience // 3)
        )
    if options.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.epochs)
    return None


def _resolve_data(data, name: str) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if data is None:
        return None
    path = Path(data)
    if path.is_dir():
        return load_dataset(path)
    raise DataError(
        f"{name} is not a dataset folder; create one with 'seqcnn encode' (or pass FASTA "
        "and labels to 'seqcnn train')",
        path=str(path),
    )


def _subset_check(dataset: Dataset, name: str) -> None:
    if dataset.labels is None or dataset.task is None:
        raise DataError(
            f"the {name} dataset has no labels; encode it with --labels, --class-per-file or "
            "--header-labels",
            path=str(dataset.path),
        )


# ---------------------------------------------------------------------------- checkpoints


def _optimizer_tensors(optimizer) -> tuple[dict, dict]:
    """Split an optimizer state into tensors (for safetensors) and JSON-able rest."""
    import torch

    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    groups = json.loads(json.dumps(state["param_groups"], default=list))
    return tensors, {"param_groups": groups, "scalars": scalars}


def _restore_optimizer(optimizer, tensors: dict, info: dict) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in info["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def _save_checkpoint(work: Path, epoch: int, network, best_state, optimizer, scheduler, extra):
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in best_state.items()})
    optimizer_tensors, optimizer_info = _optimizer_tensors(optimizer)
    tensors.update(optimizer_tensors)
    name = f"checkpoint-{epoch}.safetensors"
    with atomic_path(work / name) as tmp:
        save_file(tensors, str(tmp))
    info = {
        "epoch": epoch,
        "tensors": name,
        "optimizer": optimizer_info,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        **extra,
    }
    with atomic_path(work / "checkpoint.json") as tmp:
        tmp.write_text(json.dumps(info, default=_to_json))
    for old in work.glob("checkpoint-*.safetensors"):
        if old.name != name:
            old.unlink()


def _to_json(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(type(value).__name__)


def _load_checkpoint(work: Path):
    from safetensors.torch import load_file

    info = json.loads((work / "checkpoint.json").read_text())
    tensors = load_file(str(work / info["tensors"]))
    return info, tensors


def _run_signature(options: TrainOptions, datasets: dict[str, Dataset]) -> dict:
    """What a resumed run must share with the interrupted one."""
    return {
        "options": dataclasses.asdict(options),
        "data": {k: d.content_hash for k, d in datasets.items() if d is not None},
    }


# ---------------------------------------------------------------------------- evaluation


def _predict_rows(network, batches: _Batches, rows, batch_size: int, amp_dtype, rc_transform=None):
    """Logits of ``rows``.  With ``rc_transform`` (the output transform's name), both
    strands are predicted and averaged after the transform, as ``seqcnn predict
    --rc-average`` does, and the mean is returned as logits again (its inverse)."""
    import torch

    from .forward import autocast, invert_transform, strand_mean

    network.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            part = rows[start : start + batch_size]
            codes = batches.codes_for(part, None)
            with autocast(batches.device, amp_dtype):
                out = network(batches.one_hot(codes)).float()
                if rc_transform is not None:
                    rev = network(batches.one_hot(COMPLEMENT_CODES[codes[:, ::-1]])).float()
                    out = invert_transform(strand_mean(out, rev, rc_transform), rc_transform)
            outputs.append(out.cpu())
    if not outputs:
        return torch.zeros((0, network.config["n_outputs"]))
    return torch.cat(outputs)


def _evaluate(network, batches, rows, task, criterion, options, amp_dtype, labels):
    import torch

    from .forward import output_transform
    from .metrics import compute_metrics

    # A model trained on both strands is evaluated on both, as it predicts by default.
    rc_transform = output_transform(task, options.loss) if options.rc_augment else None
    logits = _predict_rows(network, batches, rows, options.batch_size * 4, amp_dtype, rc_transform)
    y = torch.from_numpy(np.asarray(labels[rows]))
    y = y.long() if task == "multiclass" else y.float()
    loss = float(criterion.to("cpu")(logits, y)) if len(rows) else float("nan")
    criterion.to(batches.device)
    metrics = compute_metrics(task, y.numpy(), logits.numpy(), poisson=options.loss == "poisson")
    metrics["loss"] = loss
    return metrics


# ---------------------------------------------------------------------------- training


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
    if encode_options is not None or _is_fasta_input(data):
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

    import pandas as pd
    import torch

    from ._progress import progress_bar
    from .bundle import Model, save_model
    from .forward import autocast, output_transform, pick_device
    from .metrics import primary_metric
    from .models import build_model, summary

    options = dataclasses.replace(options or TrainOptions(), **kwargs)
    options.check()
    dataset = _resolve_data(data, "training data")
    _subset_check(dataset, "training")
    valid_ds = _resolve_data(valid, "validation data")
    test_ds = _resolve_data(test, "test data")
    task = dataset.task
    for other, name in ((valid_ds, "validation"), (test_ds, "test")):
        if other is not None:
            _subset_check(other, name)
            if other.task != task or other.label_names != dataset.label_names:
                raise DataError(
                    f"the {name} dataset has task {other.task} with labels "
                    f"{other.label_names}, the training data {task} with {dataset.label_names}",
                    path=str(other.path),
                )
            if other.length != dataset.length:
                raise DataError(
                    f"the {name} dataset has {other.length} bp sequences, the training data "
                    f"{dataset.length} bp; encode both with the same --length",
                    path=str(other.path),
                )
    if options.loss is not None and task != "regression":
        raise UsageError(f"--loss applies to regression, but the task is {task}")
    if options.loss == "poisson" and (dataset.labels < 0).any():
        raise DataError("poisson loss needs non-negative counts", path=str(dataset.path))
    n_encoding = options.n_encoding or dataset.n_encoding

    rank, world = _distributed()
    device = pick_device(options.device)
    if device.type == "cuda" and world > 1:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    amp_dtype = None
    if options.amp and device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    show = progress if rank == 0 else False

    # Splits: separate datasets, else rows of the training data.
    if valid_ds is None or (test_ds is None and (options.test_fraction or options.test_chroms)):
        parts = split_indices_for(dataset, options, need_valid=valid_ds is None)
    else:
        parts = {"train": np.arange(len(dataset)), "valid": None, "test": None}
    train_rows = parts["train"]
    sources = {
        "valid": (valid_ds, None) if valid_ds is not None else (dataset, parts["valid"]),
        "test": (test_ds, None) if test_ds is not None else (dataset, parts.get("test")),
    }
    if sources["valid"][1] is not None and len(sources["valid"][1]) == 0:
        raise DataError("the validation split is empty; raise --valid-fraction or give --valid")

    torch.manual_seed(options.seed)
    network = build_model(
        options.architecture, dataset.length, _n_outputs(dataset), **options.model_options
    ).to(device)
    info = summary(network)
    train_batches = _Batches(dataset, n_encoding, device, options.rc_augment, options.shift)
    criterion = _criterion(task, options, dataset.labels[train_rows], device)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    metric_name, mode = primary_metric(task)
    scheduler = _scheduler(optimizer, options, mode)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    model_for_step = network
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model_for_step = DistributedDataParallel(
            network, device_ids=[device.index] if device.type == "cuda" else None
        )

    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.exists() and not overwrite:
        raise UsageError("output already exists; use --force to replace it", path=str(out_path))
    work = out_path.parent / f".{out_path.name}.partial" if out_path is not None else None
    signature = _run_signature(options, {"train": dataset, "valid": valid_ds, "test": test_ds})
    history: list[dict] = []
    best_value = -np.inf if mode == "max" else np.inf
    best_epoch, bad_epochs, start_epoch = -1, 0, 0
    best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}

    if resume:
        if work is None or not (work / "checkpoint.json").is_file():
            raise UsageError(
                "nothing to resume: no interrupted run found for this output",
                path=str(out_path),
            )
        saved, tensors = _load_checkpoint(work)
        if saved["signature"] != json.loads(json.dumps(signature, default=_to_json)):
            raise UsageError(
                "the interrupted run used other options or data; resume with the same "
                "command, or start afresh without --resume",
                path=str(work),
            )
        network.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        _restore_optimizer(optimizer, tensors, saved["optimizer"])
        if scheduler is not None and saved["scheduler"] is not None:
            scheduler.load_state_dict(saved["scheduler"])
        history = saved["history"]
        best_value, best_epoch = saved["best_value"], saved["best_epoch"]
        bad_epochs, start_epoch = saved["bad_epochs"], saved["epoch"] + 1
        log.info("resuming after epoch %d", saved["epoch"] + 1)
    elif work is not None and rank == 0:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)

    per_rank = len(train_rows) // world
    stopped_early = False
    for epoch in range(start_epoch, options.epochs):
        if bad_epochs >= options.patience:
            stopped_early = True
            break
        started = time.perf_counter()
        rng = np.random.default_rng([options.seed, epoch])
        order = rng.permutation(train_rows)
        if world > 1:
            order = order[rank::world][:per_rank]
        torch.manual_seed(options.seed * 100_003 + epoch)
        network.train()
        total_loss, seen = 0.0, 0
        n_batches = -(-len(order) // options.batch_size)
        bar = progress_bar(
            show, total=n_batches, desc=f"epoch {epoch + 1}/{options.epochs}", unit="batch"
        )
        for start in range(0, len(order), options.batch_size):
            rows = np.sort(order[start : start + options.batch_size])
            if len(rows) < 2:  # batch norm cannot normalise a batch of one
                continue
            x = train_batches.one_hot(train_batches.codes_for(rows, rng))
            y = train_batches.targets(rows, task)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, amp_dtype):
                loss = criterion(model_for_step(x).float(), y)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            if options.grad_clip:
                torch.nn.utils.clip_grad_norm_(network.parameters(), options.grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            total_loss = total_loss + loss.detach() * len(rows)  # stays on the device: no sync
            seen += len(rows)
            bar.update(1)
        bar.close()
        total_loss = float(total_loss)
        if not np.isfinite(total_loss):
            raise DataError(
                f"training diverged (loss is {total_loss}) in epoch {epoch + 1}; lower "
                "--lr or check the labels for extreme values"
            )
        valid_data, valid_rows = sources["valid"]
        rows = valid_rows if valid_rows is not None else np.arange(len(valid_data))
        vb = _Batches(valid_data, n_encoding, device, False, 0)
        metrics = _evaluate(
            network, vb, rows, task, criterion, options, amp_dtype, valid_data.labels
        )
        value = metrics.get(metric_name, float("nan"))
        if not np.isfinite(value):  # e.g. a single class in validation: fall back to loss
            value = -metrics["loss"] if mode == "max" else metrics["loss"]
        improved = value > best_value if mode == "max" else value < best_value
        if improved:
            best_value, best_epoch, bad_epochs = float(value), epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        else:
            bad_epochs += 1
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(value)
        elif scheduler is not None:
            scheduler.step()
        row = {
            "epoch": epoch + 1,
            "train_loss": total_loss / max(seen, 1),
            "valid_loss": metrics.pop("loss"),
            **{f"valid_{k}": v for k, v in metrics.items()},
            "learning_rate": optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - started,
        }
        history.append(row)
        log.info(
            "epoch %d/%d  %s%s",
            epoch + 1,
            options.epochs,
            "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch",)),
            "  *" if improved else "",
        )
        if work is not None and rank == 0:
            extra = {
                "signature": signature,
                "history": history,
                "best_value": best_value,
                "best_epoch": best_epoch,
                "bad_epochs": bad_epochs,
            }
            _save_checkpoint(work, epoch, network, best_state, optimizer, scheduler, extra)
    else:
        stopped_early = bad_epochs >= options.patience

    # Final: best weights, evaluated on validation and (once) on test.
    network.load_state_dict(best_state)
    final = {}
    for split in ("valid", "test"):
        split_data, split_rows = sources[split]
        if split_data is None or (split_rows is not None and len(split_rows) == 0):
            continue
        rows = split_rows if split_rows is not None else np.arange(len(split_data))
        batches = _Batches(split_data, n_encoding, device, False, 0)
        final[split] = _evaluate(
            network, batches, rows, task, criterion, options, amp_dtype, split_data.labels
        )
        log.info("%s: %s", split, "  ".join(f"{k} {v:.4g}" for k, v in final[split].items()))
    history_frame = pd.DataFrame(history)
    network.cpu().eval()
    config = {
        "alphabet": "ACGT",
        "input_length": dataset.length,
        "n_encoding": n_encoding,
        "task": task,
        "loss": options.loss,
        "output_names": dataset.label_names,
        "output_transform": output_transform(task, options.loss),
        "rc_average": bool(options.rc_augment),
        "receptive_field": info["receptive_field"],
        "parameters": info["parameters"],
        "seqcnn_version": __version__,
        "torch_version": torch.__version__,
        "training": {
            "data": str(dataset.path),
            "data_sources": [s["path"] for s in dataset.header.get("sources", [])],
            "data_hash": dataset.content_hash,
            "valid_data_hash": valid_ds.content_hash if valid_ds is not None else None,
            "n_train": int(len(train_rows)),
            "options": dataclasses.asdict(options),
            "epochs_run": len(history),
            "best_epoch": best_epoch + 1,
            "stopped_early": bool(stopped_early),
            "world_size": world,
        },
        "metrics": final,
    }
    model = Model(network, {**config, "model": network.config})
    saved_path = None
    if out_path is not None and rank == 0:
        with atomic_directory(out_path, overwrite=overwrite) as tmp:
            save_model(network, config, tmp)
            history_frame.to_csv(tmp / "metrics.csv", index=False)
            if len(history_frame):
                from .plots import plot_learning_curves, save_figure

                save_figure(plot_learning_curves(history_frame), tmp / "learning_curve.png")
        shutil.rmtree(work, ignore_errors=True)
        saved_path = out_path
        model.path = out_path
        model.config = json.loads((out_path / "config.json").read_text())
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return TrainResult(model=model, history=history_frame, path=saved_path, metrics=final)


def _is_fasta_input(data) -> bool:
    if isinstance(data, Dataset):
        return False
    if isinstance(data, list | tuple):
        return len(data) != 1 or _is_fasta_input(data[0])
    return str(data) == "-" or Path(data).is_file()


def _train_from_fasta(data, out, encode_options, **kwargs) -> TrainResult:
    """Encode FASTA input into a temporary dataset beside the output, then train on it."""
    import tempfile

    from .dataset import encode

    files = list(data) if isinstance(data, list | tuple) else [data]
    parent = Path(out).parent if out is not None else Path(".")
    with tempfile.TemporaryDirectory(prefix=".seqcnn-encode-", dir=parent) as tmp:
        dataset = encode(files, Path(tmp) / "data", **encode_options)
        return train(dataset, out, **kwargs)


def _n_outputs(dataset: Dataset) -> int:
    if dataset.task == "multiclass":
        return len(dataset.label_names)
    return dataset.labels.shape[1]


def split_indices_for(dataset: Dataset, options: TrainOptions, need_valid: bool) -> dict:
    """Split the training dataset's rows per the options."""
    from .labels import split_indices

    return split_indices(
        dataset.ids,
        valid_fraction=options.valid_fraction if need_valid else 0.0,
        test_fraction=options.test_fraction,
        valid_chroms=options.valid_chroms if need_valid else None,
        test_chroms=options.test_chroms,
        seed=options.seed,
    )

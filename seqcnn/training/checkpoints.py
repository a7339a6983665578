"""Checkpoints that survive ``kill -9``: what an epoch leaves behind, and resuming from it.

After every epoch the loop writes, in a hidden ``.<bundle>.partial`` folder beside the
bundle, one safetensors file (the current weights, the best weights so far and the
optimizer's tensors) and ``checkpoint.json`` (the epoch, the optimizer's and scheduler's
other state, the history, the early-stopping counters and the run's signature), each
atomically.  ``--resume`` checks that the signature (options and data hashes) is the same
and continues exactly where the interrupted run stopped.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import atomic_path
from ..dataset import Dataset
from ..errors import UsageError
from .options import TrainOptions

__all__ = [
    "LoopState",
    "weights_on_cpu",
    "fresh_state",
    "run_signature",
    "work_folder",
    "start_work",
    "save_checkpoint",
    "load_checkpoint",
    "resume_state",
    "to_json",
]


@dataclass
class LoopState:
    """Where the epoch loop stands: all that a checkpoint keeps besides the weights in
    training and the optimizer.

    Attributes
    ----------
    best_state
        The best weights so far (on the CPU).
    best_value, best_epoch
        Their validation metric and (0-based) epoch; -1 before the first.
    bad_epochs
        Epochs since the last improvement.
    start_epoch
        The first epoch still to run.
    history
        One dict per epoch run (the rows of ``metrics.csv``).
    """

    best_state: dict[str, Any]
    best_value: float
    best_epoch: int = -1
    bad_epochs: int = 0
    start_epoch: int = 0
    history: list[dict] = field(default_factory=list)


def weights_on_cpu(network) -> dict[str, Any]:
    """A CPU copy of a network's weights."""
    return {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}


def fresh_state(network, mode: str) -> LoopState:
    """The state before the first epoch; ``mode`` is ``"max"`` or ``"min"`` (the direction of
    the validation metric)."""
    return LoopState(weights_on_cpu(network), float("-inf") if mode == "max" else float("inf"))


def run_signature(options: TrainOptions, datasets: dict[str, Dataset | None]) -> dict:
    """What a resumed run must share with the interrupted one: the options and the content
    hashes of the datasets."""
    return {
        "options": dataclasses.asdict(options),
        "data": {k: d.content_hash for k, d in datasets.items() if d is not None},
    }


def work_folder(out: Path | None) -> Path | None:
    """The hidden folder beside the bundle ``out`` where checkpoints live while training."""
    return out.parent / f".{out.name}.partial" if out is not None else None


def start_work(work: Path) -> None:
    """An empty checkpoint folder (what an earlier, abandoned run left is removed)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)


def save_checkpoint(
    work: Path, epoch: int, network, optimizer, scheduler, state: LoopState, signature: dict
) -> None:
    """Write the checkpoint after ``epoch`` (0-based) and remove the previous one."""
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in state.best_state.items()})
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
        "signature": signature,
        "history": state.history,
        "best_value": state.best_value,
        "best_epoch": state.best_epoch,
        "bad_epochs": state.bad_epochs,
    }
    with atomic_path(work / "checkpoint.json") as tmp:
        tmp.write_text(json.dumps(info, default=to_json))
    for old in work.glob("checkpoint-*.safetensors"):
        if old.name != name:
            old.unlink()


def load_checkpoint(work: Path) -> tuple[dict, dict]:
    """``(checkpoint.json as a dict, the checkpoint's tensors)``."""
    from safetensors.torch import load_file

    info = json.loads((work / "checkpoint.json").read_text())
    tensors = load_file(str(work / info["tensors"]))
    return info, tensors


def resume_state(
    work: Path | None, out: Path | None, signature: dict, network, optimizer, scheduler
) -> LoopState:
    """Load the last checkpoint into the network, optimizer and scheduler; the loop's state.

    Raises
    ------
    UsageError
        There is no checkpoint, or it was written by a run with other options or data.
    """
    if work is None or not (work / "checkpoint.json").is_file():
        raise UsageError(
            "nothing to resume: no interrupted run found for this output", path=str(out)
        )
    saved, tensors = load_checkpoint(work)
    if saved["signature"] != json.loads(json.dumps(signature, default=to_json)):
        raise UsageError(
            "the interrupted run used other options or data; resume with the same "
            "command, or start afresh without --resume",
            path=str(work),
        )
    network.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    _restore_optimizer(optimizer, tensors, saved["optimizer"])
    if scheduler is not None and saved["scheduler"] is not None:
        scheduler.load_state_dict(saved["scheduler"])
    return LoopState(
        best_state={k[5:]: v for k, v in tensors.items() if k.startswith("best.")},
        best_value=saved["best_value"],
        best_epoch=saved["best_epoch"],
        bad_epochs=saved["bad_epochs"],
        start_epoch=saved["epoch"] + 1,
        history=saved["history"],
    )


def to_json(value):
    """``json.dumps`` default for numpy/torch scalars, tuples and sets."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(type(value).__name__)


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

"""The end of a run: the best weights evaluated once on validation and test, and the bundle
written (weights, ``config.json``, ``metrics.csv`` and the learning curve).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from .._io import atomic_directory
from .._version import __version__
from ..alphabet import ALPHABET
from .checkpoints import LoopState, work_folder
from .data import TrainingData
from .evaluation import evaluate
from .loop import Trainer
from .options import TrainResult

__all__ = ["final_metrics", "bundle_config", "write_bundle", "finish"]

log = logging.getLogger("seqcnn")


def final_metrics(trainer: Trainer, data: TrainingData) -> dict[str, dict[str, float]]:
    """Metrics of the network as it is on the validation and (if any) test rows."""
    final = {}
    for name, split in (("valid", data.valid), ("test", data.test)):
        if len(split.rows) == 0:
            continue
        final[name] = evaluate(
            trainer.network,
            split,
            trainer.task,
            trainer.criterion,
            trainer.options,
            n_encoding=trainer.n_encoding,
            device=trainer.device,
            amp_dtype=trainer.amp_dtype,
        )
        log.info("%s: %s", name, "  ".join(f"{k} {v:.4g}" for k, v in final[name].items()))
    return final


def bundle_config(
    trainer: Trainer,
    data: TrainingData,
    state: LoopState,
    *,
    info: dict[str, Any],
    stopped_early: bool,
    metrics: dict[str, dict[str, float]],
    chosen: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The bundle's ``config.json`` (before :func:`seqcnn.bundle.save_model` adds the format
    fields, the checksum and the network's own description).

    ``info`` is the network's :func:`seqcnn.models.summary`; ``chosen`` the training
    options :func:`~seqcnn.training.options.data_defaults` filled in.  Both rules' choices
    are recorded under ``training.defaults_chosen`` (the values themselves are also in the
    model's and the training's options, which rebuild the model without any rule).
    """
    import torch

    from ..forward import output_transform
    from ..models.sizing import SIZING_RULE

    options, dataset = trainer.options, data.dataset
    defaults_chosen = {
        "rule": SIZING_RULE,
        "model": getattr(trainer.network, "sized_options", {}),
        "training": chosen or {},
    }
    return {
        "alphabet": ALPHABET,
        "input_length": dataset.length,
        "n_encoding": trainer.n_encoding,
        "task": trainer.task,
        "loss": options.loss,
        "output_names": dataset.label_names,
        "output_transform": output_transform(trainer.task, options.loss),
        "rc_average": bool(options.rc_augment),
        "receptive_field": info["receptive_field"],
        "parameters": info["parameters"],
        "seqcnn_version": __version__,
        "torch_version": torch.__version__,
        "training": {
            "data": str(dataset.path),
            "data_sources": [s["path"] for s in dataset.header.get("sources", [])],
            "data_hash": dataset.content_hash,
            "valid_data_hash": (
                data.valid_dataset.content_hash if data.valid_dataset is not None else None
            ),
            "n_train": int(len(data.train_rows)),
            "options": dataclasses.asdict(options),
            "epochs_run": len(state.history),
            "best_epoch": state.best_epoch + 1,
            "stopped_early": bool(stopped_early),
            "world_size": trainer.world,
            "defaults_chosen": defaults_chosen,
        },
        "metrics": metrics,
    }


def write_bundle(
    out: Path,
    network,
    config: dict,
    history,
    overwrite: bool = False,
    extra_files: dict[str, Path] | None = None,
) -> None:
    """Write the bundle folder ``out`` atomically: weights and config, ``metrics.csv`` (one
    row per epoch), ``learning_curve.png`` and copies of ``extra_files`` (name -> source)."""
    from ..bundle import save_model

    with atomic_directory(out, overwrite=overwrite) as tmp:
        save_model(network, config, tmp)
        history.to_csv(tmp / "metrics.csv", index=False)
        for name, source in (extra_files or {}).items():
            shutil.copyfile(source, tmp / name)
        if len(history):
            from ..plots import plot_learning_curves, save_figure

            save_figure(plot_learning_curves(history), tmp / "learning_curve.png")


def finish(
    trainer: Trainer,
    data: TrainingData,
    state: LoopState,
    *,
    info: dict[str, Any],
    stopped_early: bool,
    out: Path | None,
    overwrite: bool = False,
    chosen: dict[str, Any] | None = None,
    extra_files: dict[str, Path] | None = None,
    extra_training: dict[str, Any] | None = None,
) -> TrainResult:
    """Restore the best weights, evaluate them, and save the bundle (rank 0, with ``out``),
    removing the checkpoints.  ``chosen``: the training options the data-size rule filled;
    ``extra_files`` (name -> source) are copied into the bundle and ``extra_training`` is
    added to ``config.json``'s ``training`` (the tuning summary)."""
    import pandas as pd

    from ..bundle import Model

    network = trainer.network
    network.load_state_dict(state.best_state)
    metrics = final_metrics(trainer, data)
    history = pd.DataFrame(state.history)
    network.cpu().eval()
    config = bundle_config(
        trainer,
        data,
        state,
        info=info,
        stopped_early=stopped_early,
        metrics=metrics,
        chosen=chosen,
    )
    config["training"].update(extra_training or {})
    model = Model(network, {**config, "model": network.config})
    saved = None
    if out is not None and trainer.rank == 0:
        write_bundle(out, network, config, history, overwrite=overwrite, extra_files=extra_files)
        shutil.rmtree(work_folder(out), ignore_errors=True)
        saved = model.path = out
        model.config = json.loads((out / "config.json").read_text())
    return TrainResult(model=model, history=history, path=saved, metrics=metrics)

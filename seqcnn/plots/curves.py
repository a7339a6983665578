"""Learning curves: training and validation loss, and validation metrics, per epoch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqcnn.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["plot_learning_curves"]


def plot_learning_curves(metrics: pd.DataFrame | str | os.PathLike) -> Figure:
    """Draw training and validation loss on one axis and validation metrics on another.

    Parameters
    ----------
    metrics
        The training log (or the path of its ``metrics.csv``) with an ``epoch`` column
        and, wide format, ``train_loss``, ``valid_loss`` and ``valid_<metric>`` columns
        (any ``train_``/``valid_``/``test_`` column is drawn, other columns such as a
        learning rate are not); a long format with a ``split`` column (``epoch, split,
        loss, auroc, ...``) is widened to ``<split>_<column>``.  The best epoch (lowest
        ``valid_loss``) is marked.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.7, 0.5, 0.4],
    ...                     "valid_loss": [0.7, 0.6, 0.65], "valid_auroc": [0.6, 0.7, 0.72]})
    >>> fig = plot_learning_curves(log)
    """
    import pandas as pd
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    frame = _wide_metrics(metrics if isinstance(metrics, pd.DataFrame) else _read_csv(metrics))
    epochs = frame["epoch"].to_numpy()
    # Other bookkeeping columns (learning rate, time) are not curves of interest.
    curves = [
        c
        for c in frame.columns
        if str(c).startswith(("train_", "valid_", "test_"))
        and pd.api.types.is_numeric_dtype(frame[c])
        and frame[c].notna().any()
    ]
    loss_columns = [c for c in curves if c.endswith("loss")]
    metric_columns = [c for c in curves if c not in loss_columns]
    fig = Figure(figsize=(9.0 if metric_columns else 5.0, 3.2), layout="constrained")
    axes = fig.subplots(1, 2 if metric_columns else 1, squeeze=False)[0]
    best_epoch = None
    if "valid_loss" in frame and frame["valid_loss"].notna().any():
        best_epoch = epochs[int(np.nanargmin(frame["valid_loss"].to_numpy(dtype=float)))]

    panels = [(axes[0], loss_columns, "loss")]
    if metric_columns:
        panels.append((axes[1], metric_columns, "metric"))
    for ax, columns, ylabel in panels:
        for column in columns:
            ax.plot(epochs, frame[column].to_numpy(dtype=float), marker=".", label=column)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.5", linestyle="--", linewidth=1, label="best epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if columns:
            ax.legend(fontsize="small")
    axes[0].set_title("loss", fontsize="medium")
    if metric_columns:
        axes[1].set_title("validation metrics", fontsize="medium")
    return fig


def _read_csv(path: str | os.PathLike) -> pd.DataFrame:
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError("metrics file not found", path=str(path))
    try:
        return pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"cannot read the metrics table ({error})", path=str(path)) from error


def _wide_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    if "epoch" not in frame.columns:
        raise DataError(f"the metrics table has no 'epoch' column (columns: {list(frame.columns)})")
    if "split" in frame.columns:
        values = [c for c in frame.columns if c not in ("epoch", "split")]
        wide = frame.pivot_table(index="epoch", columns="split", values=values, aggfunc="last")
        wide.columns = [f"{split}_{column}" for column, split in wide.columns]
        frame = wide.reset_index()
    if len(frame) == 0:
        raise DataError("the metrics table has no rows")
    return frame.sort_values("epoch").reset_index(drop=True)

"""Training batches: rows of a dataset -> augmented codes -> one-hot tensors and targets.

Batches are built in the main process straight from the dataset's memory-mapped byte
codes: a row gather, optional augmentation on the codes (random reverse complement, random
shift with N filling the vacated bases), and the one-hot expansion of
:class:`seqcnn.forward.OneHotBatches`.  On a CPU this costs far less than worker processes
would; on an accelerator only the 1-byte codes cross the bus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..alphabet import COMPLEMENT_CODES, N_CODE
from ..dataset import Dataset
from ..forward import OneHotBatches

if TYPE_CHECKING:
    import torch

__all__ = ["AugmentedBatches"]


class AugmentedBatches:
    """Builds one-hot batches from a dataset's byte codes, with augmentation.

    Parameters
    ----------
    dataset
        Where the codes and labels come from.
    n_encoding
        How N and ambiguity codes become channel values.
    device
        Where the tensors go.
    rc
        Reverse-complement each row with probability 1/2.
    shift
        Shift each row by a random offset in ``[-shift, shift]``, filling with N.

    Attributes
    ----------
    one_hot
        Codes -> one-hot float tensors on the device (a
        :class:`seqcnn.forward.OneHotBatches`).

    Examples
    --------
    >>> import torch
    >>> cpu = torch.device("cpu")
    >>> batches = AugmentedBatches(ds, "zeros", cpu, rc=True, shift=3)  # doctest: +SKIP
    >>> codes = batches.codes_for(rows, np.random.default_rng(0))  # doctest: +SKIP
    >>> x, y = batches.one_hot(codes), batches.targets(rows, ds.task)  # doctest: +SKIP
    """

    def __init__(
        self, dataset: Dataset, n_encoding: str, device: torch.device, rc: bool, shift: int
    ):
        self.codes = dataset.codes
        self.labels = dataset.labels
        self.device = device
        self.rc = rc
        self.shift = shift
        self.one_hot = OneHotBatches(device, n_encoding)

    def codes_for(self, rows: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """``(len(rows), L)`` codes of ``rows``, augmented with ``rng`` (``None``: as stored)."""
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

    def targets(self, rows: np.ndarray, task: str) -> torch.Tensor:
        """Labels of ``rows`` on the device: class indices (multiclass) or float32."""
        import torch

        y = torch.from_numpy(np.asarray(self.labels[rows]))
        return y.to(self.device, dtype=torch.long if task == "multiclass" else torch.float32)

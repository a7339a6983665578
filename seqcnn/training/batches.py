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
        Reverse-complement each row with probability 1/2 (per-position labels are reversed
        along the sequence with it).
    shift
        Shift each row by a random offset in ``[-shift, shift]``, filling with N
        (per-position labels shift with it, the bases shifted in unknown).

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
        return self.augment(rows, rng)[0]

    def augment(self, rows: np.ndarray, rng: np.random.Generator | None) -> tuple:
        """``(codes, flip, offsets)``: the codes of ``rows`` augmented with ``rng``, which rows
        were reverse-complemented (or ``None``) and each row's shift (or ``None``), for
        :meth:`targets` to move per-position labels alike."""
        codes = np.asarray(self.codes[rows])
        flip = offsets = None
        if rng is None:
            return codes, flip, offsets
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
        return codes, flip, offsets

    def targets(
        self,
        rows: np.ndarray,
        task: str,
        flip: np.ndarray | None = None,
        offsets: np.ndarray | None = None,
    ) -> torch.Tensor:
        """Labels of ``rows`` on the device: class indices (multiclass) or float32.

        Per-position labels ``(n, T, L)`` (segmentation, profile) come as float32 with NaN
        for unknown bases, moved with their sequences: reversed along the sequence where
        ``flip`` (the tracks stay in their order: whether a reverse-complemented track
        belongs to another strand is a choice about the data, left to the user) and
        shifted by ``offsets`` with the bases shifted in unknown.
        """
        import torch

        from ..labels import POSITION_TASKS

        if task not in POSITION_TASKS:
            y = torch.from_numpy(np.asarray(self.labels[rows]))
            return y.to(self.device, dtype=torch.long if task == "multiclass" else torch.float32)
        from ..position_metrics import track_values

        values = track_values(self.labels[rows])
        if flip is not None and flip.any():
            values[flip] = values[flip, :, ::-1]
        if offsets is not None:
            n, tracks, length = values.shape
            s = self.shift
            padded = np.full((n, tracks, length + 2 * s), np.nan, dtype=np.float32)
            padded[:, :, s : s + length] = values
            windows = np.lib.stride_tricks.sliding_window_view(padded, length, axis=2)
            values = windows[np.arange(n)[:, None], np.arange(tracks), (s - offsets)[:, None]]
        return torch.from_numpy(np.ascontiguousarray(values)).to(self.device)

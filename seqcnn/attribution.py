"""Which bases drive a prediction: saliency (gradient x input) and in-silico mutagenesis.

Both methods explain one output of the network (a *target*) for each sequence and
return a score per base and position, shape (N, 4, L), aligned with the one-hot input,
ready for a sequence logo.

- **saliency**: ``x * d f(x) / d x``, the gradient of the target output times the
  one-hot input, so only the bases present in the sequence score.  One backward pass
  per batch.
- **ism** (in-silico saturation mutagenesis): ``f(x with position i set to base b) -
  f(x)`` for every position and every base.  The reference base scores exactly 0 and
  the three alternatives tell how much the output changes when the base is mutated to
  them.  ``3 L`` forward passes per sequence.

``f`` is the chosen output of the network: a raw logit unless ``transform`` says
otherwise.  Attribute logits: a sigmoid or softmax flattens the differences between
strongly predicted sequences.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn.errors import DataError, ModelError, UsageError

from ._io import atomic_path

if TYPE_CHECKING:
    import torch

__all__ = ["METHODS", "TRANSFORMS", "attribution", "save_attributions", "load_attributions"]

METHODS = ("saliency", "ism")
TRANSFORMS = ("sigmoid", "softmax", "exp")


def _resolve_transform(
    transform: str | Callable[[torch.Tensor], torch.Tensor] | None,
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``None`` (raw logits), a callable on (N, T) outputs, or the name of one."""
    import torch

    if transform is None or callable(transform):
        return transform
    named = {
        "sigmoid": torch.sigmoid,
        "softmax": lambda out: torch.softmax(out, dim=1),
        "exp": torch.exp,
    }
    if transform not in named:
        raise UsageError(
            f"unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)} "
            "or leave it unset to attribute raw logits"
        )
    return named[transform]


def _resolve_target(target: int | str, output_names: Sequence[str] | None) -> int:
    """The output index of ``target``, given as an index or as an output name."""
    if isinstance(target, str):
        if output_names is None:
            raise UsageError(
                f"target {target!r} is a name, but this model has no output names; "
                "give the output index instead"
            )
        names = list(output_names)
        if target not in names:
            raise UsageError(
                f"unknown target {target!r}; the model's outputs are: {', '.join(names)}"
            )
        return names.index(target)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise UsageError(f"target must be an output index or name, got {target!r}")
    index = int(target)
    if output_names is not None and not 0 <= index < len(output_names):
        raise UsageError(
            f"target index {index} is out of range; the model has {len(output_names)} "
            f"outputs: {', '.join(output_names)}"
        )
    return index


def _check_input(x: np.ndarray, input_length: int | None) -> None:
    if x.ndim != 3 or x.shape[1] != 4:
        raise DataError(f"sequences must be one-hot encoded as (N, 4, L), got shape {x.shape}")
    if input_length is not None and x.shape[2] != input_length:
        raise ModelError(
            f"the model expects sequences of length {input_length}, got length {x.shape[2]}; "
            f"encode them with length={input_length}"
        )


class _Target:
    """The scalar function that is explained: one output of the network, per sequence."""

    def __init__(self, network: Any, index: int, transform: Callable | None):
        self.network = network
        self.index = index
        self.transform = transform

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.network(x)
        if out.ndim == 1:
            out = out[:, None]
        if self.transform is not None:
            out = self.transform(out)
        if not 0 <= self.index < out.shape[1]:
            raise UsageError(
                f"target index {self.index} is out of range; the model has {out.shape[1]} outputs"
            )
        return out[:, self.index]


def _saliency(f: _Target, x: torch.Tensor, batch_size: int) -> np.ndarray:
    import torch

    scores = np.empty(tuple(x.shape), dtype=np.float32)
    device, dtype = _device_dtype(f.network)
    with torch.enable_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size].to(device=device, dtype=dtype)
            batch.requires_grad_(True)
            # Sequences do not interact in eval mode, so the gradient of the sum is the
            # gradient of each sequence's own output.
            (grad,) = torch.autograd.grad(f(batch).sum(), batch)
            scores[start : start + len(batch)] = (grad * batch).detach().cpu().numpy()
    return scores


def _ism(f: _Target, x: torch.Tensor, batch_size: int) -> np.ndarray:
    import torch

    n, _, length = x.shape
    scores = np.zeros((n, 4, length), dtype=np.float32)
    device, dtype = _device_dtype(f.network)
    with torch.inference_mode():
        reference = torch.cat(
            [
                f(x[s : s + batch_size].to(device=device, dtype=dtype)).cpu()
                for s in range(0, n, batch_size)
            ]
        )
        x_np = x.numpy()
        # Base b at position i is a mutation unless the column already is one-hot b; an
        # ambiguous column (N as zeros or 0.25) gets all four bases mutated in.
        is_reference = (x_np == 1) & (np.abs(x_np).sum(axis=1, keepdims=True) == 1)
        # Mutants of a bounded number of sequences at a time keep the index arrays small.
        per_chunk = max(1, 2**20 // (4 * max(length, 1)))
        for first in range(0, n, per_chunk):
            seq, base, pos = np.nonzero(~is_reference[first : first + per_chunk])
            seq += first
            for start in range(0, len(seq), batch_size):
                s = torch.from_numpy(seq[start : start + batch_size])
                b = torch.from_numpy(base[start : start + batch_size])
                p = torch.from_numpy(pos[start : start + batch_size])
                rows = torch.arange(len(s))
                mutants = x[s]
                mutants[rows, :, p] = 0.0
                mutants[rows, b, p] = 1.0
                change = f(mutants.to(device=device, dtype=dtype)).cpu() - reference[s]
                scores[s.numpy(), b.numpy(), p.numpy()] = change.numpy()
    return scores


def _device_dtype(network: Any) -> tuple[torch.device, torch.dtype]:
    import torch

    parameter = next(iter(network.parameters()), None) if hasattr(network, "parameters") else None
    if parameter is None:
        return torch.device("cpu"), torch.float32
    return parameter.device, parameter.dtype


def attribution(
    model: Any,
    x: np.ndarray | torch.Tensor,
    method: str = "saliency",
    target: int | str = 0,
    transform: str | Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Score each base of each sequence by its contribution to one model output.

    Parameters
    ----------
    model
        A loaded :class:`seqcnn.bundle.Model` (uses ``.network`` and ``.output_names``)
        or a bare ``torch.nn.Module`` mapping (N, 4, L) one-hot sequences to (N, T) logits.
    x
        One-hot sequences, shape (N, 4, L), as from :func:`seqcnn.onehot.one_hot`.
    method
        ``"saliency"`` (gradient x input) or ``"ism"`` (in-silico saturation mutagenesis);
        see the module docstring for the definitions.
    target
        The output to explain: its index, or its name in ``model.output_names``.
    transform
        Applied to the (N, T) outputs before the target is taken: ``None`` for raw
        logits (the default), ``"sigmoid"``, ``"softmax"``, ``"exp"`` or a callable.
    batch_size
        Sequences per forward/backward pass for saliency, mutants per forward pass for ISM.
        Results do not depend on it.

    Returns
    -------
    numpy.ndarray
        float32 scores, shape (N, 4, L).  saliency: non-zero only at the bases present
        in ``x``.  ism: ``f(mutant) - f(x)``, exactly 0 at the reference base.

    Raises
    ------
    UsageError
        Unknown method, transform or target (the message lists the valid output names).
    DataError
        ``x`` is not shaped (N, 4, L).
    ModelError
        ``x`` is not as long as the sequences the model was trained on.

    Examples
    --------
    >>> x = one_hot(["ACGTACGTAC"])  # doctest: +SKIP
    >>> scores = attribution(model, x, method="ism", target="enhancer")  # doctest: +SKIP
    >>> scores.shape  # doctest: +SKIP
    (1, 4, 10)
    """
    import torch

    if method not in METHODS:
        raise UsageError(
            f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}"
        )
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    network = getattr(model, "network", model)
    index = _resolve_target(target, getattr(model, "output_names", None))
    f = _Target(network, index, _resolve_transform(transform))

    x = torch.as_tensor(x).detach().cpu().to(torch.float32)
    _check_input(x, getattr(model, "input_length", None))
    if len(x) == 0:
        return np.zeros(tuple(x.shape), dtype=np.float32)

    was_training = getattr(network, "training", False)
    network.eval()
    try:
        if method == "saliency":
            return _saliency(f, x, batch_size)
        return _ism(f, x, batch_size)
    finally:
        network.train(was_training)


def save_attributions(
    path: str | os.PathLike,
    ids: Sequence[str],
    x: np.ndarray,
    attributions: np.ndarray,
    method: str,
    target: int | str,
) -> Path:
    """Write attribution scores to a compressed ``.npz`` file, atomically.

    The file is written under a temporary name in the same directory and renamed into
    place, so a reader never sees a half-written file.

    Parameters
    ----------
    path
        Output file (conventionally ending in ``.npz``); parent directories are created.
    ids
        Sequence identifiers, N of them.
    x
        One-hot sequences, shape (N, 4, L).
    attributions
        Scores from :func:`attribution`, shape (N, 4, L).
    method, target
        How the scores were computed; the target is stored as text.

    Returns
    -------
    pathlib.Path
        The written file.  Its arrays: ``ids`` (str), ``one_hot`` (float32), ``scores``
        (float32), ``method`` and ``target`` (0-d str); read them back with
        :func:`load_attributions`.
    """
    path = Path(path)
    x = np.asarray(x, dtype=np.float32)
    scores = np.asarray(attributions, dtype=np.float32)
    ids_array = np.asarray([str(i) for i in ids], dtype=str)
    if x.shape != scores.shape or x.ndim != 3:
        raise DataError(
            f"sequences of shape {x.shape} and attributions of shape {scores.shape} "
            "must have the same (N, 4, L) shape"
        )
    if len(ids_array) != len(x):
        raise DataError(f"{len(ids_array)} ids given for {len(x)} sequences")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(
            handle,
            ids=ids_array,
            one_hot=x,
            scores=scores,
            method=np.asarray(str(method)),
            target=np.asarray(str(target)),
        )
    return path


def load_attributions(path: str | os.PathLike) -> dict[str, Any]:
    """Read a file written by :func:`save_attributions`.

    Returns
    -------
    dict
        ``ids`` (list of str), ``one_hot`` and ``scores`` (float32 (N, 4, L) arrays),
        ``method`` and ``target`` (str).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return {
                "ids": data["ids"].tolist(),
                "one_hot": data["one_hot"],
                "scores": data["scores"],
                "method": str(data["method"]),
                "target": str(data["target"]),
            }
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"not an attribution file: {error}", path=str(path)) from error

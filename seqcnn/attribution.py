"""Which bases drive a prediction: saliency (gradient x input), in-silico mutagenesis and
DeepLIFT/SHAP.

Each method explains one output of the network (a *target*) for each sequence and
returns a score per base and position, shape (N, 4, L), aligned with the one-hot input,
ready for a sequence logo.

- **saliency**: ``x * d f(x) / d x``, the gradient of the target output times the
  one-hot input, so only the bases present in the sequence score.  One backward pass
  per batch.
- **ism** (in-silico saturation mutagenesis): ``f(x with position i set to base b) -
  f(x)`` for every position and every base.  The reference base scores exactly 0 and
  the three alternatives tell how much the output changes when the base is mutated to
  them.  ``3 L`` forward passes per sequence.
- **deeplift_shap**: DeepLIFT against dinucleotide-shuffled references, averaged over the
  references (DeepSHAP): the contributions of the observed bases sum to ``f(x) - mean
  f(references)``, which is checked.  :func:`deep_lift_shap` also returns the hypothetical
  contributions (every base at every position) motif discovery needs; see
  :mod:`seqcnn.deeplift`.  About 2 x ``n_shuffles`` forward and backward passes per
  sequence.

``f`` is the chosen output of the network: a raw logit unless ``transform`` says
otherwise.  Attribute logits: a sigmoid or softmax flattens the differences between
strongly predicted sequences.

A per-position model (outputs ``(N, T, L_out)``) is explained through one number per
track, ``position_target``: ``"counts"`` (log of the total), ``"profile"`` (BPNet's
softmax-weighted sum) or ``"sum"`` (of the logits), over every output position or a
``position_window``; see :mod:`seqcnn.position_targets`.

The device, the dtype, eval mode and the named transforms are those of
:mod:`seqcnn.forward`; the model may be a :class:`seqcnn.bundle.Model`, a bundle folder or
a bare network (see :func:`seqcnn.bundle.as_model`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._io import atomic_path
from .errors import DataError, ModelError, UsageError
from .forward import TRANSFORMS, apply_transform, evaluating, network_device, network_dtype

if TYPE_CHECKING:
    import torch

__all__ = [
    "METHODS",
    "POSITION_TARGETS",
    "TRANSFORMS",
    "attribution",
    "check_convergence",
    "deep_lift_shap",
    "resolve_target",
    "save_attributions",
    "load_attributions",
]

METHODS = ("saliency", "ism", "deeplift_shap")
#: What a per-position model's target track is reduced to (:mod:`seqcnn.position_targets`).
POSITION_TARGETS = ("counts", "profile", "sum")


def _resolve_transform(
    transform: str | Callable[[torch.Tensor], torch.Tensor] | None,
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``None`` (raw logits), a callable on (N, T) outputs, or the name of a transform of
    :mod:`seqcnn.forward` (softmax over the last axis: the outputs of (N, T))."""
    if transform is None or callable(transform):
        return transform
    if transform not in TRANSFORMS:
        raise UsageError(
            f"unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)} "
            "or leave it unset to attribute raw logits"
        )
    return functools.partial(apply_transform, name=transform)


def resolve_target(target: int | str, output_names: Sequence[str] | None) -> int:
    """The output index of ``target``, given as an index or as an output name.

    Parameters
    ----------
    target
        An output index, or a name in ``output_names``.
    output_names
        The model's outputs; ``None`` when they are not known (then only an index is
        accepted, and not checked).

    Raises
    ------
    UsageError
        An unknown name or an index out of range; the message lists the valid outputs.

    Examples
    --------
    >>> resolve_target("promoter", ["enhancer", "promoter"])
    1
    """
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
    """The scalar function that is explained: one output of the network, per sequence
    (for a per-position network, one track reduced by ``reduce``)."""

    def __init__(self, network: Any, index: int, transform: Callable | None):
        self.network = network
        self.index = index
        self.transform = transform
        self.device = network_device(network)
        self.dtype = network_dtype(network)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.network(x.to(device=self.device, dtype=self.dtype))
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
    with torch.enable_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size].to(device=f.device, dtype=f.dtype)
            batch.requires_grad_(True)
            # Sequences do not interact in eval mode, so the gradient of the sum is the
            # gradient of each sequence's own output.
            (grad,) = torch.autograd.grad(f(batch).sum(), batch)
            scores[start : start + len(batch)] = (grad * batch).detach().cpu().numpy()
    return scores


def _ism(f: _Target, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``f(mutant) - f(x)`` for every base at every position.

    The mutants are built in one preallocated array handed to torch without a copy.  A row
    that held a mutant of the same sequence in the batch before only gets its mutated
    column restored (most rows do: a sequence has ``3 L`` mutants), so building a batch
    costs a few column writes, not a copy of every sequence.
    """
    import torch

    n, _, length = x.shape
    scores = np.zeros((n, 4, length), dtype=np.float32)
    with torch.inference_mode():
        reference = np.concatenate(
            [
                f(torch.from_numpy(x[s : s + batch_size])).cpu().numpy()
                for s in range(0, n, batch_size)
            ]
        )
        # Base b at position i is a mutation unless the column already is one-hot b; an
        # ambiguous column (N as zeros or 0.25) gets all four bases mutated in.
        is_reference = (x == 1) & (np.abs(x).sum(axis=1, keepdims=True) == 1)
        buffer = np.empty((min(batch_size, 4 * length * n), 4, length), dtype=np.float32)
        held = np.full(len(buffer), -1)  # the sequence in each row of the buffer...
        held_at = np.zeros(len(buffer), dtype=np.intp)  # ...and its mutated position
        rows = np.arange(len(buffer))
        # Mutants of a bounded number of sequences at a time keep the index arrays small.
        per_chunk = max(1, 2**20 // (4 * max(length, 1)))
        for first in range(0, n, per_chunk):
            seq, base, pos = np.nonzero(~is_reference[first : first + per_chunk])
            seq += first
            for start in range(0, len(seq), batch_size):
                s = seq[start : start + batch_size]
                b = base[start : start + batch_size]
                p = pos[start : start + batch_size]
                r = rows[: len(s)]
                mutants = buffer[: len(s)]
                same = held[r] == s
                kept, at = r[same], held_at[r[same]]
                mutants[kept, :, at] = x[s[same], :, at]
                new = r[~same]
                mutants[new] = x[s[new]]
                mutants[r, :, p] = 0.0
                mutants[r, b, p] = 1.0
                held[r], held_at[r] = s, p
                change = f(torch.from_numpy(mutants)).cpu().numpy()
                scores[s, b, p] = change - reference[s]
    return scores


def _network_and_outputs(model: Any) -> tuple[Any, list[str] | None, int | None, str | None]:
    """The network, its output names, its input length and its task (``None``: not known).

    A :class:`seqcnn.bundle.Model`, a bundle folder or a network with a ``.config`` goes
    through :func:`seqcnn.bundle.as_model`; any other module (a plain ``torch.nn.Module``
    mapping (N, 4, L) to (N, T)) is used as it is, with neither names nor length.
    """
    from .bundle import Model, as_model

    if (
        model is None
        or isinstance(model, (Model, str, os.PathLike))
        or isinstance(getattr(model, "config", None), dict)
    ):
        view = as_model(model)
        return view.network, view.output_names, view.input_length, view.config.get("task")
    if not callable(model):
        raise UsageError(
            "expected a seqcnn Model, a bundle folder or a torch network, got "
            f"{type(model).__name__}"
        )
    return model, None, None, None


def _position_network(network, task, position_target, position_window, transform):
    from .position_targets import position_network

    return position_network(network, task, position_target, position_window, transform)


def attribution(
    model: Any,
    x: np.ndarray | torch.Tensor,
    method: str = "saliency",
    target: int | str = 0,
    transform: str | Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
    *,
    position_target: str | None = None,
    position_window: tuple[int, int] | None = None,
) -> np.ndarray:
    """Score each base of each sequence by its contribution to one model output.

    Parameters
    ----------
    model
        A :class:`seqcnn.bundle.Model`, a bundle folder (``None``: ``$SEQCNN_MODEL`` or
        ``./seqcnn_model``), a ``SeqCNN``, or any ``torch.nn.Module`` mapping (N, 4, L)
        one-hot sequences to (N, T) logits (then targets are indices only).  The scores
        are computed where the network is, in its dtype.
    x
        One-hot sequences, shape (N, 4, L), as from :func:`seqcnn.onehot.one_hot`.
    method
        ``"saliency"`` (gradient x input), ``"ism"`` (in-silico saturation mutagenesis) or
        ``"deeplift_shap"`` (20 dinucleotide shuffles, seed 0; call :func:`deep_lift_shap`
        for the other settings, the hypothetical contributions and the convergence check);
        see the module docstring for the definitions.
    target
        The output to explain: its index, or its name in the model's output names.
    transform
        Applied to the (N, T) outputs before the target is taken: ``None`` for raw
        logits (the default), ``"sigmoid"``, ``"softmax"`` (over the outputs), ``"exp"``,
        ``"identity"`` or a callable.
    batch_size
        Sequences per forward/backward pass for saliency, mutants per forward pass for ISM,
        sequence-reference pairs for DeepLIFT/SHAP.  Results do not depend on it.
    position_target
        Per-position models only (outputs ``(N, T, L_out)``): how the target track becomes
        one number, ``"counts"`` (log of the total, the default for profile models),
        ``"profile"`` (BPNet's softmax-weighted sum of the centred outputs) or ``"sum"``
        (of the logits, the default otherwise); see :mod:`seqcnn.position_targets`.
    position_window
        ``(start, end)``: the output columns the position target covers (default all).

    Returns
    -------
    numpy.ndarray
        float32 scores, shape (N, 4, L).  saliency: non-zero only at the bases present
        in ``x``.  ism: ``f(mutant) - f(x)``, exactly 0 at the reference base.
        deeplift_shap: non-zero only at the bases present, summing to ``f(x) - mean
        f(references)``.

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
    if method == "deeplift_shap":
        if callable(transform):
            raise UsageError("DeepLIFT/SHAP takes a named transform, not a callable")
        return deep_lift_shap(
            model, x, target, transform=transform, batch_size=batch_size,
            position_target=position_target, position_window=position_window,
        ).attributions  # fmt: skip
    network, output_names, input_length, task = _network_and_outputs(model)
    index = resolve_target(target, output_names)
    network = _position_network(network, task, position_target, position_window, transform)
    f = _Target(network, index, _resolve_transform(transform))

    x = torch.as_tensor(x).detach().cpu().to(torch.float32)
    _check_input(x, input_length)
    if len(x) == 0:
        return np.zeros(tuple(x.shape), dtype=np.float32)
    with evaluating(network):
        if method == "saliency":
            return _saliency(f, x, batch_size)
        return _ism(f, np.ascontiguousarray(x.numpy()), batch_size)


def _explained(model: Any, target: Any, transform: str | None, position_target=None,
               position_window=None) -> tuple[Any, int | None, str]:  # fmt: skip
    """The :class:`seqcnn.deeplift.Explained` of a model and target, the model's input
    length, and a description of the target."""
    from .deeplift import Explained

    network, output_names, input_length, task = _network_and_outputs(model)
    network = _position_network(network, task, position_target, position_window, transform)
    if target is None:
        if output_names is None:
            raise UsageError("this model has no output names; give the target output index")
        targets: list = list(range(len(output_names)))
    elif isinstance(target, (list, tuple)):
        targets = list(target)
    else:
        targets = [target]
    indices = [resolve_target(t, output_names) for t in targets]
    names = [output_names[i] if output_names else str(i) for i in indices]
    what = names[0] if len(names) == 1 else f"sum of {len(names)} outputs ({', '.join(names)})"
    return Explained(network, indices, transform), input_length, what


def deep_lift_shap(
    model: Any,
    x: np.ndarray | torch.Tensor,
    target: int | str | Sequence[int | str] | None = 0,
    *,
    transform: str | None = None,
    n_shuffles: int = 20,
    seed: int = 0,
    batch_size: int = 128,
    tolerance: float = 1e-3,
    progress: bool | None = False,
    output_weights: np.ndarray | None = None,
    position_target: str | None = None,
    position_window: tuple[int, int] | None = None,
) -> Any:
    """DeepLIFT/SHAP attributions and hypothetical contributions, with a convergence check.

    Each sequence is explained against ``n_shuffles`` dinucleotide shuffles of itself (N
    and ambiguous columns stay in place) and the scores are averaged over them.  Works for
    every architecture seqcnn builds (exponential activations, residual adds, max and
    average pooling, batch norm in eval mode); see :mod:`seqcnn.deeplift`.

    Parameters
    ----------
    model
        As for :func:`attribution`.
    x
        One-hot sequences, shape (N, 4, L).
    target
        The output explained: an index or name; a list of them (their sum is explained);
        or ``None`` for the sum of all outputs.
    transform
        ``None`` (raw logits, the default), ``"sigmoid"``, ``"softmax"``, ``"exp"`` or
        ``"identity"``, applied before the target is taken.
    n_shuffles, seed
        References per sequence and their seed; the same seed gives the same scores.
    batch_size
        Sequence-reference pairs per forward/backward pass; results do not depend on it.
    tolerance
        The largest error of a sequence's sum of attributions, relative to the mean
        ``|f(x) - mean f(references)|``, that counts as converged.
    progress
        A progress bar on stderr (``None``: when stderr is a terminal).
    output_weights
        ``(N, T)``: explain, for sequence ``i``, ``sum_j output_weights[i, j] * f_j(x_i)``
        (e.g. each sequence's predicted outputs) instead of ``target``.
    position_target, position_window
        Per-position models: as for :func:`attribution`.

    Returns
    -------
    seqcnn.deeplift.DeepLiftShapResult
        ``attributions`` and ``hypothetical`` (float32, (N, 4, L)), ``convergence``
        (:class:`seqcnn.deeplift.Convergence`: ``converged``, ``relative_error``,
        ``summary()``; a warning is logged when it fails), ``n_shuffles``, ``seed``.

    Examples
    --------
    >>> result = deep_lift_shap(model, one_hot(sequences), target="CTCF")  # doctest: +SKIP
    >>> result.convergence.converged  # doctest: +SKIP
    True
    """
    import torch

    from .deeplift import explain

    explained, input_length, _ = _explained(
        model, target, transform, position_target, position_window
    )
    x = torch.as_tensor(x).detach().cpu().to(torch.float32)
    _check_input(x, input_length)
    return explain(
        explained,
        x.numpy(),
        n_shuffles=n_shuffles,
        seed=seed,
        batch_size=batch_size,
        tolerance=tolerance,
        progress=progress,
        weights=output_weights,
    )


def check_convergence(
    model: Any,
    x: np.ndarray,
    attributions: np.ndarray,
    references: np.ndarray,
    target: int | str | Sequence[int | str] | None = 0,
    *,
    transform: str | None = None,
    tolerance: float = 1e-3,
    output_weights: np.ndarray | None = None,
    position_target: str | None = None,
    position_window: tuple[int, int] | None = None,
) -> Any:
    """Check DeepLIFT/SHAP attributions against the outputs they should add up to.

    Parameters
    ----------
    model, target, transform, output_weights, position_target, position_window
        As for :func:`deep_lift_shap`.
    x
        One-hot sequences, (N, 4, L).
    attributions
        Their attributions (observed bases only), (N, 4, L).
    references
        The references they were computed against, (N, K, 4, L) (see
        :func:`seqcnn.deeplift.dinucleotide_references`).
    tolerance
        As for :func:`deep_lift_shap`.

    Returns
    -------
    seqcnn.deeplift.Convergence
        ``converged`` is false when a sum misses ``f(x) - mean_k f(r_k)`` by more than
        ``tolerance`` times the mean difference: wrong references, or an operation of the
        network without a DeepLIFT rule.
    """
    from .deeplift import check_convergence as check

    explained, input_length, _ = _explained(
        model, target, transform, position_target, position_window
    )
    x = np.asarray(x, dtype=np.float32)
    _check_input(x, input_length)
    weights = None if output_weights is None else np.asarray(output_weights, np.float32)
    return check(explained, x, attributions, references, tolerance, weights=weights)


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

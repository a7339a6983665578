"""DeepLIFT/SHAP attributions against dinucleotide-shuffled references.

DeepLIFT (Shrikumar et al. 2017) explains ``f(x) - f(r)``, the change of an output between
a sequence ``x`` and a reference ``r``, as a sum of one contribution per input: the
multiplier of each base, propagated backwards with a rule per non-linearity (the *rescale*
rule ``dy / dx = (y - y_ref) / (x - x_ref)`` for an activation, the winner of the window
for a max-pool), times its difference from the reference.  DeepSHAP averages over several
references, here dinucleotide shuffles of the sequence, so that a motif contributes and its
composition does not.  Two arrays come out:

- **attributions**: the contribution of the observed base at each position (zero for the
  other three), summing to ``f(x) - mean_k f(r_k)``;
- **hypothetical contributions**: what each of the four bases *would* contribute at each
  position (Shrikumar et al.'s correction for one-hot inputs), the input TF-MoDISco builds
  its contribution weight matrices from.

The engine is tangermeme's ``deep_lift_shap`` (Schreiber, jmschrei/tangermeme): it takes a
reference per sequence (captum's ``DeepLiftShap`` shares one set of baselines across a
batch, so per-sequence shuffles cost one call per sequence), returns hypothetical
contributions itself, handles a module used several times per pass and overlapping or
``ceil_mode`` max-pools, and takes extra rules for module types it does not know.  seqcnn
adds what is particular to its networks:

- rules for its two own non-linear modules: :class:`seqcnn.models.blocks.Exp` (the
  rescale rule, elementwise like any activation) and
  :class:`seqcnn.models.blocks.GlobalPool` in ``"max"`` mode (the change is routed to the
  winning position of each channel, as for a max-pool; the ``"avg"`` mode is linear);
- the references: :func:`seqcnn.shuffle.dinucleotide_shuffle` (uniform over all sequences
  with the same dinucleotide counts) of the unambiguous bases, with every N or ambiguous
  column kept where it is, so that N padding contributes nothing and cannot break the sum;
- the output explained, as modules (so that the rules see them): one output, or the sum
  of several, optionally after a sigmoid, softmax or exp;
- a **convergence check**: the sum of each sequence's attributions is compared with
  ``f(x) - mean_k f(r_k)``, computed by a separate forward pass, and the largest error,
  relative to the mean ``|f(x) - mean_k f(r_k)|``, is returned with the scores
  (:class:`Convergence`).  An operation without a rule (a functional ``torch.exp`` in a
  custom network, say) shows up there as an error of several per cent.

Residual adds, batch norm (eval mode), padding, convolutions, average pooling and dense
layers are linear and need no rule.  The network is explained on the strand given (a model
trained with ``--rc-augment`` averages both strands only when predicting); TF-MoDISco then
aligns seqlets on both strands.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ._progress import progress_bar
from .allocator import reuse_freed_memory
from .alphabet import ALPHABET, LETTER_CODES
from .errors import DataError, UsageError
from .forward import TRANSFORMS, evaluating, network_device, network_dtype

__all__ = [
    "require_discover",
    "DEFAULT_SHUFFLES",
    "DEFAULT_TOLERANCE",
    "Convergence",
    "DeepLiftShapResult",
    "Explained",
    "check_convergence",
    "definite_columns",
    "dinucleotide_references",
    "explain",
    "nonlinear_rules",
]

log = logging.getLogger("seqcnn")

#: References (dinucleotide shuffles) per sequence, as in tangermeme and BPNet.
DEFAULT_SHUFFLES = 20
#: Largest error of the sum of attributions accepted, relative to the mean absolute output
#: difference.  float32 rounding gives 1e-6 to 1e-4 on seqcnn's architectures; an
#: operation without a rule gives several per cent.
DEFAULT_TOLERANCE = 1e-3

# Reference values handled in memory at once (floats), which sets the sequences per chunk.
_CHUNK_VALUES = 2**25


def require_discover(package: str = "tangermeme") -> None:
    """Raise a :class:`~seqcnn.errors.UsageError` saying how to install the ``discover``
    extra (tangermeme, modisco-lite) when ``package`` is missing."""
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise UsageError(
            f"DeepLIFT/SHAP and motif discovery need {package}: pip install 'seqcnn[discover]'"
        )


# -------------------------------------------------------------------------------- rules


def _global_pool_rule(module: nn.Module, grad_input: tuple, grad_output: tuple) -> tuple:
    """DeepLIFT multipliers of :class:`~seqcnn.models.blocks.GlobalPool`.

    The mean is linear: its gradient is its multiplier.  For the maximum, the change of each
    channel's output is split as for a max-pool (captum's and tangermeme's rule): the part
    above the reference's maximum goes to the sequence's winning position, the rest to the
    reference's, and each position's share is divided by its own change.
    """
    if module.mode != "max":
        return grad_input
    x, x_ref = module.input.chunk(2)
    y, y_ref = module.output.chunk(2)
    upstream, upstream_ref = grad_output[0].chunk(2)
    top = torch.maximum(y, y_ref)
    routed = torch.zeros_like(x)
    routed.scatter_add_(-1, x.argmax(-1, keepdim=True), (upstream * (top - y_ref))[..., None])
    routed.scatter_add_(-1, x_ref.argmax(-1, keepdim=True), (upstream_ref * (y - top))[..., None])
    delta = x - x_ref
    unchanged = delta == 0
    # Both halves take the same multiplier, or the sums of the layers below break.
    half = torch.where(
        unchanged, grad_input[0].chunk(2)[0], routed / delta.masked_fill(unchanged, 1)
    )
    return (torch.cat([half, half]),)


def nonlinear_rules() -> dict[type, Any]:
    """The rules seqcnn adds to tangermeme's, by module type.

    Returns
    -------
    dict
        ``{Exp: rescale rule, GlobalPool: global max rule}`` and the rules of the steps
        of :mod:`seqcnn.position_targets`; pass it as
        ``additional_nonlinear_ops`` to ``tangermeme.deep_lift_shap.deep_lift_shap``.
    """
    require_discover("tangermeme")
    # tangermeme documents this import for custom elementwise activations.
    from tangermeme.deep_lift_shap import _nonlinear

    from .models.blocks import Exp, GlobalPool
    from .position_targets import Exp as PositionExp
    from .position_targets import Log, ProfileWeights, profile_weights_rule

    # How a per-position model's track becomes one number (seqcnn.position_targets).
    position = {PositionExp: _nonlinear, Log: _nonlinear, ProfileWeights: profile_weights_rule}
    return {Exp: _nonlinear, GlobalPool: _global_pool_rule, _ExpTransform: _nonlinear, **position}


# ------------------------------------------------------------------ the explained output


class _ExpTransform(nn.Module):
    """``exp`` as a module, so that the rescale rule applies to an exp output transform."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


def _transform_module(transform: str | None) -> nn.Module:
    if transform is None or transform == "identity":
        return nn.Identity()
    if transform == "sigmoid":
        return nn.Sigmoid()
    if transform == "softmax":
        return nn.Softmax(dim=-1)
    if transform == "exp":
        return _ExpTransform()
    raise UsageError(
        f"unknown transform {transform!r} for DeepLIFT/SHAP; choose one of "
        f"{', '.join(TRANSFORMS)} or leave it unset to attribute raw logits"
    )


class Explained(nn.Module):
    """The scalar DeepLIFT explains: ``sum_i transform(network(x))[:, i]`` over ``indices``,
    or, given per-sequence ``weights`` ``(N, T)``, ``sum_j weights[:, j] * transform(...)[:,
    j]`` (each sequence its own outputs; the weights are constants, so linear).

    Everything between the network and the scalar is a module, so the DeepLIFT rules see
    the transform (a softmax couples the outputs; a sigmoid is an activation).

    Parameters
    ----------
    network
        Maps ``(N, 4, L)`` to ``(N, T)`` (or ``(N,)``).
    indices
        Output indices summed (one index: that output).
    transform
        ``None`` (raw logits), ``"identity"``, ``"sigmoid"``, ``"softmax"`` (over the outputs)
        or ``"exp"``.
    """

    def __init__(self, network: nn.Module, indices: Sequence[int], transform: str | None = None):
        super().__init__()
        if not len(indices):
            raise UsageError("no output to explain")
        self.network = network
        self.transform = _transform_module(transform)
        self.register_buffer("indices", torch.as_tensor(list(indices), dtype=torch.long))

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        out = self.network(x)
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2:
            raise UsageError(
                f"DeepLIFT/SHAP explains one value per output; the network returns shape "
                f"{tuple(out.shape[1:])} per sequence"
            )
        if weights is not None:
            if weights.shape != out.shape:
                raise UsageError(
                    f"output weights of shape {tuple(weights.shape[1:])} per sequence for a "
                    f"network with {out.shape[1]} outputs"
                )
            return (self.transform(out) * weights).sum(dim=1, keepdim=True)
        if int(self.indices.max()) >= out.shape[1]:
            raise UsageError(
                f"target index {int(self.indices.max())} is out of range; the model has "
                f"{out.shape[1]} outputs"
            )
        return self.transform(out)[:, self.indices].sum(dim=1, keepdim=True)


# --------------------------------------------------------------------------- references


def definite_columns(x: np.ndarray) -> np.ndarray:
    """``(N, L)``: whether each column of one-hot ``(N, 4, L)`` is exactly one base (not N
    padding, N as zeros or 0.25, or an IUPAC fraction)."""
    return (np.count_nonzero(x == 1, axis=1) == 1) & (np.count_nonzero(x, axis=1) == 1)


def dinucleotide_references(
    x: np.ndarray, n_shuffles: int = DEFAULT_SHUFFLES, seed: int = 0, first: int = 0
) -> np.ndarray:
    """Dinucleotide-shuffled copies of one-hot sequences, N columns left in place.

    The unambiguous bases of each sequence are read in order, shuffled by
    :func:`seqcnn.shuffle.dinucleotide_shuffle` (same dinucleotide counts, same first and
    last base) and written back into the same columns; every other column (N padding as
    zeros or 0.25, IUPAC fractions) is copied as it is, so it differs in nothing from the
    sequence and contributes nothing.

    Parameters
    ----------
    x
        One-hot sequences ``(N, 4, L)``.
    n_shuffles
        References per sequence.
    seed
        Sequence ``first + i`` draws from ``numpy.random.default_rng((seed, first + i))``, so
        the references of a sequence do not depend on how the set is cut into chunks.
    first
        Index of ``x[0]`` in the whole set.

    Returns
    -------
    numpy.ndarray
        float32 ``(N, n_shuffles, 4, L)``.
    """
    from .shuffle import dinucleotide_shuffle

    x = np.asarray(x, dtype=np.float32)
    n, _, length = x.shape
    references = np.repeat(x[:, None], n_shuffles, axis=1)
    definite = definite_columns(x)
    codes = x.argmax(axis=1).astype(np.uint8)
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    for i in range(n):
        columns = np.flatnonzero(definite[i])
        if len(columns) < 3:
            continue
        text = letters[codes[i, columns]].tobytes().decode("ascii")
        rng = np.random.default_rng((seed, first + i))
        for k in range(n_shuffles):
            shuffled = dinucleotide_shuffle(text, rng)
            base = LETTER_CODES[np.frombuffer(shuffled.encode("ascii"), dtype=np.uint8)]
            references[i, k][:, columns] = 0.0
            references[i, k][base, columns] = 1.0
    return references


# -------------------------------------------------------------------------- convergence


@dataclass
class Convergence:
    """Does each sequence's sum of attributions equal its output difference?

    Attributes
    ----------
    attribution_sum
        ``(N,)``: the sum of each sequence's attributions.
    output_difference
        ``(N,)``: ``f(x) - mean_k f(r_k)``, from a separate forward pass.
    tolerance
        The largest relative error (see :attr:`relative_error`) counted as converged.
    """

    attribution_sum: np.ndarray
    output_difference: np.ndarray
    tolerance: float = DEFAULT_TOLERANCE

    @property
    def error(self) -> np.ndarray:
        """``(N,)``: ``|attribution_sum - output_difference|``."""
        return np.abs(self.attribution_sum - self.output_difference)

    @property
    def scale(self) -> float:
        """The mean ``|output_difference|`` errors are measured against (1 when it is 0)."""
        scale = float(np.mean(np.abs(self.output_difference))) if self.error.size else 0.0
        return scale if scale > 0 else 1.0

    @property
    def relative_error(self) -> float:
        """The largest error over the sequences, relative to :attr:`scale`."""
        return float(self.error.max() / self.scale) if self.error.size else 0.0

    @property
    def converged(self) -> bool:
        """Whether :attr:`relative_error` is at most :attr:`tolerance`."""
        return bool(self.relative_error <= self.tolerance)

    def summary(self) -> str:
        """One line for people: the error found and whether it passes."""
        verdict = "converged" if self.converged else "NOT converged"
        return (
            f"DeepLIFT/SHAP {verdict}: the sum of attributions is within "
            f"{self.relative_error:.2g} of output(x) - mean output(references) (relative to "
            f"the mean |difference| {self.scale:.3g}; tolerance {self.tolerance:g}) over "
            f"{len(self.error):,} sequences"
        )


def _outputs(
    explained: Explained, x: np.ndarray, batch_size: int, weights: np.ndarray | None = None
) -> np.ndarray:
    device, dtype = network_device(explained), network_dtype(explained)
    out = np.empty(len(x), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(x[start : start + batch_size]).to(device=device, dtype=dtype)
            extra = [] if weights is None else [_tensor(weights[start : start + batch_size], batch)]
            out[start : start + len(batch)] = explained(batch, *extra)[:, 0].double().cpu().numpy()
    return out


def _tensor(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(values)).to(device=like.device, dtype=like.dtype)


def check_convergence(
    explained: Explained,
    x: np.ndarray,
    attributions: np.ndarray,
    references: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE,
    batch_size: int = 256,
    weights: np.ndarray | None = None,
) -> Convergence:
    """Compare the sums of attributions with ``f(x) - mean_k f(r_k)``.

    Parameters
    ----------
    explained
        The function explained (:class:`Explained`).
    x
        One-hot sequences ``(N, 4, L)``.
    attributions
        Their attributions ``(N, 4, L)`` (observed bases only).
    references
        The references they were computed against, ``(N, K, 4, L)``.
    tolerance, batch_size
        See :class:`Convergence`; sequences per forward pass.
    weights
        Per-sequence output weights ``(N, T)``, if the attributions were computed with them.

    Returns
    -------
    Convergence
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    references = np.asarray(references, dtype=np.float32)
    expected = (len(x), *x.shape[1:])
    if references.ndim != 4 or (references.shape[0], *references.shape[2:]) != expected:
        raise DataError(
            f"references must be shaped (N, K, 4, L) with (N, 4, L) = {expected}, "
            f"got {references.shape}"
        )
    with evaluating(explained):
        fx = _outputs(explained, x, batch_size, weights)
        flat = np.ascontiguousarray(references.reshape(-1, *x.shape[1:]))
        repeated = None if weights is None else np.repeat(weights, references.shape[1], axis=0)
        fr = _outputs(explained, flat, batch_size, repeated)
        fr = fr.reshape(references.shape[:2]).mean(axis=1)
    sums = np.asarray(attributions, dtype=np.float64).sum(axis=(1, 2))
    return Convergence(sums, fx - fr, float(tolerance))


# ---------------------------------------------------------------------------- the engine


@dataclass
class DeepLiftShapResult:
    """DeepLIFT/SHAP scores of a set of sequences.

    Attributes
    ----------
    attributions
        float32 ``(N, 4, L)``: the contribution of each observed base (zero elsewhere);
        per sequence they sum to ``f(x) - mean_k f(r_k)``.
    hypothetical
        float32 ``(N, 4, L)``: the hypothetical contribution of every base at every
        position; ``attributions == hypothetical * x``.
    convergence
        The sums checked against the outputs (:class:`Convergence`).
    n_shuffles, seed
        The references: dinucleotide shuffles per sequence, and their seed.
    """

    attributions: np.ndarray
    hypothetical: np.ndarray
    convergence: Convergence
    n_shuffles: int
    seed: int


def explain(
    explained: Explained,
    x: np.ndarray,
    *,
    n_shuffles: int = DEFAULT_SHUFFLES,
    seed: int = 0,
    batch_size: int = 128,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool | None = False,
    weights: np.ndarray | None = None,
) -> DeepLiftShapResult:
    """DeepLIFT/SHAP scores of ``explained`` for one-hot sequences ``x``.

    The public entry point is :func:`seqcnn.attribution.deep_lift_shap`, which takes a
    model and a target; this is the part below it.

    Parameters
    ----------
    explained
        The scalar function explained (:class:`Explained`); it runs where its parameters
        are, in their dtype.
    x
        One-hot sequences ``(N, 4, L)``; N or ambiguous columns are allowed.
    n_shuffles, seed
        References per sequence and their seed (:func:`dinucleotide_references`).
    batch_size
        Sequence-reference pairs per forward and backward pass; results do not depend on it.
    tolerance
        Of the convergence check (:class:`Convergence`).
    progress
        A progress bar on stderr (``None``: when stderr is a terminal).
    weights
        Per-sequence output weights ``(N, T)`` (see :class:`Explained`); ``None``: the
        explained outputs are the same for every sequence.

    Returns
    -------
    DeepLiftShapResult
    """
    require_discover("tangermeme")
    from tangermeme.deep_lift_shap import deep_lift_shap

    if n_shuffles < 1:
        raise UsageError(f"n_shuffles must be at least 1, got {n_shuffles}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    reuse_freed_memory()  # each pair's forward and backward buffers, reused
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, _, length = x.shape
    if weights is not None:
        weights = np.ascontiguousarray(weights, dtype=np.float32)
        if weights.ndim != 2 or len(weights) != n:
            raise UsageError(f"output weights must be shaped (N, T) with N = {n}")
    hypothetical = np.zeros(x.shape, dtype=np.float32)
    sums, differences = np.zeros(n), np.zeros(n)
    rules = nonlinear_rules()
    device = network_device(explained)
    per_chunk = max(1, min(n, _CHUNK_VALUES // max(1, n_shuffles * 4 * length)))
    starts = range(0, n, per_chunk)
    with evaluating(explained), progress_bar(progress, total=n, desc="DeepLIFT/SHAP") as bar:
        for start in starts:
            chunk = x[start : start + per_chunk]
            chunk_weights = None if weights is None else weights[start : start + per_chunk]
            references = dinucleotide_references(chunk, n_shuffles, seed, first=start)
            with warnings.catch_warnings():
                # tangermeme warns about N columns (validated by us: they are kept in the
                # references) and about deltas per batch; the check below reports them.
                warnings.filterwarnings("ignore", module=r"tangermeme")
                scores = deep_lift_shap(
                    explained,
                    torch.from_numpy(chunk),
                    # tangermeme hands each pair its sequence's row, for both halves.
                    args=None if chunk_weights is None else (torch.from_numpy(chunk_weights),),
                    target=0,
                    batch_size=batch_size,
                    references=torch.from_numpy(references),
                    hypothetical=True,
                    warning_threshold=math.inf,
                    additional_nonlinear_ops=rules,
                    only_warn=True,
                    device=device,
                )
            hyp = scores.detach().to(torch.float32).cpu().numpy()
            hypothetical[start : start + len(chunk)] = hyp
            check = check_convergence(
                explained, chunk, hyp * chunk, references, tolerance, weights=chunk_weights
            )
            sums[start : start + len(chunk)] = check.attribution_sum
            differences[start : start + len(chunk)] = check.output_difference
            bar.update(len(chunk))
    convergence = Convergence(sums, differences, float(tolerance))
    if not convergence.converged:
        log.warning(
            f"{convergence.summary()}: an operation of the network may have no DeepLIFT rule"
        )
    return DeepLiftShapResult(
        attributions=hypothetical * x,
        hypothetical=hypothetical,
        convergence=convergence,
        n_shuffles=n_shuffles,
        seed=seed,
    )

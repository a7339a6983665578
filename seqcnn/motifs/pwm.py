"""First-layer filters -> position weight matrices, and what a PWM says.

Each first-layer filter of a :class:`SeqCNN` is turned into a PWM by *activation
alignment* (Basset, Kelley et al. 2016; Koo & Eddy 2019): the input windows that make the
filter fire strongly are stacked and their bases counted (:func:`filter_pwms`).  The rest
of this module reads PWMs: information content, trimming, consensus, base frequencies, and
JASPAR's plain count format.

Every matrix here is position-major, shape ``(w, 4)``, columns A, C, G, T, as in MEME files
and logomaker.  (memelite and the network use ``(4, w)``; the conversion happens only at
those boundaries.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn._io import atomic_path
from seqcnn.alphabet import ALPHABET
from seqcnn.errors import DataError, ModelError, UsageError
from seqcnn.forward import evaluating, network_device, network_dtype

if TYPE_CHECKING:
    import torch

__all__ = [
    "FilterMotif",
    "filter_pwms",
    "background_frequencies",
    "information_content",
    "trim_pwm",
    "consensus",
    "write_pfm_tsv",
]


@dataclass
class FilterMotif:
    """The motif of one first-layer filter, from the windows that activate it.

    Attributes
    ----------
    index
        The filter's index in ``stem.conv``.
    name
        ``"filter_<index>"``, the name used in MEME files and match tables.
    counts
        Base counts of the aligned windows, shape ``(w, 4)`` (A, C, G, T).  A column can
        sum to less than ``n_sites`` where windows held N (all-zero) positions.
    n_sites
        Number of windows that were counted.
    pwm
        Probabilities, ``(counts + pseudocount) / (column total + 4 * pseudocount)``.
    max_activation
        The filter's largest activation over the sequences.
    exported
        ``n_sites >= min_sites``: enough sites for the PWM to mean something; only these
        are written by :func:`seqcnn.motifs.write_meme` and matched by
        :func:`seqcnn.motifs.match_motifs`.
    """

    index: int
    name: str
    counts: np.ndarray = field(repr=False)
    n_sites: int
    pwm: np.ndarray = field(repr=False)
    max_activation: float
    exported: bool

    @property
    def width(self) -> int:
        """The filter width ``w``."""
        return int(self.pwm.shape[0])

    @property
    def ic(self) -> np.ndarray:
        """Information content per position in bits (uniform background), shape ``(w,)``."""
        return information_content(self.pwm)

    @property
    def total_ic(self) -> float:
        """Total information content in bits."""
        return float(self.ic.sum())

    @property
    def consensus(self) -> str:
        """Consensus sequence; see :func:`consensus`."""
        return consensus(self.pwm)


# ------------------------------------------------------------------ filters -> PWMs


def filter_pwms(
    model: Any,
    x: np.ndarray | torch.Tensor,
    threshold: float = 0.5,
    top_k: int | None = None,
    pseudocount: float = 0.1,
    min_sites: int = 10,
    batch_size: int = 256,
) -> list[FilterMotif]:
    """Turn each first-layer filter into a PWM by aligning the windows that activate it.

    The stem (convolution, then batch norm if any, then activation, in eval mode) is run
    over the sequences.  Position ``i`` of filter ``f`` sees input bases ``[i, i + w)``;
    every such window whose activation passes the rule below adds its one-hot bases to
    the filter's ``(w, 4)`` count matrix.

    - threshold mode (default): activation ``> threshold * max``, where ``max`` is the
      filter's largest activation over all of ``x`` (Basset uses 0.5).  A filter whose
      maximum is not positive gets no sites.
    - top-k mode (``top_k`` given, replaces the threshold rule): the ``top_k``
      highest-activating windows over all of ``x``, counting only positive activations.

    Parameters
    ----------
    model
        A :class:`seqcnn.bundle.Model` (its ``.network`` is used) or a bare ``SeqCNN``.
    x
        One-hot sequences, shape ``(N, 4, L)``, channels A, C, G, T; N positions are
        all-zero columns and simply count less.
    threshold
        Fraction of each filter's maximum activation, in ``[0, 1)``.
    top_k
        Count the ``top_k`` best windows per filter instead.
    pseudocount
        Added to every base count before normalising to probabilities.
    min_sites
        A filter with fewer sites is not ``exported``.
    batch_size
        Sequences per forward pass; memory grows with it, results do not change.

    Returns
    -------
    list of FilterMotif
        One per filter, in filter order.

    Examples
    --------
    >>> motifs = filter_pwms(model, x, threshold=0.5)   # doctest: +SKIP
    >>> motifs[3].consensus, motifs[3].n_sites            # doctest: +SKIP
    ('tGACGTCAt', 412)
    """
    import torch

    network = _network(model)
    conv = _stem_conv(network)
    _check_x(x, conv.kernel_size[0])
    if not 0.0 <= threshold < 1.0:
        raise UsageError(f"threshold must be at least 0 and below 1, got {threshold}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"top_k must be a positive number of windows, got {top_k}")
    if pseudocount < 0:
        raise UsageError(f"pseudocount must not be negative, got {pseudocount}")
    _check_batch_size(batch_size)

    n_filters = conv.out_channels
    with evaluating(network), torch.no_grad():
        if top_k is None:
            maxima = _max_activations(network, x, batch_size)
            counts, n_sites = _threshold_counts(network, x, batch_size, threshold * maxima)
        else:
            maxima, counts, n_sites = _top_k_counts(network, x, batch_size, top_k)
    motifs = []
    for f in range(n_filters):
        totals = counts[f].sum(axis=1, keepdims=True)
        pwm = (counts[f] + pseudocount) / np.maximum(totals + 4 * pseudocount, 1e-12)
        if pseudocount == 0:
            pwm[totals[:, 0] == 0] = 0.25
        motifs.append(
            FilterMotif(
                index=f,
                name=f"filter_{f}",
                counts=counts[f],
                n_sites=int(n_sites[f]),
                pwm=pwm,
                max_activation=float(maxima[f]),
                exported=bool(n_sites[f] >= min_sites),
            )
        )
    return motifs


def _network(model: Any) -> Any:
    return getattr(model, "network", model)


def _stem_conv(network: Any) -> Any:
    """The first convolution, checked against the contract (valid, stride 1, 4 channels)."""
    conv = getattr(getattr(network, "stem", None), "conv", None)
    if conv is None:
        raise ModelError("the model has no stem.conv first layer; is it a seqcnn SeqCNN?")
    if conv.in_channels != 4:
        raise ModelError(f"the first convolution reads {conv.in_channels} channels, not A,C,G,T")
    if tuple(conv.stride) != (1,) or tuple(conv.dilation) != (1,):
        raise ModelError("the first convolution must have stride 1 and no dilation")
    if tuple(conv.padding) != (0,):
        raise ModelError(
            f"the first convolution must use valid padding (got {conv.padding!r}), so that "
            "activation position i sees input bases [i, i + w)"
        )
    return conv


def _check_x(x: Any, width: int) -> None:
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 3 or shape[1] != 4:
        raise DataError(f"expected one-hot sequences of shape (N, 4, L), got shape {shape}")
    if shape[0] == 0:
        raise DataError("no sequences given")
    if shape[2] < width:
        raise DataError(f"sequences of length {shape[2]} are shorter than the filters ({width})")


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise UsageError(f"batch_size must be positive, got {batch_size}")


def _batches(network: Any, x: Any, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(start, x_batch)`` as tensors on the network's device and dtype."""
    import torch

    device, dtype = network_device(network), network_dtype(network)
    for start in range(0, x.shape[0], batch_size):
        part = x[start : start + batch_size]
        if isinstance(part, np.ndarray):
            part = torch.from_numpy(np.ascontiguousarray(part))
        yield start, part.to(device=device, dtype=dtype)


def _max_activations(network: Any, x: Any, batch_size: int) -> np.ndarray:
    maxima = None
    for _, xb in _batches(network, x, batch_size):
        m = network.stem(xb).amax(dim=(0, 2)).double().cpu().numpy()
        maxima = m if maxima is None else np.maximum(maxima, m)
    return maxima


def _threshold_counts(
    network: Any, x: Any, batch_size: int, cutoffs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Count, per filter, the windows whose activation exceeds the filter's cutoff.

    The windows of a batch are laid out as a (positions, w * 4) matrix, so the counts
    of all filters are one matrix product with the (filters, positions) 0/1 mask.
    """
    import torch

    width = network.stem.conv.kernel_size[0]
    n_filters = len(cutoffs)
    counts = np.zeros((n_filters, width * 4))
    n_sites = np.zeros(n_filters, dtype=np.int64)
    # A filter with no positive activation has no sites, whatever the threshold.
    cutoffs = np.where(cutoffs > 0, cutoffs, np.inf)
    for _, xb in _batches(network, x, batch_size):
        act = network.stem(xb)
        cut = torch.as_tensor(cutoffs, device=act.device, dtype=act.dtype)
        mask = (act > cut[None, :, None]).to(xb.dtype)  # (B, F, P)
        mask = mask.permute(1, 0, 2).reshape(n_filters, -1)  # (F, B * P)
        windows = xb.unfold(2, width, 1).permute(0, 2, 3, 1).reshape(mask.shape[1], -1)
        counts += (mask @ windows).double().cpu().numpy()
        n_sites += mask.sum(dim=1).long().cpu().numpy()
    return counts.reshape(n_filters, width, 4), n_sites


def _top_k_counts(
    network: Any, x: Any, batch_size: int, top_k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep a running top-k of (activation, window id) per filter, then gather windows."""
    import torch

    width = network.stem.conv.kernel_size[0]
    n_positions = x.shape[2] - width + 1
    best_values = best_ids = None
    for start, xb in _batches(network, x, batch_size):
        act = network.stem(xb)
        flat = act.permute(1, 0, 2).reshape(act.shape[1], -1).float().cpu()  # (F, B * P)
        ids = torch.arange(flat.shape[1], dtype=torch.int64) + start * n_positions
        ids = ids.expand_as(flat)
        if best_values is not None:
            flat = torch.cat([best_values, flat], dim=1)
            ids = torch.cat([best_ids, ids], dim=1)
        best_values, keep = flat.topk(min(top_k, flat.shape[1]), dim=1)
        best_ids = ids.gather(1, keep)

    values, ids = best_values.double().numpy(), best_ids.numpy()
    n_filters = values.shape[0]
    counts = np.zeros((n_filters, width, 4))
    n_sites = np.zeros(n_filters, dtype=np.int64)
    offsets = np.arange(width)
    for f in range(n_filters):
        chosen = ids[f][values[f] > 0]
        n_sites[f] = len(chosen)
        if len(chosen) == 0:
            continue
        seq, pos = np.divmod(chosen, n_positions)
        seq, pos = seq[:, None], pos[:, None] + offsets
        if isinstance(x, np.ndarray):
            windows = np.asarray(x[seq, :, pos], dtype=np.float64)  # (K, w, 4)
        else:
            seq, pos = torch.as_tensor(seq, device=x.device), torch.as_tensor(pos, device=x.device)
            windows = x[seq, :, pos].double().cpu().numpy()
        counts[f] = windows.sum(axis=0)
    return values.max(axis=1), counts, n_sites


# ------------------------------------------------------------------- reading PWMs


def background_frequencies(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Base frequencies (A, C, G, T) of one-hot sequences ``(N, 4, L)``; N positions are ignored.

    Examples
    --------
    >>> x = np.zeros((1, 4, 4)); x[0, [0, 0, 1, 3], [0, 1, 2, 3]] = 1
    >>> background_frequencies(x).tolist()
    [0.5, 0.25, 0.0, 0.25]
    """
    totals = np.zeros(4)
    for start in range(0, x.shape[0], 4096):
        part = x[start : start + 4096]
        if not isinstance(part, np.ndarray):
            part = part.detach().cpu().numpy()
        totals += np.asarray(part, dtype=np.float64).sum(axis=(0, 2))
    if totals.sum() <= 0:
        return np.full(4, 0.25)
    return totals / totals.sum()


def _as_pwm(pwm: Any, what: str = "PWM") -> np.ndarray:
    pwm = np.asarray(pwm, dtype=np.float64)
    if pwm.ndim != 2 or pwm.shape[1] != 4:
        raise UsageError(
            f"a {what} must have shape (w, 4) with columns A, C, G, T, got {pwm.shape}"
        )
    if (pwm < 0).any() or not np.isfinite(pwm).all():
        raise UsageError(f"a {what} must hold non-negative, finite probabilities or counts")
    return pwm


def _as_background(background: Any) -> np.ndarray:
    if background is None:
        return np.full(4, 0.25)
    background = np.asarray(background, dtype=np.float64).reshape(-1)
    if background.shape != (4,) or (background <= 0).any() or not np.isfinite(background).all():
        raise UsageError("a background must be 4 positive frequencies for A, C, G, T")
    return background / background.sum()


def _normalised(pwm: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one; an all-zero row becomes uniform."""
    totals = pwm.sum(axis=1, keepdims=True)
    return np.divide(pwm, totals, out=np.full_like(pwm, 0.25), where=totals > 0)


def _named_pwms(motifs: Sequence[FilterMotif] | Mapping[str, np.ndarray]) -> dict:
    """``name -> (pwm, n_sites, alt)`` for exported filters or a dict of PWMs."""
    if isinstance(motifs, Mapping):
        return {name: (_as_pwm(pwm), None, None) for name, pwm in motifs.items()}
    return {m.name: (m.pwm, m.n_sites, m.consensus) for m in motifs if m.exported}


def information_content(pwm: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Information content per position in bits: the relative entropy to the background.

    ``IC_j = sum_b p_jb log2(p_jb / q_b)``, with ``0 log 0 = 0``.  Rows are normalised to
    sum to one first (so counts work too); an all-zero row has no information.

    Parameters
    ----------
    pwm
        Shape ``(w, 4)``, columns A, C, G, T.
    background
        Base frequencies ``q``; uniform by default, which gives ``2 - entropy``.

    Examples
    --------
    >>> information_content(np.array([[0.25] * 4, [1.0, 0, 0, 0]])).tolist()
    [0.0, 2.0]
    """
    p = _as_pwm(pwm)
    q = _as_background(background)
    totals = p.sum(axis=1, keepdims=True)
    p = np.divide(p, totals, out=np.zeros_like(p), where=totals > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / q), 0.0)
    return np.maximum(terms.sum(axis=1), 0.0)


def trim_pwm(
    pwm: np.ndarray, min_ic: float = 0.2, background: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """Cut the low-information positions off both ends of a PWM.

    Returns
    -------
    trimmed, offset
        ``pwm[offset : offset + len(trimmed)]``, from the first to the last position with
        at least ``min_ic`` bits; an empty ``(0, 4)`` matrix and 0 when there is none.

    Examples
    --------
    >>> pwm = np.array([[0.25] * 4, [1.0, 0, 0, 0], [0.25] * 4, [0, 1.0, 0, 0], [0.25] * 4])
    >>> trimmed, offset = trim_pwm(pwm)
    >>> trimmed.shape, offset
    ((3, 4), 1)
    """
    pwm = _as_pwm(pwm)
    keep = np.flatnonzero(information_content(pwm, background) >= min_ic)
    if len(keep) == 0:
        return pwm[:0].copy(), 0
    return pwm[keep[0] : keep[-1] + 1].copy(), int(keep[0])


def consensus(pwm: np.ndarray, background: np.ndarray | None = None) -> str:
    """The most likely base per position: upper case with at least 1 bit, lower case with
    at least 0.25 bits, ``n`` below that.

    Examples
    --------
    >>> consensus(np.array([[1.0, 0, 0, 0], [0.1, 0.55, 0.2, 0.15], [0.25] * 4]))
    'Acn'
    """
    pwm = _as_pwm(pwm)
    ic = information_content(pwm, background)
    letters = []
    for base, bits in zip(np.asarray(list(ALPHABET))[pwm.argmax(axis=1)], ic, strict=True):
        letters.append(base if bits >= 1.0 else base.lower() if bits >= 0.25 else "n")
    return "".join(letters)


def write_pfm_tsv(motif: FilterMotif, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write one filter's matrices as ``<path>.pfm`` (counts) and ``<path>.tsv`` (PWM).

    The ``.pfm`` file is JASPAR's plain count format: four rows (A, C, G, T), one column
    per position, readable by ``Bio.motifs.read(handle, "pfm")``.  The ``.tsv`` file has
    one row per position and columns A, C, G, T holding probabilities, ready for
    ``pandas.read_csv(sep="\\t")`` and logomaker.  A ``.pfm`` or ``.tsv`` suffix on
    ``path`` is replaced.

    Returns
    -------
    pfm_path, tsv_path
    """
    path = Path(path)
    if path.suffix in (".pfm", ".tsv"):
        path = path.with_suffix("")
    pfm_path, tsv_path = Path(f"{path}.pfm"), Path(f"{path}.tsv")
    pfm = "\n".join(" ".join(f"{v:g}" for v in row) for row in motif.counts.T) + "\n"
    tsv = "A\tC\tG\tT\n" + "\n".join("\t".join(f"{v:.6f}" for v in row) for row in motif.pwm)
    with atomic_path(pfm_path) as tmp:
        tmp.write_text(pfm)
    with atomic_path(tsv_path) as tmp:
        tmp.write_text(tsv + "\n")
    return pfm_path, tsv_path

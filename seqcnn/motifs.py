"""What the first-layer filters learned: filters -> PWMs -> MEME files -> known motifs.

The pipeline step after training.  Each first-layer filter of a :class:`SeqCNN` is turned
into a position weight matrix (PWM) by *activation alignment* (Basset, Kelley et al.
2016; Koo & Eddy 2019): the input windows that make the filter fire strongly are
stacked and their bases counted.  The PWMs are written in MEME minimal format and
compared with known motifs (JASPAR, shipped with pyjaspar) by Tomtom (memelite).
Finally, :func:`filter_influence` says how much each filter matters for each output by
nullifying it (Basset).

Layout
------
Every matrix here is position-major, shape ``(w, 4)``, columns A, C, G, T, as in MEME
files and logomaker.  (memelite and the network use ``(4, w)``; the conversion happens
only at those boundaries.)

Matching: what memelite's Tomtom computes, and what is used here
----------------------------------------------------------------
``memelite.tomtom`` implements Tomtom's "complete score" (Gupta et al. 2007) with one
column similarity only: the negative **Euclidean distance** between two columns.  Each
query column is scored against every column of every target; that row of scores, minus
its median, is binned, and the binned rows of all query columns are convolved (dynamic
programming over all overlaps) into the null distribution of an alignment score.  The
p-value of a (query, target) pair is that of its best-scoring overlap; over both strands
it is ``1 - (1 - p_min)**2``.  The null comes from the target columns, which is why
Tomtom wants a whole database (memelite warns below 25 targets).

Published filter-annotation recipes (Basset; Koo & Eddy 2019) run MEME's ``tomtom
-dist pearson``.  :func:`match_motifs` does the same by default (``metric="pearson"``):
every column, of query and target alike, is centred on its mean and scaled to unit
length before it is handed to memelite.  For such columns the Euclidean distance is
``sqrt(2 * (1 - r))`` with ``r`` the Pearson correlation of the two columns, so memelite's
Tomtom machinery runs unchanged on a per-column score that is a monotone function of
Pearson's ``r``.  (An exactly uniform column becomes the zero vector: the same distance,
1, to every non-uniform column, so it adds nothing.)  Measured on JASPAR CORE vertebrates
(150 JASPAR matrices resampled from 100 sites as queries, 150 random PWMs), this is
much better than raw Euclidean distance on probabilities, which memelite uses when
given probabilities (``metric="euclidean"``):

- Euclidean distance rewards flat-against-flat columns, so a uniform or weak query
  aligns with the flat spacers and flanks of long targets (two 31-33 bp CTCF matrices
  soak up random queries): a uniform 10-column PWM got p ~ 1e-14, and 25-85 % of random
  PWMs had a match with q < 0.05.  With Pearson: about 5 %, the nominal rate.
- A query diluted towards uniform (``0.5 * pwm + 0.5 * 0.25``, as weakly learned filters
  look) still found its own matrix in 131 of 150 cases with Pearson, 14 with Euclidean.

As a guard on top, each query is trimmed of low-information edges (:func:`trim_pwm`,
``min_ic``) and a query with less than ``min_total_ic`` bits left is not matched at all,
so a uniform or near-uniform PWM is never reported.

q-values are Benjamini-Hochberg over all targets of one query (MEME's Tomtom also
estimates q-values per query), and the E-value is ``p * number of targets``.

Examples
--------
>>> motifs = filter_pwms(model, x)                          # doctest: +SKIP
>>> write_meme(motifs, "filters.meme", background=background_frequencies(x))  # doctest: +SKIP
>>> matches = match_motifs(motifs, "jaspar")                # doctest: +SKIP
>>> influence = filter_influence(model, x, transform=torch.sigmoid)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn._io import atomic_path
from seqcnn.errors import DataError, ModelError, UsageError

if TYPE_CHECKING:
    import pandas as pd
    import torch

__all__ = [
    "ALPHABET",
    "FilterMotif",
    "filter_pwms",
    "background_frequencies",
    "information_content",
    "trim_pwm",
    "consensus",
    "write_meme",
    "read_meme",
    "write_pfm_tsv",
    "jaspar_motifs",
    "match_motifs",
    "filter_influence",
]

ALPHABET = "ACGT"
MATCH_COLUMNS = [
    "filter",
    "rank",
    "match_id",
    "match_name",
    "p_value",
    "e_value",
    "q_value",
    "offset",
    "strand",
    "overlap",
]


# ----------------------------------------------------------------------------- PWMs


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
        are written by :func:`write_meme` and matched by :func:`match_motifs`.
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
    with _evaluating(network), torch.no_grad():
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


@contextmanager
def _evaluating(network: Any) -> Iterator[None]:
    """Eval mode (batch norm uses its running statistics) for a block; every module's
    own mode is restored after."""
    modes = [(module, module.training) for module in network.modules()]
    network.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _batches(network: Any, x: Any, batch_size: int):
    """Yield ``(start, x_batch)`` as tensors on the network's device and dtype."""
    import torch

    parameter = next(iter(network.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None else torch.float32
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


# ----------------------------------------------------------------------- file formats


def _named_pwms(motifs: Sequence[FilterMotif] | Mapping[str, np.ndarray]) -> dict:
    """``name -> (pwm, n_sites, alt)`` for exported filters or a dict of PWMs."""
    if isinstance(motifs, Mapping):
        return {name: (_as_pwm(pwm), None, None) for name, pwm in motifs.items()}
    return {m.name: (m.pwm, m.n_sites, m.consensus) for m in motifs if m.exported}


def write_meme(
    motifs: Sequence[FilterMotif] | Mapping[str, np.ndarray],
    path: str | os.PathLike,
    background: np.ndarray | None = None,
    alphabet: str = "ACGT",
) -> Path:
    """Write PWMs in MEME minimal format (version 4), atomically.

    Only exported filters (``n_sites >= min_sites``) are written, each with its
    consensus as alternate name (``MOTIF filter_3 tGACGTCAt``).  A dict ``name -> (w, 4)``
    is written as is; a name may be ``"id alt"`` (``"MA0139.2 CTCF"``), so that
    ``read_meme(write_meme(d))`` has the keys of ``d``.

    Parameters
    ----------
    motifs
        From :func:`filter_pwms`, or a dict of ``(w, 4)`` probability matrices.
    path
        The output file; written under a temporary name and renamed when complete.
    background
        Base frequencies for the header, e.g. ``background_frequencies(x)``; uniform
        by default.
    alphabet
        Only ``"ACGT"`` is supported.

    Examples
    --------
    >>> write_meme({"m1": np.full((3, 4), 0.25)}, "/tmp/m.meme")   # doctest: +SKIP
    """
    if alphabet != ALPHABET:
        raise UsageError(f"only the DNA alphabet ACGT is supported, got {alphabet!r}")
    q = _as_background(background)
    lines = [
        "MEME version 4",
        "",
        f"ALPHABET= {alphabet}",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{b} {v:.6f}" for b, v in zip(alphabet, q, strict=True)),
        "",
    ]
    for name, (pwm, n_sites, alt) in _named_pwms(motifs).items():
        if not 1 <= len(name.split()) <= (1 if alt else 2):
            raise UsageError(f"a MEME motif name is an id and an optional alt name, got {name!r}")
        probs = _normalised(pwm)
        lines.append(f"MOTIF {' '.join(name.split())}" + (f" {alt}" if alt else ""))
        lines.append(
            f"letter-probability matrix: alength= 4 w= {len(probs)} "
            f"nsites= {n_sites if n_sites is not None else 20} E= 0"
        )
        lines += [" ".join(f"{v:.6f}" for v in row) for row in probs]
        lines.append("")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def _normalised(pwm: np.ndarray) -> np.ndarray:
    totals = pwm.sum(axis=1, keepdims=True)
    return np.divide(pwm, totals, out=np.full_like(pwm, 0.25), where=totals > 0)


def read_meme(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a MEME motif file (memelite's reader): ``"id alt" -> (w, 4)`` probabilities.

    Keys are the rest of the MOTIF line, e.g. ``"MA0139.2 CTCF"`` or ``"filter_3 tGACGt"``.

    Examples
    --------
    >>> motifs = read_meme("filters.meme")        # doctest: +SKIP
    >>> motifs["MA0139.2 CTCF"].shape              # doctest: +SKIP
    (19, 4)
    """
    from memelite.io import read_meme as _read

    path = Path(path)
    if not path.is_file():
        raise DataError("MEME motif file not found", path=str(path))
    try:
        motifs = _read(str(path))
    except (ValueError, AttributeError, IndexError) as error:
        raise DataError(f"not a valid MEME motif file ({error})", path=str(path)) from error
    if not motifs:
        raise DataError("no motifs found in MEME file", path=str(path))
    return {name: np.ascontiguousarray(pwm.T, dtype=np.float64) for name, pwm in motifs.items()}


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


# -------------------------------------------------------------------------- matching


def jaspar_motifs(
    collection: str = "CORE",
    tax_group: str | None = "vertebrates",
    release: str | None = None,
    all_versions: bool = False,
) -> dict[str, np.ndarray]:
    """Known motifs from the JASPAR database shipped with pyjaspar (no network).

    By default only the latest version of each matrix (JASPAR's non-redundant set).
    Loading takes a couple of seconds, so the result is cached per arguments.

    Parameters
    ----------
    collection
        JASPAR collection, e.g. ``"CORE"`` or ``"UNVALIDATED"``.
    tax_group
        e.g. ``"vertebrates"``, ``"insects"``, ``"plants"``; ``None`` for all.
    release
        e.g. ``"JASPAR2024"``; the newest release pyjaspar ships by default.
    all_versions
        Also the older versions of each matrix (``MA0477.1`` next to ``MA0477.3``), e.g.
        to recognise motifs taken from an older release.

    Returns
    -------
    dict
        ``"MA0139.2 CTCF" -> (w, 4)`` probabilities (read-only arrays).

    Examples
    --------
    >>> jaspar_motifs()["MA0139.2 CTCF"].shape     # doctest: +SKIP
    (19, 4)
    """
    return dict(_jaspar_motifs(collection, tax_group, release, bool(all_versions)))


@functools.lru_cache(maxsize=8)
def _jaspar_motifs(
    collection: str, tax_group: str | None, release: str | None, all_versions: bool
) -> dict[str, np.ndarray]:
    import pyjaspar

    release = release or pyjaspar.JASPAR_LATEST_RELEASE
    if release not in pyjaspar.jaspar_releases:
        raise UsageError(
            f"unknown JASPAR release {release!r}; pyjaspar ships "
            + ", ".join(sorted(pyjaspar.jaspar_releases))
        )
    try:
        pyjaspar.get_jaspardb_path(pyjaspar.jaspar_releases[release])
    except ValueError as error:
        raise UsageError(f"the {release} database is missing from pyjaspar ({error})") from None
    db = pyjaspar.jaspardb(release=release)
    try:
        records = db.fetch_motifs(
            collection=collection, tax_group=tax_group, all_versions=all_versions
        )
    finally:
        db.conn.close()
    motifs = {}
    for record in records:
        counts = np.array([record.counts[b] for b in ALPHABET], dtype=np.float64).T
        pwm = _normalised(counts)
        pwm.flags.writeable = False
        motifs[f"{record.matrix_id} {record.name}"] = pwm
    if not motifs:
        raise UsageError(f"no JASPAR {release} motifs in collection {collection!r}, {tax_group!r}")
    return motifs


def match_motifs(
    motifs: Sequence[FilterMotif] | Mapping[str, np.ndarray],
    database: str | os.PathLike | Mapping[str, np.ndarray] = "jaspar",
    n_matches: int = 3,
    q_threshold: float | None = 0.05,
    min_ic: float = 0.1,
    min_total_ic: float = 2.0,
    metric: str = "pearson",
) -> pd.DataFrame:
    """Find known motifs similar to each PWM with Tomtom (memelite).

    See the module docstring for the column similarity (Pearson correlation, by default),
    the p-values (Tomtom's complete score, both strands) and the q-values
    (Benjamini-Hochberg over all targets of a query).

    Each query is trimmed of edge positions below ``min_ic`` bits first; a query with
    less than ``min_total_ic`` bits left is not matched (uninformative PWMs match
    everything a little and nothing really).

    Parameters
    ----------
    motifs
        From :func:`filter_pwms` (only exported ones are matched), or a dict of
        ``(w, 4)`` probability matrices.
    database
        ``"jaspar"`` (JASPAR CORE vertebrates, latest release), the path of a MEME file,
        or a dict ``"id name" -> (w, 4)`` probabilities.  Use a whole database: the
        p-values are computed against the columns of all targets.
    n_matches
        Best matches kept per query.
    q_threshold
        Keep matches with ``q_value <= q_threshold``; ``None`` keeps all.
    min_ic, min_total_ic
        Trimming threshold per position and minimum total information in bits.
    metric
        Column similarity: ``"pearson"`` (correlation, as MEME's ``tomtom -dist
        pearson``) or ``"euclidean"`` (memelite's distance between probabilities).

    Returns
    -------
    pandas.DataFrame
        One row per (query, rank), best first, with columns ``filter`` (the query name,
        e.g. ``"filter_12"``), ``rank`` (1 = best), ``match_id`` (``"MA0139.2"``),
        ``match_name`` (``"CTCF"``), ``p_value``, ``e_value``, ``q_value``, ``offset``
        (position in the target, read on the matched strand, aligned with the first
        column of the untrimmed query; negative when the query starts before it),
        ``strand`` (``"+"``, or ``"-"`` when the query matches the target's reverse
        complement) and ``overlap`` (aligned columns).

    Examples
    --------
    >>> table = match_motifs(filter_pwms(model, x))   # doctest: +SKIP
    >>> table.loc[table["rank"] == 1, ["filter", "match_name", "q_value"]]  # doctest: +SKIP
    """
    import pandas as pd

    # memelite's parallel numba kernels on the OpenMP layer reset the thread pool torch
    # shares, slowing every later torch call in the process 4-20x; workqueue avoids that.
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    from memelite import tomtom

    if n_matches < 1:
        raise UsageError(f"n_matches must be at least 1, got {n_matches}")
    if metric not in _COLUMN_TRANSFORMS:
        raise UsageError(f"unknown metric {metric!r}; choose pearson or euclidean")
    columns = _COLUMN_TRANSFORMS[metric]
    targets = _targets(database)
    target_names = list(targets)
    target_arrays = [columns(targets[name]) for name in target_names]

    names, queries, shifts = [], [], []
    for name, (pwm, _, _) in _named_pwms(motifs).items():
        trimmed, shift = trim_pwm(_normalised(pwm), min_ic=min_ic)
        total = information_content(trimmed).sum() if len(trimmed) else 0.0
        if total > 0 and total >= min_total_ic:
            names.append(name)
            queries.append(columns(trimmed))
            shifts.append(shift)
    if not queries:
        return pd.DataFrame({c: pd.Series(dtype=_MATCH_DTYPES[c]) for c in MATCH_COLUMNS})

    p_values, _, offsets, overlaps, strands = tomtom(queries, target_arrays)
    q_values = _benjamini_hochberg(p_values)
    rows = []
    for i, name in enumerate(names):
        order = np.argsort(p_values[i], kind="stable")[:n_matches]
        for rank, j in enumerate(order, start=1):
            if q_threshold is not None and q_values[i, j] > q_threshold:
                break
            match_id, _, match_name = target_names[j].partition(" ")
            rows.append(
                {
                    "filter": name,
                    "rank": rank,
                    "match_id": match_id,
                    "match_name": match_name,
                    "p_value": float(p_values[i, j]),
                    "e_value": float(p_values[i, j] * len(target_names)),
                    "q_value": float(q_values[i, j]),
                    "offset": int(offsets[i, j]) - shifts[i],
                    "strand": "-" if strands[i, j] else "+",
                    "overlap": int(overlaps[i, j]),
                }
            )
    table = pd.DataFrame(rows, columns=MATCH_COLUMNS)
    return table.astype(_MATCH_DTYPES)


_MATCH_DTYPES = {
    "filter": "str",
    "rank": "int64",
    "match_id": "str",
    "match_name": "str",
    "p_value": "float64",
    "e_value": "float64",
    "q_value": "float64",
    "offset": "int64",
    "strand": "str",
    "overlap": "int64",
}


def _probability_columns(pwm: np.ndarray) -> np.ndarray:
    """``(w, 4)`` probabilities -> the ``(4, w)`` float64 layout memelite reads."""
    return np.ascontiguousarray(pwm.T, dtype=np.float64)


def _pearson_columns(pwm: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit length: their Euclidean distance is
    ``sqrt(2 * (1 - r))`` for Pearson correlation ``r``.  Uniform columns become zero."""
    centred = pwm - pwm.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    unit = np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 1e-9)
    return _probability_columns(unit)


_COLUMN_TRANSFORMS = {"pearson": _pearson_columns, "euclidean": _probability_columns}


def _targets(database: Any) -> dict[str, np.ndarray]:
    if isinstance(database, Mapping):
        targets = {str(k): _normalised(_as_pwm(v, "target motif")) for k, v in database.items()}
    elif isinstance(database, str) and database.lower() == "jaspar":
        targets = jaspar_motifs()
    elif isinstance(database, (str, os.PathLike)):
        targets = read_meme(database)
    else:
        raise UsageError("database must be 'jaspar', a MEME file path or a dict of PWMs")
    if not targets:
        raise UsageError("the motif database is empty")
    return targets


def _benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis (each row is one family)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(ranked, 1.0), axis=-1)
    return q


# ------------------------------------------------------------------------- influence


def filter_influence(
    model: Any,
    x: np.ndarray | torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """How much each filter matters for each output, by nullification (Basset).

    Filter ``f``'s stem activation is replaced by its mean over all sequences and
    positions of ``x``, and the rest of the network (body, head) is run again.  The
    influence is the mean over sequences of ``output_nullified - output_original``:
    negative when the filter pushes that output up.

    Parameters
    ----------
    model
        A :class:`seqcnn.bundle.Model` or a bare ``SeqCNN``.
    x
        One-hot sequences ``(N, 4, L)``.
    transform
        Applied to the logits before differences are taken, e.g. ``torch.sigmoid``;
        ``None`` compares raw logits.
    batch_size
        Sequences per forward pass.

    Returns
    -------
    numpy.ndarray
        Shape ``(F, T)``: filters by outputs.

    Examples
    --------
    >>> influence = filter_influence(model, x, transform=torch.sigmoid)  # doctest: +SKIP
    >>> influence[:, 0].argsort()[:5]  # the five filters that most raise output 0  # doctest: +SKIP
    """
    import torch

    network = _network(model)
    conv = _stem_conv(network)
    _check_x(x, conv.kernel_size[0])
    _check_batch_size(batch_size)
    if transform is not None and not callable(transform):
        raise UsageError("transform must be a callable on the logits, or None")

    def outputs(act: torch.Tensor) -> torch.Tensor:
        out = network.head(network.body(act))
        out = out if transform is None else transform(out)
        return out.reshape(out.shape[0], -1).double()

    with _evaluating(network), torch.no_grad():
        total, n_values = None, 0
        for _, xb in _batches(network, x, batch_size):
            act = network.stem(xb)
            s = act.double().sum(dim=(0, 2))
            total = s if total is None else total + s
            n_values += act.shape[0] * act.shape[2]
        means = (total / n_values).to(act.dtype)

        influence = None
        for _, xb in _batches(network, x, batch_size):
            act = network.stem(xb)
            reference = outputs(act)
            if influence is None:
                influence = torch.zeros(act.shape[1], reference.shape[1], dtype=torch.float64)
            for f in range(act.shape[1]):
                # Nullify in place and restore: a copy of the whole batch per filter
                # costs more than the rest of the network.
                kept = act[:, f, :].clone()
                act[:, f, :] = means[f]
                influence[f] += (outputs(act) - reference).sum(dim=0).cpu()
                act[:, f, :] = kept
    return (influence / x.shape[0]).numpy()

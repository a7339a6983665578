"""GC-matched negatives: background windows of a genome with the positives' GC histogram.

:func:`gc_matched_negatives` considers every window of the genome on a grid (every
``stride`` bases from each contig's start, default half the window), leaves out those that
come within one window length of a positive, overlap an excluded region (e.g. the ENCODE
blacklist) or hold more than 10% N, and draws, for each GC bin of width 0.02, as many as
``ratio`` times the positives in that bin; a bin short of candidates borrows from its
nearest bins.  The GC content of every grid window comes from cumulative sums over the
codes of a few megabases at a time, so a chromosome takes about a second and memory stays
small (one byte per grid window).  How well the two GC distributions match is reported as
a two-sample Kolmogorov-Smirnov statistic (:func:`ks_statistic`).

GC content is ``(G + C) / (A + C + G + T)`` of a window (:func:`seqcnn.genome.gc_content`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .alphabet import N_CODE
from .errors import UsageError
from .genome import MAX_N_FRACTION, Genome, contig_style, gc_content, styled_name

__all__ = ["GC_BIN_WIDTH", "NegativeSample", "gc_matched_negatives", "ks_statistic"]

#: Width of the GC-content bins whose counts negatives match.
GC_BIN_WIDTH = 0.02
_CHUNK_BASES = 1 << 22  # bases of a contig whose grid windows are measured at once
_NO_BIN = 255


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between two empirical CDFs.

    Examples
    --------
    >>> ks_statistic(np.array([0.1, 0.2]), np.array([0.1, 0.2]))
    0.0
    """
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return float("nan")
    values = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, values, "right") / len(a)
    cdf_b = np.searchsorted(b, values, "right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


@dataclass
class NegativeSample:
    """Negatives drawn by :func:`gc_matched_negatives`.

    Attributes
    ----------
    contigs, starts
        The windows ``[start, start + length)``, in genome order.
    names
        Each window's contig, named like the positives' contigs.
    gc
        Each window's GC content.
    report
        For the dataset header: counts, options and the KS statistic of the positives'
        and negatives' GC contents.
    """

    contigs: np.ndarray
    starts: np.ndarray
    names: list[str]
    gc: np.ndarray
    report: dict


def _gc_bin(fraction: np.ndarray, n_bins: int) -> np.ndarray:
    # A window's GC fraction is g/n with n <= 1e6 bases: 1e-9 only undoes rounding error.
    bins = np.floor(np.asarray(fraction) * n_bins + 1e-9)
    return np.clip(np.nan_to_num(bins, nan=-1), -1, n_bins - 1).astype(np.int64)


def _overlapping(n_grid: int, stride: int, length: int, a: np.ndarray, b: np.ndarray):
    """Which grid windows ``[k * stride, k * stride + length)`` overlap some ``[a, b)``."""
    first = np.clip((a - length) // stride + 1, 0, n_grid)
    stop = np.clip(-(-b // stride), 0, n_grid)
    keep = first < stop
    diff = np.bincount(first[keep], minlength=n_grid + 1)
    diff -= np.bincount(stop[keep], minlength=n_grid + 1)
    return np.cumsum(diff[:n_grid]) > 0


def _grid_bins(genome, contig, length, stride, n_bins, max_n, forbidden) -> np.ndarray:
    """GC bin of every grid window of a contig; :data:`_NO_BIN` where excluded."""
    size = genome.contigs[contig]
    n_grid = (size - length) // stride + 1 if size >= length else 0
    bins = np.full(n_grid, _NO_BIN, dtype=np.uint8)
    per_chunk = max(1, _CHUNK_BASES // stride)
    for k0 in range(0, n_grid, per_chunk):
        k1 = min(n_grid, k0 + per_chunk)
        codes = genome.fetch_codes(contig, k0 * stride, (k1 - 1) * stride + length, pad=False)
        zero = np.zeros(1, dtype=np.int32)
        gc = np.concatenate([zero, np.cumsum((codes == 1) | (codes == 2), dtype=np.int32)])
        acgt = np.concatenate([zero, np.cumsum(codes < N_CODE, dtype=np.int32)])
        del codes
        w = np.arange(k1 - k0, dtype=np.int64) * stride
        g, n = gc[w + length] - gc[w], acgt[w + length] - acgt[w]
        ok = (n > 0) & (length - n <= max_n * length)
        bins[k0:k1] = np.where(ok, np.minimum(g * n_bins // np.maximum(n, 1), n_bins - 1), _NO_BIN)
    for a, b in forbidden:
        bins[_overlapping(n_grid, stride, length, a, b)] = _NO_BIN
    return bins


def _allocate(need: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Per-bin draws: ``need`` where there are enough candidates, the shortfall taken from
    the nearest bins with candidates to spare."""
    take = np.minimum(need, available)
    spare = available - take
    for b in np.flatnonzero(need > take):
        short = int(need[b] - take[b])
        for d in range(1, len(need)):
            for other in (b - d, b + d):
                if short and 0 <= other < len(need) and spare[other]:
                    moved = min(short, int(spare[other]))
                    take[other] += moved
                    spare[other] -= moved
                    short -= moved
            if not short:
                break
    return take


def gc_matched_negatives(
    genome: Genome,
    contigs: Sequence[str],
    starts: np.ndarray,
    length: int,
    *,
    gc: np.ndarray | None = None,
    ratio: float = 1,
    exclude: tuple[Sequence[str], np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    max_n_fraction: float = MAX_N_FRACTION,
    bin_width: float = GC_BIN_WIDTH,
    stride: int | None = None,
    names: dict[str, str] | None = None,
) -> NegativeSample:
    """Draw windows from the genome whose GC histogram follows the positives'.

    Parameters
    ----------
    genome
        The reference.
    contigs, starts
        The positive windows ``[start, start + length)`` (contigs in any spelling).
    length
        The window length.
    gc
        The positives' GC contents, if already known (else read from the genome).
    ratio
        Negatives per positive: ``round(ratio * n)`` are drawn for the ``n`` positives
        of each GC bin; a bin short of candidates borrows from its nearest bins.
    exclude
        Regions no negative may overlap (e.g. the ENCODE blacklist): ``(contigs, starts,
        ends)``; regions on contigs the genome lacks are ignored.
    seed
        The same seed (and inputs) gives the same negatives.
    max_n_fraction
        Candidates with a larger share of N are left out.
    bin_width
        GC bin width; ``1 / bin_width`` must be a whole number.
    stride
        Step of the candidate grid along each contig (default ``length // 2``).
    names
        Genome contig -> name to use in ids (default: the spelling of the positives').

    Returns
    -------
    NegativeSample
        No window overlaps a positive or comes closer than ``length`` bases to one.
    """
    n_bins = round(1 / bin_width)
    if n_bins < 1 or abs(n_bins * bin_width - 1) > 1e-9:
        raise UsageError(f"1 / bin_width must be a whole number, got bin width {bin_width}")
    if not ratio > 0:
        raise UsageError(f"the negative ratio must be positive, got {ratio}")
    stride = max(1, length // 2) if stride is None else int(stride)
    resolved = np.array([genome.resolve(c) for c in contigs], dtype=object)
    starts = np.asarray(starts, dtype=np.int64)
    if gc is None:
        gc = np.full(len(starts), np.nan)
        for contig in dict.fromkeys(resolved):
            at = np.flatnonzero(resolved == contig)
            gc[at] = gc_content(genome.window_codes(contig, starts[at], length))
    positive_bins = _gc_bin(gc, n_bins)
    histogram = np.bincount(positive_bins[positive_bins >= 0], minlength=n_bins)
    need = np.round(histogram * ratio).astype(np.int64)
    forbidden = {c: [] for c in genome.contigs}
    for contig in dict.fromkeys(resolved):
        at = resolved == contig
        forbidden[contig].append((starts[at] - length, starts[at] + 2 * length))
    excluded = _exclude_regions(genome, exclude, forbidden)
    grids = {c: _grid_bins(genome, c, length, stride, n_bins, max_n_fraction, forbidden[c])
             for c in genome.contigs}  # fmt: skip
    available = sum(np.bincount(g, minlength=256)[:n_bins] for g in grids.values())
    take = _allocate(need, available)
    rng = np.random.default_rng(seed)
    ranks = [np.sort(rng.choice(int(available[b]), int(take[b]), replace=False))
             if take[b] else np.zeros(0, np.int64) for b in range(n_bins)]  # fmt: skip
    chosen_contigs, chosen_starts, seen = [], [], np.zeros(n_bins, dtype=np.int64)
    for contig, grid in grids.items():
        order = np.argsort(grid, kind="stable")
        counts = np.bincount(grid, minlength=256)[:n_bins]
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        picked = []
        for b in np.flatnonzero(take):
            r = ranks[b]
            local = r[np.searchsorted(r, seen[b]) : np.searchsorted(r, seen[b] + counts[b])]
            picked.append(order[first[b] + local - seen[b]])
        seen += counts
        k = np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)
        chosen_contigs += [contig] * len(k)
        chosen_starts.append(k * stride)
    chosen = np.array(chosen_contigs, dtype=object)
    negative_starts = np.concatenate(chosen_starts) if chosen_starts else np.zeros(0, np.int64)
    negative_gc = np.full(len(chosen), np.nan)
    for contig in dict.fromkeys(chosen):
        at = np.flatnonzero(chosen == contig)
        negative_gc[at] = gc_content(genome.window_codes(contig, negative_starts[at], length))
    if names is None:
        style = contig_style(contigs)
        given = dict(zip(resolved.tolist(), contigs, strict=True))
        names = {c: given.get(c, styled_name(c, style)) for c in genome.contigs}
    report = {
        "kind": "gc-matched", "ratio": ratio, "seed": seed, "bin_width": bin_width,
        "stride": stride, "max_n_fraction": max_n_fraction, "distance": length,
        "excluded_regions": excluded, "candidates": int(available.sum()),
        "requested": int(need.sum()), "sampled": int(take.sum()),
        "shortfall": int(need.sum() - take.sum()),
        "ks_statistic": round(ks_statistic(gc, negative_gc), 6),
    }  # fmt: skip
    named = [names[c] for c in chosen]
    return NegativeSample(contigs=chosen, starts=negative_starts, names=named, gc=negative_gc,
                          report=report)  # fmt: skip


def _exclude_regions(genome: Genome, exclude, forbidden: dict) -> int:
    """Add the regions ``exclude`` on the genome's contigs to ``forbidden``; their number."""
    if exclude is None:
        return 0
    contigs, starts, ends = exclude
    contigs = np.asarray(contigs, dtype=object)
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    if not len(contigs) == len(starts) == len(ends):
        raise UsageError("exclude needs as many contigs, starts and ends")
    count = 0
    for name in dict.fromkeys(contigs.tolist()):
        if genome.has_contig(name):
            at = contigs == name
            forbidden[genome.resolve(name)].append((starts[at], ends[at]))
            count += int(at.sum())
    return count

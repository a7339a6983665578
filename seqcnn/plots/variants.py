"""Paired attribution logos of a variant: the reference window above the alternative one,
around the variant, with the changed bases marked (``seqcnn variants --attribution``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seqcnn.errors import UsageError

from .logos import plot_attribution_logo

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_variant_logos", "VARIANT_FLANK"]

#: Bases drawn on each side of a variant.
VARIANT_FLANK = 20
#: The colour of the marked bases (a light amber: behind every letter colour).
_MARK = "#f5c542"


def plot_variant_logos(
    ref_scores: np.ndarray,
    alt_scores: np.ndarray,
    ref_sequence: np.ndarray,
    alt_sequence: np.ndarray,
    offset: int,
    changed: tuple[int, int] = (1, 1),
    *,
    method: str = "saliency",
    flank: int = VARIANT_FLANK,
    title: str | None = None,
) -> Figure:
    """Draw the attribution logos of a variant's two windows, one above the other.

    Parameters
    ----------
    ref_scores, alt_scores
        Attribution scores ``(4, L)`` of the reference and alternative windows.
    ref_sequence, alt_sequence
        Their one-hot sequences ``(4, L)``: only the bases present are drawn.
    offset
        Index of the first changed base in both windows (``L // 2`` in seqcnn's windows).
    changed
        Bases the variant changes in the reference and in the alternative window from
        ``offset`` (an SNV ``(1, 1)``, a deletion of 2 bases ``(2, 0)``): marked in
        colour; a side with none (a deletion's ALT, an insertion's REF) gets a line where
        the bases were removed or will be inserted.
    method
        ``"ism"`` scores are drawn minus their mean over the four bases (ISM is 0 at the
        reference base: this shows how much better the base is than the average one), as
        the attribution maps of ``seqcnn interpret`` are; other methods as they are.
    flank
        Bases drawn on each side of the changed ones (cut at the window's ends).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels on one position axis (0 = the first changed base) and one y scale.
    """
    from matplotlib.figure import Figure

    ref_scores, alt_scores = np.asarray(ref_scores), np.asarray(alt_scores)
    if ref_scores.ndim != 2 or ref_scores.shape[0] != 4 or ref_scores.shape != alt_scores.shape:
        raise UsageError(
            f"variant logos need two (4, L) score maps, got {ref_scores.shape} and "
            f"{alt_scores.shape}"
        )
    length = ref_scores.shape[1]
    if not 0 <= offset < length:
        raise UsageError(f"the variant's offset {offset} is outside the window (0-{length})")
    if flank < 0:
        raise UsageError(f"flank must be at least 0, got {flank}")
    span = max(1, *changed)
    low, high = max(0, offset - flank), min(length, offset + span + flank)
    fig = Figure(figsize=(max(4.0, 0.16 * (high - low) + 1.2), 3.4), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    limits = []
    for ax, scores, sequence, n, label in zip(
        axes, (ref_scores, alt_scores), (ref_sequence, alt_sequence), changed, ("ref", "alt"),
        strict=True,
    ):  # fmt: skip
        if method == "ism":
            scores = scores - scores.mean(axis=0, keepdims=True)
        plot_attribution_logo(scores[:, low:high], sequence=np.asarray(sequence)[:, low:high],
                              ax=ax, start=low - offset)  # fmt: skip
        if n:
            ax.axvspan(-0.5, min(n, high - offset) - 0.5, color=_MARK, alpha=0.35, zorder=0)
        else:
            ax.axvline(-0.5, color=_MARK, linewidth=2.5, zorder=0)
        ax.set_ylabel(label)
        limits.append(ax.get_ylim())
    bottom, top = min(lim[0] for lim in limits), max(lim[1] for lim in limits)
    for ax in axes:
        ax.set_ylim(bottom, top)
    axes[0].set_xlabel("")
    axes[1].set_xlabel("position from the variant")
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig

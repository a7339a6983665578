"""Sequence logos: of PWMs (in bits or probabilities), of signed attribution scores, and all
filters of a model in one grid.

matplotlib and logomaker are imported inside the functions.  Letters are drawn with
logomaker's "classic" colours (A green, C blue, G orange, T red).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn.alphabet import ALPHABET
from seqcnn.errors import UsageError

from .files import save_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from seqcnn.motifs import FilterMotif

__all__ = ["plot_logo", "plot_attribution_logo", "plot_filter_overview", "COLOR_SCHEME"]

# logomaker's "classic" colours: A green, C blue, G orange, T red.
COLOR_SCHEME = "classic"


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _position_major(matrix: Any, what: str) -> np.ndarray:
    """A ``(L, 4)`` float array from ``(L, 4)`` or ``(4, L)``; ``(4, 4)`` is read as ``(L, 4)``."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim == 3 and matrix.shape[0] == 1:
        matrix = matrix[0]
    if matrix.ndim != 2 or 4 not in matrix.shape:
        raise UsageError(f"a {what} must have shape (L, 4) or (4, L), got {matrix.shape}")
    if matrix.shape[1] != 4:
        matrix = matrix.T
    if not np.isfinite(matrix).all():
        raise UsageError(f"the {what} holds NaN or infinite values")
    return matrix


def _logo(frame: pd.DataFrame, ax: Axes) -> None:
    import logomaker

    with warnings.catch_warnings():
        # An all-zero logo makes logomaker set equal y limits; callers set their own.
        warnings.filterwarnings("ignore", message="Attempting to set identical low and high")
        # Letters below zero stay upright: easier to read than logomaker's flipped default.
        logomaker.Logo(frame, ax=ax, color_scheme=COLOR_SCHEME, flip_below=False)


def plot_logo(
    pwm: np.ndarray,
    ax: Axes | None = None,
    title: str | None = None,
    ic_scale: bool = True,
    background: np.ndarray | None = None,
) -> tuple[Figure, Axes]:
    """Draw a sequence logo of a PWM.

    Parameters
    ----------
    pwm
        Probabilities (or counts), shape ``(w, 4)`` (or ``(4, w)``), columns A, C, G, T.
    ax
        Draw into these axes; a new figure is made otherwise.
    title
        Axes title.
    ic_scale
        Letter heights in bits (probability x information content, y from 0 to 2 bits
        for a uniform background); otherwise probabilities from 0 to 1.
    background
        Base frequencies for the information content; uniform by default.

    Returns
    -------
    fig, ax

    Examples
    --------
    >>> fig, ax = plot_logo(np.array([[0.9, 0.05, 0.03, 0.02], [0.1, 0.1, 0.7, 0.1]]))
    >>> ax.get_ylim() == (0.0, 2.0)
    True
    """
    import pandas as pd

    from seqcnn.motifs import information_content

    pwm = _position_major(pwm, "PWM")
    if (pwm < 0).any():
        raise UsageError("a PWM must not hold negative values; use plot_attribution_logo")
    totals = pwm.sum(axis=1, keepdims=True)
    probs = np.divide(pwm, totals, out=np.full_like(pwm, 0.25), where=totals > 0)
    if ic_scale:
        ic = information_content(probs, background)
        heights = probs * ic[:, None]
        top = max(2.0, float(ic.max()) if len(ic) else 0.0)
        ylabel = "bits"
    else:
        heights, top, ylabel = probs, 1.0, "probability"
    # Letters under ~1 pixel are not drawn: logomaker spends ~5 ms on every glyph.
    heights = np.where(heights < 0.004 * top, 0.0, heights)
    fig, ax = _new_axes(ax, (max(2.5, 0.3 * len(pwm) + 0.8), 1.6))
    _logo(pd.DataFrame(heights, columns=list(ALPHABET)), ax)
    ax.set_ylim(0.0, top)
    ax.set_ylabel(ylabel)
    ax.set_xticks(range(len(pwm)))
    ax.set_xticklabels([str(i + 1) for i in range(len(pwm))], fontsize="small")
    if title:
        ax.set_title(title, fontsize="medium")
    return fig, ax


def plot_attribution_logo(
    attr: np.ndarray,
    sequence: str | np.ndarray | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    start: int = 0,
) -> tuple[Figure, Axes]:
    """Draw per-base attribution scores as a logo with signed letter heights.

    Parameters
    ----------
    attr
        Scores, shape ``(L, 4)`` or ``(4, L)`` (as from :mod:`seqcnn.attribution`).
    sequence
        Optional sequence (string, or one-hot ``(4, L)`` / ``(L, 4)``); when given, only
        its bases are drawn (scores times one-hot), the usual way to show gradients or
        hypothetical scores.  N positions are left empty.
    ax
        Draw into these axes; a new figure is made otherwise.
    title
        Axes title.
    start
        Sequence coordinate of the first position, for the x axis.

    Returns
    -------
    fig, ax

    Examples
    --------
    >>> fig, ax = plot_attribution_logo(np.random.randn(4, 50), sequence="ACGT" * 12 + "AC")
    """
    import pandas as pd

    attr = _position_major(attr, "attribution")
    if sequence is not None:
        onehot = _sequence_one_hot(sequence)
        if onehot.shape != attr.shape:
            raise UsageError(
                f"the sequence has {len(onehot)} positions but the attribution {len(attr)}"
            )
        attr = attr * onehot
    frame = pd.DataFrame(attr, columns=list(ALPHABET), index=start + np.arange(len(attr)))
    fig, ax = _new_axes(ax, (min(max(3.0, 0.12 * len(attr) + 1.0), 20.0), 1.8))
    _logo(frame, ax)
    low, high = (
        float(min(attr.sum(axis=1, where=attr < 0).min(), 0.0)),
        float(max(attr.sum(axis=1, where=attr > 0).max(), 0.0)),
    )
    pad = 0.05 * (high - low) if high > low else 1.0
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(start - 0.5, start + len(attr) - 0.5)
    ax.set_xlabel("position")
    ax.set_ylabel("attribution")
    if title:
        ax.set_title(title, fontsize="medium")
    return fig, ax


def _sequence_one_hot(sequence: str | np.ndarray) -> np.ndarray:
    if isinstance(sequence, str):
        codes = np.frombuffer(sequence.upper().encode(), dtype=np.uint8)
        onehot = np.stack([codes == ord(b) for b in ALPHABET], axis=1)
        return onehot.astype(np.float64)
    return _position_major(sequence, "sequence")


def plot_filter_overview(
    motifs: Sequence[FilterMotif],
    path: str | os.PathLike | None = None,
    order: str | Sequence[int] = "ic",
    ncols: int = 4,
    matches: pd.DataFrame | None = None,
) -> Figure:
    """Draw the logos of all filters in one grid.

    Each panel is titled ``"<index> <consensus> n=<sites> <best match>"``.

    Parameters
    ----------
    motifs
        From :func:`seqcnn.motifs.filter_pwms`.
    path
        Also save the figure there (see :func:`save_figure`).
    order
        ``"ic"`` (most informative first), ``"index"``, or filter indices in the order
        to draw them, e.g. ``np.argsort(influence.min(axis=1))``; filters not listed are
        left out.
    ncols
        Panels per row.
    matches
        A table from :func:`seqcnn.motifs.match_motifs`; the best (rank 1) match of each
        filter is added to its title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_filter_overview(motifs, "filters.png", matches=match_motifs(motifs))
    ... # doctest: +SKIP
    """
    from matplotlib.figure import Figure

    motifs = list(motifs)
    if not motifs:
        raise UsageError("no filters to draw")
    if ncols < 1:
        raise UsageError(f"ncols must be at least 1, got {ncols}")
    by_index = {m.index: m for m in motifs}
    if isinstance(order, str):
        if order == "ic":
            chosen = sorted(motifs, key=lambda m: (-m.total_ic, m.index))
        elif order == "index":
            chosen = sorted(motifs, key=lambda m: m.index)
        else:
            raise UsageError(f"unknown order {order!r}; use 'ic', 'index' or filter indices")
    else:
        missing = [int(i) for i in order if int(i) not in by_index]
        if missing:
            raise UsageError(f"order names filters that are not given: {missing[:5]}")
        chosen = [by_index[int(i)] for i in order]
    best = _best_matches(matches)

    ncols = min(ncols, len(chosen))
    nrows = math.ceil(len(chosen) / ncols)
    width = max(m.width for m in chosen)
    panel_width = max(2.6, 0.22 * width + 0.8)
    fig = Figure(figsize=(ncols * panel_width, nrows * 1.55), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, motif in zip(axes.flat, chosen, strict=False):
        label = f"{motif.index} {motif.consensus} n={motif.n_sites}"
        if motif.name in best:
            label += f" {best[motif.name]}"
        plot_logo(motif.pwm, ax=ax, title=label)
        ax.set_xlabel("")
        ax.title.set_fontsize("small")
        ax.tick_params(labelsize="x-small")
    for ax in axes.flat[len(chosen) :]:
        ax.set_axis_off()
    if path is not None:
        save_figure(fig, path)
    return fig


def _best_matches(matches: pd.DataFrame | None) -> dict[str, str]:
    if matches is None or len(matches) == 0:
        return {}
    top = matches.sort_values(["filter", "p_value"]).drop_duplicates("filter")
    return {row.filter: f"{row.match_name or row.match_id}" for row in top.itertuples()}

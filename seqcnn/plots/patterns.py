"""Logos of the patterns motif discovery finds (:mod:`seqcnn.motifs.discovery`): the
contribution weight matrix above the base frequencies of the aligned seqlets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .files import render, save_rendered
from .logos import plot_attribution_logo, plot_logo

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqcnn.motifs.modisco import Pattern

__all__ = ["pattern_title", "plot_pattern", "draw_pattern_logos"]


def pattern_title(pattern: Pattern) -> str:
    """``"<name>  <consensus>  n=<seqlets>  <best match>"``."""
    title = f"{pattern.name}  {pattern.consensus}  n={pattern.n_seqlets:,}"
    best = pattern.best_match()
    return f"{title}  {best}" if best else title


def plot_pattern(pattern: Pattern, title: str | None = None, core_only: bool = False) -> Figure:
    """Draw a pattern: its CWM (signed contributions) above its PWM (bits).

    The core (the positions that are matched and written to MEME files) is shaded unless
    ``core_only`` draws just the core.

    Parameters
    ----------
    pattern
        From :func:`seqcnn.motifs.discover_motifs` or :func:`seqcnn.motifs.find_patterns`.
    title
        Figure title; default :func:`pattern_title`.
    core_only
        Draw the core positions only.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_pattern(found.patterns[0])      # doctest: +SKIP
    """
    from matplotlib.figure import Figure

    start, end = pattern.core if core_only else (0, pattern.width)
    cwm, pwm = pattern.cwm[start:end], pattern.pwm[start:end]
    width = max(3.0, min(0.18 * len(cwm) + 1.2, 14.0))
    fig = Figure(figsize=(width, 2.9), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    plot_attribution_logo(cwm, ax=top, start=start + 1)
    top.set_ylabel("contribution")
    top.set_xlabel("")
    plot_logo(pwm, ax=bottom)
    bottom.set_xticks(range(len(pwm)))
    bottom.set_xticklabels([str(start + i + 1) for i in range(len(pwm))], fontsize="x-small")
    # The PWM logo is drawn at 0..w-1, the CWM at the 1-based positions: same extent.
    top.set_xlim(start + 0.5, start + len(cwm) + 0.5)
    bottom.set_xlim(-0.5, len(pwm) - 0.5)
    if not core_only:
        for ax, shift in ((top, 1), (bottom, 0)):
            ax.axvspan(pattern.core[0] - 0.5 + shift, pattern.core[1] - 0.5 + shift,
                       color="0.9", zorder=-1)  # fmt: skip
    fig.suptitle(title if title is not None else pattern_title(pattern), fontsize="medium")
    return fig


def draw_pattern_logos(
    patterns: Sequence[Pattern],
    folder: str | os.PathLike,
    formats: Sequence[str] = ("png",),
    progress: bool | None = False,
) -> dict[str, Path]:
    """Draw each pattern once into ``folder/<file_stem>.png`` (and the other ``formats``;
    :attr:`seqcnn.motifs.Pattern.file_stem`: ``CTCF__pattern_1`` for ``CTCF/pattern_1``).

    Returns
    -------
    dict
        Pattern name -> its PNG.
    """
    from seqcnn._progress import progress_bar

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for pattern in progress_bar(progress, list(patterns), desc="pattern logos"):
        fig = plot_pattern(pattern)
        save_rendered(fig, render(fig), folder / pattern.file_stem, formats)
        written[pattern.name] = folder / f"{pattern.file_stem}.png"
    return written

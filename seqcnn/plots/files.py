"""Figures to files: atomic saves as PNG, SVG or PDF, and pixels written as small PNGs.

A figure that is saved several times (a PNG, then SVG or PDF copies, then a shrunk tile
of an overview) is drawn once: :func:`render` gives its pixels, :func:`write_png` writes
them, :func:`save_rendered` adds the vector copies, and :func:`shrink` and :func:`mosaic`
make overviews from the same pixels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqcnn._io import atomic_path
from seqcnn.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_FORMATS",
    "PNG_DPI",
    "save_figure",
    "render",
    "write_png",
    "save_rendered",
    "shrink",
    "mosaic",
]

FIGURE_FORMATS = ("png", "svg", "pdf")
#: Resolution of every PNG seqcnn writes.
PNG_DPI = 150


def save_figure(
    fig: Figure,
    path: str | os.PathLike,
    formats: Sequence[str] | None = None,
    dpi: int = PNG_DPI,
) -> list[Path]:
    """Save a figure atomically (temporary name, then rename) as PNG, SVG and/or PDF.

    Parameters
    ----------
    fig
        The figure.
    path
        Output path.  With ``formats`` unset, its suffix picks the format (PNG when it
        has none).  Otherwise one file per format is written, ``path`` with the
        format's suffix.
    formats
        Any of ``"png"``, ``"svg"``, ``"pdf"``.
    dpi
        Resolution of PNG output.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> save_figure(fig, "report/filters", formats=("png", "svg"))   # doctest: +SKIP
    [PosixPath('report/filters.png'), PosixPath('report/filters.svg')]
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if formats is None:
        formats = (suffix,) if suffix in FIGURE_FORMATS else ("png",)
    formats = [f.lower().lstrip(".") for f in formats]
    unknown = [f for f in formats if f not in FIGURE_FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"unsupported figure format {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(FIGURE_FORMATS)}"
        )
    stem = path.with_suffix("") if suffix in FIGURE_FORMATS else path
    written = []
    for fmt in formats:
        target = Path(f"{stem}.{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
        written.append(target)
    return written


def render(fig: Figure, dpi: int = PNG_DPI) -> np.ndarray:
    """Draw a figure once (Agg) and return its pixels, ``(h, w, 3)`` ``uint8``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def write_png(pixels: np.ndarray, path: str | os.PathLike, dpi: int = PNG_DPI) -> Path:
    """Write pixels as a 64-colour PNG, atomically.

    Logos hold a few colours and their anti-aliasing, so the image looks the same and the
    file is 2-4 times smaller than a full-colour PNG (the report inlines every image).
    """
    from PIL import Image

    path = Path(path)
    image = Image.fromarray(pixels).quantize(
        colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", dpi=(dpi, dpi))
    return path


def save_rendered(
    fig: Figure, pixels: np.ndarray, stem: str | os.PathLike, formats: Sequence[str]
) -> list[Path]:
    """``stem.png`` from pixels already rendered, and the other ``formats`` (SVG, PDF) from
    the figure itself.

    Returns
    -------
    list of pathlib.Path
        The files written, the PNG first.
    """
    stem = Path(stem)
    written = [write_png(pixels, stem.with_name(stem.name + ".png"))]
    vector = [f for f in formats if f != "png"]
    if vector:
        written += save_figure(fig, stem, formats=vector, dpi=PNG_DPI)
    return written


def shrink(pixels: np.ndarray, scale: float) -> np.ndarray:
    """Pixels resized by ``scale`` (Lanczos), at least one pixel each way."""
    from PIL import Image

    image = Image.fromarray(pixels)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS))


def mosaic(tiles: Sequence[np.ndarray], ncols: int = 4, gap: int = 6) -> np.ndarray:
    """Tiles (``(h, w, 3)`` pixels) in a grid, row by row, on white.

    Examples
    --------
    >>> tiles = [np.zeros((2, 3, 3), dtype=np.uint8)] * 5
    >>> mosaic(tiles, ncols=4, gap=1).shape
    (7, 17, 3)
    """
    if not len(tiles):
        raise UsageError("no tiles to arrange")
    ncols = max(1, min(ncols, len(tiles)))
    nrows = -(-len(tiles) // ncols)
    cell_h = max(t.shape[0] for t in tiles) + gap
    cell_w = max(t.shape[1] for t in tiles) + gap
    canvas = np.full((nrows * cell_h + gap, ncols * cell_w + gap, 3), 255, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, ncols)
        top, left = gap + r * cell_h, gap + c * cell_w
        canvas[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    return canvas

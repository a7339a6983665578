"""Everything seqcnn draws: sequence logos, filter overviews, attribution maps and learning
curves.

The only package that imports matplotlib, logomaker and PIL, and only inside its functions.
Figures are built as :class:`matplotlib.figure.Figure` objects, not through pyplot: they
never open a window, leave pyplot's global state alone (nothing to close, no memory
kept between calls), render with the Agg backend when saved, and still display in a
notebook.

- :mod:`~seqcnn.plots.logos`: :func:`plot_logo`, :func:`plot_attribution_logo`,
  :func:`plot_filter_overview`;
- :mod:`~seqcnn.plots.curves`: :func:`plot_learning_curves`;
- :mod:`~seqcnn.plots.files`: :func:`save_figure` (atomic PNG/SVG/PDF), and figures drawn
  once as pixels (:func:`render`, :func:`write_png`, :func:`mosaic`);
- :mod:`~seqcnn.plots.patterns`: :func:`plot_pattern` (a discovered motif: CWM above PWM)
  and :func:`draw_pattern_logos`;
- :mod:`~seqcnn.plots.variants`: :func:`plot_variant_logos` (a variant's reference and
  alternative attribution logos, paired);
- :mod:`~seqcnn.plots.gallery`: many figures into a folder at once, drawn fast (one logo
  per filter and their overview, one attribution map per sequence), as ``seqcnn
  interpret`` writes them.

Examples
--------
>>> fig, ax = plot_logo(motifs[3].pwm, title="filter_3")     # doctest: +SKIP
>>> save_figure(fig, "filter_3.png")                          # doctest: +SKIP
>>> save_figure(plot_learning_curves("run/metrics.csv"), "curves", formats=("png", "svg"))
... # doctest: +SKIP
"""

from .curves import plot_learning_curves
from .files import (
    FIGURE_FORMATS,
    PNG_DPI,
    mosaic,
    render,
    save_figure,
    save_rendered,
    shrink,
    write_png,
)
from .gallery import (
    OVERVIEW_COLUMNS,
    OVERVIEW_SCALE,
    draw_attribution_maps,
    draw_filter_logos,
    file_names,
    filter_logo_title,
    write_overview,
)
from .logos import COLOR_SCHEME, plot_attribution_logo, plot_filter_overview, plot_logo
from .patterns import draw_pattern_logos, pattern_title, plot_pattern
from .variants import VARIANT_FLANK, plot_variant_logos

__all__ = [
    "plot_logo",
    "plot_attribution_logo",
    "plot_filter_overview",
    "plot_learning_curves",
    "save_figure",
    "FIGURE_FORMATS",
    "PNG_DPI",
    "COLOR_SCHEME",
    "render",
    "write_png",
    "save_rendered",
    "shrink",
    "mosaic",
    "OVERVIEW_SCALE",
    "OVERVIEW_COLUMNS",
    "filter_logo_title",
    "draw_filter_logos",
    "write_overview",
    "file_names",
    "draw_attribution_maps",
    "plot_pattern",
    "pattern_title",
    "draw_pattern_logos",
    "plot_variant_logos",
    "VARIANT_FLANK",
]

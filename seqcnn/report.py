"""A single self-contained ``report.html`` for what ``seqcnn interpret`` found.

The report is one file that opens in any browser without a network: images are inlined
as base64 ``data:`` URIs, and the style sheet and the small script that sorts the filter
table are inlined too.  Nothing is fetched from anywhere (no CDN, no web fonts).

The page holds, in order: the title, a summary table (model, task, data, database, ...),
a short "how to read this" paragraph, an optional overview (a figure, or the logos of the
first filters of the table at a size where their titles read), the filter table (one
row per first-layer filter, with its logo as a thumbnail; click a header to sort, click
a logo to enlarge it) and optional attribution-map logos.

The table fits a 1,400-pixel window: it shows the main columns, and for a model with
several outputs the largest influence over them ("Top influence"); a "Show all columns"
switch (plain CSS, no script needed) adds the per-output influences and the rest.

Examples
--------
>>> write_report(                                            # doctest: +SKIP
...     "out/report.html",
...     title="CTCF model",
...     summary={"model": "ctcf.seqcnn", "task": "binary"},
...     filters=table,
...     logos={"filter_0": "out/logos/filter_0.png"},
... )
PosixPath('out/report.html')
"""

from __future__ import annotations

import base64
import html
import math
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqcnn._io import atomic_path
from seqcnn._version import __version__
from seqcnn.errors import DataError
from seqcnn.report_page import PAGE, SCRIPT, STYLE

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["write_report", "discovery_section", "SIGNIFICANCE"]

#: A PNG image: a file holding one, or its bytes.
Image = str | os.PathLike | bytes

#: Rows whose ``q_value`` is below this are highlighted as significant matches.
SIGNIFICANCE = 0.05

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Overview logos are shown at this fraction of their pixel size: seqcnn's logos are drawn
#: at 150 dpi with 10-point titles (21 pixels), which then read at about 12.5 pixels.
OVERVIEW_LOGO_SCALE = 0.6

# The column added for a model with several outputs: its largest influence.
_TOP = "top_influence"


# column -> (header, tooltip, kind); kinds decide formatting and sorting.  The order
# here is the order on the page; ``influence_<target>`` columns follow ``influence`` and
# columns not listed here come last.
_COLUMNS: dict[str, tuple[str, str, str]] = {
    "filter": ("Filter", "First-layer filter", "name"),
    "consensus": ("Consensus", "Consensus sequence of the filter's PWM", "sequence"),
    "n_sites": ("Sites", "Sequence windows aligned into the PWM", "int"),
    "information": ("IC (bits)", "Total information content of the PWM", "bits"),
    "exported": ("Exported", "Enough sites to be written to the MEME file", "bool"),
    "best_match_id": ("Match", "Best JASPAR match (Tomtom)", "text"),
    "best_match_name": ("TF", "Name of the best match", "text"),
    "p_value": ("p\u2011value", "Tomtom p-value of the best match", "pvalue"),
    "q_value": ("q\u2011value", "Benjamini-Hochberg q-value of the best match", "pvalue"),
    "strand": ("Strand", "Strand of the best match", "text"),
    "influence": (
        "Influence",
        "Mean change of the prediction when the filter is nullified",
        "influence",
    ),
    _TOP: (
        "Top influence",
        "The largest change of a mean prediction (in absolute value) when the filter is "
        "nullified, and the output it is for; sorts by its size",
        "top",
    ),
}
# The columns the table shows until "Show all columns" is switched on; the others
# (per-output influences when there are several, full match lists, widths, ...) are details.
_MAIN = set(_COLUMNS) - {"strand"}
# Columns whose first click sorts from the largest value down.
_LARGEST_FIRST = {"int", "bits", "bool", "influence", "top", "number"}


def write_report(
    path: str | os.PathLike,
    *,
    title: str,
    summary: Mapping[str, Any],
    filters: pd.DataFrame,
    logos: Mapping[str, Image] | None = None,
    overview: Image | None = None,
    overview_logos: int = 0,
    attributions: Sequence[tuple[str, Image]] | None = None,
    patterns: pd.DataFrame | None = None,
    pattern_logos: Mapping[str, Image] | None = None,
    pattern_notes: Sequence[str] = (),
) -> Path:
    """Write one self-contained HTML page describing what a model's filters learned.

    Parameters
    ----------
    path
        The HTML file to write.  It is written to a temporary file beside ``path`` and
        renamed, so ``path`` is either complete or untouched.
    title
        Shown as the page title and heading.
    summary
        Label -> value, shown at the top in this order (model path, task, outputs,
        number of sequences, threshold, motif database, date, seqcnn version, ...).
        ``None`` is shown as a dash, lists are joined with commas.
    filters
        One row per first-layer filter.  Any of the columns ``filter``, ``consensus``,
        ``n_sites``, ``information``, ``exported``, ``best_match_id``,
        ``best_match_name``, ``p_value``, ``q_value``, ``strand``, ``influence`` and
        ``influence_<target>`` may be present; other columns are shown after them.
        Rows keep their order until a header is clicked.  Rows with ``q_value`` below
        :data:`SIGNIFICANCE` are highlighted.
    logos
        Filter name (as in the ``filter`` column) -> its logo, a PNG file or PNG bytes;
        shown as a thumbnail in the table.  Filters without one get an empty cell.
    overview
        One PNG (file or bytes) shown above the table, e.g. all logos or influences.
    overview_logos
        Also show, above the table, the logos of its first this many filters (in its
        order) at :data:`OVERVIEW_LOGO_SCALE` of their size, side by side.
    attributions
        ``(caption, PNG)`` pairs, e.g. attribution-map logos of example sequences,
        shown below the table.
    patterns, pattern_logos, pattern_notes
        Motifs found by discovery (see :func:`discovery_section`), shown last: a table
        with one row per pattern (:func:`seqcnn.motifs.pattern_table`), each pattern's
        figure (name -> PNG) and lines of notes above them (settings, convergence, time).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    seqcnn.errors.DataError
        An image file cannot be read or is not a PNG.
    seqcnn.errors.UsageError
        The folder of ``path`` does not exist.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"filter": ["filter_0"], "consensus": ["TGACGTCA"]})
    >>> write_report("report.html", title="Filters", summary={}, filters=table)  # doctest: +SKIP
    PosixPath('report.html')
    """
    path = Path(path)
    logo_uris = {
        str(name): _data_uri(image, f"logo of {name}") for name, image in (logos or {}).items()
    }
    sections = [
        f"<header><h1>{_esc(title)}</h1></header>",
        _summary_html(summary),
        _HOW_TO_READ,
    ]
    if overview is not None:
        sections.append(
            '<section><h2>Overview</h2><figure class="overview">'
            f'<img src="{_data_uri(overview, "overview")}" alt="Overview figure"></figure>'
            "</section>"
        )
    if overview_logos > 0 and logo_uris and "filter" in filters:
        names = [str(_plain(n)) for n in filters["filter"]]
        sections.append(_gallery_html(names, logo_uris, overview_logos))
    sections.append(_filters_html(filters, logo_uris))
    if attributions:
        sections.append(_attributions_html(attributions))
    if patterns is not None:
        sections.append(discovery_section(patterns, pattern_logos or {}, pattern_notes))
    page = PAGE.format(
        title=_esc(title),
        style=STYLE,
        script=SCRIPT,
        body="\n".join(sections),
        version=_esc(__version__),
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- pieces


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _data_uri(image: Image, what: str) -> str:
    """``data:image/png;base64,...`` for a PNG file or PNG bytes."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        data, source = bytes(image), None
    else:
        source = str(image)
        try:
            data = Path(image).read_bytes()
        except OSError as error:
            raise DataError(f"cannot read the {what}: {error.strerror}", path=source) from None
    if not data.startswith(_PNG_SIGNATURE):
        raise DataError(f"the {what} is not a PNG image", path=source)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _plain(value: Any) -> Any:
    """numpy/pandas scalars -> Python ones; missing values (None, NaN, NA, NaT) -> None."""
    if value is None or isinstance(value, (str, bytes)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    try:
        if value != value:  # NaN, NaT
            return None
    except (TypeError, ValueError):  # pandas.NA refuses to be a bool
        return None
    return value


def _summary_html(summary: Mapping[str, Any]) -> str:
    if not summary:
        return ""
    rows = []
    for label, value in summary.items():
        rows.append(
            f"<tr><th scope='row'>{_esc(label)}</th><td>{_esc(_summary_value(value))}</td></tr>"
        )
    return '<section><table class="summary">' + "".join(rows) + "</table></section>"


def _summary_value(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "\u2014"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_summary_value(v)}" for k, v in value.items())
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return ", ".join(_summary_value(v) for v in value)
    return str(value)


def _ordered_columns(columns: Iterable[str]) -> list[str]:
    columns = [str(c) for c in columns]
    known = [c for c in _COLUMNS if c in columns]
    per_target = _per_target(columns)
    if "influence" in known:
        at = known.index("influence") + 1
        known[at:at] = per_target
    else:
        known += per_target
    return known + [c for c in columns if c not in known]


def _per_target(columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c.startswith("influence_") and c != _TOP]


def _with_top_influence(filters: pd.DataFrame) -> pd.DataFrame:
    """Add ``top_influence`` (the per-output influence largest in absolute value, and its
    output) when there are several per-output columns and no single ``influence``."""
    per_target = _per_target(filters.columns)
    if "influence" in filters or _TOP in filters or len(per_target) < 2:
        return filters
    import numpy as np

    values = filters[per_target].to_numpy(dtype=float, na_value=np.nan)
    filled = np.where(np.isnan(values), -1.0, np.abs(values))
    best = filled.argmax(axis=1)
    top = []
    for k, j in enumerate(best):
        value = values[k, j]
        top.append(None if np.isnan(value) else (float(value), per_target[j][len("influence_") :]))
    at = list(filters.columns).index(per_target[0])
    out = filters.copy()
    out.insert(at, _TOP, top)
    return out


def _is_main(column: str, columns: Sequence[str]) -> bool:
    """Shown before "Show all columns": the main columns, and a lone per-output influence."""
    if column in _MAIN:
        return True
    per_target = _per_target(columns)
    return column in per_target and len(per_target) == 1 and "influence" not in columns


def _column_info(column: str) -> tuple[str, str, str]:
    if column in _COLUMNS:
        return _COLUMNS[column]
    if column.startswith("influence_"):
        target = column[len("influence_") :]
        header, tooltip, kind = _COLUMNS["influence"]
        return f"{header} ({target})", f"{tooltip} for output {target}", kind
    return column.replace("_", " "), column, "auto"


def _influence_text(number: float) -> str:
    return f"{number:+.3g}".replace("-", "\u2212")


def _top_cell(value: Any) -> str:
    """``+0.12 (output)``, sorted by the size of the change."""
    if not isinstance(value, tuple):
        return '<td class="missing" data-value="">\u2014</td>'
    number, target = value
    return (
        f'<td class="num" data-value="{abs(number)!r}" title="{_esc(target)}">'
        f"{_esc(_influence_text(number))} <span class='target'>{_esc(target)}</span></td>"
    )


def _cell(value: Any, kind: str) -> str:
    """One ``<td>``: the shown text and, for numbers, the raw value to sort by."""
    if kind == "top":
        return _top_cell(value)
    value = _plain(value)
    if value is None or value == "":
        return '<td class="missing" data-value="">\u2014</td>'
    if kind == "bool" or isinstance(value, bool):
        flag = (
            value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")
        )
        return f'<td class="bool" data-value="{int(flag)}">{"yes" if flag else "no"}</td>'
    number = value if isinstance(value, (int, float)) else None
    if kind in ("auto", "int", "bits", "pvalue", "influence") and number is None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
    if number is None or kind in ("name", "sequence", "text"):
        css = ' class="seq"' if kind == "sequence" else ""
        return f"<td{css}>{_esc(value)}</td>"
    if isinstance(number, float) and math.isinf(number):
        text = "\u221e" if number > 0 else "\u2212\u221e"
    elif kind == "int":
        text = f"{number:,.0f}"
    elif kind == "bits":
        text = f"{number:.2f}"
    elif kind == "pvalue":
        text = f"{number:.2e}"
    elif kind == "influence":
        text = _influence_text(number)
    elif isinstance(number, int):
        text = str(number)
    else:
        text = f"{number:.3g}"
    return f'<td class="num" data-value="{number!r}">{_esc(text)}</td>'


def _filters_html(filters: pd.DataFrame, logo_uris: Mapping[str, str]) -> str:
    filters = _with_top_influence(filters)
    columns = _ordered_columns(filters.columns)
    records = filters.to_dict("records")
    has_logos = bool(logo_uris) and "filter" in columns
    kinds = {c: _column_info(c)[2] for c in columns}
    for column in columns:
        if kinds[column] == "auto":  # an unknown column is numeric only if all its values are
            values = [_plain(r[column]) for r in records]
            numeric = all(v is None or isinstance(v, (int, float)) for v in values)
            kinds[column] = "number" if numeric else "text"

    if not records:
        return "<section><h2>Filters</h2><p>No filters.</p></section>"
    n_significant = sum(_is_significant(r.get("q_value")) for r in records)
    intro = f"{len(records)} filter{'s' if len(records) != 1 else ''}"
    if "q_value" in columns:
        intro += (
            f"; <span class='sig-key'>{n_significant} with a significant match</span> "
            f"(q&nbsp;&lt;&nbsp;{SIGNIFICANCE:g})"
        )
    intro += ". Click a column header to sort"
    intro += ", a logo to enlarge it." if has_logos else "."
    extra = {c for c in columns if not _is_main(c, columns)}
    head = []
    for column in columns:
        header, tooltip, _ = _column_info(column)
        kind = kinds[column]
        sort = "number" if kind not in ("name", "sequence", "text") else "text"
        first = "descending" if kind in _LARGEST_FIRST else "ascending"
        classes = (["num"] if sort == "number" and kind != "bool" else []) + (
            ["extra"] if column in extra else []
        )
        css = f' class="{" ".join(classes)}"' if classes else ""
        head.append(
            f'<th scope="col"{css} data-sort="{sort}" data-first="{first}" aria-sort="none" '
            f'title="{_esc(tooltip)}"><button type="button">{_esc(header)}</button></th>'
        )
        if column == "filter" and has_logos:
            head.append('<th scope="col" class="logo-col">Logo</th>')

    body = []
    for record in records:
        cells = []
        for column in columns:
            cell = _cell(record[column], kinds[column])
            if column in extra:
                cell = _add_class(cell, "extra")
            cells.append(cell)
            if column == "filter" and has_logos:
                cells.append(_logo_cell(_plain(record[column]), logo_uris))
        classes = []
        if _is_significant(record.get("q_value")):
            classes.append("significant")
        if "exported" in record and _plain(record["exported"]) is False:
            classes.append("not-exported")
        css = f' class="{" ".join(classes)}"' if classes else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")

    switch = ""
    if extra:
        per_target = [c for c in _per_target(columns) if c in extra]
        named = [_column_info(c)[0] for c in columns if c in extra and c not in per_target]
        if per_target:
            named.insert(0, f"influence on each of the {len(per_target)} outputs")
        switch = (
            '<input type="checkbox" id="all-columns" class="all-columns">'
            f'<label for="all-columns" class="all-columns">Show all columns: '
            f"{_esc(', '.join(named))}</label>"
        )
    return (
        f'<section><h2>Filters</h2><p class="note">{intro}</p>{switch}'
        '<div class="table-wrap"><table id="filters" class="filters sortable">'
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table></div></section>"
    )


def _add_class(cell: str, name: str) -> str:
    """``<td ...>`` with one more class."""
    if cell.startswith('<td class="'):
        return f'<td class="{name} ' + cell[len('<td class="') :]
    return f'<td class="{name}"' + cell[len("<td") :]


def _png_size(uri: str) -> tuple[int, int]:
    """Width and height of the PNG in a ``data:`` URI (from its header)."""
    head = base64.b64decode(uri.split(",", 1)[1][:44])
    return struct.unpack(">II", head[16:24])


def _gallery_html(names: Sequence[str], logo_uris: Mapping[str, str], most: int) -> str:
    shown = [n for n in names if n in logo_uris][:most]
    if not shown:
        return ""
    figures = []
    for name in shown:
        width, height = _png_size(logo_uris[name])
        w, h = round(width * OVERVIEW_LOGO_SCALE), round(height * OVERVIEW_LOGO_SCALE)
        figures.append(
            f'<figure><img src="{logo_uris[name]}" width="{w}" height="{h}" '
            f'alt="{_esc(f"Logo of {name}")}"></figure>'
        )
    first = "all" if len(shown) == len(names) else f"the first {len(shown)} of {len(names)}"
    return (
        "<section><h2>Overview</h2>"
        f'<p class="note">Logos of {first} filters, in the order of the table below.</p>'
        f'<div class="gallery">{"".join(figures)}</div></section>'
    )


def _logo_cell(name: Any, logo_uris: Mapping[str, str]) -> str:
    uri = None if name is None else logo_uris.get(str(name))
    if uri is None:
        return '<td class="logo"></td>'
    label = _esc(f"Logo of {name}")
    return (
        f'<td class="logo"><button type="button" class="thumb" title="Enlarge">'
        f'<img src="{uri}" alt="{label}"></button></td>'
    )


def _is_significant(q_value: Any) -> bool:
    q_value = _plain(q_value)
    try:
        return q_value is not None and float(q_value) < SIGNIFICANCE
    except (TypeError, ValueError):
        return False


def _attributions_html(attributions: Sequence[tuple[str, Image]]) -> str:
    figures = []
    for i, (caption, image) in enumerate(attributions):
        uri = _data_uri(image, f"attribution map {i + 1} ({caption})")
        figures.append(
            f'<figure class="attribution"><img src="{uri}" alt="{_esc(caption)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    return "<section><h2>Attribution maps</h2>" + "".join(figures) + "</section>"


# column -> (header, tooltip, kind) of the discovered-motif table.
_PATTERN_COLUMNS: dict[str, tuple[str, str, str]] = {
    "pattern": ("Pattern", "TF-MoDISco pattern (negative_: bases that lower the output)", "name"),
    "output": ("Output", "The output whose attributions the pattern was found in", "text"),
    "n_seqlets": ("Seqlets", "Sequence windows clustered into the pattern", "int"),
    "consensus": ("Consensus", "Consensus of the pattern's core", "sequence"),
    "information": ("IC (bits)", "Information content of the core's base frequencies", "bits"),
    "contribution": ("Contribution", "Sum of the core's contribution weight matrix", "number"),
    "best_match_id": ("Match", "Best JASPAR match of the core (Tomtom)", "text"),
    "best_match_name": ("TF", "Name of the best match", "text"),
    "q_value": ("q\u2011value", "Benjamini-Hochberg q-value of the best match", "pvalue"),
    "matches": ("All matches", "Every match kept (q below the threshold)", "text"),
}


def discovery_section(
    patterns: pd.DataFrame, logos: Mapping[str, Image], notes: Sequence[str] = ()
) -> str:
    """The "Discovered motifs" section: notes, a table of patterns, their figures.

    Parameters
    ----------
    patterns
        One row per pattern, with any of the columns of :data:`_PATTERN_COLUMNS` (as
        :func:`seqcnn.motifs.pattern_table` gives them); rows with a significant best
        match are highlighted.
    logos
        Pattern name -> its figure (PNG file or bytes), shown below the table.
    notes
        Lines shown above the table (what was explained, convergence, settings, time).
    """
    columns = [c for c in _PATTERN_COLUMNS if c in patterns.columns]
    head = "".join(
        f'<th scope="col" title="{_esc(tip)}">{_esc(header)}</th>'
        for header, tip, _ in (_PATTERN_COLUMNS[c] for c in columns)
    )
    rows = []
    for record in patterns.to_dict("records"):
        cells = "".join(_cell(record[c], _PATTERN_COLUMNS[c][2]) for c in columns)
        css = ' class="significant"' if _is_significant(record.get("q_value")) else ""
        rows.append(f"<tr{css}>{cells}</tr>")
    text = "".join(f'<p class="note">{_esc(line)}</p>' for line in notes)
    if not rows:
        return f"<section><h2>Discovered motifs</h2>{text}<p>No patterns found.</p></section>"
    figures = []
    for name, image in logos.items():
        uri = _data_uri(image, f"figure of {name}")
        figures.append(
            f'<figure class="attribution"><img src="{uri}" alt="{_esc(name)}">'
            f"<figcaption>{_esc(name)}</figcaption></figure>"
        )
    return (
        f"<section><h2>Discovered motifs</h2>{text}"
        '<div class="table-wrap"><table class="filters">'
        f"<thead><tr>{head}</tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></div>"
        + "".join(figures)
        + "</section>"
    )


# ----------------------------------------------------------------------------- page

_HOW_TO_READ = f"""<section class="how-to"><h2>How to read this</h2>
<p>Each first-layer convolution filter is turned into a position weight matrix (PWM) by
<em>activation alignment</em>: the input windows that make the filter fire strongly are
stacked and their bases counted (<b>Sites</b> is how many windows; <b>IC</b> is the total
information content of the PWM in bits; a filter with too few sites is not exported).
The PWMs are compared with the JASPAR database by Tomtom (memelite); the best match is
shown with its p-value and q-value, and rows with q&nbsp;&lt;&nbsp;{SIGNIFICANCE:g} are
<span class="sig-key">highlighted</span>. <b>Influence</b> is the change of the mean
prediction when the filter is nullified, i.e. its activation is replaced by its mean
activation: a negative influence means the filter pushes that output up, a positive one
that it pushes it down. A filter is a piece of a motif the network uses, not a proof of
binding: look for several filters that agree, and for matches with high information.</p>
</section>"""

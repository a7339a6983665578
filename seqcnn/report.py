"""A single self-contained ``report.html`` for what ``seqcnn interpret`` found.

The report is one file that opens in any browser without a network: images are inlined
as base64 ``data:`` URIs, and the style sheet and the small script that sorts the filter
table are inlined too.  Nothing is fetched from anywhere (no CDN, no web fonts).

The page holds, in order: the title, a summary table (model, task, data, database, ...),
a short "how to read this" paragraph, an optional overview figure, the filter table (one
row per first-layer filter, with its logo as a thumbnail; click a header to sort, click
a logo to enlarge it) and optional attribution-map logos.

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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqcnn._io import atomic_path
from seqcnn._version import __version__
from seqcnn.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["write_report", "SIGNIFICANCE"]

#: A PNG image: a file holding one, or its bytes.
Image = str | os.PathLike | bytes

#: Rows whose ``q_value`` is below this are highlighted as significant matches.
SIGNIFICANCE = 0.05

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
}
# Columns whose first click sorts from the largest value down.
_LARGEST_FIRST = {"int", "bits", "bool", "influence", "number"}


def write_report(
    path: str | os.PathLike,
    *,
    title: str,
    summary: Mapping[str, Any],
    filters: pd.DataFrame,
    logos: Mapping[str, Image] | None = None,
    overview: Image | None = None,
    attributions: Sequence[tuple[str, Image]] | None = None,
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
    attributions
        ``(caption, PNG)`` pairs, e.g. attribution-map logos of example sequences,
        shown below the table.

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
    sections.append(_filters_html(filters, logo_uris))
    if attributions:
        sections.append(_attributions_html(attributions))
    page = _PAGE.format(
        title=_esc(title),
        style=_STYLE,
        script=_SCRIPT,
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
    per_target = [c for c in columns if c.startswith("influence_")]
    if "influence" in known:
        at = known.index("influence") + 1
        known[at:at] = per_target
    else:
        known += per_target
    return known + [c for c in columns if c not in known]


def _column_info(column: str) -> tuple[str, str, str]:
    if column in _COLUMNS:
        return _COLUMNS[column]
    if column.startswith("influence_"):
        target = column[len("influence_") :]
        header, tooltip, kind = _COLUMNS["influence"]
        return f"{header} ({target})", f"{tooltip} for output {target}", kind
    return column.replace("_", " "), column, "auto"


def _cell(value: Any, kind: str) -> str:
    """One ``<td>``: the shown text and, for numbers, the raw value to sort by."""
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
        text = f"{number:+.3g}".replace("-", "\u2212")
    elif isinstance(number, int):
        text = str(number)
    else:
        text = f"{number:.3g}"
    return f'<td class="num" data-value="{number!r}">{_esc(text)}</td>'


def _filters_html(filters: pd.DataFrame, logo_uris: Mapping[str, str]) -> str:
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
    head = []
    for column in columns:
        header, tooltip, _ = _column_info(column)
        kind = kinds[column]
        sort = "number" if kind not in ("name", "sequence", "text") else "text"
        first = "descending" if kind in _LARGEST_FIRST else "ascending"
        css = ' class="num"' if sort == "number" and kind != "bool" else ""
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
            cells.append(_cell(record[column], kinds[column]))
            if column == "filter" and has_logos:
                cells.append(_logo_cell(_plain(record[column]), logo_uris))
        classes = []
        if _is_significant(record.get("q_value")):
            classes.append("significant")
        if "exported" in record and _plain(record["exported"]) is False:
            classes.append("not-exported")
        css = f' class="{" ".join(classes)}"' if classes else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")

    return (
        f'<section><h2>Filters</h2><p class="note">{intro}</p>'
        '<div class="table-wrap"><table id="filters" class="filters sortable">'
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table></div></section>"
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

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="seqcnn {version}">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
{body}
</main>
<footer>Written by seqcnn {version}. This page is self-contained: it needs no network.</footer>
<dialog id="zoom"></dialog>
<script>{script}</script>
</body>
</html>
"""

_STYLE = """
:root { --fg: #1d2430; --muted: #5d6778; --line: #d9dee6; --head: #f2f4f7;
  --sig: #e6f4ea; --sig-edge: #2e8b57; --accent: #2456a6; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1600px; margin: 0 auto; padding: 1.5rem 2rem 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 .6rem; border-bottom: 1px solid var(--line);
  padding-bottom: .25rem; }
table.summary { border-collapse: collapse; }
table.summary th { text-align: left; font-weight: 600; color: var(--muted);
  padding: .15rem 1.5rem .15rem 0; vertical-align: top; white-space: nowrap; }
table.summary td { padding: .15rem 0; word-break: break-all; }
.how-to p { max-width: 60rem; color: #333c4a; }
.note { color: var(--muted); }
.sig-key { background: var(--sig); border-left: 3px solid var(--sig-edge);
  padding: 0 .3rem; }
.table-wrap { overflow-x: auto; }
table.filters { border-collapse: collapse; width: 100%; }
table.filters th, table.filters td { border-bottom: 1px solid var(--line);
  padding: .3rem .5rem; text-align: left; vertical-align: middle; white-space: nowrap; }
table.filters th { white-space: normal; }
table.filters th.num { text-align: right; }
table.filters thead th { position: sticky; top: 0; background: var(--head); z-index: 1;
  border-bottom: 2px solid #c3cad5; }
table.filters th button { all: unset; cursor: pointer; font-weight: 600; }
table.filters th button:focus-visible { outline: 2px solid var(--accent); }
table.filters th button::after { content: "\\2195"; color: #b0b8c4; margin-left: .3em; }
table.filters th[aria-sort="ascending"] button::after { content: "\\25B2"; color: var(--accent); }
table.filters th[aria-sort="descending"] button::after { content: "\\25BC"; color: var(--accent); }
table.filters td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.filters td.seq { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas,
  "Liberation Mono", monospace; letter-spacing: .05em; }
table.filters td.missing { color: #a3abb8; text-align: center; }
table.filters tbody tr:hover { background: #f6f8fb; }
table.filters tr.significant { background: var(--sig); }
table.filters tr.significant:hover { background: #d8eedf; }
table.filters tr.significant td:first-child { box-shadow: inset 3px 0 0 var(--sig-edge); }
table.filters tr.not-exported { color: #8a93a2; }
td.logo { padding: .15rem .4rem; }
button.thumb { all: unset; cursor: zoom-in; display: block; }
button.thumb img { height: 40px; width: auto; display: block; }
button.thumb:focus-visible { outline: 2px solid var(--accent); }
figure { margin: 0 0 1rem; }
figure img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .9rem; }
dialog { border: none; border-radius: 6px; padding: 1rem; max-width: 95vw;
  box-shadow: 0 8px 30px rgba(0, 0, 0, .3); cursor: zoom-out; }
dialog::backdrop { background: rgba(20, 25, 35, .55); }
dialog img { display: block; max-width: 90vw; max-height: 80vh; min-width: min(600px, 90vw); }
dialog .caption { margin: .5rem 0 0; color: var(--muted); text-align: center; }
footer { max-width: 1600px; margin: 0 auto; padding: 1rem 2rem 2rem; color: var(--muted);
  font-size: .85rem; }
@media print { table.filters thead th { position: static; } button.thumb img { height: 32px; } }
"""

# Sorting: numbers by their data-value, text with a natural order (filter_2 before
# filter_10); empty cells always last; ties keep the original order.
_SCRIPT = """
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function key(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (raw === "") { return null; }
    if (!numeric) { return raw; }
    var x = parseFloat(raw);
    return isNaN(x) ? null : x;
  }
  function sortTable(table, th, descending) {
    var index = th.cellIndex;
    var numeric = th.getAttribute("data-sort") === "number";
    var body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (row, i) {
      return {key: key(row, index, numeric), i: i, row: row};
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.i - b.i; }
        return a.key === null ? 1 : -1;
      }
      var c = numeric ? a.key - b.key : collator.compare(a.key, b.key);
      if (descending) { c = -c; }
      return c || a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
      if (other.hasAttribute("aria-sort")) { other.setAttribute("aria-sort", "none"); }
    });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (!th.hasAttribute("data-sort")) { return; }
      th.querySelector("button").addEventListener("click", function () {
        var state = th.getAttribute("aria-sort");
        var descending = state === "none" ? th.getAttribute("data-first") === "descending"
                                          : state === "ascending";
        sortTable(table, th, descending);
      });
    });
  });
  var zoom = document.getElementById("zoom");
  if (zoom && typeof zoom.showModal === "function") {
    zoom.appendChild(document.createElement("img"));
    zoom.appendChild(document.createElement("p")).className = "caption";
    document.addEventListener("click", function (event) {
      var thumb = event.target.closest ? event.target.closest("button.thumb") : null;
      if (!thumb) { return; }
      var img = thumb.querySelector("img");
      zoom.querySelector("img").src = img.src;
      zoom.querySelector("img").alt = img.alt;
      zoom.querySelector(".caption").textContent = img.alt;
      zoom.showModal();
    });
    zoom.addEventListener("click", function () { zoom.close(); });
  }
})();
"""

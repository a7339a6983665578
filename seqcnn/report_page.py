"""The fixed parts of ``report.html``: the page template, its style sheet and its script.

Kept apart from :mod:`seqcnn.report`, which fills them in.  Everything is inlined in the
page: no network, no external file.  The table's "Show all columns" switch is a checkbox
and plain CSS, so it works without the script.
"""

__all__ = ["PAGE", "STYLE", "SCRIPT"]

PAGE = """<!DOCTYPE html>
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

STYLE = """
:root { --fg: #1d2430; --muted: #5d6778; --line: #d9dee6; --head: #f2f4f7;
  --sig: #e6f4ea; --sig-edge: #2e8b57; --accent: #2456a6; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1600px; margin: 0 auto; padding: 1.5rem 1.5rem 1rem; }
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
input.all-columns { margin: 0 .35rem .6rem 0; vertical-align: middle; }
label.all-columns { color: var(--muted); cursor: pointer; }
table.filters .extra { display: none; }
input.all-columns:checked ~ .table-wrap table.filters .extra { display: table-cell; }
table.filters .target { color: var(--muted); display: inline-block; max-width: 7rem;
  overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; }
.gallery { display: flex; flex-wrap: wrap; gap: .6rem 1.2rem; align-items: flex-end; }
.gallery figure { margin: 0; max-width: 100%; }
.gallery img { display: block; max-width: 100%; height: auto; }
table.filters { border-collapse: collapse; width: 100%; }
table.filters th, table.filters td { border-bottom: 1px solid var(--line);
  padding: .3rem .4rem; text-align: left; vertical-align: middle; white-space: nowrap; }
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
footer { max-width: 1600px; margin: 0 auto; padding: 1rem 1.5rem 2rem; color: var(--muted);
  font-size: .85rem; }
@media print { table.filters thead th { position: static; } button.thumb img { height: 32px; } }
"""

# Sorting: numbers by their data-value, text with a natural order (filter_2 before
# filter_10); empty cells always last; ties keep the original order.
SCRIPT = """
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

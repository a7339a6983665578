"""report.html: one self-contained page, escaped text, inlined images, a sortable table."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqcnn.errors import DataError
from seqcnn.report import SIGNIFICANCE, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert('x')</script>"
# Headless, offline and without a profile left behind: nothing in a test reaches the network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def tiny_png(color: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2, 0.4), dpi=50)
    ax.bar([0, 1, 2], [1, 2, 1], color=color)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pngs() -> tuple[bytes, bytes]:
    return tiny_png("tab:blue"), tiny_png("tab:red")


def filter_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "filter": ["filter_0", "filter_1", "filter_2", "filter_10"],
            "consensus": ["TGACGTCA", "GATAAG", "NNNNNN", "CCGCGG"],
            "n_sites": [412, 1500, 3, 97],
            "information": [10.123, 7.5, 0.25, 4.0],
            "exported": [True, True, False, True],
            "best_match_id": ["MA0018.4", "MA0035.5", None, "MA9999.1"],
            "best_match_name": ["CREB1", "GATA1", None, EVIL],
            "p_value": [1.234e-7, 0.2, np.nan, 3.0e-4],
            "q_value": [2.5e-5, 0.5, np.nan, 0.01],
            "strand": ["+", "-", None, "+"],
            "influence": [-0.0321, 0.004, 0.0, 0.12],
            "influence_up": [-0.05, 0.01, 0.0, 0.2],
            "influence_down": [0.01, -0.002, 0.0, -0.03],
        }
    )


class Page(HTMLParser):
    """The bits of a report the tests look at."""

    def __init__(self, text: str):
        super().__init__()
        self.srcs: list[str] = []
        self.headers: list[tuple[dict, str]] = []
        self.rows: list[tuple[dict, list[tuple[dict, str]]]] = []
        self.scripts: list[dict] = []
        self.links: list[dict] = []
        self._in_filters = False
        self._cell: tuple[dict, list[str]] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
            if self._cell is not None:
                self._cell[1].append("[img]")
        elif tag == "script":
            self.scripts.append(attrs)
        elif tag == "link":
            self.links.append(attrs)
        elif tag == "table" and attrs.get("id") == "filters":
            self._in_filters = True
        elif self._in_filters and tag == "tr":
            self.rows.append((attrs, []))
        elif self._in_filters and tag in ("th", "td"):
            self._cell = (attrs, [])

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_filters = False
        elif self._cell is not None and tag in ("th", "td"):
            attrs, parts = self._cell
            cell = (attrs, "".join(parts).strip())
            (self.headers if tag == "th" else self.rows[-1][1]).append(cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1].append(data)

    def body_rows(self) -> list[tuple[dict, list[tuple[dict, str]]]]:
        return [row for row in self.rows if row[1]]

    def column(self, header: str) -> int:
        return [text for _, text in self.headers].index(header)


@pytest.fixture
def report(tmp_path, pngs) -> tuple[Path, str, Page]:
    logo_file = tmp_path / "filter_0.png"
    logo_file.write_bytes(pngs[0])
    path = write_report(
        tmp_path / "report.html",
        title="Model <b>&</b> filters",
        summary={"model": "runs/m.seqcnn", "task": "binary", "sequences": 1000, "note": EVIL},
        filters=filter_table(),
        logos={"filter_0": logo_file, "filter_1": pngs[1], "unused": pngs[1]},
        overview=pngs[1],
        attributions=[("seq7 <pos>", pngs[0]), ("seq9", str(logo_file))],
    )
    text = path.read_text(encoding="utf-8")
    return path, text, Page(text)


def test_one_file_written_atomically(report, tmp_path):
    path, _, _ = report
    assert path == tmp_path / "report.html"
    assert path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["filter_0.png", "report.html"]


def test_nothing_is_fetched_from_the_network(report):
    _, text, page = report
    lowered = text.lower()
    for fragment in ("http://", "https://", 'src="//', "<script src", "<link", "url(", "@import"):
        assert fragment not in lowered, fragment
    assert page.links == []
    assert all(attrs == {} for attrs in page.scripts)  # inline scripts only
    assert page.srcs and all(src.startswith("data:image/png;base64,") for src in page.srcs)


def test_images_are_inlined_png(report, pngs):
    _, _, page = report
    decoded = [base64.b64decode(src.split(",", 1)[1], validate=True) for src in page.srcs]
    assert all(data.startswith(PNG_SIGNATURE) for data in decoded)
    # 2 logos in the table (the unused one is not shown), 1 overview, 2 attribution maps
    assert len(decoded) == 5
    assert set(decoded) == set(pngs)


def test_every_filter_and_summary_entry_is_shown(report):
    _, text, page = report
    rows = page.body_rows()
    assert [cells[0][1] for _, cells in rows] == ["filter_0", "filter_1", "filter_2", "filter_10"]
    for name in ("filter_0", "filter_1", "filter_2", "filter_10", "TGACGTCA", "CREB1"):
        assert name in text
    for label in ("model", "runs/m.seqcnn", "binary", "1000"):
        assert f">{label}<" in text
    assert "How to read this" in text
    words = " ".join(text.split())
    for phrase in ("activation alignment", "JASPAR", "Tomtom", "nullified", "mean activation"):
        assert phrase in words, phrase


def test_text_is_escaped(report):
    _, text, _ = report
    assert EVIL not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert text.count("<script") == 1  # only the page's own sorting script
    assert "<title>Model &lt;b&gt;&amp;&lt;/b&gt; filters</title>" in text
    assert "seq7 &lt;pos&gt;" in text


def test_table_is_sortable(report):
    _, text, page = report
    sortable = {text: attrs["data-sort"] for attrs, text in page.headers if "data-sort" in attrs}
    assert sortable["Filter"] == "text"
    assert sortable["Consensus"] == "text"
    for header in ("Sites", "IC (bits)", "p\u2011value", "q\u2011value", "Influence (up)"):
        assert sortable[header] == "number", header
    assert all(
        attrs.get("aria-sort") == "none" for attrs, _ in page.headers if "data-sort" in attrs
    )
    assert 'class="filters sortable"' in text
    assert 'addEventListener("click"' in text and "sortTable" in text
    # numeric cells carry the raw value to sort by
    sites = page.column("Sites")
    values = [float(cells[sites][0]["data-value"]) for _, cells in page.body_rows()]
    assert values == [412, 1500, 3, 97]


def test_columns_in_order_with_logo_after_filter(report):
    _, _, page = report
    headers = [text for _, text in page.headers]
    assert headers[:3] == ["Filter", "Logo", "Consensus"]
    influence = headers.index("Influence")
    assert headers[influence + 1 : influence + 3] == ["Influence (up)", "Influence (down)"]
    logos = [cells[1][1] for _, cells in page.body_rows()]
    assert logos == ["[img]", "[img]", "", ""]  # filter_2 and filter_10 have no logo


def test_significant_rows_are_highlighted(report):
    _, _, page = report
    q = page.column("q\u2011value")
    for attrs, cells in page.body_rows():
        value = cells[q][0].get("data-value")
        significant = bool(value) and float(value) < SIGNIFICANCE
        assert ("significant" in attrs.get("class", "").split()) == significant, cells[0]
    highlighted = [c[0][1] for a, c in page.body_rows() if "significant" in a.get("class", "")]
    assert highlighted == ["filter_0", "filter_10"]


def test_numbers_are_formatted(report):
    _, _, page = report
    rows = {cells[0][1]: cells for _, cells in page.body_rows()}
    text = {name: [t for _, t in cells] for name, cells in rows.items()}
    p, q, ic = page.column("p\u2011value"), page.column("q\u2011value"), page.column("IC (bits)")
    assert text["filter_0"][p] == "1.23e-07"
    assert text["filter_0"][q] == "2.50e-05"
    assert text["filter_0"][ic] == "10.12"
    assert text["filter_2"][ic] == "0.25"
    assert text["filter_1"][page.column("Sites")] == "1,500"
    assert text["filter_1"][page.column("Exported")] == "yes"
    assert text["filter_2"][page.column("Exported")] == "no"
    assert text["filter_0"][page.column("Influence")] == "\u22120.0321"
    assert text["filter_10"][page.column("Influence")] == "+0.12"
    # missing values: a dash, sorted last
    assert rows["filter_2"][p] == ({"class": "missing", "data-value": ""}, "\u2014")


def test_missing_optional_parts_are_tolerated(tmp_path, pngs):
    table = pd.DataFrame({"filter": ["filter_0", "filter_1"], "consensus": ["ACGT", "TTTT"]})
    path = write_report(tmp_path / "r.html", title="t", summary={}, filters=table)
    page = Page(path.read_text())
    assert [text for _, text in page.headers] == ["Filter", "Consensus"]
    assert page.srcs == []
    assert all("class" not in attrs for attrs, _ in page.body_rows())

    # no filter column: logos cannot be placed, the rest is shown; unknown columns too
    table = pd.DataFrame({"information": [3.0], "score": [0.5], "label": ["x"]})
    path = write_report(
        tmp_path / "r.html", title="t", summary={}, filters=table, logos={"filter_0": pngs[0]}
    )
    page = Page(path.read_text())
    assert [text for _, text in page.headers] == ["IC (bits)", "score", "label"]
    assert [attrs["data-sort"] for attrs, _ in page.headers] == ["number", "number", "text"]

    path = write_report(tmp_path / "r.html", title="t", summary={}, filters=pd.DataFrame())
    assert "No filters." in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_bad_images_raise_and_leave_the_old_report(tmp_path, pngs):
    path = tmp_path / "report.html"
    path.write_text("old")
    missing = tmp_path / "nope.png"
    with pytest.raises(DataError, match="nope.png"):
        write_report(path, title="t", summary={}, filters=filter_table(), logos={"a": missing})
    not_png = tmp_path / "logo.jpg"
    not_png.write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    with pytest.raises(DataError, match="not a PNG"):
        write_report(path, title="t", summary={}, filters=filter_table(), overview=not_png)
    with pytest.raises(DataError, match="not a PNG"):
        write_report(
            path, title="t", summary={}, filters=filter_table(), attributions=[("a", b"x")]
        )
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logo.jpg", "report.html"]


def test_report_is_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_report(tmp_path / "r.html", title="t", summary={}, filters=filter_table())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_import_is_light():
    heavy = "{'pandas', 'matplotlib', 'torch'}"
    code = f"import sys, seqcnn.report; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def chromium() -> str:
    """The browser ``scripts/ensure_chromium.sh`` (run by ``make test``) installs."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if not found or not shutil.which(found):
        pytest.fail(
            "chromium not found: the report's sortable table is tested in a headless browser. "
            "Run `bash scripts/ensure_chromium.sh` (`make test` does) or set CHROMIUM=/path."
        )
    return found


def run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


# Each step clicks one header; the page records the clicked header's aria-sort and the
# filter names top to bottom.  Numbers sort by data-value, text with numeric collation
# (filter_2 before filter_10), empty cells always last.
SORT_STEPS = [
    ("Sites", "descending", ["filter_1", "filter_0", "filter_10", "filter_2"]),
    ("Sites", "ascending", ["filter_2", "filter_10", "filter_0", "filter_1"]),
    ("q\u2011value", "ascending", ["filter_0", "filter_10", "filter_1", "filter_2"]),
    ("q\u2011value", "descending", ["filter_1", "filter_10", "filter_0", "filter_2"]),
    ("Filter", "ascending", ["filter_0", "filter_1", "filter_2", "filter_10"]),
    ("Filter", "descending", ["filter_10", "filter_2", "filter_1", "filter_0"]),
    ("Consensus", "ascending", ["filter_10", "filter_1", "filter_2", "filter_0"]),
    ("Consensus", "descending", ["filter_0", "filter_2", "filter_1", "filter_10"]),
]

CLICKS = """<pre id="sort-result"></pre><script>
(function () {
  var steps = [];
  var headers = document.querySelectorAll("#filters thead th");
  %s.forEach(function (label) {
    var th = Array.prototype.find.call(headers, function (h) {
      return h.textContent === label;
    });
    th.querySelector("button").click();
    var rows = document.querySelectorAll("#filters tbody tr");
    steps.push({
      label: label,
      state: th.getAttribute("aria-sort"),
      others: Array.prototype.filter.call(headers, function (h) {
        return h !== th && h.hasAttribute("aria-sort") && h.getAttribute("aria-sort") !== "none";
      }).length,
      order: Array.prototype.map.call(rows, function (r) { return r.cells[0].textContent; })
    });
  });
  document.getElementById("sort-result").textContent = JSON.stringify(steps);
})();
</script></body>"""


def test_sorts_and_renders_in_a_browser(report, tmp_path):
    """Click headers in headless chromium; the rows must come back sorted both ways."""
    path, text, _ = report
    labels = json.dumps([label for label, _, _ in SORT_STEPS])
    clicked = tmp_path / "clicked.html"
    clicked.write_text(text.replace("</body>", CLICKS % labels), encoding="utf-8")
    result = run_chromium(tmp_path / "profile-dom", "--dump-dom", clicked.as_uri())
    match = re.search(r'<pre id="sort-result">([^<]*)</pre>', result.stdout)
    assert match and match.group(1), f"no result from chromium:\n{result.stderr[-3000:]}"
    steps = json.loads(html.unescape(match.group(1)))
    for step, (label, state, order) in zip(steps, SORT_STEPS, strict=True):
        assert (step["label"], step["state"], step["order"]) == (label, state, order)
        assert step["others"] == 0, label  # only the clicked header shows a direction

    shot = tmp_path / "shot.png"
    result = run_chromium(
        tmp_path / "profile-shot", "--window-size=1200,900", f"--screenshot={shot}", path.as_uri()
    )
    assert shot.is_file(), result.stderr[-3000:]
    assert shot.read_bytes().startswith(PNG_SIGNATURE)


# ------------------------------------------------------ readable at 1,400 pixels (issue 18)

LONG_OUTPUTS = [f"H3K27ac_liver_E{10 + j}_replicate" for j in range(10)]


def realistic_report(folder: Path, n_filters: int = 6, shown: int = 4) -> Path:
    """What interpret writes for a 10-output model: real logos (19 bp, titled with consensus,
    sites and match), the interpret table with per-output influence and match columns."""
    from seqcnn.interpret.steps import best_match_names, filter_table, overview_order
    from seqcnn.motifs.pwm import FilterMotif
    from seqcnn.plots import draw_filter_logos

    rng = np.random.default_rng(0)
    motifs = []
    for k in range(n_filters):
        pwm = rng.dirichlet(np.full(4, 0.3), size=19)
        motifs.append(FilterMotif(k, f"filter_{k}", pwm * 500, 500 + k, pwm, 3.0, True))
    influence = rng.normal(0, 0.05, size=(n_filters, len(LONG_OUTPUTS)))
    names = ["Nr2e3::Nr5a2", "ZNF354C", "Hoxd13", "CTCF"]
    rows = [(k, r) for k in range(n_filters) for r in range(3)]
    matches = pd.DataFrame(
        {
            "filter": [f"filter_{k}" for k, _ in rows],
            "rank": [r + 1 for _, r in rows],
            "match_id": [f"MA{1000 + k}.{r + 1}" for k, r in rows],
            "match_name": [names[(k + r) % 4] for k, r in rows],
            "p_value": 1e-6,
            "e_value": 1e-4,
            "q_value": 0.01,
            "offset": 2,
            "strand": "+",
            "overlap": 12,
        }
    )
    table = filter_table(motifs, matches, influence, LONG_OUTPUTS, None)
    draw_filter_logos(motifs, folder / "logos", best_match_names(table))
    order = overview_order(motifs, influence, "influence")
    return write_report(
        folder / "report.html",
        title="seqcnn interpret: a 10-output model",
        summary={"Model": "runs/model", "Task": "multilabel"},
        filters=table.iloc[order].reset_index(drop=True),
        logos={m.name: folder / "logos" / f"{m.name}.png" for m in motifs},
        overview_logos=shown,
    )


MEASURE = """<pre id="measure"></pre><script>
window.addEventListener("load", function () {
  var wrap = document.querySelector(".table-wrap");
  var table = document.getElementById("filters");
  function natural() {
    table.style.width = "max-content";
    var width = table.offsetWidth;
    table.style.width = "";
    return width;
  }
  function shown() {
    return Array.prototype.filter.call(table.tHead.rows[0].cells, function (th) {
      return th.offsetWidth > 0;
    }).map(function (th) { return th.textContent.trim(); });
  }
  var result = {
    window: window.innerWidth, page: document.documentElement.scrollWidth,
    wrap: wrap.clientWidth, wrapScroll: wrap.scrollWidth, table: natural(), shown: shown(),
    logos: Array.prototype.map.call(document.querySelectorAll(".gallery img"), function (img) {
      return [img.getBoundingClientRect().width, img.naturalWidth];
    })
  };
  document.getElementById("all-columns").click();
  result.expanded = shown();
  document.getElementById("measure").textContent = JSON.stringify(result);
});
</script></body>"""


def test_report_fits_1400_pixels_with_readable_logo_titles(tmp_path):
    """In a real browser at 1,400 x 900: no horizontal scrollbar on the page or the table,
    the overview's logo titles at 11 px or more; all columns one click away."""
    import matplotlib

    from seqcnn.plots.files import PNG_DPI

    path = realistic_report(tmp_path)
    page = path.read_text(encoding="utf-8").replace("</body>", MEASURE)
    measured = tmp_path / "measured.html"
    measured.write_text(page, encoding="utf-8")
    result = run_chromium(
        tmp_path / "profile-measure", "--window-size=1400,900", "--virtual-time-budget=5000",
        "--dump-dom", measured.as_uri(),
    )  # fmt: skip
    match = re.search(r'<pre id="measure">([^<]*)</pre>', result.stdout)
    assert match and match.group(1), f"no result from chromium:\n{result.stderr[-3000:]}"
    got = json.loads(html.unescape(match.group(1)))
    assert got["window"] == 1400
    assert got["page"] <= got["window"], got
    assert got["table"] <= got["wrap"] and got["wrapScroll"] <= got["wrap"], got
    assert "Top influence" in got["shown"] and "TF" in got["shown"]
    assert not any(h.startswith("Influence (") for h in got["shown"])
    expanded = [h for h in got["expanded"] if h.startswith("Influence (")]
    assert len(expanded) == len(LONG_OUTPUTS)
    # Logo titles are drawn at the default font size, at PNG_DPI: their size on screen.
    title_px = matplotlib.rcParams["font.size"] * PNG_DPI / 72
    assert len(got["logos"]) == 4
    for shown_width, natural_width in got["logos"]:
        assert natural_width > 0 and shown_width / natural_width * title_px >= 11, got["logos"]

    shot = tmp_path / "report-1400.png"
    result = run_chromium(
        tmp_path / "profile-shot", "--window-size=1400,2000", "--hide-scrollbars",
        f"--screenshot={shot}", path.as_uri(),
    )  # fmt: skip
    assert shot.is_file(), result.stderr[-3000:]
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1400, 2000)
        # the page is drawn (not blank): the logos' letters bring colour
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 50


def test_overview_logos_follow_the_table_order(tmp_path, pngs):
    table = filter_table().iloc[[3, 1, 0, 2]].reset_index(drop=True)
    logos = {"filter_0": pngs[0], "filter_1": pngs[1], "filter_10": pngs[1]}
    path = write_report(
        tmp_path / "r.html", title="t", summary={}, filters=table, logos=logos, overview_logos=2
    )
    text = path.read_text()
    gallery = text[text.index('<div class="gallery">') : text.index("<h2>Filters")]
    assert re.findall(r'alt="Logo of (\w+)"', gallery) == ["filter_10", "filter_1"]
    assert "the first 2 of 4 filters" in text
    width = int(re.search(r'width="(\d+)"', gallery).group(1))
    natural = int.from_bytes(pngs[1][16:20], "big")
    assert width == round(natural * 0.6)


def test_per_output_influences_sit_behind_the_switch(tmp_path):
    table = filter_table().drop(columns=["influence"])
    path = write_report(tmp_path / "r.html", title="t", summary={}, filters=table)
    page = Page(path.read_text())
    headers = {text: attrs for attrs, text in page.headers}
    assert "extra" in headers["Influence (up)"]["class"].split()
    assert "extra" not in headers.get("Top influence", {}).get("class", "")
    top = page.column("Top influence")
    cells = {cells[0][1]: cells[top] for _, cells in page.body_rows()}
    assert cells["filter_0"][1].startswith("\u22120.05") and "up" in cells["filter_0"][1]
    assert cells["filter_10"][0]["data-value"] == "0.2"  # sorted by size
    assert 'id="all-columns"' in path.read_text()

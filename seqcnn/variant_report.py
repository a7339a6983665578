"""The variants with the largest effects, explained: attribution maps and ``variants.html``.

``seqcnn variants --attribution ism|saliency`` (:func:`seqcnn.variants.score_variants_file`
with ``attribution=``) keeps, while it scores, the ``top`` variants with the largest
``|<target>_diff|`` (:class:`TopVariants`, in bounded memory), then:

* computes the attribution maps of their reference and alternative windows with
  :func:`seqcnn.attribution.attribution` (the raw output, a logit for classifiers, of the
  target; the forward strand);
* writes them with :func:`save_variant_attributions` (``.npz``, read back with
  :func:`load_variant_attributions`);
* draws each variant's two maps as paired logos around it, the changed bases marked
  (:func:`seqcnn.plots.plot_variant_logos`), into one self-contained page
  (:func:`write_variant_report`): a summary, then a sortable table of the top variants,
  each row with its paired logos (click to enlarge).
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ATTRIBUTION_METHODS",
    "DEFAULT_TOP",
    "TopVariants",
    "explain_variants",
    "report_paths",
    "variant_attributions",
    "save_variant_attributions",
    "load_variant_attributions",
    "write_variant_report",
]

#: Attribution methods ``seqcnn variants`` offers (names of :data:`seqcnn.attribution.METHODS`).
ATTRIBUTION_METHODS = ("ism", "saliency")
#: Variants explained by default.
DEFAULT_TOP = 20
#: The columns of the report's table, before the scores.
_SHOWN = ("chrom", "pos", "id", "ref", "alt", "ref_match")
#: The paired logos are shown in the table at a height where their letters read.
_STYLE = "\n#variants button.thumb img { height: 150px; }\n"


# ------------------------------------------------------------------------------ top variants


class TopVariants:
    """The ``k`` rows with the largest ``|column|`` seen so far, with their windows.

    Ties keep the input order; NaN effects come last.

    Parameters
    ----------
    k
        How many to keep.
    column
        The effect column ranked by (e.g. ``bound_diff``).

    Examples
    --------
    >>> top = TopVariants(2, "d")  # doctest: +SKIP
    >>> top.offer(frame, codes.ref, codes.alt, codes.changed)  # doctest: +SKIP
    """

    def __init__(self, k: int, column: str):
        if k < 1:
            raise UsageError(f"the number of variants to explain must be at least 1, got {k}")
        self.k, self.column = int(k), column
        self.seen = 0
        self.frame: pd.DataFrame | None = None
        self.ref = self.alt = self.changed = self.order = None

    def offer(self, frame: pd.DataFrame, ref: np.ndarray, alt: np.ndarray,
              changed: np.ndarray) -> None:  # fmt: skip
        """Consider a chunk: its rows, reference and alternative codes ``(n, L)`` and the
        bases each variant changes ``(n, 2)``."""
        import pandas as pd

        order = np.arange(self.seen, self.seen + len(frame))
        self.seen += len(frame)
        if self.frame is not None:
            frame = pd.concat([self.frame, frame], ignore_index=True)
            ref, alt = np.concatenate([self.ref, ref]), np.concatenate([self.alt, alt])
            changed = np.concatenate([self.changed, changed])
            order = np.concatenate([self.order, order])
        size = np.abs(frame[self.column].to_numpy(np.float64))
        size = np.where(np.isnan(size), -1.0, size)
        keep = np.lexsort((order, -size))[: self.k]
        self.frame = frame.iloc[keep].reset_index(drop=True)
        self.ref, self.alt, self.changed, self.order = (
            ref[keep],
            alt[keep],
            changed[keep],
            order[keep],
        )

    def __len__(self) -> int:
        return 0 if self.frame is None else len(self.frame)


def report_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """The attribution arrays and the report written beside a table: ``effects.tsv.gz``
    -> ``(effects.npz, effects.html)``.

    Examples
    --------
    >>> [p.name for p in report_paths("out/variants.tsv.gz")]
    ['variants.npz', 'variants.html']
    """
    path = Path(out)
    name = path.name
    for suffix in (".gz", ".tsv", ".csv", ".parquet"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return path.with_name(name + ".npz"), path.with_name(name + ".html")


# ------------------------------------------------------------------------------ attributions


def variant_attributions(
    model: Any,
    top: TopVariants,
    *,
    method: str = "ism",
    target: int | str = 0,
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """Attribution maps of the reference and alternative windows of the top variants.

    Parameters
    ----------
    model
        What :func:`seqcnn.bundle.as_model` accepts.
    top
        The variants (:class:`TopVariants`).
    method
        ``"ism"`` or ``"saliency"`` (:data:`ATTRIBUTION_METHODS`).
    target
        The output explained, by index or name: its raw value (a logit for classifiers).

    Returns
    -------
    dict
        ``ref_one_hot``, ``alt_one_hot``, ``ref_scores``, ``alt_scores``: float32
        ``(k, 4, L)``.
    """
    from .attribution import attribution
    from .bundle import as_model
    from .onehot import codes_to_one_hot

    if method not in ATTRIBUTION_METHODS:
        raise UsageError(
            f"unknown attribution method '{method}'; choose one of {', '.join(ATTRIBUTION_METHODS)}"
        )
    model = as_model(model)
    x = codes_to_one_hot(np.concatenate([top.ref, top.alt]), model.n_encoding)
    scores = attribution(model, x, method=method, target=target, batch_size=batch_size)
    k = len(top)
    return {"ref_one_hot": x[:k], "alt_one_hot": x[k:], "ref_scores": scores[:k],
            "alt_scores": scores[k:]}  # fmt: skip


def _labels(frame: pd.DataFrame) -> list[str]:
    """``chrom:pos:ref>alt``, with the id when there is one: a name for each variant."""
    labels = []
    for row in frame.itertuples():
        label = f"{row.chrom}:{row.pos}:{row.ref}>{row.alt}"
        labels.append(label if row.id in ("", ".") else f"{label} ({row.id})")
    return labels


def save_variant_attributions(
    path: str | os.PathLike,
    top: TopVariants,
    maps: Mapping[str, np.ndarray],
    *,
    method: str,
    target: str,
    overwrite: bool = True,
) -> Path:
    """Write the top variants' attribution maps as a compressed ``.npz``, atomically.

    The arrays, row ``i`` for the variant of rank ``i + 1`` (largest ``|effect|`` first):

    * ``chrom``, ``pos``, ``id``, ``ref``, ``alt`` (text, ``pos`` int64), ``variant`` (a
      label ``chrom:pos:ref>alt``), ``effect`` (the ranked column, float32);
    * ``ref_scores``, ``alt_scores``: float32 ``(k, 4, L)`` maps of the two windows;
      ``ref_one_hot``, ``alt_one_hot``: their sequences;
    * ``offset``: the index of the first changed base in both windows (``L // 2``);
      ``changed``: ``(k, 2)`` bases the variant changes in each window from there;
    * ``method``, ``target``, ``effect_column`` (text).
    """
    from ._io import atomic_path

    frame = top.frame
    k = len(top)
    length = top.ref.shape[1] if k else 0
    arrays = {
        "variant": np.asarray(_labels(frame) if k else [], dtype=str),
        **{c: np.asarray(frame[c].astype(str).tolist() if k else [], dtype=str)
           for c in ("chrom", "id", "ref", "alt")},
        "pos": frame["pos"].to_numpy(np.int64),
        "effect": frame[top.column].to_numpy(np.float32),
        **{name: np.asarray(maps[name], np.float32) for name in
           ("ref_scores", "alt_scores", "ref_one_hot", "alt_one_hot")},
        "offset": np.full(k, length // 2, np.int64),
        "changed": np.asarray(top.changed, np.int64).reshape(k, 2),
        "method": np.asarray(method),
        "target": np.asarray(str(target)),
        "effect_column": np.asarray(top.column),
    }  # fmt: skip
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return Path(path)


def load_variant_attributions(path: str | os.PathLike) -> dict[str, Any]:
    """Read a file of :func:`save_variant_attributions`: name -> array (text as ``str``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {name: data[name] for name in data.files}
    except (OSError, ValueError) as err:
        raise DataError(f"not a variant attribution file: {err}", path=str(path)) from None
    for name in ("method", "target", "effect_column"):
        if name not in out:
            raise DataError(f"not a variant attribution file: no '{name}'", path=str(path))
        out[name] = str(out[name])
    return out


# ------------------------------------------------------------------------------ the page


def _logo_pngs(top: TopVariants, maps: Mapping[str, np.ndarray], method: str,
               labels: Sequence[str]) -> list[bytes]:  # fmt: skip
    """Each variant's paired logos, as PNG bytes."""
    import tempfile

    from .plots import plot_variant_logos, render, write_png

    pngs = []
    offset = top.ref.shape[1] // 2
    with tempfile.TemporaryDirectory(prefix="seqcnn-variants.") as folder:
        for i, label in enumerate(labels):
            fig = plot_variant_logos(
                maps["ref_scores"][i], maps["alt_scores"][i], maps["ref_one_hot"][i],
                maps["alt_one_hot"][i], offset, tuple(int(n) for n in top.changed[i]),
                method=method, title=f"{i + 1}. {label}",
            )  # fmt: skip
            path = write_png(render(fig), Path(folder) / f"{i}.png")
            pngs.append(path.read_bytes())
    return pngs


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cell(value: Any) -> str:
    """One ``<td>``; numbers carry the value the table sorts by."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return f'<td class="num" data-value="{int(value)}">{int(value)}</td>'
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return '<td class="missing" data-value="">\u2014</td>'
        return f'<td class="num" data-value="{float(value)!r}">{float(value):.4g}</td>'
    return f"<td>{_esc(value)}</td>"


def _table(frame: pd.DataFrame, scores: Sequence[str], uris: Sequence[str],
           labels: Sequence[str]) -> str:  # fmt: skip
    columns = ["rank", *_SHOWN, *scores]
    head = []
    for column in columns:
        numeric = column in ("rank", "pos", *scores)
        first = "descending" if column in scores else "ascending"
        css = ' class="num"' if numeric else ""
        head.append(
            f'<th scope="col"{css} data-sort="{"number" if numeric else "text"}" '
            f'data-first="{first}" aria-sort="none"><button type="button">{_esc(column)}'
            "</button></th>"
        )
        if column == "rank":
            head.append('<th scope="col">Logos</th>')
    rows = []
    for i, record in enumerate(frame.to_dict("records")):
        cells = [_cell(i + 1)]
        cells.append(
            f'<td class="logo"><button type="button" class="thumb" title="Enlarge">'
            f'<img src="{uris[i]}" alt="{_esc(f"{i + 1}. {labels[i]}")}"></button></td>'
        )
        cells += [_cell(record[c]) for c in (*_SHOWN, *scores)]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<div class="table-wrap"><table id="variants" class="filters sortable">'
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>\n" + "\n".join(rows)
        + "\n</tbody></table></div>"
    )  # fmt: skip


def write_variant_report(
    path: str | os.PathLike,
    top: TopVariants,
    maps: Mapping[str, np.ndarray],
    *,
    method: str,
    target: str,
    summary: Mapping[str, Any],
    overwrite: bool = True,
) -> Path:
    """Write ``variants.html``: the top variants in a sortable table, each with its paired
    logos (click one to enlarge it).

    Parameters
    ----------
    path
        The page, written atomically.
    top, maps
        The variants (:class:`TopVariants`) and their maps (:func:`variant_attributions`).
    method, target
        How the maps were made, for the text.
    summary
        Label -> value shown at the top (model, variants, genome, ...).
    """
    from ._io import atomic_path
    from ._version import __version__
    from .report_page import PAGE, SCRIPT, STYLE

    frame = top.frame
    k = len(top)
    labels = _labels(frame) if k else []
    pngs = _logo_pngs(top, maps, method, labels) if k else []
    uris = [_uri(png) for png in pngs]
    prefix = top.column[: -len("diff")]
    scores = [c for c in frame.columns if c.startswith(prefix) and c != top.column]
    scores = (
        [c for c in scores if c.endswith(("_ref", "_alt"))]
        + [top.column]
        + [c for c in scores if c.endswith(("_logit_diff", "_log2fc"))]
    )
    summary_rows = "".join(
        f"<tr><th scope='row'>{_esc(label)}</th><td>{_esc(value)}</td></tr>"
        for label, value in summary.items()
    )
    what = "in-silico mutagenesis" if method == "ism" else "saliency (gradient x input)"
    note = (
        f"The {k} variants with the largest |{_esc(top.column)}| (alt &minus; ref on the "
        f"output scale). Each pair of logos is the {what} map of the reference (above) and "
        f"the alternative window (below) for the raw output {_esc(target)} (a logit for "
        "classifiers), drawn around the variant; its changed bases are marked, a line where "
        "bases are deleted or inserted."
        + (" ISM is drawn minus its mean over the four bases." if method == "ism" else "")
        + " Click a column header to sort, a logo to enlarge it."
    )
    title = "Variant effects"
    body = (
        f"<h1>{title}</h1><section><table class='summary'>{summary_rows}</table></section>"
        f"<section><h2>Top variants</h2><p class='note'>{note}</p>"
        + (_table(frame, scores, uris, labels) if k else "<p>No variants were scored.</p>")
        + "</section>"
    )
    page = PAGE.format(version=_esc(__version__), title=title, style=STYLE + _STYLE, body=body,
                       script=SCRIPT)  # fmt: skip
    with atomic_path(path, overwrite=overwrite) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    return Path(path)


def explain_variants(
    model: Any,
    top: TopVariants,
    arrays: str | os.PathLike,
    report: str | os.PathLike,
    *,
    method: str = "ism",
    target: int | str = 0,
    batch_size: int = 256,
    summary: Mapping[str, Any] | None = None,
) -> list[Path]:
    """The attribution maps of the top variants, written to ``arrays`` (``.npz``) and drawn
    into ``report`` (``.html``); both paths returned."""
    from .attribution import resolve_target
    from .bundle import as_model

    model = as_model(model)
    name = model.output_names[resolve_target(target, model.output_names)]
    maps = variant_attributions(model, top, method=method, target=name, batch_size=batch_size)
    written = [save_variant_attributions(arrays, top, maps, method=method, target=name)]
    summary = {**(summary or {}), "ranked by": f"|{top.column}|",
               "attribution": f"{method} of the raw output {name}, forward strand"}  # fmt: skip
    written.append(
        write_variant_report(report, top, maps, method=method, target=name, summary=summary)
    )
    return written

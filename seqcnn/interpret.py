"""``seqcnn interpret``: what a trained model learned, as motifs, logos and one report.

This module only orchestrates; every step is a function of another module::

    FASTA --(fasta, encode)--> one-hot --(motifs.filter_pwms)--> PWMs per first-layer filter
          --(motifs.write_meme / write_pfm_tsv)--> filters.meme, matrices/
          --(motifs.match_motifs)--> JASPAR (or --motif-db) matches
          --(motifs.filter_influence)--> influence of each filter on each output
          --(plots.plot_logo)--> logos/, overview.png
          --(attribution + plots.plot_attribution_logo)--> attribution.npz, attribution/
          --(report.write_report)--> report.html

Everything is written into a temporary folder beside ``out`` that is renamed to ``out``
once complete, so a failed run leaves nothing behind.  The layout::

    OUT/
      report.html            one self-contained page (images inlined, no network needed)
      filters.tsv            one row per filter: consensus, sites, information, best match,
                             influence
      matches.tsv            every match kept (up to ``n_matches`` per filter)
      filters.meme           the exported filters (>= min_sites sites), MEME format 4,
                             background from the input sequences
      matrices/filter_<i>.pfm, .tsv   counts (JASPAR pfm) and probabilities, exported filters
      logos/filter_<i>.png   one logo per filter (+ .svg / .pdf with ``formats``)
      overview.png           all logos in one grid, most influential (or informative) first
      attribution.npz        with ``attribution``: ids, one_hot, scores (N, 4, L)
      attribution/<id>.png   its attribution logos

Which sequences
---------------
Sequences are read like ``seqcnn encode`` reads them (same reader, letters and errors;
duplicate ids are an error), then padded with N or cropped, centred, to the model's input
length and one-hot encoded with the model's N encoding.  At most ``max_sequences`` of them
(default 10,000) are used for PWMs, the background and influence: a uniform random sample
drawn with a fixed seed (reservoir sampling while reading, kept in file order), so the
result is deterministic and does not depend on how the file is sorted; the whole file is
still read and checked.  10,000 sequences give a 64-filter model hundreds of sites per
useful filter, while influence, which runs the network once per filter, stays at seconds.
Attribution maps are drawn for the *first*
``attribution_sequences`` records of the input, whatever the sample.

Speed
-----
Drawing logos is the slow part (logomaker builds every letter as a path).  Each filter's
logo is therefore drawn exactly once, rendered once to pixels, written as a 64-colour PNG,
and the overview is a mosaic of those same pixels, not a second drawing of every filter
(half the time of drawing both; measured on 64 filters).  SVG/PDF copies (``formats``) are
saved from the same figures.

All work with the network (PWMs, influence, attribution scores) is done before motif
matching: memelite's numba kernels run on OpenMP threads, which torch shares, and torch
computes several times slower after them in the same process.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._io import atomic_directory
from .errors import DataError, ModelError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from .motifs import FilterMotif

__all__ = ["InterpretResult", "interpret", "OVERVIEW_ORDERS"]

log = logging.getLogger("seqcnn")

OVERVIEW_ORDERS = ("influence", "ic")
#: Records are read and encoded this many at a time.
_READ_BATCH = 4096
#: Seed of the sample of sequences (``max_sequences``): the same input gives the same result.
_SAMPLE_SEED = 0
#: Resolution of every PNG; the overview shows the logos at ``_OVERVIEW_SCALE`` of it.
_DPI = 150
_OVERVIEW_SCALE = 0.5
_OVERVIEW_COLUMNS = 4


@dataclass
class InterpretResult:
    """What :func:`interpret` found and where it wrote it.

    Attributes
    ----------
    motifs
        One :class:`seqcnn.motifs.FilterMotif` per first-layer filter, in filter order
        (trimmed when ``trim`` was asked for).
    table
        The contents of ``filters.tsv``: one row per filter.
    matches
        The contents of ``matches.tsv``: every match kept, best first per filter (see
        :func:`seqcnn.motifs.match_motifs`); empty without a motif database.
    influence
        ``(filters, outputs)`` change of the mean prediction (after the model's output
        transform) when each filter is nullified, or ``None`` when not computed.
    output_names
        The model outputs, the columns of ``influence``.
    background
        Base frequencies (A, C, G, T) of the sequences used.
    n_sequences, n_read
        Sequences used for the PWMs and influence, and records read.
    path
        The output folder.
    report
        ``path / "report.html"``.
    attribution
        ``path / "attribution.npz"``, or ``None``.
    timings
        Seconds spent per step (``read``, ``filters``, ``matching``, ``influence``,
        ``logos``, ``attribution``, ``report``, ``total``).
    """

    motifs: list[FilterMotif]
    table: pd.DataFrame
    matches: pd.DataFrame
    influence: np.ndarray | None
    output_names: list[str]
    background: np.ndarray
    n_sequences: int
    n_read: int
    path: Path
    report: Path
    attribution: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for people: filters exported and matched, and where the report is."""
        exported = sum(m.exported for m in self.motifs)
        matched = self.matches["filter"].nunique() if len(self.matches) else 0
        lines = [
            f"{len(self.motifs)} filters from {self.n_sequences:,} sequences: {exported} "
            f"exported as motifs, {matched} matching a known motif",
            f"wrote {self.path}",
            f"report: {self.report}",
        ]
        return "\n".join(lines)


# ------------------------------------------------------------------------------ the model


@dataclass
class _ModelInfo:
    network: Any
    input_length: int | None
    n_encoding: str
    output_names: list[str]
    transform: str
    task: str | None
    source: str


def _resolve_model(model: Any, device: str | None) -> _ModelInfo:
    """A loaded model, from a bundle path (``None``: $SEQCNN_MODEL or ./seqcnn_model), a
    :class:`seqcnn.bundle.Model`, or a bare network following the SeqCNN contract."""
    from .bundle import load_model

    if model is None or isinstance(model, (str, os.PathLike)):
        model = load_model(model, device=_torch_device(device or "cpu"))
    elif device is not None:
        getattr(model, "network", model).to(_torch_device(device))
    network = getattr(model, "network", model)
    config = getattr(model, "config", None) or getattr(network, "config", None) or {}
    if config.get("alphabet", "ACGT") != "ACGT":
        raise ModelError(f"model was trained on alphabet '{config['alphabet']}', seqcnn reads ACGT")
    length = config.get("input_length") or (config.get("model") or {}).get("input_length")
    names = config.get("output_names")
    if names is None:
        n_outputs = config.get("n_outputs") or _n_outputs(network)
        names = [f"output_{i}" for i in range(int(n_outputs))] if n_outputs else []
    path = getattr(model, "path", None)
    return _ModelInfo(
        network=network,
        input_length=int(length) if length else None,
        n_encoding=config.get("n_encoding", "zeros"),
        output_names=[str(n) for n in names],
        transform=config.get("output_transform", "identity"),
        task=config.get("task"),
        source=str(path) if path is not None else "(in memory)",
    )


def _n_outputs(network: Any) -> int | None:
    head = getattr(network, "head", None)
    return getattr(head, "out_features", None)


def _torch_device(name: str):
    from .forward import pick_device

    return pick_device(str(name))


def _resolve_target(target: int | str | None, names: list[str], attribution: str | None) -> int:
    """The output index to attribute; checked before any work is done."""
    from .attribution import _resolve_target as resolve

    if attribution is None:
        if target is not None:
            raise UsageError("a target is only used with an attribution method (--attribution)")
        return 0
    if target is None:
        if len(names) == 1:
            return 0
        raise UsageError(
            f"the model has {len(names)} outputs ({_listing(names)}); name the one to explain "
            "with --target (target=)"
        )
    if isinstance(target, str) and target not in names and re.fullmatch(r"\d+", target.strip()):
        target = int(target)
    return resolve(target, names or None)


def _listing(names: Sequence[str], most: int = 12) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")


# ------------------------------------------------------------------------------ the input


@dataclass
class _Sequences:
    x: np.ndarray  # (N, 4, L) float32: the sample used for PWMs, background, influence
    first_ids: list[str]  # the first records, for attribution maps
    first_x: np.ndarray
    n_read: int
    source: str


class _Reservoir:
    """A uniform random sample of at most ``size`` rows of a stream (Algorithm R), with a
    fixed seed; ``size=None`` keeps everything.  Rows come back in stream order."""

    def __init__(self, size: int | None, seed: int = _SAMPLE_SEED):
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.seen = 0
        self.parts: list[np.ndarray] = []  # size=None: every block as it came
        self.rows: np.ndarray | None = None
        self.index: np.ndarray | None = None

    def add(self, rows: np.ndarray) -> None:
        n, first = len(rows), self.seen
        self.seen += n
        if self.size is None:
            self.parts.append(rows)
            return
        if self.rows is None:
            self.rows = np.empty((self.size, *rows.shape[1:]), dtype=rows.dtype)
            self.index = np.empty(self.size, dtype=np.int64)
        fill = max(0, min(n, self.size - first))
        self.rows[first : first + fill] = rows[:fill]
        self.index[first : first + fill] = np.arange(first, first + fill)
        if fill == n:
            return
        # Row i of the stream replaces a random slot j <= i when j is a slot of the sample.
        positions = np.arange(first + fill, first + n)
        slots = self.rng.integers(0, positions + 1)
        chosen = np.flatnonzero(slots < self.size)
        # Of the rows of this block drawn for the same slot, the last one stays.
        _, from_end = np.unique(slots[chosen][::-1], return_index=True)
        chosen = chosen[len(chosen) - 1 - from_end]
        self.rows[slots[chosen]] = rows[fill + chosen]
        self.index[slots[chosen]] = positions[chosen]

    def result(self) -> np.ndarray:
        if self.size is None:
            return np.concatenate(self.parts) if self.parts else np.zeros((0,))
        count = min(self.seen, self.size)
        order = np.argsort(self.index[:count], kind="stable")
        return self.rows[:count][order]


def _read_sequences(
    sequences: Any,
    length: int | None,
    n_encoding: str,
    max_sequences: int | None,
    n_first: int,
) -> _Sequences:
    """Read, check, pad/crop and one-hot encode the input; keep a sample and the first few."""
    from .fasta import display_name
    from .onehot import codes_to_one_hot

    if hasattr(sequences, "shape") and hasattr(sequences, "ndim"):
        return _array_sequences(sequences, length, n_encoding, max_sequences, n_first)
    if isinstance(sequences, (str, os.PathLike)):
        from .fasta import read_fasta_records

        source = display_name(sequences)
        records = read_fasta_records(sequences)
    elif isinstance(sequences, Mapping) or hasattr(sequences, "items"):
        source, records = "sequences given", ((str(k), v) for k, v in sequences.items())
    elif isinstance(sequences, Iterable):
        source, records = "sequences given", ((str(i), s) for i, s in enumerate(sequences))
    else:
        raise UsageError(
            f"cannot read sequences from {type(sequences).__name__}: give a FASTA path, a "
            "list of DNA strings or a one-hot array (N, 4, L)"
        )
    sample = _Reservoir(max_sequences)
    first_ids: list[str] = []
    first_codes: list[np.ndarray] = []
    n_read = 0
    for ids, codes in _code_batches(records, length, source):
        n_read += len(ids)
        if len(first_ids) < n_first:
            take = n_first - len(first_ids)
            first_ids += ids[:take]
            first_codes.append(codes[:take])
        sample.add(codes)
    if n_read == 0:
        raise DataError("no sequences given", path=source if source != "sequences given" else None)
    x = codes_to_one_hot(sample.result(), n_encoding)
    first_x = codes_to_one_hot(np.concatenate(first_codes), n_encoding) if first_codes else x[:0]
    return _Sequences(x, first_ids, first_x, n_read, source)


def _code_batches(
    records: Iterable[tuple[str, str]], length: int | None, source: str
) -> Iterator[tuple[list[str], np.ndarray]]:
    """``(ids, codes (n, L))`` per batch of records, letters checked as ``encode`` does."""
    from .onehot import encode_sequences

    path = None if source == "sequences given" else source
    ids: list[str] = []
    seqs: list[str] = []
    for record_id, sequence in records:
        if not isinstance(sequence, str):
            raise UsageError(f"expected DNA sequences as strings, got {type(sequence).__name__}")
        if not sequence:
            raise DataError("empty sequence", path=path, record=record_id)
        ids.append(record_id)
        seqs.append(sequence)
        if len(ids) == _READ_BATCH:
            codes = encode_sequences(seqs, length, "center", ids=ids, path=path)
            length = codes.shape[1]  # a network without a known input length: the first
            yield ids, codes
            ids, seqs = [], []
    if ids:
        yield ids, encode_sequences(seqs, length, "center", ids=ids, path=path)


def _array_sequences(
    x: Any, length: int | None, n_encoding: str, max_sequences: int | None, n_first: int
) -> _Sequences:
    from .alphabet import N_CODE, ONE_HOT_TABLES

    x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    x = x[None] if x.ndim == 2 else x
    if x.ndim != 3 or x.shape[1] != 4:
        raise DataError(f"expected one-hot sequences of shape (N, 4, L), got {tuple(x.shape)}")
    if len(x) == 0:
        raise DataError("no sequences given")
    n, width = len(x), x.shape[2]
    length = length or width

    def fit(part: np.ndarray) -> np.ndarray:
        part = np.asarray(part, dtype=np.float32)
        if width > length:
            start = (width - length) // 2
            return np.ascontiguousarray(part[:, :, start : start + length])
        if width < length:
            padded = np.empty((len(part), 4, length), dtype=np.float32)
            padded[:] = ONE_HOT_TABLES[n_encoding][N_CODE][:, None]
            left = (length - width) // 2
            padded[:, :, left : left + width] = part
            return padded
        return part

    rows = np.arange(n)
    if max_sequences is not None and n > max_sequences:
        rng = np.random.default_rng(_SAMPLE_SEED)
        rows = np.sort(rng.choice(n, size=max_sequences, replace=False))
    first = min(n_first, n)
    return _Sequences(fit(x[rows]), [str(i) for i in range(first)], fit(x[:first]), n, "array")


# ------------------------------------------------------------------------------ options


def _check_options(
    *,
    formats: Sequence[str],
    attribution: str | None,
    attribution_sequences: int,
    max_sequences: int | None,
    min_sites: int,
    n_matches: int,
    order: str,
    batch_size: int,
    trim_ic: float,
) -> tuple[list[str], int | None]:
    from .attribution import METHODS
    from .plots import FIGURE_FORMATS

    if isinstance(formats, str):
        formats = [formats]
    extra = [str(f).lower().lstrip(".") for f in formats]
    unknown = [f for f in extra if f not in FIGURE_FORMATS]
    if unknown:
        raise UsageError(
            f"unsupported figure format {', '.join(unknown)}; choose from "
            f"{', '.join(FIGURE_FORMATS)}"
        )
    if attribution is not None and attribution not in METHODS:
        raise UsageError(
            f"unknown attribution method {attribution!r}; choose one of {', '.join(METHODS)}"
        )
    if attribution_sequences < 1:
        raise UsageError(f"attribution_sequences must be at least 1, got {attribution_sequences}")
    if max_sequences is not None and max_sequences < 0:
        raise UsageError(f"max_sequences must not be negative, got {max_sequences}")
    if min_sites < 0:
        raise UsageError(f"min_sites must not be negative, got {min_sites}")
    if n_matches < 1:
        raise UsageError(f"n_matches must be at least 1, got {n_matches}")
    if order not in OVERVIEW_ORDERS:
        raise UsageError(f"unknown order {order!r}; choose one of {', '.join(OVERVIEW_ORDERS)}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    if trim_ic < 0:
        raise UsageError(f"trim_ic must not be negative, got {trim_ic}")
    # PNG is always written: the report inlines it.
    formats = ["png"] + [f for f in dict.fromkeys(extra) if f != "png"]
    return formats, (max_sequences or None)


def _motif_database(motif_db: Any) -> tuple[Any, str]:
    """``(database for match_motifs or None, description)``; a file is read (and checked)
    before any work is done."""
    from .motifs import read_meme

    if motif_db is None or (isinstance(motif_db, str) and motif_db.lower() == "none"):
        return None, "none"
    if isinstance(motif_db, str) and motif_db.lower() == "jaspar":
        import pyjaspar

        return "jaspar", f"JASPAR CORE vertebrates ({pyjaspar.JASPAR_LATEST_RELEASE}, pyjaspar)"
    if isinstance(motif_db, Mapping):
        return dict(motif_db), f"{len(motif_db)} motifs given"
    if isinstance(motif_db, (str, os.PathLike)):
        motifs = read_meme(motif_db)
        return motifs, f"{motif_db} ({len(motifs)} motifs)"
    raise UsageError("motif_db must be 'jaspar', 'none', a MEME file or a dict of PWMs")


# ------------------------------------------------------------------------------ the steps


def _trimmed(motifs: list[FilterMotif], min_ic: float) -> tuple[list[FilterMotif], list[int]]:
    """Motifs cut to their informative core, and where each core starts in its filter.

    A motif with no position of ``min_ic`` bits is kept whole: there is no core to keep.
    """
    from .motifs import trim_pwm

    out, starts = [], []
    for motif in motifs:
        core, start = trim_pwm(motif.pwm, min_ic=min_ic)
        if len(core) == 0:
            out.append(motif)
            starts.append(0)
            continue
        stop = start + len(core)
        out.append(
            dataclasses.replace(motif, counts=motif.counts[start:stop], pwm=motif.pwm[start:stop])
        )
        starts.append(start)
    return out, starts


def _match(motifs: list[FilterMotif], database: Any, n_matches: int, q_threshold: float | None):
    from .motifs import match_motifs

    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            matches = match_motifs(motifs, database, n_matches=n_matches, q_threshold=q_threshold)
    finally:
        # numba's OpenMP threading layer resets the process-wide OpenMP thread count, which
        # torch shares: later torch work in this process would run with numba's count.
        if threads is not None:
            torch.set_num_threads(threads)
    for warning in caught:  # memelite warns about small databases: one log line, not a trace
        log.warning("motif matching: %s", " ".join(str(warning.message).split()))
    return matches


def _influence(info: _ModelInfo, x: np.ndarray, batch_size: int) -> np.ndarray:
    from .forward import apply_transform
    from .motifs import filter_influence

    def transform(logits):
        return apply_transform(logits, info.transform)

    return filter_influence(info.network, x, transform=transform, batch_size=batch_size)


def _filter_table(
    motifs: list[FilterMotif],
    matches: pd.DataFrame,
    influence: np.ndarray | None,
    output_names: list[str],
    trim_starts: list[int] | None,
) -> pd.DataFrame:
    """One row per filter: the contents of ``filters.tsv`` and of the report's table."""
    import pandas as pd

    best: dict[str, dict] = {}
    listed: dict[str, list[str]] = {}
    for row in matches.sort_values(["filter", "rank"]).itertuples():
        best.setdefault(row.filter, row._asdict())
        listed.setdefault(row.filter, []).append(
            f"{row.match_name or row.match_id} ({row.match_id}, q={row.q_value:.2g})"
        )
    if influence is not None and len(output_names) != influence.shape[1]:
        names = [f"output_{j}" for j in range(influence.shape[1])]
    else:
        names = output_names
    rows = []
    for k, motif in enumerate(motifs):
        match = best.get(motif.name, {})
        row = {
            "filter": motif.name,
            "consensus": motif.consensus,
            "n_sites": motif.n_sites,
            "information": round(motif.total_ic, 4),
            "exported": motif.exported,
            "best_match_id": match.get("match_id"),
            "best_match_name": match.get("match_name"),
            "p_value": match.get("p_value"),
            "q_value": match.get("q_value"),
            "offset": match.get("offset"),
            "strand": match.get("strand"),
            "matches": "; ".join(listed.get(motif.name, [])) or None,
        }
        if influence is not None:
            if influence.shape[1] == 1:
                row["influence"] = float(influence[k, 0])
            else:
                for j, name in enumerate(names):
                    row[f"influence_{name}"] = float(influence[k, j])
                row["mean_abs_influence"] = float(np.abs(influence[k]).mean())
        row["width"] = motif.width
        if trim_starts is not None:
            row["trim_start"] = trim_starts[k]
        row["max_activation"] = motif.max_activation
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.astype({"offset": "Int64"}) if "offset" in table else table


def _overview_order(
    motifs: list[FilterMotif], influence: np.ndarray | None, order: str
) -> list[int]:
    """Positions in ``motifs``: most influential (largest |influence| over outputs) or most
    informative first; ties by filter index."""
    if order == "influence" and influence is not None:
        key = np.abs(influence).max(axis=1)
        return sorted(range(len(motifs)), key=lambda k: (-key[k], motifs[k].index))
    return sorted(range(len(motifs)), key=lambda k: (-motifs[k].total_ic, motifs[k].index))


def _render(fig: Any, dpi: int = _DPI) -> np.ndarray:
    """Draw a figure once and return its pixels, ``(h, w, 3)`` uint8."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _write_png(pixels: np.ndarray, path: Path, dpi: int = _DPI) -> Path:
    """Write pixels as a 64-colour PNG: logos hold a few colours and their anti-aliasing,
    so it looks the same and is 2-4 times smaller (the report inlines every image)."""
    from PIL import Image

    image = Image.fromarray(pixels).quantize(
        colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    image.save(path, format="PNG", dpi=(dpi, dpi))
    return path


def _save(fig: Any, pixels: np.ndarray, stem: Path, formats: list[str]) -> None:
    """The PNG from the pixels already drawn; other formats from the figure."""
    from .plots import save_figure

    _write_png(pixels, stem.with_name(stem.name + ".png"))
    vector = [f for f in formats if f != "png"]
    if vector:
        save_figure(fig, stem, formats=vector, dpi=_DPI)


def _logo_title(motif: FilterMotif, table_row: Mapping[str, Any]) -> str:
    title = f"{motif.name}  {motif.consensus}  n={motif.n_sites:,}"
    name = table_row.get("best_match_name") or table_row.get("best_match_id")
    if isinstance(name, str) and name:
        title += f"  {name}"
    return title


def _draw_logos(
    motifs: list[FilterMotif],
    table: pd.DataFrame,
    folder: Path,
    formats: list[str],
    progress: bool | None,
) -> dict[str, np.ndarray]:
    """Draw each filter's logo once and write it; return it shrunk for the overview."""
    from ._progress import progress_bar
    from .plots import plot_logo

    folder.mkdir()
    rows = table.to_dict("records")
    tiles = {}
    for motif, row in progress_bar(progress, list(zip(motifs, rows, strict=True)), desc="logos"):
        fig, _ = plot_logo(motif.pwm, title=_logo_title(motif, row))
        pixels = _render(fig)
        _save(fig, pixels, folder / motif.name, formats)
        tiles[motif.name] = _shrink(pixels, _OVERVIEW_SCALE)
    return tiles


def _shrink(pixels: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(pixels)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS))


def _mosaic(small: list[np.ndarray], ncols: int = _OVERVIEW_COLUMNS) -> np.ndarray:
    """Tiles (``(h, w, 3)`` pixels) in a grid, row by row, on white."""
    ncols = max(1, min(ncols, len(small)))
    nrows = -(-len(small) // ncols)
    gap = 6
    cell_h = max(t.shape[0] for t in small) + gap
    cell_w = max(t.shape[1] for t in small) + gap
    canvas = np.full((nrows * cell_h + gap, ncols * cell_w + gap, 3), 255, dtype=np.uint8)
    for k, tile in enumerate(small):
        r, c = divmod(k, ncols)
        top, left = gap + r * cell_h, gap + c * cell_w
        canvas[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    return canvas


def _safe_names(ids: Sequence[str]) -> list[str]:
    """File names for record ids: unsafe characters become '_', repeats get a suffix."""
    names, seen = [], set()
    for record_id in ids:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(record_id)).lstrip(".") or "sequence"
        base, k = name, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        names.append(name)
    return names


def _attribution_scores(
    info: _ModelInfo, data: _Sequences, method: str, target: int, folder: Path, batch_size: int
) -> tuple[np.ndarray, Path]:
    """Scores of the first records for one output (of the raw logit), saved as npz."""
    from .attribution import attribution, save_attributions

    scores = attribution(
        info.network, data.first_x, method=method, target=target, batch_size=batch_size
    )
    npz = save_attributions(
        folder / "attribution.npz",
        data.first_ids,
        data.first_x,
        scores,
        method,
        _target_name(info, target),
    )
    return scores, npz


def _target_name(info: _ModelInfo, target: int) -> str:
    return info.output_names[target] if info.output_names else str(target)


def _draw_attributions(
    data: _Sequences,
    scores: np.ndarray,
    method: str,
    target_name: str,
    folder: Path,
    formats: list[str],
) -> list[tuple[str, Path]]:
    """One attribution logo per sequence: ``(caption, PNG path)`` for the report."""
    from .plots import plot_attribution_logo

    folder.mkdir()
    figures = []
    for record_id, name, x, score in zip(
        data.first_ids, _safe_names(data.first_ids), data.first_x, scores, strict=True
    ):
        if method == "ism":
            # ISM is 0 at the reference base; show how much better the reference is than
            # the average base there (minus the mean change on mutation).
            score = score - score.mean(axis=0, keepdims=True)
        caption = f"{record_id}: {method} for {target_name}"
        fig, _ = plot_attribution_logo(score, sequence=x, title=caption, start=1)
        _save(fig, _render(fig), folder / name, formats)
        figures.append((caption, folder / f"{name}.png"))
    return figures


def _write_tables(folder: Path, table: pd.DataFrame, matches: pd.DataFrame) -> None:
    options = dict(sep="\t", index=False, na_rep="", float_format="%.6g")
    table.to_csv(folder / "filters.tsv", **options)
    matches.to_csv(folder / "matches.tsv", **options)


# ------------------------------------------------------------------------------ the API


def interpret(
    model: Any,
    sequences: Any,
    out: str | os.PathLike,
    *,
    threshold: float = 0.5,
    top_k: int | None = None,
    min_sites: int = 10,
    pseudocount: float = 0.1,
    trim: bool = False,
    trim_ic: float = 0.2,
    motif_db: str | os.PathLike | Mapping[str, np.ndarray] | None = "jaspar",
    n_matches: int = 3,
    q_threshold: float | None = 0.05,
    influence: bool = True,
    order: str = "influence",
    max_sequences: int | None = 10000,
    formats: Sequence[str] = ("png",),
    attribution: str | None = None,
    target: int | str | None = None,
    attribution_sequences: int = 5,
    batch_size: int = 256,
    overwrite: bool = False,
    progress: bool | None = False,
    device: str | None = None,
) -> InterpretResult:
    """Explain a trained model: filter motifs, logos, known-motif matches, influence, report.

    See the module docstring for the output folder and how sequences are read and sampled.

    Parameters
    ----------
    model
        A model bundle folder (``None``: ``$SEQCNN_MODEL`` or ``./seqcnn_model``), a loaded
        :class:`seqcnn.bundle.Model`, or a network following the SeqCNN contract (``stem``,
        ``body``, ``head``).
    sequences
        A FASTA file (plain, gzip or bgzip; ``"-"`` for standard input), a list of DNA
        strings (ids ``"0"``, ``"1"``, ...), a dict ``id -> sequence``, or a one-hot array
        ``(N, 4, L)``.  Padded with N or cropped, centred, to the model's input length.
    out
        The output folder, written atomically.
    threshold
        A window is a site of a filter when its activation exceeds ``threshold`` times the
        filter's maximum over the sequences (Basset uses 0.5).
    top_k
        Use each filter's ``top_k`` highest-activating windows instead.
    min_sites
        Filters with fewer sites are reported but not exported (no MEME entry, no
        matrices, no matching).
    pseudocount
        Added to each base count of the PWMs.
    trim, trim_ic
        Cut the edge positions below ``trim_ic`` bits off every motif before it is
        exported, matched and drawn (``filters.tsv`` then has a ``trim_start`` column:
        where the motif starts in the filter).
    motif_db
        ``"jaspar"`` (JASPAR CORE vertebrates shipped with pyjaspar, the default), the path
        of a MEME motif file, a dict ``"id name" -> (w, 4)`` PWM, or ``None`` / ``"none"``
        to skip matching.
    n_matches, q_threshold
        Matches kept per filter, and the largest q-value kept (``None``: all).
    influence
        Compute each filter's influence: the change of the mean prediction, per output and
        after the model's output transform (probabilities for classifiers), when the
        filter's activation is replaced by its mean (Basset's nullification).
    order
        Order of the overview: ``"influence"`` (largest |influence| over outputs first;
        information when influence is off) or ``"ic"`` (most information first).
    max_sequences
        Use a random sample (fixed seed) of at most this many sequences; ``None`` or 0
        for all.
    formats
        Figure formats of the logos and attribution maps, any of ``"png"``, ``"svg"``,
        ``"pdf"``; PNG is always written (the report inlines it).  The overview is PNG.
    attribution
        ``"saliency"`` (gradient x input) or ``"ism"`` (in-silico saturation mutagenesis)
        maps of the first ``attribution_sequences`` records, for the output ``target``
        (name or index; may be left out for a single-output model).  Scores are of the
        raw logit; see :mod:`seqcnn.attribution`.
    batch_size
        Sequences per forward pass.
    overwrite
        Replace an existing ``out`` folder (``--force``).
    progress
        Progress bars on stderr (``None``: when stderr is a terminal).
    device
        ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"auto"``; ``None`` keeps a given model where it
        is and loads a bundle onto the CPU.  A given model is moved in place.

    Returns
    -------
    InterpretResult

    Raises
    ------
    DataError
        Unreadable or invalid sequences or motif file; nothing is written.
    UsageError
        Bad options, an unknown target, or ``out`` exists without ``overwrite``.
    ModelError
        No model bundle, or a network without a valid first convolution.

    Examples
    --------
    >>> result = interpret("seqcnn_model", "peaks.fa", "peaks_interpret")   # doctest: +SKIP
    >>> result.table.sort_values("q_value").head()                           # doctest: +SKIP
    >>> interpret(model, "peaks.fa", "out", attribution="ism", target="CTCF",
    ...           motif_db="my_motifs.meme", overwrite=True)                  # doctest: +SKIP
    """
    from .motifs import background_frequencies, filter_pwms, write_meme, write_pfm_tsv
    from .report import write_report

    started = time.perf_counter()
    out = Path(out)
    if out.exists() and not overwrite:  # checked again on writing; here to fail before loading
        raise UsageError("output already exists; use --force to replace it", path=str(out))
    formats, max_sequences = _check_options(
        formats=formats,
        attribution=attribution,
        attribution_sequences=attribution_sequences,
        max_sequences=max_sequences,
        min_sites=min_sites,
        n_matches=n_matches,
        order=order,
        batch_size=batch_size,
        trim_ic=trim_ic,
    )
    info = _resolve_model(model, device)
    target_index = _resolve_target(target, info.output_names, attribution)
    target_name = _target_name(info, target_index) if attribution else None
    database, database_text = _motif_database(motif_db)
    timings: dict[str, float] = {}

    def step(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - since, 3)
        return now

    with atomic_directory(out, overwrite=overwrite) as tmp:
        mark = time.perf_counter()
        data = _read_sequences(
            sequences,
            info.input_length,
            info.n_encoding,
            max_sequences,
            attribution_sequences if attribution else 0,
        )
        x = data.x
        mark = step("read", mark)
        log.info(f"read {data.n_read:,} sequences from {data.source}; using {len(x):,}")

        # All network work comes before matching: memelite's numba threads (OpenMP) slow
        # torch's own down when both run in one process.
        motifs = filter_pwms(
            info.network,
            x,
            threshold=threshold,
            top_k=top_k,
            pseudocount=pseudocount,
            min_sites=min_sites,
            batch_size=batch_size,
        )
        trim_starts = None
        if trim:
            motifs, trim_starts = _trimmed(motifs, trim_ic)
        background = background_frequencies(x)
        n_exported = sum(m.exported for m in motifs)
        mark = step("filters", mark)
        log.info(f"{len(motifs)} filters, {n_exported} exported ({timings['filters']:.1f} s)")

        effects = _influence(info, x, batch_size) if influence else None
        mark = step("influence", mark)
        if effects is not None:
            log.info(f"influence of {len(motifs)} filters ({timings['influence']:.1f} s)")

        npz = scores = None
        if attribution:
            scores, npz = _attribution_scores(
                info, data, attribution, target_index, tmp, batch_size
            )
            mark = step("attribution", mark)

        matches = _no_matches()
        if database is not None and n_exported:
            matches = _match(motifs, database, n_matches, q_threshold)
        mark = step("matching", mark)
        if database is not None:
            n_matched = matches["filter"].nunique()
            log.info(f"{n_matched} filters match {database_text} ({timings['matching']:.1f} s)")

        table = _filter_table(motifs, matches, effects, info.output_names, trim_starts)
        write_meme(motifs, tmp / "filters.meme", background=background)
        (tmp / "matrices").mkdir()
        for motif in motifs:
            if motif.exported:
                write_pfm_tsv(motif, tmp / "matrices" / motif.name)
        _write_tables(tmp, table, matches)
        mark = step("tables", mark)

        tiles = _draw_logos(motifs, table, tmp / "logos", formats, progress)
        ordered = _overview_order(motifs, effects, order)
        _write_png(_mosaic([tiles[motifs[k].name] for k in ordered]), tmp / "overview.png")
        mark = step("logos", mark)
        log.info(f"{len(motifs)} logos and the overview ({timings['logos']:.1f} s)")

        maps = []
        if attribution:
            maps = _draw_attributions(
                data, scores, attribution, target_name, tmp / "attribution", formats
            )
            mark = step("attribution", mark)
            log.info(
                f"{attribution} maps of {len(maps)} sequences ({timings['attribution']:.1f} s)"
            )

        summary = _summary(
            info,
            data,
            threshold=threshold,
            top_k=top_k,
            min_sites=min_sites,
            pseudocount=pseudocount,
            trim=trim_ic if trim else None,
            database=database_text,
            influence=influence,
            attribution=attribution,
            target=target_name,
            background=background,
        )
        write_report(
            tmp / "report.html",
            title=f"seqcnn interpret: {Path(info.source).name or info.source}",
            summary=summary,
            filters=table.iloc[ordered].reset_index(drop=True),
            logos={m.name: tmp / "logos" / f"{m.name}.png" for m in motifs},
            overview=tmp / "overview.png",
            attributions=maps,
        )
        step("report", mark)
    timings["total"] = round(time.perf_counter() - started, 3)
    log.info(f"wrote {out} in {timings['total']:.1f} s")
    return InterpretResult(
        motifs=motifs,
        table=table,
        matches=matches,
        influence=effects,
        output_names=info.output_names,
        background=background,
        n_sequences=len(x),
        n_read=data.n_read,
        path=out,
        report=out / "report.html",
        attribution=out / "attribution.npz" if npz is not None else None,
        timings=timings,
    )


def _no_matches() -> pd.DataFrame:
    import pandas as pd

    from .motifs import _MATCH_DTYPES, MATCH_COLUMNS

    return pd.DataFrame({c: pd.Series(dtype=_MATCH_DTYPES[c]) for c in MATCH_COLUMNS})


def _summary(info: _ModelInfo, data: _Sequences, **options: Any) -> dict[str, Any]:
    from .motifs import ALPHABET

    if options["top_k"] is not None:
        sites = f"the {options['top_k']:,} highest-activating windows of each filter"
    else:
        sites = f"windows with activation > {options['threshold']:g} x the filter's maximum"
    method, target = options["attribution"], options["target"]
    summary = {
        "Model": info.source,
        "Task": info.task,
        "Outputs": _listing(info.output_names) if info.output_names else None,
        "Sequences": f"{len(data.x):,} of {data.n_read:,} from {data.source}, "
        f"{data.x.shape[2]} bp each",
        "Background": " ".join(
            f"{b} {v:.3f}" for b, v in zip(ALPHABET, options["background"], strict=True)
        ),
        "Sites": sites,
        "Exported": f"filters with at least {options['min_sites']} sites "
        f"(pseudocount {options['pseudocount']:g})",
        "Trimmed": f"edges below {options['trim']:g} bits" if options["trim"] is not None else "no",
        "Motif database": options["database"],
        "Influence": f"change of the mean {info.transform} output when a filter is nullified"
        if options["influence"]
        else "not computed",
    }
    if method:
        summary["Attribution"] = f"{method} for {target} (raw logit)"
    summary["Date"] = datetime.datetime.now().isoformat(timespec="seconds")
    return summary

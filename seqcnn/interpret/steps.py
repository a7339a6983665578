"""The steps of :func:`seqcnn.interpret.interpret` that are not a call into a building block:
the checks done before any work, motif matching with memelite's warnings as log lines,
trimming, the per-filter table (``filters.tsv`` and the report's table), the overview
order and the report's summary."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from seqcnn.bundle import Model
    from seqcnn.motifs import FilterMotif

__all__ = [
    "OVERVIEW_ORDERS",
    "check_options",
    "output_index",
    "position_mode",
    "motif_database",
    "warn_cropped",
    "attribution_examples",
    "attribution_scores",
    "match_filters",
    "trimmed_motifs",
    "filter_table",
    "best_match_names",
    "overview_order",
    "write_tables",
    "run_summary",
    "listing",
]

log = logging.getLogger("seqcnn")

#: Orders of the overview and the report's table.
OVERVIEW_ORDERS = ("influence", "ic")


def check_options(
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
    """The options checked before any work: ``(figure formats, PNG first; max_sequences,
    None for all)``."""
    from seqcnn.attribution import METHODS
    from seqcnn.plots import FIGURE_FORMATS

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


def output_index(target: int | str | None, names: list[str], attribution: str | None) -> int:
    """The output index to attribute; checked before any work is done."""
    from seqcnn.attribution import resolve_target

    if attribution is None:
        if target is not None:
            raise UsageError("a target is only used with an attribution method (--attribution)")
        return 0
    if target is None:
        if len(names) == 1:
            return 0
        raise UsageError(
            f"the model has {len(names)} outputs ({listing(names)}); name the one to explain "
            "with --target (target=)"
        )
    if isinstance(target, str) and target not in names and re.fullmatch(r"\d+", target.strip()):
        target = int(target)
    return resolve_target(target, names)


def motif_database(motif_db: Any) -> tuple[Any, str]:
    """``(database for match_motifs or None, description)``; a file is read (and checked)
    before any work is done."""
    from seqcnn.motifs import read_meme

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


def warn_cropped(lengths: np.ndarray, length: int, crop: str = "centre") -> int:
    """Log a warning when sequences are longer than the model's input; how many are."""
    longer = int((np.asarray(lengths) > length).sum())
    if longer:
        log.warning(
            f"{longer:,} of {len(lengths):,} sequences are longer than the model's input "
            f"({length} bp) and were cropped to their {crop} {length} bp: motifs outside it "
            "are not seen"
        )
    return longer


def position_mode(model: Model, position_target: str | None) -> str | None:
    """What a per-position model's tracks are reduced to (``counts``, ``profile`` or
    ``sum``: ``position_target``, else the task's default); ``None`` for a sequence model.
    Checked before any work is done."""
    from seqcnn.attribution import POSITION_TARGETS
    from seqcnn.position_targets import default_target

    if position_target is not None and position_target not in POSITION_TARGETS:
        raise UsageError(
            f"unknown position target {position_target!r}; choose one of "
            f"{', '.join(POSITION_TARGETS)}"
        )
    if model.head_kind != "position":
        if position_target is not None:
            raise UsageError(
                "position_target (--position-target) is for per-position models; this model "
                "gives one value per sequence"
            )
        return None
    return position_target or default_target(model.task, getattr(model.network, "head", None))


def attribution_examples(model: Model, x: np.ndarray, target: int, n: int, batch_size: int,
                         position_target: str | None = None) -> np.ndarray:  # fmt: skip
    """Positions in ``x`` of the ``n`` sequences the model scores highest for ``target``
    (after its output transform, with its strand averaging), best first.

    A per-position model's sequences are ranked by the ``position_target`` of the track
    (raw outputs, as attribution explains it), not by any single position.  Maps of the
    sequences with the strongest signal for the output show what it reads; the first
    records of a file may hold none.
    """
    from seqcnn.forward import run_network
    from seqcnn.position_targets import position_network

    network, transform = model.network, model.transform
    if model.head_kind == "position":
        network = position_network(network, model.task, position_target, None, None)
        transform = None
    scores = run_network(
        network,
        x,
        batch_size=batch_size,
        transform=transform,
        rc_average=model.rc_average,
        n_encoding=model.n_encoding,
    )
    column = scores.reshape(len(x), -1)[:, target]
    order = np.argsort(-column, kind="stable")  # ties: input order
    return order[:n]


def attribution_scores(
    model: Model,
    ids: Sequence[str],
    x: np.ndarray,
    method: str,
    target: int,
    folder: Path,
    batch_size: int,
    position_target: str | None = None,
) -> np.ndarray:
    """Scores of one-hot sequences ``x`` for one output (of the raw logit; of a
    per-position model's track, its ``position_target``), saved with their ``ids`` as
    ``attribution.npz``."""
    from seqcnn.attribution import attribution, save_attributions

    scores = attribution(
        model, x, method=method, target=target, batch_size=batch_size,
        position_target=position_target,
    )  # fmt: skip
    name = model.output_names[target]
    save_attributions(folder / "attribution.npz", list(ids), x, scores, method, name)
    return scores


def match_filters(
    motifs: list[FilterMotif], database: Any, n_matches: int, q_threshold: float | None
) -> pd.DataFrame:
    """:func:`seqcnn.motifs.match_motifs`, with memelite's warnings as log lines."""
    from seqcnn.motifs import match_motifs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        matches = match_motifs(motifs, database, n_matches=n_matches, q_threshold=q_threshold)
    for warning in caught:  # memelite warns about small databases: one log line, not a trace
        log.warning("motif matching: %s", " ".join(str(warning.message).split()))
    return matches


def trimmed_motifs(motifs: list[FilterMotif], min_ic: float) -> tuple[list[FilterMotif], list[int]]:
    """Motifs cut to their informative core, and where each core starts in its filter.

    A motif with no position of ``min_ic`` bits is kept whole: there is no core to keep.
    """
    from seqcnn.motifs import trim_pwm

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


def filter_table(
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


def best_match_names(table: pd.DataFrame) -> dict[str, str]:
    """Filter -> the name (else the id) of its best match, for the logo titles."""
    names = {}
    for row in table.to_dict("records"):
        name = row.get("best_match_name") or row.get("best_match_id")
        if isinstance(name, str) and name:
            names[row["filter"]] = name
    return names


def overview_order(
    motifs: list[FilterMotif], influence: np.ndarray | None, order: str
) -> list[int]:
    """Positions in ``motifs``: most influential (largest |influence| over outputs) or most
    informative first; ties by filter index."""
    if order == "influence" and influence is not None:
        key = np.abs(influence).max(axis=1)
        return sorted(range(len(motifs)), key=lambda k: (-key[k], motifs[k].index))
    return sorted(range(len(motifs)), key=lambda k: (-motifs[k].total_ic, motifs[k].index))


def write_tables(folder: Path, table: pd.DataFrame, matches: pd.DataFrame) -> None:
    """``filters.tsv`` and ``matches.tsv``."""
    options = dict(sep="\t", index=False, na_rep="", float_format="%.6g")
    table.to_csv(folder / "filters.tsv", **options)
    matches.to_csv(folder / "matches.tsv", **options)


def run_summary(model: Model, x: np.ndarray, sequences: str, **options: Any) -> dict[str, Any]:
    """The report's summary table: the model, the sequences used and the options of the run."""
    from seqcnn.alphabet import ALPHABET

    if options["top_k"] is not None:
        sites = f"the {options['top_k']:,} highest-activating windows of each filter"
    else:
        sites = f"windows with activation > {options['threshold']:g} x the filter's maximum"
    method, target = options["attribution"], options["target"]
    summary = {
        "Model": model.source,
        "Task": model.task,
        "Outputs": listing(model.output_names) if model.output_names else None,
        "Sequences": f"{sequences}, {x.shape[2]} bp each",
        "Background": " ".join(
            f"{b} {v:.3f}" for b, v in zip(ALPHABET, options["background"], strict=True)
        ),
        "Sites": sites,
        "Exported": f"filters with at least {options['min_sites']} sites "
        f"(pseudocount {options['pseudocount']:g})",
        "Trimmed": f"edges below {options['trim']:g} bits" if options["trim"] is not None else "no",
        "Motif database": options["database"],
        "Influence": f"change of the mean {model.transform} output when a filter is nullified"
        if options["influence"]
        else "not computed",
    }
    mode = options.get("position_target")
    explained = "raw logit"
    if mode is not None:
        explained = f"{mode} over the output positions, raw outputs"
        if options["influence"]:
            summary["Influence"] = (
                f"change of each track's mean {mode} (over the output positions, raw outputs) "
                "when a filter is nullified"
            )
    if method:
        summary["Attribution"] = f"{method} for {target} ({explained})"
    summary["Date"] = datetime.datetime.now().isoformat(timespec="seconds")
    return summary


def listing(names: Sequence[str], most: int = 12) -> str:
    """Names for a message: the first ``most``, then how many in all."""
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")

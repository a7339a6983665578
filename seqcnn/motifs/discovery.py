"""Motifs a model uses, found from its attributions: DeepLIFT/SHAP -> TF-MoDISco -> JASPAR.

First-layer filters show what a shallow network learned, but a deep one (``resnet``,
``dilated``) spreads a motif over several layers.  The route of BPNet and TF-MoDISco works
for any architecture:

1. **attributions**: DeepLIFT/SHAP against dinucleotide shuffles
   (:func:`seqcnn.attribution.deep_lift_shap`), with the hypothetical contributions of
   every base, and a convergence check that is reported with the patterns;
2. **seqlets and clustering**: TF-MoDISco (modisco-lite, ``modiscolite.tfmodisco``) cuts
   the windows of high contribution (*seqlets*) out of the contribution tracks, aligns them
   (on both strands) and clusters them into *patterns*;
3. **annotation**: each pattern's core is matched to JASPAR (or any MEME file) with the
   same Tomtom code as the filters (:func:`seqcnn.motifs.match_motifs`).

A :class:`Pattern` holds the contribution weight matrix (CWM: the mean contribution of the
observed bases, position by position), the hypothetical CWM, the probability matrix (the
base frequencies of its seqlets), its core (the positions carrying at least 30% of the
largest contribution, as modisco-lite's reports trim), its seqlets mapped back to record
ids and 0-based positions, and its matches.  :func:`seqcnn.plots.plot_pattern` draws one.

The clustering step and the :class:`Pattern` objects are in :mod:`seqcnn.motifs.modisco`
(settings fitted to the sequence length, N padding left out).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn.alphabet import ALPHABET
from seqcnn.errors import UsageError

from .modisco import (
    SEQLET_COLUMNS,
    DiscoverySettings,
    Pattern,
    discovery_settings,
    file_stem,
    find_patterns,
)
from .per_output import MIN_PER_OUTPUT, output_labels, output_rows, predicted_rows

if TYPE_CHECKING:
    import pandas as pd

    from seqcnn.deeplift import Convergence

__all__ = ["Discovery", "discover_motifs", "pattern_table", "write_discovery"]

log = logging.getLogger("seqcnn")

# ----------------------------------------------------------------------------- the API


@dataclass
class Discovery:
    """What :func:`discover_motifs` found.

    Attributes
    ----------
    patterns
        The patterns, positive first, each with its matches; per output (without a
        target), output by output.
    matches
        All matches in one table (``filter`` = pattern name), as
        :func:`seqcnn.motifs.match_motifs` returns them.
    convergence
        The DeepLIFT/SHAP convergence check (:class:`seqcnn.deeplift.Convergence`).
    target
        What was explained: an output name, a sum of outputs, or each output over the
        sequences predicted for it.
    settings
        The TF-MoDISco settings used.
    n_sequences, n_shuffles
        Sequences given, and references per explained row.
    timings
        Seconds spent on ``attributions`` (with the forward pass that picks the rows),
        ``clustering`` (every output's) and ``matching``.
    attributions, hypothetical
        The scores, ``(R, 4, L)`` each (observed bases only / every base), one row per
        explained row (see ``rows``).
    rows
        ``(R,)``: the sequence (row of ``x``) each row of the scores explains; with a
        target, every sequence once.
    row_outputs
        ``(R,)``: the output each row is explained for, ``-1`` with a target.
    outputs
        Per output explained on its own rows (without a target): ``output``,
        ``predicted`` (sequences the model predicts for it), ``explained`` (rows explained
        for it), ``patterns`` and ``seqlets``.  Empty with a target.
    """

    patterns: list[Pattern]
    matches: pd.DataFrame
    convergence: Convergence
    target: str
    settings: DiscoverySettings
    n_sequences: int
    n_shuffles: int
    timings: dict[str, float]
    attributions: np.ndarray = field(repr=False)
    hypothetical: np.ndarray = field(repr=False)
    rows: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    row_outputs: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    outputs: pd.DataFrame | None = field(repr=False, default=None)

    def table(self) -> pd.DataFrame:
        """One row per pattern (:func:`pattern_table`)."""
        return pattern_table(self.patterns)

    def summary(self) -> str:
        """A few lines for people: patterns, matches, convergence, time."""
        matched = sum(p.best_match() is not None for p in self.patterns)
        spent = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        explained = f"{self.n_sequences:,} sequences"
        if len(self.rows) != self.n_sequences:
            explained += f" ({len(self.rows):,} explained rows)"
        return (
            f"{len(self.patterns)} patterns from {explained} "
            f"({self.target}), {matched} matching a known motif; {spent}\n"
            f"{self.convergence.summary()}"
        )


def discover_motifs(
    model: Any,
    x: np.ndarray,
    target: int | str | Sequence[int | str] | None = None,
    *,
    ids: Sequence[str] | None = None,
    offsets: Sequence[int] | np.ndarray | None = None,
    transform: str | None = "auto",
    n_shuffles: int = 20,
    seed: int = 0,
    batch_size: int = 128,
    max_per_output: int | None = None,
    min_per_output: int = MIN_PER_OUTPUT,
    motif_db: str | os.PathLike | Mapping[str, np.ndarray] | None = "jaspar",
    n_matches: int = 3,
    q_threshold: float | None = 0.05,
    progress: bool | None = False,
    position_target: str | None = None,
    **settings: Any,
) -> Discovery:
    """Find the motifs a model uses: DeepLIFT/SHAP, TF-MoDISco, then known-motif matches.

    Parameters
    ----------
    model
        A :class:`seqcnn.bundle.Model`, a bundle folder or a network (see
        :func:`seqcnn.bundle.as_model`); any architecture seqcnn builds.
    x
        One-hot sequences ``(N, 4, L)`` of the model's input length, e.g.
        ``read_codes(path, model.input_length).one_hot(model.n_encoding)``.  A few
        thousand sequences are enough; time grows with N and ``n_shuffles``.
    target
        The output explained: an index or name, or a list of them (their sum), over every
        sequence.  ``None`` (the default) on a model of several outputs: **per output**,
        as BPNet runs TF-MoDISco per task: each output is explained alone over the
        sequences the model predicts for it (:func:`output_rows`), all in one
        DeepLIFT/SHAP pass (a sequence predicted for two outputs is explained twice, once
        for each), and TF-MoDISco clusters each output's rows on its own, so a weak
        output's motif is not absorbed by strong ones.  Its patterns are named
        ``"<output>/pattern_<k>"``.  ``None`` on a model of one output: that output.
    ids, offsets
        Record ids and offsets, for the seqlet positions (see :func:`find_patterns`).
    transform
        What is explained of the outputs: ``"auto"`` (the default) explains logits, except
        for a list of several targets, whose sum is taken after the model's output
        transform (probabilities for a multilabel model: summed logits would let each
        motif lower the other outputs); or a name as for
        :func:`seqcnn.attribution.deep_lift_shap` (``None``: logits).
    n_shuffles, seed, batch_size
        DeepLIFT/SHAP references per explained row, their seed, and sequence-reference
        pairs per pass (see :func:`seqcnn.attribution.deep_lift_shap`).
    max_per_output, min_per_output
        Per output (without a target), the most and fewest sequences explained (see
        :func:`output_rows`); the default most keeps the rows near N in all.
    motif_db, n_matches, q_threshold
        Known motifs to match each pattern's core with (``"jaspar"``, a MEME file, a dict
        of PWMs, or ``None``), the matches kept per pattern and their largest q-value
        (see :func:`seqcnn.motifs.match_motifs`).
    progress
        A progress bar on stderr for the attributions (``None``: when stderr is a terminal).
    position_target
        Per-position models: what is explained of each track, ``"counts"``, ``"profile"``
        or ``"sum"`` over its output positions (``None``: the task's default; see
        :func:`seqcnn.attribution.attribution`).  Without a target, each track's rows are
        chosen by the same number, its largest values (as for a regression output).
    **settings
        :class:`DiscoverySettings` fields, e.g. ``max_seqlets=5000`` (per output).

    Returns
    -------
    Discovery

    Examples
    --------
    >>> found = discover_motifs("seqcnn_model", x, target="CTCF")      # doctest: +SKIP
    >>> found.table()[["pattern", "n_seqlets", "consensus", "best_match"]]  # doctest: +SKIP
    >>> plot_pattern(found.patterns[0])                                 # doctest: +SKIP
    """
    from seqcnn.attribution import deep_lift_shap, resolve_target
    from seqcnn.bundle import as_model

    from .match import _torch_threads_kept, match_motifs, no_matches
    from .modisco import start_compiling

    view = as_model(model)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[1] != 4:
        raise UsageError(f"sequences must be one-hot encoded as (N, 4, L), got shape {x.shape}")
    chosen = discovery_settings(x.shape[2], **settings)
    n = len(x)
    ids = [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]
    offsets = np.zeros(n, dtype=np.int64) if offsets is None else np.asarray(offsets, np.int64)
    if len(ids) != n or len(offsets) != n:
        raise UsageError(f"{len(ids)} ids and {len(offsets)} offsets given for {n} sequences")
    names = view.output_names
    summed = isinstance(target, (list, tuple)) and len(target) > 1
    positions = view.head_kind == "position"
    if transform == "auto":
        # A per-position model is explained through its position target, of raw outputs.
        transform = view.transform if summed and view.transform != "softmax" else None
        transform = None if positions else transform
    explained_network = _explained_network(view, position_target)
    timings: dict[str, float] = {}
    mark = time.perf_counter()
    with _torch_threads_kept():
        start_compiling()  # while the attributions are computed
    per_output = target is None and len(names) > 1
    rows, row_outputs, weights, groups = np.arange(n), np.full(n, -1), None, []
    output = None
    if per_output:
        from seqcnn.forward import run_network

        logits = run_network(
            explained_network, x, batch_size=batch_size, n_encoding=view.n_encoding
        )
        # A position target is a value per track, ranked as a regression output's.
        task = None if positions else view.task
        groups = output_rows(
            logits, task, max_per_output=max_per_output, min_per_output=min_per_output
        )
        rows = np.concatenate(groups).astype(np.int64)
        row_outputs = np.repeat(np.arange(len(names)), [len(g) for g in groups])
        weights = np.eye(len(names), dtype=np.float32)[row_outputs]
        predicted = predicted_rows(logits, task)[1].sum(axis=0)
        described = (
            f"each of {len(names)} outputs over the sequences predicted for it, "
            f"at most {max(len(g) for g in groups):,} each"
        )
    elif target is None:
        target, described, output = 0, names[0], names[0]
    elif summed:
        described = "sum of " + ", ".join(str(t) for t in target)
    else:
        if isinstance(target, (list, tuple)):
            target = target[0]
        output = names[resolve_target(target, names)]
        described = output
    if transform not in (None, "identity"):
        described += f" ({transform})"
    if positions:
        described += f" ({explained_network.mode} over the output positions)"
    scores = deep_lift_shap(
        view,
        x[rows] if per_output else x,
        None if per_output else target,
        output_weights=weights,
        transform=transform,
        n_shuffles=n_shuffles,
        seed=seed,
        batch_size=batch_size,
        progress=progress,
        position_target=explained_network.mode if positions else None,
    )
    timings["attributions"] = round(time.perf_counter() - mark, 3)
    log.info(f"DeepLIFT/SHAP of {len(rows):,} rows ({timings['attributions']:.1f} s)")
    log.info(scores.convergence.summary())

    mark = time.perf_counter()
    outputs = None
    if per_output:
        patterns, outputs = _cluster_per_output(
            x, scores.hypothetical, rows, groups, names, predicted, ids, offsets, chosen
        )
    else:
        patterns = find_patterns(x, scores.hypothetical, ids=ids, offsets=offsets, settings=chosen)
        for pattern in patterns:
            pattern.output = output
    timings["clustering"] = round(time.perf_counter() - mark, 3)
    log.info(f"TF-MoDISco: {len(patterns)} patterns ({timings['clustering']:.1f} s)")

    mark = time.perf_counter()
    matches = no_matches()
    if motif_db is not None and patterns:
        matches = match_motifs(
            {p.name: p.core_pwm for p in patterns},
            motif_db,
            n_matches=n_matches,
            q_threshold=q_threshold,
        )
    for pattern in patterns:
        pattern.matches = matches[matches["filter"] == pattern.name].reset_index(drop=True)
    timings["matching"] = round(time.perf_counter() - mark, 3)
    return Discovery(
        patterns=patterns,
        matches=matches,
        convergence=scores.convergence,
        target=described,
        settings=chosen,
        n_sequences=n,
        n_shuffles=n_shuffles,
        timings=timings,
        attributions=scores.attributions,
        hypothetical=scores.hypothetical,
        rows=rows,
        row_outputs=row_outputs,
        outputs=outputs,
    )


def _explained_network(view: Any, position_target: str | None) -> Any:
    """What is explained of ``view``: its network, or a per-position network's
    :class:`seqcnn.position_targets.PositionTarget` (one number per track)."""
    from seqcnn.position_targets import position_network

    return position_network(view.network, view.task, position_target, None, None)


def _cluster_per_output(
    x: np.ndarray,
    hypothetical: np.ndarray,
    rows: np.ndarray,
    groups: Sequence[np.ndarray],
    names: Sequence[str],
    predicted: np.ndarray,
    ids: Sequence[str],
    offsets: np.ndarray,
    settings: DiscoverySettings,
) -> tuple[list[Pattern], pd.DataFrame]:
    """TF-MoDISco on each output's rows alone (``hypothetical`` holds them output by
    output, ``groups[j]`` long); the patterns, and one row of counts per output."""
    import pandas as pd

    patterns, counts = [], []
    labels = output_labels(names)
    ends = np.cumsum([len(g) for g in groups])
    for j, end in enumerate(ends):
        part = slice(int(end) - len(groups[j]), int(end))
        mine = rows[part]
        found = find_patterns(
            x[mine], hypothetical[part], ids=[ids[i] for i in mine], offsets=offsets[mine],
            settings=settings,
        )  # fmt: skip
        for pattern in found:
            _assign(pattern, names[j], labels[j], mine)
        patterns += found
        seqlets = sum(p.n_seqlets for p in found)
        counts.append((names[j], int(predicted[j]), len(mine), len(found), seqlets))
        log.info(f"TF-MoDISco, {names[j]}: {len(found)} patterns, {seqlets:,} seqlets")
    columns = ["output", "predicted", "explained", "patterns", "seqlets"]
    return patterns, pd.DataFrame(counts, columns=columns)


def _assign(pattern: Pattern, output: str, label: str, rows: np.ndarray) -> None:
    """Name a pattern after its output and map its seqlets from explained rows back to
    the rows of the sequences given."""
    pattern.name = f"{label}/{pattern.name}"
    pattern.file_stem = file_stem(pattern.name)
    pattern.output = output
    seqlets = pattern.seqlets
    seqlets["pattern"] = pattern.name
    seqlets["index"] = rows[seqlets["index"].to_numpy()]


# ------------------------------------------------------------------------------ output


def pattern_table(patterns: Sequence[Pattern], q_threshold: float | None = 0.05) -> pd.DataFrame:
    """One row per pattern: ``pattern``, ``output`` (the output it was found for; empty for
    a sum of outputs), ``sign``, ``n_seqlets``, ``width`` (of the core),
    ``consensus``, ``information`` (bits), ``contribution`` (sum of the core's CWM),
    ``best_match_id``, ``best_match_name``, ``p_value``, ``q_value`` (of the best match
    with ``q_value <= q_threshold``) and ``matches`` (every kept match's name)."""
    import pandas as pd

    rows = []
    for p in patterns:
        best = None
        if p.matches is not None and len(p.matches):
            kept = p.matches.sort_values("p_value")
            if q_threshold is not None:
                kept = kept[kept["q_value"] <= q_threshold]
            best = kept.iloc[0] if len(kept) else None
        rows.append(
            {
                "pattern": p.name,
                "output": p.output,
                "sign": "+" if p.sign > 0 else "-",
                "n_seqlets": p.n_seqlets,
                "width": p.core[1] - p.core[0],
                "consensus": p.consensus,
                "information": round(p.information, 3),
                "contribution": p.contribution,
                "best_match_id": None if best is None else best["match_id"],
                "best_match_name": None if best is None else best["match_name"],
                "p_value": None if best is None else float(best["p_value"]),
                "q_value": None if best is None else float(best["q_value"]),
                "matches": ""
                if p.matches is None
                else ", ".join(dict.fromkeys(p.matches["match_name"].astype(str))),
            }
        )
    columns = ["pattern", "output", "sign", "n_seqlets", "width", "consensus", "information"]
    columns += ["contribution", "best_match_id", "best_match_name", "p_value", "q_value"]
    return pd.DataFrame(rows, columns=[*columns, "matches"])


def _matrix_tsv(matrix: np.ndarray, path: Path) -> None:
    from seqcnn._io import atomic_path

    lines = ["\t".join(ALPHABET)] + ["\t".join(f"{v:.6g}" for v in row) for row in matrix]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def write_discovery(
    found: Discovery, folder: str | os.PathLike, background: np.ndarray | None = None
) -> dict[str, Path]:
    """Write the patterns as tables and matrices (logos are drawn by :mod:`seqcnn.plots`).

    Files, in ``folder`` (created if missing): ``patterns.tsv`` (:func:`pattern_table`),
    ``patterns.meme`` (each pattern's core, as probabilities), ``seqlets.tsv`` (every
    seqlet of every pattern), ``pattern_matches.tsv`` (every kept match) and
    ``matrices/<pattern>.{cwm,hcwm,pwm}.tsv`` (whole matrices, one row per position,
    columns A, C, G, T; ``<pattern>`` is :attr:`Pattern.file_stem`, e.g.
    ``CTCF__pattern_1`` for ``CTCF/pattern_1``).

    Returns
    -------
    dict
        ``"patterns"``, ``"meme"``, ``"seqlets"``, ``"matches"`` -> the files written.
    """
    import pandas as pd

    from seqcnn._io import atomic_path

    from .meme import write_meme

    folder = Path(folder)
    (folder / "matrices").mkdir(parents=True, exist_ok=True)
    written = {}
    tables = {
        "patterns": (found.table(), "patterns.tsv"),
        "seqlets": (
            pd.concat([p.seqlets for p in found.patterns], ignore_index=True)
            if found.patterns
            else pd.DataFrame(columns=SEQLET_COLUMNS),
            "seqlets.tsv",
        ),
        "matches": (found.matches, "pattern_matches.tsv"),
    }
    for key, (table, name) in tables.items():
        with atomic_path(folder / name) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        written[key] = folder / name
    written["meme"] = write_meme(
        {p.name: p.core_pwm for p in found.patterns}, folder / "patterns.meme", background
    )
    for p in found.patterns:
        for kind, matrix in (("cwm", p.cwm), ("hcwm", p.hypothetical_cwm), ("pwm", p.pwm)):
            _matrix_tsv(matrix, folder / "matrices" / f"{p.file_stem}.{kind}.tsv")
    return written

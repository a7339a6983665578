"""``interpret()``: the steps of ``seqcnn interpret`` in order, each a call into another
module (see :mod:`seqcnn.interpret` for the output folder)."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn._io import atomic_directory, check_output, protect_inputs

from .steps import (
    OVERVIEW_ORDERS,
    attribution_examples,
    attribution_scores,
    best_match_names,
    check_options,
    filter_table,
    match_filters,
    motif_database,
    output_index,
    overview_order,
    position_mode,
    run_summary,
    trimmed_motifs,
    warn_cropped,
    write_tables,
)

if TYPE_CHECKING:
    import pandas as pd

    from seqcnn.motifs import Discovery, FilterMotif

__all__ = ["InterpretResult", "interpret", "OVERVIEW_ORDERS"]

log = logging.getLogger("seqcnn")

#: The report's overview shows the logos of this many filters (the top of its table), at a
#: size where their titles read; overview.png holds them all.
REPORT_LOGOS = 12

#: Seed of the sample of sequences (``max_sequences``): the same input gives the same result.
_SAMPLE_SEED = 0


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
        transform; a per-position model's: of each track's position target) when each
        filter is nullified, or ``None`` when not computed.
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
        ``logos``, ``attribution``, ``discovery``, ``report``, ``total``).
    discovery
        What motif discovery found (``discover=True``), or ``None``.
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
    discovery: Discovery | None = None

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
        if self.discovery is not None:
            lines[1:1] = self.discovery.summary().splitlines()
        return "\n".join(lines)


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
    position_target: str | None = None,
    attribution_sequences: int = 5,
    discover: bool = False,
    discover_sequences: int | None = 5000,
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
        :class:`seqcnn.bundle.Model`, or a network with a ``.config`` (a ``SeqCNN``); see
        :func:`seqcnn.bundle.as_model`.  Its first layer must be a convolution
        (``stem.conv``).
    sequences
        A FASTA file (plain, gzip or bgzip; ``"-"`` for standard input), a list of DNA
        strings (ids ``"0"``, ``"1"``, ...), a dict or Series ``id -> sequence``, codes
        ``(N, L)`` or a one-hot array ``(N, 4, L)`` (see :mod:`seqcnn.inputs`).  Padded
        with N or cropped, centred, to the model's input length.
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
        ``"saliency"`` (gradient x input), ``"ism"`` (in-silico saturation mutagenesis) or
        ``"deeplift_shap"`` maps of the ``attribution_sequences`` sequences the model scores
        highest for the output ``target`` (name or index; may be left out for a
        single-output model).
        Scores are of the raw logit; see :mod:`seqcnn.attribution`.
    position_target
        Per-position models (outputs ``(N, T, L_out)``): what is explained of the target
        track, ``"counts"`` (log of the total), ``"profile"`` (BPNet's softmax-weighted
        sum) or ``"sum"`` (of the logits) over its output positions; ``None``: ``counts``
        for a profile model, ``sum`` otherwise (see :mod:`seqcnn.position_targets`).  The
        same number ranks the sequences mapped, picks each track's sequences for
        discovery, and is what filter influence changes (per track, raw outputs).
    discover, discover_sequences
        Also find motifs from DeepLIFT/SHAP attributions with TF-MoDISco, for ``target``
        (default: each output on its own, over the sequences predicted for it) over a
        random sample (fixed seed) of at most
        ``discover_sequences`` of the sequences (``None``: all), into ``discovery/`` and a
        section of the report; see :func:`seqcnn.motifs.discover_motifs`.
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
    from seqcnn.bundle import as_model
    from seqcnn.forward import apply_transform
    from seqcnn.inputs import read_codes
    from seqcnn.motifs import (
        background_frequencies,
        filter_influence,
        filter_pwms,
        no_matches,
        write_meme,
        write_pfm_tsv,
    )
    from seqcnn.plots import draw_attribution_maps, draw_filter_logos, write_overview
    from seqcnn.report import write_report

    started = time.perf_counter()
    out = Path(out)
    # What the run reads must survive it: the output may be none of them.
    given = (model, sequences, motif_db)
    inputs = [p for p in given if isinstance(p, (str, os.PathLike)) and os.path.exists(p)]
    # Checked again on writing; here to fail before loading anything.
    check_output(out, overwrite=overwrite, folder=True, inputs=inputs)

    formats, max_sequences = check_options(
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
    model = as_model(model, device)
    mode = position_mode(model, position_target)
    if model.path is not None:  # also the default bundle, found without being named
        inputs.append(model.path)
    # Discovery without --attribution takes the target (or all outputs) for itself.
    target_index = output_index(
        None if discover and not attribution else target, model.output_names, attribution
    )
    discover_target = output_index(target, model.output_names, "deeplift_shap") if (
        discover and target is not None
    ) else None  # fmt: skip
    if discover:
        _check_discovery(discover_sequences)
    target_name = model.output_names[target_index] if attribution else None
    database, database_text = motif_database(motif_db)
    timings: dict[str, float] = {}

    def step(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - since, 3)
        return now

    with protect_inputs(inputs), atomic_directory(out, overwrite=overwrite) as tmp:
        mark = time.perf_counter()
        data = read_codes(
            sequences,
            model.input_length,
            max_sequences=max_sequences,
            seed=_SAMPLE_SEED,
            progress=progress,
        )
        x = data.one_hot(model.n_encoding)
        array = isinstance(sequences, np.ndarray) or hasattr(sequences, "detach")
        source = data.name or ("array" if array else "sequences given")
        mark = step("read", mark)
        log.info(f"read {data.total:,} sequences from {source}; using {len(x):,}")
        warn_cropped(data.lengths, model.input_length)

        motifs = filter_pwms(
            model,
            x,
            threshold=threshold,
            top_k=top_k,
            pseudocount=pseudocount,
            min_sites=min_sites,
            batch_size=batch_size,
        )
        trim_starts = None
        if trim:
            motifs, trim_starts = trimmed_motifs(motifs, trim_ic)
        background = background_frequencies(x)
        n_exported = sum(m.exported for m in motifs)
        mark = step("filters", mark)
        log.info(f"{len(motifs)} filters, {n_exported} exported ({timings['filters']:.1f} s)")

        effects = None
        if influence:
            # A per-position model's tracks are reduced (raw outputs) instead.
            transform = None
            if mode is None:
                transform = functools.partial(apply_transform, name=model.transform)
            effects = filter_influence(
                model, x, transform=transform, batch_size=batch_size, position_target=mode
            )
        mark = step("influence", mark)
        if effects is not None:
            log.info(f"influence of {len(motifs)} filters ({timings['influence']:.1f} s)")

        if attribution:
            chosen = attribution_examples(
                model, x, target_index, attribution_sequences, batch_size, mode
            )
            example_ids = [data.ids[k] for k in chosen]
            example_x = x[chosen]
            scores = attribution_scores(
                model, example_ids, example_x, attribution, target_index, tmp, batch_size, mode
            )
            mark = step("attribution", mark)
            log.info(
                f"{attribution} maps of the {len(chosen)} of {len(x):,} sequences scored "
                f"highest for {target_name}"
            )

        matches = no_matches()
        if database is not None and n_exported:
            matches = match_filters(motifs, database, n_matches, q_threshold)
        mark = step("matching", mark)
        if database is not None:
            n_matched = matches["filter"].nunique()
            log.info(f"{n_matched} filters match {database_text} ({timings['matching']:.1f} s)")

        table = filter_table(motifs, matches, effects, model.output_names, trim_starts)
        write_meme(motifs, tmp / "filters.meme", background=background)
        (tmp / "matrices").mkdir()
        for motif in motifs:
            if motif.exported:
                write_pfm_tsv(motif, tmp / "matrices" / motif.name)
        write_tables(tmp, table, matches)
        mark = step("tables", mark)

        tiles = draw_filter_logos(motifs, tmp / "logos", best_match_names(table), formats, progress)
        ordered = overview_order(motifs, effects, order)
        write_overview([tiles[motifs[k].name] for k in ordered], tmp / "overview.png")
        mark = step("logos", mark)
        log.info(f"{len(motifs)} logos and the overview ({timings['logos']:.1f} s)")

        maps = []
        if attribution:
            maps = draw_attribution_maps(
                example_ids, example_x, scores, tmp / "attribution", attribution, target_name,
                formats,
            )  # fmt: skip
            mark = step("attribution", mark)
            log.info(
                f"{attribution} maps of {len(maps)} sequences ({timings['attribution']:.1f} s)"
            )

        found, pattern_logos, pattern_notes = None, {}, []
        if discover:
            found, pattern_logos, pattern_notes = _discover(
                model, data, x, discover_target, discover_sequences, database, n_matches,
                q_threshold, batch_size, progress, tmp / "discovery", formats, mode,
            )  # fmt: skip
            mark = step("discovery", mark)

        summary = run_summary(
            model,
            x,
            f"{len(x):,} of {data.total:,} from {source}",
            threshold=threshold,
            top_k=top_k,
            min_sites=min_sites,
            pseudocount=pseudocount,
            trim=trim_ic if trim else None,
            database=database_text,
            influence=influence,
            attribution=attribution,
            target=target_name,
            position_target=mode,
            background=background,
        )
        write_report(
            tmp / "report.html",
            title=f"seqcnn interpret: {Path(model.source).name or model.source}",
            summary=summary,
            filters=table.iloc[ordered].reset_index(drop=True),
            logos={m.name: tmp / "logos" / f"{m.name}.png" for m in motifs},
            overview_logos=REPORT_LOGOS,
            attributions=maps,
            patterns=found.table() if found is not None else None,
            pattern_logos=pattern_logos,
            pattern_notes=pattern_notes,
        )
        step("report", mark)
    timings["total"] = round(time.perf_counter() - started, 3)
    log.info(f"wrote {out} in {timings['total']:.1f} s")
    return InterpretResult(
        motifs=motifs,
        table=table,
        matches=matches,
        influence=effects,
        output_names=model.output_names,
        background=background,
        n_sequences=len(x),
        n_read=data.total,
        path=out,
        report=out / "report.html",
        attribution=out / "attribution.npz" if attribution else None,
        timings=timings,
        discovery=found,
    )


def _check_discovery(n: int | None) -> None:
    """Discovery's options, checked before any work is done."""
    from seqcnn.deeplift import require_discover
    from seqcnn.errors import UsageError

    require_discover("tangermeme")
    require_discover("modiscolite")
    if n is not None and n < 1:
        raise UsageError(f"discover_sequences must be at least 1 (or None for all), got {n}")


def _discover(model, data, x, target, n, database, n_matches, q_threshold, batch_size,
              progress, folder, formats, position_target=None,
              ) -> tuple[Discovery, dict, list[str]]:  # fmt: skip
    """Motif discovery over a random sample of ``x``, written into ``folder``; returns what
    was found, its figures and the report's notes."""
    from seqcnn.motifs import discover_motifs, write_discovery
    from seqcnn.plots import draw_pattern_logos

    rows = np.arange(len(x))
    if n is not None and n < len(x):
        rows = np.sort(np.random.default_rng(_SAMPLE_SEED).choice(len(x), n, replace=False))
    # Window position -> record position: records were centred when padded or cropped.
    lengths = np.asarray(data.lengths)[rows]
    fit = model.input_length
    offsets = np.where(lengths >= fit, (lengths - fit) // 2, -((fit - lengths) // 2))
    found = discover_motifs(
        model, x[rows], target, ids=[data.ids[k] for k in rows], offsets=offsets,
        batch_size=batch_size, motif_db=database, n_matches=n_matches,
        q_threshold=q_threshold, progress=progress, position_target=position_target,
    )  # fmt: skip
    write_discovery(found, folder)
    logos = draw_pattern_logos(found.patterns, folder / "logos", formats, progress)
    spent = ", ".join(f"{k} {v:.1f} s" for k, v in found.timings.items())
    repeated = len(found.rows) != found.n_sequences
    explained = f"{len(found.rows):,} explained rows, " if repeated else ""
    per_output = " (each output's rows on their own)" if found.outputs is not None else ""
    notes = [
        f"DeepLIFT/SHAP of {found.target} over {found.n_sequences:,} sequences "
        f"({explained}{found.n_shuffles} dinucleotide shuffles each), clustered by TF-MoDISco "
        f"(modisco-lite){per_output}; each pattern's core is matched like the filters. "
        f"Time: {spent}.",
        found.convergence.summary(),
    ]
    log.info(f"discovery: {len(found.patterns)} patterns; {found.convergence.summary()}")
    return found, logos, notes

"""Variant effects: every variant of a VCF scored by a model, as a table.

:func:`score_variants` (a DataFrame) and :func:`score_variants_file` (a table written as
it is computed, in bounded memory) read the variants with :mod:`seqcnn.vcf`, check,
normalise and cut them into a reference and an alternative window of the model's input
length with :mod:`seqcnn.alleles` (the window convention is there and in
``docs/variants.md``), and run both through :func:`seqcnn.forward.run_network`, on both
strands when ``rc_average``.

Scores, per model output and on its output scale (strands averaged after the transform):
``<output>_ref``, ``<output>_alt``, ``<output>_diff`` (alt - ref), and
``<output>_logit_diff`` (logit(alt) - logit(ref), for sigmoid and softmax outputs) or
``<output>_log2fc`` (log2(alt / ref), for exp outputs); identity outputs have no fourth
column.  They are computed in float64 from the raw outputs, so that a logit difference stays
exact for probabilities near 0 or 1, and written as float32.

The columns, in this order, are a stable schema (:func:`effect_columns`):
``chrom pos id ref alt ref_match norm_pos norm_ref norm_alt`` (:data:`VARIANT_COLUMNS`),
then the score columns of each output in the model's order.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .alleles import REF_MATCH_VALUES, REF_MISMATCH, VARIANT_COLUMNS, variant_codes
from .errors import UsageError
from .onehot import reverse_complement_codes
from .vcf import VariantReader

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "REF_MISMATCH",
    "REF_MATCH_VALUES",
    "VARIANT_COLUMNS",
    "VariantStats",
    "effect_columns",
    "effect_scores",
    "gather_variant_tables",
    "network_input",
    "score_variants",
    "score_variants_file",
    "spare_core",
]

logger = logging.getLogger("seqcnn")

#: Bytes of window codes per chunk (ref + alt, both strands); sets the chunk size.
_CHUNK_BYTES = 1 << 26


# ------------------------------------------------------------------------------ columns


def effect_columns(output_names, transform: str | None) -> list[str]:
    """The score columns for outputs ``output_names`` under ``transform``.

    Examples
    --------
    >>> effect_columns(["bound"], "sigmoid")
    ['bound_ref', 'bound_alt', 'bound_diff', 'bound_logit_diff']
    >>> effect_columns(["counts"], "exp")[-1], effect_columns(["level"], "identity")[-1]
    ('counts_log2fc', 'level_diff')
    """
    extra = {"sigmoid": ["logit_diff"], "softmax": ["logit_diff"], "exp": ["log2fc"]}
    suffixes = ["ref", "alt", "diff", *extra.get(transform, [])]
    return [f"{name}_{suffix}" for name in output_names for suffix in suffixes]


# ------------------------------------------------------------------------------ scores


def _log_mean_exp(values: np.ndarray) -> np.ndarray:
    """``log(mean(exp(values)))`` over the first axis (the strands), without overflow."""
    return np.logaddexp.reduce(values, axis=0) - math.log(values.shape[0])


def _softmax_logs(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log p`` and ``log(1 - p)`` of softmax probabilities, from the logits."""
    total = np.logaddexp.reduce(raw, axis=-1, keepdims=True)
    others = np.full(raw.shape, -np.inf)
    for j in range(raw.shape[-1]):
        if raw.shape[-1] > 1:
            others[..., j] = np.logaddexp.reduce(np.delete(raw, j, axis=-1), axis=-1)
    return raw - total, others - total


def _side(raw: np.ndarray, transform: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """One window's value ``(n, T)`` from raw outputs ``(strands, n, T)``, strands averaged
    after the transform, and its logit (sigmoid, softmax) or log2 (exp), else None."""
    if transform == "exp":
        log_v = _log_mean_exp(raw)
        return np.exp(log_v), log_v / math.log(2)
    if transform == "sigmoid":
        log_p, log_q = -np.logaddexp(0, -raw), -np.logaddexp(0, raw)
    elif transform == "softmax":
        log_p, log_q = _softmax_logs(raw)
    else:
        return raw.mean(axis=0), None
    log_p, log_q = _log_mean_exp(log_p), _log_mean_exp(log_q)
    return np.exp(log_p), log_p - log_q


def effect_scores(
    raw_ref: np.ndarray, raw_alt: np.ndarray, transform: str | None, names
) -> dict[str, np.ndarray]:
    """The score columns from raw network outputs.

    Parameters
    ----------
    raw_ref, raw_alt
        Raw outputs ``(strands, n, T)`` of the reference and alternative windows (one
        strand, or the forward and the reverse-complement one).
    transform
        The model's output transform; strands are averaged after it.
    names
        The output names.

    Returns
    -------
    dict
        Column name (:func:`effect_columns`) -> float32 values ``(n,)``.
    """
    ref, ref_log = _side(np.asarray(raw_ref, np.float64), transform)
    alt, alt_log = _side(np.asarray(raw_alt, np.float64), transform)
    columns = iter(effect_columns(names, transform))
    out = {}
    for j in range(len(names)):
        values = [ref[:, j], alt[:, j], alt[:, j] - ref[:, j]]
        if ref_log is not None:
            values.append(alt_log[:, j] - ref_log[:, j])
        for value in values:
            out[next(columns)] = value.astype(np.float32)
    return out


# ------------------------------------------------------------------------------ scoring


@dataclass
class VariantStats:
    """What a run of :func:`score_variants_file` read, skipped and wrote."""

    records: int = 0
    rows: int = 0
    mismatch: int = 0
    swapped: int = 0
    skipped: Counter = field(default_factory=Counter)
    files: list = field(default_factory=list)

    def summary(self) -> str:
        """One line for the end of a run, e.g. ``194 variants; 3 alleles skipped (3
        symbolic)``."""
        text = f"{self.rows} variants"
        if self.skipped:
            reasons = ", ".join(f"{n} {why}" for why, n in self.skipped.items())
            text += f"; {sum(self.skipped.values())} alleles skipped ({reasons})"
        if self.mismatch:
            text += f"; {self.mismatch} REF mismatches ({self.swapped} swapped)"
        return text


def _effect_frames(model, vcf, genome, *, ref_mismatch, strict, rc_average, batch_size,
                   device, progress, stats: VariantStats, part=None, top=None):  # fmt: skip
    """Check everything that can be checked up front; the columns, the frames, the model and
    the :class:`~seqcnn.variant_report.TopVariants` kept (``top``: ``(k, target)``)."""
    from .bundle import as_model
    from .genome import Genome
    from .tables import value_columns

    if ref_mismatch not in REF_MISMATCH:
        raise UsageError(
            f"unknown ref_mismatch '{ref_mismatch}'; choose one of {', '.join(REF_MISMATCH)}"
        )
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")
    model = as_model(model, device)
    names = value_columns(model.output_names, model.output_shape)
    rc_average = model.rc_average if rc_average is None else bool(rc_average)
    if not isinstance(genome, Genome):
        genome = Genome(genome)
    length = model.input_length
    # Chunks of a few batches: small enough for the next one's reading to overlap this one's
    # forward passes, large enough to fill the batches.
    chunk = max(1, min(4 * batch_size, _CHUNK_BYTES // (4 * length)))
    reader = VariantReader(vcf, strict=strict, chunk_size=chunk, part=part)
    columns = [*VARIANT_COLUMNS, *effect_columns(names, model.transform)]
    kept = None
    if top is not None:
        from .attribution import resolve_target
        from .variant_report import TopVariants

        target = top[1]
        # An index given as text (the command line's) is an index unless an output has that name.
        if isinstance(target, str) and target.isdigit() and target not in names:
            target = int(target)
        kept = TopVariants(top[0], f"{names[resolve_target(target, names)]}_diff")
    frames = _frames(model, reader, genome, names, ref_mismatch, rc_average, batch_size,
                     progress, stats, kept)  # fmt: skip
    return columns, frames, model, kept


def _frames(model, reader, genome, names, ref_mismatch, rc_average, batch_size, progress,
            stats, top) -> Iterator[pd.DataFrame]:  # fmt: skip
    import pandas as pd

    from ._progress import progress_bar
    from .forward import stream_outputs

    def prepared():
        for alleles in reader:
            codes = variant_codes(alleles, genome, model.input_length, ref_mismatch=ref_mismatch,
                                  name=reader.name)  # fmt: skip
            yield len(alleles), codes

    chunks = prepared()
    if spare_core(model.network):
        chunks = prefetched(chunks)
    waiting: deque = deque()  # the chunks whose windows went to the network, in order

    def windows():
        for n_alleles, codes in chunks:
            waiting.append((n_alleles, codes))
            yield network_input(codes.ref, codes.alt, rc_average)

    complete = False
    try:
        with progress_bar(progress, desc="scoring variants", unit=" variants") as bar:
            # The streams run the next chunk's windows while this chunk's rows are built.
            outputs = stream_outputs(model.network, windows(), batch_size=batch_size,
                                     n_encoding=model.n_encoding)  # fmt: skip
            for raw in outputs:
                n_alleles, codes = waiting.popleft()
                stats.mismatch += codes.mismatch
                stats.swapped += codes.swapped
                if codes.dropped:
                    stats.skipped["REF mismatch"] += codes.dropped
                bar.update(n_alleles)
                n = len(codes.ref)
                if not n:
                    continue
                raw = raw.reshape(len(raw) // (2 * n), 2, n, len(names))
                scores = effect_scores(raw[:, 0], raw[:, 1], model.transform, names)
                frame = pd.DataFrame({**_with_positions(codes.columns), **scores})
                stats.rows += n
                if top is not None:
                    top.offer(frame, codes.ref, codes.alt, codes.changed)
                yield frame
        complete = True
    finally:
        chunks.close()  # stops the reading thread before its counts are taken
        stats.records = reader.records
        stats.skipped.update(reader.skipped)
        if complete:
            _report(stats, reader.name, ref_mismatch)


def network_input(ref: np.ndarray, alt: np.ndarray, rc_average: bool) -> np.ndarray:
    """The windows a chunk runs through the network: ``ref``, ``alt`` (codes ``(n, L)``)
    and, with ``rc_average``, their reverse complements, stacked ``(2n or 4n, L)``.

    The complements come from :func:`seqcnn.onehot.reverse_complement_codes`.

    Examples
    --------
    >>> network_input(np.array([[0, 1, 4]], np.uint8), np.array([[0, 2, 4]], np.uint8), True)
    array([[0, 1, 4],
           [0, 2, 4],
           [4, 2, 3],
           [4, 1, 3]], dtype=uint8)
    """
    both = np.concatenate([ref, alt])
    if not rc_average:
        return both
    return np.concatenate([both, reverse_complement_codes(both)])


def _with_positions(columns: dict[str, list]) -> dict:
    """The columns with the positions as int64 arrays: the frame built from them needs no
    ``astype`` afterwards (which copies every column)."""
    return {c: np.asarray(v, np.int64) if c in ("pos", "norm_pos") else v
            for c, v in columns.items()}  # fmt: skip


def spare_core(network) -> bool:
    """Whether reading the next chunk beside the forward passes can gain time: the network
    runs on an accelerator, in parallel CPU streams (:mod:`seqcnn.streams`), or on fewer
    CPU threads than the process may use.

    Where one forward pass's threads take every CPU, a reading thread beside them takes one
    from it, which then waits for it at each of its parallel steps; reading in turn was
    measured faster (2 CPUs, 2 threads, 18,904 variants spread over chr20, bgzip genome:
    0.92x the rate of ``seqcnn predict`` on the same windows instead of 0.84x, medians of 5
    paired runs).  Streams of one thread each do not wait for one another, and the calling
    thread would only wait for them.
    """
    import torch

    from .forward import network_device
    from .threads import available_cpus

    threads = torch.get_num_threads()
    return network_device(network).type != "cpu" or threads >= 2 or threads < available_cpus()


def prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """``items``, computed in a background thread up to ``depth`` ahead.

    Reading the VCF and the genome (zlib) and the forward passes (torch) both release the
    GIL for most of their time, so the next chunk's windows are cut while this chunk runs
    through the network.  An exception in the thread is raised here; closing the generator
    stops the thread (after the item it is working on).
    """
    import queue
    import threading

    pending: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def work() -> None:
        try:
            for item in items:
                pending.put((item, None))
                if stop.is_set():
                    return
            pending.put((end, None))
        except BaseException as err:  # handed to the consumer, raised there
            pending.put((end, err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # in this thread, which ran it: files and temporary copies closed

    thread = threading.Thread(target=work, name="seqcnn-variants", daemon=True)
    thread.start()
    try:
        while True:
            item, err = pending.get()
            if item is end:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a thread waiting to put into a full queue
            try:
                pending.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


def _report(stats: VariantStats, name: str, ref_mismatch: str) -> None:
    unscorable = {why: n for why, n in stats.skipped.items() if why != "REF mismatch"}
    if unscorable:
        reasons = ", ".join(f"{n} {why}" for why, n in unscorable.items())
        logger.warning("%s: skipped %d alleles that cannot be scored (%s)", name,
                       sum(unscorable.values()), reasons)  # fmt: skip
    if stats.mismatch:
        what = "flagged in ref_match" if ref_mismatch == "flag" else "skipped"
        logger.warning(
            "%s: %d variants have a REF that differs from the genome (%d look swapped: ALT is "
            "the genome's base); %s",
            name, stats.mismatch, stats.swapped, what,
        )  # fmt: skip


def _empty_frame(columns: list[str], parquet: bool = False) -> pd.DataFrame:
    """A table without rows; ``parquet``: its text columns typed as text."""
    import pandas as pd

    dtypes = {"pos": np.int64, "norm_pos": np.int64}
    text = str if parquet else object
    return pd.DataFrame(
        {
            c: pd.Series([], dtype=dtypes.get(c, text if c in VARIANT_COLUMNS else np.float32))
            for c in columns
        }
    )


def score_variants(
    model: Any,
    vcf: Any,
    genome: Any,
    *,
    ref_mismatch: str = "flag",
    strict: bool = False,
    rc_average: bool | None = None,
    batch_size: int = 256,
    device: str | None = None,
    progress: bool | None = False,
    part: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Score the effect of every variant on a model's outputs.

    Parameters
    ----------
    model
        A :class:`~seqcnn.bundle.Model`, a bundle folder, or a network with a ``.config``
        (what :func:`seqcnn.bundle.as_model` accepts).
    vcf
        A VCF or BCF file (plain, gzip or bgzip), or a DataFrame with the columns
        ``chrom``, ``pos`` (1-based), ``ref``, ``alt`` (and optionally ``id``).
    genome
        A :class:`~seqcnn.genome.Genome` or the path of an indexed FASTA reference.
    ref_mismatch
        ``"flag"`` (score them with the genome's bases, ``ref_match`` says so), ``"skip"``
        or ``"error"``, for variants whose REF is not the genome's.
    strict
        Make symbolic, missing and non-ACGTN alleles errors instead of skipping them.
    rc_average
        Average each score over both strands (``None``: if the model was trained with
        reverse-complement augmentation).
    batch_size
        Windows per forward pass.
    device
        Where the network runs (``None``: where it is).
    progress
        Show a progress bar on stderr (``None``: only when stderr is a terminal).
    part
        ``(k, n)``: score only the ``k``-th (from 1) of ``n`` parts of the variants, cut
        between the chunks one run scores at once (:class:`seqcnn.vcf.VariantReader`), so
        the tables of parts ``1..n``, concatenated in order (:func:`gather_variant_tables`),
        are the table of one run, bit for bit.

    Returns
    -------
    pandas.DataFrame
        One row per scored alternative allele, with the columns of :data:`VARIANT_COLUMNS`
        then :func:`effect_columns` (see the module docstring).

    Examples
    --------
    >>> effects = score_variants("seqcnn_model", "calls.vcf.gz", "hg19.fa.gz")  # doctest: +SKIP
    >>> effects.sort_values("bound_diff").head()  # doctest: +SKIP
    """
    import pandas as pd

    columns, frames, _, _ = _effect_frames(
        model, vcf, genome, ref_mismatch=ref_mismatch, strict=strict, rc_average=rc_average,
        batch_size=batch_size, device=device, progress=progress, stats=VariantStats(), part=part,
    )  # fmt: skip
    frames = list(frames)
    if not frames:
        return _empty_frame(columns)
    return pd.concat(frames, ignore_index=True)[columns]


def score_variants_file(
    model: Any,
    vcf: Any,
    genome: Any,
    out: str | os.PathLike | None,
    *,
    fmt: str | None = None,
    overwrite: bool = True,
    ref_mismatch: str = "flag",
    strict: bool = False,
    rc_average: bool | None = None,
    batch_size: int = 256,
    device: str | None = None,
    progress: bool | None = False,
    part: tuple[int, int] | None = None,
    attribution: str | None = None,
    attribution_top: int = 20,
    target: int | str | None = None,
) -> VariantStats:
    """Score every variant of a VCF and write the effects as a table, streaming.

    Parameters
    ----------
    out
        The table (TSV, CSV, either ``.gz``, or Parquet, from the extension or ``fmt``),
        written atomically: it appears only once complete.  ``None`` or ``"-"``: TSV on
        standard output.
    overwrite
        Replace an existing ``out`` (otherwise an error before any work).
    attribution
        ``"ism"`` or ``"saliency"``: also explain the ``attribution_top`` variants with the
        largest ``|<target>_diff|``: their reference and alternative attribution maps in
        ``NAME.npz`` and paired logos in ``NAME.html`` beside ``out`` (``NAME``: its name
        without the table's extensions; :mod:`seqcnn.variant_report`), each written
        atomically once the table is.
    target
        The output ranked and explained, by index or name (default: the first).

    The other parameters are those of :func:`score_variants`.

    Returns
    -------
    VariantStats
        Records read, rows written, REF mismatches, alleles skipped by reason, the files
        written besides the table.
    """
    from .tables import require_pyarrow, table_format, write_frames

    fmt, compress = table_format(out, fmt)
    if fmt == "parquet":
        require_pyarrow()
    to_file = out is not None and out != "-"
    extra = _attribution_paths(out, attribution) if attribution is not None else []
    for path in [out] * to_file + extra:
        if not overwrite and os.path.exists(path):
            raise UsageError("output already exists; use --force to replace it", path=str(path))
    stats = VariantStats()
    top = None if attribution is None else (attribution_top, 0 if target is None else target)
    columns, frames, model, kept = _effect_frames(
        model, vcf, genome, ref_mismatch=ref_mismatch, strict=strict, rc_average=rc_average,
        batch_size=batch_size, device=device, progress=progress, stats=stats, part=part, top=top,
    )  # fmt: skip
    write_frames(frames, out, columns, text_columns=VARIANT_COLUMNS, fmt=fmt, compress=compress,
                 empty=_empty_frame(columns, parquet=True))  # fmt: skip
    if kept is not None:
        from .variant_report import explain_variants

        summary = {"model": model.source, "variants": vcf if isinstance(vcf, (str, os.PathLike))
                   else "(table)", "genome": getattr(genome, "path", genome),
                   "scored": stats.summary()}  # fmt: skip
        name = kept.column[: -len("_diff")]
        stats.files = explain_variants(model, kept, *extra, method=attribution, target=name,
                                       batch_size=batch_size, summary=summary)  # fmt: skip
    return stats


def _attribution_paths(out, method: str) -> list:
    from .variant_report import ATTRIBUTION_METHODS, report_paths

    if method not in ATTRIBUTION_METHODS:
        raise UsageError(
            f"unknown attribution method '{method}'; choose one of {', '.join(ATTRIBUTION_METHODS)}"
        )
    if out is None or out == "-":
        raise UsageError("attributions are written beside the table: give it a file name (-o)")
    return list(report_paths(out))


def gather_variant_tables(
    paths, out: str | os.PathLike | None, *, fmt: str | None = None, overwrite: bool = True
) -> int:
    """Join the tables of ``score_variants_file(..., part=(k, n))`` for ``k = 1..n``, in that
    order, into the table of one run (the same bytes, for text tables).

    Parameters
    ----------
    paths
        The parts' tables (TSV, CSV, either ``.gz``, or Parquet; formats may be mixed), all
        with the same columns.
    out
        The table (format from the extension or ``fmt``), written atomically; ``None`` or
        ``"-"``: TSV on standard output.

    Returns
    -------
    int
        The rows written.
    """
    from .errors import DataError
    from .tables import read_frames, require_pyarrow, table_columns, table_format, write_frames

    if isinstance(paths, (str, os.PathLike)) or not len(paths):
        raise UsageError("give the tables of the parts to gather, in order")
    fmt, compress = table_format(out, fmt)
    if fmt == "parquet" or any(table_format(p, None, kind="input")[0] == "parquet" for p in paths):
        require_pyarrow()
    if out not in (None, "-") and not overwrite and os.path.exists(out):
        raise UsageError("output already exists; use --force to replace it", path=str(out))
    columns = table_columns(paths[0])
    if columns[: len(VARIANT_COLUMNS)] != list(VARIANT_COLUMNS) or len(columns) == len(
        VARIANT_COLUMNS
    ):
        raise DataError(
            f"not a table of variant effects: its columns should start with "
            f"{', '.join(VARIANT_COLUMNS)}, then the scores",
            path=str(paths[0]),
        )
    for path in paths[1:]:
        if table_columns(path) != columns:
            raise DataError(f"its columns differ from those of {paths[0]}", path=str(path))
    empty = _empty_frame(columns, parquet=True)
    dtypes = {c: str if t.kind == "O" else t for c, t in empty.dtypes.items()}
    frames = (frame for path in paths for frame in read_frames(path, dtypes))
    return write_frames(frames, out, columns, text_columns=VARIANT_COLUMNS, fmt=fmt,
                        compress=compress, empty=empty)  # fmt: skip

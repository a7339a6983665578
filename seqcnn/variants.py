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
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .alleles import REF_MATCH_VALUES, REF_MISMATCH, VARIANT_COLUMNS, variant_codes
from .errors import UsageError
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
    "score_variants",
    "score_variants_file",
    "write_frames",
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
                   device, progress, stats: VariantStats):  # fmt: skip
    """Check everything that can be checked up front; the columns and the frames."""
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
    reader = VariantReader(vcf, strict=strict, chunk_size=chunk)
    columns = [*VARIANT_COLUMNS, *effect_columns(names, model.transform)]
    frames = _frames(model, reader, genome, names, ref_mismatch, rc_average, batch_size,
                     progress, stats)  # fmt: skip
    return columns, frames


def _frames(model, reader, genome, names, ref_mismatch, rc_average, batch_size, progress,
            stats) -> Iterator[pd.DataFrame]:  # fmt: skip
    import pandas as pd

    from ._progress import progress_bar
    from .forward import run_network
    from .onehot import reverse_complement_codes

    def prepared():
        for alleles in reader:
            codes = variant_codes(alleles, genome, model.input_length, ref_mismatch=ref_mismatch,
                                  name=reader.name)  # fmt: skip
            yield len(alleles), codes

    chunks, complete = prefetched(prepared()), False
    try:
        with progress_bar(progress, desc="scoring variants", unit=" variants") as bar:
            for n_alleles, codes in chunks:
                stats.mismatch += codes.mismatch
                stats.swapped += codes.swapped
                if codes.dropped:
                    stats.skipped["REF mismatch"] += codes.dropped
                bar.update(n_alleles)
                n = len(codes.ref)
                if not n:
                    continue
                x = [codes.ref, codes.alt]
                if rc_average:
                    x += [reverse_complement_codes(codes.ref), reverse_complement_codes(codes.alt)]
                raw = run_network(model.network, np.concatenate(x), batch_size=batch_size,
                                  n_encoding=model.n_encoding)  # fmt: skip
                raw = raw.reshape(len(x) // 2, 2, n, len(names))
                scores = effect_scores(raw[:, 0], raw[:, 1], model.transform, names)
                frame = pd.DataFrame({**codes.columns, **scores})
                stats.rows += n
                yield frame.astype({"pos": np.int64, "norm_pos": np.int64})
        complete = True
    finally:
        chunks.close()  # stops the reading thread before its counts are taken
        stats.records = reader.records
        stats.skipped.update(reader.skipped)
        if complete:
            _report(stats, reader.name, ref_mismatch)


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


def _empty_frame(columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    dtypes = {"pos": np.int64, "norm_pos": np.int64}
    return pd.DataFrame(
        {
            c: pd.Series([], dtype=dtypes.get(c, object if c in VARIANT_COLUMNS else np.float32))
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

    columns, frames = _effect_frames(
        model, vcf, genome, ref_mismatch=ref_mismatch, strict=strict, rc_average=rc_average,
        batch_size=batch_size, device=device, progress=progress, stats=VariantStats(),
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

    The other parameters are those of :func:`score_variants`.

    Returns
    -------
    VariantStats
        Records read, rows written, REF mismatches, alleles skipped by reason.
    """
    from .tables import require_pyarrow, table_format

    fmt, compress = table_format(out, fmt)
    if fmt == "parquet":
        require_pyarrow()
    to_file = out is not None and out != "-"
    if to_file and not overwrite and os.path.exists(out):
        raise UsageError("output already exists; use --force to replace it", path=str(out))
    stats = VariantStats()
    columns, frames = _effect_frames(
        model, vcf, genome, ref_mismatch=ref_mismatch, strict=strict, rc_average=rc_average,
        batch_size=batch_size, device=device, progress=progress, stats=stats,
    )  # fmt: skip
    write_frames(frames, out, columns, fmt=fmt, compress=compress)
    return stats


# ------------------------------------------------------------------------------ writing


def write_frames(frames, out, columns: list[str], *, fmt: str = "tsv",
                 compress: bool = False) -> int:  # fmt: skip
    """Write DataFrames with ``columns`` as one table: text (``%.9g`` floats, ``\\n`` line
    ends, UTF-8) or Parquet, to a file atomically or to standard output (``None``/``"-"``).

    The first frame is computed before anything is written, so that an error in the first
    chunk leaves nothing behind on standard output either.
    """
    import gzip
    import itertools
    import sys

    from ._io import atomic_path

    frames = iter(frames)
    first = next(frames, None)
    chained = (frame[columns] for frame in itertools.chain([first] if first is not None else [],
                                                          frames))  # fmt: skip
    if out is None or out == "-":
        return _write_text(chained, sys.stdout, columns, fmt)
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            return _write_parquet(chained, tmp, columns)
        opener = gzip.open if compress else open
        with opener(tmp, "wt", newline="", encoding="utf-8") as handle:
            return _write_text(chained, handle, columns, fmt)


def _write_text(frames, handle, columns: list[str], fmt: str) -> int:
    import csv

    separator = "," if fmt == "csv" else "\t"
    special = separator + '"\r\n'
    # One %-format per row: several times faster than pandas' to_csv with a float format.
    line = separator.join("%s" if c in VARIANT_COLUMNS else "%.9g" for c in columns) + "\n"
    handle.write(separator.join(columns) + "\n")
    rows = 0
    for frame in frames:
        values = [frame[c].tolist() for c in columns]
        texts = "".join(str(v) for c, column in zip(columns, values, strict=True)
                        if c in VARIANT_COLUMNS for v in column)  # fmt: skip
        if any(char in texts for char in special):  # quoted as the csv module does
            formatted = [column if c in VARIANT_COLUMNS else [f"{v:.9g}" for v in column]
                         for c, column in zip(columns, values, strict=True)]  # fmt: skip
            csv.writer(handle, delimiter=separator, lineterminator="\n").writerows(
                zip(*formatted, strict=True)
            )
        else:
            handle.write("".join(line % row for row in zip(*values, strict=True)))
        rows += len(frame)
    handle.flush()
    return rows


def _write_parquet(frames, path, columns: list[str]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer, rows = None, 0
    try:
        for frame in frames:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table)
            rows += len(frame)
        if writer is None:
            table = pa.Table.from_pandas(_empty_frame(columns).astype(
                {c: str for c in VARIANT_COLUMNS if c not in ("pos", "norm_pos")}
            ), preserve_index=False)  # fmt: skip
            pq.write_table(table, str(path))
    finally:
        if writer is not None:
            writer.close()
    return rows

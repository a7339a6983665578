"""``seqcnn predict``: FASTA -> table of predictions, by :func:`seqcnn.predict.predict_file`."""

from __future__ import annotations

from pathlib import Path

import click

from ..forward import DEVICES
from ..predict import AGGREGATES
from ..tables import TABLE_FORMATS
from .options import (
    CONTEXT,
    force_option,
    progress,
    quiet_option,
    setup_logging,
    threads_option,
    use_threads,
)

# ".tsv, .csv, .parquet"
_EXTENSIONS = ", ".join(f".{fmt}" for fmt in TABLE_FORMATS)


@click.command(context_settings=CONTEXT)
@click.argument("fasta", type=click.Path(allow_dash=True))
@click.option(
    "-m",
    "--model",
    "model_path",
    type=click.Path(),
    help="Model bundle folder [default: $SEQCNN_MODEL, else ./seqcnn_model].",
)
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(allow_dash=True),
    help=f"Output file, written atomically; format from the extension: {_EXTENSIONS}, "
    "with .gz to compress tsv/csv [default: TSV on stdout].  Per-position models: .npz, a "
    "folder of .npy files (a name without extension) or tracks .bw/.bedgraph[.gz].",
)
@click.option("--logits", is_flag=True, help="Raw outputs instead of probabilities.")
@click.option(
    "--rc-average/--no-rc-average",
    default=None,
    help="Average each prediction with that of the reverse complement "
    "[default: on for models trained with --rc-augment].",
)
@click.option(
    "--per-window",
    is_flag=True,
    help="One row per window (id, start, end) instead of one per record.",
)
@click.option(
    "--window-stride",
    type=click.IntRange(min=1),
    help="Step between windows of a sequence longer than the model input "
    "[default: half the input length].",
)
@click.option(
    "--aggregate",
    type=click.Choice(AGGREGATES),
    default="max",
    show_default=True,
    help="How the windows of a long sequence make one row.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Windows per forward pass (on a CPU with 2+ threads: the most per sub-batch of the "
    "two parallel streams, which size them by the model's activations).",
)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@threads_option
@force_option("file")
@quiet_option
def predict(
    fasta,
    model_path,
    out,
    logits,
    rc_average,
    per_window,
    window_stride,
    aggregate,
    batch_size,
    device,
    threads,
    force,
    quiet,
):
    """Predict every sequence of a FASTA file with a trained model.

    FASTA may be plain, gzip or bgzip; '-' reads standard input.  The output has the record
    id and one column per model output (probabilities unless --logits).

    \b
    Lengths: the model scores sequences of its input length L.
      shorter than L  padded with N on both sides (centred)
      longer than L   scored in windows of L every --window-stride bases (default L/2, the
                      last window aligned to the end); one row per record with the
                      --aggregate max/mean of its windows, or one row per window
                      (0-based, end-exclusive start/end) with --per-window

    \b
    Per-position models (unet, bpnet): a track per output over the central bases of
    each record, to -o out.npz (one array per record id), a folder (values.npy,
    memory-mappable) or, for ids chrom:start-end, genome tracks out.bw/out.bedgraph.gz.

    \b
    Examples:
      seqcnn predict peaks.fa.gz > predictions.tsv
      seqcnn predict peaks.fa -m seqcnn_model --rc-average -o predictions.parquet
      zcat chr21.fa.gz | seqcnn predict - --per-window --window-stride 50 -o scan.tsv.gz
    """
    from .._io import check_output
    from ..bundle import load_model
    from ..predict import predict_file

    setup_logging(quiet)
    use_threads(threads)
    model = load_model(model_path)
    if out not in (None, "-"):  # before any work; checked again on writing
        # Only a per-position model writes a folder of arrays (an out without a suffix).
        folder = model.head_kind == "position" and not Path(out).suffix
        check_output(out, overwrite=force, folder=folder)
    rows = predict_file(
        model,
        fasta,
        out,
        batch_size=batch_size,
        rc_average=rc_average,
        logits=logits,
        per_window=per_window,
        window_stride=window_stride,
        aggregate=aggregate,
        device=device,
        progress=progress(quiet),
    )
    if rows == 0:  # a header-only table is easy to miss; say why it is empty
        source = "standard input" if fasta == "-" else fasta
        click.echo(f"seqcnn: warning: no records read from {source}", err=True)
    if out not in (None, "-") and not quiet:
        click.echo(f"wrote {out}: {rows} {'windows' if per_window else 'records'}", err=True)

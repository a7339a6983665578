"""``seqcnn scan``: a model along a genome -> tracks, by :func:`seqcnn.scan.scan`; the tracks
of parts -> one track, by :func:`seqcnn.tracks.gather_tracks` (``--gather``)."""

from __future__ import annotations

import click

from ..errors import UsageError
from ..forward import DEVICES
from ..genome import MAX_N_FRACTION
from ..scan import SCAN_FORMATS
from .options import (
    CONTEXT,
    force_option,
    part_option,
    progress,
    quiet_option,
    setup_logging,
    threads_option,
    use_threads,
)

# Options that only scanning uses (an error with --gather when given on the command line).
_SCAN_ONLY = ("model_path", "regions", "stride", "target", "max_n_fraction", "logits",
              "rc_average", "batch_size", "device", "part")  # fmt: skip


@click.command(context_settings=CONTEXT)
@click.argument("parts", nargs=-1, type=click.Path())
@click.option(
    "-m",
    "--model",
    "model_path",
    type=click.Path(),
    help="Model bundle folder [default: $SEQCNN_MODEL, else ./seqcnn_model].",
)
@click.option(
    "--genome",
    required=True,
    type=click.Path(),
    help="Indexed reference FASTA (plain or bgzip; a missing .fai/.gzi is built).",
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(),
    help="Track .bw or .bedgraph[.gz] (one per output: track.NAME.bw), or a table of every "
    "window .tsv[.gz], .csv[.gz], .parquet (not for per-position models); written atomically.",
)
@click.option(
    "--regions",
    multiple=True,
    help="What to scan: a contig (chr20), a region (chr20:1,000,000-2,000,000) or a BED file; "
    "repeat for several [default: the whole genome].",
)
@click.option(
    "--stride",
    type=click.IntRange(min=1),
    help="Bases between windows [default: half the model's input length; a per-position "
    "model's output length, so that its outputs abut].",
)
@click.option(
    "--target",
    multiple=True,
    help="Output to write, by name or index; repeat for several [default: all].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SCAN_FORMATS),
    help="Output format [default: from the extension].",
)
@click.option(
    "--max-n-fraction",
    type=click.FloatRange(0, 1),
    default=MAX_N_FRACTION,
    show_default=True,
    help="Windows with a larger share of N are skipped (a gap in the track).",
)
@click.option("--logits", is_flag=True, help="Raw outputs instead of probabilities.")
@click.option(
    "--rc-average/--no-rc-average",
    default=None,
    help="Average each window with its reverse complement "
    "[default: on for models trained with --rc-augment].",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@part_option(
    "Scan only the K-th of N parts with about as many windows each (write a bedGraph; "
    "join the parts with --gather)."
)
@click.option(
    "--gather",
    is_flag=True,
    help="Join PARTS, the bedGraph files (or folders) of --part 1/N..N/N in order, into the "
    "track -o of the whole scan.",
)
@threads_option
@force_option("file")
@quiet_option
@click.pass_context
def scan(
    ctx,
    parts,
    model_path,
    genome,
    out,
    regions,
    stride,
    target,
    fmt,
    max_n_fraction,
    logits,
    rc_average,
    batch_size,
    device,
    part,
    gather,
    threads,
    force,
    quiet,
):
    """Predict windows all along a genome and write a track per model output.

    Windows of the model's input length L start every --stride S bases from each contig's
    start (0-based) and lie wholly inside a region; each window's value is written for its
    central S bases, so the windows tile the track.  Windows with too many N are skipped.
    A per-position model (unet, bpnet) writes a value per base: each window's output over
    its central L_out bases, cut to its central S bases (default S = L_out: outputs abut).

    \b
    Examples:
      seqcnn scan -m ctcf_model --genome hg19.fa.gz --regions chr20 -o ctcf.chr20.bw
      seqcnn scan -m model --genome hg19.fa.gz --regions peaks.bed --stride 10 \\
          --target CTCF -o ctcf.bedgraph.gz
      seqcnn scan -m model --genome hg19.fa.gz --part 3/8 -o parts/3.bedgraph
      seqcnn scan --gather parts/1.bedgraph ... parts/8.bedgraph --genome hg19.fa.gz -o all.bw
    """
    setup_logging(quiet)
    if gather:
        _gather(ctx, parts, genome, out, fmt, force, quiet)
        return
    if parts:
        raise UsageError(f"unexpected argument '{parts[0]}': part files go with --gather")
    if part and (fmt == "bigwig" or str(out).lower().endswith((".bw", ".bigwig"))):
        raise UsageError("--gather joins parts written as bedGraph: -o part.bedgraph")
    from ..bundle import load_model
    from ..scan import scan as scan_api
    from ..tables import value_columns

    use_threads(threads)
    model = load_model(model_path)
    names = (list(model.output_names) if model.head_kind == "position"
             else value_columns(model.output_names, model.output_shape))  # fmt: skip
    # An index given as text is an index unless an output has that name.
    targets = [int(t) if t.isdigit() and t not in names else t for t in target] or None
    result = scan_api(
        model,
        genome,
        out,
        regions=list(regions) or None,
        stride=stride,
        targets=targets,
        max_n_fraction=max_n_fraction,
        fmt=fmt,
        batch_size=batch_size,
        rc_average=rc_average,
        logits=logits,
        device=device,
        progress=progress(quiet),
        part=part,
        overwrite=force,
    )
    if not quiet:
        files = ", ".join(str(p) for p in result.paths)
        skipped = f", {result.skipped:,} skipped (too many N)" if result.skipped else ""
        click.echo(f"wrote {files}: {result.windows:,} windows{skipped}", err=True)


def _gather(ctx: click.Context, parts, genome, out, fmt, force, quiet) -> None:
    from click.core import ParameterSource

    from ..tracks import gather_tracks

    flags = {p.name: p.opts[-1] for p in ctx.command.params}
    defaults = (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)
    given = [flags[n] for n in _SCAN_ONLY if ctx.get_parameter_source(n) not in defaults]
    if given:
        raise UsageError(f"{', '.join(given)} go with scanning, not --gather")
    if not parts:
        raise UsageError("--gather needs the parts' bedGraph files (or folders), in order")
    paths = gather_tracks(list(parts), out, genome, fmt=fmt, overwrite=force)
    if not quiet:
        files = ", ".join(str(p) for p in paths)
        click.echo(f"wrote {files} from {len(parts)} parts", err=True)

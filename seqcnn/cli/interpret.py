"""``seqcnn interpret``: motifs, logos, matches, a report (:func:`seqcnn.interpret.interpret`)."""

from __future__ import annotations

import click

from ..attribution import METHODS, POSITION_TARGETS
from ..interpret import OVERVIEW_ORDERS
from ..plots import FIGURE_FORMATS
from .options import (
    CONTEXT,
    DEVICE_HELP,
    progress,
    quiet_option,
    setup_logging,
    threads_option,
    use_threads,
)


@click.command(context_settings=CONTEXT)
@click.argument("sequences", type=click.Path(allow_dash=True))
@click.option(
    "-m",
    "--model",
    "model_path",
    type=click.Path(),
    help="Model bundle folder [default: $SEQCNN_MODEL or ./seqcnn_model].",
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(),
    help="Folder to write (written atomically).",
)
@click.option(
    "--threshold",
    type=float,
    default=0.5,
    show_default=True,
    help="A window is a site when its activation exceeds this fraction of the filter's maximum.",
)
@click.option("--top-k", type=int, help="Use each filter's K best windows instead of --threshold.")
@click.option(
    "--min-sites",
    type=int,
    default=10,
    show_default=True,
    help="Filters with fewer sites are reported but not exported as motifs.",
)
@click.option("--pseudocount", type=float, default=0.1, show_default=True)
@click.option("--trim", is_flag=True, help="Cut low-information edges (< 0.2 bits) off motifs.")
@click.option(
    "--motif-db",
    default="jaspar",
    show_default=True,
    help="'jaspar' (JASPAR CORE vertebrates, from pyjaspar), a MEME motif file, or 'none'.",
)
@click.option(
    "--matches", "n_matches", type=int, default=3, show_default=True, help="Matches per filter."
)
@click.option("--no-influence", is_flag=True, help="Skip filter influence (nullification).")
@click.option(
    "--order",
    type=click.Choice(OVERVIEW_ORDERS),
    default="influence",
    show_default=True,
    help="Order of the overview figure and the report table.",
)
@click.option(
    "--max-sequences",
    type=int,
    default=10000,
    show_default=True,
    help="Use a random sample (fixed seed) of at most this many sequences; 0 for all.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(FIGURE_FORMATS),
    help="Also write logos in this format (repeatable); PNG is always written.",
)
@click.option(
    "--attribution",
    type=click.Choice(METHODS),
    help="Attribution maps of the sequences the --target output scores highest: gradient x "
    "input, in-silico mutagenesis or DeepLIFT/SHAP.",
)
@click.option(
    "--target",
    help="Output to explain with --attribution or --discover (name or index); without it "
    "--discover explains each output over the sequences predicted for it, on its own.",
)
@click.option(
    "--position-target",
    type=click.Choice(POSITION_TARGETS),
    help="Per-position models: what --attribution/--discover explain of the target track: "
    "counts (log total), profile (BPNet's softmax-weighted profile) or sum (of the logits) "
    "[default: counts for profile models, sum for segmentation].",
)
@click.option(
    "--attribution-sequences",
    type=int,
    default=5,
    show_default=True,
    help="Attribution maps for this many sequences (those scored highest for --target).",
)
@click.option(
    "--discover",
    is_flag=True,
    help="Also find motifs from DeepLIFT/SHAP attributions with TF-MoDISco (any "
    "architecture; minutes): OUT/discovery/ and a report section.",
)
@click.option(
    "--discover-sequences",
    type=int,
    default=5000,
    show_default=True,
    help="--discover uses a random sample (fixed seed) of at most this many sequences; 0 for all.",
)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@threads_option
@click.option("-f", "--force", is_flag=True, help="Replace an existing output folder.")
@quiet_option
def interpret(
    sequences,
    model_path,
    out,
    threshold,
    top_k,
    min_sites,
    pseudocount,
    trim,
    motif_db,
    n_matches,
    no_influence,
    order,
    max_sequences,
    formats,
    attribution,
    target,
    position_target,
    attribution_sequences,
    discover,
    discover_sequences,
    batch_size,
    device,
    threads,
    force,
    quiet,
):
    """Explain a model: filter motifs, logos, JASPAR matches, influence and a report.

    SEQUENCES is a FASTA file (plain, gzip or bgzip; '-' for standard input), padded or
    cropped to the model's input length (with a warning when cropped).  Writes
    OUT/report.html (self-contained), filters.tsv, matches.tsv, filters.meme, matrices/,
    logos/ and overview.png.

    \b
    Examples:
      seqcnn interpret -m seqcnn_model peaks.fa -o peaks_interpret
      seqcnn interpret peaks.fa -o out --motif-db my_motifs.meme --format svg
      seqcnn interpret peaks.fa -o out --attribution ism --target CTCF --force
      seqcnn interpret peaks.fa -o out --discover --target CTCF
    """
    from ..interpret import interpret as interpret_api

    setup_logging(quiet)
    use_threads(threads)
    result = interpret_api(
        model_path,
        sequences,
        out,
        threshold=threshold,
        top_k=top_k,
        min_sites=min_sites,
        pseudocount=pseudocount,
        trim=trim,
        motif_db=motif_db,
        n_matches=n_matches,
        influence=not no_influence,
        order=order,
        max_sequences=max_sequences,
        formats=formats,
        attribution=attribution,
        target=target,
        position_target=position_target,
        attribution_sequences=attribution_sequences,
        discover=discover,
        discover_sequences=discover_sequences or None,
        batch_size=batch_size,
        overwrite=force,
        progress=progress(quiet),
        device=device,
    )
    click.echo(result.summary())

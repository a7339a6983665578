"""``seqcnn variants``: VCF + genome -> table of variant effects, by
:func:`seqcnn.variants.score_variants_file`."""

from __future__ import annotations

import click

from ..alleles import REF_MISMATCH
from ..forward import DEVICES
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
@click.argument("vcf", type=click.Path())
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
    type=click.Path(allow_dash=True),
    help=f"Output table, written atomically; format from the extension: {_EXTENSIONS}, "
    "with .gz to compress tsv/csv [default: TSV on stdout].",
)
@click.option(
    "--ref-mismatch",
    type=click.Choice(REF_MISMATCH),
    default="flag",
    show_default=True,
    help="A REF that is not the genome's: flag it in the ref_match column and score with "
    "the genome's bases, skip the variant, or stop with an error.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Symbolic (<DEL>, *), missing (.) and non-ACGTN alleles are errors [default: "
    "skipped and counted].",
)
@click.option(
    "--rc-average/--no-rc-average",
    default=None,
    help="Average every score over both strands "
    "[default: on for models trained with --rc-augment].",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@threads_option
@force_option("file")
@quiet_option
def variants(
    vcf,
    model_path,
    genome,
    out,
    ref_mismatch,
    strict,
    rc_average,
    batch_size,
    device,
    threads,
    force,
    quiet,
):
    """Score the effect of every variant of a VCF/BCF file on the model's outputs.

    VCF may be plain, gzip or bgzip, or BCF.  Each ALT allele is a row: a reference and an
    alternative window of the model's input length L, both with the variant's first base at
    index L//2 (insertions and deletions are normalised and left-aligned first, so every
    way of writing one scores the same; see docs/variants.md).

    \b
    Columns: chrom pos id ref alt ref_match norm_pos norm_ref norm_alt, then per output
      NAME_ref NAME_alt NAME_diff (alt - ref, on the output scale), and NAME_logit_diff
      (probabilities) or NAME_log2fc (exp outputs).  ref_match: match, mismatch or
      swapped (ALT is the genome's base).

    \b
    Examples:
      seqcnn variants calls.vcf.gz --genome hg19.fa.gz -m ctcf_model -o effects.tsv
      seqcnn variants calls.bcf --genome hg38.fa --ref-mismatch skip -o effects.parquet
    """
    from .._io import check_output
    from ..variants import score_variants_file

    if out not in (None, "-"):  # before the model is loaded; checked again on writing
        check_output(out, overwrite=force)
    setup_logging(quiet)
    use_threads(threads)
    stats = score_variants_file(
        model_path,
        vcf,
        genome,
        out,
        overwrite=force,
        ref_mismatch=ref_mismatch,
        strict=strict,
        rc_average=rc_average,
        batch_size=batch_size,
        device=device,
        progress=progress(quiet),
    )
    if out not in (None, "-") and not quiet:
        click.echo(f"wrote {out}: {stats.summary()}", err=True)

"""``seqcnn variants``: VCF + genome -> table of variant effects, by
:func:`seqcnn.variants.score_variants_file`; the tables of parts -> one, by
:func:`seqcnn.variants.gather_variant_tables` (``--gather``)."""

from __future__ import annotations

import click

from ..alleles import REF_MISMATCH
from ..errors import UsageError
from ..forward import DEVICES
from ..tables import TABLE_FORMATS
from ..variant_report import ATTRIBUTION_METHODS, DEFAULT_TOP
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

# ".tsv, .csv, .parquet"
_EXTENSIONS = ", ".join(f".{fmt}" for fmt in TABLE_FORMATS)
# Options that only scoring uses (an error with --gather when given on the command line).
_SCORE_ONLY = ("model_path", "genome", "ref_mismatch", "strict", "rc_average", "batch_size",
               "device", "part", "attribution", "attribution_top", "target")  # fmt: skip


@click.command(context_settings=CONTEXT)
@click.argument("vcf", nargs=-1, type=click.Path(), metavar="VCF")
@click.option(
    "-m",
    "--model",
    "model_path",
    type=click.Path(),
    help="Model bundle folder [default: $SEQCNN_MODEL, else ./seqcnn_model].",
)
@click.option(
    "--genome",
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
@click.option(
    "--attribution",
    type=click.Choice(ATTRIBUTION_METHODS),
    help="Also explain the variants with the largest |TARGET_diff|: their reference and "
    "alternative attribution maps in NAME.npz and paired logos in NAME.html beside the "
    "table -o NAME.tsv.",
)
@click.option(
    "--attribution-top",
    type=click.IntRange(min=1),
    default=DEFAULT_TOP,
    show_default=True,
    help="How many variants --attribution explains.",
)
@click.option(
    "--target",
    help="The output --attribution ranks by and explains, by name or index [default: the first].",
)
@part_option(
    "Score only the K-th of N parts of the variants (join the parts' tables with "
    "--gather: the table of one run)."
)
@click.option(
    "--gather",
    is_flag=True,
    help="Join the tables of --part 1/N..N/N, given in order as VCF arguments, into -o.",
)
@threads_option
@force_option("file")
@quiet_option
@click.pass_context
def variants(
    ctx,
    vcf,
    model_path,
    genome,
    out,
    ref_mismatch,
    strict,
    rc_average,
    batch_size,
    device,
    attribution,
    attribution_top,
    target,
    part,
    gather,
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
      seqcnn variants calls.vcf.gz --genome hg19.fa.gz -m ctcf_model -o effects.tsv \\
          --attribution ism --attribution-top 10       # + effects.npz, effects.html
      seqcnn variants calls.vcf.gz --genome hg19.fa.gz -m ctcf_model --part 2/8 -o p2.tsv
      seqcnn variants --gather p1.tsv p2.tsv ... p8.tsv -o effects.tsv
    """
    from .._io import check_output
    from ..variants import gather_variant_tables, score_variants_file

    if out not in (None, "-"):  # before the model is loaded; checked again on writing
        check_output(out, overwrite=force)
    setup_logging(quiet)
    if gather:
        _check_gather(ctx, vcf)
        rows = gather_variant_tables(list(vcf), out, overwrite=force)
        if out not in (None, "-") and not quiet:
            click.echo(f"wrote {out}: {rows} variants from {len(vcf)} parts", err=True)
        return
    if len(vcf) != 1:
        what = f"unexpected argument '{vcf[1]}': part tables go with --gather" if vcf else ""
        raise UsageError(what or "give one VCF/BCF file")
    if genome is None:
        raise UsageError("missing option '--genome': the reference genome (indexed FASTA)")
    if attribution is None and (target is not None or _given(ctx, "attribution_top")):
        raise UsageError("--target and --attribution-top go with --attribution")
    use_threads(threads)
    stats = score_variants_file(
        model_path,
        vcf[0],
        genome,
        out,
        overwrite=force,
        ref_mismatch=ref_mismatch,
        strict=strict,
        rc_average=rc_average,
        batch_size=batch_size,
        device=device,
        progress=progress(quiet),
        part=part,
        attribution=attribution,
        attribution_top=attribution_top,
        target=target,
    )
    if out not in (None, "-") and not quiet:
        files = "".join(f", {path}" for path in stats.files)
        click.echo(f"wrote {out}{files}: {stats.summary()}", err=True)


def _given(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` was given (not left at its default)."""
    from click.core import ParameterSource

    defaults = (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)
    return ctx.get_parameter_source(name) not in defaults


def _check_gather(ctx: click.Context, tables) -> None:
    flags = {p.name: p.opts[-1] for p in ctx.command.params}
    given = [flags[n] for n in _SCORE_ONLY if _given(ctx, n)]
    if given:
        raise UsageError(f"{', '.join(given)} go with scoring, not --gather")
    if not tables:
        raise UsageError("--gather needs the parts' tables, in order")

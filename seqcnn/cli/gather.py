"""``seqcnn gather``: prediction tables -> one table (:func:`seqcnn.shard.gather_tables`)."""

from __future__ import annotations

import click

from .options import CONTEXT, force_option


@click.command(context_settings=CONTEXT)
@click.argument("tables", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(allow_dash=True),
    help="Output file, written atomically; format from the extension as for predict "
    "[default: TSV on stdout].",
)
@force_option("file")
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def gather(tables, out, force, quiet):
    """Concatenate prediction tables in the order given, with one header.

    TABLES are tables from 'seqcnn predict' with the same columns (.tsv, .csv, .gz,
    .parquet; formats may be mixed).  Gathering the tables of 'seqcnn split' shards, in shard
    order, gives the table of the whole file.

    \b
    Examples:
      seqcnn gather tables/shard_000.tsv tables/shard_001.tsv -o predictions.tsv
      seqcnn gather tables/shard_*.parquet -o predictions.parquet   # names sort in order
    """
    from .._io import check_output
    from ..shard import gather_tables

    if out not in (None, "-"):
        check_output(out, overwrite=force)
    rows = gather_tables(list(tables), out)
    if out not in (None, "-") and not quiet:
        click.echo(f"wrote {out}: {rows} rows from {len(tables)} tables", err=True)

"""``seqcnn split``: a FASTA file -> shards of whole batches (:func:`seqcnn.shard.split_fasta`)."""

from __future__ import annotations

import click

from .options import CONTEXT, force_option


@click.command(context_settings=CONTEXT)
@click.argument("fasta", type=click.Path())
@click.option(
    "-n",
    "--shards",
    "n_shards",
    required=True,
    type=click.IntRange(min=1),
    help="Number of shards (more than records: the last ones are empty files).",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write the shards into (created if missing).",
)
@click.option(
    "--pattern",
    default="shard_{index}.fa",
    show_default=True,
    help="Shard file name; {index} is the shard number (000, 001, ...); .gz compresses.",
)
@click.option(
    "--multiple-of",
    "multiple",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Shards hold whole multiples of this many records (predict's --batch-size), so "
    "gathered predictions equal one run bit for bit; 1 balances to one record.",
)
@force_option("shards")
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def split(fasta, n_shards, out_dir, pattern, multiple, force, quiet):
    """Split a FASTA file into shards of consecutive records, to predict them in parallel.

    Shard k holds the next records in input order, as many as possible in whole multiples
    of --multiple-of records (the batch size of 'seqcnn predict').  Records are copied
    unchanged; the file is streamed twice, never loaded whole.  Gather the shards'
    predictions with 'seqcnn gather' (workflows/Snakefile does both).

    \b
    Examples:
      seqcnn split windows.fa.gz -n 20 -o shards
      seqcnn predict shards/shard_000.fa -o tables/shard_000.tsv   # one job per shard
      seqcnn split windows.fa.gz -n 200 -o shards --pattern 'part_{index}.fa.gz'
    """
    from pathlib import Path

    from .._io import check_output
    from ..shard import shard_names, split_fasta

    for name in shard_names(n_shards, pattern):  # before the file is read
        check_output(Path(out_dir) / name, overwrite=force)
    shards = split_fasta(fasta, n_shards, out_dir, pattern=pattern, multiple=multiple)
    if not quiet:
        sizes = sorted({shard.records for shard in shards})
        shown = " or ".join(map(str, sizes))
        click.echo(f"wrote {len(shards)} shards of {shown} records to {out_dir}", err=True)

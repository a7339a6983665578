"""``seqcnn encode``: FASTA (+ labels) -> dataset folder, by :func:`seqcnn.dataset.encode`."""

from __future__ import annotations

import click

from ..alphabet import CROP_MODES, N_ENCODINGS
from ..labels import MISSING_POLICIES, TASKS
from ..threads import MAX_WORKERS
from .options import CONTEXT, progress, quiet_option, split_list, threads_option, use_threads


@click.command(context_settings=CONTEXT)
@click.argument("fasta", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(),
    help="Dataset folder to write (written atomically).",
)
@click.option(
    "--labels",
    type=click.Path(),
    help="Label table (.tsv/.csv, may be .gz) with an id column and label columns.",
)
@click.option("--id-column", help="Id column of the label table [default: 'id' or the first].")
@click.option(
    "--label-columns", help="Comma-separated label columns (table) or header keys [default: all]."
)
@click.option(
    "--class-per-file",
    is_flag=True,
    help="Each FASTA file is one class (two files: binary, the first file positive).",
)
@click.option(
    "--classes", help="Comma-separated class names for --class-per-file [default: file names]."
)
@click.option(
    "--header-labels",
    is_flag=True,
    help="Read labels from 'key=value' pairs in the FASTA headers ('>seq1 label=1').",
)
@click.option(
    "--task",
    type=click.Choice(TASKS),
    help="Learning task [default: inferred from the labels].",
)
@click.option(
    "--missing-labels",
    type=click.Choice(MISSING_POLICIES),
    default="error",
    show_default=True,
    help="Records with a missing label (empty, NA, NaN, '.', ...): an error, dropped, or "
    "(multilabel, regression) masked out of the loss.",
)
@click.option("--length", type=int, help="Pad with N or crop every sequence to this length.")
@click.option(
    "--crop",
    type=click.Choice(CROP_MODES),
    default="center",
    show_default=True,
    help="Which part to keep when cropping (and where to pad).",
)
@click.option(
    "--n-encoding",
    type=click.Choice(N_ENCODINGS),
    default="zeros",
    show_default=True,
    help="How N and IUPAC ambiguity codes become one-hot values.",
)
@click.option(
    "--shuffled-negatives",
    is_flag=True,
    help="All records are positives; add dinucleotide-shuffled copies as negatives (binary).",
)
@click.option(
    "--shuffle-copies",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Shuffled negatives per positive.",
)
@click.option(
    "--shuffle-seed", type=int, default=0, show_default=True, help="Seed of the shuffles."
)
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    help="Processes reading a large plain FASTA at once "
    f"[default: --threads, at most {MAX_WORKERS}].",
)
@threads_option
@click.option("-f", "--force", is_flag=True, help="Replace an existing output folder.")
@quiet_option
def encode(
    fasta,
    out,
    labels,
    id_column,
    label_columns,
    class_per_file,
    classes,
    header_labels,
    task,
    missing_labels,
    length,
    crop,
    n_encoding,
    shuffled_negatives,
    shuffle_copies,
    shuffle_seed,
    workers,
    threads,
    force,
    quiet,
):
    """Encode FASTA file(s) and labels into a dataset folder for training.

    FASTA may be plain, gzip or bgzip; '-' reads standard input.  Lower-case (soft-masked)
    bases are upper-cased and U is read as T; N and IUPAC codes are allowed.

    \b
    Examples:
      seqcnn encode pos.fa.gz neg.fa.gz --class-per-file -o peaks.ds
      seqcnn encode seqs.fa --labels labels.tsv -o data.ds
      seqcnn encode seqs.fa --header-labels --task regression --length 500 -o data.ds
      seqcnn encode chip_peaks.fa.gz --shuffled-negatives -o peaks.ds
    """
    from ..dataset import encode as encode_api

    use_threads(threads)  # sets the worker default; torch is not imported for it
    dataset = encode_api(
        list(fasta),
        out,
        labels=labels,
        id_column=id_column,
        label_columns=split_list(label_columns),
        class_per_file=class_per_file,
        classes=split_list(classes),
        header_labels=header_labels,
        task=task,
        missing_labels=missing_labels,
        length=length,
        crop=crop,
        n_encoding=n_encoding,
        shuffled_negatives=shuffle_copies if shuffled_negatives else 0,
        shuffle_seed=shuffle_seed,
        overwrite=force,
        progress=progress(quiet),
        workers=workers,
    )
    task_text = f", task {dataset.task} ({', '.join(dataset.label_names)})" if dataset.task else ""
    click.echo(f"wrote {out}: {len(dataset)} sequences of {dataset.length} bp{task_text}", err=True)

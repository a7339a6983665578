"""The ``seqcnn`` command line: parse options, call the Python API, report errors.

No logic lives here.  Every command maps onto one API function; errors the user can
cause (bad data, bad options) are printed as one line on stderr with exit code 1 (data)
or 2 (usage), without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import os
import sys

import click

from ._version import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _progress(quiet: bool) -> bool | None:
    """Progress bars: off with --quiet, else shown when stderr is a terminal."""
    return False if quiet else None


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bars.")


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="seqcnn")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
def cli(debug: bool) -> None:
    """Train convolutional networks on DNA sequences and explain what they learned.

    \b
    The pipeline, one command per step:
      seqcnn encode    FASTA (+ labels) -> one-hot dataset folder
      seqcnn train     dataset -> model bundle (./seqcnn_model)
      seqcnn predict   FASTA -> table of predictions
      seqcnn interpret FASTA -> filter motifs, logos, JASPAR matches, report
    \b
    Examples:
      seqcnn encode pos.fa neg.fa --class-per-file -o peaks.ds
      seqcnn encode seqs.fa.gz --labels labels.tsv --length 200 -o data.ds
    """


@cli.command(context_settings=CONTEXT)
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
    type=click.Choice(["binary", "multiclass", "multilabel", "regression"]),
    help="Learning task [default: inferred from the labels].",
)
@click.option("--length", type=int, help="Pad with N or crop every sequence to this length.")
@click.option(
    "--crop",
    type=click.Choice(["center", "left", "right"]),
    default="center",
    show_default=True,
    help="Which part to keep when cropping (and where to pad).",
)
@click.option(
    "--n-encoding",
    type=click.Choice(["zeros", "uniform", "iupac"]),
    default="zeros",
    show_default=True,
    help="How N and IUPAC ambiguity codes become one-hot values.",
)
@click.option("-f", "--force", is_flag=True, help="Replace an existing output folder.")
@quiet_option
def encode(fasta, out, labels, id_column, label_columns, class_per_file, classes, header_labels,
           task, length, crop, n_encoding, force, quiet):  # fmt: skip
    """Encode FASTA file(s) and labels into a dataset folder for training.

    FASTA may be plain, gzip or bgzip; '-' reads standard input.  Lower-case (soft-masked)
    bases are upper-cased and U is read as T; N and IUPAC codes are allowed.

    \b
    Examples:
      seqcnn encode pos.fa.gz neg.fa.gz --class-per-file -o peaks.ds
      seqcnn encode seqs.fa --labels labels.tsv -o data.ds
      seqcnn encode seqs.fa --header-labels --task regression --length 500 -o data.ds
    """
    from .dataset import encode as encode_api

    dataset = encode_api(
        list(fasta), out, labels=labels, id_column=id_column,
        label_columns=_split(label_columns), class_per_file=class_per_file,
        classes=_split(classes), header_labels=header_labels, task=task, length=length,
        crop=crop, n_encoding=n_encoding, overwrite=force, progress=_progress(quiet),
    )  # fmt: skip
    task_text = f", task {dataset.task} ({', '.join(dataset.label_names)})" if dataset.task else ""
    click.echo(f"wrote {out}: {len(dataset)} sequences of {dataset.length} bp{task_text}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqcnn`` console script."""
    from .errors import SeqcnnError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("SEQCNN_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="seqcnn", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("seqcnn: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except SeqcnnError as err:
        if debug:
            raise
        click.echo(f"seqcnn: error: {err.format()}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("seqcnn: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error of ours.
        sys.stderr.close()
        sys.exit(0)
    except OSError as err:
        if debug:
            raise
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        click.echo(f"seqcnn: error: {where}{err.strerror or err}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()

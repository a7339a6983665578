"""The ``seqcnn`` command line: parse options, call the Python API, report errors.

No logic lives here.  Every command maps onto one API function and has a module of its own
in this package; their choice lists are the API's constants, which import without torch, so
``seqcnn --help`` stays fast.  Errors the user can cause (bad data, bad options) are printed
as one line on stderr with exit code 1 (data) or 2 (usage), without a traceback unless
``--debug`` is given.
"""

from __future__ import annotations

import os
import sys

import click

from .._version import __version__
from .describe import describe
from .encode import encode
from .gather import gather
from .interpret import interpret
from .options import CONTEXT
from .predict import predict
from .simulate import simulate
from .split import split
from .train import train

__all__ = ["cli", "main"]


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
      seqcnn describe / simulate: inspect a model; write the planted-motif demo data
      seqcnn split / gather: scatter a FASTA into shards, join their prediction tables
    \b
    Examples:
      seqcnn encode pos.fa neg.fa --class-per-file -o peaks.ds
      seqcnn encode seqs.fa.gz --labels labels.tsv --length 200 -o data.ds
    """


for _command in (encode, train, describe, simulate, predict, split, gather, interpret):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqcnn`` console script (and of ``python -m seqcnn``).

    Parameters
    ----------
    argv
        The arguments after the program name; None reads ``sys.argv``.
    """
    from ..errors import SeqcnnError

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

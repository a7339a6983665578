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
from .options import CONTEXT, ClosedOutput, guard_outputs, stdout_closed
from .predict import predict
from .scan import scan
from .simulate import simulate
from .split import split
from .train import train
from .variants import variants

__all__ = ["cli", "main", "run"]


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="seqcnn")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
def cli(debug: bool) -> None:
    """Train convolutional networks on DNA sequences and explain what they learned.

    \b
    The pipeline, one command per step:
      seqcnn encode    FASTA (+ labels), or peaks (BED) + genome -> one-hot dataset folder
      seqcnn train     dataset -> model bundle (./seqcnn_model)
      seqcnn predict   FASTA -> table of predictions
      seqcnn scan      model + genome -> genome-wide track (bigWig, bedGraph)
      seqcnn variants  VCF + genome -> table of variant effects
      seqcnn interpret FASTA -> filter motifs, logos, JASPAR matches, report
      seqcnn describe / simulate: inspect a model; write the planted-motif demo data
      seqcnn split / gather: scatter a FASTA into shards, join their prediction tables
    \b
    Examples:
      seqcnn encode pos.fa neg.fa --class-per-file -o peaks.ds
      seqcnn encode seqs.fa.gz --labels labels.tsv --length 200 -o data.ds
    """


for _command in (encode, train, describe, simulate, predict, split, gather, interpret, scan,
                 variants):  # fmt: skip
    cli.add_command(guard_outputs(_command))


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM (what SLURM and ``kill`` send), so that the
    temporary files are removed on the way out, as on Ctrl-C.

    Not a KeyboardInterrupt: Click would turn that into its own abort and lose the signal.
    """


# An exception raised by a signal handler can be swallowed by code that catches everything
# (a compiled module being imported at that moment does): it is raised again this often
# until it is on its way out.
_RETRY_SECONDS = 0.5


def _unwinding() -> bool:
    """Whether a Terminated is already being handled (we run in a finally or __exit__)."""
    err, seen = sys.exc_info()[1], set()
    while err is not None and id(err) not in seen:
        if isinstance(err, Terminated):
            return True
        seen.add(id(err))
        err = err.__context__
    return False


def _terminate(signum, frame) -> None:
    """SIGTERM (and its retries, SIGALRM): raise Terminated unless already on the way out,
    so that a second signal never cuts the removal of temporary files short."""
    import signal

    if _unwinding():
        return
    if hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, _terminate)
        signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
    raise Terminated()


def _stop_retrying() -> None:
    import signal

    if hasattr(signal, "setitimer") and signal.getsignal(signal.SIGALRM) is _terminate:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _quiet_exit() -> None:
    """Our reader went away (``| head``): exit 0 like any Unix tool, with nothing more said.

    Standard output is pointed at /dev/null so that the final flush cannot fail again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    sys.exit(0)


def run() -> None:
    """Entry point of the ``seqcnn`` console script: :func:`main`, then an exit without the
    interpreter's teardown.

    Tearing the interpreter down after a command took 0.5-0.8 s on our 2-CPU machine, most
    of it freeing torch's modules (``python -c "import torch"``: 2.1-2.2 s, against 1.4-1.7
    s ending with ``os._exit``): more than ``seqcnn predict`` spends on 10,000 records.
    Everything a command writes is closed (and renamed into place) before :func:`main`
    returns; what the interpreter would still do at exit is done here: other threads are
    joined, exit handlers run (logging, temporary files, multiprocessing), standard output
    and error are flushed.  Then the process ends with :func:`main`'s exit status.  An
    exception that escapes :func:`main` (``--debug``) takes the usual way out, and so does
    every process of a ``torchrun`` job (``WORLD_SIZE`` set), whose process group and
    devices the teardown releases.
    """
    import atexit
    import threading

    if "WORLD_SIZE" in os.environ:
        main()
        return
    try:
        main()
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    if status is not None and not isinstance(status, int):  # as the interpreter does
        print(status, file=sys.stderr)
        status = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # noqa: SLF001 - the interpreter's own exit step, run early
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (| head) or a closed stream
            pass
    os._exit(status or 0)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqcnn`` console script (and of ``python -m seqcnn``).

    SIGTERM is handled like Ctrl-C (temporary files removed; exit 143 instead of 130), and a
    closed standard output ends the command quietly with exit 0.

    Parameters
    ----------
    argv
        The arguments after the program name; None reads ``sys.argv``.
    """
    import signal

    from ..errors import SeqcnnError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("SEQCNN_DEBUG") == "1"
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
        installed = True
    except ValueError:  # not the main thread: leave signals alone
        installed = False
    try:
        cli.main(args=args, prog_name="seqcnn", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("seqcnn: interrupted", err=True)
        sys.exit(130)
    except Terminated:
        _stop_retrying()
        click.echo("seqcnn: terminated (SIGTERM); temporary files removed", err=True)
        sys.exit(143)
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
    except ClosedOutput:
        _quiet_exit()
    except OSError as err:
        if isinstance(err, BrokenPipeError) and stdout_closed():
            _quiet_exit()
        if debug:
            raise
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        click.echo(f"seqcnn: error: {where}{err.strerror or err}", err=True)
        sys.exit(1)
    finally:
        if installed:  # None: the handler was not set from Python; the default then
            _stop_retrying()
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)

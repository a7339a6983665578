"""What the commands share: Click settings, the --quiet and --threads options, small parsers.

Kept apart from ``seqcnn/cli/__init__.py``, which imports every command module, so that a
command module never imports the package that is still being initialised.
"""

from __future__ import annotations

import functools
import re
import sys

import click

from ..errors import UsageError
from ..forward import DEVICES
from ..threads import THREADS_HELP

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# "auto, cpu, cuda or mps.": the --device help of commands that take a free-form device name
# (cuda:N included), written from the one device list.
DEVICE_HELP = f"{', '.join(DEVICES[:-1])} or {DEVICES[-1]}."

quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="No progress bars or per-step messages (warnings only)."
)

# The parameters that name what a command writes; every other path parameter is an input.
OUTPUT_PARAMETERS = ("out", "out_dir")
# The commands whose output folder is replaced as a whole (the others write files into it).
REPLACES_FOLDER = ("encode", "train", "interpret")


def force_option(what: str):
    """``-f/--force``: replace an existing output ``what`` ("file", "folder", "shards")."""
    return click.option("-f", "--force", is_flag=True, help=f"Replace an existing output {what}.")


class ClosedOutput(BaseException):
    """Standard output was closed by its reader (``seqcnn predict big.fa | head``).

    Raised in place of the BrokenPipeError, which Click would turn into exit status 1;
    ``main`` ends quietly with 0, as Unix tools do.
    """


def stdout_closed() -> bool:
    """Whether standard output is a pipe that nobody reads any more."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.__stdout__.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), or no stdout at all
        return False


def guard_outputs(command: click.Command) -> click.Command:
    """Make ``command`` refuse to write over one of its inputs, and end quietly when its
    standard output is closed.

    Its path parameters other than :data:`OUTPUT_PARAMETERS` are its inputs: the output is
    checked against them before any work, and every atomic write of the run refuses them
    (:func:`seqcnn._io.protect_inputs`).  A broken pipe other than standard output (a worker
    process's) stays an error.
    """
    callback = command.callback
    if callback is None or getattr(callback, "guarded", False):
        return command
    inputs = [
        p.name
        for p in command.params
        if isinstance(p.type, click.Path) and p.name not in OUTPUT_PARAMETERS
    ]
    replaced = command.name in REPLACES_FOLDER

    @functools.wraps(callback)
    def guarded(*args, **params):
        from .._io import check_not_input, protect_inputs

        paths = []
        for name in inputs:
            value = params.get(name)
            paths += list(value) if isinstance(value, (tuple, list)) else [value]
        with protect_inputs(paths) as given:
            for name in OUTPUT_PARAMETERS:
                if params.get(name) not in (None, "-"):
                    check_not_input(params[name], given, replaced=replaced)
            try:
                return callback(*args, **params)
            except BrokenPipeError:
                if stdout_closed():
                    raise ClosedOutput() from None
                raise

    guarded.guarded = True
    command.callback = guarded
    return command


# The commands that do CPU work (encode, train, predict, interpret) pass it to use_threads.
threads_option = click.option("--threads", type=click.IntRange(min=1), help=THREADS_HELP)


def use_threads(threads: int | None) -> int:
    """Let torch, numba and worker processes use ``threads`` CPUs (None: all this process may).

    Imported here, not at the top, so that ``--help`` does not pay for what it never uses.
    """
    from ..threads import set_threads

    return set_threads(threads)


def progress(quiet: bool) -> bool | None:
    """Progress bars: off with --quiet, else shown when stderr is a terminal."""
    return False if quiet else None


def split_list(value: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or empty -> None (the API's default)."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def setup_logging(quiet: bool) -> None:
    """Send the ``seqcnn`` logger's messages to stderr, as plain lines (warnings only if quiet)."""
    import logging

    logger = logging.getLogger("seqcnn")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def part_option(help: str):
    """``--part K/N``: the K-th of N parts of a run, parsed to ``(K, N)`` with 1 <= K <= N."""

    def parse(ctx, param, value):
        if value is None:
            return None
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
        if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
            raise UsageError(f"--part '{value}' is not K/N with 1 <= K <= N (e.g. 2/8)")
        return int(match.group(1)), int(match.group(2))

    return click.option("--part", callback=parse, metavar="K/N", help=help)

"""What the commands share: Click settings, the --quiet and --threads options, small parsers.

Kept apart from ``seqcnn/cli/__init__.py``, which imports every command module, so that a
command module never imports the package that is still being initialised.
"""

from __future__ import annotations

import sys

import click

from ..forward import DEVICES
from ..threads import THREADS_HELP

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# "auto, cpu, cuda or mps.": the --device help of commands that take a free-form device name
# (cuda:N included), written from the one device list.
DEVICE_HELP = f"{', '.join(DEVICES[:-1])} or {DEVICES[-1]}."

quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bars.")


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

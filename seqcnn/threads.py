"""How many CPUs seqcnn uses: what the process may use, and the threads it runs.

On a shared machine torch's default (one thread per core it sees, not per core it may use)
made a training step 22x slower than with the process's share.  Every heavy command takes
``--threads N`` (help: :data:`THREADS_HELP`) and applies it with :func:`set_threads`; the
default is :func:`available_cpus`, the CPUs this process may use: its CPU affinity, capped
by its cgroup's CPU quota (containers, batch schedulers).

Examples
--------
>>> from seqcnn.threads import MAX_WORKERS, available_cpus, default_workers
>>> available_cpus() >= 1, 1 <= default_workers() <= MAX_WORKERS
(True, True)
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from pathlib import Path

from .errors import UsageError

__all__ = [
    "CGROUP_ROOT",
    "MAX_WORKERS",
    "THREADS_HELP",
    "available_cpus",
    "cgroup_cpu_limit",
    "default_workers",
    "set_threads",
]

#: Where the cgroup file systems are mounted.
CGROUP_ROOT = "/sys/fs/cgroup"

#: Most worker processes that read a large FASTA file: beyond this the main process's share
#: of the work (hashing, checking ids) limits the gain.
MAX_WORKERS = 8

#: Help text of the CLI's ``--threads`` option.
THREADS_HELP = (
    "CPU threads for torch and numba, and processes for reading FASTA files "
    f"(at most {MAX_WORKERS}). Default: the CPUs this process may use (CPU affinity and "
    "cgroup quota)."
)

# The thread count set by set_threads (None: not set, use what is available).
_threads: int | None = None


def available_cpus() -> int:
    """The CPUs this process may use: its CPU affinity, capped by its cgroup's CPU quota.

    Returns
    -------
    int
        At least 1.  A quota of 1.5 CPUs counts as 2 (rounded up).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cpus = min(cpus, math.ceil(limit))
    return max(1, cpus)


def cgroup_cpu_limit(
    root: str | Path = CGROUP_ROOT, cgroups: str | Path = "/proc/self/cgroup"
) -> float | None:
    """CPUs allowed by the CPU quota of this process's cgroup, or None without a quota.

    Reads cgroup v2 ``cpu.max`` and cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``
    in the process's cgroup and every cgroup above it (a container may only see its own);
    the smallest quota counts.

    Parameters
    ----------
    root
        Where the cgroup file systems are mounted.
    cgroups
        The process's cgroup membership (``/proc/self/cgroup``).

    Returns
    -------
    float or None
        Quota / period, e.g. 1.5 for ``cpu.max`` ``150000 100000``.
    """
    try:
        lines = Path(cgroups).read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if not controllers:  # cgroup v2: one hierarchy with every controller
            limits += [_cpu_max(folder) for folder in _folders(Path(root), path)]
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's hierarchy
            limits += [_cfs_quota(folder) for folder in _folders(Path(root, controllers), path)]
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


def _folders(mount: Path, path: str) -> list[Path]:
    """The cgroup's folder under ``mount`` and those of every cgroup above it."""
    parts = Path(path.strip() or "/").parts[1:]
    return [mount.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _cpu_max(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _cfs_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def set_threads(n: int | None = None) -> int:
    """Use ``n`` CPU threads: torch's intra-op threads, numba's threads (when numba is
    imported) and the worker processes that read FASTA files (:func:`default_workers`).

    Parameters
    ----------
    n
        At least 1; None (default) means ``$OMP_NUM_THREADS`` when it is set, else
        :func:`available_cpus`.

    Returns
    -------
    int
        The thread count set.

    Raises
    ------
    UsageError
        ``n`` is not a whole number of at least 1.
    """
    global _threads
    if n is None:
        n = _environment_threads() or available_cpus()
    elif isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise UsageError(f"the number of threads must be a whole number >= 1, got {n!r}")
    n = int(n)
    _threads = n
    # torch is not imported just for this (commands that never run a network, like encode,
    # would pay seconds for it): before its import the environment tells its thread pool
    # how many threads to start; once imported it is told directly.
    torch = sys.modules.get("torch")
    if torch is None:
        os.environ["OMP_NUM_THREADS"] = str(n)
    else:
        torch.set_num_threads(n)
    # numba (memelite's motif matching) is not imported just for this (it takes a second):
    # once imported it runs at most the threads it started with, so it is told through the
    # environment how many to start with.
    numba = sys.modules.get("numba")
    if numba is None:
        os.environ["NUMBA_NUM_THREADS"] = str(n)
    else:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    return n


def _environment_threads() -> int | None:
    """``OMP_NUM_THREADS`` when it is set to a positive whole number (torchrun sets 1 for
    each process; a scheduler may set it to the job's share): the default it asks for."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return value if value >= 1 else None


def default_workers() -> int:
    """Processes that :func:`seqcnn.encode` reads a large plain FASTA file with.

    The threads set by :func:`set_threads` (else the CPUs this process may use), at most
    :data:`MAX_WORKERS`.
    """
    threads = available_cpus() if _threads is None else _threads
    return max(1, min(threads, MAX_WORKERS))

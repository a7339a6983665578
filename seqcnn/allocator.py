"""Keep freed memory in the process, so a network's buffers are not faulted in afresh per batch.

A forward pass over a batch of 256 x 200 bp allocates tens of MB of activations and frees
them at the end of the batch.  glibc's ``malloc`` serves blocks that large with ``mmap`` and
gives them back to the kernel with ``munmap`` (and trims the top of its heap once 128 KB are
free there), so the next batch faults every page in again: measured on the 2-core
development VM, ~23 MB and ~5,800 page faults per batch of the default ``cnn``, 35-40% of the
CPU time of a bare PyTorch inference loop (sys time 1.5 s of 4.1 CPU-s for 30,000
sequences), and the whole of the gap issue 20 saw between ``seqcnn predict`` and a bare loop
that had run long enough for glibc's adaptive threshold to settle.

:func:`reuse_freed_memory` raises both thresholds through ``mallopt`` (the same settings as
the environment variables ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``), so
blocks up to :data:`MMAP_THRESHOLD` come from the heap and up to :data:`TRIM_THRESHOLD` of
freed heap stays mapped for the next batch.  The cost: memory a run freed is returned to
the system when the process ends, not at once (peak RSS is unchanged).  Every code path that
runs a network on the CPU calls it (:class:`seqcnn.forward.OneHotBatches`,
:func:`seqcnn.deeplift.explain`); it does nothing on a C library other than glibc, and
``SEQCNN_MALLOC=system`` in the environment turns it off.

Examples
--------
>>> from seqcnn.allocator import reuse_freed_memory
>>> reuse_freed_memory() in (True, False)
True
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "reuse_freed_memory"]

#: Blocks up to this size come from malloc's heap instead of their own ``mmap``.
MMAP_THRESHOLD = 256 << 20
#: Free memory at the top of the heap kept mapped, up to this much.
TRIM_THRESHOLD = 1 << 30

# glibc's mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_applied: bool | None = None


def reuse_freed_memory() -> bool:
    """Have glibc's ``malloc`` keep freed blocks for reuse (once per process).

    Returns
    -------
    bool
        True when the thresholds are set (now or by an earlier call), False where this is
        not glibc, ``SEQCNN_MALLOC=system`` is set, or ``mallopt`` refused.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("SEQCNN_MALLOC", "").lower() == "system" or not sys.platform.startswith(
        "linux"
    ):
        return _applied
    try:
        # The process's own symbols include the C library's: no library search (which
        # find_library does by running ldconfig) on the first forward pass.
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt, nothing to do
        return _applied
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _applied = bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _applied

"""The allocator setting: freed memory is reused by the next batch instead of faulted in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Allocate, touch and free a 64 MB buffer 20 times, as a forward pass does per batch (glibc
# serves blocks over 32 MB with their own mmap whatever its adaptive threshold says), and
# report the page faults of the last 19 rounds (the first one faults its pages in anyway).
PROGRAM = """
import resource, sys
import numpy as np
from seqcnn.allocator import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else None
def round_():
    a = np.empty(64 << 20, dtype=np.uint8)
    a[::4096] = 1
    del a
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(19):
    round_()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, env: dict | None = None) -> tuple[str, int]:
    import os

    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True,
                          check=True, env={**os.environ, **(env or {})})  # fmt: skip
    applied, faults = done.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_buffers_are_reused_instead_of_faulted_in_again():
    applied, faults = _faults("reuse")
    if applied != "True":
        pytest.skip("not glibc")
    _, default = _faults("system")
    # glibc's default faults each round's pages in again (fewer faults than pages where the
    # kernel backs the block with huge pages, but at least one per round); reused, none.
    assert faults < 19 <= default


def test_it_can_be_turned_off():
    applied, _ = _faults("reuse", {"SEQCNN_MALLOC": "system"})
    assert applied == "False"

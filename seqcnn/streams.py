"""Forward passes in parallel CPU streams: two batches at once, each on part of the threads.

A small network spends much of a multi-threaded forward pass waiting: each layer over a
batch takes well under a millisecond, and torch's threads meet at the end of every layer.
Measured on the 2-core development VM (issue 20), the default ``cnn`` at 200 bp ran a
batch of 256 in 2 threads only 1.5-1.6x as fast as in 1 thread, while two batches side by
side, each in its own thread with 1 torch thread, ran 1.15-1.2x faster than the 2-thread
stream.  Large activations turn it round: for the default ``dilated`` at 1 kb two 1-thread
streams of 256 sequences took 1.77x as long as one 2-thread stream (each stream's
activations no longer fit the caches the two share), but streams of 32-64 sequences were
again 4-7% faster.  So :func:`stream_plan` splits the batch into *sub-batches* sized by the
activations a network writes per sequence (:func:`seqcnn.forward.activation_floats`, one
dry run per network and length): a sub-batch writes at most :data:`ACTIVATION_BUDGET` floats, and at
least :data:`MIN_STREAM_BATCH` sequences go together.  Measured medians of 12 alternations
(time relative to one 2-thread stream of 256; lower is faster):

======================  ===================  ==============  ====================
network                 floats per sequence  sub-batch       time
======================  ===================  ==============  ====================
``cnn``, 200 bp         41,868               256             0.85
``resnet``, 200 bp      118,668              126             0.94 (256: 0.90)
``cnn``, 1 kb           221,954              67              0.93 (64)
``dilated``, 200 bp     535,372              32              0.82
``dilated``, 1 kb       3,766,594            32              0.93
======================  ===================  ==============  ====================

Outputs do not depend on the plan: every sequence's values were bit-identical for
sub-batches of 16-256 and for 1 or 2 threads on that CPU (eval mode computes each
sequence on its own), and the rows come back in input order.  The streams run only on a
CPU with at least two torch threads; an accelerator, or a single thread, runs batches one
after another in the calling thread as before.  Each stream is a thread that sets its own
torch thread count (OpenMP's and MKL's counts are per thread), and the calling thread's
count is set again when the streams close.

Examples
--------
>>> import torch
>>> plan = stream_plan(256, torch.device("cuda"), lambda: 40_000)
>>> plan.streams, plan.batch_size
(1, 256)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "ACTIVATION_BUDGET",
    "MIN_STREAM_BATCH",
    "STREAMS",
    "StreamPlan",
    "Streams",
    "stream_plan",
]

#: Parallel streams on a CPU with at least two torch threads.
STREAMS = 2
#: The most activation values (floats) one stream's sub-batch writes, ~60 MB.
ACTIVATION_BUDGET = 15_000_000
#: The fewest sequences a sub-batch holds (fewer cost more per sequence than they save).
MIN_STREAM_BATCH = 32


@dataclass(frozen=True)
class StreamPlan:
    """How batches run: ``streams`` threads of ``threads`` torch threads each, taking
    sub-batches of ``batch_size`` sequences (``threads`` None: the caller's own)."""

    streams: int
    threads: int | None
    batch_size: int


def stream_plan(
    batch_size: int, device: torch.device, activations: Callable[[], int | None]
) -> StreamPlan:
    """The streams and sub-batch size for batches of ``batch_size`` sequences.

    Parameters
    ----------
    batch_size
        Sequences per batch as the caller asked.
    device
        Where the network runs.
    activations
        Called (only where streams could run) for the activation values the network writes
        per sequence (:func:`seqcnn.forward.activation_floats`); ``None``: unknown.

    Returns
    -------
    StreamPlan
        One stream of ``batch_size`` (in the calling thread, with its threads) on an
        accelerator, with a single torch thread, or when the activations are unknown; otherwise
        :data:`STREAMS` streams splitting the threads between them, with sub-batches of
        ``ACTIVATION_BUDGET // floats`` sequences, at least :data:`MIN_STREAM_BATCH` and at
        most ``batch_size``.
    """
    import torch

    threads = torch.get_num_threads()
    if device.type != "cpu" or threads < 2 or batch_size < 2:
        return StreamPlan(1, None, batch_size)
    floats = activations()
    if not floats:
        return StreamPlan(1, None, batch_size)
    size = min(batch_size, max(MIN_STREAM_BATCH, ACTIVATION_BUDGET // floats))
    return StreamPlan(STREAMS, max(1, threads // STREAMS), size)


class Streams:
    """Run a function over batches in a plan's streams; results come back in order.

    Use as a context manager.  With one stream every call runs at once in the calling
    thread (a finished future), so nothing changes where streams cannot gain.

    Parameters
    ----------
    plan
        From :func:`stream_plan`.
    """

    def __init__(self, plan: StreamPlan):
        self.plan = plan
        self.pool: ThreadPoolExecutor | None = None
        self.caller_threads: int | None = None
        if plan.streams > 1:
            import torch

            self.caller_threads = torch.get_num_threads()
            self.pool = ThreadPoolExecutor(
                plan.streams, "seqcnn-stream", initializer=torch.set_num_threads,
                initargs=(plan.threads,),
            )  # fmt: skip

    def __enter__(self) -> Streams:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the running batches and end the streams (queued ones are cancelled)."""
        if self.pool is None:
            return
        import torch

        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None
        # A stream's set_num_threads also set the count new threads start with; put back
        # the caller's.
        torch.set_num_threads(self.caller_threads)

    def submit(self, fn: Callable, *args: Any) -> Future:
        """``fn(*args)`` in a stream (or here, with one stream), as a future."""
        if self.pool is not None:
            return self.pool.submit(fn, *args)
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as err:
            future.set_exception(err)
        return future

    def map(self, fn: Callable, items: Iterable, ahead: int | None = None) -> Iterator:
        """``fn(item)`` for each item, in order, with at most ``ahead`` (default two per
        stream) items submitted beyond the one being waited for; ``items`` is consumed
        lazily in the calling thread."""
        if self.pool is None:
            yield from map(fn, items)
            return
        ahead = 2 * self.plan.streams if ahead is None else ahead
        pending: deque[Future] = deque()
        try:
            for item in items:
                pending.append(self.pool.submit(fn, item))
                if len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

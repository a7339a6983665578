"""A dataset's sequence file, ``sequences.u8``: FASTA records → base codes on disk, in order.

:func:`seqcnn.dataset.encode` writes it through :func:`write_sequences`.

Reading is the slow step (parsing, about a microsecond per record in Python), so a
large plain FASTA file is cut into byte ranges that start at a record
(:func:`seqcnn.fasta.fasta_byte_ranges`) and each range is read and encoded by a process
of its own.  Every row of the output has the same length, so a range's rows belong at
``(records before it) x length``: each process first counts the records of its range
(:func:`seqcnn.fasta.count_records`, at the speed of reading bytes), the main process
hands out the starting rows, and the workers write their rows straight into place.  The
main process encodes the first range itself, then checks ids across ranges and hashes
the file in order, so the bytes and the content hash are the same for any number of
processes.  Compressed files and standard input are read by one process.
"""

from __future__ import annotations

import hashlib
import os
import sys
from contextlib import closing

import numpy as np

from ._progress import progress_bar
from .errors import DataError
from .fasta import (
    check_unique,
    count_records,
    display_name,
    fasta_byte_ranges,
    read_fasta_batches,
)
from .onehot import encode_sequences
from .threads import default_workers

__all__ = [
    "MIN_PART_BYTES",
    "SequenceWriter",
    "default_workers",
    "encode_in_parallel",
    "read_batches",
    "start_method",
    "write_sequences",
]

_BATCH_BASES = 1 << 22  # ~4 Mbp per encoding batch: big enough to be fast, small in memory
_CHUNK = 1 << 24
#: A byte range worth a process of its own (~80k records of 200 bp).
MIN_PART_BYTES = 1 << 24
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def read_batches(path, byte_range=None):
    """Batches of raw records of ``path`` (ids are checked by :class:`SequenceWriter`)."""
    return read_fasta_batches(
        path, batch_bases=_BATCH_BASES, check_duplicates=False, byte_range=byte_range
    )


class SequenceWriter:
    """Appends encoded records to the sequence file and keeps what the header needs.

    Records arrive in batches (lists of ids, descriptions and sequences) or as rows that
    a worker process wrote in place; either way the checks are made per batch with
    vectorised code.  Writing and hashing run in a background thread (both release the
    GIL), at most one batch behind the reading.

    Parameters
    ----------
    out
        The sequence file, opened ``w+b`` (or ``r+b`` and positioned, in a worker).
    length, crop
        ``--length`` and ``--crop``; ``length=None`` requires one length for all records.
    keep_descriptions
        Keep the header text after each id (for labels read from headers).
    bar
        Progress bar to advance by the records written.
    hashed
        Keep a SHA-256 of everything written, in order.
    """

    def __init__(self, out, length, crop, keep_descriptions, bar=None, hashed=True):
        self.out, self.length, self.crop = out, length, crop
        self.keep_descriptions, self.bar = keep_descriptions, bar
        self.ids: list[str] = []
        self.descriptions: list[str] = []
        self.seen: set[str] = set()
        self.hasher = hashlib.sha256() if hashed else None
        self.seq_length = length
        self.first_id: str | None = None
        self._thread = None
        self._pending = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close_thread()

    def close_thread(self) -> None:
        """Finish what was handed over and stop the background thread (restarts on use)."""
        try:
            self.flush()
        finally:
            if self._thread is not None:
                self._thread.shutdown()
                self._thread = None

    def expect(self, seq_length: int, first_id: str) -> None:
        """Require every record to have the length of the data set's first record."""
        self.seq_length, self.first_id = seq_length, first_id

    def add_batch(self, ids, descriptions, sequences, name) -> None:
        """Check, encode and write a batch of records read from the file ``name``."""
        self._check_ids(ids, name)
        if self.length is None:
            lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
            if self.seq_length is None:
                self.expect(int(lengths[0]), ids[0])
            wrong = np.flatnonzero(lengths != self.seq_length)
            if wrong.size:
                self._length_error(int(lengths[wrong[0]]), ids[wrong[0]], name)
        codes = encode_sequences(sequences, self.seq_length, self.crop, ids=ids, path=name)
        self._emit(self._write, codes.data)
        self._keep(ids, descriptions)

    def add_written(self, ids, descriptions, name, start: int, end: int) -> None:
        """Take rows a worker wrote to bytes ``[start, end)``: check ids, hash in order."""
        self._check_ids(ids, name)
        fd = self.out.fileno()
        for offset in range(start, end, _CHUNK):
            self._emit(self._hash, os.pread(fd, min(_CHUNK, end - offset), offset))
        self._keep(ids, descriptions)

    def flush(self) -> None:
        """Wait until everything handed over is written (and hashed)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _check_ids(self, ids, name) -> None:
        n = len(self.seen)
        self.seen.update(ids)
        if len(self.seen) != n + len(ids):  # rare: rebuild what was seen to name the id
            check_unique(set(self.ids), ids, name)

    def _emit(self, task, data) -> None:
        if self._thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self._thread = ThreadPoolExecutor(1, thread_name_prefix="seqcnn-write")
        self.flush()  # at most one batch in flight: memory stays bounded
        self._pending = self._thread.submit(task, data)

    def _write(self, data) -> None:
        self.out.write(data)
        self._hash(data)

    def _hash(self, data) -> None:
        if self.hasher is not None:
            self.hasher.update(data)

    def _keep(self, ids, descriptions) -> None:
        self.ids.extend(ids)
        if self.keep_descriptions:
            self.descriptions.extend(descriptions)
        if self.bar is not None:
            self.bar.update(len(ids))

    def _length_error(self, seq_length: int, record: str, name: str):
        raise DataError(
            f"length {seq_length} differs from the {self.seq_length} bases of the first "
            f"record ('{self.first_id}'); all records must share one length, or pass "
            "--length L to pad or crop them",
            path=name,
            record=record,
        )


def write_sequences(sources, seq_path, length, crop, keep_descriptions, progress, workers=1):
    """Stream ``(name, path or batches)`` sources into the sequence file ``seq_path``.

    Large plain files are cut into byte ranges encoded by up to ``workers`` processes.

    Returns
    -------
    tuple
        The ids, each record's source index, the descriptions (if kept), the SHA-256
        hasher of the codes and the sequence length.
    """
    file_index: list[int] = []
    bar = progress_bar(progress, desc="encoding", unit=" seqs")
    with (
        open(seq_path, "w+b") as out,
        bar,
        SequenceWriter(out, length, crop, keep_descriptions, bar) as writer,
    ):
        for k, (name, source) in enumerate(sources):
            ranges = (
                fasta_byte_ranges(source, workers, MIN_PART_BYTES)
                if isinstance(source, str) and workers > 1
                else []
            )
            if len(ranges) > 1:
                encode_in_parallel(writer, name, source, ranges, seq_path)
            else:
                batches = read_batches(source) if isinstance(source, str) else source
                for batch in batches:
                    writer.add_batch(*batch, name)
            file_index.extend([k] * (len(writer.ids) - len(file_index)))
    return writer.ids, file_index, writer.descriptions, writer.hasher, writer.seq_length or 0


def encode_in_parallel(writer, name, path, ranges, seq_path):
    """Encode ``ranges[0]`` of ``path`` here and each other byte range in a worker process.

    Parameters
    ----------
    writer
        The :class:`SequenceWriter` of the sequence file ``seq_path``.
    name
        The file's name for messages.
    ranges
        Byte ranges from :func:`seqcnn.fasta.fasta_byte_ranges`, in file order.
    """
    import multiprocessing

    if writer.seq_length is None:  # the first record sets the length every row must have
        with closing(read_fasta_batches(path, batch_bases=1)) as batches:
            ids, _, sequences = next(batches)
        writer.expect(len(sequences[0]), ids[0])
    row_bytes = writer.seq_length  # every row has this many codes, with or without --length
    writer.close_thread()  # a forked worker inherits no thread and nothing unwritten
    writer.out.flush()
    first_row = len(writer.ids)
    method = start_method()
    context = multiprocessing.get_context(method)
    workers = []
    try:
        for byte_range in ranges[1:]:
            here, there = context.Pipe()
            # A forked worker inherits our ends of every pipe: it closes them, so that it
            # sees end-of-file when we die (a spawned one inherits nothing).
            ours = [h.fileno() for _, h, _ in workers] + [here.fileno()] if method == "fork" else []
            process = context.Process(
                target=_encode_range,
                args=(there, path, byte_range, str(seq_path), writer.length, writer.crop,
                      writer.keep_descriptions, (row_bytes, writer.first_id),
                      (os.getpid() if method != "forkserver" else None, ours)),
                daemon=True,
            )  # fmt: skip
            process.start()
            there.close()
            workers.append((process, here, byte_range))
        counts = [count_records(path, ranges[0])]
        counts += [_receive(here, name)[0] for _, here, _ in workers]
        row = first_row + counts[0]
        for (_, here, _), n in zip(workers, counts[1:], strict=True):
            here.send(row)
            row += n
        for batch in read_batches(path, ranges[0]):
            writer.add_batch(*batch, name)
        _check_count(len(writer.ids) - first_row, counts[0], name, ranges[0])
        writer.flush()
        writer.out.flush()
        start = (first_row + counts[0]) * row_bytes
        for (_, here, _), n in zip(workers, counts[1:], strict=True):
            ids, descriptions = _receive(here, name)
            ids, descriptions = ids.split("\n"), (descriptions or "").split("\n")
            writer.add_written(ids, descriptions, name, start, start + n * row_bytes)
            start += n * row_bytes
        writer.out.seek(start)
    finally:
        for process, here, _ in workers:
            if process.is_alive():
                process.terminate()
            process.join()
            here.close()


def start_method() -> str:
    """Fork (instant) on Linux unless torch's threads are running, else spawn."""
    return "fork" if sys.platform == "linux" and "torch" not in sys.modules else "spawn"


def _receive(connection, name):
    """The next message from a worker: its values, or the error it raised, re-raised."""
    try:
        kind, *values = connection.recv()
    except EOFError:
        raise DataError(
            "a worker process reading this file stopped unexpectedly; try --workers 1",
            path=name,
        ) from None
    if kind == "error":
        raise values[0]
    return values


def _check_count(parsed: int, counted: int, name: str, byte_range) -> None:
    if parsed != counted:
        raise DataError(
            f"bytes {byte_range[0]}-{byte_range[1]} hold {counted} header lines but "
            f"{parsed} records were read; encode this file with --workers 1",
            path=name,
        )


def _die_with_parent(parent: int | None, inherited: list[int]) -> None:
    """Make this worker end when the process that started it ends, even by ``kill -9``.

    On Linux the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``);
    everywhere, the pipe ends the parent holds are closed here, so that reading from the
    parent fails instead of waiting forever.  Signals are left to the parent: SIGTERM
    kills, Ctrl-C is ignored (the parent stops the workers itself, without their tracebacks).
    """
    import signal

    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (AttributeError, OSError):
            pass
    if parent is not None and os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def _encode_range(connection, path, byte_range, seq_path, length, crop, keep, first_record,
                  parent) -> None:  # fmt: skip
    """Worker: count the records of ``byte_range``, learn their first row, write them."""
    _die_with_parent(*parent)
    try:
        counted = count_records(path, byte_range)
        connection.send(("count", counted))
        first_row = connection.recv()
        name = display_name(path)
        with open(seq_path, "r+b") as out:
            row_bytes, first_id = first_record  # the data set's length and first record
            out.seek(first_row * row_bytes)
            with SequenceWriter(out, length, crop, keep, hashed=False) as writer:
                writer.expect(row_bytes, first_id)
                for batch in read_batches(path, byte_range):
                    writer.add_batch(*batch, name)
        _check_count(len(writer.ids), counted, name, byte_range)
        # One joined string pickles far faster than a list of short ones.
        descriptions = "\n".join(writer.descriptions) if keep else None
        connection.send(("done", "\n".join(writer.ids), descriptions))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the main process
        try:
            connection.send(("error", err))
        except Exception:  # noqa: BLE001 - an error that cannot be pickled
            connection.send(("error", DataError(f"{type(err).__name__}: {err}", path=path)))
    finally:
        connection.close()

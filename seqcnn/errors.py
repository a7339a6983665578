"""Errors that seqcnn reports to users as one line, without a traceback.

Every problem with a user's input is raised as a :class:`SeqcnnError` subclass whose
message names the file, the record and the problem.  The command-line interface turns
these into a one-line message on stderr and an exit code (1 for bad data, 2 for bad
usage); in a notebook they are ordinary exceptions.
"""

from __future__ import annotations

__all__ = ["SeqcnnError", "DataError", "UsageError", "ModelError"]


class SeqcnnError(Exception):
    """Base class of the errors seqcnn reports to users.

    Parameters
    ----------
    message
        What is wrong and, where possible, what to do about it.
    path
        The file the problem was found in, if any.
    record
        The record (sequence id, table row) the problem was found in, if any.

    Examples
    --------
    >>> err = DataError("duplicate record id", path="peaks.fa", record="seq7")
    >>> print(err)
    peaks.fa: record 'seq7': duplicate record id
    >>> isinstance(err, SeqcnnError), err.exit_code
    (True, 1)
    """

    exit_code = 1

    def __init__(self, message: str, path: str | None = None, record: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.record = record
        super().__init__(self.format())

    def __reduce__(self):
        # Keep file and record when an error travels back from a worker process.
        return type(self), (self.message, self.path, self.record)

    def format(self) -> str:
        """The one-line message: ``file: record 'id': problem``."""
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if self.record is not None:
            parts.append(f"record '{self.record}'")
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return " ".join(text.split("\n"))


class DataError(SeqcnnError):
    """The input data is malformed (bad FASTA, bad labels, inconsistent lengths)."""

    exit_code = 1


class UsageError(SeqcnnError):
    """The options or arguments do not fit together."""

    exit_code = 2


class ModelError(SeqcnnError):
    """A model bundle is missing, corrupt, or does not fit the data."""

    exit_code = 1

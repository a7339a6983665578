"""Progress bars on stderr: tqdm when shown, a no-op object (and no tqdm import) when not."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


class _Silent:
    """Stands in for a hidden tqdm bar: iterates, counts nothing, prints nothing."""

    def __init__(self, iterable: Iterable | None = None):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


def progress_bar(progress: bool | None, iterable: Iterable | None = None, **kwargs: Any):
    """A ``tqdm.auto`` bar on stderr, or a silent stand-in.

    ``progress``: ``True`` shows the bar, ``False`` hides it, ``None`` shows it only when
    stderr is a terminal.  Hidden bars skip importing tqdm, which keeps short commands fast
    (``seqcnn encode`` of a small file is mostly start-up time).
    """
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return _Silent(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, leave=False, **kwargs)

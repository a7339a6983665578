"""Train, validation and test rows: at random by fraction, or by chromosome.

Records with ``chr1:100-200`` style ids can be split by chromosome, so that no test
sequence overlaps a training one; others are split at random with a seed.
"""

from __future__ import annotations

import re

import numpy as np

from .errors import DataError, UsageError

__all__ = ["chromosome_of", "split_indices"]

_COORDINATE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)")


def chromosome_of(record_id: str) -> str | None:
    """The chromosome of a ``chr1:100-200`` style id, or ``None`` if it has no coordinates.

    Examples
    --------
    >>> chromosome_of("chr8:1200-1300(+)")
    'chr8'
    >>> chromosome_of("seq1") is None
    True
    """
    match = _COORDINATE.match(record_id)
    return match.group("chrom") if match else None


def split_indices(
    ids: list[str],
    *,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.0,
    valid_chroms: list[str] | None = None,
    test_chroms: list[str] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Split records into training, validation and test rows.

    Chromosome lists (for ``chr1:100-200`` style ids) take precedence over fractions for
    the split they name; the rest is split at random with ``seed``.

    Returns
    -------
    dict
        ``{"train": rows, "valid": rows, "test": rows}`` as sorted index arrays.

    Examples
    --------
    >>> parts = split_indices([f"chr{i % 3 + 1}:0-10" for i in range(9)], valid_chroms=["chr2"])
    >>> parts["valid"].tolist()
    [1, 4, 7]
    """
    n = len(ids)
    for name, value in (("valid fraction", valid_fraction), ("test fraction", test_fraction)):
        if not 0 <= value < 1:
            raise UsageError(f"{name} must be in [0, 1), got {value}")
    role = np.zeros(n, dtype=np.int8)  # 0 train, 1 valid, 2 test
    if valid_chroms or test_chroms:
        chroms = np.asarray([chromosome_of(i) for i in ids], dtype=object)
        missing = np.flatnonzero(chroms == None)  # noqa: E711 - elementwise
        if missing.size:
            raise DataError(
                "id has no chromosome coordinates (expected 'chr1:100-200'); chromosome "
                "splits need them — use a fraction instead",
                record=ids[int(missing[0])],
            )
        for value, chosen in ((2, test_chroms), (1, valid_chroms)):
            if chosen:
                role[np.isin(chroms, list(chosen))] = value
    rng = np.random.default_rng(seed)
    free = np.flatnonzero(role == 0)
    order = rng.permutation(free)
    take = 0
    for value, fraction, chosen in (
        (1, valid_fraction, valid_chroms),
        (2, test_fraction, test_chroms),
    ):
        if chosen:
            continue
        count = int(round(fraction * n))
        role[order[take : take + count]] = value
        take += count
    parts = {
        name: np.flatnonzero(role == value) for value, name in enumerate(("train", "valid", "test"))
    }
    if parts["train"].size == 0:
        raise DataError("no records left for training after the validation/test split")
    for name, chosen in (("valid", valid_chroms), ("test", test_chroms)):
        if chosen and parts[name].size == 0:
            raise DataError(f"no records on {', '.join(chosen)} for the {name} split")
    return parts

"""Checks of architecture option values, shared by every architecture's option rules.

Each check returns the normalised value or raises ``ValueError`` (or ``TypeError``);
:func:`seqcnn.models.build_model` turns that into a :class:`~seqcnn.errors.UsageError`
naming the option and what it allows.  Torch-free.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["boolean", "choice", "fraction", "integer", "integers"]


def integer(minimum: int) -> Callable[[Any], int]:
    """A check for an integer of at least ``minimum`` (``True`` is not an integer here)."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError
        return int(value)

    return check


def integers(minimum_count: int) -> Callable[[Any], list[int]]:
    """A check for a list of positive integers (a single one becomes a list of one)."""

    def check(value: Any) -> list[int]:
        values = [value] if isinstance(value, numbers.Integral) else value
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ValueError
        values = [integer(1)(v) for v in values]
        if len(values) < minimum_count:
            raise ValueError
        return values

    return check


def choice(choices: Sequence[str]) -> Callable[[Any], str]:
    """A check for one of ``choices``."""

    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError
        return value

    return check


def fraction(value: Any) -> float:
    """A number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError
    return float(value)


def boolean(value: Any) -> bool:
    """``True`` or ``False`` exactly."""
    if not isinstance(value, bool):
        raise ValueError
    return value

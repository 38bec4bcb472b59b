"""Finding the knee, pure: the bounds a climb leaves, then bisection between them.

A climb measures rising rates until the first one that is not sustained (``bench.criterion``); the knee
lies between the last sustained rate and that first failing one. ``bisect`` narrows the gap by measuring
the middle rate, keeping the half where the verdict changes, until the gap is at most ``min_step`` or
``max_probes`` measurements were made. It assumes capacity is monotone in the rate (one noisy step can
move the knee; the report lists every probe). The measuring is a callable (``bench.run`` passes a SIPp
load step; the unit tests a fake), so this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class RateResult(Protocol):
    """What the search needs of one measured rate."""

    @property
    def rate(self) -> int: ...

    @property
    def sustained(self) -> bool: ...


R = TypeVar("R", bound=RateResult)


@dataclass(frozen=True)
class Bounds:
    """``last_sustained``: highest rate sustained below the first failure (None: even the lowest failed).
    ``first_failing``: lowest rate that was not sustained (None: every rate tried was sustained)."""

    last_sustained: int | None
    first_failing: int | None


@dataclass(frozen=True)
class Bisection(Generic[R]):
    """The probes in the order measured, and the bounds they leave. ``exhausted``: stopped by
    ``max_probes`` while the gap was still wider than ``min_step``."""

    probes: tuple[R, ...]
    bounds: Bounds
    exhausted: bool

    @property
    def knee(self) -> int | None:
        return self.bounds.last_sustained


def bounds(results: Iterable[RateResult]) -> Bounds:
    """The knee's bounds from any set of measured rates: the first failing rate in rising order, and the
    highest sustained rate below it (a sustained rate above a failure does not count: it was luck)."""
    last: int | None = None
    for result in sorted(results, key=lambda r: r.rate):
        if not result.sustained:
            return Bounds(last, result.rate)
        last = result.rate
    return Bounds(last, None)


def bisect(measure: Callable[[int], R], last_sustained: int | None, first_failing: int, *,
           min_step: int = 1, max_probes: int = 4) -> Bisection[R]:
    """Bisect between ``last_sustained`` (None or 0: nothing sustained yet) and ``first_failing``.

    Each probe measures the middle rate (whole calls/s, at least 1). Stops when the gap is at most
    ``min_step`` or after ``max_probes`` probes; never measures ``first_failing`` or a rate at or below
    ``last_sustained`` again.
    """
    if min_step < 1 or max_probes < 0:
        raise ValueError("min_step must be >= 1 and max_probes >= 0")
    low = last_sustained or 0
    high = first_failing
    if high <= low:
        raise ValueError(f"the first failing rate {high} must be above the last sustained rate {low}")
    probes: list[R] = []
    while high - low > min_step and len(probes) < max_probes:
        middle = low + (high - low) // 2
        result = measure(middle)
        probes.append(result)
        if result.sustained:
            low = middle
        else:
            high = middle
    return Bisection(tuple(probes), Bounds(low or None, high), exhausted=high - low > min_step)

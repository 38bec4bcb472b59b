"""Bisection between the last sustained and the first failing rate, with a fake measurement."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bench.search import Bounds, bisect, bounds


@dataclass(frozen=True)
class Measured:
    rate: int
    sustained: bool


class FakeBox:
    """Sustains every rate up to ``knee``; records what it was asked to measure."""

    def __init__(self, knee: int) -> None:
        self.knee = knee
        self.asked: list[int] = []

    def measure(self, rate: int) -> Measured:
        self.asked.append(rate)
        return Measured(rate, rate <= self.knee)


def test_bounds_of_a_climb() -> None:
    climb = [Measured(10, True), Measured(20, True), Measured(40, True), Measured(60, False)]
    assert bounds(climb) == Bounds(40, 60)
    assert bounds(reversed(climb)) == Bounds(40, 60)
    assert bounds([Measured(10, True), Measured(20, True)]) == Bounds(20, None)
    assert bounds([Measured(10, False)]) == Bounds(None, 10)
    assert bounds([]) == Bounds(None, None)


def test_bounds_ignore_a_lucky_rate_above_a_failure() -> None:
    noisy = [Measured(40, True), Measured(50, False), Measured(55, True), Measured(60, False)]
    assert bounds(noisy) == Bounds(40, 50)


def test_bisection_narrows_to_one_call_per_second() -> None:
    box = FakeBox(knee=57)
    result = bisect(box.measure, 40, 60, min_step=1, max_probes=10)
    assert box.asked == [50, 55, 57, 58]
    assert [p.rate for p in result.probes] == box.asked
    assert result.knee == 57 and result.bounds == Bounds(57, 58) and not result.exhausted


def test_bisection_stops_at_the_min_step() -> None:
    box = FakeBox(knee=57)
    result = bisect(box.measure, 40, 60, min_step=5, max_probes=10)
    assert box.asked == [50, 55]
    assert result.bounds == Bounds(55, 60) and not result.exhausted


def test_bisection_stops_at_max_probes_and_says_so() -> None:
    box = FakeBox(knee=41)
    result = bisect(box.measure, 40, 60, min_step=1, max_probes=2)
    assert box.asked == [50, 45]
    assert result.bounds == Bounds(40, 45) and result.exhausted and result.knee == 40


def test_bisection_below_the_lowest_rate_tried() -> None:
    box = FakeBox(knee=3)
    assert bisect(box.measure, None, 10, max_probes=10).bounds == Bounds(3, 4)
    assert box.asked == [5, 2, 3, 4]
    nothing = FakeBox(knee=0)
    result = bisect(nothing.measure, None, 10, max_probes=10)
    assert nothing.asked == [5, 2, 1] and result.bounds == Bounds(None, 1) and result.knee is None


@pytest.mark.parametrize("knee", range(20, 81))
def test_bisection_never_repeats_a_known_rate(knee: int) -> None:
    box = FakeBox(knee)
    result = bisect(box.measure, 20, 81, min_step=1, max_probes=20)
    assert 20 not in box.asked and 81 not in box.asked and len(set(box.asked)) == len(box.asked)
    assert result.knee == knee and result.bounds.first_failing == knee + 1


def test_nothing_to_bisect_and_bad_arguments() -> None:
    box = FakeBox(knee=50)
    assert bisect(box.measure, 50, 51).probes == () and box.asked == []
    assert bisect(box.measure, 40, 60, max_probes=0).exhausted
    for low, high, step, probes in ((60, 60, 1, 4), (70, 60, 1, 4), (40, 60, 0, 4), (40, 60, 1, -1)):
        with pytest.raises(ValueError):
            bisect(box.measure, low, high, min_step=step, max_probes=probes)

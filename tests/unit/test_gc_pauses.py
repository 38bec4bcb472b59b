"""The controller's collection pauses, counted from gc.callbacks' start and stop calls."""

from __future__ import annotations

import gc
from collections.abc import Iterator

from engine.gc_pauses import GcPauses, unwatch, watch


def ticking(times: list[float]) -> Iterator[float]:
    yield from times


def test_pauses_are_counted_per_generation_with_the_longest() -> None:
    times = ticking([1.0, 1.002, 5.0, 5.030, 9.0, 9.001])
    pauses = GcPauses(now=lambda: next(times))
    for generation in (0, 2, 1):
        pauses("start", {"generation": generation})
        pauses("stop", {"generation": generation})
    assert pauses.collections == [1, 1, 1]
    assert pauses.figures() == {"collections": 3, "full": 1, "total_ms": 33.0, "longest_ms": 30.0,
                                "longest_full_ms": 30.0}


def test_a_stop_without_its_start_is_ignored() -> None:
    pauses = GcPauses(now=lambda: 0.0)
    pauses("stop", {"generation": 2})
    assert pauses.figures()["collections"] == 0


def test_watching_sees_a_real_collection_and_stops_when_told() -> None:
    pauses = watch()
    try:
        gc.collect()
        assert pauses.collections[2] >= 1 and pauses.total_s > 0
    finally:
        unwatch(pauses)
    assert pauses not in gc.callbacks

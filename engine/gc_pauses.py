"""The garbage collector's pauses in the controller, counted for the live status.

Why count them: a collection stops every thread of the process while it walks the objects of the generations
it collects, and the event loop with them, so a caller's next prompt waits for it. Measured under load (README,
Benchmarks): about 0.5 ms per call, and a full collection of about 65 ms in most 60 s steps. Freezing the start-up's
objects out of the collector (``gc.freeze``) was tried in pairs and showed no gain
(bench/results/pairs-20261130-0302-gc-freeze/), so the collector runs as Python sets it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OLDEST = 2


# eq=False: ``unwatch`` must remove this very callback from gc.callbacks, not one that merely has equal figures.
@dataclass(eq=False)
class GcPauses:
    """Pause figures since start, fed by ``gc.callbacks`` (see `watch`): collections of each generation,
    the time they held the process and the longest one."""

    now: Callable[[], float] = time.perf_counter
    collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    total_s: float = 0.0
    longest_s: float = 0.0
    longest_full_s: float = 0.0
    _started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self.now()
            return
        if self._started is None:  # installed in the middle of a collection
            return
        took = self.now() - self._started
        self._started = None
        generation = int(info.get("generation", 0))
        self.collections[generation] += 1
        self.total_s += took
        self.longest_s = max(self.longest_s, took)
        if generation == OLDEST:
            self.longest_full_s = max(self.longest_full_s, took)

    def figures(self) -> dict[str, float | int]:
        """For the live status (``gc``): a reader takes differences between two snapshots for counts and total."""
        return {"collections": sum(self.collections), "full": self.collections[OLDEST],
                "total_ms": round(self.total_s * 1000, 1), "longest_ms": round(self.longest_s * 1000, 1),
                "longest_full_ms": round(self.longest_full_s * 1000, 1)}


def watch() -> GcPauses:
    """Start counting this process's collections."""
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    return pauses


def unwatch(pauses: GcPauses) -> None:
    if pauses in gc.callbacks:
        gc.callbacks.remove(pauses)

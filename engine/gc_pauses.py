"""The garbage collector's pauses in the controller: counted for the live status, and kept short.

Why it matters: a collection stops every thread of the process while it walks the objects of the generations
it collects, and the event loop with them: a caller's next prompt waits for it. The oldest generation holds
everything that lived through two collections, most of it loaded once at start (modules, flows, SQLAlchemy's
tables and compiled statements) and never garbage; `freeze_startup` moves that out of the collector's reach
(``gc.freeze``), so a full collection walks only what calls made since.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OLDEST = 2


@dataclass
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


def freeze_startup() -> None:
    """Collect what starting left behind, then exempt every object alive now from later collections (they
    are still freed by reference counting when dropped)."""
    gc.collect()
    gc.freeze()

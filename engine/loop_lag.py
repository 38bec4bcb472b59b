"""How late the event loop runs: the controller's own view of a stall that every caller shares.

Every call's next prompt, every agent's ring waits for the one event loop. A task asks to wake every
``PERIOD_S`` and notes how much later it woke (the lag), and how much of that lag the loop's thread spent on
the CPU (``time.thread_time``) over the whole wait: a thread that ran all along ran callbacks that took too
long; one that did not was kept off the CPU (other processes) or waited for the GIL (worker threads, the
garbage collector). The figures go to the live status (``loop``) and a long stall to the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

PERIOD_S = 0.1
# A caller notices a pause of a few hundred milliseconds before a prompt; counted apart.
LATE_S = 0.1
# Logged: a stall that long is a fault to look into, not load.
STALL_S = 1.0


@dataclass
class LoopLag:
    checks: int = 0
    late: int = 0
    total_lag_s: float = 0.0
    longest_s: float = 0.0
    # The share of the longest lag's whole wait (asked period + lag) the loop's thread was on the CPU.
    longest_running: float = 0.0

    def note(self, lag_s: float, waited_s: float, running_s: float) -> None:
        """One wake-up ``lag_s`` late after ``waited_s`` in all, in which the loop's thread ran ``running_s``."""
        lag_s = max(0.0, lag_s)
        share = min(1.0, max(0.0, running_s) / waited_s) if waited_s > 0 else 0.0
        self.checks += 1
        self.total_lag_s += lag_s
        if lag_s > LATE_S:
            self.late += 1
        if lag_s > self.longest_s:
            self.longest_s, self.longest_running = lag_s, share
        if lag_s > STALL_S:
            log.warning("event loop stalled: woke %.2f s late; its thread ran %.0f%% of the %.2f s", lag_s,
                        share * 100, waited_s)

    def figures(self) -> dict[str, float | int]:
        """For the live status (``loop``): counts and the total since start (readers take differences)."""
        return {"checks": self.checks, "late": self.late, "total_lag_ms": round(self.total_lag_s * 1000, 1),
                "longest_ms": round(self.longest_s * 1000, 1),
                "longest_running": round(self.longest_running, 2)}

    async def run(self, period_s: float = PERIOD_S) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked, ran = loop.time(), time.thread_time()
            await asyncio.sleep(period_s)
            waited = loop.time() - asked
            self.note(waited - period_s, waited, time.thread_time() - ran)

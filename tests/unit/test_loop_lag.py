"""The event loop's lag: late wake-ups counted, the longest kept with how much its thread ran."""

from __future__ import annotations

import asyncio
import logging

import pytest

from engine.loop_lag import LoopLag


def test_late_wake_ups_are_counted_and_the_longest_kept_with_its_running_share() -> None:
    lag = LoopLag()
    lag.note(0.002, 0.102, 0.01)
    lag.note(0.4, 0.5, 0.45)
    lag.note(0.15, 0.25, 0.0)
    lag.note(-0.001, 0.099, 0.0)  # a timer a hair early is not late
    assert lag.figures() == {"checks": 4, "late": 2, "total_lag_ms": 552.0, "longest_ms": 400.0,
                             "longest_running": 0.9}


def test_a_stall_of_seconds_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.loop_lag"):
        LoopLag().note(1.5, 1.6, 0.4)
    assert "event loop stalled: woke 1.50 s late; its thread ran 25% of the 1.60 s" in caplog.text


def test_a_callback_that_blocks_the_loop_shows_as_lag_spent_running() -> None:
    lag = LoopLag()

    async def scenario() -> None:
        watcher = asyncio.create_task(lag.run(period_s=0.01))
        await asyncio.sleep(0.03)
        loop = asyncio.get_running_loop()
        end = loop.time() + 0.25
        while loop.time() < end:  # the event loop's thread busy: every task waits
            pass
        await asyncio.sleep(0.03)
        watcher.cancel()

    asyncio.run(scenario())
    figures = lag.figures()
    assert figures["late"] >= 1 and float(figures["longest_ms"]) >= 200
    assert float(figures["longest_running"]) > 0.5

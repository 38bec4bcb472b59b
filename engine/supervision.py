"""The controller's long-lived tasks under one supervisor: none may die unseen.

A task that fails is logged with its traceback. A *critical* task (the ARI event stream that serves the
calls, the journal writer) ends the controller, whose stop hands live callers to the dialplan fallback;
any other task (distributor, agent desk, callback dialer, fallback-call reader, refresher) is restarted
with exponential backoff, and while it is down the controller reports itself degraded (``hotline status``).
Also here: the lock that keeps a second controller off the same data folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO

from engine.errors import ControllerRunning

log = logging.getLogger(__name__)
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# A task that ran this long before failing again starts its backoff over.
HEALTHY_AFTER_S = 60.0


class TaskSupervisor:
    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 monotonic: Callable[[], float] | None = None) -> None:
        self.sleep = sleep
        self.monotonic = monotonic or (lambda: asyncio.get_running_loop().time())
        # Task name -> what went wrong, while a restartable task is down or restarting.
        self.degraded: dict[str, str] = {}
        self.restarts: dict[str, int] = {}

    async def keep_running(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` again whenever it fails or returns; never returns (cancel to stop)."""
        backoff = FIRST_BACKOFF_S
        while True:
            started = self.monotonic()
            try:
                await job()
                why = "returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the point of a supervisor: any failure, logged with its traceback
                log.exception("task %s failed; restarting it in %.1f s", name, backoff)
                why = f"{type(exc).__name__}: {exc}"[:200]
            if self.monotonic() - started >= HEALTHY_AFTER_S:
                backoff = FIRST_BACKOFF_S
            self.degraded[name] = why
            self.restarts[name] = self.restarts.get(name, 0) + 1
            await self.sleep(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)
            self.degraded.pop(name, None)

    @staticmethod
    async def critical(name: str, job: Awaitable[None]) -> None:
        """Run a task the controller cannot do without; its failure is logged and ends the controller."""
        try:
            await job
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task %s failed: the controller stops and hands live callers to the fallback", name)
            raise


@contextlib.contextmanager
def controller_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir/controller.lock`` while a controller runs; a second one gets ControllerRunning.

    An OS lock, not a pid file: it is released by the kernel however the process ends (even SIGKILL),
    so a crashed controller never blocks the one that replaces it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "controller.lock"
    handle: IO[str] = open(path, "a+")  # noqa: SIM115 - held for the controller's lifetime
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise ControllerRunning(f"a controller is already running for {data_dir} (pid {holder}); "
                                    "stop it first (one controller per data folder and Stasis app)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()

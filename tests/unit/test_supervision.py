"""The controller's task supervisor and its one-controller lock, without a PBX."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import ControllerRunning
from engine.supervision import TaskSupervisor, controller_lock


def test_a_failing_task_is_restarted_with_growing_backoff_and_reported_degraded_meanwhile() -> None:
    async def scenario() -> None:
        waits: list[float] = []
        runs = 0
        seen_degraded: list[dict[str, str]] = []
        tasks: TaskSupervisor

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            seen_degraded.append(dict(tasks.degraded))
            if len(waits) == 4:
                raise asyncio.CancelledError

        tasks = TaskSupervisor(sleep=sleep, monotonic=lambda: 0.0)

        async def desk() -> None:
            nonlocal runs
            runs += 1
            raise RuntimeError("PBX unreachable")

        with pytest.raises(asyncio.CancelledError):
            await tasks.keep_running("agent-desk", desk)
        assert runs == 4 and waits == [0.5, 1.0, 2.0, 4.0]
        assert seen_degraded[0] == {"agent-desk": "RuntimeError: PBX unreachable"}
        assert tasks.restarts == {"agent-desk": 4}

    asyncio.run(scenario())


def test_a_critical_task_failure_propagates() -> None:
    async def broken() -> None:
        raise OSError("journal disk gone")

    with pytest.raises(OSError, match="journal disk gone"):
        asyncio.run(TaskSupervisor.critical("journal", broken()))


def test_a_second_controller_for_the_same_data_folder_is_refused(tmp_path: Path) -> None:
    with controller_lock(tmp_path), pytest.raises(ControllerRunning, match="already running"), \
            controller_lock(tmp_path):
        pass
    with controller_lock(tmp_path):  # released when the first one ends, however it ended
        pass


def test_a_stopped_controller_leaves_even_if_a_worker_thread_is_stuck() -> None:
    """asyncio.run waits for its executor's threads; the exit deadline does not let a stuck one hold the
    process (and the data folder's lock) forever."""
    code = ("import asyncio, time\n"
            "from engine.cli.run import _exit_deadline\n"
            "async def main():\n"
            "    _exit_deadline(0.3)\n"
            "    asyncio.get_running_loop().run_in_executor(None, time.sleep, 60)\n"
            "asyncio.run(main())\n")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20

"""The recordings' disk fills up during a conversation (a small tmpfs over the spool folder, then a file
that takes all but a few kilobytes of it).

Both conversations go on to their end: each caller stays with their agent and hears the farewell when the
agent hangs up. The journal tells the truth about the recordings: the conversation under way when the
disk filled is `recording.cut_short` (the file's seconds against the conversation's, and why: disk full);
the one that starts on the full disk is not recorded at all (`recording.failed`, disk full).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import recording_space
from engine.testcall import CallReport, place_call
from engine.testcall.agent import SippAgent
from tests.chaos.test_controller_crash import journal_shows
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_acd import add_agent, wait_registered
from tests.pbx.test_call_journey import journaled_call
from tests.pbx.test_ivr import events

pytestmark = [pytest.mark.pbx, pytest.mark.chaos, pytest.mark.timeout(180)]

DURING, AFTER = "13710000041", "13710000042"
TALK_S = 10.0


@pytest.fixture
def small_recordings_disk(pbx: Pbx) -> Iterator[Path]:
    """The recordings folder on a 2 MiB file system of its own, unmounted after the test."""
    folder = pbx.control.layout.recordings_dir
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(folder)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {result.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave_bytes: int) -> None:
    free = recording_space.free_bytes(folder)
    with open(folder / "filler", "wb") as out:
        out.write(b"\0" * max(0, free - leave_bytes))


def test_a_full_recordings_disk_leaves_calls_going_and_the_journal_says_so(
        pbx: Pbx, small_recordings_disk: Path) -> None:
    agents = [add_agent(pbx, number) for number in ("2606", "2607")]
    sip_port = pbx.settings.pbx.sip_port

    async def scenario() -> list[CallReport]:
        async with SippAgent(sip_user=agents[0]["sip_user"], password=agents[0]["password"], target_port=sip_port,
                             answer_after_s=0.5, hangup_after_s=TALK_S):
            await asyncio.to_thread(wait_registered, pbx, "2606")
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2606")

            def call(caller: str) -> asyncio.Task[CallReport]:
                return asyncio.create_task(place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                                      caller_id=caller, keys=["0"], max_call_s=60))
            during = call(DURING)
            await asyncio.to_thread(wait_until, lambda: journal_shows(pbx, DURING, "recording.started"), 30,
                                    "the first conversation recorded")
            await asyncio.sleep(1.0)
            fill(small_recordings_disk, leave_bytes=16 * 1024)  # one more second of audio, then full
            async with SippAgent(sip_user=agents[1]["sip_user"], password=agents[1]["password"],
                                 target_port=sip_port, answer_after_s=0.5, hangup_after_s=4.0):
                await asyncio.to_thread(wait_registered, pbx, "2607")
                await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2607")
                after = call(AFTER)
                return list(await asyncio.gather(during, after))

    with pbx.controller():
        during, after = asyncio.run(scenario())

    assert during.ended_by == "hotline" and during.duration_s >= TALK_S, during
    first = events(pbx, journaled_call(pbx, DURING, "completed", timeout=30).id)
    cut: list[dict[str, Any]] = [d for k, d in first if k == "recording.cut_short"]
    assert len(cut) == 1 and cut[0]["seconds"] < 4 and cut[0]["talk_s"] >= TALK_S - 1, cut
    assert cut[0]["why"].startswith("disk full"), cut

    assert after.ended_by == "hotline", after
    second = events(pbx, journaled_call(pbx, AFTER, "completed", timeout=30).id)
    failed = [d for k, d in second if k == "recording.failed"]
    assert len(failed) == 1 and failed[0]["why"].startswith("disk full"), second
    assert ("call.agent_hung_up", {"agent": "2607"}) in second, second
    assert not any(k in ("recording.started", "recording.saved") for k, _ in second), second

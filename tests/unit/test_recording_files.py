"""Recording files: settled, locked down to 0600, measured and checksummed, and journaled (or missing)."""

from __future__ import annotations

import asyncio
import hashlib
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.queueing.recording_files import RecordingFiles, closed, settle_recording, settled
from tests.unit.fakes import FakeClock, FakeControl, ListJournal
from tests.unit.fakes_queue import caller


def wav(path: Path, seconds: float, closed: bool = True) -> bytes:
    """A wav file as Asterisk leaves it: the header's data length is filled in only when it is closed."""
    audio = b"\1" * int(seconds * 16000)
    riff, data_bytes = (36 + len(audio), len(audio)) if closed else (0, 0)
    data = (b"RIFF" + riff.to_bytes(4, "little") + b"WAVE" + b"\0" * 28 + data_bytes.to_bytes(4, "little")
            + audio)
    path.write_bytes(data)
    path.chmod(0o644)
    return data


def test_a_recording_still_being_written_is_waited_for_until_asterisk_closes_it(tmp_path: Path) -> None:
    """MixMonitor writes through a buffer: its file's size stands still between flushes. Only the header's data
    length, filled in on close, says the recording is complete; its facts are taken then."""
    path = tmp_path / "talk.wav"

    async def scenario() -> tuple[tuple[float, str] | None, bytes]:
        wav(path, 1.0, closed=False)
        waiting = asyncio.create_task(settled(path, waits=30))
        await asyncio.sleep(0.35)  # the size stood still for three polls: not closed yet
        assert not waiting.done() and not closed(path)
        final = wav(path, 3.0)
        return await waiting, final

    facts, final = asyncio.run(scenario())
    assert facts == (3.0, hashlib.sha256(final).hexdigest())
    assert closed(path)


def test_an_empty_recording_asterisk_closed_is_settled_at_once(tmp_path: Path) -> None:
    """A conversation in which no phone sent audio leaves a header-only file: closed (RIFF length 36), it is not
    waited for (the caller's next step waits on it); just opened (lengths 0), it is."""
    wav(tmp_path / "empty.wav", 0)
    assert closed(tmp_path / "empty.wav")
    assert settle_recording(tmp_path / "empty.wav", waits=30) == (0.0, hashlib.sha256(
        (tmp_path / "empty.wav").read_bytes()).hexdigest())
    wav(tmp_path / "opened.wav", 0, closed=False)
    assert not closed(tmp_path / "opened.wav")


def test_a_settled_recording_is_private_and_measured(tmp_path: Path) -> None:
    data = wav(tmp_path / "r.wav", 1.5)
    assert settle_recording(tmp_path / "r.wav", waits=3) == (1.5, hashlib.sha256(data).hexdigest())
    assert stat.S_IMODE((tmp_path / "r.wav").stat().st_mode) == 0o600
    assert settle_recording(tmp_path / "none.wav", waits=1) is None


def test_the_journal_gets_the_facts_or_the_missing_file(tmp_path: Path) -> None:
    async def scenario() -> ListJournal:
        journal = ListJournal()
        call = caller("c1", FakeControl(), journal, FakeClock())
        files = RecordingFiles(tmp_path, settle_waits=3)
        wav(tmp_path / "c1-1001-ab.wav", 0.5)
        await files.note(call, "c1-1001-ab", "1001")
        await files.note(call, "c1-1001-gone", "1001")
        return journal

    journal = asyncio.run(scenario())
    saved, missing = journal.entries
    assert (saved.kind, saved.data["file"], saved.data["agent"], saved.data["seconds"]) == (
        "recording.saved", str(tmp_path / "c1-1001-ab.wav"), "1001", 0.5)
    assert (missing.kind, missing.data) == ("recording.missing", {"name": "c1-1001-gone", "agent": "1001"})


def test_settling_waits_on_the_event_loop_not_in_a_worker_thread(tmp_path: Path) -> None:
    """A recording still being closed must not hold a worker thread while it is waited for: the look-ups and
    password checks of callers in the IVR share those threads (here: a pool of one)."""
    async def scenario() -> tuple[float, tuple[float, str] | None]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        waiting = asyncio.create_task(settled(tmp_path / "not-yet.wav", waits=10))  # about 1 s
        await asyncio.sleep(0.05)
        started = loop.time()
        assert await asyncio.to_thread(lambda: 42) == 42
        took = loop.time() - started
        data = wav(tmp_path / "not-yet.wav", 0.25)
        facts = await waiting
        assert facts == (0.25, hashlib.sha256(data).hexdigest())
        return took, facts

    took, _ = asyncio.run(scenario())
    assert took < 0.5
    assert stat.S_IMODE((tmp_path / "not-yet.wav").stat().st_mode) == 0o600

"""Recording files once Asterisk has written them: settled, locked down (0600) and journaled with facts.

Asterisk closes a recording a little after its channel is gone (MixMonitor once the leg is destroyed), so
the file is watched until it is closed before its length and checksum are taken (the checksum is what
proves later that the file was not altered). Closed means the wav header's lengths are filled in:
Asterisk's wav writer leaves them 0 until it closes the file. A file's size is no sign: MixMonitor writes
through a buffer, so the size stands still between flushes, and a size that had not changed for 0.1 s
measured 1.5 s of a conversation of more than 3. Used for conversations, overflow sites' calls and messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from engine import recording_space
from engine.call_session import CallSession

log = logging.getLogger(__name__)

WAV_HEADER_BYTES = 44
BYTES_PER_SECOND = 16000  # 8 kHz, 16-bit mono wav


SETTLE_POLL_S = 0.1


def settle_recording(path: Path, waits: int = 30) -> tuple[float, str] | None:
    """Wait until Asterisk has closed the file, lock it down, and return (seconds, sha256). Blocking: for
    code already in a worker thread; the call logic uses ``settled``."""
    for _ in _until_closed(path, waits):
        time.sleep(SETTLE_POLL_S)
    return _lock_down_and_measure(path)


async def settled(path: Path, waits: int = 30) -> tuple[float, str] | None:
    """``settle_recording`` that waits on the event loop. A worker thread sleeping through the wait (up to
    ``waits`` x 0.1 s per recording) held one of the default pool's few threads, which the self-service
    look-ups, password checks and journal commits share: a backlog of settling recordings made callers' look-ups
    miss their deadline. Only reading and hashing the file go to a thread."""
    for _ in _until_closed(path, waits):
        await asyncio.sleep(SETTLE_POLL_S)
    return await asyncio.to_thread(_lock_down_and_measure, path)


def _until_closed(path: Path, waits: int) -> Iterator[None]:
    """Yields each time the caller should wait a poll: until Asterisk has closed the file, ``waits`` at most
    (then it is measured as it is, e.g. a file Asterisk never closed because it crashed)."""
    for _ in range(waits):
        if closed(path):
            return
        yield


def closed(path: Path) -> bool:
    """True when the wav file at ``path`` has been closed by its writer: the header's RIFF length (bytes 4-7)
    and data length (40-43) account for the whole file (a writer pads an odd length with one byte). A file
    still being written says 0 in both; an empty one closed says 36 and 0 (a conversation in which no phone
    sent audio: waiting for more held the caller's next step for the whole wait)."""
    try:
        with path.open("rb") as wav:
            header = wav.read(WAV_HEADER_BYTES)
            size = os.fstat(wav.fileno()).st_size
    except FileNotFoundError:
        return False
    if len(header) < WAV_HEADER_BYTES:
        return False
    riff_bytes, data_bytes = int.from_bytes(header[4:8], "little"), int.from_bytes(header[40:44], "little")
    return riff_bytes > 0 and size - 8 - riff_bytes in (0, 1) and size - WAV_HEADER_BYTES - data_bytes in (0, 1)


def _lock_down_and_measure(path: Path) -> tuple[float, str] | None:
    try:
        path.chmod(0o600)  # recordings are personal data: never world-readable
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    seconds = max(0, len(data) - WAV_HEADER_BYTES) / BYTES_PER_SECOND
    return round(seconds, 2), hashlib.sha256(data).hexdigest()


class RecordingFiles:
    def __init__(self, folder: Path, settle_waits: int = 30) -> None:
        self.folder = folder
        self.settle_waits = settle_waits  # 0.1 s each: how long a file may still be growing or not there yet

    async def note(self, call: CallSession, name: str, agent: str, talk_s: float | None = None) -> None:
        """Journal the recording ``name`` of the call: saved (file, seconds, sha256) or missing; and cut short
        when it covers much less than ``talk_s``, the conversation it should hold (a disk that filled up)."""
        path = self.folder / f"{name}.wav"
        facts = await settled(path, self.settle_waits)
        if facts is None:
            call.note("recording.missing", {"name": name, "agent": agent})
            return
        seconds, checksum = facts
        call.note("recording.saved", {"file": str(path), "agent": agent, "seconds": seconds, "sha256": checksum})
        if talk_s is not None and recording_space.cut_short(seconds, talk_s):
            why = recording_space.refusal(self.folder) or "shorter than the conversation"
            log.warning("recording %s cut short: %.1f s of a %.1f s conversation (%s)", name, seconds, talk_s, why)
            call.note("recording.cut_short", {"name": name, "agent": agent, "seconds": seconds,
                                              "talk_s": round(talk_s, 1), "why": why})

"""Leave a message: when nobody can take the call, the caller records a message after a beep.

The message ends on #, on 3 s of silence or at the maximum length, and becomes a work item (table
``messages``) with the caller's number, the file (0600) and its checksum. A caller who hangs up while
speaking still leaves the message they spoke.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy import insert

from engine.call_session import CallEnded, CallSession
from engine.clock import Clock
from engine.pbx.ari import AriClient
from engine.pbx.ari_events import RecordingFinished
from engine.queueing.recording_files import settled
from engine.store.message_tables import messages


class MessageBox:
    def __init__(self, ari: AriClient, db: sqlalchemy.Engine, recordings_dir: Path, clock: Clock,
                 max_s: int = 120, max_silence_s: int = 3) -> None:
        self.ari = ari
        self.db = db
        self.recordings_dir = recordings_dir
        self.clock = clock
        self.max_s = max_s
        self.max_silence_s = max_silence_s

    async def record(self, call: CallSession, queue: str) -> int | None:
        """Record the caller's message; its id, or None when nothing was recorded."""
        name = f"msg-{call.uid}"
        await call.act(self.ari.record_channel(call.channel.id, name, max_s=self.max_s,
                                               max_silence_s=self.max_silence_s))
        call.note("message.recording", {"queue": queue})
        return await self._until_saved(call, name, queue, self.max_s + 10)

    async def started(self, call: CallSession) -> bool:
        """Whether this caller's message recording began (still running in Asterisk, or its file exists)."""
        name = f"msg-{call.uid}"
        return await self.ari.live_recording(name) or (self.recordings_dir / f"{name}.wav").exists()

    async def finish(self, call: CallSession, queue: str) -> int | None:
        """A caller re-adopted while leaving a message: Asterisk kept recording; wait for the end (# or
        silence), or take what is there when the recording already ended while no controller listened."""
        name = f"msg-{call.uid}"
        still_recording = await self.ari.live_recording(name)
        return await self._until_saved(call, name, queue, self.max_s + 10 if still_recording else 0.5)

    async def _until_saved(self, call: CallSession, name: str, queue: str, within_s: float) -> int | None:
        ended: CallEnded | None = None
        try:
            while True:
                event = await call.next_event(within=within_s)
                if event is None or (isinstance(event, RecordingFinished) and event.name == name):
                    break
        except CallEnded as exc:
            ended = exc
        path = self.recordings_dir / f"{name}.wav"
        facts = await settled(path)
        message_id = None if facts is None else await asyncio.to_thread(self._save, call, path, facts, queue,
                                                                        self.clock.now())
        if message_id is not None:
            call.note("message.saved", {"message": message_id})
        if ended is not None:
            raise ended
        return message_id

    def _save(self, call: CallSession, path: Path, facts: tuple[float, str], queue: str, now: datetime) -> int:
        seconds, checksum = facts
        with self.db.begin() as conn:
            result = conn.execute(insert(messages).values(
                call_uid=call.uid, caller=call.channel.caller_number, queue=queue, file=str(path),
                seconds=seconds, sha256=checksum, created_at=now))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

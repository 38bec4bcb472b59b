"""Fakes for unit tests: a channel controller that records commands, a list journal, a fixed clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from engine.call_session import CallSession
from engine.pbx.ari_events import Channel, ChannelId, PlaybackId
from engine.store.journal import JournalEntry


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)


class FakeControl:
    def __init__(self) -> None:
        self.commands: list[tuple[str, ...]] = []
        self.present: list[Channel] = []
        self.variables: dict[tuple[ChannelId, str], str] = {}

    async def answer(self, channel: ChannelId) -> None:
        self.commands.append(("answer", channel))

    async def hangup(self, channel: ChannelId, reason: str = "normal") -> None:
        self.commands.append(("hangup", channel))

    async def play(self, channel: ChannelId, media: str, playback: PlaybackId, lang: str | None = None) -> None:
        self.commands.append(("play", channel, media, playback))

    async def stop_playback(self, playback: PlaybackId) -> None:
        self.commands.append(("stop_playback", playback))

    async def continue_in_dialplan(self, channel: ChannelId, context: str, extension: str, priority: int = 1) -> None:
        self.commands.append(("continue", channel, context))

    async def channels(self) -> list[Channel]:
        return list(self.present)

    async def set_variable(self, channel: ChannelId, name: str, value: str) -> None:
        self.variables[(channel, name)] = value

    async def get_variable(self, channel: ChannelId, name: str) -> str | None:
        return self.variables.get((channel, name))


class ListJournal:
    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []

    def append(self, entry: JournalEntry) -> None:
        self.entries.append(entry)

    def kinds(self, uid: str) -> list[str]:
        return [e.kind for e in self.entries if e.call_uid == uid]


def channel(uid: str = "1.1", number: str = "13800138000", in_app: bool = True) -> Channel:
    return Channel(id=ChannelId(uid), name=f"PJSIP/anonymous-{uid}", state="Ring", caller_number=number,
                   dialed="10086", language="zh", app_name="Stasis" if in_app else "",
                   app_data="hotline,inbound,10086" if in_app else "")


async def greeting_flow(call: CallSession) -> None:
    """A minimal call flow for supervisor tests: answer, greet, say goodbye."""
    await call.answer()
    await call.play("greeting")
    await call.play("goodbye")

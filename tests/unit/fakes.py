"""Fakes for unit tests: channel and queue controllers that record commands, a list journal, a fixed clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from engine.call_session import CallSession
from engine.pbx.ari import AriError
from engine.pbx.ari_events import BridgeId, Channel, ChannelId, PlaybackId
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
        """Talk detection's setting: nothing a fake acts on, and no test reads it back."""


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


class FakeQueueControl(FakeControl):
    """``QueueControl`` for the queue's pieces: music, agent legs and bridges recorded as commands.

    ``on_ring`` is told each leg rung (a test answers it by putting StasisStart in the call's inbox);
    ``refuse_ring`` makes ringing fail the way ARI does (an AriError)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_ring: Callable[[ChannelId], None] = lambda _leg: None
        self.refuse_ring: AriError | None = None
        self._bridges = 0

    async def start_moh(self, channel: ChannelId, moh_class: str = "default") -> None:
        self.commands.append(("start_moh", channel, moh_class))

    async def stop_moh(self, channel: ChannelId) -> None:
        self.commands.append(("stop_moh", channel))

    async def ring_leg(self, *, endpoint: str, channel_id: ChannelId, call_uid: str, caller_id: str,
                       timeout_s: int, recording: str | None) -> None:
        self.commands.append(("ring_leg", endpoint, channel_id, call_uid, caller_id, str(timeout_s), recording))
        if self.refuse_ring is not None:
            raise self.refuse_ring
        self.on_ring(channel_id)

    async def create_bridge(self, kind: str = "mixing", name: str = "") -> BridgeId:
        self._bridges += 1
        self.commands.append(("create_bridge", kind, name))
        return BridgeId(f"bridge{self._bridges}")

    async def add_to_bridge(self, bridge: BridgeId, channels: Sequence[ChannelId]) -> None:
        self.commands.append(("add_to_bridge", bridge, *channels))

    async def remove_from_bridge(self, bridge: BridgeId, channels: Sequence[ChannelId]) -> None:
        self.commands.append(("remove_from_bridge", bridge, *channels))

    async def destroy_bridge(self, bridge: BridgeId) -> None:
        self.commands.append(("destroy_bridge", bridge))

    async def start_bridge_moh(self, bridge: BridgeId, moh_class: str) -> None:
        self.commands.append(("start_bridge_moh", bridge, moh_class))

    async def stop_bridge_moh(self, bridge: BridgeId) -> None:
        self.commands.append(("stop_bridge_moh", bridge))

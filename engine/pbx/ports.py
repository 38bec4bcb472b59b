"""Protocols the call logic depends on; the ARI client implements them, unit tests use fakes."""

from __future__ import annotations

from typing import Protocol

from engine.pbx.ari_events import Channel, ChannelId, PlaybackId


class CallControl(Protocol):
    """The channel operations a call's logic may perform."""

    async def answer(self, channel: ChannelId) -> None: ...

    async def hangup(self, channel: ChannelId, reason: str = "normal") -> None: ...

    async def play(self, channel: ChannelId, media: str, playback: PlaybackId, lang: str | None = None) -> None: ...

    async def stop_playback(self, playback: PlaybackId) -> None: ...

    async def continue_in_dialplan(self, channel: ChannelId, context: str, extension: str,
                                   priority: int = 1) -> None: ...

    async def channels(self) -> list[Channel]: ...

    async def set_variable(self, channel: ChannelId, name: str, value: str) -> None: ...

    async def get_variable(self, channel: ChannelId, name: str) -> str | None:
        """The channel variable's value; None when it is not set."""
        ...

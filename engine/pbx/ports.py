"""Protocols the call logic depends on; the ARI client implements them, unit tests use fakes.

``CallControl`` is what any call's logic does to its own channel. The queue's pieces need a little more,
each as small a Protocol as it can be: music on hold on a channel (``MusicControl``), ringing an agent's
softphone (``AgentLineControl``), the bridges of conversations (``BridgeControl``) and their recordings
(``RecordingControl``);
``QueueControl`` is all of them, what the queue service as a whole drives. ``AriClient`` satisfies every
one structurally (no inheritance), so mypy checks it wherever it is passed as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from engine.pbx.ari_events import BridgeId, Channel, ChannelId, PlaybackId


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


class MusicControl(CallControl, Protocol):
    """A channel's operations plus its music on hold (a waiting caller, a caller between prompts)."""

    async def start_moh(self, channel: ChannelId, moh_class: str = "default") -> None: ...

    async def stop_moh(self, channel: ChannelId) -> None: ...


class AgentLineControl(CallControl, Protocol):
    """A channel's operations plus ringing a softphone on a new channel of ours (an offer's agent leg)."""

    async def ring_leg(self, *, endpoint: str, channel_id: ChannelId, call_uid: str, caller_id: str,
                       timeout_s: int, recording: str | None) -> None:
        """Ring ``endpoint`` for the call ``call_uid``; once it answers, Asterisk records it into
        ``recording`` (None: not recorded) and the channel enters our app (StasisStart)."""
        ...


class BridgeControl(Protocol):
    """The bridge a conversation lives in: its members and its filler music."""

    async def create_bridge(self, kind: str = "mixing", name: str = "") -> BridgeId: ...

    async def add_to_bridge(self, bridge: BridgeId, channels: Sequence[ChannelId]) -> None: ...

    async def remove_from_bridge(self, bridge: BridgeId, channels: Sequence[ChannelId]) -> None: ...

    async def destroy_bridge(self, bridge: BridgeId) -> None: ...

    async def start_bridge_moh(self, bridge: BridgeId, moh_class: str) -> None: ...

    async def stop_bridge_moh(self, bridge: BridgeId) -> None: ...


class QueueControl(MusicControl, AgentLineControl, BridgeControl, Protocol):
    """Everything the queue service drives on the PBX: waiting music, agent legs, conversations' bridges."""

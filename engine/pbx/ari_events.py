"""ARI websocket JSON -> frozen dataclasses, parsed once at the boundary.

Only the events the engine acts on get a class; anything else becomes ``UnknownEvent`` (logged at DEBUG
by the dispatcher). ``Connected``/``Disconnected`` are our own markers emitted by the event stream so
the supervisor can reconcile after every (re)connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NewType

ChannelId = NewType("ChannelId", str)
BridgeId = NewType("BridgeId", str)
PlaybackId = NewType("PlaybackId", str)


@dataclass(frozen=True)
class Channel:
    id: ChannelId
    name: str
    state: str
    caller_number: str
    dialed: str
    language: str
    app_name: str = ""
    app_data: str = ""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Channel:
        dialplan = raw.get("dialplan") or {}
        return cls(
            id=ChannelId(str(raw["id"])),
            name=str(raw.get("name", "")),
            state=str(raw.get("state", "")),
            caller_number=str((raw.get("caller") or {}).get("number", "")),
            dialed=str(dialplan.get("exten", "")),
            language=str(raw.get("language", "")),
            app_name=str(dialplan.get("app_name", "")),
            app_data=str(dialplan.get("app_data", "")),
        )


@dataclass(frozen=True)
class Event:
    at: datetime


@dataclass(frozen=True)
class ChannelEvent(Event):
    channel: Channel


@dataclass(frozen=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str = ""
    duration_ms: int = 0


@dataclass(frozen=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int = 0


@dataclass(frozen=True)
class ChannelDestroyed(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""


@dataclass(frozen=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelTalkingStarted(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelHold(ChannelEvent):
    """The channel's phone put the call on hold (SIP re-INVITE with sendonly/inactive)."""


@dataclass(frozen=True)
class ChannelUnhold(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelTalkingFinished(ChannelEvent):
    duration_ms: int = 0


@dataclass(frozen=True)
class PlaybackEvent(Event):
    playback_id: PlaybackId
    target_uri: str
    state: str

    @property
    def channel_id(self) -> ChannelId | None:
        kind, _, ident = self.target_uri.partition(":")
        return ChannelId(ident) if kind == "channel" else None


@dataclass(frozen=True)
class PlaybackStarted(PlaybackEvent):
    pass


@dataclass(frozen=True)
class PlaybackFinished(PlaybackEvent):
    pass


@dataclass(frozen=True)
class EndpointStateChange(Event):
    resource: str
    state: str


@dataclass(frozen=True)
class RecordingFinished(Event):
    name: str
    duration_s: int
    target_uri: str


@dataclass(frozen=True)
class UnknownEvent(Event):
    type: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Connected(Event):
    """Our marker: the websocket is (re)connected and the app registered."""


@dataclass(frozen=True)
class Disconnected(Event):
    """Our marker: the websocket dropped; a reconnect is under way."""

    reason: str = ""


# The event types the engine acts on; the controller asks Asterisk for these alone (``AriClient.events``).
# The rest of a Stasis app's stream (every ChannelVarset, among them Asterisk's own BRIDGEPEER and RTPAUDIOQOS*
# and our HOTLINE_POSITION writes, Dial, ChannelConnectedLine, bridge and recording-started events) was about
# four events in five of a journey call's: all parsed and routed to a call's inbox only to be dropped there.
ACTED_ON: frozenset[str] = frozenset({
    "StasisStart", "StasisEnd", "ChannelDtmfReceived", "ChannelHangupRequest", "ChannelDestroyed",
    "ChannelTalkingStarted", "ChannelHold", "ChannelUnhold", "PlaybackFinished", "RecordingFinished",
    "EndpointStateChange",
})


def _timestamp(raw: dict[str, Any]) -> datetime:
    text = raw.get("timestamp")
    if isinstance(text, str):
        try:
            # Asterisk writes "+0000" offsets, which fromisoformat accepts since 3.11.
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return datetime.now(UTC)


def _playback(cls: type[PlaybackEvent], raw: dict[str, Any], at: datetime) -> PlaybackEvent:
    playback = raw.get("playback") or {}
    return cls(at=at, playback_id=PlaybackId(str(playback.get("id", ""))),
               target_uri=str(playback.get("target_uri", "")), state=str(playback.get("state", "")))


def parse_event(raw: dict[str, Any]) -> Event:
    """Turn one websocket message into its typed event."""
    kind = str(raw.get("type", ""))
    at = _timestamp(raw)
    channel = Channel.parse(raw["channel"]) if isinstance(raw.get("channel"), dict) else None
    match kind, channel:
        case "StasisStart", Channel():
            return StasisStart(at=at, channel=channel, args=tuple(str(a) for a in raw.get("args", [])))
        case "StasisEnd", Channel():
            return StasisEnd(at=at, channel=channel)
        case "ChannelDtmfReceived", Channel():
            return ChannelDtmfReceived(at=at, channel=channel, digit=str(raw.get("digit", "")),
                                       duration_ms=int(raw.get("duration_ms", 0)))
        case "ChannelHangupRequest", Channel():
            return ChannelHangupRequest(at=at, channel=channel, cause=int(raw.get("cause", 0)))
        case "ChannelDestroyed", Channel():
            return ChannelDestroyed(at=at, channel=channel, cause=int(raw.get("cause", 0)),
                                    cause_txt=str(raw.get("cause_txt", "")))
        case "ChannelStateChange", Channel():
            return ChannelStateChange(at=at, channel=channel)
        case "ChannelTalkingStarted", Channel():
            return ChannelTalkingStarted(at=at, channel=channel)
        case "ChannelHold", Channel():
            return ChannelHold(at=at, channel=channel)
        case "ChannelUnhold", Channel():
            return ChannelUnhold(at=at, channel=channel)
        case "ChannelTalkingFinished", Channel():
            return ChannelTalkingFinished(at=at, channel=channel, duration_ms=int(raw.get("duration", 0)))
        case "PlaybackStarted", _:
            return _playback(PlaybackStarted, raw, at)
        case "PlaybackFinished", _:
            return _playback(PlaybackFinished, raw, at)
        case "EndpointStateChange", _:
            endpoint = raw.get("endpoint") or {}
            return EndpointStateChange(at=at, resource=str(endpoint.get("resource", "")),
                                       state=str(endpoint.get("state", "")))
        case "RecordingFinished", _:
            recording = raw.get("recording") or {}
            return RecordingFinished(at=at, name=str(recording.get("name", "")),
                                     duration_s=int(recording.get("duration", 0) or 0),
                                     target_uri=str(recording.get("target_uri", "")))
        case _:
            return UnknownEvent(at=at, type=kind, raw=raw)


def channel_of(event: Event) -> ChannelId | None:
    """The channel an event belongs to, for routing it to that call's inbox."""
    match event:
        case ChannelEvent(channel=channel):
            return channel.id
        case PlaybackEvent():
            return event.channel_id
        case RecordingFinished(target_uri=target):
            kind, _, ident = target.partition(":")
            return ChannelId(ident) if kind == "channel" else None
        case _:
            return None

"""Our small ARI client on aiohttp: REST calls and a reconnecting events websocket.

Why our own: shared/LIBS.md (ari-py does not import on Python 3; the other clients fail on reconnect or
under concurrency). Design points from that trial: the websocket reader never awaits handlers (it
only parses and hands events on), reconnects with capped backoff plus jitter, and after every
(re)connection emits ``Connected`` so the owner re-syncs from ``GET /channels``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from engine.errors import PbxUnreachable
from engine.pbx.ari_events import (
    BridgeId,
    Channel,
    ChannelId,
    Connected,
    Disconnected,
    Event,
    PlaybackId,
    parse_event,
)

log = logging.getLogger(__name__)
Params = Mapping[str, str | int | float]


class AriError(Exception):
    """Asterisk answered a REST call with an error status."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"ARI {method} {path} -> {status}: {message}")
        self.status = status


class AriNotFound(AriError):
    """404: usually the channel hung up a moment ago; callers treat it as a race, not a fault."""


class AriClient:
    def __init__(self, *, host: str, port: int, user: str, password: str, app: str) -> None:
        self.base = f"http://{host}:{port}/ari"
        self.ws_url = f"ws://{host}:{port}/ari/events"
        self.app = app
        self._auth = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AriClient:
        self._session = aiohttp.ClientSession(headers=self._auth, timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AriClient used outside `async with`")
        return self._session

    # -- REST ----------------------------------------------------------------------------------------
    async def request(self, method: str, path: str, params: Params | None = None,
                      body: Mapping[str, Any] | None = None) -> Any:
        query = {k: str(v) for k, v in (params or {}).items()}
        try:
            async with self.session.request(method, self.base + path, params=query, json=body) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    message = text
                    with contextlib.suppress(ValueError):
                        message = json.loads(text).get("message", text)
                    error = AriNotFound if resp.status == 404 else AriError
                    raise error(resp.status, method, path, message)
                return json.loads(text) if text else None
        except aiohttp.ClientConnectionError as exc:
            raise PbxUnreachable(f"ARI at {self.base} is unreachable: {exc}") from None

    async def info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/asterisk/info")
        return result

    async def channels(self) -> list[Channel]:
        return [Channel.parse(raw) for raw in await self.request("GET", "/channels")]

    async def answer(self, channel: ChannelId) -> None:
        await self.request("POST", f"/channels/{channel}/answer")

    async def hangup(self, channel: ChannelId, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel}", {"reason": reason})

    async def play(self, channel: ChannelId, media: str, playback: PlaybackId, lang: str | None = None) -> None:
        params: dict[str, str | int | float] = {"media": media}
        if lang:
            params["lang"] = lang
        await self.request("POST", f"/channels/{channel}/play/{playback}", params)

    async def stop_playback(self, playback: PlaybackId) -> None:
        await self.request("DELETE", f"/playbacks/{playback}")

    async def continue_in_dialplan(self, channel: ChannelId, context: str, extension: str,
                                   priority: int = 1) -> None:
        await self.request("POST", f"/channels/{channel}/continue",
                           {"context": context, "extension": extension, "priority": priority})

    async def start_moh(self, channel: ChannelId, moh_class: str = "default") -> None:
        await self.request("POST", f"/channels/{channel}/moh", {"mohClass": moh_class})

    async def stop_moh(self, channel: ChannelId) -> None:
        await self.request("DELETE", f"/channels/{channel}/moh")

    async def start_bridge_moh(self, bridge: BridgeId, moh_class: str) -> None:
        await self.request("POST", f"/bridges/{bridge}/moh", {"mohClass": moh_class})

    async def stop_bridge_moh(self, bridge: BridgeId) -> None:
        await self.request("DELETE", f"/bridges/{bridge}/moh")

    async def create_bridge(self, kind: str = "mixing", name: str = "") -> BridgeId:
        result = await self.request("POST", "/bridges", {"type": kind, "name": name})
        return BridgeId(str(result["id"]))

    async def add_to_bridge(self, bridge: BridgeId, channels: Sequence[ChannelId]) -> None:
        # Multi-valued parameters go as one comma-separated query value (shared/LIBS.md).
        await self.request("POST", f"/bridges/{bridge}/addChannel", {"channel": ",".join(channels)})

    async def remove_from_bridge(self, bridge: BridgeId, channels: Sequence[ChannelId]) -> None:
        await self.request("POST", f"/bridges/{bridge}/removeChannel", {"channel": ",".join(channels)})

    async def set_variable(self, channel: ChannelId, name: str, value: str) -> None:
        """Set a channel variable or dialplan function, e.g. ``TALK_DETECT(set)``."""
        await self.request("POST", f"/channels/{channel}/variable", {"variable": name, "value": value})

    async def get_variable(self, channel: ChannelId, name: str) -> str | None:
        try:
            result = await self.request("GET", f"/channels/{channel}/variable", {"variable": name})
        except AriNotFound as exc:
            if "variable" in str(exc).lower():
                return None  # Asterisk's answer for a variable never set on a live channel
            raise
        value = None if result is None else result.get("value")
        return str(value) if value else None

    async def bridges(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "/bridges")
        return result

    async def destroy_bridge(self, bridge: BridgeId) -> None:
        await self.request("DELETE", f"/bridges/{bridge}")

    async def record_bridge(self, bridge: BridgeId, name: str) -> None:
        await self.request("POST", f"/bridges/{bridge}/record",
                           {"name": name, "format": "wav", "ifExists": "fail", "beep": "false",
                            "terminateOn": "none"})

    async def record_channel(self, channel: ChannelId, name: str, *, max_s: int, max_silence_s: int) -> None:
        """Record what the caller says after a beep, until # or silence or ``max_s`` (RecordingFinished)."""
        await self.request("POST", f"/channels/{channel}/record",
                           {"name": name, "format": "wav", "maxDurationSeconds": max_s,
                            "maxSilenceSeconds": max_silence_s, "ifExists": "overwrite", "beep": "true",
                            "terminateOn": "#"})

    async def live_recording(self, name: str) -> bool:
        """True while Asterisk is still recording ``name``."""
        try:
            await self.request("GET", f"/recordings/live/{name}")
        except AriNotFound:
            return False
        return True

    async def originate(self, *, endpoint: str, channel_id: ChannelId, app_args: str, caller_id: str,
                        timeout_s: int) -> None:
        """Ring ``endpoint``; the new channel enters our app (StasisStart) only once it answers."""
        await self.request("POST", "/channels",
                           {"endpoint": endpoint, "app": self.app, "appArgs": app_args, "callerId": caller_id,
                            "timeout": timeout_s, "channelId": channel_id})

    async def endpoint_states(self, technology: str = "PJSIP") -> dict[str, str]:
        """Resource name -> state ("online", "offline", "unknown") of every endpoint of ``technology``."""
        rows = await self.request("GET", f"/endpoints/{technology}")
        return {str(r["resource"]): str(r.get("state", "unknown")) for r in rows}

    async def subscribe(self, event_source: str) -> None:
        await self.request("POST", f"/applications/{self.app}/subscription", {"eventSource": event_source})

    # -- events ----------------------------------------------------------------------------------------
    async def filter_events(self, allowed: Collection[str]) -> None:
        """Have Asterisk send the app only events of these types (kept by Asterisk with the app)."""
        await self.request("PUT", f"/applications/{self.app}/eventFilter",
                           body={"allowed": [{"type": kind} for kind in sorted(allowed)]})

    async def _filter_or_warn(self, only: Collection[str]) -> None:
        try:
            await self.filter_events(only)
        except (AriError, PbxUnreachable) as exc:  # every event still comes, only dearer to read (a lost
            # connection also ends the websocket, and the next one sets the filter again)
            log.warning("could not filter the app's ARI events, reading them all: %s", exc)

    async def events(self, *, max_backoff: float = 2.0, only: Collection[str] = ()) -> AsyncIterator[Event]:
        """Yield events forever, reconnecting on any drop; ``Connected`` follows each (re)connection.

        ``only``: the event types wanted, set as the app's filter on every connection (the app is created
        afresh when Asterisk restarts). Events that arrive before it is set are yielded like any other."""
        backoff = 0.1
        was_connected = False
        while True:
            try:
                async with self.session.ws_connect(self.ws_url, params={"app": self.app}, heartbeat=10,
                                                   timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                    log.info("ARI events connected (app %s)", self.app)
                    was_connected = True
                    backoff = 0.1
                    if only:
                        await self._filter_or_warn(only)
                    yield Connected(at=datetime.now(UTC))
                    async for message in ws:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            yield parse_event(json.loads(message.data))
                        elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                            break
                reason = "websocket closed"
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                reason = str(exc) or type(exc).__name__
            if was_connected:
                log.warning("ARI events lost (%s); reconnecting", reason)
                was_connected = False
                yield Disconnected(at=datetime.now(UTC), reason=reason)
            else:
                log.debug("ARI not reachable yet (%s); retrying in %.1f s", reason, backoff)
            await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
            backoff = min(max_backoff, backoff * 2)

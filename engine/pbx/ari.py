"""Our small ARI client on aiohttp: REST calls and a reconnecting events websocket.

Why our own: shared/LIBS.md (ari-py does not import on Python 3; the other clients fail on reconnect or
under concurrency). Design points from that trial: the websocket reader never awaits handlers (it
only parses and hands events on), reconnects with capped backoff plus jitter, and after every
(re)connection emits ``Connected`` so the owner re-syncs from ``GET /channels``.

While the events websocket is up, REST requests travel over it as ``RESTRequest`` messages (Asterisk 22.4
and later), answered by ``RESTResponse`` messages matched on ``request_id``: a third of the controller's
CPU per request next to an HTTP request through aiohttp (measured: 0.11 against 0.35 ms), for the same
work in Asterisk. A connection takes it up only once Asterisk answered a probe over it (older Asterisks,
or an event filter that would hold the responses back, keep HTTP); without a websocket, HTTP is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
# What aiohttp's session gives an HTTP request; a request over the websocket gets as long.
REQUEST_TIMEOUT_S = 10.0
# How long a new connection's probe may take before REST stays on HTTP for that connection.
PROBE_TIMEOUT_S = 2.0
# The message type of answers to requests sent over the websocket (an event type to Asterisk's filter).
REST_RESPONSE = "RESTResponse"
# Where a rung leg goes once it answers, and the channel variables it reads there (dialplan/hotline.conf.j2).
ANSWERED_LEG_CONTEXT = "hotline-leg-answered"
LEG_CALL_VARIABLE = "HOTLINE_CALL"
LEG_RECORDING_VARIABLE = "HOTLINE_RECORDING"


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
        # The events websocket, once it carries REST requests; None: they go over HTTP.
        self._rest_ws: aiohttp.ClientWebSocketResponse | None = None
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._request_ids = itertools.count(1)
        # Requests sent and events received since start: the live status shows them, the benchmark divides
        # them by its calls (a count is steady where CPU seconds vary with the box's load).
        self.requests_sent = 0
        self.events_received = 0

    def traffic(self) -> dict[str, int]:
        """Requests sent and events received since start (the live status's ``ari``)."""
        return {"requests": self.requests_sent, "events": self.events_received}

    async def __aenter__(self) -> AriClient:
        self._session = aiohttp.ClientSession(headers=self._auth,
                                              timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
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
        """``method`` ``path`` (from ``/ari``, e.g. ``/channels``): the decoded JSON answer, None if empty.
        AriError (AriNotFound) for an error status, PbxUnreachable when Asterisk cannot be reached."""
        self.requests_sent += 1
        ws = self._rest_ws
        if ws is not None and not ws.closed:
            status, text = await self._over_websocket(ws, method, path, params, body)
        else:
            status, text = await self._over_http(method, path, params, body)
        if status >= 400:
            message = text
            with contextlib.suppress(ValueError, AttributeError):
                message = json.loads(text).get("message", text)
            error = AriNotFound if status == 404 else AriError
            raise error(status, method, path, message)
        return json.loads(text) if text else None

    async def _over_http(self, method: str, path: str, params: Params | None,
                         body: Mapping[str, Any] | None) -> tuple[int, str]:
        query = {k: str(v) for k, v in (params or {}).items()}
        try:
            async with self.session.request(method, self.base + path, params=query, json=body) as resp:
                return resp.status, await resp.text()
        except aiohttp.ClientConnectionError as exc:
            raise PbxUnreachable(f"ARI at {self.base} is unreachable: {exc}") from None

    async def _over_websocket(self, ws: aiohttp.ClientWebSocketResponse, method: str, path: str,
                              params: Params | None, body: Mapping[str, Any] | None,
                              timeout_s: float = REQUEST_TIMEOUT_S) -> tuple[int, str]:
        request_id = str(next(self._request_ids))
        # Asterisk wants the URI without the leading slash (405 with it).
        message: dict[str, Any] = {"type": "RESTRequest", "request_id": request_id, "method": method,
                                   "uri": path.lstrip("/")}
        if params:
            message["query_strings"] = [{"name": name, "value": str(value)} for name, value in params.items()]
        if body is not None:
            message["content_type"] = "application/json"
            message["message_body"] = json.dumps(body)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[request_id] = answer
        try:
            await ws.send_str(json.dumps(message))
            async with asyncio.timeout(timeout_s):
                response = await answer
        except TimeoutError:
            raise PbxUnreachable(f"ARI did not answer {method} {path} within {timeout_s:g} s") from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise PbxUnreachable(f"ARI websocket at {self.ws_url} failed: {exc}") from None
        finally:
            self._answers.pop(request_id, None)
        return int(response.get("status_code", 500)), str(response.get("message_body") or "")

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

    async def bridges(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "/bridges")
        return result

    async def destroy_bridge(self, bridge: BridgeId) -> None:
        await self.request("DELETE", f"/bridges/{bridge}")

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

    async def ring_leg(self, *, endpoint: str, channel_id: ChannelId, call_uid: str, caller_id: str,
                       timeout_s: int, recording: str | None) -> None:
        """Ring ``endpoint`` as a leg of the call ``call_uid`` (an agent, an overflow site). Once it answers,
        the dialplan (``hotline-leg-answered``) has Asterisk record it into ``recording`` (None: not
        recorded) and hands it to our app: StasisStart, arguments ``agent-leg,<call_uid>``. A channel dialled
        into the dialplan is not our app's until then, so the app is subscribed to it: a leg refused or
        unreachable while it rings still ends with its ChannelDestroyed. AriError when it is gone already."""
        await self.request("POST", "/channels",
                           {"endpoint": endpoint, "context": ANSWERED_LEG_CONTEXT, "extension": "s",
                            "priority": 1, "callerId": caller_id, "timeout": timeout_s, "channelId": channel_id},
                           body={"variables": {LEG_CALL_VARIABLE: call_uid, LEG_RECORDING_VARIABLE: recording or ""}})
        await self.subscribe(f"channel:{channel_id}")

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

    async def _filter_or_warn(self, only: Collection[str]) -> bool:
        """Set the filter (letting answers to requests over the websocket through); False if it failed."""
        try:
            await self.filter_events({*only, REST_RESPONSE})
        except (AriError, PbxUnreachable) as exc:  # every event still comes, only dearer to read (a lost
            # connection also ends the websocket, and the next one sets the filter again)
            log.warning("could not filter the app's ARI events, reading them all: %s", exc)
            return False
        return True

    async def events(self, *, max_backoff: float = 2.0, only: Collection[str] = ()) -> AsyncIterator[Event]:
        """Yield events forever, reconnecting on any drop; ``Connected`` follows each (re)connection.

        ``only``: the event types wanted, set as the app's filter on every connection (the app is created
        afresh when Asterisk restarts). Events that arrive before it is set are yielded like any other.
        Once the filter is set, REST requests go over this websocket too (see the module docstring)."""
        backoff = 0.1
        was_connected = False
        while True:
            try:
                async with self.session.ws_connect(self.ws_url, params={"app": self.app}, heartbeat=10,
                                                   timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                    log.info("ARI events connected (app %s)", self.app)
                    was_connected = True
                    backoff = 0.1
                    inbox: asyncio.Queue[Event | None] = asyncio.Queue()
                    reader = asyncio.create_task(self._read(ws, inbox), name="ari-websocket-reader")
                    try:
                        if only and await self._filter_or_warn(only):
                            await self._carry_rest_over(ws)
                        yield Connected(at=datetime.now(UTC))
                        while (event := await inbox.get()) is not None:
                            yield event
                    finally:
                        reader.cancel()
                        await asyncio.gather(reader, return_exceptions=True)
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

    async def _carry_rest_over(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """REST over ``ws`` from now on, if Asterisk answers a request sent over it."""
        try:
            status, _ = await self._over_websocket(ws, "GET", "/asterisk/ping", None, None, PROBE_TIMEOUT_S)
        except PbxUnreachable as exc:
            log.info("ARI REST stays on HTTP (no answer over the websocket: %s)", exc)
            return
        if status == 200:
            self._rest_ws = ws
            log.info("ARI REST requests go over the events websocket")
        else:
            log.info("ARI REST stays on HTTP (the websocket probe got %d)", status)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, inbox: asyncio.Queue[Event | None]) -> None:
        """Answers to their requests at once, events to ``inbox`` in order; None there when ``ws`` ends."""
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._take(message.data, inbox)
                elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
        finally:
            if self._rest_ws is ws:
                self._rest_ws = None
            self._fail_answers("the ARI websocket closed before Asterisk answered")
            inbox.put_nowait(None)

    def _take(self, text: str, inbox: asyncio.Queue[Event | None]) -> None:
        try:
            raw = json.loads(text)
            if raw.get("type") == REST_RESPONSE:
                answer = self._answers.get(str(raw.get("request_id")))
                if answer is not None and not answer.done():
                    answer.set_result(raw)
                return
            self.events_received += 1
            inbox.put_nowait(parse_event(raw))
        except (ValueError, TypeError, KeyError, AttributeError):
            # One unreadable message must not cost the connection (and every call's events with it). Its text
            # is not logged: it may hold a caller's number.
            log.exception("skipping an unreadable ARI message (%d characters)", len(text))

    def _fail_answers(self, reason: str) -> None:
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(PbxUnreachable(reason))

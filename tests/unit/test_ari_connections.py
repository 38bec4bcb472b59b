"""The ARI client reuses one kept-alive connection for its REST calls (engine/pbx/ari.py).

Over HTTP, a new TCP connection per request would cost the controller (and Asterisk) a connect and a teardown for every
answer, play and bridge call; Asterisk's HTTP server keeps connections alive (http.conf ``session_keep_alive``,
15 s by default), so a sequence of calls must go over the same connection. Checked against a local aiohttp
server standing in for Asterisk. While the events websocket is up, requests go over it instead (Asterisk
answers with RESTResponse messages); an Asterisk that does not answer over it keeps them on HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from engine.errors import PbxUnreachable
from engine.pbx.ari import AriClient, AriNotFound
from engine.pbx.ari_events import ACTED_ON, ChannelId, PlaybackId, StasisStart, UnknownEvent, parse_event


def client(port: int) -> AriClient:
    """Our ARI client for the stand-in Asterisk listening on ``port``."""
    return AriClient(host="127.0.0.1", port=port, user="u", password="p", app="hotline")


def test_rest_calls_share_one_kept_alive_connection() -> None:
    peers: list[object] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        if request.method == "GET":
            return web.json_response([{"resource": "agent1001", "state": "online"}])
        return web.Response(status=204)

    async def scenario() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with client(port) as ari:
                for n in range(10):
                    await ari.answer(ChannelId(f"c{n}"))
                    await ari.play(ChannelId(f"c{n}"), "sound:hello", PlaybackId(f"p{n}"))
                    assert await ari.endpoint_states() == {"agent1001": "online"}
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
    assert len(peers) == 30
    assert len(set(peers)) == 1, f"{len(set(peers))} connections for 30 sequential requests"


def test_each_events_connection_sets_the_apps_event_filter_first() -> None:
    """The app's filter lives in Asterisk with the app, which a restarted Asterisk no longer has: the events
    stream sets it on every connection, before it reports ``Connected``; a refused filter costs a warning,
    not the stream."""
    filters: list[object] = []
    connections = 0

    async def events(request: web.Request) -> web.StreamResponse:
        nonlocal connections
        connections += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()  # a drop: the client connects again
        return ws

    async def event_filter(request: web.Request) -> web.StreamResponse:
        filters.append(await request.json())
        return web.json_response({}, status=200 if len(filters) == 1 else 400)

    async def scenario() -> list[str]:
        app = web.Application()
        app.router.add_get("/ari/events", events)
        app.router.add_put("/ari/applications/hotline/eventFilter", event_filter)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        seen: list[str] = []
        try:
            async with client(port) as ari:
                async for event in ari.events(only={"StasisStart", "StasisEnd"}, max_backoff=0.05):
                    seen.append(type(event).__name__)
                    if seen.count("Connected") == 2:
                        break
        finally:
            await runner.cleanup()
        return seen

    seen = asyncio.run(scenario())
    assert seen == ["Connected", "Disconnected", "Connected"]
    assert connections == 2
    # Answers to requests over the websocket are "events" to the filter: let through, or REST would hang.
    assert filters == [{"allowed": [{"type": "RESTResponse"}, {"type": "StasisEnd"}, {"type": "StasisStart"}]}] * 2


def test_every_event_type_the_app_asks_for_is_one_the_parser_types() -> None:
    """ACTED_ON (the app's filter) and parse_event name the same types: one asked for but parsed as unknown
    would be read for nothing."""
    channel = {"id": "c1", "name": "PJSIP/x", "state": "Up", "caller": {"number": "1"}, "dialplan": {}}
    for kind in ACTED_ON:
        event = parse_event({"type": kind, "channel": channel, "playback": {"id": "p"}, "recording": {"name": "r"},
                             "endpoint": {"resource": "a", "state": "online"}})
        assert not isinstance(event, UnknownEvent), kind


class FakeAsterisk:
    """ARI over HTTP and, if ``answers_over_websocket``, REST over the events websocket; each request
    noted with the way it came."""

    def __init__(self, *, answers_over_websocket: bool) -> None:
        self.answers_over_websocket = answers_over_websocket
        self.requests: list[tuple[str, str, str]] = []  # (way, method, path)
        self.sockets: list[web.WebSocketResponse] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    def answer(self, method: str, path: str) -> tuple[int, Any]:
        if path == "channels/gone":
            return 404, {"message": "Channel not found"}
        if method == "GET" and path == "channels":
            return 200, [{"id": "c1", "name": "PJSIP/x-1", "state": "Up", "caller": {"number": "1"}}]
        return 200, {}

    async def http(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix("/ari/")
        self.requests.append(("http", request.method, path))
        status, body = self.answer(request.method, path)
        return web.json_response(body, status=status)

    async def events(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            sent = json.loads(message.data)
            self.requests.append(("websocket", sent["method"], sent["uri"]))
            if not self.answers_over_websocket:
                continue  # an Asterisk before 22.4 ignores what it does not know
            status, body = self.answer(sent["method"], sent["uri"])
            await ws.send_str(json.dumps({"type": "RESTResponse", "request_id": sent["request_id"],
                                          "status_code": status, "message_body": json.dumps(body)}))
        return ws

    async def start_stasis(self, channel: str) -> None:
        await self.sockets[-1].send_str(json.dumps({
            "type": "StasisStart", "application": "hotline", "timestamp": "2026-11-29T10:00:00.000+0000",
            "args": [], "channel": {"id": channel, "name": "PJSIP/x-2", "state": "Ring",
                                    "caller": {"number": "13800138000"}}}))

    async def __aenter__(self) -> FakeAsterisk:
        app = web.Application()
        app.router.add_get("/ari/events", self.events)
        app.router.add_route("*", "/ari/{tail:.*}", self.http)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def test_requests_travel_over_the_events_websocket_once_asterisk_answers_there() -> None:
    """Also the re-sync the owner makes on ``Connected`` while the stream waits for it to take the next event,
    and a request from a call's handling of an event: the websocket's reader answers them meanwhile."""
    async def scenario() -> tuple[FakeAsterisk, list[str], dict[str, int]]:
        async with FakeAsterisk(answers_over_websocket=True) as pbx, client(pbx.port) as ari:
            seen: list[str] = []
            async for event in ari.events(only={"StasisStart"}):
                seen.append(type(event).__name__)
                if isinstance(event, StasisStart):
                    await ari.answer(event.channel.id)
                    try:
                        await ari.hangup(ChannelId("gone"))
                    except AriNotFound as exc:
                        seen.append(str(exc))
                    break
                assert [c.id for c in await ari.channels()] == ["c1"]
                await pbx.start_stasis("c2")
            return pbx, seen, ari.traffic()

    pbx, seen, traffic = asyncio.run(scenario())
    assert seen == ["Connected", "StasisStart", "ARI DELETE /channels/gone -> 404: Channel not found"]
    # The live status's count: the filter, the channel list, the answer and the hang-up (the probe is the
    # client's own); one event (the answers to requests are not events).
    assert traffic == {"requests": 4, "events": 1}
    assert pbx.requests == [("http", "PUT", "applications/hotline/eventFilter"),  # before it lets answers through
                            ("websocket", "GET", "asterisk/ping"), ("websocket", "GET", "channels"),
                            ("websocket", "POST", "channels/c2/answer"), ("websocket", "DELETE", "channels/gone")]


def test_an_asterisk_that_does_not_answer_over_the_websocket_keeps_http() -> None:
    async def scenario() -> FakeAsterisk:
        async with FakeAsterisk(answers_over_websocket=False) as pbx, client(pbx.port) as ari:
            async for _ in ari.events(only={"StasisStart"}):
                await ari.answer(ChannelId("c1"))
                break
            return pbx

    pbx = asyncio.run(scenario())
    assert pbx.requests == [("http", "PUT", "applications/hotline/eventFilter"), ("websocket", "GET", "asterisk/ping"),
                            ("http", "POST", "channels/c1/answer")]


def test_a_request_in_flight_when_the_websocket_drops_fails_as_unreachable() -> None:
    """Like an HTTP request cut off: the caller cannot know whether Asterisk did it, and is told so at once."""
    async def scenario() -> str:
        async with FakeAsterisk(answers_over_websocket=True) as pbx, client(pbx.port) as ari:
            async for _ in ari.events(only={"StasisStart"}):
                pbx.answers_over_websocket = False  # the next request is never answered...
                request = asyncio.create_task(ari.answer(ChannelId("c1")))
                await asyncio.sleep(0.1)
                await pbx.sockets[-1].close()  # ...and the websocket drops under it
                try:
                    await asyncio.wait_for(request, 5)
                except PbxUnreachable as exc:
                    return str(exc)
                return "answered"
        return "no events"

    assert asyncio.run(scenario()) == "the ARI websocket closed before Asterisk answered"


def test_an_unreadable_message_is_skipped_and_the_stream_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    """Its text is not logged: it may hold a caller's number."""
    async def scenario() -> list[str]:
        async with FakeAsterisk(answers_over_websocket=True) as pbx, client(pbx.port) as ari:
            seen: list[str] = []
            async for event in ari.events(only={"StasisStart"}):
                seen.append(type(event).__name__)
                if isinstance(event, StasisStart):
                    break
                await pbx.sockets[-1].send_str('{"type": "StasisStart", "channel": {"caller": "13800138000"')
                await pbx.start_stasis("c2")
            return seen

    with caplog.at_level(logging.ERROR, "engine.pbx.ari"):
        assert asyncio.run(scenario()) == ["Connected", "StasisStart"]
    assert "skipping an unreadable ARI message" in caplog.text
    assert "13800138000" not in caplog.text

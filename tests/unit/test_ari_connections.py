"""The ARI client reuses one kept-alive connection for its REST calls (engine/pbx/ari.py).

A new TCP connection per request would cost the controller (and Asterisk) a connect and a teardown for every
answer, play and bridge call; Asterisk's HTTP server keeps connections alive (http.conf ``session_keep_alive``,
15 s by default), so a sequence of calls must go over the same connection. Checked against a local aiohttp
server standing in for Asterisk.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from engine.pbx.ari import AriClient
from engine.pbx.ari_events import ACTED_ON, ChannelId, PlaybackId, UnknownEvent, parse_event


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
            async with AriClient(host="127.0.0.1", port=port, user="u", password="p", app="hotline") as ari:
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
            async with AriClient(host="127.0.0.1", port=port, user="u", password="p", app="hotline") as ari:
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
    assert filters == [{"allowed": [{"type": "StasisEnd"}, {"type": "StasisStart"}]}] * 2


def test_every_event_type_the_app_asks_for_is_one_the_parser_types() -> None:
    """ACTED_ON (the app's filter) and parse_event name the same types: one asked for but parsed as unknown
    would be read for nothing."""
    channel = {"id": "c1", "name": "PJSIP/x", "state": "Up", "caller": {"number": "1"}, "dialplan": {}}
    for kind in ACTED_ON:
        event = parse_event({"type": kind, "channel": channel, "playback": {"id": "p"}, "recording": {"name": "r"},
                             "endpoint": {"resource": "a", "state": "online"}})
        assert not isinstance(event, UnknownEvent), kind

"""A TCP relay between the controller and Asterisk's HTTP port that can cut the ARI events websocket.

The controller is pointed at the relay (``HOTLINE_PBX_ARI_PORT``); REST requests pass untouched, and
``drop_events`` closes the websocket connections it carries, which is what a network blip or a proxy
timeout does to a long-lived connection while Asterisk itself stays up.
"""

from __future__ import annotations

import asyncio
import contextlib


class AriRelay:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._events: set[asyncio.StreamWriter] = set()
        self._open: set[asyncio.StreamWriter] = set()
        self._refuse_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> AriRelay:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Cut rather than cancel: the server's own callback treats a cancelled handler as an error.
        for writer in list(self._open):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def events_connections(self) -> int:
        return len(self._events)

    def drop_events(self, refuse_for_s: float = 0.0) -> int:
        """Cut every events websocket now (both directions) and refuse new ones for ``refuse_for_s``
        (events of that time are lost to the controller); returns how many were cut."""
        self._refuse_until = asyncio.get_running_loop().time() + refuse_for_s
        cut = list(self._events)
        for writer in cut:
            writer.transport.abort()
        self._events.clear()
        self.dropped += len(cut)
        return len(cut)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            self._tasks.discard(task)
            return
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(self._requests(reader, up_writer, writer), self._pipe(up_reader, writer))
        finally:
            self._events.discard(writer)
            for w in (writer, up_writer):
                w.transport.abort()
                self._open.discard(w)
            self._tasks.discard(task)

    async def _requests(self, reader: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                        client: asyncio.StreamWriter) -> None:
        # aiohttp may upgrade a kept-alive REST connection, so look at every request, not only the first.
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if b"GET /ari/events" in data:
                    if asyncio.get_running_loop().time() < self._refuse_until:
                        break
                    self._events.add(client)
                upstream.write(data)
                await upstream.drain()
        upstream.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

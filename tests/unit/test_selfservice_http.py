"""HttpSelfService against a small aiohttp server started in the test: answers, 404s, outages, a slow back end."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import pytest
from aiohttp import web

from engine.ivr.ports import LookupResult
from engine.selfservice.http_source import HttpSelfService

ACCOUNT = {
    "number": "13800138000",
    "holder": "张三",
    "balance_fen": 12345,
    "bill_fen": 8800,
    "bill_month": "2026-11",
    "data_used_mb": 3584,
    "data_total_mb": 10240,
}
ORDER = {"order_no": "20261123001", "number": "13800138000", "kind": "repair", "status": "in_progress",
         "eta": "2026-11-24"}
LOGGER = "engine.selfservice.http_source"


class Backend:
    """The operator's back end as the module docstring describes it, plus misbehaving numbers."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.password_requests: list[tuple[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/accounts/{number}", self.account)
        app.router.add_post("/api/accounts/{number}/password-check", self.password_check)
        app.router.add_get("/api/broadband-orders/{order_no}", self.order)
        return app

    async def account(self, request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        if number == "13800138000":
            return web.json_response(ACCOUNT)
        if number == "13600000003":
            return web.json_response({**ACCOUNT, "number": number, "data_used_mb": None, "data_total_mb": None})
        if number == "500":
            return web.Response(status=503, text="maintenance")
        if number == "garbage":
            return web.Response(text="<html>not json</html>")
        if number == "wrongshape":
            return web.json_response({**ACCOUNT, "balance_fen": "123.45"})
        if number == "slow":
            await asyncio.wait_for(self.release.wait(), 10)
            return web.json_response(ACCOUNT)
        raise web.HTTPNotFound()

    async def password_check(self, request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        self.password_requests.append((request.path_qs, await request.json()))
        if number != "13800138000":
            raise web.HTTPNotFound()
        body = await request.json()
        return web.json_response({"ok": body.get("password") == "123456"})

    async def order(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["order_no"] == ORDER["order_no"]:
            return web.json_response(ORDER)
        raise web.HTTPNotFound()


@asynccontextmanager
async def serving(backend: Backend) -> AsyncIterator[str]:
    runner = web.AppRunner(backend.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/api/"
    finally:
        backend.release.set()
        await runner.cleanup()


def run(test: Callable[[HttpSelfService, Backend], Awaitable[None]], timeout_s: float = 2.0) -> None:
    async def main() -> None:
        backend = Backend()
        async with serving(backend) as base, HttpSelfService(base, timeout_s=timeout_s) as source:
            await test(source, backend)

    asyncio.run(main())


def test_account_lookups() -> None:
    async def check(source: HttpSelfService, _backend: Backend) -> None:
        assert await source.lookup("balance", "13800138000") == LookupResult("ok", {"amount_fen": 12345})
        bill = await source.lookup("bill", "13800138000")
        assert bill == LookupResult("ok", {"amount_fen": 8800, "month": "2026-11"})
        usage = await source.lookup("data_usage", "13800138000")
        assert usage == LookupResult("ok", {"used_mb": 3584, "total_mb": 10240, "left_mb": 6656})
        assert (await source.lookup("data_usage", "13600000003")).status == "not_found"
        assert (await source.lookup("balance", "13999999999")).status == "not_found"

    run(check)


def test_broadband_order_lookup() -> None:
    async def check(source: HttpSelfService, _backend: Backend) -> None:
        assert await source.lookup("broadband_order", "20261123001") == LookupResult(
            "ok", {"kind": "repair", "status": "in_progress", "eta": date(2026, 11, 24)})
        assert (await source.lookup("broadband_order", "BB404")).status == "not_found"
        # A key with URL characters stays one path segment.
        assert (await source.lookup("broadband_order", "../accounts/13800138000")).status == "not_found"

    run(check)


def test_password_check_sends_the_password_in_the_body_only() -> None:
    async def check(source: HttpSelfService, backend: Backend) -> None:
        assert await source.check_password("13800138000", "123456") is True
        assert await source.check_password("13800138000", "000000") is False
        assert await source.check_password("13999999999", "123456") is False
        assert await source.check_password("13800138000", "12345") is False  # never sent
        assert len(backend.password_requests) == 3
        for path, body in backend.password_requests:
            assert "123456" not in path and "000000" not in path
            assert set(body) == {"password"}

    run(check)


@pytest.mark.parametrize("number", ["500", "garbage", "wrongshape"])
def test_broken_answers_are_unavailable(number: str) -> None:
    async def check(source: HttpSelfService, _backend: Backend) -> None:
        assert await source.lookup("balance", number) == LookupResult("unavailable")

    run(check)


def test_slow_backend_times_out(caplog: pytest.LogCaptureFixture) -> None:
    async def check(source: HttpSelfService, _backend: Backend) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await source.lookup("balance", "slow") == LookupResult("unavailable")
        assert loop.time() - started < 1.5
        # The next caller is served again once the back end answers.
        assert (await source.lookup("balance", "13800138000")).status == "ok"

    with caplog.at_level(logging.INFO, logger=LOGGER):
        run(check, timeout_s=0.3)
    records = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert [level for level, _ in records] == ["WARNING", "INFO"]
    assert "no answer within 0.3 s" in records[0][1]


def test_refused_connection_is_unavailable_logged_once_masked(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        async with HttpSelfService(f"http://127.0.0.1:{port}") as source:
            assert await source.lookup("balance", "13800138000") == LookupResult("unavailable")
            assert await source.check_password("13800138000", "123456") is None
            assert await source.lookup("broadband_order", "20261123001") == LookupResult("unavailable")

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        asyncio.run(main())
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 1
    assert "138****8000" in messages[0] and "13800138000" not in messages[0]

"""HttpSelfService: the IVR's SelfService port on an operator's own back end, over HTTP(S) with JSON.

The back end answers three requests (keys are URL-quoted path segments):

``GET {base}/accounts/{number}`` → 200::

    {"number": "13800138000", "holder": "张三",            # holder may be null
     "balance_fen": 12345, "bill_fen": 8800,              # integers in fen (1/100 yuan); balance < 0 = arrears
     "bill_month": "2026-11",                             # or null
     "data_used_mb": 3584, "data_total_mb": 10240}        # both null when the account has no data plan

``POST {base}/accounts/{number}/password-check`` with body ``{"password": "123456"}`` → 200 ``{"ok": true}``
(the password travels only in the body, never in the URL; use https or a loopback address).

``GET {base}/broadband-orders/{order_no}`` → 200::

    {"order_no": "20261123001", "number": "13800138000",
     "kind": "repair",                                    # install | repair
     "status": "in_progress",                             # accepted | dispatched | in_progress | completed | cancelled
     "eta": "2026-11-24"}                                 # or null

A 404 means not found (a password check on an unknown number is False). Anything else (timeout after
``timeout_s``, refused connection, 5xx, an unexpected status or a body not shaped as above) makes the
look-up ``unavailable`` / the password check ``None``; the first failure of an outage is logged once as a
WARNING with caller numbers masked. Call ``close()`` (or use ``async with``) at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from engine.ivr.ports import LookupResult
from engine.masking import mask_number
from engine.selfservice.outage import OutageLog
from engine.selfservice.passwords import is_valid_password
from engine.selfservice.records import (
    NOT_FOUND,
    ORDER_KIND,
    UNAVAILABLE,
    Account,
    BroadbandOrder,
    account_values,
    check_kind,
    order_values,
)
from engine.store.self_service_tables import ORDER_KINDS, ORDER_STATUSES

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Unavailable(Exception):
    """The back end failed, was too slow or answered nonsense (already logged)."""


class _BadAnswer(ValueError):
    """A 200 whose body does not follow the documented shape."""


class HttpSelfService:
    """See the module docstring."""

    def __init__(self, base_url: str, timeout_s: float = 2.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._outage = OutageLog(logger, f"self-service back end {self._base}")

    async def __aenter__(self) -> HttpSelfService:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check_password(self, number: str, password: str) -> bool | None:
        if not is_valid_password(password):
            return False
        path = f"/accounts/{quote(number, safe='')}/password-check"
        try:
            body = await self._request("POST", path, f"password check for {mask_number(number)}",
                                       json={"password": password})
        except _Unavailable:
            return None
        if body is None:
            return False
        ok = body.get("ok") if isinstance(body, dict) else None
        if not isinstance(ok, bool):
            self._outage.failed(f"password check for {mask_number(number)}", "answer without a boolean 'ok'")
            return None
        return ok

    async def lookup(self, kind: str, key: str) -> LookupResult:
        check_kind(kind)
        try:
            if kind == ORDER_KIND:
                what = f"{kind} look-up of {key}"
                body = await self._request("GET", f"/broadband-orders/{quote(key, safe='')}", what)
                return NOT_FOUND if body is None else order_values(self._parse(_order, body, what))
            what = f"{kind} look-up for {mask_number(key)}"
            body = await self._request("GET", f"/accounts/{quote(key, safe='')}", what)
            return NOT_FOUND if body is None else account_values(kind, self._parse(_account, body, what))
        except _Unavailable:
            return UNAVAILABLE

    async def _request(self, method: str, path: str, what: str, json: Any = None) -> Any:
        """The decoded JSON body of a 200, None for a 404; _Unavailable for anything else."""
        if self._session is None:
            # Created on first use: a ClientSession must be made inside the running event loop.
            self._session = aiohttp.ClientSession(raise_for_status=False)
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._session.request(method, self._base + path, json=json) as response:
                    if response.status == 404:
                        self._outage.answered()
                        return None
                    if response.status != 200:
                        self._outage.failed(what, f"HTTP {response.status}")
                        raise _Unavailable
                    body = await response.json(content_type=None)
        except TimeoutError:
            self._outage.failed(what, f"no answer within {self._timeout_s:g} s")
            raise _Unavailable from None
        except (aiohttp.ClientError, ValueError) as exc:
            # ValueError: a body that is not JSON at all.
            self._outage.failed(what, type(exc).__name__)
            raise _Unavailable from None
        self._outage.answered()
        return body

    def _parse(self, parse: Callable[[Any], T], body: Any, what: str) -> T:
        try:
            return parse(body)
        except _BadAnswer as exc:
            self._outage.failed(what, f"unexpected answer: {exc}")
            raise _Unavailable from None


def _account(body: Any) -> Account:
    fields = _object(body)
    return Account(
        number=_field(fields, "number", str),
        holder=_optional(fields, "holder", str),
        balance_fen=_field(fields, "balance_fen", int),
        bill_fen=_field(fields, "bill_fen", int),
        bill_month=_optional(fields, "bill_month", str),
        data_used_mb=_optional(fields, "data_used_mb", int),
        data_total_mb=_optional(fields, "data_total_mb", int),
    )


def _order(body: Any) -> BroadbandOrder:
    fields = _object(body)
    kind, status = _field(fields, "kind", str), _field(fields, "status", str)
    if kind not in ORDER_KINDS or status not in ORDER_STATUSES:
        raise _BadAnswer(f"unknown kind/status {kind!r}/{status!r}")
    eta_text = _optional(fields, "eta", str)
    try:
        eta = date.fromisoformat(eta_text) if eta_text else None
    except ValueError:
        raise _BadAnswer(f"eta {eta_text!r} is not YYYY-MM-DD") from None
    return BroadbandOrder(_field(fields, "order_no", str), _field(fields, "number", str), kind, status, eta)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _BadAnswer("not a JSON object")
    return body


def _field(fields: dict[str, Any], name: str, kind: type[T]) -> T:
    value = _optional(fields, name, kind)
    if value is None:
        raise _BadAnswer(f"{name} is missing")
    return value


def _optional(fields: dict[str, Any], name: str, kind: type[T]) -> T | None:
    value = fields.get(name)
    # bool is an int to Python, not to the contract: true is no balance.
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise _BadAnswer(f"{name} is not a {kind.__name__}")

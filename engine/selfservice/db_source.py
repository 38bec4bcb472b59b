"""DbSelfService: the IVR's SelfService port read from the hotline's own database.

The tables (engine.store.self_service_tables) are filled by `hotline data load`. Every query runs in a
worker thread (SQLAlchemy is synchronous) under a deadline: a caller waiting in the IVR must hear
"service unavailable" after ``timeout_s``, not silence. Any database failure or timeout becomes
``LookupResult("unavailable")`` / ``None``; the first failure of an outage is logged once as a WARNING
(caller numbers masked) and the recovery at INFO. Collaborators: engine.selfservice.records (values),
engine.selfservice.passwords (hash check), engine.selfservice.outage (logging).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from engine.ivr.ports import LookupResult
from engine.masking import mask_number
from engine.selfservice.outage import OutageLog
from engine.selfservice.passwords import is_valid_password, verify_password
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
from engine.store.self_service_tables import accounts, broadband_orders

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Unavailable(Exception):
    """The database failed or missed the deadline (already logged)."""


class DbSelfService:
    """See the module docstring. ``engine`` is owned by the caller (the composition root disposes it)."""

    def __init__(self, engine: Engine, timeout_s: float = 2.0) -> None:
        self._engine = engine
        self._timeout_s = timeout_s
        self._outage = OutageLog(logger, "self-service database")

    async def check_password(self, number: str, password: str) -> bool | None:
        if not is_valid_password(password):
            # Not even well-formed: no need to ask the database.
            return False
        try:
            stored = await self._run(self._password_hash, number, f"password check for {mask_number(number)}")
        except _Unavailable:
            return None
        if stored is None:
            return False
        # scrypt costs tens of ms of CPU: keep it off the event loop.
        return await asyncio.to_thread(verify_password, password, stored)

    async def lookup(self, kind: str, key: str) -> LookupResult:
        check_kind(kind)
        try:
            if kind == ORDER_KIND:
                order = await self._run(self._order, key, f"{kind} look-up of {key}")
                return NOT_FOUND if order is None else order_values(order)
            account = await self._run(self._account, key, f"{kind} look-up for {mask_number(key)}")
        except _Unavailable:
            return UNAVAILABLE
        return NOT_FOUND if account is None else account_values(kind, account)

    async def _run(self, query: Callable[[str], T], key: str, what: str) -> T:
        """``query(key)`` in a thread under the deadline; _Unavailable on any database failure."""
        try:
            result = await asyncio.wait_for(asyncio.to_thread(query, key), self._timeout_s)
        except TimeoutError:
            self._outage.failed(what, f"no answer within {self._timeout_s:g} s")
            raise _Unavailable from None
        except SQLAlchemyError as exc:
            self._outage.failed(what, type(exc).__name__)
            raise _Unavailable from None
        if self._outage:
            self._outage = OutageLog(logger, "self-service database")
            logger.info("self-service database is answering again")
        return result

    def _password_hash(self, number: str) -> str | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(accounts.c.password_hash).where(accounts.c.number == number)).first()
        return None if row is None else str(row.password_hash)

    def _account(self, number: str) -> Account | None:
        columns = [accounts.c[name] for name in Account.__dataclass_fields__]
        with self._engine.connect() as connection:
            row = connection.execute(select(*columns).where(accounts.c.number == number)).first()
        return None if row is None else Account(**row._asdict())

    def _order(self, order_no: str) -> BroadbandOrder | None:
        columns = [broadband_orders.c[name] for name in BroadbandOrder.__dataclass_fields__]
        with self._engine.connect() as connection:
            row = connection.execute(select(*columns).where(broadband_orders.c.order_no == order_no)).first()
        return None if row is None else BroadbandOrder(**row._asdict())

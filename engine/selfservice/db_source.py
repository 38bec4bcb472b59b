"""DbSelfService: the IVR's SelfService port read from the hotline's own database.

The tables (engine.store.self_service_tables) are filled by `hotline data load`. Every query runs in a
worker thread (SQLAlchemy is synchronous) under a deadline: a caller waiting in the IVR must hear
"service unavailable" after ``timeout_s``, not silence. Any database failure or timeout becomes
``LookupResult("unavailable")`` / ``None``; the first failure of an outage is logged once as a WARNING
(caller numbers masked) and the recovery at INFO. Collaborators: engine.selfservice.records (values),
engine.selfservice.passwords (hash check), engine.selfservice.outage (logging).

An account still holding an old scrypt hash gets a keyed one at its first right check (the clear password is
only known then); a failed rewrite is logged and the check still counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError

from engine.ivr.ports import LookupResult
from engine.masking import mask_number
from engine.selfservice.outage import OutageLog
from engine.selfservice.password_key import PasswordKey
from engine.selfservice.passwords import (
    foreign_key_id,
    hash_password,
    is_legacy_hash,
    is_valid_password,
    verify_password,
)
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

    def __init__(self, engine: Engine, key: PasswordKey, timeout_s: float = 2.0) -> None:
        self._engine = engine
        self._key = key
        self._foreign_keys: set[str] = set()
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
        if is_legacy_hash(stored):
            # scrypt costs tens of ms of CPU: keep it off the event loop.
            right = await asyncio.to_thread(verify_password, password, stored, self._key)
            if right:
                await self._rewrite_keyed(number, password, stored)
            return right
        other = foreign_key_id(stored, self._key)
        if other is not None:
            self._foreign_key(number, other)
            return False
        return verify_password(password, stored, self._key)

    async def _rewrite_keyed(self, number: str, password: str, old: str) -> None:
        new = hash_password(password, self._key)

        def rewrite(number: str) -> None:
            with self._engine.begin() as connection:
                connection.execute(update(accounts).where(accounts.c.number == number,
                                                          accounts.c.password_hash == old)
                                   .values(password_hash=new))

        # A failure is logged by _run; the old hash still works and the next right check tries again.
        with contextlib.suppress(_Unavailable):
            await self._run(rewrite, number, f"password hash rewrite for {mask_number(number)}")

    def _foreign_key(self, number: str, key_id: str) -> None:
        if key_id in self._foreign_keys:
            return
        self._foreign_keys.add(key_id)
        logger.error("the service password of %s (and maybe others) was hashed with password key %s, this site's "
                     "key is %s: callers are told their password is wrong until that key file is restored "
                     "(password_key_file) or the accounts are loaded again", mask_number(number), key_id,
                     self._key.key_id)

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

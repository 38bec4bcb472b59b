"""DbSelfService on a migrated SQLite database filled with the sample data: look-ups, passwords, outages."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from engine.ivr.ports import LookupResult
from engine.selfservice.db_source import DbSelfService
from engine.selfservice.loading import load, sample_data
from engine.selfservice.password_key import PasswordKey
from engine.selfservice.passwords import hash_password, is_legacy_hash
from engine.selfservice.records import Account, BroadbandOrder
from engine.store.database import make_engine
from engine.store.migrate import upgrade
from engine.store.self_service_tables import accounts

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
LOGGER = "engine.selfservice.db_source"
KEY = PasswordKey.generate()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    engine = make_engine(url)
    records, orders = sample_data(TODAY, KEY)
    load(engine, records, orders, NOW)
    yield engine
    engine.dispose()


def test_account_lookups(engine: Engine) -> None:
    source = DbSelfService(engine, KEY)

    async def main() -> None:
        assert await source.lookup("balance", "13800138000") == LookupResult("ok", {"amount_fen": 12345})
        bill = await source.lookup("bill", "13800138000")
        assert bill == LookupResult("ok", {"amount_fen": 8800, "month": "2026-11"})
        assert await source.lookup("data_usage", "13800138000") == LookupResult(
            "ok", {"used_mb": 3584, "total_mb": 10240, "left_mb": 6656}
        )
        assert await source.lookup("balance", "13700000002") == LookupResult("ok", {"amount_fen": -2350})
        assert (await source.lookup("balance", "13999999999")).status == "not_found"
        # An account without a data plan has no data usage to read out.
        assert (await source.lookup("data_usage", "13600000003")).status == "not_found"

    asyncio.run(main())


def test_broadband_order_lookup(engine: Engine) -> None:
    source = DbSelfService(engine, KEY)

    async def main() -> None:
        assert await source.lookup("broadband_order", "20261123001") == LookupResult(
            "ok", {"kind": "repair", "status": "in_progress", "eta": date(2026, 11, 24)}
        )
        completed = await source.lookup("broadband_order", "20261120007")
        assert completed.values["eta"] is None
        assert (await source.lookup("broadband_order", "BB00000000000")).status == "not_found"

    asyncio.run(main())


def test_unknown_kind_is_a_programming_error(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown look-up kind"):
        asyncio.run(DbSelfService(engine, KEY).lookup("points", "13800138000"))


def test_password_check(engine: Engine) -> None:
    source = DbSelfService(engine, KEY)

    async def main() -> None:
        assert await source.check_password("13800138000", "123456") is True
        assert await source.check_password("13800138000", "654321") is False
        assert await source.check_password("13800138000", "12345") is False
        assert await source.check_password("13999999999", "123456") is False

    asyncio.run(main())


def _stored_hash(engine: Engine, number: str) -> str:
    with engine.connect() as connection:
        return str(connection.execute(select(accounts.c.password_hash).where(accounts.c.number == number))
                   .scalar_one())


def _set_hash(engine: Engine, number: str, password_hash: str) -> None:
    with engine.begin() as connection:
        connection.execute(update(accounts).where(accounts.c.number == number).values(password_hash=password_hash))


# An scrypt hash of 123456 as hotline wrote them before the password key (N=2^14, r=8, p=1).
LEGACY_123456 = ("scrypt$16384$8$1$7EI/Nb5bVT5/ok5kZ4OPzQ==$"
                 "k9jbFVwH5XbWW9LOAsjTJ/3pMfGmRqciVBEPp0qeAlI=")


def test_an_old_scrypt_hash_still_works_and_is_rewritten_keyed_at_the_first_right_check(engine: Engine) -> None:
    _set_hash(engine, "13800138000", LEGACY_123456)
    source = DbSelfService(engine, KEY)

    async def main() -> None:
        assert await source.check_password("13800138000", "654321") is False
        assert _stored_hash(engine, "13800138000") == LEGACY_123456  # a wrong guess changes nothing
        assert await source.check_password("13800138000", "123456") is True

    asyncio.run(main())
    rewritten = _stored_hash(engine, "13800138000")
    assert not is_legacy_hash(rewritten) and rewritten.startswith(f"hmac-sha256${KEY.key_id}$")
    assert asyncio.run(source.check_password("13800138000", "123456")) is True


def test_a_hash_made_with_another_key_is_refused_and_named_once_in_the_log(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    other = PasswordKey.generate()
    _set_hash(engine, "13800138000", hash_password("123456", other))
    _set_hash(engine, "13900000001", hash_password("888888", other))
    source = DbSelfService(engine, KEY)

    async def main() -> None:
        assert await source.check_password("13800138000", "123456") is False
        assert await source.check_password("13900000001", "888888") is False
        assert await source.check_password("13700000002", "246810") is True  # this site's key: fine

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        asyncio.run(main())
    errors = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(errors) == 1
    assert other.key_id in errors[0] and KEY.key_id in errors[0] and "password_key_file" in errors[0]
    assert "138****8000" in errors[0] and "13800138000" not in errors[0]


def test_database_gone_is_unavailable_and_logged_once_masked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = make_engine(f"sqlite:///{tmp_path / 'missing' / 'folder' / 'hotline.db'}")
    source = DbSelfService(gone, KEY)

    async def main() -> None:
        assert await source.lookup("balance", "13800138000") == LookupResult("unavailable")
        assert await source.lookup("broadband_order", "20261123001") == LookupResult("unavailable")
        assert await source.check_password("13800138000", "123456") is None

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        asyncio.run(main())
    gone.dispose()
    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 1
    assert "138****8000" in warnings[0] and "13800138000" not in warnings[0]


def test_recovery_is_logged(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    source = DbSelfService(engine, KEY)
    source._outage.down = True  # as after a failed look-up
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert asyncio.run(source.lookup("balance", "13800138000")).status == "ok"
    assert [r.levelname for r in caplog.records if r.name == LOGGER] == ["INFO"]


def test_slow_database_times_out(engine: Engine) -> None:
    release = threading.Event()

    class Stuck(DbSelfService):
        def _account(self, number: str) -> Account | None:
            release.wait(10)
            return None

        def _order(self, order_no: str) -> BroadbandOrder | None:
            release.wait(10)
            return None

    source = Stuck(engine, KEY, timeout_s=0.05)

    async def main() -> None:
        started = asyncio.get_running_loop().time()
        try:
            assert (await source.lookup("balance", "13800138000")).status == "unavailable"
            assert (await source.lookup("broadband_order", "20261123001")).status == "unavailable"
        finally:
            # asyncio.run waits for its worker threads at exit: let the stuck queries finish.
            release.set()
        assert asyncio.get_running_loop().time() - started < 2

    asyncio.run(main())


def test_load_is_all_or_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    engine = make_engine(url)
    records, _ = sample_data(TODAY, KEY)
    bad_order = BroadbandOrder("BB1", "13800138000", "relocate", "accepted", None)  # refused by the CHECK
    with pytest.raises(IntegrityError):
        load(engine, records, [bad_order], NOW)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(accounts)).scalar_one() == 0
    engine.dispose()


def test_load_updates_by_key(engine: Engine) -> None:
    records, orders = sample_data(TODAY, KEY)
    report = load(engine, records[:1], orders[:1], NOW)
    assert (report.accounts_added, report.accounts_updated, report.orders_added, report.orders_updated) == (0, 1, 0, 1)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(accounts)).scalar_one() == len(records)

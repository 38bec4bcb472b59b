"""The call journal on PostgreSQL: migrations, the journal life cycle, spill and replay, the check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import DatabaseUnreachable
from engine.store.database import check_database
from engine.store.migrate import upgrade
from tests import journal_checks

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_url(fresh_postgres_url: str) -> str:
    upgrade(fresh_postgres_url)
    return fresh_postgres_url


def test_upgrade_creates_the_schema_once(postgres_url: str) -> None:
    with pytest.raises(DatabaseUnreachable, match="has no hotline schema; run `hotline db upgrade`"):
        check_database(postgres_url)
    journal_checks.check_upgrade(postgres_url)


def test_postgresql_urls_use_psycopg_3(postgres_url: str) -> None:
    journal_checks.check_psycopg_3(postgres_url)


@pytest.mark.parametrize("check", journal_checks.LIFE_CYCLE_CHECKS, ids=journal_checks.check_name)
def test_journal(db_url: str, tmp_path: Path, check: Callable[[str, Path], None]) -> None:
    check(db_url, tmp_path)


def test_spill_and_replay(db_url: str, tmp_path: Path) -> None:
    closed = f"postgresql://hotline:secret@127.0.0.1:{journal_checks.closed_port()}/hotline"
    journal_checks.check_spill_and_replay(db_url, closed, tmp_path)

"""The call journal on PostgreSQL: migrations, the journal life cycle, spill and replay, the check."""

from __future__ import annotations

from pathlib import Path

import pytest

# Registers the callbacks table on the shared metadata the schema check compares.
from engine.errors import DatabaseUnreachable
from engine.store.database import check_database, make_engine
from engine.store.migrate import current_revision, head_revision, upgrade
from tests import journal_checks

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_url(fresh_postgres_url: str) -> str:
    upgrade(fresh_postgres_url)
    return fresh_postgres_url


def test_upgrade_creates_the_schema_once(postgres_url: str) -> None:
    with pytest.raises(DatabaseUnreachable, match="has no hotline schema; run `hotline db upgrade`"):
        check_database(postgres_url)
    assert upgrade(postgres_url) == head_revision() == "0008"
    assert upgrade(postgres_url) == head_revision()
    assert current_revision(postgres_url) == head_revision()
    check_database(postgres_url)
    journal_checks.check_schema_matches_tables(postgres_url)


def test_postgresql_urls_use_psycopg_3(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_life_cycle(db_url: str, tmp_path: Path) -> None:
    journal_checks.check_life_cycle(db_url, tmp_path)


def test_recent_calls_newest_first(db_url: str, tmp_path: Path) -> None:
    journal_checks.check_recent_calls_newest_first(db_url, tmp_path)


def test_readopted_call(db_url: str, tmp_path: Path) -> None:
    journal_checks.check_readopted_call(db_url, tmp_path)


def test_placeholder_row(db_url: str, tmp_path: Path) -> None:
    journal_checks.check_placeholder_row(db_url, tmp_path)


def test_fallback_source(db_url: str, tmp_path: Path) -> None:
    journal_checks.check_fallback_source(db_url, tmp_path)


def test_spill_and_replay(db_url: str, tmp_path: Path) -> None:
    closed = f"postgresql://hotline:secret@127.0.0.1:{journal_checks.closed_port()}/hotline"
    journal_checks.check_spill_and_replay(db_url, closed, tmp_path)

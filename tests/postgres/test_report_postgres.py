"""The report's SQL sums on PostgreSQL equal the per-call reference (tests/report_checks); migrations 0012, 0013."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report_checks import CASES, Case, check_case, check_migration_fills_the_rollups, written_journal

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def url(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    import psycopg

    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as connection:
        connection.execute('CREATE DATABASE "hotline_report"')
    return written_journal(f"{postgres_server}/hotline_report", tmp_path_factory.mktemp("report-pg"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_sql_sums_equal_the_reference(url: str, case: Case) -> None:
    check_case(url, case)


@pytest.mark.parametrize("down_to", ["0008", "0011", "0012"])
def test_migrations_rebuild_the_rollups(fresh_postgres_url: str, tmp_path: Path, down_to: str) -> None:
    """0012 rebuilds the quarter hours, call talks and ACW; 0013 the calls' ACW and the hours."""
    check_migration_fills_the_rollups(written_journal(fresh_postgres_url, tmp_path), down_to)

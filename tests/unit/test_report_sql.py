"""The report's SQL sums on SQLite equal the per-call reference on the hand-built journal (tests/report_checks);
migrations 0012 and 0013 rebuild the rollups; the journal writer's statements per batch stay few."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event

from engine.store.journal import JournalWriter
from engine.store.migrate import upgrade
from tests.report_checks import CASES, Case, check_case, check_migration_fills_the_rollups, written_journal
from tests.unit.test_report_kpis import JOURNAL


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("report-sql")
    return written_journal(f"sqlite:///{folder / 'hotline.db'}", folder)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_sql_sums_equal_the_reference(url: str, case: Case) -> None:
    check_case(url, case)


@pytest.mark.parametrize("down_to", ["0008", "0011", "0012"])
def test_migrations_rebuild_the_rollups(tmp_path: Path, down_to: str) -> None:
    """0012 rebuilds the quarter hours, call talks and ACW; 0013 the calls' ACW and the hours."""
    check_migration_fills_the_rollups(written_journal(f"sqlite:///{tmp_path / 'hotline.db'}", tmp_path), down_to)


def test_a_batch_takes_a_few_statements_whatever_its_size(tmp_path: Path) -> None:
    """The writer's statements per batch do not grow with the batch (PostgreSQL pays a round trip each)."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    writer = JournalWriter(url, tmp_path / "spill.jsonl", batch_size=len(JOURNAL))
    event.listen(writer._engine, "before_cursor_execute", count)
    writer._write(JOURNAL)
    writer._engine.dispose()
    # find, insert, last seq, 3 updates, events, dispositions (read, update, delete, talks), agents (last
    # state, quarter-hour time, hourly time, acw, calls' acw, rows), BEGIN-less on SQLite: 16, for 12 calls
    # and 10 agent changes.
    assert len(statements) <= 16, statements

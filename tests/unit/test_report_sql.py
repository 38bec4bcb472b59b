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


def test_dispositions_from_the_writers_memory_equal_those_read_back(tmp_path: Path) -> None:
    """A writer derives the disposition of a call it saw start from the events it committed; one that did not
    (a restarted writer) reads them back. Both give the same calls rows and talks."""
    from sqlalchemy import select

    from engine.store.database import make_engine
    from engine.store.report_tables import call_talks
    from engine.store.tables import calls

    def rows(url: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                found = [tuple(row) for row in connection.execute(select(calls).order_by(calls.c.call_uid))]
                talks = [tuple(row) for row in connection.execute(select(call_talks).order_by(*call_talks.c))]
        finally:
            engine.dispose()
        # Row ids differ between the two databases; the rest must not.
        return [row[1:] for row in found], [row[1:] for row in talks]

    remembered, read_back = f"sqlite:///{tmp_path / 'memory.db'}", f"sqlite:///{tmp_path / 'read.db'}"
    for url in (remembered, read_back):
        upgrade(url)
    writer = JournalWriter(remembered, tmp_path / "spill-a.jsonl", batch_size=len(JOURNAL))
    for first in range(0, len(JOURNAL), 7):  # several batches: histories carried from one to the next
        writer._write(JOURNAL[first:first + 7])
    writer._engine.dispose()
    for entry in JOURNAL:  # a new writer per entry: nothing remembered, every end read back
        fresh = JournalWriter(read_back, tmp_path / "spill-b.jsonl")
        fresh._write([entry])
        fresh._engine.dispose()
    assert rows(remembered) == rows(read_back)
    assert any(row[-1] is not None for row in rows(remembered)[0])  # dispositions were filled

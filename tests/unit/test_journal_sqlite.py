"""The call journal on SQLite (the default database): migrations, the writer, spill/replay, the check.

The life-cycle checks are shared with tests/postgres through tests/journal_checks.py.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from engine.errors import CallNotFound, DatabaseUnreachable
from engine.store.database import check_database
from engine.store.journal import MAX_BACKOFF, JournalEntry, JournalWriter
from engine.store.migrate import current_revision, upgrade
from engine.store.queries import call_events, find_call, to_jsonable
from tests import journal_checks
from tests.journal_checks import CALLER, T0, at, entry, reading, write

JOURNAL_LOGGER = "engine.store.journal"


class FakeClock:
    """Backoff waits take no real time; the clock jumps by the requested amount instead."""

    def __init__(self, signal_after: int = 8) -> None:
        self.current = T0
        self.sleeps: list[float] = []
        self._signal_after = signal_after
        self.retried_enough = asyncio.Event()

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)
        if len(self.sleeps) >= self._signal_after:
            self.retried_enough.set()
        await asyncio.sleep(0.002)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'data' / 'hotline.db'}"
    upgrade(url)
    return url


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == JOURNAL_LOGGER and r.levelno == level]


# -- migrations and the check ------------------------------------------------------------------------


def test_upgrade_creates_the_folder_and_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'hotline.db'}"
    assert current_revision(f"sqlite:///{tmp_path / 'empty.db'}") is None
    journal_checks.check_upgrade(url)
    assert (tmp_path / "new" / "folder" / "hotline.db").exists()
    assert capfd.readouterr().out == ""


def test_sqlite_connections_use_wal_synchronous_normal_and_foreign_keys(db_url: str) -> None:
    with reading(db_url) as engine, engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # NORMAL (1), not FULL (2): no fsync per commit; safe under WAL when the process dies (README).
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1


def test_postgresql_urls_use_psycopg_3() -> None:
    journal_checks.check_psycopg_3("postgresql://hotline:secret@127.0.0.1:5999/hotline")


def test_check_database_on_a_closed_port_is_one_line_without_password() -> None:
    port = journal_checks.closed_port()
    with pytest.raises(DatabaseUnreachable) as caught:
        check_database(f"postgresql://hotline:s3cret@127.0.0.1:{port}/hotline")
    shown = f"postgresql://hotline:***@127.0.0.1:{port}/hotline"
    assert str(caught.value) == f"database {shown} is unreachable: connection refused"
    assert caught.value.code == "database-unreachable"


def test_check_database_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(DatabaseUnreachable, match=r"does not exist; run `hotline db upgrade`"):
        check_database(f"sqlite:///{path}")
    assert not path.exists()


def test_check_database_wants_the_current_schema(tmp_path: Path, db_url: str) -> None:
    sqlite3.connect(tmp_path / "other.db").close()
    with pytest.raises(DatabaseUnreachable, match=r"has no hotline schema; run `hotline db upgrade`"):
        check_database(f"sqlite:///{tmp_path / 'other.db'}")
    with reading(db_url) as engine, engine.begin() as connection:
        connection.execute(text("UPDATE hotline_alembic_version SET version_num = '0000'"))
    needs = rf"revision 0000, this hotline needs {journal_checks.HEAD_REVISION}; run `hotline db"
    with pytest.raises(DatabaseUnreachable, match=needs):
        check_database(db_url)


# -- the journal, shared with PostgreSQL ----------------------------------------------------------------


@pytest.mark.parametrize("check", journal_checks.LIFE_CYCLE_CHECKS, ids=journal_checks.check_name)
def test_journal(db_url: str, tmp_path: Path, check: Callable[[str, Path], None]) -> None:
    check(db_url, tmp_path)


def test_spill_and_replay(db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=JOURNAL_LOGGER)
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'journal.db'}"
    journal_checks.check_spill_and_replay(db_url, unreachable, tmp_path)
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 2, warnings
    assert ("is unreachable (unable to open database file); spilling 3 entries and the ones to come to "
            f"{tmp_path / 'spill.jsonl'}") in warnings[0]
    assert warnings[1].endswith(f"3 entries are in {tmp_path / 'spill.jsonl'}")
    assert f"replayed 3 journal entries from {tmp_path / 'spill.jsonl'}" in _records(caplog, logging.INFO)
    assert CALLER not in caplog.text
    assert "138****8000" in caplog.text


# -- the writer's own behaviour ---------------------------------------------------------------------------


def test_writer_warns_once_and_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No schema yet: the writer keeps entries, warns once, backs off, and writes once the schema is there."""
    caplog.set_level(logging.INFO, logger=JOURNAL_LOGGER)
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    clock = FakeClock()

    async def scenario() -> None:
        writer = JournalWriter(url, tmp_path / "spill.jsonl", clock)
        runner = asyncio.create_task(writer.run())
        writer.append(entry("u1", "call.started", 0, caller=CALLER))
        writer.append(entry("u1", "call.ended", 5, outcome="completed"))
        await asyncio.wait_for(clock.retried_enough.wait(), 30)
        assert writer.pending == 2
        await asyncio.to_thread(upgrade, url)
        await asyncio.wait_for(writer.wait_idle(), 30)
        await writer.close()
        await runner

    asyncio.run(scenario())
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 1 and "no such table" in warnings[0], warnings
    assert [m for m in _records(caplog, logging.INFO) if "is back after" in m]
    assert max(clock.sleeps) <= MAX_BACKOFF
    assert clock.sleeps[1] > clock.sleeps[0] / 2
    with reading(url) as engine:
        assert find_call(engine, "u1").ended_at == at(5)


def test_cancelled_run_still_flushes_on_close(db_url: str, tmp_path: Path) -> None:
    """The controller's TaskGroup may cancel run() mid-batch: close() must still write each entry once."""

    async def scenario() -> None:
        writer = JournalWriter(db_url, tmp_path / "spill.jsonl", batch_size=7)
        runner = asyncio.create_task(writer.run())
        writer.append(entry("u2", "call.started", 0))
        for n in range(1, 50):
            writer.append(entry("u2", "dtmf", n, digit=str(n % 10)))
        await asyncio.sleep(0.005)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await writer.close()

    asyncio.run(scenario())
    with reading(db_url) as engine:
        events = call_events(engine, find_call(engine, "u2").id)
    assert [e.seq for e in events] == list(range(1, 51))
    assert [e.at for e in events] == [at(n) for n in range(50)]


def test_refused_entry_is_set_aside_and_the_rest_written(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = tmp_path / "spill.jsonl"

    async def scenario() -> None:
        writer = JournalWriter(db_url, spill)
        real_write = writer._write

        def picky_write(entries: Sequence[JournalEntry], *, skip_written: bool = False) -> None:
            if any(e.kind == "poison" for e in entries):
                raise IntegrityError("INSERT INTO call_events", {}, Exception("refused"))
            real_write(entries, skip_written=skip_written)

        monkeypatch.setattr(writer, "_write", picky_write)
        runner = asyncio.create_task(writer.run())
        for item in (entry("u3", "call.started", 0), entry("u3", "poison", 1), entry("u3", "call.ended", 2)):
            writer.append(item)
        await asyncio.wait_for(writer.wait_idle(), 30)
        await writer.close()
        await runner

    asyncio.run(scenario())
    with reading(db_url) as engine:
        assert [e.kind for e in call_events(engine, find_call(engine, "u3").id)] == ["call.started", "call.ended"]
    rejected = spill.with_name("spill.jsonl.rejected").read_text(encoding="utf-8").splitlines()
    assert [JournalEntry.from_json(line).kind for line in rejected] == ["poison"]
    errors = _records(caplog, logging.ERROR)
    assert len(errors) == 1 and "refused poison for call u3" in errors[0]
    assert not spill.exists()


def test_append_never_raises_and_copies_data(db_url: str, tmp_path: Path) -> None:
    spill = tmp_path / "spill.jsonl"
    data: dict[str, object] = {"digit": "5", "odd": object()}
    plain: dict[str, object] = {"node": "main", "keys": ["1", "2"], "vars": {"n": 1.5, "ok": True, "none": None}}

    async def scenario() -> None:
        writer = JournalWriter(db_url, spill)
        runner = asyncio.create_task(writer.run())
        writer.append(JournalEntry("u4", "dtmf", at(0), data))
        writer.append(JournalEntry("u4", "call.position", at(0.5), plain))
        data["digit"] = "changed later"
        plain["keys"].append("3")  # type: ignore[attr-defined]
        plain["vars"]["n"] = 2  # type: ignore[index]
        await asyncio.wait_for(writer.wait_idle(), 30)
        await writer.close()
        await runner
        writer.append(entry("u4", "late", 1))

    asyncio.run(scenario())
    with reading(db_url) as engine:
        event, position = call_events(engine, find_call(engine, "u4").id)
    assert position.data == {"node": "main", "keys": ["1", "2"], "vars": {"n": 1.5, "ok": True, "none": None}}
    assert event.data["digit"] == "5"
    assert str(event.data["odd"]).startswith("<object object")
    assert [JournalEntry.from_json(line).kind for line in spill.read_text().splitlines()] == ["late"]


def test_entries_refuse_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="naive timestamp"):
        JournalEntry("u5", "call.started", datetime(2024, 11, 23, 18, 30))


def test_replay_spill_can_be_called_directly(db_url: str, tmp_path: Path) -> None:
    spill = tmp_path / "spill.jsonl"
    spill.write_text("".join(e.to_json() + "\n" for e in [entry("u6", "call.started", 0), entry("u6", "dtmf", 1)]))
    writer = JournalWriter(db_url, spill)
    try:
        assert writer.replay_spill() == 2
        assert writer.replay_spill() == 0
    finally:
        asyncio.run(writer.close())
    assert not spill.exists()
    with reading(db_url) as engine:
        assert len(call_events(engine, find_call(engine, "u6").id)) == 2


def test_replay_spill_into_an_unreachable_database_keeps_the_file(tmp_path: Path) -> None:
    spill = tmp_path / "spill.jsonl"
    spill.write_text(entry("u7", "call.started", 0).to_json() + "\n")
    writer = JournalWriter(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", spill)
    try:
        with pytest.raises(DatabaseUnreachable, match="unable to open database file"):
            writer.replay_spill()
    finally:
        asyncio.run(writer.close())
    assert spill.read_text().count("\n") == 1


def test_find_call_by_unknown_ref(db_url: str) -> None:
    with reading(db_url) as engine, pytest.raises(CallNotFound, match=r"no call 'nope' in the journal"):
        find_call(engine, "nope")


def test_to_jsonable_turns_timestamps_into_iso_strings(db_url: str, tmp_path: Path) -> None:
    write(db_url, tmp_path / "spill.jsonl", [entry("u8", "call.started", 0, caller=CALLER)])
    with reading(db_url) as engine:
        summary = to_jsonable(find_call(engine, "u8"))
    assert isinstance(summary, dict)
    assert summary["started_at"] == "2024-11-23T10:30:00+00:00"
    assert summary["answered_at"] is None


def test_open_calls_are_the_unclosed_controller_calls_with_whether_an_agent_answered(
        db_url: str, tmp_path: Path) -> None:
    """What a starting controller closes as 'ended while no controller ran' (engine.app)."""
    from engine.store.queries import open_calls

    write(db_url, tmp_path / "spill.jsonl", [
        entry("done", "call.started", 0, caller=CALLER, dialed="10086", source="controller"),
        entry("done", "call.ended", 5, outcome="completed", cause="normal_clearing"),
        entry("talking", "call.started", 1, caller=CALLER, dialed="10086", source="controller"),
        entry("talking", "queue.answered", 3, agent="1001"),
        entry("menu", "call.started", 2, caller=CALLER, dialed="10086", source="controller"),
        entry("old", "call.started", -90000, caller=CALLER, dialed="10086", source="controller"),
    ])
    with reading(db_url) as engine:
        assert sorted(open_calls(engine, at(-3600))) == [("menu", False), ("talking", True)]


def test_entries_of_an_outage_survive_a_killed_controller(tmp_path: Path) -> None:
    """During an outage every entry is in the spill file as it comes, so a SIGKILL (no close()) loses none."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"  # no schema yet: every write fails like a database away
    spill = tmp_path / "spill.jsonl"
    before = [entry("u9", "call.started", 0, caller=CALLER), entry("u9", "dtmf", 1, digit="0")]
    during = [entry("u9", "queue.entered", 2, queue="general")]

    async def killed_during_the_outage() -> None:
        writer = JournalWriter(url, spill, FakeClock(signal_after=2))
        runner = asyncio.create_task(writer.run())
        for item in before:
            writer.append(item)
        await asyncio.sleep(0.2)  # the first write fails: the buffer moves to the spill file
        for item in during:
            writer.append(item)
        assert writer.pending == 3
        runner.cancel()  # the process dies here: no close(), nothing in memory survives
        await asyncio.gather(runner, return_exceptions=True)

    asyncio.run(killed_during_the_outage())
    assert [JournalEntry.from_json(line) for line in spill.read_text(encoding="utf-8").splitlines()] == [
        *before, *during]
    upgrade(url)
    write(url, spill, [entry("u9", "call.ended", 3, outcome="abandoned")])
    with reading(url) as engine:
        events = call_events(engine, find_call(engine, "u9").id)
    assert [(e.seq, e.kind) for e in events] == [
        (1, "call.started"), (2, "dtmf"), (3, "queue.entered"), (4, "call.ended")]
    assert not spill.exists()


def test_entries_appended_while_the_spill_is_replayed_follow_it(tmp_path: Path) -> None:
    """The database comes back: the spill file is replayed and what arrived meanwhile is written after it."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    spill = tmp_path / "spill.jsonl"
    clock = FakeClock(signal_after=3)

    async def scenario() -> None:
        writer = JournalWriter(url, spill, clock)
        runner = asyncio.create_task(writer.run())
        writer.append(entry("u8", "call.started", 0, caller=CALLER))
        await asyncio.wait_for(clock.retried_enough.wait(), 30)
        for n in range(1, 40):
            writer.append(entry("u8", "dtmf", n, digit=str(n % 10)))
        await asyncio.to_thread(upgrade, url)
        for n in range(40, 80):  # some of these arrive while the replay runs in its thread
            writer.append(entry("u8", "dtmf", n, digit=str(n % 10)))
            await asyncio.sleep(0)
        await asyncio.wait_for(writer.wait_idle(), 30)
        assert not spill.exists() and writer.pending == 0
        await writer.close()
        await runner

    asyncio.run(scenario())
    with reading(url) as engine:
        events = call_events(engine, find_call(engine, "u8").id)
    assert [e.at for e in events] == [at(n) for n in range(80)]
    assert [e.seq for e in events] == list(range(1, 81))


def test_open_calls_forget_ended_calls_and_the_oldest_past_the_limit() -> None:
    from engine.store.open_calls import OpenCalls, Position

    kept = OpenCalls(limit=2)
    kept.commit({"a": Position(1, 3), "b": Position(2, 1)})
    kept.commit({"a": Position(1, 4), "c": Position(3, 1)})
    assert kept.known(["a", "b", "c"]) == {"a": Position(1, 4), "c": Position(3, 1)}
    kept.commit({"a": None})
    assert kept.known(["a", "b", "c"]) == {"c": Position(3, 1)}

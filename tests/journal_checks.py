"""Journal behaviour every supported database must show.

tests/unit/test_journal_sqlite.py and tests/postgres/test_journal_postgres.py run these same checks
against an upgraded, empty database, so SQLite and PostgreSQL cannot drift apart: `check_upgrade` on an
empty one, `check_psycopg_3` on a PostgreSQL URL, and every check in `LIFE_CYCLE_CHECKS` (one
parametrized test each file) on a freshly upgraded one.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text
from sqlalchemy.event import listen

# Registers the self-service and incident tables on the shared metadata the schema check compares.
import engine.store.agent_tables  # noqa: F401
import engine.store.callback_tables  # noqa: F401
import engine.store.message_tables  # noqa: F401
import engine.store.overflow_tables  # noqa: F401
import engine.store.self_service_tables  # noqa: F401
from engine.store.database import check_database, make_engine
from engine.store.journal import JournalEntry, JournalWriter
from engine.store.migrate import VERSION_TABLE, current_revision, head_revision, upgrade
from engine.store.queries import CallSummary, call_events, find_call, recent_calls, to_jsonable
from engine.store.schema_revision import database_revision, shipped_head
from engine.store.tables import calls, metadata

# The newest migration: a new one must be a deliberate change to these tests too.
HEAD_REVISION = "0013"
# Beijing time on purpose: offsets other than UTC must survive the round trip.
T0 = datetime(2024, 11, 23, 18, 30, 0, tzinfo=timezone(timedelta(hours=8)))
CALLER = "13800138000"


def closed_port() -> int:
    """A loopback TCP port nobody listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entry(call_uid: str, kind: str, seconds: float, **data: Any) -> JournalEntry:
    return JournalEntry(call_uid=call_uid, kind=kind, at=at(seconds), data=data)


def write(url: str, spill_path: Path, entries: Sequence[JournalEntry]) -> None:
    """One writer session, as the controller runs it: run(), append, wait until committed, close()."""

    async def session() -> None:
        writer = JournalWriter(url, spill_path)
        runner = asyncio.create_task(writer.run())
        for item in entries:
            writer.append(item)
        await asyncio.wait_for(writer.wait_idle(), 60)
        await writer.close()
        await runner

    asyncio.run(session())


@contextmanager
def reading(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def assert_aware(*stamps: datetime | None) -> None:
    for stamp in stamps:
        assert stamp is not None and stamp.tzinfo is not None and stamp.utcoffset() is not None, stamp


def check_schema_matches_tables(url: str) -> None:
    """The migrations create exactly what engine.store.tables describes."""
    with reading(url) as engine, engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE, "compare_type": True})
        assert compare_metadata(context, metadata) == []


def check_upgrade(url: str) -> None:
    """Upgrading an empty database reaches the head revision, a second upgrade changes nothing, and the
    result passes the start-up check with exactly the tables the code describes."""
    assert upgrade(url) == head_revision() == HEAD_REVISION
    assert upgrade(url) == head_revision()
    assert current_revision(url) == head_revision()
    # The start-up check reads both without Alembic; it must agree with Alembic.
    assert shipped_head() == head_revision()
    with reading(url) as engine, engine.connect() as connection:
        assert database_revision(connection) == current_revision(url)
    check_database(url)
    with reading(url) as engine:
        check_database(url, engine)
    check_schema_matches_tables(url)


def check_psycopg_3(url: str) -> None:
    """A plain ``postgresql://`` URL is driven by psycopg 3, not SQLAlchemy's default psycopg2."""
    with reading(url) as engine:
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.dialect.driver == "psycopg"


def check_life_cycle(url: str, tmp_path: Path) -> None:
    """A whole call: the calls row is projected and every entry is an event, in order."""
    uid = "1732357800.101"
    entries = [
        entry(uid, "call.started", 0, caller=CALLER, dialed="10086"),
        entry(uid, "call.answered", 1),
        entry(uid, "prompt.played", 2, prompt="welcome"),
        entry(uid, "dtmf", 5, digit="1"),
        entry(uid, "call.ended", 9, outcome="completed", cause="normal_clearing"),
    ]
    write(url, tmp_path / "spill.jsonl", entries)
    with reading(url) as engine:
        call = find_call(engine, uid)
        assert call == CallSummary(
            id=call.id,
            call_uid=uid,
            caller=CALLER,
            dialed="10086",
            source="controller",
            started_at=at(0),
            answered_at=at(1),
            ended_at=at(9),
            outcome="completed",
            hangup_cause="normal_clearing",
        )
        assert_aware(call.started_at, call.answered_at, call.ended_at)
        assert find_call(engine, str(call.id)) == call
        assert recent_calls(engine)[0] == call
        events = call_events(engine, call.id)
        assert [(e.seq, e.kind, e.at) for e in events] == [
            (n, item.kind, item.at) for n, item in enumerate(entries, start=1)
        ]
        assert_aware(*(e.at for e in events))
        assert events[0].data == {"caller": CALLER, "dialed": "10086"}
        assert events[2].data == {"prompt": "welcome"}
        assert events[1].data == {}
        as_json = json.loads(json.dumps(to_jsonable({"call": call, "events": events})))
        assert as_json["call"]["started_at"] == at(0).astimezone(UTC).isoformat()
        assert as_json["events"][3]["data"] == {"digit": "1"}
    assert not (tmp_path / "spill.jsonl").exists()


def check_recent_calls_newest_first(url: str, tmp_path: Path) -> None:
    started = [entry(f"1732357800.{n}", "call.started", n * 60, caller=CALLER) for n in range(1, 6)]
    write(url, tmp_path / "spill.jsonl", started)
    with reading(url) as engine:
        assert [c.call_uid for c in recent_calls(engine, limit=3)] == [
            "1732357800.5",
            "1732357800.4",
            "1732357800.3",
        ]


def check_readopted_call(url: str, tmp_path: Path) -> None:
    """After a controller restart the call keeps its row; its events continue the sequence."""
    uid = "1732357800.202"
    spill = tmp_path / "spill.jsonl"
    write(url, spill, [entry(uid, "call.started", 0, caller=CALLER, dialed="10086"), entry(uid, "call.answered", 3)])
    write(
        url,
        spill,
        [
            entry(uid, "call.started", 60, caller="999", dialed="10086"),
            entry(uid, "call.readopted", 60),
            entry(uid, "call.ended", 90, outcome="completed", cause="normal_clearing"),
        ],
    )
    with reading(url) as engine:
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).where(calls.c.call_uid == uid)).scalar_one()
        assert count == 1
        call = find_call(engine, uid)
        assert (call.caller, call.started_at, call.answered_at, call.ended_at) == (CALLER, at(0), at(3), at(90))
        kinds = [(e.seq, e.kind) for e in call_events(engine, call.id)]
        assert kinds == [
            (1, "call.started"),
            (2, "call.answered"),
            (3, "call.started"),
            (4, "call.readopted"),
            (5, "call.ended"),
        ]


def check_placeholder_row(url: str, tmp_path: Path) -> None:
    """Entries for a call whose call.started never arrived still land, on a placeholder row."""
    uid = "1732357800.303"
    write(
        url,
        tmp_path / "spill.jsonl",
        [
            entry(uid, "call.answered", 7),
            entry(uid, "dtmf", 8, digit="0"),
            entry(uid, "call.ended", 12, outcome="abandoned", cause="user_busy"),
        ],
    )
    with reading(url) as engine:
        call = find_call(engine, uid)
        assert (call.source, call.caller, call.dialed) == ("controller", None, None)
        assert (call.started_at, call.answered_at, call.ended_at) == (at(7), at(7), at(12))
        assert (call.outcome, call.hangup_cause) == ("abandoned", "user_busy")
        assert [e.kind for e in call_events(engine, call.id)] == ["call.answered", "dtmf", "call.ended"]


def check_fallback_source(url: str, tmp_path: Path) -> None:
    uid = "1732357800.404"
    write(url, tmp_path / "spill.jsonl", [entry(uid, "call.started", 0, caller=CALLER, source="fallback")])
    with reading(url) as engine:
        assert find_call(engine, uid).source == "fallback"


def check_spill_and_replay(good_url: str, unreachable_url: str, tmp_path: Path) -> None:
    """Entries the database could not take are spilled at close() and replayed first by the next run()."""
    uid = "1732357800.505"
    spill = tmp_path / "spill.jsonl"
    spilled = [
        entry(uid, "call.started", 0, caller=CALLER, dialed="10086"),
        entry(uid, "call.answered", 1),
        entry(uid, "dtmf", 2, digit="9"),
    ]

    async def outage() -> None:
        writer = JournalWriter(unreachable_url, spill)
        runner = asyncio.create_task(writer.run())
        for item in spilled:
            writer.append(item)
        await asyncio.sleep(0.3)  # let run() fail at least once
        assert writer.pending == len(spilled)
        await writer.close()
        await runner

    asyncio.run(outage())
    lines = spill.read_text(encoding="utf-8").splitlines()
    assert [JournalEntry.from_json(line) for line in lines] == spilled

    write(good_url, spill, [entry(uid, "call.ended", 20, outcome="completed", cause="normal_clearing")])
    assert not spill.exists()
    with reading(good_url) as engine:
        call = find_call(engine, uid)
        assert (call.caller, call.answered_at, call.ended_at) == (CALLER, at(1), at(20))
        events = call_events(engine, call.id)
        assert [(e.seq, e.kind) for e in events] == [
            (1, "call.started"),
            (2, "call.answered"),
            (3, "dtmf"),
            (4, "call.ended"),
        ]
        assert events[2].data == {"digit": "9"}


def check_replay_skips_what_is_written(url: str, tmp_path: Path) -> None:
    """A spill file whose replay was committed but not removed (killed in between) is not written twice."""
    uid, agent = "1732357900.606", "agent:2001"
    first = [entry(uid, "call.started", 0, caller=CALLER, dialed="10086"), entry(uid, "dtmf", 1, digit="1"),
             entry(agent, "agent.state", 1, **{"from": "logged_out", "to": "available"})]
    spill = tmp_path / "spill.jsonl"
    write(url, spill, first)
    later = [entry(uid, "dtmf", 2, digit="1"), entry(uid, "call.ended", 3, outcome="completed")]
    spill.write_text("".join(e.to_json() + "\n" for e in [*first, *later]), encoding="utf-8")
    write(url, spill, [])
    assert not spill.exists()
    with reading(url) as engine:
        events = call_events(engine, find_call(engine, uid).id)
        assert [(e.seq, e.kind, e.at) for e in events] == [
            (1, "call.started", at(0)), (2, "dtmf", at(1)), (3, "dtmf", at(2)), (4, "call.ended", at(3))]
        with engine.connect() as connection:
            states = connection.execute(text("SELECT to_state FROM agent_events WHERE agent = '2001'")).all()
        assert [s for (s,) in states] == ["available"]


# -- the calls the writer keeps between batches (engine.store.open_calls) --------------------------------

# The two look-ups the writer skips for a call it keeps: find its row, read its last seq.
LOOK_UPS = ("calls.call_uid in", "max(call_events.seq)")


class Batches:
    """A running writer fed batch by batch (each committed before the next), counting its look-ups."""

    def __init__(self, url: str, spill_path: Path) -> None:
        self.writer = JournalWriter(url, spill_path)
        self.look_ups: list[str] = []
        listen(self.writer._engine, "before_cursor_execute", self._seen)
        self._runner: asyncio.Task[None] | None = None

    def _seen(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        text = " ".join(statement.lower().split())
        self.look_ups.extend(name for name in LOOK_UPS if name in text)

    async def __aenter__(self) -> Batches:
        self._runner = asyncio.create_task(self.writer.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.writer.close()
        if self._runner is not None:
            await self._runner

    async def batch(self, *entries: JournalEntry) -> list[str]:
        """Write ``entries`` as one batch; the look-ups it made."""
        self.look_ups.clear()
        for item in entries:
            self.writer.append(item)
        await asyncio.wait_for(self.writer.wait_idle(), 60)
        return list(self.look_ups)


def seqs_of(url: str, uid: str) -> list[tuple[int, str]]:
    with reading(url) as engine:
        return [(e.seq, e.kind) for e in call_events(engine, find_call(engine, uid).id)]


def check_kept_calls_skip_the_look_ups(url: str, tmp_path: Path) -> None:
    """A call's later batches are written without finding its row or its last seq; its end forgets it."""
    uid, other = "1732357800.601", "1732357800.602"

    async def session() -> None:
        async with Batches(url, tmp_path / "spill.jsonl") as batches:
            first = await batches.batch(entry(uid, "call.started", 0, caller=CALLER, dialed="10086"))
            assert first, "a new call is looked up"
            assert await batches.batch(entry(uid, "call.answered", 1), entry(uid, "dtmf", 2, digit="1")) == []
            mixed = await batches.batch(entry(uid, "dtmf", 3, digit="2"), entry(other, "call.started", 3))
            assert mixed == [LOOK_UPS[0]], "only the new call is looked up (a new row has no seq to read)"
            assert await batches.batch(entry(uid, "call.ended", 4, outcome="completed"), entry(other, "dtmf", 4)) == []
            assert len(batches.writer._open_calls) == 1
            # After its end a call is looked up again, and its sequence still continues.
            assert await batches.batch(entry(uid, "recording.saved", 5))

    asyncio.run(session())
    assert seqs_of(url, uid) == [(1, "call.started"), (2, "call.answered"), (3, "dtmf"), (4, "dtmf"),
                                 (5, "call.ended"), (6, "recording.saved")]
    assert seqs_of(url, other) == [(1, "call.started"), (2, "dtmf")]


def check_restarted_writer_continues_a_kept_call(url: str, tmp_path: Path) -> None:
    """A controller restart (a new writer) starts from the database; an old writer that another one wrote
    behind (a stale seq) gets its batch refused once, looks the call up again and still writes it."""
    uid = "1732357800.701"
    spill = tmp_path / "spill.jsonl"

    async def session() -> None:
        async with Batches(url, spill) as old:
            await old.batch(entry(uid, "call.started", 0, caller=CALLER), entry(uid, "call.answered", 1))
            async with Batches(url, spill) as restarted:
                assert await restarted.batch(entry(uid, "call.readopted", 2)), "a new writer looks the call up"
                assert await restarted.batch(entry(uid, "dtmf", 3, digit="5")) == []
            await old.batch(entry(uid, "dtmf", 4, digit="6"))

    asyncio.run(session())
    assert seqs_of(url, uid) == [(1, "call.started"), (2, "call.answered"), (3, "call.readopted"), (4, "dtmf"),
                                 (5, "dtmf")]
    assert not spill.with_name(spill.name + ".rejected").exists()


def check_spill_replay_and_kept_calls(url: str, tmp_path: Path) -> None:
    """Spilled entries replayed by a new writer, or by a running one that keeps the call, keep the order."""
    uid = "1732357800.801"
    spill = tmp_path / "spill.jsonl"
    write(url, spill, [entry(uid, "call.started", 0, caller=CALLER)])
    spill.write_text(entry(uid, "dtmf", 1, digit="1").to_json() + "\n", encoding="utf-8")

    async def session() -> None:
        async with Batches(url, spill) as batches:
            # The file is replayed first (looking the call up), this entry after it.
            assert await batches.batch(entry(uid, "dtmf", 2, digit="2"))
            assert not spill.exists()
            assert await batches.batch(entry(uid, "dtmf", 3, digit="3")) == [], "kept from the replay's commit"
            spill.write_text(entry(uid, "dtmf", 4, digit="4").to_json() + "\n", encoding="utf-8")
            assert await asyncio.to_thread(batches.writer.replay_spill) == 1
            assert await batches.batch(entry(uid, "call.ended", 5, outcome="completed")) == []

    asyncio.run(session())
    assert seqs_of(url, uid) == [(1, "call.started"), (2, "dtmf"), (3, "dtmf"), (4, "dtmf"), (5, "dtmf"),
                                 (6, "call.ended")]
    assert not spill.exists()


# Every check that needs only an upgraded, empty database and a folder for the spill file.
LIFE_CYCLE_CHECKS: tuple[Callable[[str, Path], None], ...] = (
    check_replay_skips_what_is_written,
    check_life_cycle,
    check_recent_calls_newest_first,
    check_readopted_call,
    check_placeholder_row,
    check_fallback_source,
    check_kept_calls_skip_the_look_ups,
    check_restarted_writer_continues_a_kept_call,
    check_spill_replay_and_kept_calls,
)


def check_name(check: Callable[[str, Path], None]) -> str:
    """The test id of one of `LIFE_CYCLE_CHECKS` (``life_cycle``, ...)."""
    return check.__name__.removeprefix("check_")

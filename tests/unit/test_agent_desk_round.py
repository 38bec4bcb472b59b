"""The agent desk's one-second round does little when nothing changed (engine/queueing/desk.py).

Agents are rebuilt only when their rows change, the round's reads share one connection, and the live status
file is rewritten only when something but the clock moved (touched otherwise, so readers still see the
controller alive, with each agent's time in state brought up to now by ``read_snapshot``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Engine, event, insert

from acd.model import AgentId
from acd.state import RegistrationBack, SignIn
from engine.agents.store import add_agent, remove_agent
from engine.loop_lag import LoopLag
from engine.pbx.ari import AriClient
from engine.queueing.desk import AgentDesk, read_snapshot
from engine.queueing.service import QueueService
from engine.store.agent_journal_tables import agent_requests
from engine.store.database import make_engine
from engine.store.journal import JournalWriter
from engine.store.migrate import upgrade
from tests.unit.fakes import FakeClock


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    engine = make_engine(url)
    for number in ("1001", "1002"):
        add_agent(engine, number, f"agent {number}", ["general"])
    yield engine
    engine.dispose()


def desk_on(db: Engine, folder: Path) -> AgentDesk:
    service = QueueService(cast(AriClient, None), cast(JournalWriter, _NoJournal()), FakeClock(), {}, folder)
    desk = AgentDesk(service, cast(AriClient, None), db, FakeClock(), folder / "live-status.json")
    desk.start()
    return desk


class _NoJournal:
    def append(self, _entry: object) -> None:
        pass


def test_agents_are_rebuilt_only_when_their_rows_change(db: Engine, tmp_path: Path) -> None:
    desk = desk_on(db, tmp_path)
    statements: list[str] = []
    event.listen(db, "before_cursor_execute", lambda _c, _k, statement, *_a: statements.append(statement))
    assert desk.read_round() == (True, [], [])  # the first round builds them
    statements.clear()
    assert desk.read_round() == (False, [], [])
    assert len(statements) == 3, statements  # roster, agent requests, call requests: nothing rebuilt
    add_agent(db, "1003", "agent 1003", ["general"])
    changed, _, _ = desk.read_round()
    assert changed and AgentId("1003") in desk.service.lines
    remove_agent(db, "1001")
    changed, _, _ = desk.read_round()
    assert changed and AgentId("1001") not in desk.service.lines


def test_the_round_reads_pending_requests(db: Engine, tmp_path: Path) -> None:
    desk = desk_on(db, tmp_path)
    desk.read_round()
    with db.begin() as conn:
        conn.execute(insert(agent_requests).values(agent="1002", action="login", requested_at=desk.clock.now()))
    changed, requests, calls = desk.read_round()
    assert not changed and [(agent, action) for _, agent, action, _ in requests] == [("1002", "login")]
    assert calls == []


def test_the_snapshot_is_rewritten_only_when_more_than_the_clock_moved(db: Engine, tmp_path: Path) -> None:
    desk = desk_on(db, tmp_path)
    status = desk.status_file
    desk.write_snapshot()
    first = status.stat()
    text = status.read_text(encoding="utf-8")
    os.utime(status, (first.st_atime - 3, first.st_mtime - 3))
    cast(FakeClock, desk.clock).current += timedelta(seconds=1)
    desk.write_snapshot()
    touched = status.stat()
    assert status.read_text(encoding="utf-8") == text and touched.st_ino == first.st_ino
    assert touched.st_mtime > first.st_mtime - 1, "touched: readers see the controller alive"
    desk.service.agent_event(AgentId("1001"), RegistrationBack())
    desk.service.agent_event(AgentId("1001"), SignIn())
    desk.write_snapshot()
    agents = {a["agent"]: a for a in json.loads(status.read_text(encoding="utf-8"))["agents"]}
    assert agents["1001"]["state"] == "available"


def test_read_snapshot_brings_time_in_state_up_to_now_and_goes_stale_with_the_file(tmp_path: Path) -> None:
    status = tmp_path / "live-status.json"
    taken = "2026-11-29T03:00:00+00:00"
    status.write_text(json.dumps({"at": taken, "queues": [], "agents": [
        {"agent": "1001", "state": "available", "since": taken, "in_state_s": 0.0}]}), encoding="utf-8")
    data = read_snapshot(status)
    assert data is not None and data["agents"][0]["in_state_s"] > 60
    old = time.time() - 6
    os.utime(status, (old, old))
    assert read_snapshot(status) is None


class _Endpoints:
    def __init__(self) -> None:
        self.states = {"agent1001": "online", "agent1002": "offline"}

    async def endpoint_states(self, technology: str = "PJSIP") -> dict[str, str]:
        return dict(self.states)


def test_only_changed_registrations_are_handed_over_until_the_agents_change(db: Engine, tmp_path: Path) -> None:
    desk = desk_on(db, tmp_path)
    ari = _Endpoints()
    desk.ari = cast(AriClient, ari)
    handed: list[tuple[str, bool]] = []
    real = desk.service.registration

    def registration(sip_user: str, online: bool) -> None:
        handed.append((sip_user, online))
        real(sip_user, online)

    desk.service.registration = registration  # type: ignore[method-assign]

    async def rounds() -> None:
        await desk.read_registrations()
        assert sorted(handed) == [("agent1001", True), ("agent1002", False)]
        handed.clear()
        await desk.read_registrations()
        assert handed == []
        ari.states["agent1002"] = "online"
        await desk.read_registrations()
        assert handed == [("agent1002", True)]
        handed.clear()
        add_agent(db, "1003", "agent 1003", ["general"])
        desk.read_round()
        await desk.read_registrations()
        assert len(handed) == 2, "new lines start unregistered: every state is handed over again"

    asyncio.run(rounds())


def test_the_loops_wake_ups_alone_do_not_rewrite_the_snapshot_but_a_late_one_does(db: Engine, tmp_path: Path) -> None:
    desk = desk_on(db, tmp_path)
    lag = LoopLag()
    desk.loop_lag = lag.figures
    lag.note(0.002, 0.102, 0.001)
    desk.write_snapshot()
    first = desk.status_file.stat()
    lag.note(0.001, 0.101, 0.001)  # on time, and not the longest: its count and summed lag move with the clock
    desk.write_snapshot()
    assert desk.status_file.stat().st_ino == first.st_ino
    lag.note(0.3, 0.4, 0.1)
    desk.write_snapshot()
    assert desk.status_file.stat().st_ino != first.st_ino
    assert json.loads(desk.status_file.read_text(encoding="utf-8"))["loop"]["late"] == 1

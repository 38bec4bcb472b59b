"""Agents' states across a controller restart: the pure rule (``acd.restore``) on journals written by the
real state machine, then the desk reading them from the database and the queue service taking them up.

The rows are made by driving ``acd.state.transition`` (as the controller does), never typed by hand, so a
renamed reason in the state machine breaks these tests instead of silently restoring the wrong state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import func, insert, select

from acd.model import AgentId, AgentState, AgentStatus, CallUid
from acd.restore import RESTORED, JournalRow, fresh_start, restored_state
from acd.state import (
    AcwPolicy,
    AgentEvent,
    CallFinished,
    EndAfterCallWork,
    HoldEnded,
    HoldStarted,
    OfferAnswered,
    Offered,
    OfferMissed,
    Pause,
    RegistrationBack,
    RegistrationLost,
    Resume,
    SignIn,
    SignOut,
    Tick,
    transition,
)
from engine.agents.store import add_agent
from engine.pbx.ari import AriClient
from engine.queueing.desk import AgentDesk
from engine.queueing.service import QueueService
from engine.store.agent_journal_tables import agent_events
from engine.store.database import make_engine
from engine.store.journal import JournalWriter
from engine.store.migrate import upgrade
from tests.unit.fakes import FakeClock

S = AgentState
AGENT = AgentId("1001")
CALL = CallUid("1700000000.1")
POLICY = AcwPolicy(acw_seconds=60, max_missed_offers=2)


class Journaled:
    """One agent driven through the state machine, keeping its journal rows as the desk reads them."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.status = AgentStatus.logged_out(AGENT, self.clock.now(), registered=True)
        self.rows: list[JournalRow] = []

    def send(self, *events: AgentEvent) -> Journaled:
        for event in events:
            self.clock.current += timedelta(seconds=1)
            result = transition(self.status, event, self.clock.now(), POLICY)
            assert result.rejected is None, (event, result.rejected)
            self.status = result.status
            self.rows.extend((c.from_state, c.to_state, c.reason) for c in result.changes)
        return self

    def restart(self) -> Journaled:
        """What QueueService.restore does with the restored state (checked against it further down)."""
        state, reason = restored_state(self.rows)
        fresh = AgentStatus.logged_out(AGENT, self.clock.now(), registered=True)
        if state is not S.LOGGED_OUT:
            self.rows.append((S.LOGGED_OUT, state, RESTORED))
            fresh = replace(fresh, state=state, reason=reason, idle_since=self.clock.now())
        self.status = fresh
        return self

    def restored(self) -> tuple[AgentState, str | None]:
        return restored_state(self.rows)


def on_call() -> Journaled:
    return Journaled().send(SignIn(), Offered(CALL), OfferAnswered(CALL))


def after_call() -> Journaled:
    return on_call().send(CallFinished(CALL))


# -- today's rule: the last row decides -------------------------------------------------------------------


def test_no_rows_means_logged_out() -> None:
    assert restored_state([]) == (S.LOGGED_OUT, None)


@pytest.mark.parametrize(("agent", "expected"), [
    (Journaled().send(SignIn()), (S.AVAILABLE, None)),
    (Journaled().send(SignIn(), Offered(CALL)), (S.AVAILABLE, None)),
    (on_call(), (S.AVAILABLE, None)),
    (on_call().send(HoldStarted()), (S.AVAILABLE, None)),
    (after_call(), (S.AVAILABLE, None)),
    (after_call().send(EndAfterCallWork()), (S.AVAILABLE, None)),
    (after_call().send(SignOut()), (S.LOGGED_OUT, None)),
    (Journaled().send(SignIn(), SignOut()), (S.LOGGED_OUT, None)),
    (Journaled().send(SignIn(), Pause("training")), (S.PAUSED, "training")),
    (Journaled().send(SignIn(), Pause("training"), Resume()), (S.AVAILABLE, None)),
    (after_call().send(Pause("lunch")), (S.PAUSED, "lunch")),
], ids=["signed-in", "ringing", "on-call", "on-hold", "after-call-work", "acw-ended", "signed-out-in-acw",
        "signed-out", "paused", "resumed", "paused-in-acw"])
def test_the_last_state_decides_without_a_pending_request(agent: Journaled,
                                                           expected: tuple[AgentState, str | None]) -> None:
    assert agent.restored() == expected


def test_a_paused_agent_keeps_its_reason_through_registration_notes_and_new_reasons() -> None:
    agent = Journaled().send(SignIn(), Pause("training"), RegistrationLost(), RegistrationBack(), RegistrationLost())
    assert agent.rows[-1][2] == "registration-lost"
    assert agent.restored() == (S.PAUSED, "training")
    assert agent.send(Pause("meeting"), RegistrationBack()).restored() == (S.PAUSED, "meeting")


def test_repeated_no_answer_pauses_with_no_answer() -> None:
    agent = Journaled().send(SignIn(), Offered(CALL), OfferMissed(CALL), Offered(CALL), OfferMissed(CALL))
    assert agent.restored() == (S.PAUSED, "no-answer")


# -- a pending sign-out -------------------------------------------------------------------------------------


@pytest.mark.parametrize("agent", [
    Journaled().send(SignIn(), Offered(CALL), SignOut()),
    on_call().send(SignOut()),
    on_call().send(HoldStarted(), SignOut()),
    on_call().send(SignOut(), HoldStarted(), HoldEnded()),
    on_call().send(SignOut(), CallFinished(CALL)),
    on_call().send(SignOut(), RegistrationLost(), CallFinished(CALL), RegistrationBack()),
], ids=["ringing", "on-call", "on-hold", "hold-after", "into-acw", "registration-notes"])
def test_a_sign_out_asked_for_during_a_call_wins(agent: Journaled) -> None:
    assert agent.status.pending_sign_out and agent.status.state is not S.LOGGED_OUT
    assert agent.restored() == (S.LOGGED_OUT, None)


def test_a_cancelled_sign_out_does_not_count() -> None:
    agent = on_call().send(SignOut(), SignIn())
    assert agent.rows[-1] == (S.ON_CALL, S.ON_CALL, "sign-out-cancelled")
    assert agent.restored() == (S.AVAILABLE, None)
    assert agent.send(CallFinished(CALL)).restored() == (S.AVAILABLE, None)
    assert agent.send(SignOut()).restored() == (S.LOGGED_OUT, None)


def test_a_sign_out_applied_then_a_new_sign_in_does_not_count() -> None:
    agent = on_call().send(SignOut(), CallFinished(CALL), Tick())
    assert agent.status.state is S.AFTER_CALL_WORK
    agent.clock.current += timedelta(seconds=POLICY.acw_seconds)
    agent.send(Tick())
    assert agent.rows[-1] == (S.AFTER_CALL_WORK, S.LOGGED_OUT, "acw-expired, then sign-out")
    assert agent.restored() == (S.LOGGED_OUT, None)
    assert agent.send(SignIn()).restored() == (S.AVAILABLE, None)


def test_a_sign_out_made_when_the_offer_was_missed_is_applied() -> None:
    agent = Journaled().send(SignIn(), Offered(CALL), SignOut(), OfferMissed(CALL))
    assert agent.rows[-1] == (S.RINGING, S.LOGGED_OUT, "missed, then sign-out")
    assert agent.restored() == (S.LOGGED_OUT, None)
    assert agent.send(SignIn()).restored() == (S.AVAILABLE, None)


def test_a_sign_out_still_pending_after_a_pause_in_after_call_work_wins() -> None:
    """acd.state keeps the sign-out pending through a pause started in after-call work (and a resume):
    the agent is never offered a call again until it signs out or in; restored, it is signed out."""
    agent = on_call().send(SignOut(), CallFinished(CALL), Pause("lunch"))
    assert agent.status.state is S.PAUSED and agent.status.pending_sign_out
    assert agent.restored() == (S.LOGGED_OUT, None)
    assert agent.send(Resume()).restored() == (S.LOGGED_OUT, None)
    assert agent.send(SignIn()).restored() == (S.AVAILABLE, None)


# -- a pending pause ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("agent", [
    Journaled().send(SignIn(), Offered(CALL), Pause("lunch")),
    on_call().send(Pause("lunch")),
    on_call().send(HoldStarted(), Pause("lunch"), HoldEnded()),
    on_call().send(Pause("lunch"), CallFinished(CALL)),
    on_call().send(Pause("break"), Pause("lunch"), CallFinished(CALL)),
    on_call().send(Pause("lunch"), RegistrationLost(), CallFinished(CALL)),
], ids=["ringing", "on-call", "on-hold", "into-acw", "second-reason", "registration-notes"])
def test_a_pause_asked_for_during_a_call_wins_with_its_reason(agent: Journaled) -> None:
    assert agent.status.pending_pause == "lunch"
    assert agent.restored() == (S.PAUSED, "lunch")


def test_a_pending_pause_reason_may_hold_a_colon() -> None:
    agent = on_call().send(Pause("meeting: team a"))
    assert agent.rows[-1] == (S.ON_CALL, S.ON_CALL, "pause-pending: meeting: team a")
    assert agent.restored() == (S.PAUSED, "meeting: team a")


def test_a_cancelled_pause_does_not_count() -> None:
    agent = on_call().send(Pause("lunch"), CallFinished(CALL), Resume())
    assert agent.rows[-1] == (S.AFTER_CALL_WORK, S.AFTER_CALL_WORK, "pause-cancelled")
    assert agent.restored() == (S.AVAILABLE, None)


def test_an_applied_pause_then_a_resume_does_not_count() -> None:
    agent = on_call().send(Pause("lunch"), CallFinished(CALL), EndAfterCallWork())
    assert agent.rows[-1] == (S.AFTER_CALL_WORK, S.PAUSED, "lunch")
    assert agent.restored() == (S.PAUSED, "lunch")
    assert agent.send(Resume()).restored() == (S.AVAILABLE, None)


def test_a_pause_pending_when_the_offer_is_missed_is_applied_not_no_answer() -> None:
    agent = Journaled().send(SignIn(), Offered(CALL), OfferMissed(CALL), Offered(CALL), Pause("lunch"),
                             OfferMissed(CALL))
    assert agent.rows[-1] == (S.RINGING, S.PAUSED, "lunch")
    assert agent.restored() == (S.PAUSED, "lunch")


# -- both ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("events", [
    (Pause("lunch"), SignOut()),
    (SignOut(), Pause("lunch")),
    (SignOut(), Pause("lunch"), CallFinished(CALL)),
], ids=["pause-first", "sign-out-first", "into-acw"])
def test_a_sign_out_wins_over_a_pause(events: tuple[AgentEvent, ...]) -> None:
    assert on_call().send(*events).restored() == (S.LOGGED_OUT, None)


def test_cancelling_the_sign_out_leaves_the_pause() -> None:
    agent = on_call().send(SignOut(), Pause("lunch"), SignIn())
    assert agent.restored() == (S.PAUSED, "lunch")
    assert agent.send(Resume()).restored() == (S.AVAILABLE, None)


# -- restarts ------------------------------------------------------------------------------------------------


def test_a_restored_agent_is_taken_up_again_the_same_way() -> None:
    paused = Journaled().send(SignIn(), Pause("training")).restart()
    assert paused.rows[-1] == (S.LOGGED_OUT, S.PAUSED, "restored")
    assert paused.restart().restart().restored() == (S.PAUSED, "training")
    pending = on_call().send(Pause("lunch"), CallFinished(CALL)).restart()
    assert pending.rows[-1] == (S.LOGGED_OUT, S.PAUSED, "restored")
    assert pending.restart().restored() == (S.PAUSED, "lunch")
    assert pending.send(Resume()).restart().restored() == (S.AVAILABLE, None)


def test_a_restored_sign_out_journals_nothing_and_stays_signed_out() -> None:
    agent = on_call().send(SignOut(), CallFinished(CALL)).restart()
    assert agent.rows[-1] == (S.ON_CALL, S.AFTER_CALL_WORK, "call-finished")
    assert agent.status.state is S.LOGGED_OUT
    assert agent.restart().restored() == (S.LOGGED_OUT, None)
    assert agent.send(SignIn()).restored() == (S.AVAILABLE, None)


def test_an_agent_restored_available_by_an_older_controller_stays_available() -> None:
    """Before this rule a pending sign-out was restored as available and the agent took calls since."""
    agent = on_call().send(SignOut(), CallFinished(CALL))
    agent.rows.append((S.LOGGED_OUT, S.AVAILABLE, RESTORED))
    assert agent.restored() == (S.AVAILABLE, None)


# -- the window the desk reads ----------------------------------------------------------------------------


def long_day() -> Journaled:
    """A shift: a pause, calls with every kind of request (cancelled, applied), a restart, and at the end a
    call during which the agent signed out, asked for lunch, then took the sign-out back."""
    agent = Journaled().send(SignIn(), Pause("training"), RegistrationLost(), RegistrationBack(), Resume())
    during_calls: list[tuple[AgentEvent, ...]] = [
        (), (SignOut(), SignIn()), (Pause("lunch"), Resume(), HoldStarted(), HoldEnded()), (SignOut(),),
        (Pause("lunch"),)]
    for n, during in enumerate(during_calls):
        call = CallUid(f"1700000000.{n}")
        agent.send(Offered(call), OfferAnswered(call), *during, CallFinished(call), EndAfterCallWork())
        if agent.status.state is S.LOGGED_OUT:
            agent.send(SignIn())
        if agent.status.state is S.PAUSED:
            agent.send(Resume())
    agent.send(Pause("meeting")).restart()
    agent.send(Resume(), Offered(CALL), OfferAnswered(CALL), SignOut(), Pause("lunch"), SignIn(),
               CallFinished(CALL), RegistrationLost())
    return agent


def test_the_answer_is_the_same_from_the_last_fresh_start() -> None:
    """The desk reads each agent's rows from its last fresh start only: every prefix of a long day gives
    the same answer from there as from the first row."""
    rows = long_day().rows
    reasons = {r[2] for r in rows}
    assert {"sign-in", "offered", "sign-out-pending", "pause-pending: lunch", "sign-out-cancelled",
            "pause-cancelled", "restored"} <= reasons
    for end in range(len(rows) + 1):
        prefix = rows[:end]
        start = max((i for i, row in enumerate(prefix) if fresh_start(row)), default=0)
        assert restored_state(prefix[start:]) == restored_state(prefix), prefix
    assert restored_state(rows) == (S.PAUSED, "lunch")


def test_fresh_starts_are_the_rows_the_state_machine_writes() -> None:
    agent = Journaled().send(SignIn(), Offered(CALL))
    assert [fresh_start(r) for r in agent.rows] == [True, True]
    agent = on_call().send(SignOut(), CallFinished(CALL), EndAfterCallWork())
    assert [fresh_start(r) for r in agent.rows[3:]] == [False, False, True]


# -- the desk reads the journal, the service takes it up --------------------------------------------------


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    engine = make_engine(url)
    for number in ("1001", "1002", "1003", "1004", "1005"):
        add_agent(engine, number, f"agent {number}", ["general"])
    engine.dispose()
    yield url


class Controller:
    """One controller life: the real queue service, desk and journal writer on a shared database."""

    def __init__(self, url: str, folder: Path, clock: FakeClock) -> None:
        self.db = make_engine(url)
        self.journal = JournalWriter(url, folder / "spill.jsonl", clock)
        self.service = QueueService(cast(AriClient, None), self.journal, clock, {}, folder)
        self.desk = AgentDesk(self.service, cast(AriClient, None), self.db, clock, folder / "status.json")
        self.desk.start()

    def send(self, agent: str, *events: AgentEvent) -> None:
        for event in events:
            assert self.service.agent_event(AgentId(agent), event) is None, event

    def state(self, agent: str) -> tuple[AgentState, str | None]:
        status = self.service.statuses[AgentId(agent)]
        return status.state, status.reason

    async def stop(self) -> None:
        await self.journal.close()
        self.db.dispose()


def restored_rows(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(agent_events.c.agent, agent_events.c.to_state)
                            .where(agent_events.c.reason == RESTORED).order_by(agent_events.c.id)).all()
    engine.dispose()
    return [(str(a), str(t)) for a, t in rows]


def test_a_restarted_controller_applies_requests_left_pending(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        first = Controller(db_url, tmp_path, clock)
        for agent in ("1001", "1002", "1003", "1004", "1005"):
            first.send(agent, RegistrationBack(), SignIn())
        first.send("1001", Offered(CallUid("c1")), OfferAnswered(CallUid("c1")), SignOut(), CallFinished(CallUid("c1")))
        first.send("1002", Offered(CallUid("c2")), OfferAnswered(CallUid("c2")), Pause("lunch"))
        first.send("1003", Offered(CallUid("c3")), OfferAnswered(CallUid("c3")), Pause("lunch"), Resume())
        first.send("1004", Pause("training"), RegistrationLost())
        first.send("1005", SignOut())
        await first.stop()

        second = Controller(db_url, tmp_path, clock)
        assert second.desk.last_states() == {
            "1001": (S.LOGGED_OUT, None), "1002": (S.PAUSED, "lunch"), "1003": (S.AVAILABLE, None),
            "1004": (S.PAUSED, "training"), "1005": (S.LOGGED_OUT, None)}
        assert [second.state(a) for a in ("1001", "1002", "1003", "1004", "1005")] == [
            (S.LOGGED_OUT, None), (S.PAUSED, "lunch"), (S.AVAILABLE, None), (S.PAUSED, "training"),
            (S.LOGGED_OUT, None)]
        assert second.service.statuses[AgentId("1001")].call is None
        await second.stop()
        assert restored_rows(db_url) == [("1002", "paused"), ("1003", "available"), ("1004", "paused")]

        third = Controller(db_url, tmp_path, clock)
        assert [third.state(a) for a in ("1001", "1002", "1003", "1004", "1005")] == [
            (S.LOGGED_OUT, None), (S.PAUSED, "lunch"), (S.AVAILABLE, None), (S.PAUSED, "training"),
            (S.LOGGED_OUT, None)]
        third.send("1001", RegistrationBack(), SignIn())
        assert third.state("1001") == (S.AVAILABLE, None)
        await third.stop()

    asyncio.run(scenario())


def test_the_desk_reads_each_agent_from_its_last_fresh_start(db_url: str, tmp_path: Path) -> None:
    day = long_day()
    engine = make_engine(db_url)
    clock = FakeClock()
    with engine.begin() as conn:
        conn.execute(insert(agent_events), [
            {"agent": agent, "at": clock.now(), "from_state": f, "to_state": t, "reason": r}
            for agent, rows in (("1001", day.rows), ("1002", on_call().rows), ("1003", day.rows[:-1]))
            for f, t, r in rows])
        total = conn.execute(select(func.count()).select_from(agent_events)).scalar_one()
    service = QueueService(cast(AriClient, None), cast(JournalWriter, None), clock, {}, tmp_path)
    desk = AgentDesk(service, cast(AriClient, None), engine, clock, tmp_path / "status.json")
    histories = desk.journaled_histories()
    offered = max(i for i, row in enumerate(day.rows) if row[2] == "offered")
    assert histories[AgentId("1001")] == [(str(f), str(t), r) for f, t, r in day.rows[offered:]]
    assert histories[AgentId("1002")] == [(str(f), str(t), r) for f, t, r in on_call().rows[1:]]
    assert sum(len(h) for h in histories.values()) < total / 3
    assert desk.last_states() == {"1001": (S.PAUSED, "lunch"), "1002": (S.AVAILABLE, None),
                                  "1003": (S.PAUSED, "lunch")}
    engine.dispose()

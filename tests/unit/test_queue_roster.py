"""The agent roster: journaled changes and its listeners, restore after a restart, re-adoption of agents
still on a call, registration, and provisioning changes."""

from __future__ import annotations

from datetime import datetime

from acd.model import AgentId, AgentState, CallUid
from acd.state import Offered, Pause, RegistrationBack, SignIn
from engine.call_position import CallPosition
from engine.queueing.roster import AgentRoster
from tests.unit.fakes import FakeClock, ListJournal
from tests.unit.fakes_queue import GENERAL, POLICY, line, roster_of


def agent_rows(journal: ListJournal, agent: str) -> list[tuple[str, str, str | None]]:
    return [(e.data["from"], e.data["to"], e.data["reason"]) for e in journal.entries if e.call_uid == f"agent:{agent}"]


def test_changes_are_journaled_and_told_to_the_distributor_and_to_waiting_callers() -> None:
    clock, journal = FakeClock(), ListJournal()
    told: list[str] = []
    roster = AgentRoster(journal, clock, POLICY, on_change=lambda: told.append("change"),
                         on_staffing_change=lambda: told.append("staffing"))
    roster.set_agents({AgentId("1001"): line("1001")})
    assert told == ["staffing"]  # a new agent: who serves may have changed
    assert roster.agent_event(AgentId("1001"), RegistrationBack()) is None
    assert roster.agent_event(AgentId("1001"), SignIn()) is None
    assert roster.serving(GENERAL) == 1
    told.clear()
    assert roster.agent_event(AgentId("1001"), Pause("lunch")) is None
    assert told == ["change", "staffing"]
    assert agent_rows(journal, "1001")[-1] == (AgentState.AVAILABLE, AgentState.PAUSED, "lunch")
    assert roster.serving(GENERAL) == 0
    told.clear()
    assert roster.agent_event(AgentId("1001"), Offered(CallUid("c1"))) is not None  # refused: paused
    assert roster.agent_event(AgentId("9999"), SignIn()) == "unknown agent 9999"
    assert told == []


def test_restore_keeps_signed_in_and_paused_agents_and_holds_back_those_seen_on_a_call() -> None:
    clock, journal = FakeClock(), ListJournal()
    roster = roster_of(journal, clock, line("1001"), line("1002"), line("1003"), signed_in=False)
    roster.restore({AgentId("1001"): ("available", None), AgentId("1002"): ("paused", "lunch"),
                    AgentId("1003"): ("logged_out", None), AgentId("4004"): ("available", None)},
                   in_call=[AgentId("1001"), AgentId("4004")])
    states = {a: (s.state, s.reason) for a, s in roster.statuses.items()}
    assert states == {AgentId("1001"): (AgentState.AVAILABLE, None), AgentId("1002"): (AgentState.PAUSED, "lunch"),
                      AgentId("1003"): (AgentState.LOGGED_OUT, None)}
    assert agent_rows(journal, "1002")[-1] == (AgentState.LOGGED_OUT, AgentState.PAUSED, "restored")
    assert roster.awaiting_readoption == {AgentId("1001")}  # 4004 is not provisioned any more
    assert [a.work_number for a in roster.offerable()] == [AgentId("1002"), AgentId("1003")]


def test_readopt_puts_agents_back_on_their_surviving_calls_and_frees_the_others() -> None:
    clock, journal = FakeClock(), ListJournal()
    roster = roster_of(journal, clock, line("1001"), line("1002"), line("1003"), signed_in=False)
    roster.restore({AgentId("1001"): ("available", None), AgentId("1002"): ("paused", "lunch")},
                   in_call=[AgentId("1001"), AgentId("1002"), AgentId("1003")])
    talking = CallPosition("talking", queue="general", queued_at=datetime(2026, 11, 23, 13, 58), agent="1001",
                           leg="agent1-c1", bridge="b1", recording="r1")
    held = CallPosition("held", queue="general", agent="1002", leg="agent2-c2", bridge="b2", recording="r2")
    waiting = CallPosition("queued", queue="general", agent="1003")

    roster.readopt_agents({CallUid("c1"): talking, CallUid("c2"): held, CallUid("c3"): waiting})

    one, two, three = (roster.statuses[AgentId(a)] for a in ("1001", "1002", "1003"))
    assert (one.state, one.call, one.pending_pause, one.pending_sign_out) == (AgentState.ON_CALL, "c1", None, False)
    assert (two.state, two.call, two.pending_pause) == (AgentState.ON_HOLD, "c2", "lunch")  # paused after the call
    assert (three.state, three.call) == (AgentState.LOGGED_OUT, None)
    assert agent_rows(journal, "1001")[-1] == (AgentState.AVAILABLE, AgentState.ON_CALL, "readopted")
    assert roster.awaiting_readoption == set()


def test_registration_follows_the_softphone_and_unprovisioned_agents_vanish_when_free() -> None:
    clock, journal = FakeClock(), ListJournal()
    roster = roster_of(journal, clock, line("1001"), line("1002"))
    assert roster.agent_by_sip_user("sip1002") == AgentId("1002")
    assert roster.agent_by_sip_user("nobody") is None
    roster.registration("sip1002", online=False)
    assert not roster.statuses[AgentId("1002")].registered
    assert roster.serving(GENERAL) == 1
    roster.set_agents({AgentId("1001"): line("1001")})
    assert set(roster.statuses) == {AgentId("1001")}

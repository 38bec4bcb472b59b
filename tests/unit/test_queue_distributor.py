"""The distributor on a fake roster and waiting line: who gets whom, the caller's task woken, held-back
agents, and after-call work that runs out."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from acd.model import AgentId, AgentState, CallUid
from acd.state import CallFinished, OfferAnswered
from engine.call_position import CallPosition
from engine.queueing.distributor import Distributor
from engine.queueing.transfer import QueueWake
from engine.queueing.waiting_line import WaitingLine
from tests.unit.fakes import FakeClock, FakeControl, ListJournal
from tests.unit.fakes_queue import GENERAL, QUEUES, VIP, caller, line, roster_of


def test_the_longest_waiting_caller_gets_the_agent_with_the_skills_and_is_woken() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        roster = roster_of(journal, clock, line("1001", "vip"), line("1002", "general"))
        waiting = WaitingLine()
        distributor = Distributor(roster, waiting, QUEUES, clock)
        early, late, vip = (caller(uid, control, journal, clock) for uid in ("c-early", "c-late", "c-vip"))
        later = waiting.join(late, GENERAL.name, 0, clock.now())
        earlier = waiting.join(early, GENERAL.name, 0, clock.now() - timedelta(minutes=2))
        for_vip = waiting.join(vip, VIP.name, 0, clock.now())

        distributor.assign()

        assert earlier.result() == AgentId("1002")  # general skill, and the caller who waited longest
        assert for_vip.result() == AgentId("1001")
        assert not later.done()
        assert list(waiting.waiting) == [CallUid("c-late")]
        assert isinstance(early.inbox.get_nowait(), QueueWake)
        assert late.inbox.empty()
        offered = roster.statuses[AgentId("1002")]
        assert offered.state == AgentState.RINGING and offered.call == CallUid("c-early")
        assert journal.entries[-1].data["to"] == AgentState.RINGING

    asyncio.run(scenario())


def test_with_nobody_waiting_the_agents_are_not_even_listed() -> None:
    clock, journal = FakeClock(), ListJournal()
    roster = roster_of(journal, clock, line("1001"), line("1002"))

    def listed() -> list[object]:
        raise AssertionError("the free agents were listed with nobody waiting")

    roster.offerable = listed  # type: ignore[method-assign]
    Distributor(roster, WaitingLine(), QUEUES, clock).assign()
    assert all(s.state == AgentState.AVAILABLE for s in roster.statuses.values())


def test_a_caller_refused_by_the_only_agent_waits_and_an_agent_held_back_is_not_offered() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        roster = roster_of(journal, clock, line("1001"), line("1002"))
        roster.restore({}, in_call=[AgentId("1002")])  # the journal saw 1002 on a call: wait for re-adoption
        waiting = WaitingLine()
        distributor = Distributor(roster, waiting, QUEUES, clock)
        offer = waiting.join(caller("c1", control, journal, clock), GENERAL.name, 0, clock.now(),
                             refused=[AgentId("1001")])

        distributor.assign()
        assert not offer.done()

        roster.readopt_agents({})  # no call of 1002's survived: 1002 may be offered calls again
        distributor.assign()
        assert offer.result() == AgentId("1002")

    asyncio.run(scenario())


def test_the_running_distributor_answers_a_caller_who_joins() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        wake = asyncio.Event()
        waiting = WaitingLine(on_join=wake.set)
        roster = roster_of(journal, clock, line("1001"))
        distributor = Distributor(roster, waiting, QUEUES, clock, wake)
        task = asyncio.create_task(distributor.run())
        try:
            offer = waiting.join(caller("c1", control, journal, clock), GENERAL.name, 0, clock.now())
            assert await asyncio.wait_for(offer, 1.0) == AgentId("1001")
        finally:
            task.cancel()

    asyncio.run(scenario())


def test_after_call_work_that_ran_out_frees_the_agent_for_the_next_caller() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        roster = roster_of(journal, clock, line("1001"))
        waiting = WaitingLine()
        distributor = Distributor(roster, waiting, QUEUES, clock)
        first = waiting.join(caller("c1", control, journal, clock), GENERAL.name, 0, clock.now())
        distributor.assign()
        assert first.result() == AgentId("1001")
        for event in (OfferAnswered(CallUid("c1")), CallFinished(CallUid("c1"))):
            assert roster.agent_event(AgentId("1001"), event) is None
        deadline = roster.next_deadline()
        assert deadline == clock.now() + timedelta(seconds=60)

        second = waiting.join(caller("c2", control, journal, clock), GENERAL.name, 0, clock.now())
        roster.expire_due()
        distributor.assign()
        assert not second.done()  # still wrapping up

        clock.current = deadline
        roster.expire_due()
        distributor.assign()
        assert second.result() == AgentId("1001")
        assert roster.next_deadline() is None

    asyncio.run(scenario())


def test_after_call_work_ended_by_a_readopted_call_leaves_no_deadline() -> None:
    """The roster keeps the agents in a timed state apart (the distributor asks on every change); a state set
    by re-adoption, not by an agent event, must take the agent out of that set too."""
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        roster = roster_of(journal, clock, line("1001"), line("1002"))
        waiting = WaitingLine()
        distributor = Distributor(roster, waiting, QUEUES, clock)
        for uid in ("c1", "c2"):
            waiting.join(caller(uid, control, journal, clock), GENERAL.name, 0, clock.now())
        distributor.assign()
        for agent, uid in (("1001", "c1"), ("1002", "c2")):
            for event in (OfferAnswered(CallUid(uid)), CallFinished(CallUid(uid))):
                assert roster.agent_event(AgentId(agent), event) is None
        assert roster.next_deadline() == clock.now() + timedelta(seconds=60)

        roster.readopt_agents({CallUid("c9"): CallPosition("talking", queue=GENERAL.name, agent="1001", leg="l",
                                                          bridge="b", recording="r")})
        assert roster.statuses[AgentId("1001")].state == AgentState.ON_CALL
        assert roster.next_deadline() == clock.now() + timedelta(seconds=60)  # 1002 still wraps up
        clock.current += timedelta(minutes=5)
        roster.expire_due()
        assert roster.statuses[AgentId("1002")].state == AgentState.AVAILABLE
        assert roster.statuses[AgentId("1001")].state == AgentState.ON_CALL  # no Tick for the re-adopted call
        assert roster.next_deadline() is None

    asyncio.run(scenario())

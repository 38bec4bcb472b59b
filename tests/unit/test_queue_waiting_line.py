"""The waiting line: joining, leaving, a withdrawn callback, nudges, and the caller's place and wait."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from acd.model import AgentId, CallUid
from engine.call_session import CallEnded
from engine.queueing.transfer import QueueWake
from engine.queueing.waiting_line import WaitingLine
from tests.unit.fakes import FakeClock, FakeControl, ListJournal
from tests.unit.fakes_queue import GENERAL, VIP, caller


def test_a_withdrawn_callback_ends_its_task_with_the_reason() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        waiting = WaitingLine()
        offer = waiting.join(caller("cb1", control, journal, clock), GENERAL.name, 0, clock.now(), callback=True)
        assert waiting.waiting[CallUid("cb1")].callback

        waiting.withdraw(CallUid("cb1"), "callback cancelled")
        with pytest.raises(CallEnded) as ended:
            await offer
        assert ended.value.cause == "callback cancelled"
        assert waiting.pending_offer(CallUid("cb1")) is None
        waiting.leave(CallUid("cb1"))
        assert waiting.waiting == {}
        waiting.withdraw(CallUid("cb1"), "again")  # nothing left to withdraw: no error

    asyncio.run(scenario())


def test_leaving_cancels_an_unanswered_offer_and_joining_tells_the_distributor() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        joined: list[str] = []
        waiting = WaitingLine(on_join=lambda: joined.append("joined"))
        offer = waiting.join(caller("c1", control, journal, clock), GENERAL.name, 0, clock.now(),
                             refused=[AgentId("1001")])
        assert joined == ["joined"]
        assert waiting.waiting[CallUid("c1")].refused_by == frozenset({AgentId("1001")})
        waiting.leave(CallUid("c1"))
        assert offer.cancelled() and waiting.waiting == {}

    asyncio.run(scenario())


def test_nudges_reach_the_waiting_callers_only() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        waiting = WaitingLine()
        one, two = caller("c1", control, journal, clock), caller("c2", control, journal, clock)
        waiting.join(one, GENERAL.name, 0, clock.now())
        waiting.join(two, GENERAL.name, 0, clock.now())
        waiting.leave(CallUid("c2"))
        waiting.nudge_all()
        waiting.nudge([CallUid("gone")])
        assert isinstance(one.inbox.get_nowait(), QueueWake) and one.inbox.empty()
        assert two.inbox.empty()

    asyncio.run(scenario())


def test_place_is_the_position_in_the_callers_own_queue_and_the_expected_wait() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeControl()
        waiting = WaitingLine()
        for uid, queue, minutes in (("old", GENERAL, 5), ("new", GENERAL, 1), ("vip", VIP, 9)):
            waiting.join(caller(uid, control, journal, clock), queue.name, 0, clock.now() - timedelta(minutes=minutes))
        assert waiting.place(CallUid("old"), serving=2) == (1, 150.0)  # 1 * 300 s / 2 agents
        assert waiting.place(CallUid("new"), serving=2) == (2, 300.0)
        assert waiting.place(CallUid("vip"), serving=0) == (1, 300.0)
        assert waiting.place(CallUid("nobody"), serving=2) is None
        waiting.note_talk(100)
        assert waiting.average_handle_s == pytest.approx(280.0)

    asyncio.run(scenario())

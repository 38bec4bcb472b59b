"""Ringing one agent with a fake PBX: answered, missed, not dialable, and the caller hanging up meanwhile."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from acd.model import AgentId
from engine.call_session import CallEnded
from engine.pbx.ari import AriError
from engine.pbx.ari_events import ChannelDestroyed, ChannelHangupRequest, ChannelId
from engine.queueing.ringing import AgentRinger
from tests.unit.fakes import FakeClock, FakeQueueControl, ListJournal, channel
from tests.unit.fakes_queue import answered, caller

AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_an_answered_agent_gives_their_leg_which_belongs_to_the_call() -> None:
    async def scenario() -> None:
        control, journal = FakeQueueControl(), ListJournal()
        call = caller("c1", control, journal, FakeClock(), number="13900001111")
        control.on_ring = lambda leg: call.inbox.put_nowait(answered(leg))
        leg = await AgentRinger(control).ring(call, AgentId("1001"), "sip1001", 15, "c1-1001-ab12cd34")
        assert leg == ChannelId("agent1-c1") and leg in call.legs
        assert control.commands == [("ring_leg", "PJSIP/sip1001", "agent1-c1", "c1", "13900001111", "15",
                                     "c1-1001-ab12cd34")]
        assert journal.kinds("c1") == ["queue.offered"]

    asyncio.run(scenario())


def test_a_missed_or_undialable_agent_gives_none_and_the_leg_is_hung_up() -> None:
    async def scenario() -> None:
        control, journal = FakeQueueControl(), ListJournal()
        call = caller("c1", control, journal, FakeClock())
        ringer = AgentRinger(control)
        control.on_ring = lambda leg: call.inbox.put_nowait(ChannelDestroyed(at=AT, channel=channel(leg)))
        assert await ringer.ring(call, AgentId("1001"), "sip1001", 15, None) is None
        control.refuse_ring = AriError(400, "POST", "/channels", "Allocation failed")
        assert await ringer.ring(call, AgentId("1002"), "sip1002", 15, None) is None
        hangups = [c for c in control.commands if c[0] == "hangup"]
        assert hangups == [("hangup", "agent1-c1"), ("hangup", "agent2-c1")]  # each offer a leg of its own
        assert journal.kinds("c1") == ["queue.offered", "queue.no_answer"] * 2

    asyncio.run(scenario())


def test_a_caller_who_hangs_up_while_the_agent_rings_ends_the_offer_and_its_leg() -> None:
    async def scenario() -> None:
        control, journal = FakeQueueControl(), ListJournal()
        call = caller("c1", control, journal, FakeClock())
        control.on_ring = lambda leg: call.inbox.put_nowait(ChannelHangupRequest(at=AT, channel=call.channel))
        with pytest.raises(CallEnded):
            await AgentRinger(control).ring(call, AgentId("1001"), "sip1001", 15, None)
        assert control.commands[-1] == ("hangup", "agent1-c1")
        assert journal.kinds("c1") == ["queue.offered"]

    asyncio.run(scenario())

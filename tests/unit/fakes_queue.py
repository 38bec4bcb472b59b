"""Builders for the queue's pieces in unit tests: agents, a roster on a list journal, callers' sessions."""

from __future__ import annotations

from datetime import UTC, datetime

from acd.model import Agent, AgentId, QueueName
from acd.queues import QueueConfig
from acd.state import AcwPolicy, RegistrationBack, SignIn
from engine.call_session import CallSession
from engine.pbx.ari_events import ChannelId, ChannelTalkingStarted, Event, StasisStart
from engine.queueing.roster import AgentLine, AgentRoster
from tests.unit.fakes import FakeClock, FakeControl, ListJournal, channel

GENERAL = QueueConfig(QueueName("general"), frozenset({"general"}))
VIP = QueueConfig(QueueName("vip"), frozenset({"vip"}))
QUEUES = {q.name: q for q in (GENERAL, VIP)}
POLICY = AcwPolicy(acw_seconds=60, max_missed_offers=2)


def line(number: str, *skills: str) -> AgentLine:
    return AgentLine(Agent(AgentId(number), f"agent {number}", frozenset(skills or ("general",))), f"sip{number}")


def roster_of(journal: ListJournal, clock: FakeClock, *lines: AgentLine, signed_in: bool = True) -> AgentRoster:
    """A roster of ``lines``, each registered and (``signed_in``) signed in."""
    roster = AgentRoster(journal, clock, POLICY)
    roster.set_agents({one.agent.work_number: one for one in lines})
    for one in lines:
        assert roster.agent_event(one.agent.work_number, RegistrationBack()) is None
        if signed_in:
            assert roster.agent_event(one.agent.work_number, SignIn()) is None
    return roster


def caller(uid: str, control: FakeControl, journal: ListJournal, clock: FakeClock,
           number: str = "13800138000") -> CallSession:
    return CallSession(channel(uid, number), control, journal, clock, datetime(2026, 11, 23, 14, 0, tzinfo=UTC))


def answered(leg: ChannelId) -> Event:
    """What Asterisk sends once a rung agent's softphone answers: the leg enters our app."""
    return StasisStart(at=datetime(2026, 11, 23, 14, 0, tzinfo=UTC), channel=channel(str(leg)))


def spoke(call: CallSession) -> Event:
    return ChannelTalkingStarted(at=datetime(2026, 11, 23, 14, 0, tzinfo=UTC), channel=call.channel)

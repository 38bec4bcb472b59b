"""Routing: queue order (VIP, repeat callers, age), eligibility, longest idle, greedy one-offer-per-agent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from acd.model import Agent, AgentId, AgentState, AgentStatus, CallUid, QueueName
from acd.queues import QueueConfig
from acd.routing import (
    VIP_PRIORITY,
    WaitingCaller,
    agents_serving,
    eligible,
    expected_wait,
    next_assignments,
    pick_agent,
    position_of,
    queue_order,
    repeat_priority,
)

T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
GENERAL = QueueConfig(QueueName("general"), frozenset({"general"}))
VIP = QueueConfig(QueueName("vip"), frozenset({"vip"}))
COMPLAINTS = QueueConfig(QueueName("complaints"), frozenset({"complaints"}), priority_bonus_repeat=5)
QUEUES = {q.name: q for q in (GENERAL, VIP, COMPLAINTS)}


def agent(number: str, *skills: str) -> Agent:
    return Agent(AgentId(number), f"agent {number}", frozenset(skills or ("general",)), "inbound")


def idle(number: str, minutes_idle: float, **fields: object) -> AgentStatus:
    since = T0 - timedelta(minutes=minutes_idle)
    status = AgentStatus(AgentId(number), AgentState.AVAILABLE, since, idle_since=since, registered=True)
    return replace(status, **fields)


def caller(call: str, queue: str = "general", priority: int = 0, waited_s: float = 0,
           refused_by: tuple[str, ...] = ()) -> WaitingCaller:
    return WaitingCaller(CallUid(call), QueueName(queue), priority, T0 - timedelta(seconds=waited_s),
                         "13800138000", frozenset(AgentId(a) for a in refused_by))


def test_vip_before_repeat_before_regular_then_oldest_first() -> None:
    regular_old = caller("regular-old", waited_s=300)
    regular_new = caller("regular-new", waited_s=10)
    repeat = caller("repeat", priority=repeat_priority(0, T0 - timedelta(hours=2), T0, GENERAL), waited_s=5)
    vip = caller("vip", "vip", priority=VIP_PRIORITY, waited_s=1)
    ordered = queue_order([regular_new, regular_old, repeat, vip])
    assert [w.call for w in ordered] == ["vip", "repeat", "regular-old", "regular-new"]


def test_repeat_priority_within_the_window_only() -> None:
    assert repeat_priority(0, None, T0, GENERAL) == 0
    assert repeat_priority(0, T0 - timedelta(hours=24), T0, GENERAL) == 5
    assert repeat_priority(0, T0 - timedelta(hours=24, seconds=1), T0, GENERAL) == 0
    assert repeat_priority(VIP_PRIORITY, T0 - timedelta(minutes=5), T0, VIP) == 15
    assert repeat_priority(0, T0 + timedelta(minutes=5), T0, GENERAL) == 0  # clock skew: not a repeat
    assert repeat_priority(0, T0 - timedelta(minutes=5), T0, replace(GENERAL, repeat_window_h=0)) == 0


def test_position_is_within_the_own_queue_in_queue_order() -> None:
    waiting = [caller("a", waited_s=60), caller("b", waited_s=90), caller("v", "vip", VIP_PRIORITY),
               caller("c", priority=5, waited_s=1)]
    assert [position_of(CallUid(c), waiting) for c in ("c", "b", "a", "v")] == [1, 2, 3, 1]
    with pytest.raises(KeyError):
        position_of(CallUid("gone"), waiting)


def test_expected_wait_is_position_times_aht_over_agents() -> None:
    assert expected_wait(3, 2, 300) == 450
    assert expected_wait(2, 0, 300) == 600  # nobody serving: counted as one agent, not a division by zero


def test_eligible_needs_available_registered_skilled_and_nothing_pending() -> None:
    a = agent("1001", "general", "vip")
    assert eligible(a, idle("1001", 1), GENERAL) and eligible(a, idle("1001", 1), VIP)
    assert not eligible(a, idle("1001", 1), COMPLAINTS)
    assert not eligible(a, idle("1001", 1, registered=False), GENERAL)
    assert not eligible(a, idle("1001", 1, pending_pause="lunch"), GENERAL)
    assert not eligible(a, idle("1001", 1, pending_sign_out=True), GENERAL)
    for state in set(AgentState) - {AgentState.AVAILABLE}:
        assert not eligible(a, idle("1001", 1, state=state), GENERAL), state
    multi = QueueConfig(QueueName("vip-complaints"), frozenset({"vip", "complaints"}))
    assert not eligible(a, idle("1001", 1), multi)  # every skill of the queue is needed


def test_longest_idle_agent_is_picked() -> None:
    agents = [agent("1001"), agent("1002"), agent("1003")]
    statuses = {AgentId("1001"): idle("1001", 2), AgentId("1002"): idle("1002", 9),
                AgentId("1003"): idle("1003", 5)}
    assert pick_agent(caller("c"), agents, statuses, GENERAL) == "1002"


def test_refused_unregistered_and_unskilled_agents_are_skipped() -> None:
    agents = [agent("1001"), agent("1002"), agent("1003", "vip"), agent("1004")]
    statuses = {AgentId("1001"): idle("1001", 9), AgentId("1002"): idle("1002", 8, registered=False),
                AgentId("1003"): idle("1003", 7), AgentId("1004"): idle("1004", 1)}
    assert pick_agent(caller("c", refused_by=("1001",)), agents, statuses, GENERAL) == "1004"
    assert pick_agent(caller("c", refused_by=("1001", "1004")), agents, statuses, GENERAL) is None
    assert pick_agent(caller("c"), [agent("1005")], statuses, GENERAL) is None  # no status known: skipped


def test_assignments_serve_priority_first_and_never_reuse_an_agent() -> None:
    agents = [agent("1001", "general", "vip"), agent("1002", "general"), agent("1003", "general")]
    statuses = {AgentId("1001"): idle("1001", 9), AgentId("1002"): idle("1002", 5),
                AgentId("1003"): idle("1003", 1)}
    waiting = [caller("old", waited_s=200), caller("new", waited_s=10), caller("vip", "vip", VIP_PRIORITY),
               caller("last", waited_s=5)]
    offers = next_assignments(waiting, agents, statuses, QUEUES)
    # The VIP takes the only VIP-skilled agent although 1001 idles longest for general too.
    assert offers == [("vip", "1001"), ("old", "1002"), ("new", "1003")]
    assert len({a for _, a in offers}) == len(offers)


def test_a_caller_nobody_can_serve_does_not_block_the_others() -> None:
    agents = [agent("1001", "general"), agent("1002", "general")]
    statuses = {AgentId("1001"): idle("1001", 9), AgentId("1002"): idle("1002", 5)}
    waiting = [caller("vip", "vip", VIP_PRIORITY, waited_s=100), caller("refused", waited_s=50, refused_by=("1001",)),
               caller("next", waited_s=10), caller("lost", "no-such-queue", waited_s=500)]
    assert next_assignments(waiting, agents, statuses, QUEUES) == [("refused", "1002"), ("next", "1001")]


def test_no_assignment_without_free_agents() -> None:
    agents = [agent("1001")]
    statuses = {AgentId("1001"): idle("1001", 9, state=AgentState.ON_CALL)}
    assert next_assignments([caller("c")], agents, statuses, QUEUES) == []
    assert next_assignments([], agents, {AgentId("1001"): idle("1001", 9)}, QUEUES) == []


def test_agents_serving_counts_signed_in_registered_skilled_agents() -> None:
    agents = [agent("1001"), agent("1002"), agent("1003"), agent("1004"), agent("1005", "vip")]
    statuses = {AgentId("1001"): idle("1001", 1), AgentId("1002"): idle("1002", 1, state=AgentState.ON_CALL),
                AgentId("1003"): idle("1003", 1, state=AgentState.PAUSED),
                AgentId("1004"): idle("1004", 1, registered=False), AgentId("1005"): idle("1005", 1)}
    assert agents_serving(GENERAL, agents, statuses) == 2

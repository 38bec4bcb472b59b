"""``next_assignments`` (indexed free agents) gives exactly the offers of the original scan on random floors.

The reference below is the implementation before the index (every waiting caller scanned every agent not
yet taken through ``pick_agent``); hypothesis draws rosters with shared and missing skills, duplicate
entries, every agent state, pending requests, unregistered phones, statuses filed under another id, ties
of idle time, unknown queues, VIPs, equal arrival times and refusals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.model import Agent, AgentId, AgentState, AgentStatus, CallUid, QueueName
from acd.queues import QueueConfig
from acd.routing import WaitingCaller, next_assignments, pick_agent, queue_order

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SKILLS = ("general", "vip", "billing", "english")
IDS = [AgentId(str(1000 + n)) for n in range(12)]
QUEUE_NAMES = [QueueName(name) for name in ("general", "vip", "billing", "mixed", "open", "gone")]


def reference(waiting: Iterable[WaitingCaller], agents: Iterable[Agent], statuses: Mapping[AgentId, AgentStatus],
              queues: Mapping[QueueName, QueueConfig]) -> list[tuple[CallUid, AgentId]]:
    roster = list(agents)
    taken: set[AgentId] = set()
    offers: list[tuple[CallUid, AgentId]] = []
    for caller in queue_order(waiting):
        queue = queues.get(caller.queue)
        if queue is None:
            continue
        free = [a for a in roster if a.work_number not in taken]
        chosen = pick_agent(caller, free, statuses, queue)
        if chosen is not None:
            taken.add(chosen)
            offers.append((caller.call, chosen))
    return offers


skill_sets = st.frozensets(st.sampled_from(SKILLS), max_size=3)
moments = st.integers(min_value=0, max_value=5).map(lambda s: T0 - timedelta(seconds=s))


@st.composite
def floors(draw: st.DrawFn) -> tuple[list[WaitingCaller], list[Agent], dict[AgentId, AgentStatus],
                                     dict[QueueName, QueueConfig]]:
    queues = {name: QueueConfig(name, draw(skill_sets)) for name in QUEUE_NAMES[:-1] if draw(st.booleans())}
    agents = [Agent(work_number, f"agent {work_number}", draw(skill_sets))
              for work_number in draw(st.lists(st.sampled_from(IDS), max_size=14))]
    statuses: dict[AgentId, AgentStatus] = {}
    for work_number in draw(st.lists(st.sampled_from(IDS), unique=True)):
        since = draw(moments)
        statuses[work_number] = AgentStatus(
            agent=work_number if draw(st.integers(0, 9)) else IDS[0],
            state=draw(st.sampled_from(list(AgentState)) | st.just(AgentState.AVAILABLE)),
            since=since, idle_since=draw(st.none() | moments), registered=draw(st.integers(0, 7)) > 0,
            pending_pause=draw(st.sampled_from((None, None, None, "break"))),
            pending_sign_out=draw(st.integers(0, 9)) == 0)
    waiting = [WaitingCaller(call=CallUid(f"call-{n}"), queue=draw(st.sampled_from(QUEUE_NAMES)),
                             priority=draw(st.sampled_from((0, 0, 5, 10))), enqueued_at=draw(moments),
                             caller="13800138000",
                             refused_by=draw(st.frozensets(st.sampled_from(IDS), max_size=3)))
               for n in range(draw(st.integers(0, 12)))]
    return waiting, agents, statuses, queues


@settings(max_examples=200, deadline=None)
@given(floors())
def test_indexed_assignments_equal_the_original_scan(
        floor: tuple[list[WaitingCaller], list[Agent], dict[AgentId, AgentStatus], dict[QueueName, QueueConfig]],
) -> None:
    waiting, agents, statuses, queues = floor
    assert next_assignments(waiting, agents, statuses, queues) == reference(waiting, agents, statuses, queues)


def test_a_large_busy_floor_matches_too() -> None:
    """The micro-benchmark's floor shape (1,000 agents, 50 queues, 500 waiting), seeded."""
    from random import Random

    from bench.micro import call_floor, waiting_callers

    rng = Random(11)
    floor = call_floor(1000, 50, rng)
    serial = iter(range(10**6))
    for per_queue in (1, 10):
        waiting = waiting_callers(floor, per_queue, None, rng, serial)
        assert (next_assignments(waiting, floor.agents, floor.statuses, floor.queues)
                == reference(waiting, floor.agents, floor.statuses, floor.queues))

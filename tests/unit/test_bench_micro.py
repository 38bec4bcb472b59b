"""The micro-benchmarks' pure parts: the synthetic call floor, the journal journey and the verdicts."""

from __future__ import annotations

import random
from collections import Counter
from itertools import count
from pathlib import Path

from acd.model import AgentState
from acd.routing import next_assignments
from bench.micro import (
    EVENTS_PER_CALL,
    T0,
    JournalRun,
    Timing,
    apply_cost,
    call_floor,
    entries,
    interleaved,
    journey,
    markdown,
    waiting_callers,
)
from engine.store.journal import AGENT_PREFIX
from engine.store.migrate import upgrade


def test_the_floor_has_every_queue_staffed_and_a_quarter_available() -> None:
    rng = random.Random(3)
    floor = call_floor(1000, 50, rng)
    assert len(floor.agents) == 1000 and len(floor.queues) == 50
    assert all(len(agent.skills) == 3 for agent in floor.agents)
    staffed = Counter(skill for agent in floor.agents for skill in agent.skills)
    assert len(staffed) == 50
    available = sum(s.state is AgentState.AVAILABLE for s in floor.statuses.values())
    assert 200 < available < 300
    waiting = waiting_callers(floor, 1, None, rng, count(1))
    assert sorted(w.queue for w in waiting) == sorted(floor.queues)
    offers = next_assignments(waiting, floor.agents, floor.statuses, floor.queues)
    assert 0 < len(offers) <= 50 and len({agent for _, agent in offers}) == len(offers)


def test_a_journey_is_a_whole_call_and_the_agent_states() -> None:
    entries_of_call = journey(7, T0)
    kinds = [e.kind for e in entries_of_call]
    assert len(kinds) == EVENTS_PER_CALL == 12
    assert kinds[0] == "call.started" and kinds[-1] == "call.ended"
    assert sum(e.call_uid.startswith(AGENT_PREFIX) for e in entries_of_call) == 2
    produced = list(entries(5, 30))
    assert len(produced) == 30 and len({e.call_uid for e in produced if not e.call_uid.startswith("agent")}) == 3


def test_interleaved_journeys_take_turns_and_keep_each_call_in_order() -> None:
    produced = list(interleaved(0, 2 * EVENTS_PER_CALL * 4 + 3, open_calls=4))
    assert [e.call_uid for e in produced[:4]] == ["micro-0", "micro-1", "micro-2", "micro-3"]
    assert [e.kind for e in produced[:4]] == ["call.started"] * 4
    first = [e for e in produced if e.call_uid == "micro-0"]
    assert first == [e for e in journey(0, T0) if e.call_uid == "micro-0"]
    assert [e.call_uid for e in produced[-3:]] == ["micro-8", "micro-9", "micro-10"]


def _run(**changes: object) -> JournalRun:
    values: dict[str, object] = {"database": "SQLite", "mode": "sustained", "events": 50_000, "offered_rate": 5000.0,
                                 "offered_for_s": 10.0, "drain_s": 0.2, "events_per_s": 4900.0, "max_backlog": 900,
                                 "lost": 0, "spilled": False, "append_us": 15.0}
    return JournalRun(**(values | changes))  # type: ignore[arg-type]


def test_journal_verdicts() -> None:
    assert _run().sustained and _run().meets_target
    assert not _run(drain_s=3.0).sustained
    assert not _run(lost=1).sustained and not _run(spilled=True).sustained
    assert not _run(offered_for_s=12.0).sustained  # the producer could not keep the offered rate
    assert not _run(offered_rate=1000.0).meets_target
    burst = _run(mode="burst", offered_rate=None, drain_s=8.0, events_per_s=5500.0)
    assert burst.sustained and burst.meets_target and not _run(mode="burst", offered_rate=None,
                                                                events_per_s=1500.0).meets_target


def test_markdown_says_which_target_was_missed() -> None:
    acd = [Timing("one caller arrives", 1, 10, 0.4, 1.0, 1.2, 1.0),
           Timing("one caller waiting in each of the 50 queues", 50, 10, 20.0, 40.0, 45.0, 50.0)]
    journal = [_run(), _run(database="PostgreSQL", drain_s=24.0, events_per_s=1460.0),
               _run(mode="burst", offered_rate=None, events_per_s=5561.0)]
    text = markdown(acd, journal, {"cpus": 2, "python": "3.11.7", "load_average": [1.0, 0.5, 0.2],
                                   "command": "python -m bench.micro", "agents": 1000, "queues": 50,
                                   "postgres_skipped": None})
    assert "| one caller arrives | 1 | 10 | 1.0 | 0.400 | 1.000 | 1.200 | met |" in text
    assert "| 20.000 | 40.000 | 45.000 | missed |" in text
    assert "| PostgreSQL | sustained | 50,000 | 5,000 | 1,460 | 24.00 |" in text and "| no | missed |" in text
    assert "| SQLite | burst | 50,000 | all at once | 5,561 |" in text and "| – | met |" in text
    assert "load average (1/5/15 min) at the start 1.00 / 0.50 / 0.20" in text


def test_apply_cost_counts_the_writers_work_per_batch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    upgrade(url)
    cost = apply_cost("SQLite", url, tmp_path / "spill.jsonl", open_calls=20, batch=40, events=2400)
    assert cost.events == 2400 - 240 and cost.cpu_us_per_event > 0
    assert 0 < cost.selects_per_batch < cost.statements_per_batch < 16

"""Micro-benchmark of the overflow ladder: what one evaluation costs with 1,000 agents and 50 queues.

`.venv/bin/python -m bench.ladder_bench [--rounds 200]` builds a center of 1,000 agents (600 inbound, 400
reserves in four tiers) serving 50 queues, each with the shipped ladder (acd/queues.yaml), drives the
queues through a surge (so stages fire, agents are signed in, and the line drains again) and times each
tick the way the controller runs it: ``measure_all`` (every queue's figures in one pass over the 1,000
agents' statuses), then ``evaluate_all``; the per-queue figure is a tick divided by the 50 queues, and one
queue's ``evaluate`` is timed alone too. Target: under 1 ms per evaluation. No PBX needed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from acd.model import Agent, AgentId, AgentState, AgentStatus, CallUid, QueueName
from acd.overflow import Figures, LadderState, SignIn, SignOut, evaluate, evaluate_all, initial_state, measure_all
from acd.queues import load_queues
from acd.routing import WaitingCaller

AGENTS = 1000
QUEUES = 50
TIERS = ("expert", "outbound", "qc", "backoffice")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _center() -> tuple[list[Agent], dict[AgentId, AgentStatus], list[QueueName]]:
    queues = [QueueName(f"q{i:02d}") for i in range(QUEUES)]
    agents: list[Agent] = []
    statuses: dict[AgentId, AgentStatus] = {}
    for i in range(AGENTS):
        number = AgentId(f"{10000 + i}")
        tier = "inbound" if i < 600 else TIERS[i % len(TIERS)]
        # Inbound agents serve two queues each, reserves any queue.
        skills = frozenset({f"q{i % QUEUES:02d}", f"q{(i + 7) % QUEUES:02d}"}) if tier == "inbound" \
            else frozenset(queues)
        agents.append(Agent(number, f"agent {i}", skills, tier))
        state = AgentState.ON_CALL if tier == "inbound" else AgentState.LOGGED_OUT
        statuses[number] = AgentStatus(number, state, START - timedelta(seconds=i), registered=True,
                                       idle_since=START - timedelta(seconds=i))
    return agents, statuses, queues


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200, help="Seconds of simulated time (each: 50 evaluations).")
    args = parser.parse_args()
    ladder = load_queues()["general"].overflow
    assert ladder is not None
    agents, statuses, queues = _center()
    states: dict[QueueName, LadderState] = {q: initial_state(q, ladder) for q in queues}
    skills = {q: frozenset({q}) for q in queues}
    figures = dict.fromkeys(queues, Figures(0.5, 400, 300))
    evaluate_only: list[float] = []
    per_tick: list[float] = []
    measuring: list[float] = []
    evaluating: list[float] = []
    moved = 0
    for second in range(args.rounds):
        # Each round is 15 s of ladder time: the surge climbs the whole ladder, then the line drains.
        now = START + timedelta(seconds=second * 15)
        surge = 15 if second < args.rounds // 2 else 0
        waiting = [WaitingCaller(CallUid(f"{queue}-{n}"), queue, 0, now - timedelta(seconds=10 * n), "1380000")
                   for index, queue in enumerate(queues) for n in range(surge + index % 3)]
        tick_start = time.perf_counter()
        measured = measure_all(states, skills, agents, statuses, waiting, now, figures)
        measuring.append(time.perf_counter() - tick_start)
        evaluated = time.perf_counter()
        states, events = evaluate_all(states, measured, now)
        per_tick.append(time.perf_counter() - tick_start)
        evaluating.append(time.perf_counter() - evaluated)
        for event in events:
            match event:
                case SignIn(agent=agent):
                    statuses[agent] = AgentStatus(agent, AgentState.AVAILABLE, now, registered=True, idle_since=now)
                    moved += 1
                case SignOut(agent=agent):
                    statuses[agent] = AgentStatus(agent, AgentState.LOGGED_OUT, now, registered=True)
                    moved += 1
                case _:
                    pass
        # One queue alone, for the cost of a single evaluation.
        t0 = time.perf_counter()
        evaluate(states[queues[0]], measured[queues[0]], now)
        evaluate_only.append(time.perf_counter() - t0)

    def figure(samples: list[float]) -> str:
        ordered = sorted(samples)
        p99 = ordered[int(len(ordered) * 0.99) - 1]
        return (f"mean {statistics.fmean(samples) * 1e6:7.1f} µs, p99 {p99 * 1e6:7.1f} µs, "
                f"max {ordered[-1] * 1e6:7.1f} µs")

    print(f"ladder bench: {AGENTS} agents, {QUEUES} queues, {args.rounds} ticks, {args.rounds * QUEUES} evaluations, "
          f"{moved} sign-ins/outs")
    per_queue = [tick / QUEUES for tick in per_tick]
    print(f"evaluate, one queue              : {figure(evaluate_only)}")
    print(f"measure_all, {QUEUES} queues at once   : mean {statistics.fmean(measuring) * 1e3:.2f} ms")
    print(f"evaluate_all, {QUEUES} queues at once  : mean {statistics.fmean(evaluating) * 1e3:.2f} ms")
    print(f"measure + evaluate, per queue    : {figure(per_queue)}")
    print(f"one tick, all {QUEUES} queues        : mean {statistics.fmean(per_tick) * 1e3:.2f} ms")
    verdict = "OK" if statistics.fmean(per_queue) < 1e-3 else "ABOVE TARGET"
    print(f"target < 1 ms per evaluation (measure + evaluate, per queue): {verdict}")


if __name__ == "__main__":
    main()

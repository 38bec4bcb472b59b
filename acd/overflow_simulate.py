"""A dry run of a queue's overflow ladder: a load curve through a simple queue model and the real ladder.

`hotline overflow simulate` (engine.cli.overflow) calls ``simulate``. The model is discrete-time (one step
a second) and deterministic, so a run is repeatable: callers arrive evenly at the curve's rate (a running
fraction, no randomness), wait in one first-come line, and give up at ``patience_s`` (default: the
queue's ``max_wait_s``, when the hotline offers a message or a callback); agents take the longest waiting
caller, longest idle agent first, talk for ``aht_s - acw_s`` and wrap up for ``acw_s``. Every second the
queue is measured the way the controller does it and ``acd.overflow.evaluate`` runs on that measurement; its
``SignIn`` / ``SignOut`` are applied like the agent state machine does (a sign-out during a call waits for
the call and its wrap-up). Reserve agents are registered and signed out at the start, ``inbound`` agents
signed in. The service level is the share of callers who left the line in the ladder's window (answered or
gave up) that were answered within the queue's ``service_level_s``.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from acd.model import AgentId, AgentState, QueueName
from acd.overflow import (
    INBOUND,
    Alert,
    Ladder,
    LadderEvent,
    Measurement,
    NightChanged,
    Reading,
    ReserveAgent,
    SignIn,
    SignOut,
    Skipped,
    StageChanged,
    evaluate,
    initial_state,
)

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(h|min))?\s*$")


def parse_curve(text: str) -> tuple[float, ...]:
    """``120/h..600/h..120/h`` → calls per hour at evenly spaced points (``/min`` is per minute; a bare
    number is per hour). ValueError with a readable message otherwise."""
    points: list[float] = []
    for part in text.split(".."):
        match = _RATE.match(part)
        if match is None:
            raise ValueError(f"'{part}' is not a rate like 120/h or 5/min")
        value = float(match[1]) * (60 if match[2] == "min" else 1)
        points.append(value)
    return tuple(points)


def rate_at(curve: tuple[float, ...], fraction: float) -> float:
    """Calls per hour at ``fraction`` (0..1) of the run: linear between the curve's points."""
    if len(curve) == 1:
        return curve[0]
    position = min(max(fraction, 0.0), 1.0) * (len(curve) - 1)
    index = min(int(position), len(curve) - 2)
    return curve[index] + (curve[index + 1] - curve[index]) * (position - index)


@dataclass
class _Agent:
    agent: AgentId
    tier: str
    state: AgentState
    idle_since: datetime
    until: datetime | None = None
    leave_after: bool = False


@dataclass(frozen=True)
class Sample:
    """The line every ``sample_every_s``: what a supervisor would see on the wallboard."""

    at: datetime
    arrivals_per_h: float
    waiting: int
    longest_wait_s: float
    service_level: float | None
    agents_serving: int
    stage: str


@dataclass(frozen=True)
class Fired:
    """One line of the ladder's story: a stage change, who was signed in or out, a report, an alert."""

    at: datetime
    what: str
    detail: str
    reading: Reading


@dataclass
class SimulationResult:
    start: datetime
    fired: list[Fired] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    offered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    gave_up: int = 0
    max_waiting: int = 0
    events: list[LadderEvent] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def clock(at: datetime) -> str:
            return offset(self.start, at)
        return {
            "fired": [{"at": clock(f.at), "what": f.what, "detail": f.detail, "waiting": f.reading.waiting,
                       "longest_wait_s": round(f.reading.longest_wait_s), "service_level": f.reading.service_level}
                      for f in self.fired],
            "samples": [{"at": clock(s.at), "arrivals_per_h": round(s.arrivals_per_h), "waiting": s.waiting,
                         "longest_wait_s": round(s.longest_wait_s), "service_level": s.service_level,
                         "agents_serving": s.agents_serving, "stage": s.stage} for s in self.samples],
            "totals": {"offered": self.offered, "answered": self.answered, "answered_in_time": self.answered_in_time,
                       "gave_up": self.gave_up, "max_waiting": self.max_waiting},
        }


def offset(start: datetime, at: datetime) -> str:
    """``+H:MM:SS`` since the start of the run."""
    seconds = int((at - start).total_seconds())
    return f"+{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def simulate(ladder: Ladder, queue: QueueName, curve: tuple[float, ...], *, hours: float, aht_s: float,
             agents: int, reserves: dict[str, int], start: datetime, service_level_s: float = 20,
             patience_s: float = 300, acw_s: float = 60, sample_every_s: int = 900) -> SimulationResult:
    """Run ``hours`` of the curve through the queue model and ``ladder``; see the module docstring."""
    if aht_s <= 0 or hours <= 0:
        raise ValueError("the handle time and the duration must be above 0")
    acw_s = min(acw_s, aht_s / 2)
    floor: dict[AgentId, _Agent] = {}
    for i in range(1, agents + 1):
        floor[AgentId(f"1{i:03d}")] = _Agent(AgentId(f"1{i:03d}"), INBOUND, AgentState.AVAILABLE, start)
    for t, (tier, count) in enumerate(reserves.items(), start=2):
        for i in range(1, count + 1):
            number = AgentId(f"{t}{i:03d}")
            # Idle since before the start, the first of each tier the longest: a stable order.
            floor[number] = _Agent(number, tier, AgentState.LOGGED_OUT, start - timedelta(seconds=3600 - i))
    state = initial_state(queue, ladder)
    result = SimulationResult(start)
    line: deque[datetime] = deque()
    outcomes: deque[tuple[datetime, bool]] = deque()  # (left the line at, answered in time)
    arrivals: deque[datetime] = deque()
    window = timedelta(minutes=ladder.service_level_window_min)
    steps = int(hours * 3600)
    owed = 0.0
    for second in range(steps + 1):
        now = start + timedelta(seconds=second)
        rate = rate_at(curve, second / steps if steps else 0)
        owed += rate / 3600
        while owed >= 1:
            owed -= 1
            line.append(now)
            arrivals.append(now)
            result.offered += 1
        while line and (now - line[0]).total_seconds() >= patience_s:
            line.popleft()
            outcomes.append((now, False))
            result.gave_up += 1
        for a in floor.values():
            if a.until is not None and now >= a.until:
                if a.state is AgentState.ON_CALL and acw_s > 0:
                    a.state, a.until = AgentState.AFTER_CALL_WORK, a.until + timedelta(seconds=acw_s)
                else:
                    a.state, a.until, a.idle_since = AgentState.AVAILABLE, None, now
                    if a.leave_after:
                        a.state, a.leave_after = AgentState.LOGGED_OUT, False
        free = sorted((a for a in floor.values() if a.state is AgentState.AVAILABLE),
                      key=lambda a: (a.idle_since, a.agent))
        for a in free:
            if not line:
                break
            waited = (now - line.popleft()).total_seconds()
            in_time = waited <= service_level_s
            outcomes.append((now, in_time))
            result.answered += 1
            result.answered_in_time += in_time
            a.state, a.until = AgentState.ON_CALL, now + timedelta(seconds=aht_s - acw_s)
        while outcomes and now - outcomes[0][0] > window:
            outcomes.popleft()
        while arrivals and now - arrivals[0] > window:
            arrivals.popleft()
        serving = sum(a.state is not AgentState.LOGGED_OUT for a in floor.values())
        reading = Reading(
            waiting=len(line), longest_wait_s=(now - line[0]).total_seconds() if line else 0.0,
            service_level=sum(ok for _, ok in outcomes) / len(outcomes) if outcomes else None,
            agents_available=sum(a.state is AgentState.AVAILABLE for a in floor.values()),
            agents_serving=serving, arrivals_per_h=len(arrivals) * 3600 / window.total_seconds(), aht_s=aht_s)
        result.max_waiting = max(result.max_waiting, reading.waiting)
        reserve_pool = tuple(ReserveAgent(a.agent, a.tier, True, a.idle_since) for a in floor.values()
                             if a.tier != INBOUND and a.state is AgentState.LOGGED_OUT)
        plan = {agent: floor[agent].state for agent in state.plan_agent_ids()}
        state, events = evaluate(state, Measurement(reading, reserve_pool, plan), now)
        for event in events:
            _apply(floor, event, now)
        result.events.extend(events)
        result.fired.extend(_story(events))
        if second % sample_every_s == 0:
            result.samples.append(Sample(now, rate, reading.waiting, reading.longest_wait_s, reading.service_level,
                                         serving, state.stage_name))
    return result


def _apply(floor: dict[AgentId, _Agent], event: LadderEvent, now: datetime) -> None:
    match event:
        case SignIn(agent=agent):
            a = floor[agent]
            a.leave_after = False
            if a.state is AgentState.LOGGED_OUT:
                a.state, a.idle_since = AgentState.AVAILABLE, now
        case SignOut(agent=agent, after_call=after_call):
            a = floor[agent]
            if after_call or a.state in (AgentState.ON_CALL, AgentState.AFTER_CALL_WORK):
                a.leave_after = True
            else:
                a.state = AgentState.LOGGED_OUT
        case _:
            pass


def _story(events: tuple[LadderEvent, ...]) -> list[Fired]:
    """Events as lines: a stage change with the agents it signed in or out folded into it."""
    lines: list[Fired] = []
    head: StageChanged | None = None
    ins: list[str] = []
    outs: list[str] = []
    first: SignIn | SignOut | None = None
    for event in events:
        match event:
            case StageChanged():
                head = event
            case NightChanged(night=night, at=at, reading=reading):
                lines.append(Fired(at, "night", "night mode starts" if night else "night mode ends", reading))
            case SignIn(agent=agent):
                ins.append(agent)
                first = first or event
            case SignOut(agent=agent, after_call=after):
                outs.append(agent + (" (after the call)" if after else ""))
                first = first or event
            case Skipped(stage=stage, unregistered=unregistered, short=short, at=at, reading=reading):
                missing = f"{len(unregistered)} not registered, " if unregistered else ""
                lines.append(Fired(at, f"{stage} short", f"{missing}{short} fewer than asked", reading))
            case Alert(at=at, text=text, reading=reading):
                lines.append(Fired(at, "ALERT", text, reading))
            case _:
                pass
    moved = "; ".join(part for part in (f"signs in {', '.join(ins)}" if ins else "",
                                        f"signs out {', '.join(outs)}" if outs else "") if part)
    if head is not None:
        detail = "; ".join(part for part in (moved, head.reason) if part)
        lines.insert(0, Fired(head.at, f"{head.from_stage} -> {head.to_stage}", detail, head.reading))
    elif first is not None:
        lines.insert(0, Fired(first.at, "agents", moved, first.reading))
    return lines

"""Who gets which caller, pure: queue order, agent eligibility, longest-idle choice, greedy assignment.

The controller's queue service calls ``next_assignments`` whenever a caller arrives or an agent becomes
free, offers each pair through ARI (``acd.state.Offered``) and records a refusal in the caller's
``refused_by`` so the same agent is not rung again for that caller. Priorities: callers come from the
IVR with a base priority (0 normal, ``VIP_PRIORITY`` on the VIP line), ``repeat_priority`` adds the
queue's bonus for repeat callers; higher priority first, then the longest waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from acd.model import Agent, AgentId, AgentState, AgentStatus, CallUid, QueueName
from acd.queues import QueueConfig

VIP_PRIORITY = 10
"""The priority VIP callers get from the IVR (``priority: high`` in the flow)."""


@dataclass(frozen=True)
class WaitingCaller:
    """A caller in a queue. ``caller`` is the caller's number; ``refused_by`` the agents who missed or
    rejected the offer of this call (they are not offered it again). ``callback``: a booked callback
    holding the caller's place (nobody on the line yet)."""

    call: CallUid
    queue: QueueName
    priority: int
    enqueued_at: datetime
    caller: str
    refused_by: frozenset[AgentId] = frozenset()
    callback: bool = False


def queue_order(waiting: Iterable[WaitingCaller]) -> list[WaitingCaller]:
    """Highest priority first, then oldest first (the call id breaks exact ties, so the order is stable)."""
    return sorted(waiting, key=lambda w: (-w.priority, w.enqueued_at, w.call))


def position_of(call: CallUid, waiting: Iterable[WaitingCaller]) -> int:
    """1-based position of ``call`` within its own queue, in queue order. Raises KeyError if not waiting."""
    callers = list(waiting)
    queue = next((w.queue for w in callers if w.call == call), None)
    if queue is None:
        raise KeyError(call)
    ordered = queue_order(w for w in callers if w.queue == queue)
    return next(i for i, w in enumerate(ordered, start=1) if w.call == call)


def eligible(agent: Agent, status: AgentStatus, queue: QueueConfig) -> bool:
    """Can take a call of ``queue`` now: available, softphone registered, every skill of the queue, and
    no pause or sign-out waiting to be applied."""
    return (status.agent == agent.work_number and status.state is AgentState.AVAILABLE and status.registered
            and queue.skills <= agent.skills and not status.has_pending)


def pick_agent(caller: WaitingCaller, agents: Iterable[Agent], statuses: Mapping[AgentId, AgentStatus],
               queue: QueueConfig) -> AgentId | None:
    """The eligible agent idle the longest (oldest ``idle_since``; work number breaks ties) who has not
    refused this caller; None when nobody fits."""
    best: tuple[datetime, AgentId] | None = None
    for agent in agents:
        status = statuses.get(agent.work_number)
        if status is None or agent.work_number in caller.refused_by or not eligible(agent, status, queue):
            continue
        key = (status.idle_since or status.since, agent.work_number)
        if best is None or key < best:
            best = key
    return None if best is None else best[1]


def next_assignments(waiting: Iterable[WaitingCaller], agents: Iterable[Agent],
                     statuses: Mapping[AgentId, AgentStatus],
                     queues: Mapping[QueueName, QueueConfig]) -> list[tuple[CallUid, AgentId]]:
    """Offers to make now: callers of all queues in queue order each get the best free agent, and an
    agent is given at most one caller. A caller nobody can serve does not block the callers behind it
    (they may need other skills). Callers of an unknown queue are skipped (the service reports them).

    The same choice as ``pick_agent`` for each caller over the agents not yet given one, but the free
    agents are ranked and indexed by skill once per call (``FreeAgents``), so the cost follows the
    callers and the free agents of their skills, not callers x roster."""
    free = FreeAgents(agents, statuses)
    offers: list[tuple[CallUid, AgentId]] = []
    for caller in queue_order(waiting):
        queue = queues.get(caller.queue)
        if queue is None:
            continue
        chosen = free.take(queue.skills, caller.refused_by)
        if chosen is not None:
            offers.append((caller.call, chosen))
    return offers


def _is_free(agent: Agent, status: AgentStatus) -> bool:
    """``eligible`` without the queue's skills: could take some call now."""
    return (status.agent == agent.work_number and status.state is AgentState.AVAILABLE and status.registered
            and not status.has_pending)


_Free = tuple[datetime, AgentId, frozenset[str]]
"""A free agent: when it became idle (its rank, with the work number), work number, skills."""


class FreeAgents:
    """The agents free now, indexed by skill; ``take`` hands out the best one for a skill set (longest
    idle first: oldest ``idle_since``, then work number, as ``pick_agent``), each agent at most once.

    Built once per ``next_assignments``: one pass over the roster. A skill set's line (the free agents
    having all its skills, in rank order) is built and sorted the first time a queue needs it, from the
    shortest per-skill list; ``take`` drops the agents already given a caller from the front of the line
    for good, so a line is walked about once whatever the number of callers."""

    def __init__(self, agents: Iterable[Agent], statuses: Mapping[AgentId, AgentStatus]) -> None:
        self._free: list[_Free] = []
        available = AgentState.AVAILABLE
        status_of = statuses.get
        for agent in agents:  # the one pass over the roster: the cheapest test (state) first
            status = status_of(agent.work_number)
            if status is not None and status.state is available and _is_free(agent, status):
                self._free.append((status.idle_since or status.since, agent.work_number, agent.skills))
        self._by_skill: dict[str, list[_Free]] = {}
        for entry in self._free:
            for skill in entry[2]:
                self._by_skill.setdefault(skill, []).append(entry)
        self._lines: dict[frozenset[str], _Line] = {}
        self._taken: set[AgentId] = set()

    def take(self, skills: frozenset[str], refused_by: frozenset[AgentId]) -> AgentId | None:
        """The best free agent having every one of ``skills`` and not in ``refused_by``, now taken;
        None when nobody fits."""
        line = self._lines.get(skills)
        if line is None:
            line = self._lines[skills] = _Line(self._line_for(skills))
        ids = line.agents
        while line.start < len(ids) and ids[line.start] in self._taken:
            line.start += 1
        for index in range(line.start, len(ids)):
            candidate = ids[index]
            if candidate not in self._taken and candidate not in refused_by:
                self._taken.add(candidate)
                return candidate
        return None

    def _line_for(self, skills: frozenset[str]) -> list[AgentId]:
        if skills:
            shortest = min((self._by_skill.get(skill, []) for skill in skills), key=len)
            fitting = [entry for entry in shortest if skills <= entry[2]]
        else:
            fitting = list(self._free)
        fitting.sort(key=lambda entry: (entry[0], entry[1]))
        return [work_number for _, work_number, _ in fitting]


@dataclass
class _Line:
    """The free agents of one skill set in rank order; ``start``: those before it are all taken."""

    agents: list[AgentId]
    start: int = 0


def repeat_priority(base: int, last_call_at: datetime | None, now: datetime, queue: QueueConfig) -> int:
    """``base`` plus the queue's repeat bonus when the caller's previous call was within
    ``repeat_window_h`` hours (a window of 0 turns the bonus off)."""
    if last_call_at is None or queue.repeat_window_h <= 0:
        return base
    age = now - last_call_at
    if timedelta(0) <= age <= timedelta(hours=queue.repeat_window_h):
        return base + queue.priority_bonus_repeat
    return base


def expected_wait(position: int, agents_serving: int, average_handle_s: float) -> float:
    """Seconds a caller at ``position`` should expect to wait: ``position * AHT / max(1, agents)``.

    Deliberately simple for the announcement: the callers ahead plus this one are served ``agents``
    at a time, each taking the average handle time (talk + ACW). It ignores the time already spent by
    calls in progress, so it errs on the long side, which callers forgive more easily than the reverse.
    """
    return max(position, 0) * max(average_handle_s, 0.0) / max(1, agents_serving)


def agents_serving(queue: QueueConfig, agents: Iterable[Agent], statuses: Mapping[AgentId, AgentStatus]) -> int:
    """Signed-in, registered agents with the queue's skills, busy or not: the ``agents_serving`` of
    ``expected_wait`` (a paused agent does not count: nobody knows when they are back)."""
    working = (AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.ON_HOLD,
               AgentState.AFTER_CALL_WORK)
    count = 0
    for agent in agents:
        status = statuses.get(agent.work_number)
        if status is not None and status.state in working and status.registered and queue.skills <= agent.skills:
            count += 1
    return count


def waiting_in(queue: QueueName, waiting: Sequence[WaitingCaller]) -> list[WaitingCaller]:
    """The callers of one queue, in queue order."""
    return queue_order(w for w in waiting if w.queue == queue)

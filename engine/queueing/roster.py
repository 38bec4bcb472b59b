"""The agent roster: who is provisioned, each agent's live status, and every change to it journaled.

The rules of an agent's state live in ``acd.state`` (pure); the roster applies them, writes each change
to the journal (``agent:<number>`` entries, the truth a restarted controller reads back through
``restore``), and tells its listeners: ``on_change`` after any change (the distributor looks again) and
``on_staffing_change`` when how many agents serve a queue may have changed (waiting callers look again).
It also knows agents' softphones (SIP users, registration) and, after a restart, which agents stay held
back until the calls Asterisk kept are re-adopted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from acd.model import Agent, AgentId, AgentState, AgentStatus, CallUid
from acd.queues import QueueConfig
from acd.routing import agents_serving
from acd.state import AcwPolicy, AgentEvent, RegistrationBack, RegistrationLost, Tick, next_deadline, transition
from engine.call_position import CallPosition
from engine.clock import Clock
from engine.store.journal import JournalEntry
from engine.store.ports import Journal

log = logging.getLogger(__name__)
AGENT_JOURNAL_PREFIX = "agent:"


@dataclass(frozen=True)
class AgentLine:
    """An agent and the SIP user its softphone registers as."""

    agent: Agent
    sip_user: str


def _nothing() -> None:
    pass


class AgentRoster:
    def __init__(self, journal: Journal, clock: Clock, policy: AcwPolicy | None = None,
                 on_change: Callable[[], None] = _nothing,
                 on_staffing_change: Callable[[], None] = _nothing) -> None:
        self.journal = journal
        self.clock = clock
        self.policy = policy or AcwPolicy()
        self.on_change = on_change
        self.on_staffing_change = on_staffing_change
        self.lines: dict[AgentId, AgentLine] = {}
        self.statuses: dict[AgentId, AgentStatus] = {}
        # Agents in a timed state (after-call work): the distributor asks for the next deadline on every change,
        # and a pass over every agent each time showed in the controller's profile with 200 agents.
        self._timed: set[AgentId] = set()
        # Agents the journal last saw on a call: not offered a call until the calls Asterisk still holds
        # have been re-adopted (``readopt_agents``), since they may still be talking to one of them.
        self.awaiting_readoption: set[AgentId] = set()

    def set_agents(self, lines: Mapping[AgentId, AgentLine]) -> None:
        """The provisioned agents (from the database); new ones start logged out, removed ones vanish."""
        now = self.clock.now()
        for agent_id in lines:
            self.statuses.setdefault(agent_id, AgentStatus.logged_out(agent_id, now))
        for gone in set(self.statuses) - set(lines):
            if self.statuses[gone].call is None:
                del self.statuses[gone]
                self._timed.discard(gone)
        changed = set(lines) != set(self.lines)
        self.lines = dict(lines)
        if changed:
            self.on_staffing_change()

    def restore(self, last: Mapping[AgentId, tuple[str, str | None]], in_call: Iterable[AgentId] = ()) -> None:
        """Take up the agents' states journaled by the previous controller (the journal is the truth).

        Signed-in agents stay signed in and paused ones paused; an agent journaled on a call (``in_call``)
        comes back available but is held back until ``readopt_agents`` says whether that call survived.
        """
        now = self.clock.now()
        for agent_id, (state, reason) in last.items():
            status = self.statuses.get(agent_id)
            if status is None or state == AgentState.LOGGED_OUT:
                continue
            paused = state == AgentState.PAUSED
            restored = AgentState.PAUSED if paused else AgentState.AVAILABLE
            # Reconciliation, not an event of the agent's: built directly, journaled as "restored".
            self.statuses[agent_id] = replace(status, state=restored, since=now, reason=reason if paused else None,
                                              idle_since=None if paused else now)
            self._track(agent_id)
            self._journal_agent(agent_id, AgentState.LOGGED_OUT, restored, "restored", None, now)
        self.awaiting_readoption = {a for a in in_call if a in self.statuses}
        self.on_change()

    def readopt_agents(self, positions: Mapping[CallUid, CallPosition]) -> None:
        """Before re-adopted calls resume: agents still talking (or holding) with a caller are on that call
        again, and agents the journal saw on a call that did not survive are free to be offered calls."""
        now = self.clock.now()
        for uid, position in positions.items():
            if position.stage not in ("talking", "held") or position.agent is None:
                continue
            agent = AgentId(position.agent)
            status = self.statuses.get(agent)
            if status is None:
                continue
            state = AgentState.ON_HOLD if position.stage == "held" else AgentState.ON_CALL
            self.statuses[agent] = replace(status, state=state, since=now, call=uid, idle_since=None,
                                           pending_sign_out=status.state == AgentState.LOGGED_OUT,
                                           pending_pause=status.reason if status.state == AgentState.PAUSED else None,
                                           reason=None)
            self._track(agent)
            self._journal_agent(agent, status.state, state, "readopted", uid, now)
        self.awaiting_readoption.clear()
        self.on_change()

    def agent_event(self, agent: AgentId, event: AgentEvent) -> str | None:
        """Apply one event to an agent; journal the changes; None when accepted, else the reason."""
        status = self.statuses.get(agent)
        if status is None:
            return f"unknown agent {agent}"
        result = transition(status, event, self.clock.now(), self.policy)
        if result.rejected:
            return result.rejected
        before = status
        self.statuses[agent] = result.status
        self._track(agent)
        for change in result.changes:
            self._journal_agent(agent, change.from_state, change.to_state, change.reason, result.status.call,
                                change.at)
            log.info("agent %s: %s -> %s (%s)", agent, change.from_state, change.to_state, change.reason)
        self.on_change()
        if _staffing_changed(before, result.status):
            # Whether anyone serves a queue may have changed: waiting callers look again (no polling).
            self.on_staffing_change()
        return None

    def _journal_agent(self, agent: AgentId, from_state: AgentState, to_state: AgentState, reason: str | None,
                       call: CallUid | None, at: datetime) -> None:
        self.journal.append(JournalEntry(
            call_uid=f"{AGENT_JOURNAL_PREFIX}{agent}", kind="agent.state", at=at,
            data={"agent": agent, "from": from_state, "to": to_state, "reason": reason, "call": call}))

    # -- timers -------------------------------------------------------------------------------------------
    def next_deadline(self) -> datetime | None:
        """When the earliest timed state (after-call work, ...) of any agent runs out; None: none pending."""
        deadlines = [d for a in self._timed if (d := next_deadline(self.statuses[a], self.policy)) is not None]
        return min(deadlines) if deadlines else None

    def expire_due(self) -> None:
        """End every timed state whose deadline has passed (a Tick for each such agent)."""
        now = self.clock.now()
        for agent_id in sorted(self._timed):
            deadline = next_deadline(self.statuses[agent_id], self.policy)
            if deadline is not None and deadline <= now:
                self.agent_event(agent_id, Tick())

    def _track(self, agent: AgentId) -> None:
        if next_deadline(self.statuses[agent], self.policy) is None:
            self._timed.discard(agent)
        else:
            self._timed.add(agent)

    # -- softphones and queues ----------------------------------------------------------------------------
    def registration(self, sip_user: str, online: bool) -> None:
        for agent_id, line in self.lines.items():
            if line.sip_user == sip_user and self.statuses[agent_id].registered != online:
                self.agent_event(agent_id, RegistrationBack() if online else RegistrationLost())

    def agent_by_sip_user(self, sip_user: str) -> AgentId | None:
        return next((a for a, line in self.lines.items() if line.sip_user == sip_user), None)

    def serving(self, config: QueueConfig) -> int:
        """How many agents serve the queue (signed in, registered, not paused, with its skills; busy or not)."""
        return agents_serving(config, [line.agent for line in self.lines.values()], self.statuses)

    def offerable(self) -> list[Agent]:
        """The agents the distributor may offer a call to (not held back for re-adoption)."""
        return [line.agent for a, line in self.lines.items() if a not in self.awaiting_readoption]


def _staffing_changed(before: AgentStatus, after: AgentStatus) -> bool:
    """Whether an agent's change may change how many agents serve a queue (signed in, paused, registered)."""
    away = (AgentState.LOGGED_OUT, AgentState.PAUSED)
    return before.registered != after.registered or (before.state in away) != (after.state in away)

"""The ACD's vocabulary: ids, agents and what each agent is doing right now, as frozen values.

``acd.state`` moves an ``AgentStatus`` from one state to the next, ``acd.routing`` reads them to pick
agents for waiting callers; the controller service (engine side) stores them and journals the changes.
Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType

AgentId = NewType("AgentId", str)
"""The agent's work number (工号), digits only: the only identity a caller ever hears."""

QueueName = NewType("QueueName", str)
CallUid = NewType("CallUid", str)
"""The call's unique id (the caller channel's Asterisk unique id), as the journal keys calls."""

Tier = str
"""Staff group: ``inbound`` (every day's agents), or a reserve tier the overflow ladder signs in (expert,
outbound, qc, backoffice, or any name the queue file's ``tiers:`` lists)."""


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    ON_HOLD = "on_hold"
    AFTER_CALL_WORK = "after_call_work"
    PAUSED = "paused"


@dataclass(frozen=True)
class Agent:
    """An agent as configured (storage/provisioning owns these); skills name what queues they can serve."""

    work_number: AgentId
    name: str
    skills: frozenset[str]
    tier: Tier = "inbound"


@dataclass(frozen=True)
class AgentStatus:
    """What one agent is doing, since when. Only ``acd.state.transition`` should build new ones.

    ``reason`` is the pause reason while paused. ``idle_since`` orders available agents (longest idle
    first); it is set when the agent becomes free by signing in, resuming or ending after-call work.
    ``missed_offers`` counts consecutive unanswered offers (reset by an answer). ``registered`` is the
    softphone's SIP registration: an unregistered agent is never offered a call, whatever its state.
    ``call`` is the call the agent is ringing for, talking on, holding or wrapping up.
    ``pending_pause`` / ``pending_sign_out`` are requests made during a call, applied when the agent
    would otherwise become available again.
    """

    agent: AgentId
    state: AgentState
    since: datetime
    reason: str | None = None
    idle_since: datetime | None = None
    missed_offers: int = 0
    registered: bool = False
    call: CallUid | None = None
    pending_pause: str | None = None
    pending_sign_out: bool = False

    @classmethod
    def logged_out(cls, agent: AgentId, now: datetime, registered: bool = False) -> AgentStatus:
        """The starting status of an agent the controller has just learned about."""
        return cls(agent=agent, state=AgentState.LOGGED_OUT, since=now, registered=registered)

    @property
    def has_pending(self) -> bool:
        return self.pending_pause is not None or self.pending_sign_out

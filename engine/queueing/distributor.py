"""The distributor: one long-lived task that matches waiting callers with free agents.

It wakes whenever something changed (a caller joined, an agent's state changed) or a timed agent state
(after-call work) runs out, lets ``acd.routing.next_assignments`` (pure) decide who gets whom, offers the
call to the agent in the roster (``Offered``) and, once accepted, hands the agent to the waiting caller's
task through the waiting line. Ringing the agent is the caller's task's job, not this loop's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from acd.model import QueueName
from acd.queues import QueueConfig
from acd.routing import next_assignments
from acd.state import Offered
from engine.clock import Clock
from engine.queueing.roster import AgentRoster
from engine.queueing.waiting_line import WaitingLine

# With no timed agent state pending, look again at least this often (a lost wake-up costs 5 s, not a call).
IDLE_WAIT_S = 5.0
# A deadline already due still yields to the loop for this long (no busy loop on a clock step).
MIN_WAIT_S = 0.05


class Distributor:
    def __init__(self, roster: AgentRoster, line: WaitingLine, queues: Mapping[QueueName, QueueConfig],
                 clock: Clock, wake: asyncio.Event | None = None) -> None:
        self.roster = roster
        self.line = line
        self.queues = queues
        self.clock = clock
        # Set by whoever changes something the distributor decides on (the roster, the waiting line).
        self.wake = wake or asyncio.Event()

    async def run(self) -> None:
        """Match waiting callers with free agents whenever something changes; expire after-call work."""
        while True:
            deadline = self.roster.next_deadline()
            wait_s = max(MIN_WAIT_S, (deadline - self.clock.now()).total_seconds()) if deadline is not None \
                else IDLE_WAIT_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait_s)
            self.wake.clear()
            self.roster.expire_due()
            self.assign()

    def assign(self) -> None:
        """Offer each caller the routing picks to their agent; the caller's task is woken with the agent."""
        if not self.line.waiting:
            # Most wakes are an agent's change with nobody waiting; listing 200 free agents for nothing was
            # most of this loop's CPU (bench/results/journey-20261129-184742-flame.svg).
            return
        decided = next_assignments(list(self.line.waiting.values()), self.roster.offerable(), self.roster.statuses,
                                   self.queues)
        for call, agent in decided:
            if self.line.pending_offer(call) is None:
                continue
            if self.roster.agent_event(agent, Offered(call)) is None:
                self.line.hand_over(call, agent)

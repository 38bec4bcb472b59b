"""The waiting line: callers waiting for an agent, each with the future the distributor answers.

A caller joins with their queue, priority and original arrival time and gets a future; the distributor
(``engine.queueing.distributor``) resolves it with the agent it picked (``hand_over``), a cancelled
callback resolves it with CallEnded (``withdraw``). Waiting callers are woken by a QueueWake in their
call's inbox rather than polling. The line also knows each caller's place and expected wait, from the
moving average of talk times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime

from acd.model import AgentId, CallUid, QueueName
from acd.routing import WaitingCaller, expected_wait, position_of
from engine.call_session import CallEnded, CallSession
from engine.queueing.transfer import QueueWake


def _nothing() -> None:
    pass


class WaitingLine:
    def __init__(self, on_join: Callable[[], None] = _nothing) -> None:
        # Told whenever a caller joins: the distributor looks again.
        self.on_join = on_join
        self.waiting: dict[CallUid, WaitingCaller] = {}
        self._offers: dict[CallUid, asyncio.Future[AgentId]] = {}
        # The calls of ``waiting``, to wake them (QueueWake in their inbox) instead of having them poll.
        self._calls: dict[CallUid, CallSession] = {}
        # Average talk time for the expected wait; starts at the manual's 270-360 s talk target.
        self.average_handle_s = 300.0

    def join(self, call: CallSession, queue: QueueName, priority: int, since: datetime,
             refused: Iterable[AgentId] = (), callback: bool = False) -> asyncio.Future[AgentId]:
        """Put the caller in the line; the future gets the agent the distributor picks."""
        uid = CallUid(call.uid)
        offer: asyncio.Future[AgentId] = asyncio.get_running_loop().create_future()
        self._offers[uid] = offer
        self._calls[uid] = call
        self.waiting[uid] = WaitingCaller(call=uid, queue=queue, priority=priority, enqueued_at=since,
                                          caller=call.channel.caller_number, refused_by=frozenset(refused),
                                          callback=callback)
        self.on_join()
        return offer

    def leave(self, call: CallUid) -> None:
        """The caller is out of the line (offered, gone, moved on); an unanswered future is cancelled."""
        self.waiting.pop(call, None)
        self._calls.pop(call, None)
        pending = self._offers.pop(call, None)
        if pending is not None and not pending.done():
            pending.cancel()

    def withdraw(self, call: CallUid, why: str) -> None:
        """Take a waiting entry out of its queue (a cancelled callback): its task gets CallEnded(why)."""
        offer = self._offers.get(call)
        if offer is not None and not offer.done():
            offer.set_exception(CallEnded(why))

    def pending_offer(self, call: CallUid) -> asyncio.Future[AgentId] | None:
        """The caller's future while the distributor may still answer it."""
        offer = self._offers.get(call)
        return None if offer is None or offer.done() else offer

    def hand_over(self, call: CallUid, agent: AgentId) -> None:
        """The distributor picked ``agent`` for the caller: out of the line, and their task woken."""
        offer = self._offers[call]
        self.waiting.pop(call, None)
        offer.set_result(agent)
        self.nudge([call])

    def nudge(self, calls: Iterable[CallUid]) -> None:
        for uid in list(calls):
            call = self._calls.get(uid)
            if call is not None:
                call.inbox.put_nowait(QueueWake())

    def nudge_all(self) -> None:
        """Whether anyone serves a queue may have changed: every waiting caller looks again."""
        self.nudge(self._calls)

    def place(self, call: CallUid, serving: int) -> tuple[int, float] | None:
        """The caller's position (1: next) and expected wait in seconds; None when not in the line."""
        try:
            position = position_of(call, self.waiting.values())
        except KeyError:
            return None
        return position, expected_wait(position, serving, self.average_handle_s)

    def note_talk(self, seconds: float) -> None:
        """A conversation ended: its length moves the average talk time the expected wait uses."""
        self.average_handle_s = 0.9 * self.average_handle_s + 0.1 * seconds

"""Booked callbacks, from the caller's key 2 to the agent talking with the customer.

``book`` stores the caller's request with the place they had in the queue. ``run`` picks up bookings
that are due: each becomes a call of its own (the customer's channel, named before it is dialled) that
waits in its queue from that place; when an agent is free the agent's phone rings, the agent hears that
a callback is being connected, the customer is dialled through the outbound trunk, and the two are
bridged and recorded like any conversation. An attempt that fails is retried later inside the calling
hours (``engine.callbacks.policy``) until the attempts are used up. A supervisor's cancel takes a booking
out of the queue at once. A controller that restarts takes up a callback whose agent and customer are still
talking (``resumed_flow``) and books again only the attempts that were really interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any

import sqlalchemy

from acd.model import AgentId, CallUid
from engine.call_session import CallEnded, CallSession
from engine.callbacks import policy, store
from engine.callbacks.store import Booking
from engine.calls import CALLBACK_CUSTOMER, CallFlow
from engine.clock import Clock
from engine.pbx.ari import AriClient, AriError
from engine.pbx.ari_events import Channel, ChannelDestroyed, ChannelHangupRequest, ChannelId, PlaybackId, StasisStart
from engine.queueing.service import QueueService
from engine.queueing.transfer import Transfer
from engine.settings import CallbackSettings

log = logging.getLogger(__name__)
TRUNK = "hotline-outbound"
POLL_SECONDS = 2.0
StartOutbound = Callable[[Channel, CallFlow, str], None]
# A callback's customer channel is named after its booking (``_poll``): a restarted controller finds the
# booking of a callback Asterisk still holds from the name alone.
_CHANNEL_NAME = re.compile(r"cb(\d+)-[0-9a-f]+")


@dataclass
class _Attempt:
    """What one attempt came to: why it failed (for the retry policy) and the agent who took it."""

    why: str = "no agent answered"
    agent: str = ""


class CallbackDialer:
    def __init__(self, service: QueueService, ari: AriClient, db: sqlalchemy.Engine, clock: Clock,
                 settings: CallbackSettings, tz: tzinfo, hotline_number: str) -> None:
        self.service = service
        self.ari = ari
        self.db = db
        self.clock = clock
        self.settings = settings
        self.tz = tz
        self.hotline_number = hotline_number
        self.start_outbound: StartOutbound = lambda _channel, _flow, _source: None
        # Bookings being served now (waiting for an agent, or dialling): id -> the call's uid.
        self.active: dict[int, CallUid] = {}
        # Set once the calls Asterisk still holds have been re-adopted (``readopted``): only then is it known
        # which bookings left in dialing by a stopped controller are still being talked (kept) and which
        # were interrupted (booked again, so that they are dialled again).
        self._readopted = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    # -- booking (the caller's side) ----------------------------------------------------------------------
    async def book(self, call: CallSession, queue: str) -> int:
        now = self.clock.now()
        first = policy.first_attempt(now.astimezone(self.tz), self.settings)
        booking_id = await asyncio.to_thread(
            store.book, self.db, call_uid=call.uid, caller=call.channel.caller_number, queue=queue,
            priority=call.queue_priority, waiting_since=call.queued_at or now, now=now, first_attempt_at=first)
        call.note("callback.booked", {"callback": booking_id, "queue": queue, "first_attempt_at": first.isoformat()})
        return booking_id

    # -- dialling (the hotline's side) -----------------------------------------------------------------
    def restore(self) -> None:
        """A booking a stopped controller was dialling goes back to waiting, unless this controller serves it
        (a re-adopted callback whose conversation goes on). Blocking: run in a thread."""
        if (reset := store.reset_dialing(self.db, keep=set(self.active))) > 0:
            log.info("%d callback(s) interrupted by the last stop are booked again", reset)

    def readopted(self) -> None:
        """The supervisor has re-adopted what Asterisk holds (``resumed_flow`` saw every live callback)."""
        self._readopted.set()

    async def run(self) -> None:
        await self._readopted.wait()
        restored = False
        while True:
            try:
                if not restored:
                    await asyncio.to_thread(self.restore)
                    restored = True
                await self._poll()
            except sqlalchemy.exc.SQLAlchemyError as exc:
                log.warning("callbacks: cannot reach the database: %s", str(exc).splitlines()[0])
            await asyncio.sleep(POLL_SECONDS)

    async def _poll(self) -> None:
        open_ids = {b.id for b in await asyncio.to_thread(store.open_bookings, self.db)}
        for booking_id, uid in list(self.active.items()):
            if booking_id not in open_ids:
                self.service.withdraw(uid, "callback cancelled")
        for booking in await asyncio.to_thread(store.due, self.db, self.clock.now()):
            if booking.id in self.active:
                continue
            channel = Channel(id=ChannelId(f"cb{booking.id}-{uuid.uuid4().hex[:8]}"), name="", state="Down",
                              caller_number=booking.caller, dialed="callback", language="")
            self.active[booking.id] = CallUid(channel.id)
            self.start_outbound(channel, self._flow(booking), "callback")

    def _flow(self, booking: Booking) -> CallFlow:
        async def attempt(call: CallSession) -> None:
            await self._attempt(booking, call)

        return attempt

    async def _attempt(self, booking: Booking, call: CallSession) -> None:
        call.note("callback.waiting", {"callback": booking.id, "queue": booking.queue,
                                       "attempt": booking.attempts + 1})
        attempt = _Attempt()
        try:
            outcome = await self.service.serve_callback(
                call, booking.queue, booking.priority, booking.waiting_since,
                lambda agent, leg: self._reach(booking, call, agent, leg, attempt))
            if isinstance(outcome, Transfer):
                await self.service.follow(call, outcome, booking.queue, booking.priority)
        except CallEnded as ended:
            if not call.served:
                attempt.why = ended.cause
        finally:
            self.active.pop(booking.id, None)
        await self._close(booking, call, attempt)

    # -- a callback re-adopted after a controller restart ---------------------------------------------------
    def resumed_flow(self, channel: Channel) -> CallFlow | None:
        """The flow for a callback's customer channel a restarted controller finds in its app, or None when
        the name is not one of the dialer's. The booking counts as served by this controller from now on,
        so ``restore`` leaves it in dialing instead of booking it again."""
        found = _CHANNEL_NAME.fullmatch(channel.id)
        if found is None or not self.enabled:
            return None
        booking_id = int(found.group(1))
        self.active[booking_id] = CallUid(channel.id)

        async def take_up(call: CallSession) -> None:
            await self._take_up(booking_id, call)

        return take_up

    async def _take_up(self, booking_id: int, call: CallSession) -> None:
        """The customer and the agent talking when the last controller died go on talking (the conversation
        is resumed like a caller's) and the booking is done once they have; a customer not yet put through
        to the agent is hung up and the booking is due again (this attempt counts, as for any interruption)."""
        booking = await asyncio.to_thread(store.get, self.db, booking_id)
        if booking is None:
            self.active.pop(booking_id, None)
            log.warning("callback %d re-adopted but not in the database: hung up", booking_id)
            return
        position = call.resume_from
        attempt = _Attempt(why=store.INTERRUPTED, agent=position.agent or "" if position is not None else "")
        call.note("call.resumed", {"stage": position.stage if position else None, "callback": booking_id,
                                   "queue": position.queue if position else None, "agent": attempt.agent or None})
        try:
            if position is not None and position.queue is not None and position.stage != "ivr":
                await self.service.resume(call, position)
            else:
                for leg in call.stale_legs:
                    with contextlib.suppress(AriError):
                        await self.ari.hangup(leg)
        except CallEnded as ended:
            if not call.served:
                attempt.why = ended.cause
        finally:
            self.active.pop(booking_id, None)
        # The attempt was counted when it started (``start_attempt``): settle it as that attempt.
        await self._close(replace(booking, attempts=booking.attempts - 1), call, attempt)

    async def _close(self, booking: Booking, call: CallSession, attempt: _Attempt) -> None:
        if not call.served:
            call.outcome = "callback_unanswered"
        note = await asyncio.to_thread(self._settle, booking, call, attempt)
        if note is not None:
            call.note(*note)

    async def _reach(self, booking: Booking, call: CallSession, agent: AgentId, leg: ChannelId,
                     attempt: _Attempt) -> bool:
        """The agent has answered: dial the customer; True once they answer."""
        attempt.agent = agent
        if not await asyncio.to_thread(store.start_attempt, self.db, booking.id, self.clock.now()):
            attempt.why = "cancelled"
            return False
        with contextlib.suppress(AriError):
            await self.ari.play(leg, "sound:hotline/callback-connecting", PlaybackId(uuid.uuid4().hex))
        call.note("callback.dialing", {"callback": booking.id, "agent": agent})
        try:
            await self.ari.originate(endpoint=f"PJSIP/{booking.caller}@{TRUNK}", channel_id=call.channel.id,
                                     app_args=f"{CALLBACK_CUSTOMER},{booking.id}", caller_id=self.hotline_number,
                                     timeout_s=int(self.settings.ring_timeout_s))
        except AriError as exc:
            attempt.why = f"dial failed: {exc}"
            return False
        deadline = asyncio.get_running_loop().time() + self.settings.ring_timeout_s + 5
        try:
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                event = await call.next_event(within=left)
                match event:
                    case StasisStart(channel=channel) if channel.id == call.channel.id:
                        call.note("callback.answered", {"callback": booking.id})
                        return True
                    case ChannelHangupRequest() | ChannelDestroyed() if event.channel.id == leg:
                        attempt.why = "the agent hung up while the customer was rung"
                        with contextlib.suppress(AriError):
                            await self.ari.hangup(call.channel.id)
                        return False
        except CallEnded as ended:
            attempt.why = ended.cause  # the customer's channel ended unanswered: busy, no answer, unreachable
            return False
        attempt.why = "no answer"
        with contextlib.suppress(AriError):
            await self.ari.hangup(call.channel.id)
        return False

    def _settle(self, booking: Booking, call: CallSession, attempt: _Attempt) -> tuple[str, dict[str, Any]] | None:
        """Close or reschedule the booking (blocking: runs in a worker thread); returns the journal note to
        take on the event loop's thread, the only one that may write to the journal."""
        now = self.clock.now()
        if call.served:
            store.finish(self.db, booking.id, now=now, agent=attempt.agent, result="talked")
            return "callback.done", {"callback": booking.id, "agent": attempt.agent}
        attempts = booking.attempts + 1
        retry_at = policy.after_attempt(now.astimezone(self.tz), attempts, attempt.why, self.settings)
        # Both only touch a booking being dialled: one cancelled, or withdrawn before dialling, stays as is.
        if retry_at is None:
            if store.give_up(self.db, booking.id, now=now, result=attempt.why):
                return "callback.failed", {"callback": booking.id, "attempts": attempts, "why": attempt.why}
            return None
        if store.retry_later(self.db, booking.id, now=now, result=attempt.why, at=retry_at):
            return "callback.retry", {"callback": booking.id, "at": retry_at.isoformat(), "why": attempt.why}
        return "callback.withdrawn", {"callback": booking.id, "why": attempt.why}

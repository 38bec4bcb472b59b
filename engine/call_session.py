"""One caller's call as the call logic sees it: answer, play, collect events, hang up.

Every event for the channel arrives through ``inbox`` in order (the supervisor routes it there). A hangup
arriving while the logic waits raises ``CallEnded``, which unwinds the call's task.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from engine.call_position import CallPosition
from engine.clock import Clock
from engine.pbx.ari import AriNotFound
from engine.pbx.ari_events import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEvent,
    ChannelHangupRequest,
    ChannelId,
    Event,
    PlaybackFinished,
    PlaybackId,
    StasisEnd,
    StasisStart,
)
from engine.pbx.ports import CallControl
from engine.position_book import PositionBook
from engine.store.journal import JournalEntry
from engine.store.ports import Journal

log = logging.getLogger(__name__)
T = TypeVar("T")

# Q.850 causes worth a name in the journal; others are kept as numbers.
CAUSES = {16: "normal_clearing", 17: "user_busy", 18: "no_user_response", 19: "no_answer", 21: "call_rejected",
          27: "destination_out_of_order", 31: "normal_unspecified", 34: "no_circuit", 38: "network_out_of_order"}


def cause_name(cause: int) -> str:
    return CAUSES.get(cause, f"cause_{cause}")


class CallEnded(Exception):
    """The caller's channel is gone (hangup or vanished); ``cause`` is a Q.850 name."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class CallSession:
    def __init__(self, channel: Channel, control: CallControl, journal: Journal, clock: Clock,
                 started_at: datetime, readopted: bool = False, positions: PositionBook | None = None) -> None:
        self.channel = channel
        self.uid = str(channel.id)
        self.control = control
        self.journal = journal
        self.clock = clock
        self.started_at = started_at
        self.readopted = readopted
        self.inbox: asyncio.Queue[Event] = asyncio.Queue()
        self.ended: CallEnded | None = None
        # Set once an agent has talked to the caller: a hangup after that is not an abandoned call.
        self.served = False
        # Set by a script that ended the call for a reason of its own (e.g. "silent"): the journaled outcome.
        self.outcome: str | None = None
        # When and with which priority the caller first joined a queue: a booked callback keeps that place.
        self.queued_at: datetime | None = None
        self.queue_priority = 0
        # The flow's queue node that handed the caller to a queue: written into every position past the
        # IVR, so that a caller resumed there whom nobody can serve goes on at that node's ``unserved``.
        self.flow_node: str | None = None
        # "controller" for callers who dialled in; "callback" for a call the hotline places itself.
        self.source = "controller"
        # Other channels of this call (agents rung for it): their events come to this inbox too.
        self.legs: set[ChannelId] = set()
        self.on_new_leg: Callable[[CallSession, ChannelId], None] = lambda _call, _leg: None
        # Keys the caller typed that no prompt or menu has consumed yet (type-ahead).
        self.type_ahead: collections.deque[str] = collections.deque()
        # Where the caller is now (written with ``mark``), and, for a call re-adopted after a controller
        # crash, where the previous controller last saw them: the call flow resumes from there.
        self.position: CallPosition | None = None
        self.resume_from: CallPosition | None = None
        self.positions = positions if positions is not None else PositionBook(None)
        # Queues (and sites) per-call overflow moved this caller away from: never back there (no loops).
        self.overflowed_from: set[str] = set()
        # Agents' channels of this call found in Asterisk when it was re-adopted (ringing or talking).
        self.stale_legs: set[ChannelId] = set()

    def add_leg(self, leg: ChannelId) -> None:
        """Route events of ``leg`` (registered before it exists, so no event is missed) to this call."""
        self.legs.add(leg)
        self.on_new_leg(self, leg)

    # -- journal -----------------------------------------------------------------------------------------
    def note(self, kind: str, data: Mapping[str, Any] | None = None, at: datetime | None = None) -> None:
        self.journal.append(JournalEntry(call_uid=self.uid, kind=kind, at=at or self.clock.now(), data=data or {}))

    def mark(self, position: CallPosition) -> None:
        """Write down where the caller is: in the journal (the record reports read) and in the position book
        (read on re-adoption), before the step it describes begins."""
        if position.node is None and position.stage != "ivr" and self.flow_node is not None:
            position = replace(position, node=self.flow_node)
        if position == self.position:
            return
        self.position = position
        self.note("call.position", position.journal_data())
        self.positions.write(self.uid, position)

    def close(self) -> None:
        """The call is over here (ended, or handed to the dialplan): nothing to resume."""
        self.positions.forget(self.uid)

    # -- events ------------------------------------------------------------------------------------------
    def _absorb(self, event: Event) -> Event:
        """Handle what every wait must handle the same way: hangups end the call, keys go to type-ahead."""
        if isinstance(event, ChannelEvent) and event.channel.id != self.channel.id:
            return event  # another leg of this call (an agent): the call logic decides
        match event:
            case ChannelHangupRequest(cause=cause):
                # A caller's plain BYE arrives with cause 0 (not defined): that is a normal clearing.
                self.ended = CallEnded(cause_name(cause or 16))
            case ChannelDestroyed(cause=cause):
                self.ended = self.ended or CallEnded(cause_name(cause))
            case StasisEnd():
                self.ended = self.ended or CallEnded("left_application")
            case ChannelDtmfReceived(digit=digit):
                # Not journaled key by key: the IVR journals what the keys meant, masking passwords.
                self.type_ahead.append(digit)
        if self.ended is not None:
            raise self.ended
        return event

    async def next_event(self, within: float | None = None) -> Event | None:
        """The next event for this call, or None when none comes ``within`` seconds."""
        if self.ended is not None:
            raise self.ended
        try:
            # asyncio.timeout rather than wait_for: no task wrapped round each wait (one per event).
            async with asyncio.timeout(within):
                event = await self.inbox.get()
        except TimeoutError:
            return None
        return self._absorb(event)

    async def until_answered(self, leg: ChannelId, within_s: float) -> bool:
        """Wait for a channel this call rang (an agent, an overflow site) to answer (True: it entered our app)
        or to go away (False); False too when neither happens within ``within_s``."""
        deadline = asyncio.get_running_loop().time() + within_s
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            event = await self.next_event(within=left)
            match event:
                case StasisStart(channel=channel) if channel.id == leg:
                    return True
                case ChannelDestroyed(channel=channel) if channel.id == leg:
                    return False
        return False

    # -- actions -----------------------------------------------------------------------------------------
    async def act(self, action: Awaitable[T]) -> T:
        try:
            return await action
        except AriNotFound:
            # The channel vanished between the event and our request: a hangup race, not a fault.
            self.ended = self.ended or CallEnded("vanished")
            raise self.ended from None

    async def answer(self) -> None:
        if self.channel.state == "Up":
            # The dialplan answered before handing the call over (hotline-stasis): no request to make.
            self.note("call.answered", at=self.started_at)
            return
        await self.act(self.control.answer(self.channel.id))
        self.note("call.answered")

    async def play(self, prompt: str, interrupt: Callable[[Event], bool] | None = None) -> bool:
        """Play ``sound:hotline/<prompt>`` and return when it has finished (True). An event ``interrupt``
        accepts stops the playback at once (False)."""
        playback = PlaybackId(uuid.uuid4().hex)
        started = self.clock.now()
        await self.act(self.control.play(self.channel.id, f"sound:hotline/{prompt}", playback))
        finished = True
        while True:
            event = await self.next_event()
            if isinstance(event, PlaybackFinished) and event.playback_id == playback:
                break
            if interrupt is not None and event is not None and interrupt(event):
                with contextlib.suppress(AriNotFound):  # it may have just ended by itself
                    await self.control.stop_playback(playback)
                finished = False
                break
        ms = int((self.clock.now() - started).total_seconds() * 1000)
        self.note("prompt.played", {"prompt": prompt, "ms": ms, **({} if finished else {"interrupted": True})})
        return finished

    async def hangup(self, reason: str = "normal") -> None:
        with contextlib.suppress(AriNotFound):
            await self.control.hangup(self.channel.id, reason)
        self.ended = self.ended or CallEnded("normal_clearing")

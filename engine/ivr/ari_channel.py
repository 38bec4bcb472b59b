"""The IVR's view of a real call (``IvrChannel`` port) on top of a CallSession and ARI.

Barge-in: a key pressed during a prompt stops that playback at once and skips the prompts queued
after it; the key stays in the call's type-ahead buffer, so callers who know the menu can type
"1 1" and land two levels down without listening. Texts known only during the call are synthesized
(and cached) before playing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.call_position import CallPosition
from engine.call_session import CallSession
from engine.callbacks.dialer import CallbackDialer
from engine.ivr.ports import Say
from engine.pbx.ari import AriNotFound
from engine.pbx.ari_events import ChannelDtmfReceived, PlaybackFinished, PlaybackId
from engine.queueing.service import QueueService
from engine.scripts.leave_message import MessageBox

Synthesize = Callable[[str], Awaitable[str]]
# How often a caller who chose to keep waiting is offered the choices again before the apology.
MAX_OFFERS = 3


class AriIvrChannel:
    def __init__(self, call: CallSession, synthesize: Synthesize, queues: QueueService | None = None,
                 messages: MessageBox | None = None, callbacks: CallbackDialer | None = None) -> None:
        self.call = call
        self.synthesize = synthesize
        self.queues = queues
        self.messages = messages
        self.callbacks = callbacks

    @property
    def caller(self) -> str:
        return self.call.channel.caller_number

    @property
    def dialed(self) -> str:
        return self.call.channel.dialed

    def now(self) -> datetime:
        return self.call.clock.now()

    def note(self, kind: str, data: Mapping[str, Any] | None = None) -> None:
        self.call.note(kind, data)

    async def reached(self, node: str, kept: Mapping[str, str]) -> None:
        await self.call.mark(CallPosition("ivr", node=node, vars=dict(kept)))

    def clear_type_ahead(self) -> None:
        self.call.type_ahead.clear()

    async def say(self, items: Sequence[Say], *, barge_in: bool = True) -> None:
        for item in items:
            if barge_in and self.call.type_ahead:
                return
            prompt = item.prompt if item.prompt is not None else await self.synthesize(item.text or "")
            playback = PlaybackId(uuid.uuid4().hex)
            started = self.now()
            await self.call.act(self.call.control.play(self.call.channel.id, f"sound:hotline/{prompt}", playback))
            finished = await self._until_played(playback, barge_in)
            ms = int((self.now() - started).total_seconds() * 1000)
            self.note("prompt.played", {"prompt": prompt, "ms": ms, **({} if finished else {"interrupted": True})})
            if not finished:
                return

    async def _until_played(self, playback: PlaybackId, barge_in: bool) -> bool:
        """True when the playback ran to its end, False when a key cut it short."""
        while True:
            event = await self.call.next_event()
            if isinstance(event, PlaybackFinished) and event.playback_id == playback:
                return True
            if barge_in and isinstance(event, ChannelDtmfReceived):
                with contextlib.suppress(AriNotFound):  # it may have just finished by itself
                    await self.call.control.stop_playback(playback)
                return False

    async def get_digit(self, timeout: float) -> str | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.call.type_ahead:
            left = deadline - loop.time()
            if left <= 0:
                return None
            await self.call.next_event(within=left)
        return self.call.type_ahead.popleft()

    async def to_queue(self, queue: str, priority: int = 0) -> None:
        self.note("queue.requested", {"queue": queue, "priority": priority})
        if self.queues is None:
            await self.say([Say(prompt="agent-unavailable")], barge_in=False)
            return
        await self.wait_for_agent(queue, priority)

    async def wait_for_agent(self, queue: str, priority: int, resumed: CallPosition | None = None) -> None:
        """Serve the caller in ``queue`` (from where ``resumed`` says they were, after a controller restart);
        when nobody can, offer a message, a callback or to keep waiting."""
        assert self.queues is not None
        for _ in range(MAX_OFFERS):
            served = (await self.queues.resume(self.call, resumed) if resumed is not None
                      else await self.queues.serve(self.call, queue, priority))
            resumed = None
            if served:
                return
            # Nobody can take the call now (HOTLINE_RULES, 投诉受理要求 5): a recorded message (自动录音受理),
            # a booked callback (预约回呼), or, when agents are only busy, keep waiting in the same place.
            choice = await self._offer_choices(queue)
            if choice == "1" and self.messages is not None:
                # Written before the prompt: a caller who chose to leave a message is asked for it again
                # after a restart, not offered the choices again.
                await self.call.mark(CallPosition("message", queue=queue))
                await self.leave_message(queue)
                return
            if choice == "2" and self.callbacks is not None:
                await self.callbacks.book(self.call, queue)
                await self.say([Say(prompt="callback-booked")], barge_in=False)
                return
            if choice != "3":
                break
            self.note("queue.keep_waiting", {"queue": queue})
        await self.say([Say(prompt="agent-unavailable")], barge_in=False)

    async def leave_message(self, queue: str) -> None:
        """The beep, the caller's message, thanks."""
        assert self.messages is not None
        await self.say([Say(prompt="message-prompt")], barge_in=False)
        self.clear_type_ahead()
        await self.messages.record(self.call, queue)
        await self.say([Say(prompt="message-thanks")], barge_in=False)

    async def _offer_choices(self, queue: str) -> str | None:
        """Say what the caller can do and return the key they chose (None: no valid choice)."""
        assert self.queues is not None
        can_book = self.callbacks is not None and self.callbacks.enabled and self.caller.isdigit()
        can_wait = self.queues.serving(self.queues.queue_config(queue)) > 0
        if self.messages is None and not can_book:
            return None
        prompt = ("offer-callback-wait" if can_wait else "offer-callback") if can_book else "offer-message"
        self.clear_type_ahead()
        await self.say([Say(prompt=prompt)])
        choice = await self.get_digit(6)
        valid = {"1"} | ({"2"} if can_book else set()) | ({"3"} if can_book and can_wait else set())
        self.note("queue.offer", {"queue": queue, "choice": choice if choice in valid else None})
        return choice if choice in valid else None

    async def hangup(self) -> None:
        await self.call.hangup()

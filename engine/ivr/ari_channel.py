"""The IVR's view of a real call (``IvrChannel`` port) on top of a CallSession and ARI.

Barge-in: a key pressed during a prompt stops that playback at once and skips the prompts queued
after it; the key stays in the call's type-ahead buffer, so callers who know the menu can type
"1 1" and land two levels down without listening. Texts known only during the call are synthesized
(and cached) before playing. A queue node hands the caller to ``QueueService``; what a caller nobody can
take may choose (message box, callback dialer, agents busy) is reported by ``choices`` and chosen in the
flow's offer node (engine.ivr.runner).
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
from engine.ivr.ports import Choices, Say
from engine.pbx.ari import AriNotFound
from engine.pbx.ari_events import ChannelDtmfReceived, PlaybackFinished, PlaybackId
from engine.queueing.service import QueueService
from engine.scripts.leave_message import MessageBox

Synthesize = Callable[[str], Awaitable[str]]


class AriIvrChannel:
    def __init__(self, call: CallSession, synthesize: Synthesize, queues: QueueService | None = None,
                 messages: MessageBox | None = None, callbacks: CallbackDialer | None = None) -> None:
        self.call = call
        self.synthesize = synthesize
        self.queues = queues
        self.messages = messages
        self.callbacks = callbacks
        self._requested: set[str] = set()

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
        # A caller offered choices after waiting keeps their place if a restart says the offer again.
        self.call.mark(CallPosition("ivr", node=node, vars=dict(kept), queued_at=self.call.queued_at,
                                          priority=self.call.queue_priority if self.call.queued_at else 0))

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

    async def to_queue(self, queue: str, priority: int = 0, node: str | None = None) -> bool:
        if queue not in self._requested:  # a caller back from "keep waiting" asked once already
            self._requested.add(queue)
            self.note("queue.requested", {"queue": queue, "priority": priority})
        if self.queues is None:
            return False
        self.call.flow_node = node
        # Nobody signed in, the maximum wait or the expected wait past, and no overflow queue or site took
        # the caller: False, and the flow offers what it can (HOTLINE_RULES, 投诉受理要求 5).
        return await self.queues.serve(self.call, queue, priority)

    async def resume_queue(self, position: CallPosition) -> bool:
        """Take up a caller re-adopted after a controller restart in a queue, with an agent, at a site or in
        the silent-call script (``QueueService.resume``); False when nobody can serve them."""
        if self.queues is None:
            return False
        self.call.flow_node = position.node
        return await self.queues.resume(self.call, position)

    def choices(self, queue: str) -> Choices:
        can_book = self.callbacks is not None and self.callbacks.enabled and self.caller.isdigit()
        busy = self.queues is not None and self.queues.serving(self.queues.queue_config(queue)) > 0
        return Choices(message=self.messages is not None, callback=can_book, keep_waiting=busy)

    async def leave_message(self, queue: str, node: str | None, prompt: str) -> None:
        assert self.messages is not None  # choices() offers no message without a message box
        # Written before the prompt: after a restart the caller is asked for the message again, not
        # offered the choices again.
        self.call.mark(CallPosition("message", node=node, queue=queue))
        await self.say([Say(prompt=prompt)], barge_in=False)
        self.clear_type_ahead()
        await self.messages.record(self.call, queue)

    async def book_callback(self, queue: str) -> None:
        assert self.callbacks is not None  # choices() offers no callback without the dialer
        await self.callbacks.book(self.call, queue)

    async def hangup(self) -> None:
        await self.call.hangup()

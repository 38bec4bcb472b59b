"""The call supervisor: one supervised task per call, events delivered in order through its inbox.

It reads the ARI event stream, starts a task for each caller entering the Stasis app, routes channel and
playback events to the owning call, and after every (re)connection reconciles with what Asterisk holds:
calls still in our app that we do not know (a restarted controller) are re-adopted, calls we know that
Asterisk no longer has are ended. On a normal stop, live callers are handed to the dialplan fallback
instead of being left in silence.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from datetime import datetime

from acd.model import CallUid
from engine.call_position import BadPosition, CallPosition
from engine.call_session import CallEnded, CallSession
from engine.clock import Clock
from engine.logging_setup import current_call
from engine.masking import mask_number
from engine.pbx.ari import AriError
from engine.pbx.ari_events import (
    Channel,
    ChannelDestroyed,
    ChannelId,
    Connected,
    Disconnected,
    EndpointStateChange,
    Event,
    StasisStart,
    UnknownEvent,
    channel_of,
)
from engine.pbx.ports import CallControl
from engine.position_book import PositionBook
from engine.store.ports import Journal

log = logging.getLogger(__name__)
CallFlow = Callable[[CallSession], Awaitable[None]]
FALLBACK_CONTEXT = "hotline-fallback"
# The Stasis argument of a booked callback's customer channel (engine.callbacks.dialer dials it).
CALLBACK_CUSTOMER = "callback-customer"


class CallSupervisor:
    def __init__(self, control: CallControl, journal: Journal, flow: CallFlow, clock: Clock, app: str,
                 side_events: Callable[[Event], None] = lambda _event: None,
                 on_readopt: Callable[[Mapping[CallUid, CallPosition]], None] = lambda _positions: None,
                 positions: PositionBook | None = None) -> None:
        self.control = control
        self.journal = journal
        self.flow = flow
        self.clock = clock
        self.app = app
        self.calls: dict[ChannelId, CallSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()
        # Events that belong to no caller (agents' feature codes, endpoint states) go here.
        self.side_events = side_events
        # Told where the re-adopted callers are before any of them resumes (agents still talking to one).
        self.on_readopt = on_readopt
        # Calls placed by the hotline itself whose channel Asterisk has not shown yet (still being dialled).
        self._not_yet_seen: set[ChannelId] = set()
        # Closes, in the journal, open calls that are nowhere live (given the live ids and those this process
        # closed itself, whose call.ended may not be written yet); the composition root supplies it.
        self.close_unseen: Callable[[set[ChannelId], Collection[str]], None] = lambda _live, _closed: None
        # The flow that takes up a callback's customer channel a restarted controller finds in its app (None:
        # not one of ours to resume); the composition root supplies the callback dialer's.
        self.resume_callback: Callable[[Channel], CallFlow | None] = lambda _channel: None
        self._closed_here: collections.deque[str] = collections.deque(maxlen=10_000)
        # Where each live caller is (written by their calls), read back for callers re-adopted after a crash.
        self.positions = positions if positions is not None else PositionBook(None)

    async def run(self, events: AsyncIterator[Event]) -> None:
        """Consume events until cancelled; then hand live calls over and wait for their tasks."""
        try:
            async for event in events:
                self.dispatch(event)
        finally:
            await asyncio.shield(self._hand_over_live_calls())

    # -- routing -----------------------------------------------------------------------------------------
    def dispatch(self, event: Event) -> None:
        log.debug("ARI event %s", event)
        match event:
            case Connected():
                self.connected.set()
                self._spawn(self._reconcile(), "reconcile")
                self.side_events(event)
            case Disconnected():
                self.connected.clear()
            case StasisStart(channel=channel, args=args) if channel.id not in self.calls:
                if args[:1] == ("inbound",) or not args:
                    self._start_call(channel, event.at, readopted=False)
                elif args[:1] in (("agent-leg",), (CALLBACK_CUSTOMER,)):
                    # An agent (or a callback's customer) answered for a call nobody serves any more (gone
                    # meanwhile, or rung by a controller that died): release them, never leave them in silence.
                    self._spawn(self._drop(channel.id), f"drop-{channel.id}")
                else:
                    self.side_events(event)
            case EndpointStateChange():
                self.side_events(event)
            case UnknownEvent():
                pass
            case _:
                owner = channel_of(event)
                call = self.calls.get(owner) if owner else None
                if owner is not None and call is not None:
                    self._not_yet_seen.discard(owner)
                    call.inbox.put_nowait(event)
                    if isinstance(event, ChannelDestroyed) and owner != call.channel.id:
                        self.calls.pop(owner, None)  # an agent's leg that ended: no longer part of any call

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def wrapper() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:  # a task's failure is logged with its traceback, never lost
                log.exception("task %s failed", name)

        task = asyncio.get_running_loop().create_task(wrapper(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_call(self, channel: Channel, at: datetime, readopted: bool, flow: CallFlow | None = None,
                    source: str = "controller", resume_from: CallPosition | None = None,
                    stale_legs: set[ChannelId] | None = None) -> None:
        call = CallSession(channel, self.control, self.journal, self.clock, started_at=at, readopted=readopted,
                           positions=self.positions)
        call.source = source
        call.resume_from = resume_from
        call.position = resume_from  # already in the position book
        call.stale_legs = stale_legs or set()
        call.on_new_leg = self._new_leg
        self.calls[channel.id] = call
        self._spawn(self._run_call(call, flow or self.flow), f"call-{channel.id}")

    def _new_leg(self, owner: CallSession, leg: ChannelId) -> None:
        self.calls[leg] = owner
        # Named before it is dialled: a reconnect's channel list may not show it yet.
        self._not_yet_seen.add(leg)

    def start_outbound(self, channel: Channel, flow: CallFlow, source: str) -> None:
        """A call the hotline places itself (a booked callback): ``channel`` is the customer's channel,
        named before it is dialled so that none of its events is missed."""
        self._not_yet_seen.add(channel.id)
        self._start_call(channel, self.clock.now(), readopted=False, flow=flow, source=source)

    # -- one call ----------------------------------------------------------------------------------------
    async def _run_call(self, call: CallSession, flow: CallFlow) -> None:
        current_call.set(call.uid)
        caller = mask_number(call.channel.caller_number)
        if call.readopted:
            where = call.resume_from.journal_data() if call.resume_from else None
            call.note("call.readopted", {"state": call.channel.state, "position": where})
            log.info("re-adopted call from %s to %s", caller, call.channel.dialed)
        else:
            call.note("call.started", {"caller": call.channel.caller_number, "dialed": call.channel.dialed,
                                       "source": call.source}, at=call.started_at)
            log.info("call from %s to %s", caller, call.channel.dialed)
        outcome, cause = "completed", "normal_clearing"
        try:
            await flow(call)
            await call.hangup()
            outcome = call.outcome or outcome
        except CallEnded as ended:
            outcome, cause = call.outcome or ("completed" if call.served else "abandoned"), ended.cause
        except asyncio.CancelledError:
            outcome, cause = "handed_to_fallback", "controller_stopped"
            raise
        except Exception as exc:  # a bug in call logic must end this call, never the controller
            log.exception("call logic failed")
            outcome, cause = "error", type(exc).__name__
            await call.hangup("normal")
        finally:
            call.close()
            self.calls.pop(call.channel.id, None)
            self._not_yet_seen.discard(call.channel.id)
            for leg in call.legs:
                self.calls.pop(leg, None)
            self._closed_here.append(call.uid)
            if outcome != "handed_to_fallback":
                seconds = (self.clock.now() - call.started_at).total_seconds()
                call.note("call.ended", {"outcome": outcome, "cause": cause})
                log.info("call ended: %s (%s) after %.1f s", outcome, cause, seconds)

    async def _drop(self, channel: ChannelId) -> None:
        with contextlib.suppress(AriError):
            await self.control.hangup(channel)

    # -- recovery ----------------------------------------------------------------------------------------
    def _app_args(self, channel: Channel) -> list[str] | None:
        """The Stasis arguments of a channel in our app (None: not in our app)."""
        parts = channel.app_data.split(",")
        return parts[1:] if channel.app_name == "Stasis" and parts[0] == self.app else None

    def _ours(self, channel: Channel) -> bool:
        """A caller in our app (agents' legs and feature-code channels are not calls of their own)."""
        args = self._app_args(channel)
        return args is not None and args[:1] in (["inbound"], [])

    def _callback_in_app(self, channel: Channel) -> bool:
        """A booked callback's customer channel in our app (answered: it entered Stasis)."""
        args = self._app_args(channel)
        return args is not None and args[:1] == [CALLBACK_CUSTOMER]

    async def _reconcile(self) -> None:
        """Asterisk is the truth about which calls exist: adopt the callers in our app we do not serve (a
        restarted controller), resuming each where its position says, and end the calls it no longer has.

        Only calls known before the channel list was asked for can be missing from it: a caller arriving
        while the list is fetched is not in it, yet very much there."""
        known_before = set(self.calls)
        try:
            present = await self.control.channels()
        except (AriError, OSError) as exc:
            log.warning("could not list channels after reconnecting: %s", exc)
            return
        present_ids = {c.id for c in present}
        adopted: list[tuple[Channel, CallPosition | None, CallFlow | None]] = []
        for channel in present:
            if channel.id in self.calls:
                continue
            if self._ours(channel):
                adopted.append((channel, self._position_of(channel), None))
            elif self._callback_in_app(channel) and (resumed := self.resume_callback(channel)) is not None:
                # A callback's customer talking with the agent when the last controller died: the dialer takes
                # the conversation up (and the booking stays being dialled, not booked again).
                adopted.append((channel, self._position_of(channel), resumed))
        self.on_readopt({CallUid(str(c.id)): p for c, p, _ in adopted if p is not None})
        # Calls the journal holds open that Asterisk no longer has and nobody here serves: their callers hung
        # up while no controller listened. Closed once, with that cause.
        owners = set(self.calls) | {c.id for c, _, _ in adopted}
        self.positions.retain({str(owner) for owner in owners})
        self.close_unseen(present_ids | owners, self._closed_here)
        for channel in present:
            args = self._app_args(channel)
            if args is not None and args[:1] == ["agent-leg"] \
                    and channel.id not in self.calls and ChannelId(",".join(args[1:])) not in owners:
                # An agent who answered for a caller that hung up while no controller listened: release them.
                self._spawn(self._drop(channel.id), f"drop-{channel.id}")
        for channel, position, flow in adopted:
            legs = {c.id for c in present if c.id.startswith("agent") and c.id.endswith(f"-{channel.id}")}
            self._start_call(channel, self.clock.now(), readopted=True, flow=flow,
                             source="controller" if flow is None else "callback", resume_from=position,
                             stale_legs=legs)
        # A caller or an agent's leg that ended while the events did not reach us: its call learns it now
        # (else a caller whose agent hung up during the gap would sit alone in the bridge).
        for key, call in list(self.calls.items()):
            if key in known_before and key not in present_ids and key not in self._not_yet_seen:
                channel = call.channel if key == call.channel.id else Channel(
                    id=key, name="", state="", caller_number="", dialed="", language="")
                call.inbox.put_nowait(ChannelDestroyed(at=self.clock.now(), channel=channel, cause=0,
                                                       cause_txt="vanished while disconnected"))
                if key != call.channel.id:
                    self.calls.pop(key, None)

    def _position_of(self, channel: Channel) -> CallPosition | None:
        """Where the previous controller last saw this caller (None: nowhere written, start over)."""
        text = self.positions.read(channel.id)
        if text is None:
            return None
        try:
            position = CallPosition.parse(text)
        except BadPosition as exc:
            log.warning("call %s: position %r not understood (%s); the call starts over", channel.id, text, exc)
            return None
        problem = position.resumable()
        if problem is not None:
            log.warning("call %s: %s; the call starts over", channel.id, problem)
            return None
        return position

    async def _hand_over_live_calls(self) -> None:
        for call in list(self.calls.values()):
            try:
                await self.control.continue_in_dialplan(call.channel.id, FALLBACK_CONTEXT, "s")
                call.note("call.handed_to_fallback", {"reason": "controller stopped"})
            except Exception as exc:  # noqa: BLE001 - best effort while stopping
                log.warning("could not hand call %s to the fallback: %s", call.uid, exc)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

"""Distribution owned by the controller: waiting callers, agents' live states, who gets whom.

Each caller's own call task runs ``serve``: music on hold while waiting, then for every agent the router
picks, ring the agent's softphone (the caller keeps their place if nobody answers), bridge the two,
record the conversation, and after the call put the agent into after-call work. The pure rules live in
``acd`` (state machine, routing); this module applies them, journals what happens and drives ARI.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from acd.model import Agent, AgentId, AgentState, AgentStatus, CallUid, QueueName
from acd.queues import QueueConfig
from acd.routing import (
    WaitingCaller,
    agents_serving,
    expected_wait,
    next_assignments,
    position_of,
    repeat_priority,
)
from acd.state import (
    AcwPolicy,
    AgentEvent,
    CallFinished,
    OfferAnswered,
    Offered,
    OfferMissed,
    RegistrationBack,
    RegistrationLost,
    Tick,
    next_deadline,
    transition,
)
from engine.call_position import CallPosition
from engine.call_session import CallEnded, CallSession
from engine.clock import Clock
from engine.pbx.ari import AriClient, AriError
from engine.pbx.ari_events import BridgeId, ChannelId, PlaybackFinished, PlaybackId
from engine.queueing.conversation import AgentHungUp, Conversation, Ending, HandedOver
from engine.queueing.site import SiteLine
from engine.queueing.transfer import QueueWake, Transfer
from engine.scripts.silent_call import SilentVariant, run_script, script_steps
from engine.scripts.silent_line import AriScriptLine
from engine.speech.mandarin import say_number
from engine.store.journal import JournalEntry
from engine.store.ports import Journal

log = logging.getLogger(__name__)
AGENT_JOURNAL_PREFIX = "agent:"
# A caller put back "at the front of the queue" (silent caller who spoke after all) outranks even VIPs.
FRONT_PRIORITY = 99
__all__ = ["AgentLine", "QueueService", "Transfer", "settle_recording"]
# A callback's step between the agent answering and the bridge: dial the customer; True once they answer.
ReachCustomer = Callable[[AgentId, ChannelId], Awaitable[bool]]


@dataclass(frozen=True)
class AgentLine:
    """An agent and the SIP user its softphone registers as."""

    agent: Agent
    sip_user: str


class QueueService:
    def __init__(self, ari: AriClient, journal: Journal, clock: Clock, queues: Mapping[QueueName, QueueConfig],
                 recordings_dir: Path, policy: AcwPolicy | None = None,
                 speak: Callable[[str], Awaitable[str]] | None = None,
                 previous_call: Callable[[str, str], datetime | None] | None = None) -> None:
        self.ari = ari
        self.journal = journal
        self.clock = clock
        self.queues = dict(queues)
        self.recordings_dir = recordings_dir
        self.policy = policy or AcwPolicy()
        self.lines: dict[AgentId, AgentLine] = {}
        self.statuses: dict[AgentId, AgentStatus] = {}
        self.waiting: dict[CallUid, WaitingCaller] = {}
        self._offers: dict[CallUid, asyncio.Future[AgentId]] = {}
        self._wake = asyncio.Event()
        self._legs = 0
        self.speak = speak
        self.conversations: dict[CallUid, AgentId] = {}
        # When a caller last called (journal look-up, blocking: run in a thread); repeat callers go first.
        self.previous_call = previous_call
        # Average talk time for the expected-wait announcement; starts at the manual's 270-360 s talk target.
        self.average_handle_s = 300.0
        # Agents the journal last saw on a call: not offered a call until the calls Asterisk still holds
        # have been re-adopted (``readopt_agents``), since they may still be talking to one of them.
        self.awaiting_readoption: set[AgentId] = set()
        # The calls of ``waiting``, to wake them (QueueWake in their inbox) instead of having them poll.
        self._waiting_calls: dict[CallUid, CallSession] = {}
        # Told of every caller joining a queue and every answer (within the service level target or not):
        # the surge plan's live arrival rate and service level.
        self.on_arrival: Callable[[str, datetime], None] = lambda _queue, _at: None
        self.on_answer: Callable[[str, datetime, bool], None] = lambda _queue, _at, _in_time: None
        # Puts a caller through to an outside overflow site (engine.queueing.site); None: no sites.
        self.sites: SiteLine | None = None

    # -- agents -------------------------------------------------------------------------------------------
    def set_agents(self, lines: Mapping[AgentId, AgentLine]) -> None:
        """The provisioned agents (from the database); new ones start logged out, removed ones vanish."""
        now = self.clock.now()
        for agent_id in lines:
            self.statuses.setdefault(agent_id, AgentStatus.logged_out(agent_id, now))
        for gone in set(self.statuses) - set(lines):
            if self.statuses[gone].call is None:
                del self.statuses[gone]
        changed = set(lines) != set(self.lines)
        self.lines = dict(lines)
        if changed:
            self._nudge(self._waiting_calls)

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
            self._journal_agent(agent_id, AgentState.LOGGED_OUT, restored, "restored", None, now)
        self.awaiting_readoption = {a for a in in_call if a in self.statuses}
        self._wake.set()

    def _journal_agent(self, agent: AgentId, from_state: AgentState, to_state: AgentState, reason: str | None,
                       call: CallUid | None, at: datetime) -> None:
        self.journal.append(JournalEntry(
            call_uid=f"{AGENT_JOURNAL_PREFIX}{agent}", kind="agent.state", at=at,
            data={"agent": agent, "from": from_state, "to": to_state, "reason": reason, "call": call}))

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
        for change in result.changes:
            self._journal_agent(agent, change.from_state, change.to_state, change.reason, result.status.call,
                                change.at)
            log.info("agent %s: %s -> %s (%s)", agent, change.from_state, change.to_state, change.reason)
        self._wake.set()
        if _staffing_changed(before, result.status):
            # Whether anyone serves a queue may have changed: waiting callers look again (no polling).
            self._nudge(self._waiting_calls)
        return None

    def _nudge(self, uids: Iterable[CallUid]) -> None:
        for uid in list(uids):
            call = self._waiting_calls.get(uid)
            if call is not None:
                call.inbox.put_nowait(QueueWake())

    def registration(self, sip_user: str, online: bool) -> None:
        for agent_id, line in self.lines.items():
            if line.sip_user == sip_user and self.statuses[agent_id].registered != online:
                self.agent_event(agent_id, RegistrationBack() if online else RegistrationLost())

    def agent_by_sip_user(self, sip_user: str) -> AgentId | None:
        return next((a for a, line in self.lines.items() if line.sip_user == sip_user), None)

    # -- the distributor ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Match waiting callers with free agents whenever something changes; expire after-call work."""
        while True:
            deadlines = [d for s in self.statuses.values() if (d := next_deadline(s, self.policy)) is not None]
            wait_s = max(0.05, min((d - self.clock.now()).total_seconds() for d in deadlines)) if deadlines else 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_s)
            self._wake.clear()
            for agent_id, status in list(self.statuses.items()):
                deadline = next_deadline(status, self.policy)
                if deadline is not None and deadline <= self.clock.now():
                    self.agent_event(agent_id, Tick())
            self._assign()

    def _assign(self) -> None:
        agents = [line.agent for a, line in self.lines.items() if a not in self.awaiting_readoption]
        for call, agent in next_assignments(list(self.waiting.values()), agents, self.statuses, self.queues):
            offer = self._offers.get(call)
            if offer is None or offer.done():
                continue
            if self.agent_event(agent, Offered(call)) is None:
                self.waiting.pop(call, None)
                offer.set_result(agent)
                self._nudge([call])

    # -- one caller ---------------------------------------------------------------------------------------
    def queue_config(self, queue: str) -> QueueConfig:
        return self.queues.get(QueueName(queue)) or self.queues[QueueName("general")]

    def serving(self, config: QueueConfig) -> int:
        return agents_serving(config, [line.agent for line in self.lines.values()], self.statuses)

    async def serve(self, call: CallSession, queue: str, priority: int) -> bool:
        """Keep the caller until an agent has talked to them (True), nobody can (False: no agent signed in,
        or the queue's maximum wait passed; the caller-experience scripts take over there) or they hang up
        (CallEnded). A transfer moves the caller to another queue or agent: the journey stays one call."""
        return await self.follow(call, Transfer(queue=queue), queue, priority)

    async def follow(self, call: CallSession, target: Transfer | None, queue: str, priority: int) -> bool:
        """Take the caller where ``target`` says, and on through any further transfers (see ``serve``)."""
        served = False
        while target is not None:
            if target.agent is not None:
                target = await self._direct(call, AgentId(target.agent), queue)
                served = True
                continue
            queue = target.queue or queue
            if target.front:
                priority = FRONT_PRIORITY
            result = await self._serve_queue(call, queue, priority)
            served = result is not False
            target = result if isinstance(result, Transfer) else None
        return served

    async def _direct(self, call: CallSession, agent: AgentId, queue: str) -> Transfer | None:
        """A transfer to one agent: ring them now if they are free, else back to the queue."""
        status = self.statuses.get(agent)
        config = self.queue_config(queue)
        if status is None or self.agent_event(agent, Offered(CallUid(call.uid))) is not None:
            call.note("transfer.failed", {"agent": agent, "why": "agent not free"})
            return Transfer(queue=queue)
        result = await self._offer(call, agent, config)
        if result is False:
            return Transfer(queue=queue)
        return result if isinstance(result, Transfer) else None

    async def _serve_queue(self, call: CallSession, queue: str, priority: int) -> bool | Transfer:
        config = self.queue_config(queue)
        uid = CallUid(call.uid)
        if self.serving(config) == 0:
            call.note("queue.closed", {"queue": config.name, "why": "no agent signed in"})
            return await self._overflow(call, config, config.on_no_agent, "no agent", 0.0)
        if self.previous_call is not None and call.queued_at is None:  # boosted once, when first queued
            try:
                last = await asyncio.to_thread(self.previous_call, call.channel.caller_number, call.uid)
            except SQLAlchemyError as exc:  # the journal database is away: no repeat-caller bonus, the call goes on
                log.warning("repeat-caller look-up unavailable: %s", str(exc).splitlines()[0])
                last = None
            boosted = repeat_priority(priority, last, self.clock.now(), config)
            if boosted != priority:
                call.note("queue.repeat_caller", {"previous_call_at": last.isoformat() if last else None})
                priority = boosted
        call.note("queue.entered", {"queue": config.name, "priority": priority})
        await call.act(self.ari.start_moh(call.channel.id, config.moh_class))
        wait_started = self.clock.now()
        if call.queued_at is None:
            call.queued_at, call.queue_priority = wait_started, priority
            self.on_arrival(config.name, wait_started)
        # The caller's place: from when they first joined (back from a transfer, a silent-call script,
        # choosing to keep waiting or a controller restart, they do not go to the end); a booked callback
        # keeps it too.
        enqueued_at = call.queued_at
        await call.mark(CallPosition("queued", queue=config.name, queued_at=enqueued_at, priority=priority))
        refused: set[AgentId] = set()
        try:
            while True:
                offer = self._join(call, config, priority, enqueued_at, refused)
                announce_at = self.clock.now().timestamp() + config.announce_every_s
                while not offer.done():
                    if self.clock.now().timestamp() >= announce_at:
                        await self._announce_position(call, config)
                        announce_at = self.clock.now().timestamp() + config.announce_every_s
                        continue
                    waited = (self.clock.now() - wait_started).total_seconds()
                    too_long = waited >= config.max_wait_s or self._expected_too_long(call, config, waited)
                    if too_long or self.serving(config) == 0:
                        why = ("max wait" if waited >= config.max_wait_s else "expected wait") if too_long \
                            else "no agent"
                        call.note("queue.left", {"queue": config.name, "waited_s": round(waited, 1), "why": why})
                        with contextlib.suppress(AriError):
                            await self.ari.stop_moh(call.channel.id)
                        return await self._overflow(call, config, config.on_max_wait if too_long
                                                    else config.on_no_agent, why, waited)
                    # Woken by its own events, an offer or a change in who serves the queue (QueueWake);
                    # otherwise only when the next announcement or the maximum wait is due.
                    due = min(announce_at, wait_started.timestamp() + config.max_wait_s)
                    await call.next_event(within=max(0.01, due - self.clock.now().timestamp()))
                agent = offer.result()
                outcome = await self._offer(call, agent, config)
                if outcome is not False:
                    return outcome
                refused.add(agent)
        finally:
            self.waiting.pop(uid, None)
            self._waiting_calls.pop(uid, None)
            pending = self._offers.pop(uid, None)
            if pending is not None and not pending.done():
                pending.cancel()

    def _expected_too_long(self, call: CallSession, config: QueueConfig, waited: float) -> bool:
        """Judged once, on joining: the expected wait is above the queue's limit (0: never judged)."""
        if config.max_expected_wait_s <= 0 or waited > 1.0:
            return False
        try:
            position = position_of(CallUid(call.uid), self.waiting.values())
        except KeyError:
            return False
        return expected_wait(position, self.serving(config), self.average_handle_s) > config.max_expected_wait_s

    async def _overflow(self, call: CallSession, config: QueueConfig, action: str, why: str,
                        waited: float) -> bool | Transfer:
        """Per-call overflow: move the caller to another queue (keeping their place by original arrival)
        or put them through to an outside site; False leaves them to the message/callback offer."""
        facts = {"from_queue": config.name, "why": why, "waited_s": round(waited, 1)}
        kind, _, target = action.partition(":")
        if kind == "queue" and QueueName(target) in self.queues and target not in call.overflowed_from:
            call.overflowed_from.add(config.name)
            call.note("overflow.moved", {**facts, "to_queue": target})
            return Transfer(queue=target)
        if kind == "site" and self.sites is not None and target not in call.overflowed_from:
            call.overflowed_from.add(target)
            call.note("overflow.moved", {**facts, "to_site": target})
            return await self.sites.put_through(call, target, config.name)
        return False

    async def _announce_position(self, call: CallSession, config: QueueConfig) -> None:
        """Tell a waiting caller how many are ahead and roughly how long it will take, then music again."""
        try:
            position = position_of(CallUid(call.uid), self.waiting.values())
        except KeyError:
            return
        wait_s = expected_wait(position, self.serving(config), self.average_handle_s)
        minutes = max(1, round(wait_s / 60))
        call.note("queue.announced", {"queue": config.name, "position": position, "expected_wait_s": round(wait_s)})
        if self.speak is None:
            return
        ahead = position - 1
        text = ("您是下一位,请稍候。" if ahead == 0 else
                f"您前面还有{say_number(ahead)}位客户,预计等待{say_number(minutes)}分钟,请稍候。")
        prompt = await self.speak(text)
        with contextlib.suppress(AriError):
            await self.ari.stop_moh(call.channel.id)
        playback = PlaybackId(uuid.uuid4().hex)
        await call.act(self.ari.play(call.channel.id, f"sound:hotline/{prompt}", playback))
        while True:
            event = await call.next_event(within=30)
            if event is None or (isinstance(event, PlaybackFinished) and event.playback_id == playback):
                break
        await call.act(self.ari.start_moh(call.channel.id, config.moh_class))

    # -- a booked callback ---------------------------------------------------------------------------------
    async def serve_callback(self, call: CallSession, queue: str, priority: int, waiting_since: datetime,
                             reach_customer: ReachCustomer) -> bool | Transfer:
        """A booked callback takes its place in the queue (from when the caller first waited); once an
        agent is free, ring the agent, then ``reach_customer`` (the agent's leg is answered) and bridge.
        False when the agent did not answer or the customer could not be reached."""
        config = self.queue_config(queue)
        uid = CallUid(call.uid)
        dialled: list[AgentId] = []

        async def reach(agent: AgentId, leg: ChannelId) -> bool:
            dialled.append(agent)
            return await reach_customer(agent, leg)

        call.note("queue.entered", {"queue": config.name, "priority": priority, "callback": True})
        refused: set[AgentId] = set()
        while True:
            offer = self._join(call, config, priority, waiting_since, refused, callback=True)
            try:
                agent = await offer
            finally:
                self.waiting.pop(uid, None)
                self._waiting_calls.pop(uid, None)
                self._offers.pop(uid, None)
            result = await self._offer(call, agent, config, reach)
            if result is not False or dialled:
                return result
            refused.add(agent)  # the agent did not answer: the next one, the customer not yet rung

    def _join(self, call: CallSession, config: QueueConfig, priority: int, since: datetime,
              refused: set[AgentId], callback: bool = False) -> asyncio.Future[AgentId]:
        """Put the caller in the queue's waiting list; the future gets the agent the distributor picks."""
        uid = CallUid(call.uid)
        offer: asyncio.Future[AgentId] = asyncio.get_running_loop().create_future()
        self._offers[uid] = offer
        self._waiting_calls[uid] = call
        self.waiting[uid] = WaitingCaller(call=uid, queue=config.name, priority=priority, enqueued_at=since,
                                          caller=call.channel.caller_number, refused_by=frozenset(refused),
                                          callback=callback)
        self._wake.set()
        return offer

    def withdraw(self, call: CallUid, why: str) -> None:
        """Take a waiting entry out of its queue (a cancelled callback): its task gets CallEnded(why)."""
        offer = self._offers.get(call)
        if offer is not None and not offer.done():
            offer.set_exception(CallEnded(why))

    async def _offer(self, call: CallSession, agent: AgentId, config: QueueConfig,
                     reach_customer: ReachCustomer | None = None) -> bool | Transfer:
        """Ring one agent; True once a conversation took place, False when the agent did not answer (or,
        for a callback, the customer), a Transfer when the agent (or a supervisor) sent the caller on."""
        uid = CallUid(call.uid)
        line = self.lines[agent]
        self._legs += 1
        leg = ChannelId(f"agent{self._legs}-{call.uid}")
        call.add_leg(leg)
        call.note("queue.offered", {"agent": agent})
        try:
            await self.ari.originate(endpoint=f"PJSIP/{line.sip_user}", channel_id=leg,
                                     app_args=f"agent-leg,{call.uid}", caller_id=call.channel.caller_number,
                                     timeout_s=int(config.ring_timeout_s))
            answered = await call.until_answered(leg, config.ring_timeout_s + 3)
        except AriError as exc:
            log.warning("could not ring agent %s: %s", agent, exc)
            answered = False
        except CallEnded:
            with contextlib.suppress(AriError):
                await self.ari.hangup(leg)
            self.agent_event(agent, OfferMissed(uid))
            raise
        if not answered:
            with contextlib.suppress(AriError):
                await self.ari.hangup(leg)
            call.note("queue.no_answer", {"agent": agent})
            self.agent_event(agent, OfferMissed(uid))
            return False
        self.agent_event(agent, OfferAnswered(uid))
        if reach_customer is not None and not await reach_customer(agent, leg):
            with contextlib.suppress(AriError):
                await self.ari.hangup(leg)
            # The customer did not answer: the agent did nothing to wrap up.
            self.agent_event(agent, CallFinished(uid, wrap_up=False, reason="customer-not-reached"))
            return False
        call.served = True
        call.note("queue.answered", {"agent": agent})
        now = self.clock.now()
        self.on_answer(config.name, now, (now - (call.queued_at or now)).total_seconds() <= config.service_level_s)
        conversation = Conversation(self.ari, call, leg, agent, config, self.clock,
                                    lambda event: self.agent_event(agent, event), self.transfer_target)
        return await self._converse(call, conversation)

    async def _converse(self, call: CallSession, conversation: Conversation,
                        leg_present: bool = True) -> bool | Transfer:
        """The conversation, then the agent's wrap-up, the recording's facts and where the caller goes next."""
        uid, agent, config = CallUid(call.uid), conversation.agent, conversation.config
        talk_started = self.clock.now()
        self.conversations[uid] = agent
        ending: Ending | None = None
        try:
            ending = await conversation.run(leg_present)
        finally:
            self.conversations.pop(uid, None)
            # Handing a silent caller to the script frees the agent at once: nothing to wrap up.
            self.agent_event(agent, CallFinished(uid, wrap_up=not isinstance(ending, HandedOver)))
            talk_s = (self.clock.now() - talk_started).total_seconds()
            self.average_handle_s = 0.9 * self.average_handle_s + 0.1 * talk_s
            await self.note_recording(call, conversation.recording, agent)
        match ending:
            case Transfer():
                await call.act(self.ari.start_moh(call.channel.id, config.moh_class))
                return ending
            case HandedOver(variant=variant):
                return await self._silent_script(call, config, variant)
            case AgentHungUp() | None:
                return True

    # -- a caller re-adopted after a controller restart -----------------------------------------------------
    async def resume(self, call: CallSession, position: CallPosition) -> bool:
        """Take the caller up where ``position`` says (``serve``'s answer): a waiting caller keeps their
        place, a talking or held caller stays with their agent, bridge and recording, a caller in the
        silent-call script hears it again."""
        assert position.queue is not None
        call.queued_at, call.queue_priority = position.queued_at or self.clock.now(), position.priority
        config = self.queue_config(position.queue)
        for leg in call.stale_legs - ({ChannelId(position.leg)} if position.leg else set()):
            with contextlib.suppress(AriError):  # an agent's phone still ringing for the lost controller
                await self.ari.hangup(leg)
        result: bool | Transfer
        match position.stage:
            case "talking" | "held" if position.agent is not None and AgentId(position.agent) in self.statuses:
                call.served = True
                agent, leg = AgentId(position.agent), ChannelId(position.leg or "")
                call.add_leg(leg)
                conversation = Conversation(self.ari, call, leg, agent, config, self.clock,
                                            lambda event: self.agent_event(agent, event), self.transfer_target,
                                            resumed=position)
                result = await self._converse(call, conversation, leg_present=leg in call.stale_legs)
            case "site" if self.sites is not None and position.leg and position.bridge and position.recording:
                call.served = True
                leg = ChannelId(position.leg)
                call.add_leg(leg)
                await self.sites.talk(call, leg, BridgeId(position.bridge), position.recording,
                                      (position.agent or "site:").removeprefix("site:"), leg in call.stale_legs)
                result = True
            case "script":
                result = await self._silent_script(call, config, SilentVariant(position.variant or "silent"),
                                                   resume_at=position.step or 0)
            case _:
                result = Transfer(queue=config.name)
        if result is True or result is False:
            return result
        return await self.follow(call, result, config.name, position.priority) or call.served

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
            self._journal_agent(agent, status.state, state, "readopted", uid, now)
        self.awaiting_readoption.clear()
        self._wake.set()

    def transfer_target(self, digits: str) -> Transfer | None:
        """What an agent's ``*9<digits>#`` means: an agent's work number, else a queue's transfer code."""
        if AgentId(digits) in self.lines:
            return Transfer(agent=digits)
        queue = next((q for q in self.queues.values() if q.transfer_code == digits), None)
        return Transfer(queue=queue.name) if queue is not None else None

    async def _silent_script(self, call: CallSession, config: QueueConfig, variant: SilentVariant,
                             resume_at: int | None = None) -> bool | Transfer:
        """The engine says the silent-call script; a caller who speaks goes back to the front of the queue.
        ``resume_at``: the step a restarted controller found the caller at (the script goes on from there)."""
        # A silent call is not an abandoned one, even if the caller hangs up during the script.
        call.outcome = "silent"

        async def at_step(step: int) -> None:
            await call.mark(CallPosition("script", queue=config.name, queued_at=call.queued_at,
                                         priority=call.queue_priority, variant=variant, step=step))

        await at_step(resume_at or 0)  # the step's own mark is then already written
        line = AriScriptLine(self.ari, call)
        await line.start()
        if resume_at is None:
            call.note("silent.started", {"variant": variant})
        result = await run_script(line, script_steps(variant, config.silent_wait_s), start=resume_at or 0,
                                  on_step=at_step)
        if result.spoke:
            call.outcome = None
            call.note("silent.requeued", {"queue": config.name, "after_step": result.steps})
            await call.act(self.ari.start_moh(call.channel.id, config.moh_class))
            return Transfer(queue=config.name, front=True)
        call.note("silent.ended", {"variant": variant})
        return True

    async def note_recording(self, call: CallSession, name: str, agent: str) -> None:
        path = self.recordings_dir / f"{name}.wav"
        facts = await asyncio.to_thread(settle_recording, path)
        if facts is None:
            call.note("recording.missing", {"name": name, "agent": agent})
            return
        seconds, checksum = facts
        call.note("recording.saved", {"file": str(path), "agent": agent, "seconds": seconds, "sha256": checksum})


def _staffing_changed(before: AgentStatus, after: AgentStatus) -> bool:
    """Whether an agent's change may change how many agents serve a queue (signed in, paused, registered)."""
    away = (AgentState.LOGGED_OUT, AgentState.PAUSED)
    return before.registered != after.registered or (before.state in away) != (after.state in away)


def settle_recording(path: Path, waits: int = 20) -> tuple[float, str] | None:
    """Wait until Asterisk has closed the file, lock it down, and return (seconds, sha256)."""
    last = -1
    for _ in range(waits):
        size = path.stat().st_size if path.exists() else -1
        if size > 44 and size == last:
            break
        last = size
        time.sleep(0.1)
    if not path.exists():
        return None
    path.chmod(0o600)  # recordings are personal data: never world-readable
    data = path.read_bytes()
    seconds = max(0, len(data) - 44) / 16000  # 8 kHz, 16-bit mono wav
    return round(seconds, 2), hashlib.sha256(data).hexdigest()


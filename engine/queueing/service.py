"""The queue service: the face the rest of the controller sees of the queue, and a caller's queue journey.

Each caller's own call task runs ``serve``: music on hold while waiting, then for every agent the
distributor picks, ring the agent's softphone (the caller keeps their place if nobody answers), the
conversation (bridge and recording, ``engine.queueing.conversation``), and after it the agent's
after-call work. The work is done by pieces with one job each, which this class builds and wires:

- ``AgentRoster`` (roster.py): provisioned agents, their live states, journaled changes;
- ``WaitingLine`` (waiting_line.py): waiting callers, their futures, places and expected waits;
- ``Distributor`` (distributor.py): the task that gives free agents to waiting callers;
- ``AgentRinger`` (ringing.py): one offer, the agent's softphone rung on a new leg;
- ``PositionAnnouncer`` (announce.py), ``SilentScriptStep`` (silent_step.py) and ``RecordingFiles``
  (recording_files.py).

The pure rules live in ``acd`` (state machine, routing). The pieces depend on the Protocols of
``engine.pbx.ports``; only the conversation still takes the concrete ARI client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from acd.model import AgentId, AgentStatus, CallUid, QueueName
from acd.queues import QueueConfig
from acd.routing import WaitingCaller, repeat_priority
from acd.state import AcwPolicy, AgentEvent, CallFinished, OfferAnswered, Offered, OfferMissed
from engine import recording_space
from engine.call_position import CallPosition
from engine.call_session import CallEnded, CallSession
from engine.clock import Clock
from engine.pbx.ari import AriClient, AriError
from engine.pbx.ari_events import BridgeId, ChannelId
from engine.pbx.ports import QueueControl
from engine.queueing.announce import PositionAnnouncer, Speak
from engine.queueing.conversation import AgentHungUp, Conversation, Ending, HandedOver
from engine.queueing.conversation_recording import recording_name
from engine.queueing.distributor import Distributor
from engine.queueing.recording_files import RecordingFiles
from engine.queueing.ringing import AgentRinger
from engine.queueing.roster import AgentLine, AgentRoster
from engine.queueing.silent_step import SilentScriptStep
from engine.queueing.site import SiteLine
from engine.queueing.transfer import Transfer
from engine.queueing.waiting_line import WaitingLine
from engine.scripts.silent_call import SilentVariant
from engine.store.ports import Journal

log = logging.getLogger(__name__)
# A caller put back "at the front of the queue" (silent caller who spoke after all) outranks even VIPs.
FRONT_PRIORITY = 99
__all__ = ["QueueService", "Transfer"]
# A callback's step between the agent answering and the bridge: dial the customer; True once they answer.
ReachCustomer = Callable[[AgentId, ChannelId], Awaitable[bool]]


class QueueService:
    def __init__(self, ari: AriClient, journal: Journal, clock: Clock, queues: Mapping[QueueName, QueueConfig],
                 recordings_dir: Path, policy: AcwPolicy | None = None,
                 speak: Speak | None = None,
                 previous_call: Callable[[str, str], datetime | None] | None = None) -> None:
        # The conversation (conversation.py) still takes the concrete client; the other pieces take the
        # Protocols of engine.pbx.ports, and this assignment has mypy check that AriClient satisfies them.
        self.ari = ari
        control: QueueControl = ari
        self.clock = clock
        self.queues = dict(queues)
        wake = asyncio.Event()
        self.waiting_line = WaitingLine(on_join=wake.set)
        self.roster = AgentRoster(journal, clock, policy, on_change=wake.set,
                                  on_staffing_change=self.waiting_line.nudge_all)
        self.distributor = Distributor(self.roster, self.waiting_line, self.queues, clock, wake)
        self.ringer = AgentRinger(control)
        self.announcer = PositionAnnouncer(control, speak)
        self.silent_script = SilentScriptStep(control)
        self.recordings = RecordingFiles(recordings_dir)
        # Who talks to whom now (the desk checks a supervisor's request against it).
        self.conversations: dict[CallUid, AgentId] = {}
        # When a caller last called (journal look-up, blocking: run in a thread); repeat callers go first.
        self.previous_call = previous_call
        # Told of every caller joining a queue and every answer (within the service level target or not):
        # the surge plan's live arrival rate and service level.
        self.on_arrival: Callable[[str, datetime], None] = lambda _queue, _at: None
        self.on_answer: Callable[[str, datetime, bool], None] = lambda _queue, _at, _in_time: None
        # Puts a caller through to an outside overflow site (engine.queueing.site); None: no sites.
        self.sites: SiteLine | None = None

    # -- what the desk, the surge plan and the wallboard read -------------------------------------------------
    @property
    def lines(self) -> dict[AgentId, AgentLine]:
        return self.roster.lines

    @property
    def statuses(self) -> dict[AgentId, AgentStatus]:
        return self.roster.statuses

    @property
    def waiting(self) -> dict[CallUid, WaitingCaller]:
        return self.waiting_line.waiting

    @property
    def average_handle_s(self) -> float:
        return self.waiting_line.average_handle_s

    # -- agents (the roster) ------------------------------------------------------------------------------
    def set_agents(self, lines: Mapping[AgentId, AgentLine]) -> None:
        """The provisioned agents (``AgentRoster.set_agents``)."""
        self.roster.set_agents(lines)

    def restore(self, last: Mapping[AgentId, tuple[str, str | None]], in_call: Iterable[AgentId] = ()) -> None:
        """The agents' states the previous controller journaled (``AgentRoster.restore``)."""
        self.roster.restore(last, in_call)

    def agent_event(self, agent: AgentId, event: AgentEvent) -> str | None:
        """Apply one event to an agent: None when accepted, else the reason (``AgentRoster.agent_event``)."""
        return self.roster.agent_event(agent, event)

    def registration(self, sip_user: str, online: bool) -> None:
        self.roster.registration(sip_user, online)

    def agent_by_sip_user(self, sip_user: str) -> AgentId | None:
        return self.roster.agent_by_sip_user(sip_user)

    def readopt_agents(self, positions: Mapping[CallUid, CallPosition]) -> None:
        """Agents back on the calls that survived a restart (``AgentRoster.readopt_agents``)."""
        self.roster.readopt_agents(positions)

    # -- the distributor ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """The distributor's task (``Distributor.run``)."""
        await self.distributor.run()

    # -- one caller ---------------------------------------------------------------------------------------
    def queue_config(self, queue: str) -> QueueConfig:
        return self.queues.get(QueueName(queue)) or self.queues[QueueName("general")]

    def serving(self, config: QueueConfig) -> int:
        return self.roster.serving(config)

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
        call.mark(CallPosition("queued", queue=config.name, queued_at=enqueued_at, priority=priority))
        refused: set[AgentId] = set()
        try:
            while True:
                offer = self.waiting_line.join(call, config.name, priority, enqueued_at, refused)
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
            self.waiting_line.leave(uid)

    def _expected_too_long(self, call: CallSession, config: QueueConfig, waited: float) -> bool:
        """Judged once, on joining: the expected wait is above the queue's limit (0: never judged)."""
        if config.max_expected_wait_s <= 0 or waited > 1.0:
            return False
        place = self.waiting_line.place(CallUid(call.uid), self.serving(config))
        return place is not None and place[1] > config.max_expected_wait_s

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
        place = self.waiting_line.place(CallUid(call.uid), self.serving(config))
        if place is not None:
            await self.announcer.announce(call, config, *place)

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
            offer = self.waiting_line.join(call, config.name, priority, waiting_since, refused, callback=True)
            try:
                agent = await offer
            finally:
                self.waiting_line.leave(uid)
            result = await self._offer(call, agent, config, reach)
            if result is not False or dialled:
                return result
            refused.add(agent)  # the agent did not answer: the next one, the customer not yet rung

    def withdraw(self, call: CallUid, why: str) -> None:
        """Take a waiting entry out of its queue (a cancelled callback): its task gets CallEnded(why)."""
        self.waiting_line.withdraw(call, why)

    async def _offer(self, call: CallSession, agent: AgentId, config: QueueConfig,
                     reach_customer: ReachCustomer | None = None) -> bool | Transfer:
        """Ring one agent; True once a conversation took place, False when the agent did not answer (or,
        for a callback, the customer), a Transfer when the agent (or a supervisor) sent the caller on."""
        uid = CallUid(call.uid)
        recording, refused = recording_name(call.uid, agent), recording_space.refusal(self.recordings.folder)
        try:
            leg = await self.ringer.ring(call, agent, self.lines[agent].sip_user, config.ring_timeout_s,
                                         recording if refused is None else None)
        except CallEnded:
            self.agent_event(agent, OfferMissed(uid))
            raise
        if leg is None:
            self.agent_event(agent, OfferMissed(uid))
            return False
        self.agent_event(agent, OfferAnswered(uid))
        if reach_customer is not None and not await reach_customer(agent, leg):
            await self.ringer.hang_up(leg)
            # The customer did not answer: the agent did nothing to wrap up.
            self.agent_event(agent, CallFinished(uid, wrap_up=False, reason="customer-not-reached"))
            return False
        call.served = True
        call.note("queue.answered", {"agent": agent})
        now = self.clock.now()
        self.on_answer(config.name, now, (now - (call.queued_at or now)).total_seconds() <= config.service_level_s)
        conversation = Conversation(self.ari, call, leg, agent, config, self.clock,
                                    lambda event: self.agent_event(agent, event), self.transfer_target,
                                    recording=recording, refused=refused)
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
            self.waiting_line.note_talk(talk_s)
            if conversation.recorded:
                recorded_for = (self.clock.now() - conversation.answered_at).total_seconds()
                await self.note_recording(call, conversation.recording, agent, talk_s=recorded_for)
        match ending:
            case Transfer():
                await call.act(self.ari.start_moh(call.channel.id, config.moh_class))
                return ending
            case HandedOver(variant=variant):
                return await self.silent_script.run(call, config, variant)
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
                result = await self.silent_script.run(call, config, SilentVariant(position.variant or "silent"),
                                                      resume_at=position.step or 0)
            case _:
                result = Transfer(queue=config.name)
        if result is True or result is False:
            return result
        return await self.follow(call, result, config.name, position.priority) or call.served

    def transfer_target(self, digits: str) -> Transfer | None:
        """What an agent's ``*9<digits>#`` means: an agent's work number, else a queue's transfer code."""
        if AgentId(digits) in self.lines:
            return Transfer(agent=digits)
        queue = next((q for q in self.queues.values() if q.transfer_code == digits), None)
        return Transfer(queue=queue.name) if queue is not None else None

    async def note_recording(self, call: CallSession, name: str, agent: str, talk_s: float | None = None) -> None:
        """Journal a conversation's (or an overflow site's call's) recording once Asterisk has closed it;
        ``talk_s``: how long the conversation it should cover lasted."""
        await self.recordings.note(call, name, agent, talk_s)

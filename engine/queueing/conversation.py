"""One conversation between a caller and an agent: the bridge, the recording, and what the agent does.

The caller and the agent's leg share a bridge; Asterisk records the agent's leg both ways while it is
bridged (``conversation_recording``: started by the dialplan on the agent's answer). During the
call the agent can put the caller on hold (the softphone's hold button, or ``*7``), hand a silent caller
to the silent-call script (``*81``..``*83``) or send the caller on (``*9<number>#``); a supervisor's
transfer arrives through the call's inbox. On hold the caller leaves the bridge and hears the hold
script (``engine.scripts.hold`` decides what is due); the recording keeps running on the agent's side.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from acd.model import AgentId
from acd.queues import QueueConfig
from acd.state import AgentEvent, HoldEnded, HoldStarted
from engine.call_position import CallPosition
from engine.call_session import CallSession
from engine.clock import Clock
from engine.pbx.ari import AriError
from engine.pbx.ari_events import (
    BridgeId,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelHold,
    ChannelId,
    ChannelTalkingStarted,
    ChannelUnhold,
    PlaybackFinished,
    PlaybackId,
    StasisEnd,
)
from engine.pbx.ports import QueueControl
from engine.queueing.agent_keys import HandToScript, InCallKeys, ToggleHold, TransferTo, Unknown
from engine.queueing.bridge_end import end_bridge
from engine.queueing.conversation_recording import note_recording_start, recording_name
from engine.queueing.transfer import ScriptRequest, Transfer
from engine.scripts.hold import HoldProgress, HoldStep, HoldTimings, next_hold_step
from engine.scripts.silent_call import SilentVariant
from engine.scripts.silent_line import TALK_DETECT

log = logging.getLogger(__name__)
# Played into the bridge during a hold so its recording never starves (asterisk-conf/musiconhold.conf.j2).
HOLD_SILENCE_CLASS = "hotline-silence"


@dataclass(frozen=True)
class AgentHungUp:
    pass


@dataclass(frozen=True)
class HandedOver:
    """The agent handed the caller to the silent-call script (``by``: agent key, supervisor or auto)."""

    variant: SilentVariant
    by: str


Ending = AgentHungUp | Transfer | HandedOver


class Conversation:
    def __init__(self, ari: QueueControl, call: CallSession, leg: ChannelId, agent: AgentId, config: QueueConfig,
                 clock: Clock, agent_event: Callable[[AgentEvent], str | None],
                 resolve_transfer: Callable[[str], Transfer | None], resumed: CallPosition | None = None,
                 recording: str | None = None, refused: str | None = None) -> None:
        """``recording``: the file Asterisk records the leg into from its answer (``conversation_recording``),
        ``refused``: why the leg was rung without one (a full disk); a resumed conversation keeps its own."""
        self.ari = ari
        self.call = call
        self.leg = leg
        self.agent = agent
        self.config = config
        self.clock = clock
        self.agent_event = agent_event
        self.resolve_transfer = resolve_transfer
        self.recording = resumed.recording if resumed and resumed.recording else \
            recording or recording_name(call.uid, agent)
        self.timings = HoldTimings(config.hold_reassure_every_s, config.hold_target_s, config.hold_limit_s)
        self.keys = InCallKeys()
        self.bridge: BridgeId | None = BridgeId(resumed.bridge) if resumed and resumed.bridge else None
        self.held_since: datetime | None = resumed.held_since if resumed else None
        self.answered_at = (resumed.answered_at if resumed else None) or clock.now()
        self.resumed = resumed is not None
        self.refused = refused
        # A file to journal at the end: being recorded since the answer, or (resumed) since before the restart.
        self.recorded = self.resumed
        self.progress = HoldProgress()
        self.hold_prompt: PlaybackId | None = None
        self.agent_gone = False
        # The agent's leg is being hung up already (its hang-up or end was seen): not hung up again.
        self.leg_hanging_up = False
        self.caller_spoke = False
        # Supervisor requests that arrived while a prompt had to be played to its end: handled next.
        self.deferred: list[Transfer | ScriptRequest] = []

    async def run(self, leg_present: bool = True) -> Ending:
        """Bridge and record (or, resumed after a controller restart, take up the bridge and recording
        Asterisk kept); return how the conversation ended. The agent's leg is always hung up."""
        try:
            if self.resumed:
                if not leg_present:
                    # The agent hung up while no controller was there to see it.
                    self.call.note("call.agent_hung_up", {"agent": self.agent})
                    return AgentHungUp()
                if self.held_since is not None:
                    await self.call.act(self.ari.start_moh(self.call.channel.id, self.config.moh_class))
                    await self._keep_recording_fed(True)
            else:
                self.bridge = await self.call.act(self.ari.create_bridge("mixing", name=f"call-{self.call.uid}"))
                with contextlib.suppress(AriError):
                    await self.ari.stop_moh(self.call.channel.id)
                await self.call.act(self.ari.add_to_bridge(self.bridge, [self.call.channel.id, self.leg]))
                self.recorded = note_recording_start(self.call, self.recording, {"agent": self.agent}, self.refused)
                if self.config.auto_silent_after_s > 0:
                    await self.call.act(self.ari.set_variable(self.call.channel.id, "TALK_DETECT(set)",
                                                              TALK_DETECT))
            self._mark()
            return await self._listen()
        finally:
            # Out of the bridge already: on hold, or hung up.
            caller_in_bridge = self.held_since is None and self.call.ended is None
            if self.held_since is not None:
                # The call ended during a hold (either side hung up): the segment still counts.
                self._note_hold_end("call ended")
                with contextlib.suppress(AriError):
                    await self.ari.stop_moh(self.call.channel.id)
            if not self.leg_hanging_up:  # else a request for nothing (most conversations end with the agent's)
                with contextlib.suppress(AriError):
                    await self.ari.hangup(self.leg)
            if self.bridge is not None:
                await end_bridge(self.ari, self.bridge, self.call.channel.id if caller_in_bridge else None)

    def _mark(self) -> None:
        """Write down this conversation (who, which bridge and recording, held or not) for a restart."""
        assert self.bridge is not None
        self.call.mark(CallPosition(
            "held" if self.held_since is not None else "talking", queue=self.config.name,
            queued_at=self.call.queued_at, priority=self.call.queue_priority, agent=self.agent, leg=self.leg,
            bridge=self.bridge, recording=self.recording, answered_at=self.answered_at,
            held_since=self.held_since))

    # -- the event loop ---------------------------------------------------------------------------------
    async def _listen(self) -> Ending:
        answered = self.answered_at
        while True:
            now = self.clock.now()
            wake: float | None = None
            if self.held_since is not None:
                step, due_at = next_hold_step(self.progress, self.timings)
                wake = max(0.0, due_at - (now - self.held_since).total_seconds())
            elif self.config.auto_silent_after_s > 0 and not self.caller_spoke:
                wake = max(0.0, self.config.auto_silent_after_s - (now - answered).total_seconds())
            event = self.deferred.pop(0) if self.deferred else await self.call.next_event(within=wake)
            if event is None:
                if self.held_since is not None:
                    if await self._hold_step(step):
                        return AgentHungUp()
                    continue
                return await self._hand_over(SilentVariant.SILENT, "auto")
            match event:
                case ScriptRequest(variant=variant):
                    return await self._hand_over(SilentVariant(variant), "supervisor")
                case Transfer():
                    return await self._send_on(event, "supervisor")
                case ChannelHangupRequest() | StasisEnd() | ChannelDestroyed() if event.channel.id == self.leg:
                    self.leg_hanging_up = not isinstance(event, StasisEnd)
                    self.call.note("call.agent_hung_up", {"agent": self.agent})
                    return AgentHungUp()
                case ChannelHold() if event.channel.id == self.leg:
                    await self._hold("softphone")
                case ChannelUnhold() if event.channel.id == self.leg:
                    if await self._resume("agent"):
                        return AgentHungUp()
                case ChannelTalkingStarted() if event.channel.id == self.call.channel.id:
                    self.caller_spoke = True
                case PlaybackFinished() if event.playback_id == self.hold_prompt:
                    self.hold_prompt = None
                    if self.held_since is not None:
                        await self.call.act(self.ari.start_moh(self.call.channel.id, self.config.moh_class))
                case ChannelDtmfReceived(digit=digit) if event.channel.id == self.leg:
                    ending = await self._agent_key(digit)
                    if ending is not None:
                        return ending
                case ChannelDtmfReceived():
                    self.call.type_ahead.clear()  # the caller's keys mean nothing while talking to an agent

    async def _agent_key(self, digit: str) -> Ending | None:
        command = self.keys.feed(digit, self.clock.now().timestamp())
        match command:
            case ToggleHold():
                if self.held_since is None:
                    await self._hold("key")
                elif await self._resume("agent"):
                    return AgentHungUp()
            case HandToScript(variant=variant):
                return await self._hand_over(variant, "agent")
            case TransferTo(digits=digits):
                target = self.resolve_transfer(digits)
                if target is None:
                    self.call.note("transfer.refused", {"agent": self.agent, "target": digits})
                    await self._tell_agent("feature-refused")
                    return None
                return await self._send_on(target, "agent")
            case Unknown(keys=keys):
                self.call.note("agent.keys_unknown", {"agent": self.agent, "keys": keys})
                await self._tell_agent("feature-refused")
        return None

    async def _hand_over(self, variant: SilentVariant, by: str) -> Ending:
        self.call.note("silent.handover", {"agent": self.agent, "variant": variant, "by": by})
        return await self._leaving(HandedOver(variant, by))

    async def _send_on(self, target: Transfer, by: str) -> Ending:
        self.call.note("call.transferred", {"from_agent": self.agent, "to_queue": target.queue,
                                            "to_agent": target.agent, "by": by})
        return await self._leaving(target)

    async def _leaving(self, ending: Transfer | HandedOver) -> Ending:
        """The caller leaves the agent held or not: a held caller's hold ends here (journaled)."""
        if self.held_since is not None:
            await self._end_hold("transfer" if isinstance(ending, Transfer) else "script", thank=False)
        return ending

    # -- hold -------------------------------------------------------------------------------------------
    async def _hold(self, by: str) -> None:
        if self.held_since is not None or self.bridge is None:
            return
        refused = self.agent_event(HoldStarted())
        if refused is not None:
            log.info("hold refused for agent %s: %s", self.agent, refused)
            return
        await self.call.act(self.ari.remove_from_bridge(self.bridge, [self.call.channel.id]))
        await self._keep_recording_fed(True)
        self.held_since = self.clock.now()
        self.progress = HoldProgress()
        self.call.note("hold.started", {"agent": self.agent, "by": by})
        self._mark()
        await self._play_to_caller("hold-start")

    async def _hold_step(self, step: HoldStep) -> bool:
        """Do what the hold script says is due; True when the agent hung up meanwhile."""
        self.progress = self.progress.after(step)
        match step:
            case HoldStep.REASSURE:
                if self.hold_prompt is None:  # never cut the hold prompt itself short
                    with contextlib.suppress(AriError):
                        await self.ari.stop_moh(self.call.channel.id)
                    await self._play_to_caller("hold-reassure")
                    self.call.note("hold.reassured", {"held_s": self._held_s()})
            case HoldStep.REMIND_AGENT:
                await self._tell_agent("hold-reminder")
                self.call.note("hold.reminded", {"agent": self.agent, "held_s": self._held_s()})
            case HoldStep.RECONNECT:
                return await self._resume("limit")
        return False

    async def _resume(self, why: str) -> bool:
        """Thank the caller, then put them back with the agent; True when the agent hung up meanwhile."""
        if self.held_since is None:
            return False
        await self._end_hold(why, thank=True)
        if self.agent_gone:
            return True
        assert self.bridge is not None
        await self._keep_recording_fed(False)
        await self.call.act(self.ari.add_to_bridge(self.bridge, [self.call.channel.id]))
        self._mark()
        return False

    async def _keep_recording_fed(self, on: bool) -> None:
        """Silence into the bridge while the caller is out on hold: a softphone on hold sends no audio, and a
        recording only grows with audio heard (with none the hold would be missing from the file, and ARI's
        former bridge recording even ended after 2 s of it)."""
        if self.bridge is None:
            return
        with contextlib.suppress(AriError):
            if on:
                await self.ari.start_bridge_moh(self.bridge, HOLD_SILENCE_CLASS)
            else:
                await self.ari.stop_bridge_moh(self.bridge)

    async def _end_hold(self, why: str, thank: bool) -> None:
        held_s = self._held_s()
        if self.hold_prompt is not None:
            with contextlib.suppress(AriError):
                await self.ari.stop_playback(self.hold_prompt)
            self.hold_prompt = None
        with contextlib.suppress(AriError):
            await self.ari.stop_moh(self.call.channel.id)
        if thank:
            await self._play_to_caller("hold-thanks", wait=True)
        self._note_hold_end(why, held_s)

    def _note_hold_end(self, why: str, held_s: float | None = None) -> None:
        self.call.note("hold.ended", {"agent": self.agent, "seconds": self._held_s() if held_s is None else held_s,
                                      "why": why, "reassured": self.progress.reassured,
                                      "reminded": self.progress.reminded})
        self.held_since = None
        self.agent_event(HoldEnded())

    def _held_s(self) -> float:
        return 0.0 if self.held_since is None else round((self.clock.now() - self.held_since).total_seconds(), 1)

    # -- media ------------------------------------------------------------------------------------------
    async def _play_to_caller(self, prompt: str, wait: bool = False) -> None:
        playback = PlaybackId(uuid.uuid4().hex)
        await self.call.act(self.ari.play(self.call.channel.id, f"sound:hotline/{prompt}", playback))
        self.call.note("prompt.played", {"prompt": prompt})
        if not wait:
            self.hold_prompt = playback
            return
        while True:
            event = await self.call.next_event(within=30)
            if event is None or (isinstance(event, PlaybackFinished) and event.playback_id == playback):
                return
            if isinstance(event, (ChannelHangupRequest, StasisEnd, ChannelDestroyed)) and event.channel.id == self.leg:
                self.agent_gone = True
                self.leg_hanging_up = not isinstance(event, StasisEnd)
                self.call.note("call.agent_hung_up", {"agent": self.agent})
            elif isinstance(event, (Transfer, ScriptRequest)):
                self.deferred.append(event)  # the supervisor was told "ok": act on it once the prompt is done

    async def _tell_agent(self, prompt: str) -> None:
        with contextlib.suppress(AriError):
            await self.ari.play(self.leg, f"sound:hotline/{prompt}", PlaybackId(uuid.uuid4().hex))

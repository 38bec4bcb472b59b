"""The call flow the supervisor runs for each caller: answer, then the IVR from the right entry node.

The entry node depends on the number dialled: the hotline number starts at the flow's start node, a
speed line (hotline number + suffix) at its own node. A caller re-adopted after a controller restart carries
on from their position: a menu is said again, a caller in a queue keeps their place and, when nobody can
serve them, goes on at the flow's ``unserved`` node of the queue node that handed them over.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from engine.call_position import CallPosition
from engine.call_session import CallSession
from engine.callbacks.dialer import CallbackDialer
from engine.calls import CallFlow
from engine.ivr.ari_channel import AriIvrChannel
from engine.ivr.library import FlowLibrary
from engine.ivr.ports import Say
from engine.ivr.runner import UNAVAILABLE_PROMPT, FlowRunner, IvrServices
from engine.queueing.service import QueueService
from engine.scripts.farewell import farewell_prompt
from engine.scripts.leave_message import MessageBox
from ivr_flows.model import Flow, FlowCalendar, Offer, Queue

log = logging.getLogger(__name__)


class RunnerPerFlow:
    """The runner of the flow version in force, made once per version, not per call: a runner holds no
    call's state, and making one checks the whole flow (~1 % of the controller's CPU when done per call)."""

    def __init__(self, services: IvrServices) -> None:
        self.services = services
        self._runner: FlowRunner | None = None

    def __call__(self, flow: Flow) -> FlowRunner:
        if self._runner is None or self._runner.flow is not flow:  # a reload makes a new Flow object
            self._runner = FlowRunner(flow, self.services)
        return self._runner


def ivr_call_flow(library: FlowLibrary, services: IvrServices, hotline_number: str,
                  synthesize: Callable[[str], Awaitable[str]], queues: QueueService | None = None,
                  messages: MessageBox | None = None, callbacks: CallbackDialer | None = None) -> CallFlow:
    runner_for = RunnerPerFlow(services)

    async def run_ivr(call: CallSession) -> None:
        flow = library.main  # the version in force when the call arrived serves the whole call
        channel = AriIvrChannel(call, synthesize, queues, messages, callbacks)
        resume = call.resume_from
        if resume is None:
            await call.answer()
            exit_ = await runner_for(flow).run(channel, flow.entry_for(call.channel.dialed, hotline_number))
            log.info("IVR finished: %s", exit_)
        else:
            await resume_call(call, resume, channel, flow)
        if call.served and call.outcome is None and call.ended is None:
            # The agent hung up first: close the call the way the manual's closing lines do.
            call.mark(CallPosition("closing"))
            local = call.clock.now().astimezone(services.tz)
            holiday = (services.calendar or FlowCalendar(flow.calendar)).is_holiday(local.date())
            await channel.say([Say(prompt=farewell_prompt(local, holiday))], barge_in=False)

    async def resume_call(call: CallSession, position: CallPosition, channel: AriIvrChannel, flow: Flow) -> None:
        """A caller re-adopted after a controller crash carries on where they were."""
        call.note("call.resumed", {"stage": position.stage, "node": position.node, "queue": position.queue,
                                   "agent": position.agent})
        log.info("resuming call at %s", position.stage)
        runner = runner_for(flow)
        match position.stage:
            case "ivr" if position.node in flow.nodes:
                if position.queued_at is not None:  # offered choices after waiting: the place is kept
                    call.queued_at, call.queue_priority = position.queued_at, position.priority
                exit_ = await runner.run(channel, position.node, kept=position.vars)
                log.info("IVR finished: %s", exit_)
            case "queued" | "talking" | "held" | "site" | "script" if queues is not None and position.queue:
                if not await channel.resume_queue(position):
                    await unserved(channel, runner, flow, position)
            case "message" if messages is not None:
                queue = position.queue or "general"
                node = flow.nodes.get(position.node or "")
                offer = node if isinstance(node, Offer) else None
                if await messages.started(call):  # Asterisk kept recording (or has the file): keep that
                    await messages.finish(call, queue)
                else:  # the crash came before the beep: ask for the message again
                    await channel.leave_message(queue, position.node,
                                                offer.message_prompt if offer else "message-prompt")
                if offer is not None and offer.message is not None:
                    exit_ = await runner.run(channel, offer.message)
                    log.info("IVR finished: %s", exit_)
                else:
                    await channel.say([Say(prompt="message-thanks")], barge_in=False)
            case "closing":
                call.served = True
            case _:
                exit_ = await runner.run(channel, flow.entry_for(call.channel.dialed, hotline_number))
                log.info("IVR finished: %s", exit_)

    async def unserved(channel: AriIvrChannel, runner: FlowRunner, flow: Flow, position: CallPosition) -> None:
        """A resumed caller nobody can serve goes on where the flow's queue node that handed them over says;
        a position from before the flow named its queue node gets the apology."""
        node = flow.nodes.get(position.node or "")
        if isinstance(node, Queue) and node.unserved is not None:
            exit_ = await runner.run(channel, node.unserved)
            log.info("IVR finished: %s", exit_)
        else:
            await channel.say([Say(prompt=UNAVAILABLE_PROMPT)], barge_in=False)

    return run_ivr

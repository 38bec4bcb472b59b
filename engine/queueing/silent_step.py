"""The silent-call script as a step of the queue journey: after an agent (or the engine) hands a silent
caller over, the engine says the script; a caller who speaks after all goes back to the front of the queue.

The script's rules live in ``engine.scripts.silent_call`` (run on a ``ScriptLine``); this step writes the
caller's position down (a restarted controller says the script again) and journals how it ended.
"""

from __future__ import annotations

from acd.queues import QueueConfig
from engine.call_position import CallPosition
from engine.call_session import CallSession
from engine.pbx.ports import MusicControl
from engine.queueing.transfer import Transfer
from engine.scripts.silent_call import SilentVariant, run_script, script_steps
from engine.scripts.silent_line import AriScriptLine


class SilentScriptStep:
    def __init__(self, control: MusicControl) -> None:
        self.control = control

    async def run(self, call: CallSession, config: QueueConfig, variant: SilentVariant,
                  resume_at: int | None = None) -> bool | Transfer:
        """True once the script ended with the caller silent; a Transfer to the front of the queue when
        they spoke. ``resume_at``: the step a restarted controller found the caller at (it goes on there)."""
        # A silent call is not an abandoned one, even if the caller hangs up during the script.
        call.outcome = "silent"

        async def at_step(step: int) -> None:
            call.mark(CallPosition("script", queue=config.name, queued_at=call.queued_at,
                                         priority=call.queue_priority, variant=variant, step=step))

        await at_step(resume_at or 0)  # the first step's own mark is then already written
        line = AriScriptLine(self.control, call)
        await line.start()
        if resume_at is None:
            call.note("silent.started", {"variant": variant})
        result = await run_script(line, script_steps(variant, config.silent_wait_s), start=resume_at or 0,
                                  on_step=at_step)
        if result.spoke:
            call.outcome = None
            call.note("silent.requeued", {"queue": config.name, "after_step": result.steps})
            await call.act(self.control.start_moh(call.channel.id, config.moh_class))
            return Transfer(queue=config.name, front=True)
        call.note("silent.ended", {"variant": variant})
        return True

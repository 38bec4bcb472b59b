"""The position announcement: a waiting caller hears how many are ahead and about how long it will take.

The figures come from the waiting line (``WaitingLine.place``); this module journals them, says them in
Mandarin through the speech synthesizer (when there is one), and puts the caller's music back on.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable

from acd.queues import QueueConfig
from engine.call_session import CallSession
from engine.pbx.ari import AriError
from engine.pbx.ari_events import PlaybackFinished, PlaybackId
from engine.pbx.ports import MusicControl
from engine.speech.mandarin import say_number

# Text -> prompt name under sound:hotline/ (synthesized and cached).
Speak = Callable[[str], Awaitable[str]]
# A prompt whose PlaybackFinished never comes (lost event) must not keep the caller from their music.
PROMPT_WAIT_S = 30


def announcement_text(position: int, wait_s: float) -> str:
    """What the caller hears: next in line, or how many are ahead and the wait in whole minutes (1 at least)."""
    ahead = position - 1
    minutes = max(1, round(wait_s / 60))
    return ("您是下一位,请稍候。" if ahead == 0 else
            f"您前面还有{say_number(ahead)}位客户,预计等待{say_number(minutes)}分钟,请稍候。")


class PositionAnnouncer:
    def __init__(self, control: MusicControl, speak: Speak | None = None) -> None:
        self.control = control
        self.speak = speak

    async def announce(self, call: CallSession, config: QueueConfig, position: int, wait_s: float) -> None:
        """Tell a waiting caller their position and expected wait, then music again (journaled even when
        there is no speech synthesizer to say it)."""
        call.note("queue.announced", {"queue": config.name, "position": position, "expected_wait_s": round(wait_s)})
        if self.speak is None:
            return
        prompt = await self.speak(announcement_text(position, wait_s))
        with contextlib.suppress(AriError):
            await self.control.stop_moh(call.channel.id)
        playback = PlaybackId(uuid.uuid4().hex)
        await call.act(self.control.play(call.channel.id, f"sound:hotline/{prompt}", playback))
        while True:
            event = await call.next_event(within=PROMPT_WAIT_S)
            if event is None or (isinstance(event, PlaybackFinished) and event.playback_id == playback):
                break
        await call.act(self.control.start_moh(call.channel.id, config.moh_class))

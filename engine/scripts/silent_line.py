"""The silent-call script's ``ScriptLine`` on a real channel: prompts through ARI, speech by talk detection.

Asterisk's TALK_DETECT raises ChannelTalkingStarted when energy on what the caller sends passes a
threshold; our own prompts are not counted (they go the other way).
"""

from __future__ import annotations

import asyncio

from engine.call_session import CallSession
from engine.pbx.ari_events import ChannelTalkingStarted
from engine.pbx.ports import CallControl

# 1.2 s of quiet ends a stretch of talk; energy above 256 counts as talk (Asterisk's defaults are 2.5 s, 256).
TALK_DETECT = "1200,256"


class AriScriptLine:
    def __init__(self, ari: CallControl, call: CallSession) -> None:
        self.ari = ari
        self.call = call

    async def start(self) -> None:
        await self.call.act(self.ari.set_variable(self.call.channel.id, "TALK_DETECT(set)", TALK_DETECT))

    def _spoke(self, event: object, for_speech: bool) -> bool:
        heard = isinstance(event, ChannelTalkingStarted) and event.channel.id == self.call.channel.id
        if heard:
            self.call.note("silent.speech_heard", {})
        return heard and for_speech

    async def say(self, prompt: str, for_speech: bool) -> bool:
        return not await self.call.play(prompt, interrupt=lambda event: self._spoke(event, for_speech))

    async def listen(self, seconds: float, for_speech: bool) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            event = await self.call.next_event(within=left)
            if self._spoke(event, for_speech):
                return True
        return False

    async def hang_up(self) -> None:
        await self.call.hangup()

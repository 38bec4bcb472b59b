"""The recording of one conversation: a snoop on one leg (an audio hook, as app_queue's MixMonitor), recorded.

Why not ARI's bridge recording: it puts a recorder channel in the bridge, which turns the two-party bridge
into a mixing one (a mixing thread, and both parties' audio translated to and from linear for the whole talk).
In the journey benchmark, paired runs: 176 against 227 ms of Asterisk CPU per call with the snoop. A snoop
listens to one leg both ways and leaves the bridge a plain two-party one.

The snoop is a channel of our app (Stasis arguments ``recorder,<call uid>``) that Asterisk starts on its own
thread: it can be recorded only once it is in the app, so ``start`` asks for it and ``take`` records it when
its StasisStart reaches the call's inbox. It ends by itself with the leg it listens to, and its recording
with it. The leg chosen is the agent's (or the overflow site's): it stays in the bridge while the caller is
on hold, so the recording goes on through a hold as it did with the bridge's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from engine.call_session import CallSession
from engine.pbx.ari import AriError
from engine.pbx.ari_events import ChannelId, StasisStart
from engine.pbx.ports import RecordingControl

log = logging.getLogger(__name__)
RECORDER_ARG = "recorder"


def snoop_id(leg: ChannelId) -> ChannelId:
    """The recorder's channel id, named after the leg it listens to (never taken for an agent's leg: those
    start with ``agent``)."""
    return ChannelId(f"rec-{leg}")


class ConversationRecording:
    def __init__(self, ari: RecordingControl, call: CallSession, leg: ChannelId, name: str,
                 facts: Mapping[str, str]) -> None:
        self.ari = ari
        self.call = call
        self.leg = leg
        self.name = name
        self.facts = dict(facts)  # who the conversation is with, for the journal: {"agent": ...} or {"site": ...}
        self.snoop = snoop_id(leg)
        # A file is expected at the end: the snoop was asked for and its recording not refused (the end journals
        # it saved, or missing when the conversation ended before the snoop could be recorded).
        self.expected = False

    async def start(self, refused: str | None = None) -> None:
        """Ask for the snoop; ``refused``: why no recording may start now (a full disk), journaled instead."""
        if refused is not None:
            self._failed(refused)
            return
        self.call.add_leg(self.snoop)  # named before it exists: its StasisStart comes to this call
        try:
            await self.ari.snoop(self.leg, self.snoop, f"{RECORDER_ARG},{self.call.uid}")
        except AriError as exc:
            if self.call.ended is not None:
                raise
            self._failed(str(exc)[:200])
            return
        self.expected = True

    async def take(self, event: object) -> bool:
        """Record the snoop once it is in our app; True when ``event`` was its arrival (nothing else to do)."""
        if not (isinstance(event, StasisStart) and event.channel.id == self.snoop):
            return False
        try:
            await self.ari.record_conversation(self.snoop, self.name)
        except AriError as exc:
            # Disk full, spool unwritable, the leg gone meanwhile: the conversation goes on and the journal says so.
            self.expected = False
            self._failed(str(exc)[:200])
            return True
        self.call.note("recording.started", {"name": self.name, **self.facts})
        return True

    def _failed(self, why: str) -> None:
        log.warning("conversation not recorded: %s", why)
        self.call.note("recording.failed", {"name": self.name, **self.facts, "why": why})

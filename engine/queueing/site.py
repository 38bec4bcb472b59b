"""Per-call overflow to an outside site: the caller is put through to a partner center over SIP.

The site is an endpoint ``hotline-site-<name>`` rendered from the settings' ``overflow_sites`` (dialled only
by the controller, through ARI, like the callback trunk). The site's leg is rung with the caller's number;
once it answers, caller and site share a bridge and the site's leg is recorded like an agent's, until
either side hangs up. A site that does not answer, or cannot be dialled, gives the caller back (False) to
the queue's usual offer (message, callback).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping

from engine.call_position import CallPosition
from engine.call_session import CallSession
from engine.pbx.ari import AriClient, AriError
from engine.pbx.ari_events import (
    BridgeId,
    ChannelDestroyed,
    ChannelHangupRequest,
    ChannelId,
    StasisEnd,
)
from engine.queueing.bridge_end import end_bridge
from engine.queueing.conversation_recording import note_recording_start, recording_name
from engine.settings import OverflowSite

log = logging.getLogger(__name__)
NoteRecording = Callable[[CallSession, str, str], Awaitable[None]]


class SiteLine:
    def __init__(self, ari: AriClient, sites: Mapping[str, OverflowSite], hotline_number: str,
                 note_recording: NoteRecording) -> None:
        self.ari = ari
        self.sites = dict(sites)
        self.hotline_number = hotline_number
        self.note_recording = note_recording

    async def put_through(self, call: CallSession, site: str, queue: str) -> bool:
        """Ring the site for the caller and bridge them; True once the site has talked to the caller."""
        config = self.sites.get(site)
        if config is None:
            call.note("overflow.failed", {"site": site, "why": "no such overflow site in the settings"})
            return False
        leg = ChannelId(f"site{uuid.uuid4().hex[:8]}-{call.uid}")
        recording = recording_name(call.uid, f"site-{site}")
        call.add_leg(leg)
        try:
            await self.ari.ring_leg(endpoint=f"PJSIP/{config.number or self.hotline_number}@hotline-site-{site}",
                                    channel_id=leg, call_uid=call.uid, caller_id=call.channel.caller_number,
                                    timeout_s=int(config.ring_timeout_s), recording=recording)
            answered = await call.until_answered(leg, config.ring_timeout_s + 3)
        except AriError as exc:
            log.warning("could not dial overflow site %s: %s", site, exc)
            answered = False
        if not answered:
            with contextlib.suppress(AriError):
                await self.ari.hangup(leg)
            call.note("overflow.failed", {"site": site, "why": "no answer"})
            return False
        call.note("overflow.answered", {"site": site})
        bridge = await call.act(self.ari.create_bridge("mixing", name=f"site-{call.uid}"))
        with contextlib.suppress(AriError):
            await self.ari.stop_moh(call.channel.id)
        await call.act(self.ari.add_to_bridge(bridge, [call.channel.id, leg]))
        note_recording_start(call, recording, {"site": site}, refused=None)
        call.served = True
        call.mark(CallPosition("site", queue=queue, queued_at=call.queued_at, agent=f"site:{site}", leg=leg,
                                     bridge=bridge, recording=recording))
        await self.talk(call, leg, bridge, recording, site)
        return True

    async def talk(self, call: CallSession, leg: ChannelId, bridge: BridgeId, recording: str, site: str,
                   leg_present: bool = True) -> None:
        """Until the site hangs up (the caller hanging up ends the call's task); then tidy up."""
        try:
            while leg_present:
                event = await call.next_event()
                if isinstance(event, (ChannelHangupRequest, StasisEnd, ChannelDestroyed)) \
                        and event.channel.id == leg:
                    call.note("overflow.site_hung_up", {"site": site})
                    break
        finally:
            with contextlib.suppress(AriError):
                await self.ari.hangup(leg)
            await end_bridge(self.ari, bridge, call.channel.id if call.ended is None else None)
            await self.note_recording(call, recording, f"site:{site}")


"""Ringing one agent for a caller: the agent's softphone on a new leg of the caller's call.

The leg is registered with the call before it is dialled (its events reach the caller's task), rung with
the caller's number for the queue's ring timeout, and either answers (it enters our app: the leg is
returned) or is missed (no answer, refused, unreachable: the leg is hung up, None). What a miss means
for the agent (``OfferMissed``) is the caller of this module's business, not the phone's.
"""

from __future__ import annotations

import contextlib
import logging

from acd.model import AgentId
from engine.call_session import CallEnded, CallSession
from engine.pbx.ari import AriError
from engine.pbx.ari_events import ChannelId
from engine.pbx.ports import AgentLineControl

log = logging.getLogger(__name__)
# Asterisk gives up on the agent after the ring timeout; we wait a little longer for its ChannelDestroyed.
ANSWER_GRACE_S = 3


class AgentRinger:
    def __init__(self, control: AgentLineControl) -> None:
        self.control = control
        self._legs = 0  # leg ids unique within this controller's life, whatever the caller's uid

    async def ring(self, call: CallSession, agent: AgentId, sip_user: str, ring_timeout_s: float,
                   recording: str | None) -> ChannelId | None:
        """Ring the agent's softphone for the caller; the agent's answered leg, or None when missed. Asterisk
        records the conversation into ``recording`` once the leg answers (None: not recorded).
        Raises CallEnded (after hanging up the leg) when the caller hangs up meanwhile."""
        self._legs += 1
        leg = ChannelId(f"agent{self._legs}-{call.uid}")
        call.add_leg(leg)
        call.note("queue.offered", {"agent": agent})
        try:
            await self.control.ring_leg(endpoint=f"PJSIP/{sip_user}", channel_id=leg, call_uid=call.uid,
                                        caller_id=call.channel.caller_number, timeout_s=int(ring_timeout_s),
                                        recording=recording)
            answered = await call.until_answered(leg, ring_timeout_s + ANSWER_GRACE_S)
        except AriError as exc:
            log.warning("could not ring agent %s: %s", agent, exc)
            answered = False
        except CallEnded:
            await self.hang_up(leg)
            raise
        if not answered:
            await self.hang_up(leg)
            call.note("queue.no_answer", {"agent": agent})
            return None
        return leg

    async def hang_up(self, leg: ChannelId) -> None:
        """Hang up an agent's leg; one that is already gone is no fault."""
        with contextlib.suppress(AriError):
            await self.control.hangup(leg)

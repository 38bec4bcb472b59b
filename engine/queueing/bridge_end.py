"""The end of a conversation's bridge, with the caller free to be played to at once.

Asterisk takes the channels out of a destroyed bridge on their own threads, a moment later. A prompt
requested for the caller in that moment is queued on the bridge channel that is leaving and is lost:
Asterisk neither plays it nor reports it finished (res_stasis plays into the bridge while the channel's
control still names it). A caller waiting for the farewell then heard silence until they hung up (seen
once in ``tests/chaos/test_recording_disk_full.py``). ARI's removeChannel departs the channel before it
answers, so the caller is taken out first and what they hear next plays on their own channel.
"""

from __future__ import annotations

import contextlib

from engine.pbx.ari import AriError
from engine.pbx.ari_events import BridgeId, ChannelId
from engine.pbx.ports import BridgeControl


async def end_bridge(ari: BridgeControl, bridge: BridgeId, caller: ChannelId | None) -> None:
    """Take ``caller`` out of ``bridge`` (None: gone, or already out on hold), then destroy it."""
    if caller is not None:
        with contextlib.suppress(AriError):
            await ari.remove_from_bridge(bridge, [caller])
    with contextlib.suppress(AriError):
        await ari.destroy_bridge(bridge)

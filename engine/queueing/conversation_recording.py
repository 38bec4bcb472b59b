"""The recording of one conversation: Asterisk records the agent's (or overflow site's) leg by itself.

The leg is rung into the dialplan (``hotline-leg-answered``), which starts MixMonitor on it when it answers,
both ways and only while it is bridged, before handing it to our app. Why not the controller's snoop +
ARI recording of earlier sessions: they took two more round trips once caller and agent were bridged (the
snoop, then its recording once it was in the app), and past the benchmark's knee those came seconds late:
some conversations were over before their recording could start. Here the recording starts with the bridge.
(With audio flowing, MixMonitor costs Asterisk about what the snoop channel did; the controller makes one
request and gets two events fewer per call.) The leg stays in the bridge while the caller is on hold, so the
recording goes on through a hold; a resumed conversation's recording went on in Asterisk while no controller was there.
MixMonitor writes the audio that flows: a stretch in which neither phone sends any is not in the file.

Here the conversation only names the file before the ring (``recording_name``) and, once bridged, journals
that it is recorded, or why not (a full disk: ``refused``, then the leg is rung without a file name).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from engine.call_session import CallSession

log = logging.getLogger(__name__)


def recording_name(call_uid: str, party: str) -> str:
    """A file of its own per conversation: a caller who comes back to the same agent must never overwrite the
    first recording, whose checksum is already journaled."""
    return f"{call_uid}-{party}-{uuid.uuid4().hex[:8]}"


def note_recording_start(call: CallSession, name: str, facts: Mapping[str, str], refused: str | None) -> bool:
    """Journal the conversation's recording as started, or failed with why (``refused``: the leg was rung
    without one); True when a file is to be expected at the end."""
    if refused is not None:
        log.warning("conversation not recorded: %s", refused)
        call.note("recording.failed", {"name": name, **facts, "why": refused})
        return False
    call.note("recording.started", {"name": name, **facts})
    return True

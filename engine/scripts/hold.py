"""The hold script's timeline (请客户等待), as pure decisions: what is due next while a caller is held.

While held the caller hears the hold prompt, then music with a reassurance prompt every
``reassure_every_s``; past ``target_s`` (the manual's 20-60 s hold target) the agent hears a reminder
once; at ``limit_s`` the caller is reconnected whatever the agent does. The conversation module plays
the prompts and moves the channels; this module only says what is due and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HoldStep(StrEnum):
    REASSURE = "reassure"
    REMIND_AGENT = "remind_agent"
    RECONNECT = "reconnect"


@dataclass(frozen=True)
class HoldTimings:
    reassure_every_s: float = 30.0
    target_s: float = 60.0
    limit_s: float = 180.0


@dataclass(frozen=True)
class HoldProgress:
    """What has been done during this hold so far."""

    reassured: int = 0
    reminded: bool = False

    def after(self, step: HoldStep) -> HoldProgress:
        if step is HoldStep.REASSURE:
            return HoldProgress(self.reassured + 1, self.reminded)
        if step is HoldStep.REMIND_AGENT:
            return HoldProgress(self.reassured, True)
        return self


def next_hold_step(progress: HoldProgress, timings: HoldTimings) -> tuple[HoldStep, float]:
    """The next step and the held time (seconds since the hold began) at which it is due.

    Reconnecting wins a tie: a reassurance due at the limit would only delay the caller's return.
    """
    due = [(timings.limit_s, 0, HoldStep.RECONNECT)]
    if not progress.reminded and timings.target_s < timings.limit_s:
        due.append((timings.target_s, 1, HoldStep.REMIND_AGENT))
    reassure_at = (progress.reassured + 1) * timings.reassure_every_s
    if reassure_at < timings.limit_s:
        due.append((reassure_at, 2, HoldStep.REASSURE))
    at, _, step = min(due)
    return step, at

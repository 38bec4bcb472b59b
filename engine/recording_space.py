"""Whether the recordings' disk can take a conversation, and whether a finished recording covers it.

Asterisk keeps a recording "running" when its disk is full and simply writes nothing more, so
neither ARI nor the file says the recording was cut: the file's length against the conversation's does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

# About a minute of 8 kHz 16-bit audio: below this a new conversation is not recorded at all.
MIN_FREE_BYTES: Final = 1 << 20
# A recording this much shorter than its conversation (or 10 % of it, whichever is more) was cut short;
# the bridge and the recording start a moment after the answer.
CUT_SHORT_S: Final = 2.0


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on ``folder``'s file system (0 when it cannot be read)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return 0
    return stats.f_bavail * stats.f_frsize


def refusal(folder: Path) -> str | None:
    """Why a new recording cannot be made in ``folder`` (None: it can)."""
    free = free_bytes(folder)
    return None if free >= MIN_FREE_BYTES else f"disk full: {free // 1024} KiB free in {folder}"


def cut_short(recorded_s: float, talk_s: float) -> bool:
    return talk_s - recorded_s > max(CUT_SHORT_S, 0.1 * talk_s)

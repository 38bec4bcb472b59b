"""The farewell a caller hears when the agent has hung up first (the manual's closing lines).

On weekends and holidays the manual adds the wish: "祝您周末愉快" / "祝您节日愉快"; a holiday wins over a
weekend. Pure: the caller's local time and whether it is a holiday come in.
"""

from __future__ import annotations

from datetime import datetime


def farewell_prompt(local: datetime, holiday: bool) -> str:
    if holiday:
        return "farewell-holiday"
    if local.weekday() >= 5:
        return "farewell-weekend"
    return "farewell"

"""What the journal writer pre-computes for reports, and the time grid reports sum on. Pure: no I/O.

- ``call_columns(detail)``: a disposition's detail (engine.reports.disposition) as the typed ``calls``
  columns reports sum in SQL; ``talk_rows(call_id, detail)``: its ``call_talks`` rows.
- ``split(start, end)``: an agent's state span cut into quarter-hour slots (``SLOT_S``), for ``agent_time``.
- ``grid(points)``: the coarsest step (and its phase) on which every interval boundary of a report falls,
  so that the database can group calls and agent time by step and each group lies in one interval.

Quarter hours because every time zone in use is a whole number of quarter hours from UTC, so half hours,
hours and days of local time are whole slots.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

SLOT_S: Final = 900
STEPS: Final = (86400, 3600, 1800, 900, 60, 1)
UNCOUNTED_STATES: Final = frozenset({"logged_out"})
"""States no report sums (agent_time leaves them out: nights and weekends would fill it)."""


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def slot_of(moment: datetime) -> int:
    return math.floor(moment.timestamp() / SLOT_S)


def slot_start(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * SLOT_S, UTC)


def split(start: datetime, end: datetime) -> list[tuple[int, float]]:
    """``(slot, seconds)`` of the span [start, end) in each quarter hour it touches."""
    first, last = start.timestamp(), end.timestamp()
    pieces: list[tuple[int, float]] = []
    slot = math.floor(first / SLOT_S)
    while slot * SLOT_S < last:
        low, high = max(first, slot * SLOT_S), min(last, (slot + 1) * SLOT_S)
        if high > low:
            pieces.append((slot, high - low))
        slot += 1
    return pieces


def grid(points: Sequence[int]) -> tuple[int, int]:
    """``(step, phase)``: the largest of ``STEPS`` such that every point is ``phase + k * step``."""
    for step in STEPS:
        phase = points[0] % step
        if all((p - phase) % step == 0 for p in points):
            return step, phase
    return 1, 0


def call_columns(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The typed ``calls`` columns of a call with this disposition detail."""
    d = detail or {}
    callback = d.get("callback") or {}
    wait = d.get("wait_s")
    return {"queue": d.get("queue"), "agent": d.get("agent"), "wait_s": None if wait is None else float(wait),
            "rings": int(d.get("rings") or 0), "transfers": int(d.get("transfers") or 0),
            "overflows": int(d.get("overflows") or 0), "tried_self_service": bool(d.get("tried_self_service")),
            "callback_booked": "booked" in callback, "callback_done": "done" in callback,
            "callback_failed": "failed" in callback}


def talk_rows(call_id: int, detail: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One ``call_talks`` row per conversation in the detail's ``talks``."""
    return [{"call_id": call_id, "agent": str(t[0]), "talk_s": float(t[1]), "hold_s": float(t[2]),
             "ended_by": str(t[3]) if len(t) > 3 else "end"} for t in (detail or {}).get("talks") or ()]

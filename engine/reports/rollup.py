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
HOUR_S: Final = 3600
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
    talks = d.get("talks") or ()
    return {"queue": d.get("queue"), "agent": d.get("agent"), "wait_s": None if wait is None else float(wait),
            "rings": int(d.get("rings") or 0), "transfers": int(d.get("transfers") or 0),
            "overflows": int(d.get("overflows") or 0), "tried_self_service": bool(d.get("tried_self_service")),
            "callback_booked": "booked" in callback, "callback_done": "done" in callback,
            "callback_failed": "failed" in callback, "conversations": len(talks),
            "talk_s": float(sum(float(t[1]) for t in talks)), "hold_s": float(sum(float(t[2]) for t in talks))}


def talk_rows(call_id: int, started_at: datetime, detail: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One ``call_talks`` row per conversation in the detail's ``talks``."""
    d = detail or {}
    return [{"call_id": call_id, "agent": str(t[0]), "talk_s": float(t[1]), "hold_s": float(t[2]),
             "ended_by": str(t[3]) if len(t) > 3 else "end", "started_at": started_at, "queue": d.get("queue")}
            for t in d.get("talks") or ()]


def caller_gaps(previous: Mapping[str, datetime], starting: Sequence[tuple[int, str, datetime]]
                ) -> tuple[dict[int, dict[str, float]], dict[str, float]]:
    """Seconds between each caller's inbound calls, for calls starting now.

    ``previous``: each caller's latest inbound call already journaled (its start); ``starting``: new
    inbound calls ``(id, caller, started_at)``. Returns, per new call id, its ``previous_gap_s`` and
    ``next_gap_s`` (the latter when a later new call of the same caller follows it), and per caller the
    ``next_gap_s`` of their latest journaled call. A call arriving out of order links to nothing.
    """
    gaps: dict[int, dict[str, float]] = {}
    earlier_next: dict[str, float] = {}
    last: dict[str, tuple[int | None, datetime]] = {c: (None, at) for c, at in previous.items()}
    for call_id, caller, at in sorted(starting, key=lambda s: (s[1], s[2], s[0])):
        gaps[call_id] = {}
        before = last.get(caller)
        if before is not None and at > before[1]:
            gap = (at - before[1]).total_seconds()
            gaps[call_id]["previous_gap_s"] = gap
            if before[0] is None:
                earlier_next[caller] = gap
            else:
                gaps[before[0]]["next_gap_s"] = gap
        if before is None or at > before[1]:
            last[caller] = (call_id, at)
    return gaps, earlier_next

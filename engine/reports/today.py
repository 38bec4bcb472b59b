"""Today's figures per queue for the wallboard: service level and abandon rate since local midnight.

``summarize`` is pure (queue events in, one ``QueueToday`` per queue out); ``load_today`` is its cheap
query: the calls started today (``calls.started_at`` is indexed) and only their queue events and end.

Per call, in journal order: the first ``queue.entered`` starts the wait (a caller keeps their place when
transferred or choosing to keep waiting) and names the call's queue (its first queue, as in `hotline
report`). Then:

- answered: ``queue.answered`` (the first one); within target when the wait <= the queue's
  ``service_level_s``;
- abandoned: the call ended while the caller was in the queue; a wait <= ``short_abandon_s`` (20 s by
  the manual) is a short abandon, removed from the figures;
- unserved: the caller left the queue without an agent (``queue.left``: maximum wait, nobody signed in
  any more, then message or callback) or met a queue with nobody signed in (``queue.closed``);
- still waiting or talking: not counted yet (the live status shows who waits).

    offered        = answered + abandoned + unserved        (short abandons removed)
    service level  = answered within target / offered
    abandon rate   = abandoned / offered

Booked callbacks entering a queue (``callback`` flag) are the hotline calling out and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from sqlalchemy import Engine, select

from engine.store.tables import call_events, calls

SHORT_ABANDON_S = 20.0
DEFAULT_TARGET_S = 20.0
KINDS = ("queue.entered", "queue.answered", "queue.left", "queue.closed", "call.ended")


@dataclass(frozen=True)
class QueueEvent:
    """One journal row that matters to today's figures."""

    call_uid: str
    at: datetime
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueToday:
    queue: str
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    unserved: int = 0

    @property
    def offered(self) -> int:
        return self.answered + self.abandoned + self.unserved

    @property
    def service_level(self) -> float | None:
        return self.answered_in_target / self.offered if self.offered else None

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None


@dataclass
class _Call:
    queue: str | None = None
    entered_at: datetime | None = None
    in_queue: bool = False
    outcome: str | None = None  # answered, abandoned, unserved
    wait_s: float = 0.0
    callback: bool = False


def _follow(call: _Call, event: QueueEvent) -> None:
    queue = event.data.get("queue")
    if call.queue is None and queue is not None and event.kind != "call.ended":
        call.queue = str(queue)
    match event.kind:
        case "queue.entered":
            call.callback = call.callback or bool(event.data.get("callback"))
            if call.outcome == "answered":
                return  # transferred after an answer: already counted where it was answered
            call.entered_at = call.entered_at or event.at
            call.in_queue, call.outcome = True, None
        case "queue.answered" if call.outcome != "answered" and call.entered_at is not None:
            call.outcome, call.in_queue = "answered", False
            call.wait_s = (event.at - call.entered_at).total_seconds()
        case "queue.left" if call.outcome != "answered":
            call.outcome, call.in_queue = "unserved", False
        case "queue.closed" if call.outcome is None:
            call.outcome = "unserved"
        case "call.ended" if call.in_queue and call.outcome != "answered" and call.entered_at is not None:
            call.outcome, call.in_queue = "abandoned", False
            call.wait_s = (event.at - call.entered_at).total_seconds()


def summarize(events: Iterable[QueueEvent], targets_s: Mapping[str, float],
              short_abandon_s: float = SHORT_ABANDON_S) -> dict[str, QueueToday]:
    """Today's figures per queue from the events of today's calls (in journal order per call)."""
    followed: dict[str, _Call] = {}
    for event in events:
        _follow(followed.setdefault(event.call_uid, _Call()), event)
    counts: dict[str, dict[str, int]] = {}
    for call in followed.values():
        if call.callback or call.queue is None or call.outcome is None:
            continue
        mine = counts.setdefault(call.queue, {"answered": 0, "answered_in_target": 0, "abandoned": 0,
                                              "short_abandons": 0, "unserved": 0})
        if call.outcome == "answered":
            mine["answered"] += 1
            if call.wait_s <= targets_s.get(call.queue, DEFAULT_TARGET_S):
                mine["answered_in_target"] += 1
        elif call.outcome == "abandoned":
            mine["short_abandons" if call.wait_s <= short_abandon_s else "abandoned"] += 1
        else:
            mine["unserved"] += 1
    return {queue: QueueToday(queue=queue, **figures) for queue, figures in sorted(counts.items())}


def local_midnight(now: datetime, tz: tzinfo) -> datetime:
    local_day: date = now.astimezone(tz).date()
    return datetime.combine(local_day, time(0, 0), tzinfo=tz).astimezone(UTC)


def load_today(db: Engine, now: datetime, tz: tzinfo, targets_s: Mapping[str, float],
               short_abandon_s: float = SHORT_ABANDON_S) -> dict[str, QueueToday]:
    """Today's figures per queue (the day of ``now`` in ``tz``), from the journal."""
    query = (select(calls.c.call_uid, call_events.c.at, call_events.c.kind, call_events.c.data)
             .join(call_events, call_events.c.call_id == calls.c.id)
             .where(calls.c.started_at >= local_midnight(now, tz), calls.c.source != "callback",
                    call_events.c.kind.in_(KINDS))
             .order_by(calls.c.id, call_events.c.seq))
    with db.connect() as conn:
        events = [QueueEvent(call_uid=row.call_uid, at=row.at, kind=row.kind, data=row.data or {})
                  for row in conn.execute(query)]
    return summarize(events, targets_s, short_abandon_s)

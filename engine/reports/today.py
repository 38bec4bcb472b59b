"""Today's figures per queue for the wallboard: service level and abandon rate since local midnight.

The same calls and the same rules as `hotline report`, by construction: each ended call's disposition and
facts as the journal writer stored them (``calls.disposition``, ``queue``, ``agent``, ``wait_s``: see
engine.reports.disposition), and the report's split of queue hang-ups (``kpis.queue_outcome``: a wait <=
the short-abandon threshold, 20 s, is a short abandon). ``summarize`` is pure; ``load_today`` is its cheap
query (``calls.started_at`` is indexed). Per queue (a call's first queue):

- answered: an agent answered; within target when the wait <= the queue's ``service_level_s``;
- abandoned: the caller hung up in the queue after more than the threshold; short abandons are left out;
- unserved: every other call that reached the queue without an agent (turned away, message, callback,
  moved by the overflow);
- calls still in progress: not counted until they end (the live status shows who waits).

    offered        = answered + abandoned + unserved        (the report's offered - short abandons)
    service level  = answered within target / offered
    abandon rate   = abandoned / offered

Calls the hotline placed (booked callbacks, source ``callback``) are left out, as in the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

from sqlalchemy import Engine, select

from engine.reports.disposition import SHORT_ABANDON_S
from engine.reports.kpis import queue_outcome
from engine.store.tables import calls

DEFAULT_TARGET_S = 20.0


@dataclass(frozen=True)
class TodayCall:
    """What the wallboard needs of one ended call (a ``calls`` row)."""

    queue: str | None
    disposition: str
    wait_s: float | None = None
    agent: str | None = None
    source: str = "controller"


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


def summarize(ended: Iterable[TodayCall], targets_s: Mapping[str, float],
              short_abandon_s: float = SHORT_ABANDON_S) -> dict[str, QueueToday]:
    """Today's figures per queue from today's ended calls."""
    counts: dict[str, dict[str, int]] = {}
    for call in ended:
        if call.source == "callback" or call.queue is None:
            continue
        mine = counts.setdefault(call.queue, {"answered": 0, "answered_in_target": 0, "abandoned": 0,
                                              "short_abandons": 0, "unserved": 0})
        outcome = queue_outcome(call.disposition, call.wait_s, call.agent, short_abandon_s)
        mine[outcome] += 1
        if outcome == "answered" and (call.wait_s or 0.0) <= targets_s.get(call.queue, DEFAULT_TARGET_S):
            mine["answered_in_target"] += 1
    return {queue: QueueToday(queue=queue, **figures) for queue, figures in sorted(counts.items())}


def local_midnight(now: datetime, tz: tzinfo) -> datetime:
    local_day: date = now.astimezone(tz).date()
    return datetime.combine(local_day, time(0, 0), tzinfo=tz).astimezone(UTC)


def load_today(db: Engine, now: datetime, tz: tzinfo, targets_s: Mapping[str, float],
               short_abandon_s: float = SHORT_ABANDON_S) -> dict[str, QueueToday]:
    """Today's figures per queue (the day of ``now`` in ``tz``), from the journal's calls."""
    c = calls.c
    query = select(c.queue, c.disposition, c.wait_s, c.agent, c.source).where(
        c.started_at >= local_midnight(now, tz), c.ended_at.is_not(None), c.disposition.is_not(None),
        c.queue.is_not(None), c.source != "callback")
    with db.connect() as conn:
        ended = [TodayCall(r.queue, r.disposition, r.wait_s, r.agent, r.source) for r in conn.execute(query)]
    return summarize(ended, targets_s, short_abandon_s)

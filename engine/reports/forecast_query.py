"""Reads the forecast's history from the journal (SQLAlchemy Core, SQLite and PostgreSQL alike).

For each sample day (engine.reports.forecast.sample_days) one query over the calls started that day
(``calls.started_at`` is indexed) joined to their queue events gives when each call first asked for an
agent (``queue.entered`` or ``queue.closed``) and when one answered (``queue.answered``); a second reads
the agent journal (``agent_events``) of that day to measure handle times (talk + hold + after-call
work). A call answered without agent rows (older journals) counts from ``queue.answered`` to its end.
Booked callbacks (source ``callback``) are the hotline calling out: not offered load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import Engine, case, func, select

from engine.reports.forecast import AgentStateRow, HistoryCall, handle_times, sample_days
from engine.store.agent_journal_tables import agent_events
from engine.store.tables import call_events, calls

OFFERED_KINDS = ("queue.entered", "queue.closed")
ANSWERED_KIND = "queue.answered"
# A call started shortly before midnight may reach the queue after it; wrap-up may end after the day.
MARGIN = timedelta(hours=2)


@dataclass(frozen=True)
class History:
    samples: list[date]
    calls: list[HistoryCall]


def first_call_day(db: Engine, tz: tzinfo) -> date | None:
    """The local date of the journal's first call, None for an empty journal."""
    with db.connect() as conn:
        first = conn.execute(select(func.min(calls.c.started_at))).scalar()
    return first.astimezone(tz).date() if isinstance(first, datetime) else None


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def day_calls(db: Engine, start: datetime, end: datetime) -> list[HistoryCall]:
    """Calls that asked for an agent between ``start`` and ``end``, with the time agents spent on them."""
    asked = func.min(case((call_events.c.kind.in_(OFFERED_KINDS), call_events.c.at)))
    answered = func.min(case((call_events.c.kind == ANSWERED_KIND, call_events.c.at)))
    query = (select(calls.c.call_uid, calls.c.ended_at, asked.label("asked_at"), answered.label("answered_at"))
             .join(call_events, call_events.c.call_id == calls.c.id)
             .where(calls.c.started_at >= start - MARGIN, calls.c.started_at < end, calls.c.source != "callback",
                    call_events.c.kind.in_((*OFFERED_KINDS, ANSWERED_KIND)))
             .group_by(calls.c.id, calls.c.call_uid, calls.c.ended_at))
    agent_query = (select(agent_events.c.agent, agent_events.c.at, agent_events.c.from_state,
                          agent_events.c.to_state, agent_events.c.call_uid)
                   .where(agent_events.c.at >= start, agent_events.c.at < end + MARGIN,
                          agent_events.c.call_uid.is_not(None))
                   .order_by(agent_events.c.at, agent_events.c.id))
    with db.connect() as conn:
        rows = conn.execute(query).all()
        agent_rows = [AgentStateRow(agent=r.agent, at=r.at, from_state=r.from_state, to_state=r.to_state,
                                    call_uid=r.call_uid) for r in conn.execute(agent_query)]
    handled = handle_times(agent_rows)
    found = []
    for row in rows:
        asked_at = _aware(row.asked_at)
        if asked_at is None or not start <= asked_at < end:
            continue
        handle_s = handled.get(row.call_uid)
        answered_at, ended_at = _aware(row.answered_at), row.ended_at
        if handle_s is None and answered_at is not None and ended_at is not None:
            handle_s = max(0.0, (ended_at - answered_at).total_seconds())
        found.append(HistoryCall(offered_at=asked_at, handle_s=handle_s))
    return found


def _aware(value: object) -> datetime | None:
    """Aggregates over a CASE may lose the column type on some backends: naive values there are UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return _aware(datetime.fromisoformat(value))
    return None


def load_history(db: Engine, day: date, days: int, today: date, tz: tzinfo) -> History:
    """The sample days of ``day``'s forecast and the calls of those days."""
    samples = sample_days(day, days, today, first_call_day(db, tz))
    history: list[HistoryCall] = []
    for sample in samples:
        history += day_calls(db, _local_midnight(sample, tz), _local_midnight(sample + timedelta(days=1), tz))
    return History(samples=samples, calls=history)

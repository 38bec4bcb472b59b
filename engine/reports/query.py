"""Reading a period of the journal for reports, and keeping ``calls.disposition`` filled (SQLAlchemy Core).

Reports scan ``calls`` by ``started_at`` (indexed) and read each call's disposition and facts from
``calls.disposition`` / ``disposition_detail``, which the journal writer fills from the call's events when
``call.ended`` arrives (``project_dispositions``, in the writer's batch transaction); a call without them
(journaled by an older writer between a restore and the migration, say) is derived from its events here.
Agent time comes from ``agent_events`` (index on agent, at), with each agent's state at the period start.
Works the same on SQLite and PostgreSQL. Collaborators: engine.reports.disposition, engine.reports.kpis.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, select, update

from engine.reports.disposition import Event, Rules, derive
from engine.reports.kpis import AgentSpan, CallerHistory, CallFacts, Options, spans_from_changes
from engine.store.agent_journal_tables import agent_events
from engine.store.agent_tables import agents
from engine.store.tables import call_events, calls

CHUNK = 500


def _events_by_call(connection: Connection, call_ids: list[int]) -> dict[int, list[Event]]:
    found: dict[int, list[Event]] = defaultdict(list)
    for first in range(0, len(call_ids), CHUNK):
        chunk = call_ids[first:first + CHUNK]
        query = (select(call_events.c.call_id, call_events.c.kind, call_events.c.at, call_events.c.data)
                 .where(call_events.c.call_id.in_(chunk)).order_by(call_events.c.call_id, call_events.c.seq))
        for row in connection.execute(query):
            found[row.call_id].append((row.kind, row.at, row.data or {}))
    return found


def project_dispositions(connection: Connection, call_ids: Iterable[int], rules: Rules | None = None) -> None:
    """Fill ``calls.disposition`` and ``disposition_detail`` of these (ended) calls from their events."""
    ids = sorted(set(call_ids))
    if not ids:
        return
    events = _events_by_call(connection, ids)
    rows = []
    for call_id in ids:
        disposition = derive(events.get(call_id, ()), rules or Rules())
        rows.append({"call": call_id, "name": disposition.name, "detail": disposition.detail})
    connection.execute(
        update(calls).where(calls.c.id == bindparam("call"))
        .values(disposition=bindparam("name"), disposition_detail=bindparam("detail")),
        rows,
    )


@dataclass(frozen=True)
class PeriodData:
    calls: list[CallFacts]
    spans: list[AgentSpan]
    history: CallerHistory
    live: int


def read_period(engine: Engine, start: datetime, end: datetime, options: Options, *, queue: str | None = None,
                agent: str | None = None) -> PeriodData:
    """The ended calls that started in [start, end), agents' state spans in it, and callers' history."""
    c = calls.c
    columns = (c.id, c.call_uid, c.caller, c.source, c.started_at, c.ended_at, c.disposition, c.disposition_detail)
    in_period = and_(c.started_at >= start, c.started_at < end)
    with engine.connect() as connection:
        rows = list(connection.execute(select(*columns).where(in_period)))
        missing = [r.id for r in rows if r.ended_at is not None and r.disposition is None]
        derived = {call_id: derive(events) for call_id, events in _events_by_call(connection, missing).items()}
        facts: list[CallFacts] = []
        live = 0
        for r in rows:
            if r.ended_at is None:
                live += 1
                continue
            name, detail = r.disposition, r.disposition_detail
            if name is None:
                found = derived.get(r.id) or derive(())
                name, detail = found.name, found.detail
            facts.append(CallFacts.from_detail(r.call_uid, r.caller, r.source, r.started_at, name, detail))
        if queue is not None:
            facts = [f for f in facts if f.queue == queue]
        if agent is not None:
            facts = [f for f in facts if any(t.agent == agent for t in f.talks)]
        history = _history(connection, facts, start, end, options)
        spans = _spans(connection, start, end, agent)
    facts.sort(key=lambda f: f.started_at)
    return PeriodData(facts, spans, history, live)


def _history(connection: Connection, facts: list[CallFacts], start: datetime, end: datetime,
             options: Options) -> CallerHistory:
    c = calls.c
    callers = {f.caller for f in facts if f.caller}
    window = options.fcr_window
    query = (select(c.caller, c.started_at)
             .where(c.started_at >= start - window, c.started_at < end + window, c.source != "callback",
                    c.caller.is_not(None))
             .order_by(c.started_at))
    starts: dict[str, list[datetime]] = defaultdict(list)
    for row in connection.execute(query):
        if row.caller in callers:
            starts[row.caller].append(row.started_at)
    return CallerHistory(dict(starts))


def _spans(connection: Connection, start: datetime, end: datetime, agent: str | None) -> list[AgentSpan]:
    e = agent_events.c
    # Each agent's last change before the period says what state they were in when it began.
    before = select(e.agent, func.max(e.at).label("at")).where(e.at < start)
    if agent is not None:
        before = before.where(e.agent == agent)
    last = before.group_by(e.agent).subquery()
    opening = (select(e.agent, e.at, e.to_state, e.call_uid)
               .join(last, and_(e.agent == last.c.agent, e.at == last.c.at)))
    inside = select(e.agent, e.at, e.to_state, e.call_uid).where(e.at >= start, e.at < end)
    if agent is not None:
        inside = inside.where(e.agent == agent)
    changes: list[tuple[str, datetime, str, str | None]] = []
    for query in (opening, inside.order_by(e.at, e.id)):
        changes.extend((r.agent, r.at, r.to_state, r.call_uid) for r in connection.execute(query))
    changes.sort(key=lambda change: change[1])
    return spans_from_changes(changes, end, start)


def known_agents(engine: Engine) -> set[str]:
    """Work numbers of agents configured now or seen in the journal."""
    with engine.connect() as connection:
        configured = {str(r[0]) for r in connection.execute(select(agents.c.work_number))}
        seen = {str(r[0]) for r in connection.execute(select(agent_events.c.agent).distinct())}
    return configured | seen



def dispositions_of(engine: Engine, call_ids: Iterable[int]) -> dict[int, tuple[str, dict[str, Any]]]:
    """The disposition and its detail of these calls (ended calls only; derived from events if not stored)."""
    ids = sorted(set(call_ids))
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    with engine.connect() as connection:
        missing = []
        for first in range(0, len(ids), CHUNK):
            query = (select(calls.c.id, calls.c.ended_at, calls.c.disposition, calls.c.disposition_detail)
                     .where(calls.c.id.in_(ids[first:first + CHUNK])))
            for row in connection.execute(query):
                if row.disposition is not None:
                    found[row.id] = (row.disposition, dict(row.disposition_detail or {}))
                elif row.ended_at is not None:
                    missing.append(row.id)
        for call_id, events in _events_by_call(connection, missing).items():
            derived = derive(events)
            found[call_id] = (derived.name, derived.detail)
    return found

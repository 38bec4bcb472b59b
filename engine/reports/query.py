"""Reading a period's sums from the journal for reports (SQLAlchemy Core, SQLite and PostgreSQL alike).

The database does the counting: one GROUP BY over ``calls`` by (time step, first queue, disposition, source,
answered), from the typed fact columns the journal writer fills (repeat callers and first-call resolution from
the seconds to each caller's previous and next call, ACW per queue from each call's ACW total, also kept by the
writer), one over ``call_talks`` by agent, and two over the agent-time rollups (by hour or quarter hour and
state, by agent and state, each in an index's order). Everything the per-call rule (``kpis._add_call``)
branches on is part of the calls' group, so the database sums only what varies per call and
``kpis.kind_tally`` applies the rule per group (a test holds the two to the same hand-computed journal). The
time step is one on which every interval boundary of the report falls (``rollup.grid``: a day for days and
months in a zone without daylight saving, an hour or a half hour otherwise), so a year comes back as a few
thousand rows; engine.reports.kpis adds them up and computes the figures. Agent time: the whole hours of
``agent_time_hourly`` when every interval boundary is on a whole hour, else (and at the edges) the quarter
hours of ``agent_time``, plus each agent's current state until the period's end, plus the exact spans of a
period edge that is not on a quarter hour.
Collaborators: engine.reports.rollup, engine.reports.projection (fills what is read here), kpis.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal_column,
    select,
)

from engine.reports.disposition import derive
from engine.reports.kpis import (
    AgentSpan,
    AgentTalk,
    AgentTime,
    CallGroup,
    CallKind,
    KindSums,
    Options,
    PeriodSums,
    StateTime,
    Tally,
    kind_tally,
    spans_from_changes,
)
from engine.reports.projection import CHUNK, events_by_call, project_dispositions
from engine.reports.rollup import HOUR_S, SLOT_S, UNCOUNTED_STATES, grid
from engine.store.agent_journal_tables import agent_events
from engine.store.agent_tables import agents
from engine.store.report_tables import agent_time, agent_time_hourly, call_acw, call_talks
from engine.store.tables import calls


@dataclass(frozen=True)
class PeriodData:
    sums: PeriodSums
    live: int


def _step_of(column: Any, dialect: str, step: int, phase: int) -> ColumnElement[Any]:
    """Which step of the grid (phase + k * step seconds) a timestamp falls in: k (exact integer arithmetic)."""
    whole = (cast(func.strftime("%s", column), Integer) if dialect == "sqlite"
             else cast(func.floor(extract("epoch", column)), BigInteger))
    return (whole - phase) // step


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def read_period(engine: Engine, start: datetime, end: datetime, interval_starts: Sequence[datetime],
                options: Options, *, queue: str | None = None, agent: str | None = None) -> PeriodData:
    """The sums of the ended calls that started in [start, end) and of agents' time in it.

    ``interval_starts``: the report's interval boundaries; no group straddles one.
    """
    live = _project_missing(engine, start, end)
    points = sorted({round(p.timestamp()) for p in (start, *interval_starts, end)})
    step, phase = grid(points)
    with engine.connect() as connection:
        dialect = connection.dialect.name
        call_groups, queue_acw = _call_sums(connection, dialect, start, end, step, phase, options, queue, agent)
        talks = _agent_talks(connection, start, end, queue, agent)
        dispositions: Counter[str] = Counter()
        for group in call_groups:
            dispositions.update(group.tally.dispositions)
        state_time, agent_time_ = _agent_time(connection, start, end, points, agent)
    return PeriodData(PeriodSums(call_groups, talks, state_time, agent_time_, dispositions, queue_acw), live)


def _project_missing(engine: Engine, start: datetime, end: datetime) -> int:
    """Project the calls that ended without a disposition (journaled by an older writer), once; return how many
    calls of the period are still live.

    Both kinds have no disposition yet: the partial index ``ix_calls_undisposed`` holds just those, so a year's
    report does not visit its million disposed calls to find none (migration 0013)."""
    c = calls.c
    with engine.connect() as connection:
        undisposed = list(connection.execute(select(c.id, c.ended_at).where(
            c.started_at >= start, c.started_at < end, c.disposition.is_(None))))
    missing = [call_id for call_id, ended_at in undisposed if ended_at is not None]
    if missing:
        with engine.begin() as connection:
            project_dispositions(connection, missing)
    return len(undisposed) - len(missing)


def _filters(queue: str | None, agent: str | None, call_id: Any, call_queue: Any) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if queue is not None:
        found.append(call_queue == queue)
    if agent is not None:
        found.append(exists().where(call_talks.c.call_id == call_id, call_talks.c.agent == agent))
    return found


def _call_sums(connection: Connection, dialect: str, start: datetime, end: datetime, step: int, phase: int,
               options: Options, queue: str | None, agent: str | None) -> tuple[list[CallGroup], dict[str, float]]:
    """The calls' sums per (step, first queue, disposition, source, answered), and ACW per queue.

    Everything ``kpis._add_call`` branches on is part of the group, so the database sums only what varies
    from call to call (a dozen plain sums instead of ~30 CASE expressions per call: a year is 1 M calls) and
    ``kpis.kind_tally`` applies the rule once per group."""
    x = calls.c
    w = options.fcr_window.total_seconds()
    wait = func.coalesce(x.wait_s, 0.0)
    sums: dict[str, ColumnElement[Any]] = {
        "calls": func.count(),
        "within_s": _count(wait <= options.short_abandon_s),
        "within_t": _count(wait <= options.service_level_s),
        "wait_or_zero_s": func.coalesce(func.sum(wait), 0.0),
        "waited": func.count(x.wait_s),
        "wait_s": func.coalesce(func.sum(x.wait_s), 0.0),
        "longest_wait_s": func.max(x.wait_s),
        "rings": func.coalesce(func.sum(x.rings), 0),
        "transferred": _count(x.transfers > 0),
        # The writer keeps the seconds to each caller's previous and next inbound call (link_callers).
        "called_again": _count(x.next_gap_s <= w),
        "repeat_calls": _count(x.previous_gap_s <= w),
        "callbacks_booked": _count(x.callback_booked.is_(True)),
        "callbacks_done": _count(x.callback_done.is_(True)),
        "callbacks_failed": _count(x.callback_failed.is_(True)),
        "overflows": func.coalesce(func.sum(x.overflows), 0),
        "tried_self_service": _count(x.tried_self_service.is_(True)),
    }
    assert set(sums) == {f.name for f in fields(KindSums)}
    extra: dict[str, ColumnElement[Any]] = {}
    if agent is None:
        extra = {"conversations": func.coalesce(func.sum(x.conversations), 0),
                 "talk_s": func.coalesce(func.sum(x.talk_s), 0.0), "hold_s": func.coalesce(func.sum(x.hold_s), 0.0),
                 "acw_s": func.coalesce(func.sum(x.acw_s), 0.0)}
    bucket = _step_of(x.started_at, dialect, step, phase).label("bucket")
    answered = x.agent.is_not(None).label("answered")
    # Grouped by disposition too: the disposition counts come with the sums, no second pass over the calls.
    query = (select(bucket, x.queue, x.disposition, x.source, answered,
                    *(value.label(name) for name, value in (sums | extra).items()))
             .where(x.started_at >= start, x.started_at < end, x.ended_at.is_not(None),
                    *_filters(queue, agent, x.id, x.queue))
             # By the output names: the bucket's expression holds bound parameters, and repeated in the GROUP
             # BY SQLite would not know it for the same and would compute and sort it twice per call.
             .group_by(literal_column("bucket"), x.queue, x.disposition, x.source, literal_column("answered")))
    groups = []
    queue_acw: dict[str, float] = defaultdict(float)
    for row in connection.execute(query).mappings():
        kind = CallKind(row["queue"], row["disposition"], row["source"] != "callback", bool(row["answered"]))
        tally = kind_tally(kind, KindSums(**{name: row[name] for name in sums}), options)
        if agent is None:
            tally.conversations, tally.talk_s = int(row["conversations"]), float(row["talk_s"])
            tally.hold_s = float(row["hold_s"])
            if kind.queue is not None:
                queue_acw[kind.queue] += float(row["acw_s"])
        groups.append(CallGroup(_at(row["bucket"], step, phase), row["queue"], tally))
    if agent is not None:
        groups += _agent_talk_groups(connection, dialect, start, end, step, phase, queue, agent)
        queue_acw = _queue_acw(connection, start, end, queue, agent)
    return groups, dict(queue_acw)


def _agent_talk_groups(connection: Connection, dialect: str, start: datetime, end: datetime, step: int,
                       phase: int, queue: str | None, agent: str) -> list[CallGroup]:
    """One agent's conversations per step and queue (a report of that agent counts only theirs)."""
    t = call_talks.c
    bucket = _step_of(t.started_at, dialect, step, phase).label("bucket")
    query = (select(bucket, t.queue, func.count().label("conversations"), func.sum(t.talk_s).label("talk"),
                    func.sum(t.hold_s).label("hold"))
             .where(t.agent == agent, t.started_at >= start, t.started_at < end,
                    *([t.queue == queue] if queue is not None else []))
             .group_by(literal_column("bucket"), t.queue))  # by name: see _call_sums
    return [CallGroup(_at(r.bucket, step, phase), r.queue,
                      Tally(conversations=int(r.conversations), talk_s=float(r.talk), hold_s=float(r.hold)))
            for r in connection.execute(query)]


def _at(bucket: int, step: int, phase: int) -> datetime:
    return datetime.fromtimestamp(phase + int(bucket) * step, UTC)


def _agent_talks(connection: Connection, start: datetime, end: datetime, queue: str | None,
                 agent: str | None) -> list[AgentTalk]:
    """Conversations per agent (call_talks carries the call's start and queue: no join)."""
    t = call_talks.c
    query = (select(t.agent, func.count().label("conversations"), func.sum(t.talk_s).label("talk"),
                    func.sum(t.hold_s).label("hold"), _count(t.ended_by == "transfer").label("transfers"),
                    _count(t.ended_by == "silent").label("silent"))
             .where(t.started_at >= start, t.started_at < end, *([t.queue == queue] if queue is not None else []),
                    *([t.agent == agent] if agent is not None else []))
             .group_by(t.agent))
    return [AgentTalk(r.agent, int(r.conversations), float(r.talk), float(r.hold), int(r.transfers), int(r.silent))
            for r in connection.execute(query)]


def _queue_acw(connection: Connection, start: datetime, end: datetime, queue: str | None,
               agent: str) -> defaultdict[str, float]:
    """One agent's after-call work per queue (``calls.acw_s`` sums every agent's: this joins call_acw)."""
    c, a = calls.c, call_acw.c
    query = (select(c.queue, func.sum(a.seconds)).select_from(call_acw.join(calls, c.call_uid == a.call_uid))
             .where(c.started_at >= start, c.started_at < end, c.ended_at.is_not(None), c.queue.is_not(None),
                    *_filters(queue, None, c.id, c.queue), a.agent == agent)
             .group_by(c.queue))
    return defaultdict(float, {str(name): float(seconds) for name, seconds in connection.execute(query)})


# -- agent time ---------------------------------------------------------------------------------------------


Piece = tuple[datetime, str, str, float]
"""Agent time outside the rollup: (start, agent, state, seconds), lying in one interval."""


def _agent_time(connection: Connection, start: datetime, end: datetime, points: Sequence[int],
                agent: str | None) -> tuple[list[StateTime], list[AgentTime]]:
    """Agents' time per state and step (for totals and intervals) and per agent and state, in [start, end)."""
    first = math.ceil(start.timestamp() / SLOT_S) * SLOT_S
    last = math.floor(end.timestamp() / SLOT_S) * SLOT_S
    pieces: list[Piece] = []
    state_time: dict[tuple[datetime, str], float] = defaultdict(float)
    per_agent: dict[tuple[str, str], float] = defaultdict(float)
    if first >= last:  # shorter than a quarter hour on the slot grid: exact, from the events
        pieces = _exact(connection, start, end, points, agent)
    else:
        low, high = datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC)
        inner = [p for p in points if first < p < last]
        _rolled_up(connection, first, last, inner, agent, state_time, per_agent)
        names = {agent} if agent is not None else {name for name, _ in per_agent} | _configured(connection)
        pieces = _still_in_state(connection, low, high, inner, sorted(names))
        if start < low:
            pieces += _exact(connection, start, low, [], agent)
        if high < end:
            pieces += _exact(connection, high, end, [], agent)
    for at, name, state, seconds in pieces:
        state_time[(at, state)] += seconds
        per_agent[(name, state)] += seconds
    return ([StateTime(at, state, seconds) for (at, state), seconds in state_time.items()],
            [AgentTime(name, state, seconds) for (name, state), seconds in per_agent.items()])


def _rolled_up(connection: Connection, first: int, last: int, inner: list[int], agent: str | None,
               state_time: dict[tuple[datetime, str], float], per_agent: dict[tuple[str, str], float]) -> None:
    """Agent time in [first, last) (both on a quarter hour) from the rollups: the whole hours from
    ``agent_time_hourly`` when every interval boundary is on a whole hour (a quarter of the rows), the rest
    from the quarter hours of ``agent_time``."""
    step, phase = grid([first, *inner, last])
    if step % SLOT_S:
        step, phase = SLOT_S, 0
    low, high = math.ceil(first / HOUR_S) * HOUR_S, math.floor(last / HOUR_S) * HOUR_S
    if low >= high or any(p % HOUR_S for p in inner):
        low = high = first
    hours = agent_time_hourly.c
    quarters = agent_time.c
    for column, size, begin, finish in ((hours.hour, HOUR_S, low, high), (quarters.slot, SLOT_S, first, low),
                                        (quarters.slot, SLOT_S, high, last)):
        if begin < finish:
            _sum_rollup(connection, column, size, begin, finish, agent, step, phase, state_time, per_agent)


def _sum_rollup(connection: Connection, column: Any, size: int, first: int, last: int, agent: str | None,
                step: int, phase: int, state_time: dict[tuple[datetime, str], float],
                per_agent: dict[tuple[str, str], float]) -> None:
    """One rollup table's rows of [first, last) (``column``: its time unit, ``size`` seconds long): two GROUP
    BYs that follow an index's order."""
    table = column.table
    a = table.c
    where = [column >= first // size, column < last // size, *([a.agent == agent] if agent else [])]
    for unit, state, seconds in connection.execute(
            select(column, a.state, func.sum(a.seconds)).where(*where).group_by(column, a.state)):
        state_time[(_at((int(unit) * size - phase) // step, step, phase), state)] += float(seconds)
    for name, state, seconds in connection.execute(
            select(a.agent, a.state, func.sum(a.seconds)).where(*where).group_by(a.agent, a.state)):
        per_agent[(name, state)] += float(seconds)


def _configured(connection: Connection) -> set[str]:
    return {str(r[0]) for r in connection.execute(select(agents.c.work_number))}


def _still_in_state(connection: Connection, low: datetime, high: datetime, inner: list[int],
                    names: Sequence[str]) -> list[Piece]:
    """Each agent's current state (their latest change, not closed yet, so not in the rollup) until ``high``.

    ``names``: the agents configured or with time in the period (an agent removed from the configuration
    and idle through the whole period is not looked for)."""
    cuts = [low, *(datetime.fromtimestamp(p, UTC) for p in inner), high]
    times: list[Piece] = []
    e = agent_events.c
    for name in names:
        row = connection.execute(select(e.at, e.to_state).where(e.agent == name)
                                 .order_by(e.at.desc(), e.id.desc()).limit(1)).first()
        if row is None or row.to_state in UNCOUNTED_STATES or row.at >= high:
            continue
        for begin, finish in zip(cuts, cuts[1:], strict=False):
            part = (finish - max(begin, row.at)).total_seconds()
            if part > 0:
                times.append((max(begin, row.at), name, row.to_state, part))
    return times


def _exact(connection: Connection, start: datetime, end: datetime, points: Sequence[int],
           agent: str | None) -> list[Piece]:
    spans = _spans(connection, start, end, agent)
    cuts = sorted({start, end, *(datetime.fromtimestamp(p, UTC) for p in points if start.timestamp() < p
                                 < end.timestamp())})
    return [(max(span.start, low), span.agent, span.state, span.seconds_within(low, high))
            for low, high in zip(cuts, cuts[1:], strict=False) for span in spans
            if span.start < high and span.end > low]


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
        for call_id, events in events_by_call(connection, missing).items():
            derived = derive(events)
            found[call_id] = (derived.name, derived.detail)
    return found



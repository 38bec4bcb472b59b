"""Keeping the report projections up to date, inside the journal writer's batch transaction (SQLAlchemy Core).

- ``link_callers``: as calls start, the seconds since each caller's previous inbound call (and, on that
  call, until this one): repeat callers and first-call resolution without sorting a year of calls;
- ``project_dispositions``: when calls end, their disposition and facts (engine.reports.disposition) go to
  ``calls.disposition`` / ``disposition_detail``, the typed fact columns and ``call_talks``;
- ``roll_up_agents``: each agent state change closes the agent's previous state; its seconds go to
  ``agent_time`` per quarter hour and ``agent_time_hourly`` per hour, and a closed after-call-work span to
  ``call_acw`` (call, agent) and to the call's ``calls.acw_s`` (added, not set: the wrap-up usually ends after
  the call row was finished, and several agents may wrap up one call).

A few statements per batch whatever its size (one read of the ended calls' events, one update, one delete
and one insert of talks; one upsert each of quarter-hour and hourly agent time, one of ACW, one update of
the calls' ACW). Works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Executable, Table, bindparam, func, select, update

from engine.reports.disposition import Event, Rules, derive
from engine.reports.rollup import UNCOUNTED_STATES, call_columns, caller_gaps, split, talk_rows
from engine.store.agent_journal_tables import agent_events
from engine.store.report_tables import agent_time, agent_time_hourly, call_acw, call_talks
from engine.store.tables import call_events, calls

CHUNK = 500
ACW_STATE = "after_call_work"
QUARTERS_PER_HOUR = 4


def events_by_call(connection: Connection, call_ids: Sequence[int]) -> dict[int, list[Event]]:
    """Each call's events in seq order."""
    found: dict[int, list[Event]] = defaultdict(list)
    for first in range(0, len(call_ids), CHUNK):
        chunk = call_ids[first:first + CHUNK]
        query = (select(call_events.c.call_id, call_events.c.kind, call_events.c.at, call_events.c.data)
                 .where(call_events.c.call_id.in_(chunk)).order_by(call_events.c.call_id, call_events.c.seq))
        for row in connection.execute(query):
            found[row.call_id].append((row.kind, row.at, row.data or {}))
    return found


# Statements built once: SQLAlchemy keeps a statement object's cache key, so the journal writer's batches
# skip building them and working out their keys each time.
_FILL_DISPOSITION: Final = (update(calls).where(calls.c.id == bindparam("call"))
                            .values(disposition=bindparam("name"), disposition_detail=bindparam("detail"),
                                    **{name: bindparam(name) for name in call_columns({})}))
_CALLERS_LAST: Final = (select(calls.c.caller, func.max(calls.c.started_at))
                        .where(calls.c.caller.in_(bindparam("callers", expanding=True)), calls.c.source != "callback")
                        .group_by(calls.c.caller))
_SET_NEXT_GAP: Final = (update(calls).where(calls.c.caller == bindparam("who"), calls.c.started_at == bindparam("at"),
                                            calls.c.source != "callback", calls.c.next_gap_s.is_(None))
                        .values(next_gap_s=bindparam("gap")))
_ADD_CALL_ACW: Final = (update(calls).where(calls.c.call_uid == bindparam("uid"))
                        .values(acw_s=func.coalesce(calls.c.acw_s, 0.0) + bindparam("seconds")))


def project_dispositions(connection: Connection, call_ids: Iterable[int], rules: Rules | None = None,
                         known: Mapping[int, tuple[datetime, Sequence[Event]]] | None = None) -> None:
    """Fill the disposition, its detail, the typed facts and the talks of these (ended) calls from their events:
    those ``known`` gives (a call's start and all its events, as the writer committed them), the others' read."""
    ids = sorted(set(call_ids))
    if not ids:
        return
    known = known or {}
    unknown = [call_id for call_id in ids if call_id not in known]
    events: dict[int, Sequence[Event]] = {call_id: history for call_id, (_, history) in known.items()}
    started: dict[int, datetime] = {call_id: at for call_id, (at, _) in known.items()}
    events.update(events_by_call(connection, unknown))
    for first in range(0, len(unknown), CHUNK):
        query = select(calls.c.id, calls.c.started_at).where(calls.c.id.in_(unknown[first:first + CHUNK]))
        started.update((int(call_id), at) for call_id, at in connection.execute(query))
    rows: list[dict[str, Any]] = []
    talks: list[dict[str, Any]] = []
    for call_id in ids:
        disposition = derive(events.get(call_id, ()), rules or Rules())
        rows.append({"call": call_id, "name": disposition.name, "detail": disposition.detail,
                     **call_columns(disposition.detail)})
        talks.extend(talk_rows(call_id, started[call_id], disposition.detail))
    connection.execute(_FILL_DISPOSITION, rows)
    for first in range(0, len(ids), CHUNK):
        connection.execute(call_talks.delete().where(call_talks.c.call_id.in_(ids[first:first + CHUNK])))
    if talks:
        connection.execute(call_talks.insert(), talks)


def link_callers(connection: Connection, starting: Sequence[tuple[int, str, datetime]]) -> dict[int, dict[str, float]]:
    """Gaps between each caller's inbound calls for these new calls ``(key, caller, started_at)``, not yet
    inserted: returns each key's ``previous_gap_s`` / ``next_gap_s`` and sets ``next_gap_s`` of the callers'
    latest journaled calls (engine.reports.rollup.caller_gaps)."""
    callers = sorted({caller for _, caller, _ in starting})
    previous: dict[str, datetime] = {}
    for first in range(0, len(callers), CHUNK):
        rows = connection.execute(_CALLERS_LAST, {"callers": callers[first:first + CHUNK]})
        previous.update((str(caller), at) for caller, at in rows)
    gaps, earlier = caller_gaps(previous, starting)
    if earlier:
        connection.execute(_SET_NEXT_GAP, [{"who": caller, "at": previous[caller], "gap": gap}
                                           for caller, gap in earlier.items()])
    return gaps


@dataclass(frozen=True)
class AgentChange:
    """An agent's state since ``at`` (and the call it is about)."""

    at: datetime
    state: str
    call_uid: str | None


def last_changes(connection: Connection, names: Iterable[str]) -> dict[str, AgentChange]:
    """The latest journaled change of each of these agents (those that have one)."""
    e = agent_events.c
    found: dict[str, AgentChange] = {}
    for name in names:
        row = connection.execute(select(e.at, e.to_state, e.call_uid).where(e.agent == name)
                                 .order_by(e.at.desc(), e.id.desc()).limit(1)).first()
        if row is not None:
            found[name] = AgentChange(row.at, row.to_state, row.call_uid)
    return found


def roll_up_agents(connection: Connection, changes: Sequence[tuple[str, AgentChange]],
                   last: MutableMapping[str, AgentChange]) -> None:
    """Add the spans these changes close to ``agent_time``, ``agent_time_hourly``, ``call_acw`` and
    ``calls.acw_s``; ``last`` holds each agent's state before them (agents missing are read from the
    database) and is left holding their state after."""
    unknown = {name for name, _ in changes} - set(last)
    if unknown:
        last.update(last_changes(connection, sorted(unknown)))
    seconds: dict[tuple[int, str, str], float] = defaultdict(float)
    hourly: dict[tuple[int, str, str], float] = defaultdict(float)
    acw: dict[tuple[str, str], float] = defaultdict(float)
    for name, change in changes:
        before = last.get(name)
        if before is not None and change.at < before.at:
            continue  # an older change arriving late: the spans around it are already counted
        if before is not None and before.state not in UNCOUNTED_STATES:
            for slot, part in split(before.at, change.at):
                seconds[(slot, name, before.state)] += part
                hourly[(slot // QUARTERS_PER_HOUR, name, before.state)] += part
            if before.state == ACW_STATE and before.call_uid:
                acw[(before.call_uid, name)] += (change.at - before.at).total_seconds()
        last[name] = change
    if seconds:
        _add_seconds(connection, agent_time, ("slot", "agent", "state"), seconds)
        _add_seconds(connection, agent_time_hourly, ("hour", "agent", "state"), hourly)
    if acw:
        _add_seconds(connection, call_acw, ("call_uid", "agent"), acw)
        _add_call_acw(connection, acw)


def _add_call_acw(connection: Connection, acw: Mapping[tuple[str, str], float]) -> None:
    """Add each call's new after-call work to ``calls.acw_s`` (a call not journaled gets none, as before)."""
    per_call: dict[str, float] = defaultdict(float)
    for (call_uid, _agent), value in acw.items():
        per_call[call_uid] += value
    connection.execute(_ADD_CALL_ACW, [{"uid": uid, "seconds": value} for uid, value in per_call.items()])


def _add_seconds(connection: Connection, table: Table, keys: tuple[str, ...],
                 seconds: Mapping[tuple[Any, ...], float]) -> None:
    """Add ``seconds`` (key values -> seconds) to ``table``'s rows, creating the missing ones (one upsert)."""
    rows = [{**dict(zip(keys, key, strict=True)), "seconds": value} for key, value in seconds.items()]
    connection.execute(_upsert(connection.dialect.name, table, keys), rows)


@functools.cache
def _upsert(dialect_name: str, table: Table, keys: tuple[str, ...]) -> Executable:
    """The statement adding seconds to a rollup row, built once per database kind (see _ADD_CALL_ACW)."""
    # Imported here: the PostgreSQL dialect package costs `hotline report` ~30 ms of start-up it never uses.
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys], set_={"seconds": table.c.seconds + statement.excluded.seconds})
    return upsert

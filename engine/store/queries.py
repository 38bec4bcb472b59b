"""Read models of the journal for the CLI (``hotline calls``, ``hotline call show``).

Plain frozen dataclasses, read with SQLAlchemy Core; ``to_jsonable`` feeds ``--json`` output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, Row, bindparam, func, select

from engine.errors import CallNotFound
from engine.store.tables import call_events as call_events_table
from engine.store.tables import calls

JsonValue = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None


@dataclass(frozen=True)
class CallSummary:
    """One row of the calls projection."""

    id: int
    call_uid: str
    caller: str | None
    dialed: str | None
    source: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    hangup_cause: str | None


@dataclass(frozen=True)
class CallEventRow:
    """One journal entry of a call."""

    seq: int
    at: datetime
    kind: str
    data: Mapping[str, Any]


_SUMMARY_COLUMNS = [calls.c[f.name] for f in dataclasses.fields(CallSummary)]


def _summary(row: Row[Any]) -> CallSummary:
    return CallSummary(**row._asdict())


def recent_calls(engine: Engine, limit: int = 20) -> list[CallSummary]:
    """The ``limit`` most recently started calls, newest first."""
    query = select(*_SUMMARY_COLUMNS).order_by(calls.c.started_at.desc(), calls.c.id.desc()).limit(limit)
    with engine.connect() as connection:
        return [_summary(row) for row in connection.execute(query)]


def find_call(engine: Engine, ref: str) -> CallSummary:
    """The call whose id or call_uid is ``ref``; raise CallNotFound otherwise."""
    conditions = [calls.c.call_uid == ref]
    if ref.isdecimal():
        conditions.insert(0, calls.c.id == int(ref))
    with engine.connect() as connection:
        for condition in conditions:
            row = connection.execute(select(*_SUMMARY_COLUMNS).where(condition)).first()
            if row is not None:
                return _summary(row)
    raise CallNotFound(f"no call {ref!r} in the journal")


def call_events(engine: Engine, call_id: int) -> list[CallEventRow]:
    """The journal of call ``call_id``, in the order it happened (seq order)."""
    table = call_events_table
    query = (
        select(table.c.seq, table.c.at, table.c.kind, table.c.data)
        .where(table.c.call_id == call_id)
        .order_by(table.c.seq)
    )
    with engine.connect() as connection:
        return [
            CallEventRow(seq=row.seq, at=row.at, kind=row.kind, data=row.data or {})
            for row in connection.execute(query)
        ]


def to_jsonable(obj: object) -> JsonValue:
    """A JSON-ready copy of read models (and lists/mappings of them): timestamps become ISO 8601."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes):
        return [to_jsonable(item) for item in obj]
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)


# Built once (asked once per queued caller): executing the same statement object skips building it and its
# cache key (engine.store.journal says the same of the writer's statements).
_PREVIOUS_CALL: Final = (select(func.max(calls.c.started_at))
                         .where(calls.c.caller == bindparam("caller"), calls.c.call_uid != bindparam("uid")))


def previous_call_at(engine: Engine, caller: str, before_uid: str) -> datetime | None:
    """When ``caller`` last called before the call ``before_uid`` (repeat callers get priority)."""
    if not caller:
        return None
    with engine.connect() as conn:
        found = conn.execute(_PREVIOUS_CALL, {"caller": caller, "uid": before_uid}).scalar()
    return found if isinstance(found, datetime) else None


def open_calls(engine: Engine, since: datetime) -> list[tuple[str, bool]]:
    """Calls the controller journaled since ``since`` that were never closed: (call uid, whether an agent
    answered). Fallback calls are the CDR reader's and are left out."""
    answered = select(call_events_table.c.id).where(call_events_table.c.call_id == calls.c.id,
                                                    call_events_table.c.kind == "queue.answered").exists()
    with engine.connect() as conn:
        rows = conn.execute(select(calls.c.call_uid, answered)
                            .where(calls.c.ended_at.is_(None), calls.c.started_at >= since,
                                   calls.c.source != "fallback")).all()
    return [(str(uid), bool(served)) for uid, served in rows]

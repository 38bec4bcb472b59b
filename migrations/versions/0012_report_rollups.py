"""Reports sum in the database: typed call facts, conversations per call, agent time per quarter hour.

Adds to ``calls`` the facts of ``disposition_detail`` as typed columns (queue, agent, wait_s, rings,
transfers, overflows, tried_self_service, callback_booked / done / failed, conversations, talk_s, hold_s), the
seconds since / until the caller's previous / next inbound call (previous_gap_s, next_gap_s) with an index on
(caller, started_at), and three tables: ``call_talks`` (one row per conversation, with the call's start and
queue), ``call_acw`` (after-call work per call and agent) and ``agent_time`` (seconds per quarter-hour slot,
state and agent; without rowid on SQLite, in that order, plus an index by agent). Then fills them from what
the journal already holds: the facts from ``disposition_detail``, the gaps from each caller's calls, agent time
and ACW from ``agent_events``. From here on the journal writer keeps them up to date (engine.reports.projection).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

Migrations are frozen history: the helpers below are copies of engine/reports/rollup.py as of this revision.
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH: Final = 2000
SLOT_S: Final = 900
FACTS: Final = (("queue", sa.String(length=64)), ("agent", sa.String(length=16)), ("wait_s", sa.Float()),
                ("rings", sa.Integer()), ("transfers", sa.Integer()), ("overflows", sa.Integer()),
                ("tried_self_service", sa.Boolean()), ("callback_booked", sa.Boolean()),
                ("callback_done", sa.Boolean()), ("callback_failed", sa.Boolean()),
                ("conversations", sa.Integer()), ("talk_s", sa.Float()), ("hold_s", sa.Float()))
GAPS: Final = ("previous_gap_s", "next_gap_s")

_calls = sa.table("calls", sa.column("id", sa.Integer), sa.column("call_uid", sa.String),
                  sa.column("caller", sa.String), sa.column("source", sa.String),
                  sa.column("started_at", sa.DateTime(timezone=True)), sa.column("disposition_detail", sa.JSON),
                  *(sa.column(name, kind) for name, kind in FACTS), *(sa.column(name, sa.Float) for name in GAPS))
_events = sa.table("agent_events", sa.column("id", sa.Integer), sa.column("agent", sa.String),
                   sa.column("at", sa.DateTime(timezone=True)), sa.column("to_state", sa.String),
                   sa.column("call_uid", sa.String))


def upgrade() -> None:
    for name, kind in (*FACTS, *((gap, sa.Float()) for gap in GAPS)):
        op.add_column("calls", sa.Column(name, kind, nullable=True))
    op.create_index("ix_calls_caller_started_at", "calls", ["caller", "started_at"])
    talks = op.create_table(
        "call_talks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=16), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("hold_s", sa.Float(), nullable=False),
        sa.Column("ended_by", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_call_talks_call_id_calls", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_call_talks"),
    )
    op.create_index("ix_call_talks_call_id", "call_talks", ["call_id"])
    op.create_index("ix_call_talks_agent", "call_talks", ["agent", "started_at", "queue", "talk_s", "hold_s", "ended_by"])
    times = op.create_table(
        "agent_time",
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("slot", "state", "agent", name="pk_agent_time"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_agent_time_agent", "agent_time", ["agent", "state", "slot", "seconds"])
    acw = op.create_table(
        "call_acw",
        sa.Column("call_uid", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("call_uid", "agent", name="pk_call_acw"),
    )
    assert talks is not None and times is not None and acw is not None
    connection = op.get_bind()
    _fill_facts(connection, talks)
    _fill_gaps(connection)
    _fill_agent_time(connection, times, acw)


def downgrade() -> None:
    op.drop_table("call_acw")
    op.drop_index("ix_agent_time_agent", table_name="agent_time")
    op.drop_table("agent_time")
    op.drop_index("ix_call_talks_agent", table_name="call_talks")
    op.drop_index("ix_call_talks_call_id", table_name="call_talks")
    op.drop_table("call_talks")
    op.drop_index("ix_calls_caller_started_at", table_name="calls")
    # Not batch mode: on SQLite that copies and drops ``calls``, and with foreign keys on, dropping it deletes
    # every row that references it (call_events: ON DELETE CASCADE). SQLite >= 3.35 drops plain columns in place.
    for name in reversed((*(name for name, _ in FACTS), *GAPS)):
        op.drop_column("calls", name)


def _fill_facts(connection: sa.Connection, talks: sa.Table) -> None:
    last = 0
    names = [name for name, _ in FACTS]
    while True:
        rows = list(connection.execute(
            sa.select(_calls.c.id, _calls.c.started_at, _calls.c.disposition_detail)
            .where(_calls.c.id > last, _calls.c.disposition_detail.is_not(None)).order_by(_calls.c.id).limit(BATCH)))
        if not rows:
            return
        last = rows[-1].id
        connection.execute(sa.update(_calls).where(_calls.c.id == sa.bindparam("call"))
                           .values(**{name: sa.bindparam(name) for name in names}),
                           [{"call": r.id, **_call_columns(r.disposition_detail)} for r in rows])
        found = [talk for r in rows for talk in _talk_rows(r.id, _aware(r.started_at), r.disposition_detail)]
        if found:
            connection.execute(talks.insert(), found)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _fill_gaps(connection: sa.Connection) -> None:
    """Seconds between each caller's inbound calls, both ways (what the writer now keeps as calls start)."""
    c = _calls.c
    before: tuple[str, int, datetime] | None = None
    query = (sa.select(c.id, c.caller, c.started_at).where(c.caller.is_not(None), c.source != "callback")
             .order_by(c.caller, c.started_at, c.id))
    gaps: dict[int, dict[str, Any]] = {}
    for call_id, caller, at in connection.execute(query):
        at = _aware(at)
        mine = gaps.setdefault(call_id, {"call": call_id, "previous_gap_s": None, "next_gap_s": None})
        if before is not None and before[0] == caller and at > before[2]:
            gap = (at - before[2]).total_seconds()
            mine["previous_gap_s"] = gap
            gaps[before[1]]["next_gap_s"] = gap
        before = (caller, call_id, at)
    rows = list(gaps.values())
    for first in range(0, len(rows), BATCH):
        connection.execute(sa.update(_calls).where(_calls.c.id == sa.bindparam("call"))
                           .values(previous_gap_s=sa.bindparam("previous_gap_s"),
                                   next_gap_s=sa.bindparam("next_gap_s")), rows[first:first + BATCH])


def _fill_agent_time(connection: sa.Connection, times: sa.Table, acw_table: sa.Table) -> None:
    seconds: dict[tuple[int, str, str], float] = defaultdict(float)
    acw: dict[tuple[str, str], float] = defaultdict(float)
    before: tuple[str, datetime, str, str | None] | None = None
    query = sa.select(_events.c.agent, _events.c.at, _events.c.to_state, _events.c.call_uid).order_by(
        _events.c.agent, _events.c.at, _events.c.id)
    for agent, at, state, call_uid in connection.execute(query):
        at = _aware(at)
        if before is not None and before[0] == agent and before[2] != "logged_out":
            for slot, part in _split(before[1], at):
                seconds[(slot, agent, before[2])] += part
            if before[2] == "after_call_work" and before[3]:
                acw[(before[3], agent)] += (at - before[1]).total_seconds()
        before = (agent, at, state, call_uid)
    rows = [{"slot": slot, "agent": agent, "state": state, "seconds": value}
            for (slot, agent, state), value in seconds.items()]
    for first in range(0, len(rows), BATCH):
        connection.execute(times.insert(), rows[first:first + BATCH])
    pairs = [{"call_uid": uid, "agent": agent, "seconds": value} for (uid, agent), value in acw.items()]
    for first in range(0, len(pairs), BATCH):
        connection.execute(acw_table.insert(), pairs[first:first + BATCH])


# -- frozen copies of engine/reports/rollup.py (revision 0012) ----------------------------------------------


def _split(start: datetime, end: datetime) -> list[tuple[int, float]]:
    first, last = start.timestamp(), end.timestamp()
    pieces: list[tuple[int, float]] = []
    slot = math.floor(first / SLOT_S)
    while slot * SLOT_S < last:
        low, high = max(first, slot * SLOT_S), min(last, (slot + 1) * SLOT_S)
        if high > low:
            pieces.append((slot, high - low))
        slot += 1
    return pieces


def _call_columns(detail: Mapping[str, Any] | None) -> dict[str, Any]:
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


def _talk_rows(call_id: int, started_at: datetime, detail: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    d = detail or {}
    return [{"call_id": call_id, "agent": str(t[0]), "talk_s": float(t[1]), "hold_s": float(t[2]),
             "ended_by": str(t[3]) if len(t) > 3 else "end", "started_at": started_at, "queue": d.get("queue")}
            for t in d.get("talks") or ()]

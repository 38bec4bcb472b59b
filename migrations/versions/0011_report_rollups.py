"""Reports sum in the database: typed call facts, conversations per call, agent time per quarter hour.

Adds to ``calls`` the facts of ``disposition_detail`` as typed columns (queue, agent, wait_s, rings,
transfers, overflows, tried_self_service, callback_booked / done / failed), an index on (caller, started_at)
for repeat callers, and three tables: ``call_talks`` (one row per conversation), ``call_acw`` (after-call work
per call and agent) and ``agent_time`` (seconds per quarter-hour slot, agent and state). Then fills them from
what the journal already holds: the facts from ``disposition_detail``, agent time and ACW from
``agent_events``. From here on the journal writer keeps them up to date (engine.reports.projection).

Revision ID: 0011
Revises: 0010
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

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH: Final = 2000
SLOT_S: Final = 900
FACTS: Final = (("queue", sa.String(length=64)), ("agent", sa.String(length=16)), ("wait_s", sa.Float()),
                ("rings", sa.Integer()), ("transfers", sa.Integer()), ("overflows", sa.Integer()),
                ("tried_self_service", sa.Boolean()), ("callback_booked", sa.Boolean()),
                ("callback_done", sa.Boolean()), ("callback_failed", sa.Boolean()))

_calls = sa.table("calls", sa.column("id", sa.Integer), sa.column("call_uid", sa.String),
                  sa.column("disposition_detail", sa.JSON), *(sa.column(name, kind) for name, kind in FACTS))
_events = sa.table("agent_events", sa.column("id", sa.Integer), sa.column("agent", sa.String),
                   sa.column("at", sa.DateTime(timezone=True)), sa.column("to_state", sa.String),
                   sa.column("call_uid", sa.String))


def upgrade() -> None:
    for name, kind in FACTS:
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
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_call_talks_call_id_calls", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_call_talks"),
    )
    op.create_index("ix_call_talks_call_id", "call_talks", ["call_id"])
    times = op.create_table(
        "agent_time",
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("slot", "agent", "state", name="pk_agent_time"),
    )
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
    _fill_agent_time(connection, times, acw)


def downgrade() -> None:
    op.drop_table("call_acw")
    op.drop_table("agent_time")
    op.drop_index("ix_call_talks_call_id", table_name="call_talks")
    op.drop_table("call_talks")
    op.drop_index("ix_calls_caller_started_at", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        for name, _ in reversed(FACTS):
            batch.drop_column(name)


def _fill_facts(connection: sa.Connection, talks: sa.Table) -> None:
    last = 0
    names = [name for name, _ in FACTS]
    while True:
        rows = list(connection.execute(
            sa.select(_calls.c.id, _calls.c.disposition_detail)
            .where(_calls.c.id > last, _calls.c.disposition_detail.is_not(None)).order_by(_calls.c.id).limit(BATCH)))
        if not rows:
            return
        last = rows[-1].id
        connection.execute(sa.update(_calls).where(_calls.c.id == sa.bindparam("call"))
                           .values(**{name: sa.bindparam(name) for name in names}),
                           [{"call": r.id, **_call_columns(r.disposition_detail)} for r in rows])
        found = [talk for r in rows for talk in _talk_rows(r.id, r.disposition_detail)]
        if found:
            connection.execute(talks.insert(), found)


def _fill_agent_time(connection: sa.Connection, times: sa.Table, acw_table: sa.Table) -> None:
    seconds: dict[tuple[int, str, str], float] = defaultdict(float)
    acw: dict[tuple[str, str], float] = defaultdict(float)
    before: tuple[str, datetime, str, str | None] | None = None
    query = sa.select(_events.c.agent, _events.c.at, _events.c.to_state, _events.c.call_uid).order_by(
        _events.c.agent, _events.c.at, _events.c.id)
    for agent, at, state, call_uid in connection.execute(query):
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
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


# -- frozen copies of engine/reports/rollup.py (revision 0011) ----------------------------------------------


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
    return {"queue": d.get("queue"), "agent": d.get("agent"), "wait_s": None if wait is None else float(wait),
            "rings": int(d.get("rings") or 0), "transfers": int(d.get("transfers") or 0),
            "overflows": int(d.get("overflows") or 0), "tried_self_service": bool(d.get("tried_self_service")),
            "callback_booked": "booked" in callback, "callback_done": "done" in callback,
            "callback_failed": "failed" in callback}


def _talk_rows(call_id: int, detail: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"call_id": call_id, "agent": str(t[0]), "talk_s": float(t[1]), "hold_s": float(t[2]),
             "ended_by": str(t[3]) if len(t) > 3 else "end"} for t in (detail or {}).get("talks") or ()]

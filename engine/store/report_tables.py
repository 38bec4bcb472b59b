"""Projections that let reports sum a year in the database: conversations per call and agent time per slot.

``call_talks`` holds one row per conversation of an ended call (who talked, talk and hold seconds, what
ended it, and the call's start and first queue so that per-agent sums need no join), written with
``calls.disposition`` when the call ends; ``call_acw`` the after-call work each agent
did for a call (added as each wrap-up ends, which may be before the call ends). ``agent_time`` holds, per quarter hour
(``slot`` = UTC epoch seconds // 900), agent and state, the seconds the agent spent in that state: the
journal writer adds each state span as the next change closes it (engine.reports.rollup splits it).
``agent_time_hourly`` holds the same seconds per hour (``hour`` = UTC epoch seconds // 3600), written in the
same upsert: a report whose intervals are whole hours (days, weeks, months, hours) reads a quarter of the
rows. They are projections of the journal and can be rebuilt from it (migrations 0012 and 0013 do). On
SQLite both time tables are stored in (slot or hour, state, agent) order and indexed by (agent, state, slot or
hour): both report sums read an index in the order they group by, without sorting a year of rows. Collaborators:
engine.store.journal (writes), engine.reports.query (reads).
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Table

from engine.store.tables import UtcDateTime, metadata

call_talks = Table(
    "call_talks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", Integer, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("agent", String(16), nullable=False),
    Column("talk_s", Float, nullable=False),
    Column("hold_s", Float, nullable=False),
    Column("ended_by", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("queue", String(64)),
    Index("ix_call_talks_call_id", "call_id"),
    Index("ix_call_talks_agent", "agent", "started_at", "queue", "talk_s", "hold_s", "ended_by"),
)

call_acw = Table(
    "call_acw",
    metadata,
    Column("call_uid", String(64), nullable=False),
    Column("agent", String(16), nullable=False),
    Column("seconds", Float, nullable=False),
    PrimaryKeyConstraint("call_uid", "agent"),
)

agent_time = Table(
    "agent_time",
    metadata,
    Column("slot", Integer, nullable=False),
    Column("agent", String(16), nullable=False),
    Column("state", String(24), nullable=False),
    Column("seconds", Float, nullable=False),
    PrimaryKeyConstraint("slot", "state", "agent"),
    Index("ix_agent_time_agent", "agent", "state", "slot", "seconds"),
    sqlite_with_rowid=False,
)

agent_time_hourly = Table(
    "agent_time_hourly",
    metadata,
    Column("hour", Integer, nullable=False),
    Column("agent", String(16), nullable=False),
    Column("state", String(24), nullable=False),
    Column("seconds", Float, nullable=False),
    PrimaryKeyConstraint("hour", "state", "agent"),
    Index("ix_agent_time_hourly_agent", "agent", "state", "hour", "seconds"),
    sqlite_with_rowid=False,
)

"""The surge plan's tables: ``overflow_events`` (the ladders' journal) and ``overflow_requests`` (supervisors'
`hotline overflow set|hold|release`, answered by the controller). Created by migration 0011."""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Column, Index, Integer, String, Table

from engine.store.tables import UtcDateTime, metadata

OVERFLOW_ACTIONS = ("set", "hold", "release")

overflow_events = Table(
    "overflow_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_overflow_events_queue_at", "queue", "at"),
)

overflow_requests = Table(
    "overflow_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("stage", String(32)),
    Column("reason", String(64)),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime),
    Column("result", String(200)),
    CheckConstraint("action IN ('set', 'hold', 'release')", name="action"),
)

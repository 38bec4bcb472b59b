"""Agent state changes (append-only) and supervisors' requests waiting for the controller.

``agent_events`` is written by the journal writer from ``agent.state`` entries; ``agent_requests`` is how
`hotline agent login|logout|pause|resume` reaches the running controller (it polls, applies, answers), and
``call_requests`` the same for `hotline call transfer` and `hotline call silent`. Created by migrations 0004 and
0005 (0008 adds 'silent').
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, Table

from engine.store.tables import UtcDateTime, metadata

AGENT_ACTIONS = ("login", "logout", "pause", "resume", "end_acw")

agent_events = Table(
    "agent_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("from_state", String(24), nullable=False),
    Column("to_state", String(24), nullable=False),
    Column("reason", String(64)),
    Column("call_uid", String(64)),
    Index("ix_agent_events_agent_at", "agent", "at"),
)

agent_requests = Table(
    "agent_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("reason", String(64)),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime),
    Column("result", String(200)),
    CheckConstraint(f"action IN ({', '.join(repr(a) for a in AGENT_ACTIONS)})", name="action"),
)

call_requests = Table(
    "call_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_uid", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("target_queue", String(32)),
    Column("target_agent", String(16)),
    Column("script", String(16)),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime),
    Column("result", String(200)),
    CheckConstraint("action IN ('transfer', 'silent')", name="action"),
)

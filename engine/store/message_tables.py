"""Messages callers recorded when nobody could take their call; each is a work item until handled.

Created by migrations/versions/0006_messages.py.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table

from engine.store.tables import UtcDateTime, metadata

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_uid", String(64), nullable=False),
    Column("caller", String(64)),
    Column("queue", String(32)),
    Column("file", String(300), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("handled_at", UtcDateTime),
)

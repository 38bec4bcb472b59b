"""The journal's schema, as SQLAlchemy Core tables.

``call_events`` is the append-only truth; ``calls`` is a projection kept up to date by the journal
writer (engine.store.journal) and could be rebuilt from the events. Migrations in ``migrations/`` must
create exactly this schema (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

# Explicit names keep constraints identical on SQLite and PostgreSQL and let migrations refer to them.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SOURCES: Final = ("controller", "fallback", "callback")

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns aware UTC datetimes.

    SQLite has no time zone type: without this, values would come back naive there and aware on
    PostgreSQL. Naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: journal timestamps must be timezone-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


calls = Table(
    "calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The controller's id for a call: the Asterisk uniqueid of the caller's channel.
    Column("call_uid", String(64), nullable=False, unique=True),
    # Stored in full; only logs mask it.
    Column("caller", String(64)),
    Column("dialed", String(64)),
    Column("source", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False, index=True),
    Column("answered_at", UtcDateTime),
    Column("ended_at", UtcDateTime),
    Column("outcome", String(32)),
    Column("hangup_cause", String(64)),
    # What became of the call and its measured facts (engine.reports.disposition), set when it ends.
    Column("disposition", String(32)),
    Column("disposition_detail", JSON),
    # The same facts as typed columns, so reports sum them in the database (migration 0012): the first
    # queue, the first agent who answered, the queue wait, agent offers before that answer, transfers and
    # overflow moves, whether self-service was tried, the callback steps, the conversations' count and talk
    # and hold seconds; and the seconds since the caller's previous inbound call / until their next one (set
    # by the journal writer as calls start), for repeat callers and first-call resolution.
    Column("queue", String(64)),
    Column("agent", String(16)),
    Column("wait_s", Float),
    Column("rings", Integer),
    Column("transfers", Integer),
    Column("overflows", Integer),
    Column("tried_self_service", Boolean),
    Column("callback_booked", Boolean),
    Column("callback_done", Boolean),
    Column("callback_failed", Boolean),
    Column("conversations", Integer),
    Column("talk_s", Float),
    Column("hold_s", Float),
    Column("previous_gap_s", Float),
    Column("next_gap_s", Float),
    # The call's after-call work, all agents together (migration 0013): added as each wrap-up ends, which
    # may be after the call ended, so ACW per queue comes with the calls' GROUP BY, without a join.
    Column("acw_s", Float),
    CheckConstraint("source IN ('controller', 'fallback', 'callback')", name="source"),
    # Repeat callers and first-call resolution look at each caller's calls in time order.
    Index("ix_calls_caller_started_at", "caller", "started_at"),
    # Live calls and calls still to project (reports look for both): a handful, however long the journal.
    Index("ix_calls_undisposed", "started_at", sqlite_where=text("disposition IS NULL"),
          postgresql_where=text("disposition IS NULL")),
)

call_events = Table(
    "call_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", Integer, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(48), nullable=False),
    Column("data", JSON, nullable=False, server_default=text("'{}'")),
    UniqueConstraint("call_id", "seq"),
)

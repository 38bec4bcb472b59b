"""Callbacks callers booked (pressing 2) instead of waiting while every agent was busy.

One row per booking; engine.callbacks.store reads and writes it, the controller dials from it. The row
keeps the caller's place in the queue (``priority`` and ``waiting_since``, when they first queued), so a
booking is served in the same order as if the caller had kept waiting. Created by
migrations/versions/0007_callbacks.py. Rows are never deleted: a closed booking (done, failed, cancelled)
is the record of what happened.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, Table, text

from engine.store.tables import UtcDateTime, metadata

# booked: waiting for its turn (next_attempt_at); dialing: the controller is calling agent and customer;
# done: talked; failed: attempts used up; cancelled: by a supervisor.
STATUSES: Final = ("booked", "dialing", "done", "failed", "cancelled")

callbacks = Table(
    "callbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The call that booked it (calls.call_uid); not a foreign key, like messages: the journal writer may
    # not have projected the call yet when the booking is written.
    Column("call_uid", String(64), nullable=False),
    # The number to call back, stored in full; only displays mask it.
    Column("caller", String(64), nullable=False),
    Column("queue", String(32), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("waiting_since", UtcDateTime, nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime),
    # Work number of the agent who talked to the customer (done only).
    Column("agent", String(16)),
    Column("last_result", String(200)),
    Column("done_at", UtcDateTime),
    CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status"),
    # What the controller polls: bookings due now.
    Index("ix_callbacks_status_next_attempt_at", "status", "next_attempt_at"),
)

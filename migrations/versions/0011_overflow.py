"""The surge plan's journal and supervisors' overflow commands.

``overflow_events``: every stage change, sign-in, sign-out, skip, alert, night and mode change of a queue's
overflow ladder, with the measurement that triggered it (``data``, JSON); reports and `hotline overflow
history` read it, a restarted controller rebuilds each ladder from it. ``overflow_requests``: `hotline
overflow set|hold|release` (and incidents' surges), answered by the running controller.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "overflow_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overflow_events")),
    )
    op.create_index("ix_overflow_events_queue_at", "overflow_events", ["queue", "at"])
    op.create_table(
        "overflow_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overflow_requests")),
        sa.CheckConstraint("action IN ('set', 'hold', 'release')", name=op.f("ck_overflow_requests_action")),
    )


def downgrade() -> None:
    op.drop_table("overflow_requests")
    op.drop_index("ix_overflow_events_queue_at", table_name="overflow_events")
    op.drop_table("overflow_events")

"""Callbacks callers book instead of waiting when every agent is busy.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_uid", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent", sa.String(length=16), nullable=True),
        sa.Column("last_result", sa.String(length=200), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.CheckConstraint("status IN ('booked', 'dialing', 'done', 'failed', 'cancelled')",
                           name=op.f("ck_callbacks_status")),
    )
    op.create_index(op.f("ix_callbacks_status_next_attempt_at"), "callbacks", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_callbacks_status_next_attempt_at"), table_name="callbacks")
    op.drop_table("callbacks")

"""Agent state journal and supervisors' requests to the controller.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=False),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("call_uid", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_events")),
    )
    op.create_index(op.f("ix_agent_events_agent_at"), "agent_events", ["agent", "at"])
    op.create_table(
        "agent_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_requests")),
        sa.CheckConstraint("action IN ('login', 'logout', 'pause', 'resume', 'end_acw')",
                           name=op.f("ck_agent_requests_action")),
    )


def downgrade() -> None:
    op.drop_table("agent_requests")
    op.drop_index(op.f("ix_agent_events_agent_at"), table_name="agent_events")
    op.drop_table("agent_events")

"""Supervisors' requests about live calls (transfers), answered by the controller.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_uid", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("target_queue", sa.String(length=32), nullable=True),
        sa.Column("target_agent", sa.String(length=16), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_requests")),
        sa.CheckConstraint("action IN ('transfer')", name=op.f("ck_call_requests_action")),
    )


def downgrade() -> None:
    op.drop_table("call_requests")

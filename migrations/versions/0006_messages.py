"""Recorded messages callers leave when no agent can take their call (work items).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_uid", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=True),
        sa.Column("queue", sa.String(length=32), nullable=True),
        sa.Column("file", sa.String(length=300), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )


def downgrade() -> None:
    op.drop_table("messages")

"""Agents and their SIP accounts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("work_number", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("sip_user", sa.String(length=32), nullable=False),
        sa.Column("md5_cred", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("work_number", name=op.f("pk_agents")),
        sa.UniqueConstraint("sip_user", name=op.f("uq_agents_sip_user")),
        sa.CheckConstraint(
            "tier IN ('regular', 'expert', 'outbound', 'qc', 'back_office')", name=op.f("ck_agents_tier")
        ),
    )


def downgrade() -> None:
    op.drop_table("agents")

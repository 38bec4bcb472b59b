"""Self-service data (accounts, broadband orders) and incident announcements.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Migrations are frozen history: spell out types and constraint names here, never import engine.store.tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("bill_fen", sa.BigInteger(), nullable=False),
        sa.Column("bill_month", sa.String(length=7), nullable=True),
        sa.Column("data_used_mb", sa.Integer(), nullable=True),
        sa.Column("data_total_mb", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_accounts")),
    )
    op.create_table(
        "broadband_orders",
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("eta", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_no", name=op.f("pk_broadband_orders")),
        sa.CheckConstraint("kind IN ('install', 'repair')", name=op.f("ck_broadband_orders_kind")),
        sa.CheckConstraint(
            "status IN ('accepted', 'dispatched', 'in_progress', 'completed', 'cancelled')",
            name=op.f("ck_broadband_orders_status"),
        ),
    )
    op.create_index(op.f("ix_broadband_orders_number"), "broadband_orders", ["number"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("nodes", sa.JSON(), nullable=False),
        sa.Column("prompt", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )


def downgrade() -> None:
    op.drop_table("incidents")
    op.drop_index(op.f("ix_broadband_orders_number"), table_name="broadband_orders")
    op.drop_table("broadband_orders")
    op.drop_table("accounts")

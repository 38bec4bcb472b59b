"""Calls the hotline places itself (booked callbacks) and supervisors' silent-call handovers.

``calls.source`` gains 'callback'; ``call_requests.action`` gains 'silent' (`hotline call silent`), whose
variant (silent, low_volume, noisy) goes in the new column ``call_requests.script``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _checks(source: str, action: str) -> None:
    # Batch mode: SQLite cannot alter a constraint in place, so the table is copied (PostgreSQL alters).
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint(op.f("ck_calls_source"), type_="check")
        batch.create_check_constraint("source", source)
    with op.batch_alter_table("call_requests") as batch:
        batch.drop_constraint(op.f("ck_call_requests_action"), type_="check")
        batch.create_check_constraint("action", action)


def upgrade() -> None:
    _checks("source IN ('controller', 'fallback', 'callback')", "action IN ('transfer', 'silent')")
    with op.batch_alter_table("call_requests") as batch:
        batch.add_column(sa.Column("script", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_requests") as batch:
        batch.drop_column("script")
    _checks("source IN ('controller', 'fallback')", "action IN ('transfer')")

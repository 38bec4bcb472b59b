"""Agent tiers are names, not a fixed list: `inbound` (was 'regular') is the default, reserves any name.

The overflow ladder (acd/overflow.py) signs in reserve tiers the queue file names (``tiers:`` in
acd/queues.yaml: inbound, expert, outbound, qc, backoffice, or the site's own). ``agents.tier`` keeps its
CHECK constraint, now only "a name": 'regular' becomes 'inbound' and 'back_office' becomes 'backoffice'.
Downgrading maps them back and fails if an agent has a tier the old list does not know.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_CHECK = "tier <> '' AND tier NOT LIKE '% %'"
OLD_CHECK = "tier IN ('regular', 'expert', 'outbound', 'qc', 'back_office')"
RENAMES = (("regular", "inbound"), ("back_office", "backoffice"))


def _rename(pairs: Sequence[tuple[str, str]]) -> None:
    agents = sa.table("agents", sa.column("tier", sa.String(16)))
    for old, new in pairs:
        op.execute(agents.update().where(agents.c.tier == old).values(tier=new))


# Batch mode: SQLite cannot alter a constraint in place, so the table is copied (PostgreSQL alters). The
# old constraint goes before the rename (it would refuse the new names), the new one comes after it.
def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_constraint(op.f("ck_agents_tier"), type_="check")
    _rename(RENAMES)
    with op.batch_alter_table("agents") as batch:
        batch.create_check_constraint("tier", NAME_CHECK)


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_constraint(op.f("ck_agents_tier"), type_="check")
    _rename([(new, old) for old, new in RENAMES])
    with op.batch_alter_table("agents") as batch:
        batch.create_check_constraint("tier", OLD_CHECK)

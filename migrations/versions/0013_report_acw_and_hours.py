"""Reports over a year: each call's after-call work on ``calls``, and agent time per hour.

Adds ``calls.acw_s`` (the seconds of after-call work agents did for the call, all agents together), so that
ACW per queue comes with the calls' own GROUP BY instead of a join of ``call_acw`` to ``calls`` (845 k rows
a year; 3.5 s on SQLite), and ``agent_time_hourly``, the ``agent_time`` rollup summed per hour (``hour`` =
UTC epoch seconds // 3600), which reports whose interval boundaries all fall on whole hours read instead of
four times as many quarter-hour rows; and the partial index ``ix_calls_undisposed`` (calls without a
disposition: live, or ended and not projected yet), which reports look in. Both tables are filled from what the journal holds: ``acw_s`` from
``call_acw``, the hours from the quarter hours. From here on the journal writer keeps them up to date
(engine.reports.projection).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

Migrations are frozen history: spell out types and constraint names here, never import engine.store tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_calls = sa.table("calls", sa.column("call_uid", sa.String), sa.column("acw_s", sa.Float))
_acw = sa.table("call_acw", sa.column("call_uid", sa.String), sa.column("seconds", sa.Float))
_quarters = sa.table("agent_time", sa.column("slot", sa.Integer), sa.column("agent", sa.String),
                     sa.column("state", sa.String), sa.column("seconds", sa.Float))


def upgrade() -> None:
    op.add_column("calls", sa.Column("acw_s", sa.Float(), nullable=True))
    hours = op.create_table(
        "agent_time_hourly",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "state", "agent", name="pk_agent_time_hourly"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_agent_time_hourly_agent", "agent_time_hourly", ["agent", "state", "hour", "seconds"])
    assert hours is not None
    # Live calls and calls still to project: reports look for both in the period, and a year's report must
    # not visit a million disposed calls to find none.
    op.create_index("ix_calls_undisposed", "calls", ["started_at"], sqlite_where=sa.text("disposition IS NULL"),
                    postgresql_where=sa.text("disposition IS NULL"))
    # One statement each, in the database: a correlated sum over call_acw's primary key (call_uid, agent).
    total = sa.select(sa.func.sum(_acw.c.seconds)).where(_acw.c.call_uid == _calls.c.call_uid).scalar_subquery()
    op.execute(sa.update(_calls).where(_calls.c.call_uid.in_(sa.select(_acw.c.call_uid))).values(acw_s=total))
    # Slots are non-negative, so integer division is the floor on both SQLite and PostgreSQL.
    hour = (_quarters.c.slot // 4).label("hour")
    op.execute(sa.insert(hours).from_select(
        ["hour", "state", "agent", "seconds"],
        sa.select(hour, _quarters.c.state, _quarters.c.agent, sa.func.sum(_quarters.c.seconds))
        .group_by(hour, _quarters.c.state, _quarters.c.agent)))


def downgrade() -> None:
    op.drop_index("ix_calls_undisposed", table_name="calls")
    op.drop_index("ix_agent_time_hourly_agent", table_name="agent_time_hourly")
    op.drop_table("agent_time_hourly")
    # Not batch mode: on SQLite that copies and drops ``calls``, and with foreign keys on, dropping it deletes
    # every row that references it (call_events, call_talks: ON DELETE CASCADE). SQLite >= 3.35 drops a
    # plain column in place.
    op.drop_column("calls", "acw_s")

"""Agents (客服代表) and their SIP accounts, as a SQLAlchemy Core table.

Shares ``metadata`` with engine.store.tables, so the migration-vs-metadata check covers it once this module
is imported; ``migrations/versions/0003_agents.py`` creates it. Rows are soft-deleted (``removed_at``) so
the journal can still name the work number of an agent who has left. Only the PJSIP md5 credential
(md5 of ``user:realm:password``) is stored, never the clear password. engine.agents.store reads and
writes it.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import JSON, CheckConstraint, Column, String, Table

from engine.store.tables import UtcDateTime, metadata

DEFAULT_TIER: Final = "inbound"
"""Ordinary inbound agents; other tiers are any name (reserves the overflow ladder signs in)."""

agents = Table(
    "agents",
    metadata,
    # 工号: the only thing callers are ever told about an agent.
    Column("work_number", String(16), primary_key=True),
    # For supervisors' screens; never said or shown to callers.
    Column("name", String(64), nullable=False),
    Column("skills", JSON, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("sip_user", String(32), nullable=False, unique=True),
    # PJSIP auth_type=md5 credential: md5("sip_user:realm:password") in hex.
    Column("md5_cred", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("removed_at", UtcDateTime),
    # A tier is a name (migrations/versions/0010_agent_tiers.py); engine.agents.store checks its spelling.
    CheckConstraint("tier <> '' AND tier NOT LIKE '% %'", name="tier"),
)

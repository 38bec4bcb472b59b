"""Self-service data and incident announcements, as SQLAlchemy Core tables.

``accounts`` and ``broadband_orders`` are what callers look up in the IVR (balance, bill, data usage,
broadband order status); they are loaded by `hotline data load` (engine.selfservice.loading) and read by
engine.selfservice.db_source. ``incidents`` are the outage announcements mounted on IVR nodes
(engine.incidents). The tables share ``metadata`` with engine.store.tables, so the migration-vs-metadata
check covers them once this module is imported; ``migrations/versions/0002_self_service.py`` creates them.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Date, Integer, String, Table, Text

from engine.store.tables import UtcDateTime, metadata

ORDER_KINDS: Final = ("install", "repair")
ORDER_STATUSES: Final = ("accepted", "dispatched", "in_progress", "completed", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


accounts = Table(
    "accounts",
    metadata,
    # The subscriber's phone number: the key callers type or their caller id.
    Column("number", String(32), primary_key=True),
    Column("holder", String(64)),
    # Keyed HMAC (older rows: scrypt), see engine.selfservice.passwords; the clear password is never stored.
    Column("password_hash", String(200), nullable=False),
    # Money in fen (1/100 yuan) so no float ever touches a balance; negative = in arrears.
    Column("balance_fen", BigInteger, nullable=False),
    Column("bill_fen", BigInteger, nullable=False),
    Column("bill_month", String(7)),
    Column("data_used_mb", Integer),
    Column("data_total_mb", Integer),
    Column("updated_at", UtcDateTime, nullable=False),
)

broadband_orders = Table(
    "broadband_orders",
    metadata,
    Column("order_no", String(32), primary_key=True),
    Column("number", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(32), nullable=False),
    Column("eta", Date),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("kind", ORDER_KINDS), name="kind"),
    CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    # IVR node names the announcement is mounted on, e.g. ["main_menu", "self_service"].
    Column("nodes", JSON, nullable=False),
    # Prompt name of the rendered announcement ("incident-<id>"), played as sound:hotline/<prompt>.
    Column("prompt", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("until", UtcDateTime),
    Column("stopped_at", UtcDateTime),
)

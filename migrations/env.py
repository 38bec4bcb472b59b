"""Alembic environment for the journal schema.

The database URL comes from the config's ``sqlalchemy.url`` main option, which engine.store.migrate sets
from the hotline settings; there is no alembic.ini. Alembic's bookkeeping lives in its own table
(``hotline_alembic_version``). SQLite gets batch mode because it cannot ALTER most things in place.
"""

from __future__ import annotations

from alembic import context

from engine.store import (
    agent_journal_tables,  # noqa: F401 - registers its tables on the shared metadata
    agent_tables,  # noqa: F401 - registers its table on the shared metadata
    callback_tables,  # noqa: F401 - registers its table on the shared metadata
    message_tables,  # noqa: F401 - registers its table on the shared metadata
    overflow_tables,  # noqa: F401 - registers its tables on the shared metadata
    self_service_tables,  # noqa: F401 - registers its tables on the shared metadata
)
from engine.store.database import make_engine
from engine.store.migrate import VERSION_TABLE
from engine.store.tables import metadata


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set; run migrations through engine.store.migrate")
    return url


def run_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        version_table=VERSION_TABLE,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                version_table=VERSION_TABLE,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

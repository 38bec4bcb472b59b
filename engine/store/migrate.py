"""Alembic, driven from code: ``hotline db upgrade`` and the schema check call these.

The environment in ``migrations/env.py`` reads the URL we put into the Alembic config, so no
alembic.ini is needed. Logging is left alone: Alembic's INFO lines stay silent unless the
application configured logging.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from engine.store.database import make_engine, sqlite_file, unreachable
from engine.store.schema_revision import MIGRATIONS_DIR, VERSION_TABLE

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "alembic_config", "current_revision", "head_revision",
           "revision_of", "upgrade"]


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would eat a '%' in a URL-encoded password.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision this code ships."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def revision_of(connection: Connection) -> str | None:
    """The revision the connected database is at; None when it has no hotline schema."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when it has no hotline schema."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return revision_of(connection)
    except SQLAlchemyError as exc:
        raise unreachable(url, exc) from None
    finally:
        engine.dispose()


def upgrade(url: str) -> str:
    """Bring the database at ``url`` to the newest schema and return that revision.

    Creates the folder of a SQLite file if needed. Raises DatabaseUnreachable if it cannot connect.
    """
    path = sqlite_file(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unreachable(url, exc) from None
    try:
        command.upgrade(alembic_config(url), "head")
    except SQLAlchemyError as exc:
        raise unreachable(url, exc) from None
    if path is not None and path.exists():
        path.chmod(0o600)  # caller numbers and message metadata: never readable by other users
    return head_revision()

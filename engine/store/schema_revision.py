"""The schema revision this code ships and the one a database is at, read without importing Alembic.

Every `hotline` command that opens the journal checks the two first (engine.store.database.check_database).
Alembic's import and its parse of every migration script cost ~0.25 s of each `hotline report`, so this reads
the migration files' ``revision`` / ``down_revision`` lines and the version table directly. The migrations form
one line, each revising the one before: the head is the one revision no other revises. engine.store.migrate
(which does use Alembic, to upgrade) and a test hold this to Alembic's own answers.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, inspect, text

MIGRATIONS_DIR: Final = Path(__file__).resolve().parents[2] / "migrations"
# Our own name, so the journal can share a PostgreSQL database with another Alembic-managed app.
VERSION_TABLE: Final = "hotline_alembic_version"
_REVISION = re.compile(r'^revision(?:: [^=]+)? = ["\'](\w+)["\']', re.MULTILINE)
_REVISES = re.compile(r'^down_revision(?:: [^=]+)? = ["\'](\w+)["\']', re.MULTILINE)


@cache
def shipped_head() -> str:
    """The newest revision in migrations/versions."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        revised.update(_REVISES.findall(source))
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"expected one head revision in {MIGRATIONS_DIR}, found {sorted(heads) or 'none'}")
    return heads.pop()


def database_revision(connection: Connection) -> str | None:
    """The revision the connected database is at; None when it has no hotline schema."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found = [str(row[0]) for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    if len(found) > 1:
        raise RuntimeError(f"{VERSION_TABLE} names several revisions: {', '.join(sorted(found))}")
    return found[0] if found else None

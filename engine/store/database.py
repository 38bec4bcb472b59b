"""Engines for the journal database and the one-line check the CLI and the controller run first.

SQLite (the default, a file under ``data_dir``) gets WAL, ``synchronous=NORMAL`` and foreign keys on every
connection; ``postgresql://`` URLs are pinned to psycopg 3. Collaborators: engine.store.migrate (schema revision),
engine.errors (DatabaseUnreachable, SettingsError).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from engine.errors import DatabaseUnreachable, SettingsError

# Seconds; a PostgreSQL server that is down must not stall the CLI or the controller's start-up.
CONNECT_TIMEOUT = 5
UPGRADE_HINT = "run `hotline db upgrade`"


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy will use it: ``postgresql://`` and ``postgres://`` become psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError("database_url is not a valid database URL") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: str) -> str:
    """The URL for messages and logs, with the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(invalid database URL)"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; nothing connects until first use."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            # The journal writes from worker threads (asyncio.to_thread), so connections move threads.
            engine = create_engine(parsed, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql":
            connect_args["connect_timeout"] = CONNECT_TIMEOUT
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except NoSuchModuleError:
        raise SettingsError(f"database_url uses an unsupported driver: {parsed.drivername}") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets the CLI read reports while the controller writes; SQLite leaves foreign keys off.
        mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode is not None and str(mode[0]).lower() == "wal":
            # No fsync per commit (the journal writer commits a batch every few ms under load; commit and
            # fsync were 8-11 % of the controller's profile). Under WAL a commit is still safe when the process dies
            # (SIGKILL included: the WAL is in the OS's page cache); only an OS crash or power loss can undo
            # the last commits, never corrupt the file (README, Configuration). Not without WAL: there
            # NORMAL could corrupt the database on power loss.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def failure_reason(exc: BaseException) -> str:
    """The driver's complaint, shortened to what a person needs on one line."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    text = lines[0].strip() if lines else type(original).__name__
    # psycopg: 'connection failed: connection to server at "127.0.0.1", port 5999 failed: Connection refused'
    # The URL in our message already names host and port, so keep only the final reason.
    if text.startswith(("connection failed:", "connection to server")) and " failed: " in text:
        text = text.rpartition(" failed: ")[2]
    text = text.removeprefix("FATAL:").strip()
    if text[:1].isupper() and text[1:2].islower():
        text = text[0].lower() + text[1:]
    return text or type(original).__name__


def unreachable(url: str, exc: BaseException) -> DatabaseUnreachable:
    """The DatabaseUnreachable to raise for a failed connection to ``url``."""
    return DatabaseUnreachable(f"database {display_url(url)} is unreachable: {failure_reason(exc)}")


def check_database(url: str, engine: Engine | None = None) -> None:
    """Connect once and check the schema is current; raise DatabaseUnreachable with one clear line.

    ``engine``: the caller's engine for ``url``, so that the check's connection is the one the command then
    uses (PostgreSQL: one connection instead of two); by default a throwaway one."""
    # Not engine.store.migrate: Alembic's import alone would cost every command a quarter of a second.
    from engine.store.schema_revision import database_revision, shipped_head

    shown = display_url(url)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        # Connecting would silently create an empty database file.
        raise DatabaseUnreachable(f"database {shown} does not exist; {UPGRADE_HINT}")
    checking = engine if engine is not None else make_engine(url)
    try:
        with checking.connect() as connection:
            revision = database_revision(connection)
    except SQLAlchemyError as exc:
        raise unreachable(url, exc) from None
    finally:
        if engine is None:
            checking.dispose()
    head = shipped_head()
    if revision is None:
        raise DatabaseUnreachable(f"database {shown} has no hotline schema; {UPGRADE_HINT}")
    if revision != head:
        raise DatabaseUnreachable(
            f"database {shown} has schema revision {revision}, this hotline needs {head}; {UPGRADE_HINT}"
        )

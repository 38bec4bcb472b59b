"""`hotline db ...`: schema management of the call journal."""

from __future__ import annotations

import click

from engine.cli.context import CliContext, pass_cli
from engine.store.migrate import upgrade


@click.group()
def db() -> None:
    """The journal database (SQLite by default, PostgreSQL by URL)."""


@db.command("upgrade")
@pass_cli
def db_upgrade(obj: CliContext) -> None:
    """Create or migrate the journal schema to the newest version."""
    head = upgrade(obj.settings.db_url)
    click.echo(f"journal schema at revision {head}")

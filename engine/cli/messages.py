"""`hotline messages list|play|done`: the messages callers left when nobody could take their call."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select, update

from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.errors import DomainError
from engine.masking import mask_number
from engine.store.message_tables import messages as messages_table


@click.group("messages")
def messages() -> None:
    """Recorded messages (work items until marked done)."""


@messages.command("list")
@click.option("--all", "include_done", is_flag=True, help="Include messages already handled.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (numbers unmasked).")
@pass_cli
def messages_list(obj: CliContext, include_done: bool, as_json: bool) -> None:
    """Messages, newest first."""
    query = select(messages_table).order_by(messages_table.c.id.desc())
    if not include_done:
        query = query.where(messages_table.c.handled_at.is_(None))
    with open_journal(obj.settings) as db, db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    if as_json:
        emit_json(rows)
        return
    click.echo(f"{'id':>4}  {'caller':<14} {'queue':<11} {'left at':<16} {'seconds':>7}  status")
    for r in rows:
        at = r["created_at"].astimezone(obj.settings.tz).strftime("%m-%d %H:%M:%S")
        click.echo(f"{r['id']:>4}  {mask_number(r['caller']):<14} {r['queue'] or '-':<11} {at:<16} "
                   f"{r['seconds']:>7.1f}  {'done' if r['handled_at'] else 'new'}")


def _message_file(obj: CliContext, message_id: int) -> Path:
    with open_journal(obj.settings) as db, db.connect() as conn:
        found = conn.execute(select(messages_table.c.file).where(messages_table.c.id == message_id)).scalar()
    if found is None:
        raise DomainError(f"no message {message_id}")
    path = Path(str(found))
    if not path.exists():
        raise DomainError(f"message {message_id}: its file {path} is missing")
    return path


@messages.command("play")
@click.argument("message_id", type=int)
@click.option("--to", "target", type=click.Path(path_type=Path), default=None,
              help="Copy the recording to this file (0600) instead of playing it.")
@pass_cli
def messages_play(obj: CliContext, message_id: int, target: Path | None) -> None:
    """Play a message on this terminal's speakers (sox `play`), or copy it out with --to."""
    path = _message_file(obj, message_id)
    if target is not None:
        shutil.copyfile(path, target)
        target.chmod(0o600)
        click.echo(f"message {message_id} copied to {target}")
        return
    player = shutil.which("play") or shutil.which("aplay")
    if player is None:
        raise DomainError("no audio player here (install sox); use --to FILE to copy the recording")
    subprocess.run([player, "-q", str(path)], check=False)


@messages.command("done")
@click.argument("message_id", type=int)
@pass_cli
def messages_done(obj: CliContext, message_id: int) -> None:
    """Mark a message as handled (it leaves the default list)."""
    with open_journal(obj.settings) as db, db.begin() as conn:
        changed = conn.execute(update(messages_table).where(messages_table.c.id == message_id)
                               .values(handled_at=datetime.now(UTC))).rowcount
    if not changed:
        raise DomainError(f"no message {message_id}")
    click.echo(f"message {message_id} done")

"""`hotline callbacks list|cancel`: the callbacks callers booked instead of waiting (engine.callbacks.store)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, tzinfo

import click

from engine.callbacks import store
from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.errors import DomainError
from engine.masking import mask_number


@click.group("callbacks")
def callbacks() -> None:
    """Booked callbacks (called back in queue order within the calling hours)."""


def _local(at: datetime | None, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%m-%d %H:%M") if at is not None else "-"


@callbacks.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include done, failed and cancelled callbacks.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (numbers unmasked).")
@pass_cli
def callbacks_list(obj: CliContext, include_closed: bool, as_json: bool) -> None:
    """Callbacks, newest first (open ones unless --all)."""
    with open_journal(obj.settings) as db:
        bookings = store.list_bookings(db, include_closed)
    if as_json:
        emit_json([dataclasses.asdict(b) for b in bookings])
        return
    tz = obj.settings.tz
    click.echo(f"{'id':>4}  {'caller':<14} {'queue':<11} {'booked at':<12} {'next attempt':<12} "
               f"{'tries':>5}  {'status':<9} agent")
    for b in bookings:
        # A closed booking has no next attempt, whatever the column still holds.
        upcoming = b.next_attempt_at if b.status == "booked" else None
        click.echo(f"{b.id:>4}  {mask_number(b.caller):<14} {b.queue:<11} {_local(b.booked_at, tz):<12} "
                   f"{_local(upcoming, tz):<12} {b.attempts:>5}  {b.status:<9} {b.agent or '-'}")


@callbacks.command("cancel")
@click.argument("callback_id", type=int)
@pass_cli
def callbacks_cancel(obj: CliContext, callback_id: int) -> None:
    """Cancel a booked callback: the customer will not be called."""
    with open_journal(obj.settings) as db:
        reason = store.cancel(db, callback_id, datetime.now(UTC))
    if reason is not None:
        raise DomainError(reason)
    click.echo(f"callback {callback_id} cancelled")

"""`hotline data load|accounts`: the self-service data callers look up (logic in engine.selfservice.loading)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import click

from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.masking import mask_number
from engine.selfservice.loading import (
    AccountRecord,
    load,
    read_accounts_csv,
    read_orders_csv,
    sample_data,
    stored_accounts,
)
from engine.selfservice.password_key import load_or_create
from engine.selfservice.records import Account, BroadbandOrder

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _holder(holder: str | None) -> str:
    # Agents see the full name on their screen; listings and scripts only need to tell rows apart.
    return "-" if not holder else holder[0] + "*" * (len(holder) - 1)


@click.group()
def data() -> None:
    """Self-service data: accounts (balance, bill, data usage) and broadband orders."""


@data.command("load")
@click.option("--sample", is_flag=True, help="Load the built-in sample accounts and orders (13800138000 / 123456).")
@click.option("--accounts", "accounts_file", type=_FILE, default=None,
              help="Accounts CSV: number, holder, password (or password_hash), balance_yuan, bill_yuan, "
                   "bill_month, data_used_mb, data_total_mb.")
@click.option("--orders", "orders_file", type=_FILE, default=None,
              help="Broadband orders CSV: order_no, number, kind (install|repair), status, eta (YYYY-MM-DD).")
@pass_cli
def data_load(obj: CliContext, sample: bool, accounts_file: Path | None, orders_file: Path | None) -> None:
    """Insert or update accounts and orders by key, all in one transaction."""
    if not (sample or accounts_file or orders_file):
        raise click.UsageError("give --sample, --accounts FILE and/or --orders FILE")
    records: list[AccountRecord] = []
    orders: list[BroadbandOrder] = []
    # Every file is checked before the database is touched.
    key = load_or_create(obj.settings.password_key_path)
    if sample:
        sample_records, sample_orders = sample_data(date.today(), key)
        records += sample_records
        orders += sample_orders
    if accounts_file is not None:
        records += read_accounts_csv(accounts_file, key)
    if orders_file is not None:
        orders += read_orders_csv(orders_file)
    with open_journal(obj.settings) as engine:
        report = load(engine, _last_wins(records), orders, datetime.now(UTC))
    click.echo(f"accounts: {report.accounts_added} added, {report.accounts_updated} updated; "
               f"broadband orders: {report.orders_added} added, {report.orders_updated} updated")


def _last_wins(records: list[AccountRecord]) -> list[AccountRecord]:
    # --sample with a file naming a sample number: the file wins, as a second load would do.
    return list({r.account.number: r for r in records}.values())


@data.command("accounts")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (numbers still masked).")
@pass_cli
def data_accounts(obj: CliContext, as_json: bool) -> None:
    """Accounts loaded for self-service; numbers masked, password hashes never shown."""
    with open_journal(obj.settings) as engine:
        rows = stored_accounts(engine)
    if as_json:
        emit_json([_jsonable(a) for a in rows])
        return
    click.echo(f"{'number':<14} {'holder':<8} {'balance':>12} {'bill':>10} {'month':<8} data used/total MB")
    for a in rows:
        usage = "-" if a.data_total_mb is None else f"{a.data_used_mb or 0}/{a.data_total_mb}"
        click.echo(f"{mask_number(a.number):<14} {_holder(a.holder):<8} {_yuan(a.balance_fen):>12} "
                   f"{_yuan(a.bill_fen):>10} {a.bill_month or '-':<8} {usage}")


def _jsonable(a: Account) -> dict[str, object]:
    return {"number": mask_number(a.number), "holder": _holder(a.holder), "balance_fen": a.balance_fen,
            "bill_fen": a.bill_fen, "bill_month": a.bill_month, "data_used_mb": a.data_used_mb,
            "data_total_mb": a.data_total_mb}

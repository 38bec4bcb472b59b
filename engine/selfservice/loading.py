"""Filling the self-service tables: built-in sample data and operator CSV files (`hotline data load`).

CSV files are UTF-8 (a BOM from Excel is fine) with a header row; columns may come in any order, unknown
columns are refused so a typo is not silently ignored.

accounts.csv
    number         required  digits, the subscriber's phone number (the key: an existing row is updated)
    holder         optional  name shown to agents, up to 64 characters
    password       one of    the 6-digit service password, hashed on load (never stored in clear)
    password_hash  these two a hash written by engine.selfservice.passwords (moving data between systems:
                             a keyed hash only loads where the same password key is)
    balance_yuan   required  e.g. 123.45; negative = in arrears
    bill_yuan      required  the current bill, e.g. 88.00
    bill_month     optional  the bill's month, YYYY-MM
    data_used_mb   optional  data used this month, MB   } both or neither
    data_total_mb  optional  the plan's allowance, MB   }

orders.csv
    order_no  required  letters, digits, '-', up to 32 (the key: an existing row is updated)
    number    required  digits, the customer's phone number
    kind      required  install | repair
    status    required  accepted | dispatched | in_progress | completed | cancelled
    eta       optional  planned date, YYYY-MM-DD

Files are read and checked completely before the database is touched; a bad row raises DataFileError
naming ``file:line``. ``load`` writes everything in one transaction: all rows or none.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, Engine, Table, insert, select, update

from engine.errors import DomainError
from engine.selfservice.password_key import PasswordKey
from engine.selfservice.passwords import foreign_key_id, hash_password, is_password_hash, is_valid_password
from engine.selfservice.records import Account, BroadbandOrder
from engine.store.self_service_tables import ORDER_KINDS, ORDER_STATUSES, accounts, broadband_orders

ACCOUNT_COLUMNS: Final = ("number", "holder", "password", "password_hash", "balance_yuan", "bill_yuan",
                          "bill_month", "data_used_mb", "data_total_mb")
ORDER_COLUMNS: Final = ("order_no", "number", "kind", "status", "eta")

_NUMBER = re.compile(r"[0-9]{3,32}")
_ORDER_NO = re.compile(r"[A-Za-z0-9-]{1,32}")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
# Far beyond any phone bill; keeps a misplaced column (a phone number as the balance) out.
_MAX_YUAN: Final = Decimal(10**9)

T = TypeVar("T")


class DataFileError(DomainError):
    """A data file row that cannot be loaded; the message starts with ``file:line:``."""

    code = "bad-data-file"


@dataclass(frozen=True)
class AccountRecord:
    account: Account
    password_hash: str


@dataclass(frozen=True)
class LoadReport:
    accounts_added: int = 0
    accounts_updated: int = 0
    orders_added: int = 0
    orders_updated: int = 0


class _RowError(ValueError):
    """A bad value in the current row; turned into DataFileError with the file and line."""


# --- sample data -------------------------------------------------------------------------------------------

def sample_data(today: date, key: PasswordKey) -> tuple[list[AccountRecord], list[BroadbandOrder]]:
    """A handful of accounts and orders for demos and tests; dates are relative to ``today``.

    13800138000 / 123456 is the documented demo caller: balance 123.45 yuan, bill 88.00 for this month,
    3.5 GB of 10 GB used, a broadband repair in progress (20261123001) due tomorrow.
    """
    month = today.strftime("%Y-%m")

    def account(number: str, holder: str, password: str, balance: int, bill: int,
                used: int | None, total: int | None) -> AccountRecord:
        return AccountRecord(Account(number, holder, balance, bill, month, used, total), hash_password(password, key))

    records = [
        account("13800138000", "张三", "123456", 12345, 8800, 3584, 10240),
        # Looks like a VIP (贵宾) number: big plan, big bill.
        account("13900000001", "李四", "888888", 1256000, 158800, 20480, 102400),
        account("13700000002", "王五", "246810", -2350, 5800, 1900, 2048),
        account("13600000003", "赵六", "135790", 0, 0, None, None),
    ]
    orders = [
        BroadbandOrder("20261123001", "13800138000", "repair", "in_progress", today + timedelta(days=1)),
        BroadbandOrder("20261120007", "13800138000", "install", "completed", None),
        BroadbandOrder("BB20261122015", "13700000002", "install", "dispatched", today + timedelta(days=3)),
    ]
    return records, orders


# --- CSV files ---------------------------------------------------------------------------------------------

def read_accounts_csv(path: Path, key: PasswordKey) -> list[AccountRecord]:
    return _read(path, ACCOUNT_COLUMNS, ("number", "balance_yuan", "bill_yuan"), "number",
                 lambda row: _account_row(row, key))


def read_orders_csv(path: Path) -> list[BroadbandOrder]:
    return _read(path, ORDER_COLUMNS, ("order_no", "number", "kind", "status"), "order_no", _order_row)


def _read(path: Path, known: Sequence[str], required: Sequence[str], key: str,
          parse: Callable[[dict[str, str]], T]) -> list[T]:
    out: list[T] = []
    first_line: dict[str, int] = {}
    for line, row in _rows(path, known, required):
        try:
            record = parse(row)
        except _RowError as exc:
            raise DataFileError(f"{path}:{line}: {exc}") from None
        value = row[key]
        if value in first_line:
            raise DataFileError(f"{path}:{line}: duplicate {key} (first on line {first_line[value]})")
        first_line[value] = line
        out.append(record)
    return out


def _rows(path: Path, known: Sequence[str], required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            header = [name.strip() for name in reader.fieldnames or []]
            unknown = [name for name in header if name not in known]
            if unknown:
                raise DataFileError(f"{path}:1: unknown column {unknown[0]!r}; known: {', '.join(known)}")
            missing = [name for name in required if name not in header]
            if missing:
                raise DataFileError(f"{path}:1: missing column {missing[0]!r}")
            reader.fieldnames = header
            for row in reader:
                if None in row:
                    raise DataFileError(f"{path}:{reader.line_num}: more values than columns")
                cells = {name: (value or "").strip() for name, value in row.items() if name is not None}
                if any(cells.values()):  # blank lines in spreadsheets are not rows
                    yield reader.line_num, cells
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read: {exc.strerror}") from None
    except csv.Error as exc:
        raise DataFileError(f"{path}: not a valid CSV file: {exc}") from None


def _account_row(row: dict[str, str], key: PasswordKey) -> AccountRecord:
    number = _match(row, "number", _NUMBER, "digits only")
    holder = row.get("holder") or None
    if holder is not None and len(holder) > 64:
        raise _RowError("holder is longer than 64 characters")
    password, stored = row.get("password", ""), row.get("password_hash", "")
    if password and stored:
        raise _RowError("give password or password_hash, not both")
    if password:
        if not is_valid_password(password):
            raise _RowError("password must be exactly 6 digits")
        password_hash = hash_password(password, key)
    elif stored:
        if not is_password_hash(stored) or len(stored) > 200:
            raise _RowError("password_hash is not a hash written by hotline")
        other = foreign_key_id(stored, key)
        if other is not None:
            raise _RowError(f"password_hash was made with password key {other}, this site's is {key.key_id}: "
                            "use that site's key file (password_key_file) or give the clear password")
        password_hash = stored
    else:
        raise _RowError("password (6 digits) or password_hash is required")
    month = row.get("bill_month") or None
    if month is not None and not _MONTH.fullmatch(month):
        raise _RowError(f"bill_month {month!r} is not YYYY-MM")
    used, total = _mb(row, "data_used_mb"), _mb(row, "data_total_mb")
    if (used is None) != (total is None):
        raise _RowError("give data_used_mb and data_total_mb together, or neither")
    account = Account(number, holder, _fen(row, "balance_yuan"), _fen(row, "bill_yuan"), month, used, total)
    return AccountRecord(account, password_hash)


def _order_row(row: dict[str, str]) -> BroadbandOrder:
    order_no = _match(row, "order_no", _ORDER_NO, "letters, digits and '-', up to 32")
    number = _match(row, "number", _NUMBER, "digits only")
    kind, status = row["kind"], row["status"]
    if kind not in ORDER_KINDS:
        raise _RowError(f"kind {kind!r} is not one of {', '.join(ORDER_KINDS)}")
    if status not in ORDER_STATUSES:
        raise _RowError(f"status {status!r} is not one of {', '.join(ORDER_STATUSES)}")
    eta_text = row.get("eta") or None
    try:
        eta = date.fromisoformat(eta_text) if eta_text else None
    except ValueError:
        raise _RowError(f"eta {eta_text!r} is not a date YYYY-MM-DD") from None
    return BroadbandOrder(order_no, number, kind, status, eta)


def _match(row: dict[str, str], column: str, pattern: re.Pattern[str], rule: str) -> str:
    value = row[column]
    if not value:
        raise _RowError(f"{column} is empty")
    if not pattern.fullmatch(value):
        raise _RowError(f"{column} must be {rule}")
    return value


def _fen(row: dict[str, str], column: str) -> int:
    text = row[column]
    try:
        yuan = Decimal(text)
    except InvalidOperation:
        raise _RowError(f"{column} {text!r} is not an amount like 123.45") from None
    if not yuan.is_finite() or abs(yuan) >= _MAX_YUAN or (yuan * 100) != (yuan * 100).to_integral_value():
        raise _RowError(f"{column} {text!r} is not an amount in yuan with at most 2 decimals")
    return int(yuan * 100)


def _mb(row: dict[str, str], column: str) -> int | None:
    text = row.get(column) or ""
    if not text:
        return None
    if not text.isdecimal() or int(text) > 2**31 - 1:
        raise _RowError(f"{column} {text!r} is not a whole number of MB")
    return int(text)


# --- the database ------------------------------------------------------------------------------------------

def load(engine: Engine, records: Sequence[AccountRecord], orders: Sequence[BroadbandOrder],
         now: datetime) -> LoadReport:
    """Insert or update every account and order in one transaction (all or nothing)."""
    with engine.begin() as connection:
        account_rows = [{**asdict(r.account), "password_hash": r.password_hash, "updated_at": now} for r in records]
        accounts_added, accounts_updated = _upsert(connection, accounts, "number", account_rows)
        order_rows = [{**asdict(o), "updated_at": now} for o in orders]
        orders_added, orders_updated = _upsert(connection, broadband_orders, "order_no", order_rows)
    return LoadReport(accounts_added, accounts_updated, orders_added, orders_updated)


def _upsert(connection: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    # Portable (SQLite and PostgreSQL) rather than dialect ON CONFLICT: load runs rarely, in one transaction.
    column = table.c[key]
    existing: set[str] = set()
    keys = [row[key] for row in rows]
    for start in range(0, len(keys), 500):  # bounded IN lists
        chunk = keys[start:start + 500]
        existing.update(connection.execute(select(column).where(column.in_(chunk))).scalars())
    added = [row for row in rows if row[key] not in existing]
    changed = [row for row in rows if row[key] in existing]
    if added:
        connection.execute(insert(table), added)
    for row in changed:
        connection.execute(update(table).where(column == row[key]).values(**row))
    return len(added), len(changed)


def stored_accounts(engine: Engine) -> list[Account]:
    """Every account, by number (hashes are not read)."""
    columns = [accounts.c[name] for name in Account.__dataclass_fields__]
    with engine.connect() as connection:
        return [Account(**row._asdict()) for row in connection.execute(select(*columns).order_by(accounts.c.number))]

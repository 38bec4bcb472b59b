"""The records self-service sources return, and the look-up values the IVR runner gets from them.

Both sources (database, HTTP) read an ``Account`` or a ``BroadbandOrder`` and hand it to
``account_values`` / ``order_values``, so a flow sees the same keys whichever source is configured:

    balance          {"amount_fen": int}                      negative = in arrears
    bill             {"amount_fen": int, "month": "2026-11" | None}
    data_usage       {"used_mb": int, "total_mb": int, "left_mb": int}
    broadband_order  {"kind": "install"|"repair", "status": ..., "eta": date | None}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Final

from engine.ivr.ports import LookupResult

ACCOUNT_KINDS: Final = ("balance", "bill", "data_usage")
ORDER_KIND: Final = "broadband_order"
LOOKUP_KINDS: Final = (*ACCOUNT_KINDS, ORDER_KIND)

# Shared instances: an empty read-only mapping so no caller can alter what every other caller gets.
NOT_FOUND: Final = LookupResult("not_found", MappingProxyType({}))
UNAVAILABLE: Final = LookupResult("unavailable", MappingProxyType({}))


@dataclass(frozen=True)
class Account:
    number: str
    holder: str | None
    balance_fen: int
    bill_fen: int
    bill_month: str | None
    data_used_mb: int | None
    data_total_mb: int | None


@dataclass(frozen=True)
class BroadbandOrder:
    order_no: str
    number: str
    kind: str
    status: str
    eta: date | None


def check_kind(kind: str) -> None:
    """ValueError for a look-up kind no source knows: that is a flow definition bug, not an outage."""
    if kind not in LOOKUP_KINDS:
        raise ValueError(f"unknown look-up kind {kind!r}; known: {', '.join(LOOKUP_KINDS)}")


def account_values(kind: str, account: Account) -> LookupResult:
    """The ``kind`` look-up on ``account``; not_found when the account has no such data (no data plan)."""
    values: dict[str, Any]
    if kind == "balance":
        values = {"amount_fen": account.balance_fen}
    elif kind == "bill":
        values = {"amount_fen": account.bill_fen, "month": account.bill_month}
    elif kind == "data_usage":
        if account.data_total_mb is None:
            return NOT_FOUND
        used = account.data_used_mb or 0
        values = {"used_mb": used, "total_mb": account.data_total_mb, "left_mb": max(account.data_total_mb - used, 0)}
    else:
        raise ValueError(f"{kind!r} is not an account look-up")
    return LookupResult("ok", values)


def order_values(order: BroadbandOrder) -> LookupResult:
    return LookupResult("ok", {"kind": order.kind, "status": order.status, "eta": order.eta})

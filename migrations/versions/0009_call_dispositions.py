"""Every call gets a disposition: what became of it (answered, self-service, abandoned in queue, ...).

Adds ``calls.disposition`` (String 32) and ``calls.disposition_detail`` (JSON: the disposition's detail and
the call's measured facts: queue, wait, agent, conversations, ...), then fills both for the calls that
ended before this revision, from their ``call_events``. From here on the journal writer fills them when a
call ends (engine.reports.disposition).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24

Migrations are frozen history: the derivation below is a copy of engine/reports/disposition.py as of this
revision, not an import, so that later changes to the engine cannot change what this migration did.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH: Final = 500

_calls = sa.table("calls", sa.column("id", sa.Integer), sa.column("ended_at", sa.DateTime),
                  sa.column("disposition", sa.String), sa.column("disposition_detail", sa.JSON))
_events = sa.table("call_events", sa.column("call_id", sa.Integer), sa.column("seq", sa.Integer),
                   sa.column("at", sa.DateTime), sa.column("kind", sa.String), sa.column("data", sa.JSON))


def upgrade() -> None:
    op.add_column("calls", sa.Column("disposition", sa.String(length=32), nullable=True))
    op.add_column("calls", sa.Column("disposition_detail", sa.JSON(), nullable=True))
    connection = op.get_bind()
    ended = [row[0] for row in connection.execute(
        sa.select(_calls.c.id).where(_calls.c.ended_at.is_not(None)).order_by(_calls.c.id))]
    for first in range(0, len(ended), BATCH):
        chunk = ended[first:first + BATCH]
        events: dict[int, list[Event]] = {call_id: [] for call_id in chunk}
        query = (sa.select(_events.c.call_id, _events.c.kind, _events.c.at, _events.c.data)
                 .where(_events.c.call_id.in_(chunk)).order_by(_events.c.call_id, _events.c.seq))
        for row in connection.execute(query):
            events[row.call_id].append((row.kind, row.at, row.data or {}))
        rows = []
        for call_id in chunk:
            found = derive(events[call_id])
            rows.append({"call": call_id, "name": found.name, "detail": found.detail})
        connection.execute(
            sa.update(_calls).where(_calls.c.id == sa.bindparam("call"))
            .values(disposition=sa.bindparam("name"), disposition_detail=sa.bindparam("detail")),
            rows,
        )


def downgrade() -> None:
    # Not batch mode (see 0013): on SQLite it would drop and copy ``calls``, deleting call_events by cascade.
    op.drop_column("calls", "disposition_detail")
    op.drop_column("calls", "disposition")


# -- frozen copy of engine/reports/disposition.py (revision 0009) ------------------------------------------

Event = tuple[str, datetime, Mapping[str, Any]]
"""One ``call_events`` row: kind, when, data."""

DISPOSITIONS: Final = (
    "answered", "transferred", "silent", "self_service", "message_left", "callback_booked", "unserved",
    "abandoned_ivr", "abandoned_queue", "short_abandon", "closed_hours", "misdial", "overflowed",
    "handed_to_fallback", "callback_unanswered", "error",
)
SHORT_ABANDON_S: Final = 20.0


@dataclass(frozen=True)
class Rules:
    """What the journal alone cannot tell: the short-abandon threshold and the flow's closed-hours nodes."""

    short_abandon_s: float = SHORT_ABANDON_S
    closed_nodes: frozenset[str] = frozenset({"closed"})


@dataclass(frozen=True)
class Disposition:
    name: str
    detail: dict[str, Any] = field(default_factory=dict)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max((end - start).total_seconds(), 0.0), 1)


@dataclass
class _Talk:
    agent: str
    started: datetime
    hold_s: float = 0.0
    ended: datetime | None = None
    ended_by: str = "end"


@dataclass
class _Reading:
    """What a walk through the events found; turned into a Disposition by ``_decide``."""

    source: str = "controller"
    outcome: str | None = None
    ended_at: datetime | None = None
    fallback_reason: str | None = None
    queue: str | None = None
    queue_requested: bool = False
    entered_at: datetime | None = None
    waiting: bool = False
    turned_away: str | None = None
    wait_end: datetime | None = None
    agent: str | None = None
    rings: int = 0
    talks: list[_Talk] = field(default_factory=list)
    transfer: dict[str, Any] | None = None
    transfers: int = 0
    overflow: dict[str, Any] | None = None
    answered_after_overflow: bool = False
    overflows: int = 0
    message: Any = None
    callback: dict[str, Any] = field(default_factory=dict)
    self_service_result: str | None = None
    tried_self_service: bool = False
    closed: bool = False
    last_node: str | None = None
    silent_variant: str | None = None


def _close_talk(reading: _Reading, at: datetime, by: str) -> None:
    if reading.talks and reading.talks[-1].ended is None:
        reading.talks[-1].ended, reading.talks[-1].ended_by = at, by


def _read(events: Iterable[Event], rules: Rules) -> _Reading:
    r = _Reading()
    for kind, at, data in events:
        match kind:
            case "call.started":
                r.source = str(data.get("source") or "controller")
            case "call.ended":
                if r.ended_at is None:  # the first end wins, as in the calls projection
                    r.outcome, r.ended_at = data.get("outcome"), at
                    _close_talk(r, at, "end")
            case "call.handed_to_fallback":
                r.fallback_reason = str(data.get("reason") or "controller stopped")
            case "ivr.node":
                r.last_node = data.get("node")
            case "ivr.branch":
                if data.get("why") == "closed":
                    r.closed = True
            case "ivr.exit":
                if data.get("how") == "queued":
                    r.queue_requested = True
                    r.queue = r.queue or data.get("queue")
                elif data.get("node") in rules.closed_nodes:
                    r.closed = True
            case "lookup.result":
                r.tried_self_service = True
                if data.get("status") == "ok" and data.get("kind") != "password":
                    r.self_service_result = f"{data.get('kind')}"
            case "password.checked":
                r.tried_self_service = True
            case "incident.heard":
                r.tried_self_service = True
                r.self_service_result = r.self_service_result or f"incident {data.get('incident')}"
            case "queue.requested":
                r.queue_requested = True
                r.queue = r.queue or data.get("queue")
            case "queue.entered":
                r.queue = r.queue or data.get("queue")
                r.queue_requested = True
                r.entered_at = r.entered_at or at
                r.waiting, r.turned_away = True, None
            case "queue.closed" | "queue.left":
                r.queue = r.queue or data.get("queue")
                r.queue_requested = True
                r.waiting, r.turned_away = False, str(data.get("why") or kind.removeprefix("queue."))
                if r.agent is None and r.entered_at is not None and r.wait_end is None:
                    r.wait_end = at
            case "queue.keep_waiting":
                r.turned_away = None
                if r.agent is None:
                    r.wait_end = None
            case "queue.offered":
                if r.agent is None:
                    r.rings += 1
            case "queue.answered":
                agent = str(data.get("agent"))
                r.waiting, r.turned_away = False, None
                if r.agent is None:
                    r.agent = agent
                    r.wait_end = at
                if r.overflow is not None:
                    r.answered_after_overflow = True
                r.talks.append(_Talk(agent, at))
            case "hold.ended":
                if r.talks:
                    r.talks[-1].hold_s += float(data.get("seconds") or 0)
            case "call.agent_hung_up":
                _close_talk(r, at, "agent")
            case "call.transferred":
                _close_talk(r, at, "transfer")
                r.transfers += 1
                if r.transfer is None:
                    r.transfer = {k: data.get(k) for k in ("from_agent", "to_queue", "to_agent", "by")}
            case "silent.handover":
                _close_talk(r, at, "silent")
                r.silent_variant = str(data.get("variant") or "silent")
            case "overflow.moved":
                r.overflows += 1
                r.overflow = {k: data.get(k) for k in ("to_queue", "to_site") if data.get(k) is not None}
                r.answered_after_overflow = False
            case "message.saved":
                r.message = data.get("message")
            case "callback.booked" | "callback.done" | "callback.failed":
                r.callback[kind.removeprefix("callback.")] = data.get("callback")
    if r.wait_end is None and r.entered_at is not None:
        r.wait_end = r.ended_at
    return r


def _facts(r: _Reading) -> dict[str, Any]:
    """The measured facts every disposition carries (only those that apply, to keep rows small)."""
    facts: dict[str, Any] = {}
    if r.queue is not None:
        facts["queue"] = r.queue
    wait = _seconds(r.entered_at, r.wait_end)
    if wait is not None:
        facts["wait_s"] = wait
    if r.agent is not None:
        facts["agent"] = r.agent
        facts["rings"] = r.rings
    talks = [[t.agent, round(max((_seconds(t.started, t.ended) or 0.0) - t.hold_s, 0.0), 1), round(t.hold_s, 1),
              t.ended_by] for t in r.talks]
    if talks:
        facts["talks"] = talks
    if r.transfers:
        facts["transfers"] = r.transfers
    if r.overflows:
        facts["overflows"] = r.overflows
    if r.tried_self_service:
        facts["tried_self_service"] = True
    if r.callback:
        facts["callback"] = dict(r.callback)
    return facts


def _decide(r: _Reading, rules: Rules) -> tuple[str, dict[str, Any]]:
    if r.outcome == "error":
        return "error", {}
    if r.fallback_reason is not None or r.source == "fallback" or r.outcome in ("fallback", "handed_to_fallback"):
        return "handed_to_fallback", {"reason": r.fallback_reason or "no controller"}
    if r.outcome == "misdial":
        return "misdial", {}
    if (r.source == "callback" and r.agent is None) or r.outcome == "callback_unanswered":
        return "callback_unanswered", {}
    if r.outcome == "silent":
        return "silent", {"variant": r.silent_variant or "silent"}
    if r.agent is not None and r.transfer is not None:
        return "transferred", {k: v for k, v in r.transfer.items() if v is not None}
    if r.agent is not None:
        return "answered", {}
    if r.overflow is not None and not r.answered_after_overflow:
        return "overflowed", dict(r.overflow)
    if r.message is not None:
        return "message_left", {"message": r.message}
    if "booked" in r.callback:
        return "callback_booked", {}
    if r.queue_requested and not r.waiting:
        return "unserved", {"why": r.turned_away or "no queue"}
    if r.queue_requested:
        wait = _seconds(r.entered_at, r.wait_end) or 0.0
        return ("short_abandon" if wait <= rules.short_abandon_s else "abandoned_queue"), {}
    if r.self_service_result is not None:
        return "self_service", {"result": r.self_service_result}
    if r.closed:
        return "closed_hours", {}
    return "abandoned_ivr", {"node": r.last_node, "by": "caller" if r.outcome == "abandoned" else "hotline"}


def derive(events: Iterable[Event], rules: Rules = Rules()) -> Disposition:
    """The disposition of one call from its events in seq order (see the module docstring)."""
    reading = _read(events, rules)
    name, detail = _decide(reading, rules)
    return Disposition(name, {**_facts(reading), **detail})

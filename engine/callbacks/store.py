"""Bookings in the ``callbacks`` table (engine.store.callback_tables): blocking calls on a SQLAlchemy Engine.

The controller runs them through ``asyncio.to_thread``; `hotline callbacks` runs them directly. Life of a
booking::

    booked ──start_attempt──► dialing ──finish──► done
      ▲  │                      │ ├──retry_later──► booked (next_attempt_at later)
      │  └──cancel──► cancelled │ └──give_up──────► failed
      └──────reset_dialing──────┘   (a controller that died mid-attempt)

Every change is one conditional UPDATE (``WHERE status = ...``), so the controller and a supervisor's
`callbacks cancel` can race without a booking being dialled after it was cancelled, or reopened after it
closed. Times are timezone-aware; policy (when to call, when to give up) lives in engine.callbacks.policy.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, cast, get_args

import sqlalchemy
from sqlalchemy import insert, select, update

from engine.store.callback_tables import STATUSES, callbacks

Status = Literal["booked", "dialing", "done", "failed", "cancelled"]
assert get_args(Status) == STATUSES, "Status and the table's CHECK constraint must list the same statuses"

OPEN_STATUSES: Final = ("booked", "dialing")
RESULT_MAX: Final = 200  # callbacks.last_result is String(200); PostgreSQL refuses longer text
INTERRUPTED: Final = "interrupted: the controller stopped during the attempt"


@dataclass(frozen=True)
class Booking:
    """One row of ``callbacks``. ``caller`` is the number in full: mask it before display or logging."""

    id: int
    call_uid: str
    caller: str
    queue: str
    priority: int
    waiting_since: datetime
    booked_at: datetime
    status: Status
    attempts: int
    next_attempt_at: datetime | None
    agent: str | None
    last_result: str | None
    done_at: datetime | None


def _booking(row: sqlalchemy.Row[tuple[object, ...]]) -> Booking:
    values = dict(row._mapping)
    values["status"] = cast(Status, values["status"])
    return Booking(**values)


def _queue_order() -> tuple[sqlalchemy.ColumnElement[object], ...]:
    # The place the caller kept: higher priority first, then who started waiting first; id breaks ties.
    return (callbacks.c.priority.desc(), callbacks.c.waiting_since.asc(), callbacks.c.id.asc())


def _select(query: sqlalchemy.Select[tuple[object, ...]], db: sqlalchemy.Engine) -> list[Booking]:
    with db.connect() as connection:
        return [_booking(row) for row in connection.execute(query)]


def book(db: sqlalchemy.Engine, *, call_uid: str, caller: str, queue: str, priority: int,
         waiting_since: datetime, now: datetime, first_attempt_at: datetime) -> int:
    """Record a new booking (status booked, no attempt yet) and return its id."""
    with db.begin() as connection:
        result = connection.execute(insert(callbacks).values(
            call_uid=call_uid, caller=caller, queue=queue, priority=priority, waiting_since=waiting_since,
            booked_at=now, status="booked", attempts=0, next_attempt_at=first_attempt_at))
        key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def due(db: sqlalchemy.Engine, now: datetime) -> list[Booking]:
    """Bookings whose next attempt is due at ``now``, in queue order."""
    return _select(select(callbacks).where(callbacks.c.status == "booked", callbacks.c.next_attempt_at <= now)
                   .order_by(*_queue_order()), db)


def open_bookings(db: sqlalchemy.Engine) -> list[Booking]:
    """Bookings not closed yet (booked or dialing), in queue order: what the controller restores at start."""
    return _select(select(callbacks).where(callbacks.c.status.in_(OPEN_STATUSES)).order_by(*_queue_order()), db)


def reset_dialing(db: sqlalchemy.Engine, keep: Collection[int] = ()) -> int:
    """Take back bookings a stopped controller left in dialing, except those in ``keep`` (callbacks whose
    conversation Asterisk still holds and this controller took up); returns how many.

    Call it at start, before dialing anything. The interrupted attempt still counts (the customer may have
    been rung), so a controller that keeps crashing cannot call someone over and over.
    """
    query = update(callbacks).where(callbacks.c.status == "dialing")
    if keep:
        query = query.where(callbacks.c.id.not_in(list(keep)))
    with db.begin() as connection:
        return connection.execute(query.values(status="booked", last_result=INTERRUPTED)).rowcount


def get(db: sqlalchemy.Engine, booking_id: int) -> Booking | None:
    """One booking by id (None: no such booking)."""
    found = _select(select(callbacks).where(callbacks.c.id == booking_id), db)
    return found[0] if found else None


def start_attempt(db: sqlalchemy.Engine, booking_id: int, now: datetime) -> bool:
    """booked → dialing and count the attempt; False (nothing changed) if the booking is no longer booked
    (cancelled meanwhile, or taken by someone else) or not due at ``now``."""
    with db.begin() as connection:
        changed = connection.execute(
            update(callbacks)
            .where(callbacks.c.id == booking_id, callbacks.c.status == "booked", callbacks.c.next_attempt_at <= now)
            .values(status="dialing", attempts=callbacks.c.attempts + 1)).rowcount
    return changed == 1


def _close_attempt(db: sqlalchemy.Engine, booking_id: int, **values: object) -> bool:
    # Only an attempt in progress can end: a booking a supervisor closed stays as they left it.
    with db.begin() as connection:
        changed = connection.execute(update(callbacks)
                                     .where(callbacks.c.id == booking_id, callbacks.c.status == "dialing")
                                     .values(**values)).rowcount
    return changed == 1


def finish(db: sqlalchemy.Engine, booking_id: int, *, now: datetime, agent: str, result: str) -> bool:
    """dialing → done: ``agent`` talked to the customer. False if the booking was not being dialled."""
    return _close_attempt(db, booking_id, status="done", done_at=now, agent=agent, last_result=result[:RESULT_MAX])


def retry_later(db: sqlalchemy.Engine, booking_id: int, *, now: datetime, result: str, at: datetime) -> bool:
    """dialing → booked again, due ``at`` (from policy.after_attempt). False if it was not being dialled.

    ``now`` is taken for symmetry with finish/give_up; the row keeps no time of the failed attempt."""
    return _close_attempt(db, booking_id, status="booked", next_attempt_at=at, last_result=result[:RESULT_MAX])


def give_up(db: sqlalchemy.Engine, booking_id: int, *, now: datetime, result: str) -> bool:
    """dialing → failed (attempts used up or the number is unreachable). False if it was not being dialled."""
    return _close_attempt(db, booking_id, status="failed", done_at=now, next_attempt_at=None,
                          last_result=result[:RESULT_MAX])


def cancel(db: sqlalchemy.Engine, booking_id: int, now: datetime) -> str | None:
    """booked → cancelled. None when done; else why not, as one line for the operator."""
    with db.begin() as connection:
        changed = connection.execute(
            update(callbacks).where(callbacks.c.id == booking_id, callbacks.c.status == "booked")
            .values(status="cancelled", done_at=now, next_attempt_at=None)).rowcount
        if changed:
            return None
        status = connection.execute(select(callbacks.c.status).where(callbacks.c.id == booking_id)).scalar()
    match status:
        case None:
            return f"no callback {booking_id}"
        case "dialing":
            # The agent may already be talking to the customer; the attempt's outcome will close it.
            return f"callback {booking_id} is being dialled right now"
        case "done":
            return f"callback {booking_id} is already done"
        case "failed":
            return f"callback {booking_id} has already failed"
        case _:
            return f"callback {booking_id} is already cancelled"


def list_bookings(db: sqlalchemy.Engine, include_closed: bool) -> list[Booking]:
    """Bookings, newest first; only open ones (booked, dialing) unless ``include_closed``."""
    query = select(callbacks).order_by(callbacks.c.id.desc())
    if not include_closed:
        query = query.where(callbacks.c.status.in_(OPEN_STATUSES))
    return _select(query, db)

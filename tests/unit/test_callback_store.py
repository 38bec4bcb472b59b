"""Bookings in the callbacks table, on a temporary SQLite journal migrated by Alembic like production.

Each state change is one conditional UPDATE, so a supervisor's cancel and the controller's dialing cannot
both win; these tests walk the life cycle and the races it guards against.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy

from engine.callbacks import store
from engine.callbacks.store import Booking
from engine.store.database import make_engine
from engine.store.migrate import upgrade

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=BEIJING)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlalchemy.Engine]:
    url = f"sqlite:///{tmp_path / 'data' / 'hotline.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def book(db: sqlalchemy.Engine, caller: str, *, priority: int = 0, waited_from: float = 0,
         first: float = 0) -> int:
    return store.book(db, call_uid=f"uid-{caller}", caller=caller, queue="general", priority=priority,
                      waiting_since=at(waited_from), now=at(5), first_attempt_at=at(first))


def one(db: sqlalchemy.Engine, booking_id: int) -> Booking:
    return next(b for b in store.list_bookings(db, include_closed=True) if b.id == booking_id)


def test_book_stores_every_field_with_aware_times(db: sqlalchemy.Engine) -> None:
    booking_id = book(db, "13800138000", priority=2, waited_from=-3, first=6)
    assert one(db, booking_id) == Booking(
        id=booking_id, call_uid="uid-13800138000", caller="13800138000", queue="general", priority=2,
        waiting_since=at(-3), booked_at=at(5), status="booked", attempts=0, next_attempt_at=at(6), agent=None,
        last_result=None, done_at=None)
    assert one(db, booking_id).booked_at.tzinfo == UTC


def test_due_keeps_the_callers_place_in_the_queue(db: sqlalchemy.Engine) -> None:
    late = book(db, "13800000001", waited_from=2)
    early = book(db, "13800000002", waited_from=1)
    vip = book(db, "13900000000", priority=10, waited_from=4)
    tonight = book(db, "13800000003", first=60)  # waited longest, but its call is due only later
    assert [b.id for b in store.due(db, at(10))] == [vip, early, late]
    assert [b.id for b in store.due(db, at(60))] == [vip, tonight, early, late]
    assert [b.id for b in store.open_bookings(db)] == [vip, tonight, early, late]


def test_attempt_then_done(db: sqlalchemy.Engine) -> None:
    booking_id = book(db, "13800138000")
    assert store.start_attempt(db, booking_id, at(10))
    assert not store.start_attempt(db, booking_id, at(10)), "already dialing: nobody may dial it twice"
    assert store.due(db, at(10)) == []
    assert store.finish(db, booking_id, now=at(12), agent="1001", result="talked")
    done = one(db, booking_id)
    assert (done.status, done.attempts, done.agent, done.last_result, done.done_at) == (
        "done", 1, "1001", "talked", at(12))
    assert store.open_bookings(db) == [] and store.list_bookings(db, include_closed=False) == []


def test_retry_later_then_give_up(db: sqlalchemy.Engine) -> None:
    booking_id = book(db, "13800138000")
    assert store.start_attempt(db, booking_id, at(10))
    assert store.retry_later(db, booking_id, now=at(11), result="no_answer", at=at(21))
    again = one(db, booking_id)
    assert (again.status, again.attempts, again.next_attempt_at, again.last_result) == (
        "booked", 1, at(21), "no_answer")
    assert not store.start_attempt(db, booking_id, at(20)), "not due yet"
    assert store.start_attempt(db, booking_id, at(21))
    assert store.give_up(db, booking_id, now=at(22), result="x" * 300)
    failed = one(db, booking_id)
    assert (failed.status, failed.attempts, failed.done_at, failed.next_attempt_at) == ("failed", 2, at(22), None)
    assert failed.last_result == "x" * store.RESULT_MAX


def test_outcomes_only_close_an_attempt_in_progress(db: sqlalchemy.Engine) -> None:
    booking_id = book(db, "13800138000")
    assert not store.finish(db, booking_id, now=at(1), agent="1001", result="talked")
    assert not store.retry_later(db, booking_id, now=at(1), result="no_answer", at=at(2))
    assert not store.give_up(db, booking_id, now=at(1), result="no_answer")
    assert not store.finish(db, 999, now=at(1), agent="1001", result="talked")
    assert one(db, booking_id).status == "booked"


def test_cancel_and_its_reasons(db: sqlalchemy.Engine) -> None:
    booking_id = book(db, "13800138000")
    assert store.cancel(db, booking_id, at(6)) is None
    cancelled = one(db, booking_id)
    assert (cancelled.status, cancelled.done_at) == ("cancelled", at(6))
    assert not store.start_attempt(db, booking_id, at(10)), "a cancelled booking is never dialled"
    assert store.cancel(db, booking_id, at(7)) == f"callback {booking_id} is already cancelled"
    assert store.cancel(db, 999, at(7)) == "no callback 999"

    dialing = book(db, "13800000001")
    assert store.start_attempt(db, dialing, at(10))
    assert store.cancel(db, dialing, at(10)) == f"callback {dialing} is being dialled right now"
    assert store.finish(db, dialing, now=at(11), agent="1001", result="talked")
    assert store.cancel(db, dialing, at(12)) == f"callback {dialing} is already done"

    hopeless = book(db, "13800000002")
    assert store.start_attempt(db, hopeless, at(10))
    assert store.give_up(db, hopeless, now=at(11), result="cause_1")
    assert store.cancel(db, hopeless, at(12)) == f"callback {hopeless} has already failed"


def test_reset_dialing_takes_back_what_a_stopped_controller_left(db: sqlalchemy.Engine) -> None:
    left = book(db, "13800138000")
    waiting = book(db, "13800000001")
    assert store.start_attempt(db, left, at(10))
    assert [b.status for b in store.open_bookings(db)] == ["dialing", "booked"]
    assert store.reset_dialing(db) == 1
    taken_back = one(db, left)
    assert (taken_back.status, taken_back.attempts) == ("booked", 1), "the interrupted attempt still counts"
    assert taken_back.last_result == store.INTERRUPTED
    assert [b.id for b in store.due(db, at(10))] == [left, waiting]
    assert store.reset_dialing(db) == 0


def test_reset_dialing_keeps_a_callback_whose_conversation_was_taken_up(db: sqlalchemy.Engine) -> None:
    """A restarted controller that re-adopted a callback still talking keeps it in dialing (it settles it
    itself); the interrupted one is booked again."""
    talking, interrupted = book(db, "13800000001"), book(db, "13800000002")
    assert store.start_attempt(db, talking, at(10)) and store.start_attempt(db, interrupted, at(10))
    assert store.reset_dialing(db, keep={talking}) == 1
    assert (one(db, talking).status, one(db, interrupted).status) == ("dialing", "booked")
    assert store.get(db, talking) == one(db, talking) and store.get(db, 999) is None
    assert store.finish(db, talking, now=at(11), agent="1001", result="talked")


def test_list_is_newest_first_and_hides_closed_ones(db: sqlalchemy.Engine) -> None:
    first, second, third = (book(db, n) for n in ("13800000001", "13800000002", "13800000003"))
    assert store.cancel(db, second, at(6)) is None
    assert [b.id for b in store.list_bookings(db, include_closed=False)] == [third, first]
    assert [b.id for b in store.list_bookings(db, include_closed=True)] == [third, second, first]

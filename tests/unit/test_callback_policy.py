"""When customers are called back: the calling window (local time, one day), retries and giving up."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.callbacks.policy import after_attempt, first_attempt, in_window, next_window_start
from engine.settings import CallbackSettings

BEIJING = ZoneInfo("Asia/Shanghai")
OPENS, CLOSES = time(8, 0), time(21, 0)
SETTINGS = CallbackSettings(trunk_host="192.0.2.10", max_attempts=3, retry_after_s=600)


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=BEIJING)


@pytest.mark.parametrize(("at", "inside"), [
    (local(23, 7, 59, 59), False),
    (local(23, 8, 0), True),  # opening time is inside
    (local(23, 14, 30), True),
    (local(23, 20, 59, 59), True),
    (local(23, 21, 0), False),  # closing time is outside: the last call starts before it
    (local(23, 23, 30), False),
    (local(23, 0, 0), False),
])
def test_window_edges(at: datetime, inside: bool) -> None:
    assert in_window(at, OPENS, CLOSES) is inside


def test_next_window_start_is_now_today_or_tomorrow() -> None:
    assert next_window_start(local(23, 9, 15), OPENS, CLOSES) == local(23, 9, 15)
    assert next_window_start(local(23, 6, 40), OPENS, CLOSES) == local(23, 8, 0)
    assert next_window_start(local(23, 21, 0), OPENS, CLOSES) == local(24, 8, 0)
    assert next_window_start(local(30, 23, 59), OPENS, CLOSES) == datetime(2026, 12, 1, 8, 0, tzinfo=BEIJING)


def test_the_window_is_in_the_given_local_zone() -> None:
    # 02:00 UTC is 10:00 in Beijing: inside; the answer keeps the caller's zone.
    utc_as_beijing = datetime(2026, 11, 23, 2, 0, tzinfo=UTC).astimezone(BEIJING)
    assert in_window(utc_as_beijing, OPENS, CLOSES)
    opening = next_window_start(local(23, 22, 0), OPENS, CLOSES)
    assert opening.tzinfo is BEIJING and opening.utcoffset() == timedelta(hours=8)


def test_a_window_across_midnight_or_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="must start before it ends"):
        in_window(local(23, 23, 0), time(22, 0), time(6, 0))
    with pytest.raises(ValueError, match="must start before it ends"):
        next_window_start(local(23, 23, 0), time(9, 0), time(9, 0))
    with pytest.raises(ValueError, match="naive datetime"):
        in_window(datetime(2026, 11, 23, 9, 0), OPENS, CLOSES)


def test_first_attempt_now_or_at_the_next_opening() -> None:
    assert first_attempt(local(23, 10, 0), SETTINGS) == local(23, 10, 0)
    assert first_attempt(local(23, 21, 30), SETTINGS) == local(24, 8, 0)
    evening = CallbackSettings(trunk_host="192.0.2.10", window_start="18:00", window_end="20:00")
    assert first_attempt(local(23, 10, 0), evening) == local(23, 18, 0)


def test_retry_after_the_pause_moved_into_the_window() -> None:
    assert after_attempt(local(23, 10, 0), 1, "no_answer", SETTINGS) == local(23, 10, 10)
    assert after_attempt(local(23, 20, 45), 2, "user_busy", SETTINGS) == local(23, 20, 55)
    assert after_attempt(local(23, 20, 55), 2, "user_busy", SETTINGS) == local(24, 8, 0)
    # 20:50 + 10 min is 21:00 exactly: the window is closed by then.
    assert after_attempt(local(23, 20, 50), 1, "no_answer", SETTINGS) == local(24, 8, 0)


def test_give_up_after_max_attempts_or_on_a_number_that_cannot_exist() -> None:
    assert after_attempt(local(23, 10, 0), 3, "no_answer", SETTINGS) is None
    assert after_attempt(local(23, 10, 0), 4, "no_answer", SETTINGS) is None
    assert after_attempt(local(23, 10, 0), 1, "cause_1", SETTINGS) is None  # unallocated number
    once = CallbackSettings(trunk_host="192.0.2.10", max_attempts=1)
    assert after_attempt(local(23, 10, 0), 1, "no_answer", once) is None

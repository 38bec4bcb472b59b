"""When to call a customer back: calling hours, retries and giving up. Pure functions, no I/O, no clock.

All datetimes are timezone-aware local times in ``Settings.tz`` (the calling window is a local-time rule);
naive ones are refused rather than guessed. The window is ``[start, end)`` within one day: settings refuse
a window across midnight, and these functions refuse it too, so nobody is rung at night.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Final

from engine.settings import CallbackSettings

# Results no retry can change: the number does not exist or is malformed (Q.850 causes 1 and 28, named as
# engine.call_session.cause_name names causes without a name of their own). Busy, no answer, congestion and
# the like may pass, so they are retried.
HOPELESS_RESULTS: Final = frozenset({"cause_1", "cause_28"})


def _check(local: datetime, start: time, end: time) -> None:
    if local.tzinfo is None or local.utcoffset() is None:
        raise ValueError(f"naive datetime {local!r}: pass local time in the settings' time zone")
    if not start < end:
        raise ValueError(f"calling window {start}-{end} must start before it ends on the same day")


def in_window(local: datetime, start: time, end: time) -> bool:
    """True when customers may be called at ``local``: ``start <= time of day < end``."""
    _check(local, start, end)
    return start <= local.time() < end


def _at(local: datetime, day_offset: int, clock: time) -> datetime:
    day = local.date() + timedelta(days=day_offset)
    # Via UTC and back, so a wall time that a DST change skips becomes a real instant with the right offset.
    return datetime.combine(day, clock, tzinfo=local.tzinfo).astimezone(UTC).astimezone(local.tzinfo)


def next_window_start(local: datetime, start: time, end: time) -> datetime:
    """``local`` itself when inside the window, else the next opening: today's if not yet, else tomorrow's."""
    if in_window(local, start, end):
        return local
    if local.time() < start:
        return _at(local, 0, start)
    return _at(local, 1, start)


def first_attempt(now_local: datetime, settings: CallbackSettings) -> datetime:
    """When to make the first call of a booking made at ``now_local``: now, or when the window opens."""
    return next_window_start(now_local, settings.window_opens, settings.window_closes)


def after_attempt(now_local: datetime, attempts: int, result: str, settings: CallbackSettings) -> datetime | None:
    """When to try again after attempt number ``attempts`` failed with ``result``; None means give up.

    Gives up once ``max_attempts`` calls were made, or at once when the number cannot be reached at all
    (HOPELESS_RESULTS). Otherwise waits ``retry_after_s`` and then for the window to open if it is closed.
    """
    _check(now_local, settings.window_opens, settings.window_closes)
    if attempts >= settings.max_attempts or result in HOPELESS_RESULTS:
        return None
    # Elapsed time, not wall time: add in UTC so a DST change does not stretch or shrink the wait.
    retry = (now_local.astimezone(UTC) + timedelta(seconds=settings.retry_after_s)).astimezone(now_local.tzinfo)
    return first_attempt(retry, settings)

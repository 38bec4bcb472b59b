"""The report rollups' pure helpers: quarter-hour splits, the grouping grid, callers' gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.reports.kpis import interval_bounds
from engine.reports.rollup import SLOT_S, caller_gaps, grid, split

T0 = datetime(2026, 11, 23, 1, 10, tzinfo=UTC)


def test_a_span_is_cut_at_quarter_hours_and_keeps_its_length() -> None:
    pieces = split(T0, T0 + timedelta(minutes=40))
    assert [seconds for _, seconds in pieces] == [300.0, 900.0, 900.0, 300.0]
    assert pieces[0][0] * SLOT_S == T0.replace(minute=0).timestamp()
    assert split(T0, T0) == [] and split(T0, T0 - timedelta(seconds=1)) == []


def test_the_grid_is_the_coarsest_step_every_boundary_falls_on() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    start, end = datetime(2026, 1, 1, tzinfo=shanghai), datetime(2027, 1, 1, tzinfo=shanghai)
    months = [round(b[0].timestamp()) for b in interval_bounds(start, end, "month", shanghai)]
    assert grid([*months, round(end.timestamp())]) == (86400, 57600)  # local midnight is 16:00 UTC
    paris = ZoneInfo("Europe/Paris")  # daylight saving: days are 23 or 25 hours twice a year
    days = [round(b[0].timestamp()) for b in interval_bounds(datetime(2026, 3, 1, tzinfo=paris),
                                                             datetime(2026, 4, 1, tzinfo=paris), "day", paris)]
    assert grid(days) == (3600, 0)
    assert grid([0, 1800, 2700]) == (900, 0) and grid([7, 8]) == (1, 0)


def test_callers_gaps_link_each_call_to_the_callers_previous_one() -> None:
    earlier = T0 - timedelta(hours=2)
    new = [(1, "138", T0), (2, "139", T0), (3, "138", T0 + timedelta(minutes=5)), (4, "140", T0 - timedelta(hours=3))]
    gaps, previous_next = caller_gaps({"138": earlier, "140": T0 - timedelta(hours=1)}, new)
    assert gaps[1] == {"previous_gap_s": 7200.0, "next_gap_s": 300.0}
    assert gaps[3] == {"previous_gap_s": 300.0}
    assert gaps[2] == {} and gaps[4] == {}  # a first call; a call older than the one journaled links to nothing
    assert previous_next == {"138": 7200.0}

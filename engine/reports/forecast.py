"""Staffing forecast: from past calls, the calls and handle time to expect per interval of a day, and the
agents Erlang C says they need. Pure: the history comes in as values (engine.reports.forecast_query reads it
from the journal), the table goes out as values (`hotline forecast` prints it).

Method (the "five tables" planning of shared/HOTLINE_RULES.md, "Hours and staffing", per time slot):

- sample days: the same weekday as the forecast day within the ``days`` days before it, only days that
  are over (before today) and not before the journal's first call;
- expected calls in an interval = calls that asked for an agent in that interval of the local day (first
  entry into a queue, or a queue with nobody signed in), summed over the sample days / number of sample days;
- AHT = average handle time (talk + hold + after-call work) of the calls an agent took in that interval
  on the sample days; an interval where nobody was answered takes the sample days' average, and with no
  answered call at all ``DEFAULT_AHT_S``, flagged in the result;
- agents needed = engine.reports.erlang.agents_needed for the interval's traffic, the service-level
  target and the occupancy cap, with the expected service level, occupancy and ASA that many agents give.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from engine.reports.erlang import ServiceTarget, agents_needed, traffic_erlangs

DEFAULT_AHT_S = 390.0
"""Used only when the history has no answered call: the manual's talk time (270-360 s) plus 60 s ACW."""

BUSY_STATES = frozenset({"on_call", "on_hold", "after_call_work"})
"""Agent states that count as handling a call (handle time = talk + hold + after-call work)."""

INTERVALS_MIN = {"15m": 15, "30m": 30, "1h": 60}


@dataclass(frozen=True)
class HistoryCall:
    """A past call that asked for an agent: when it did, and how long agents spent on it (None: nobody)."""

    offered_at: datetime
    handle_s: float | None


@dataclass(frozen=True)
class AgentStateRow:
    """One ``agent_events`` row about a call (the agent journal)."""

    agent: str
    at: datetime
    from_state: str
    to_state: str
    call_uid: str


@dataclass(frozen=True)
class ForecastRow:
    start: time
    end: time
    calls: float
    aht_s: float | None
    agents: int
    service_level: float | None
    occupancy: float | None
    asa_s: float | None


@dataclass(frozen=True)
class Forecast:
    day: date
    sample_days: tuple[date, ...]
    interval_min: int
    target: ServiceTarget
    max_occupancy: float
    rows: tuple[ForecastRow, ...]
    history_calls: int
    default_aht_used: bool

    @property
    def has_history(self) -> bool:
        return bool(self.sample_days) and self.history_calls > 0

    @property
    def expected_calls(self) -> float:
        return sum(row.calls for row in self.rows)

    @property
    def peak_agents(self) -> int:
        return max((row.agents for row in self.rows), default=0)

    @property
    def agent_hours(self) -> float:
        return sum(row.agents for row in self.rows) * self.interval_min / 60


def handle_times(rows: Iterable[AgentStateRow]) -> dict[str, float]:
    """Seconds agents spent on each call: from answering it to being free again (after-call work included),
    summed over agents (a transferred call is handled twice). A span not closed yet is left out."""
    opened: dict[tuple[str, str], datetime] = {}
    totals: dict[str, float] = defaultdict(float)
    for row in sorted(rows, key=lambda r: r.at):
        key = (row.agent, row.call_uid)
        if row.to_state in BUSY_STATES and row.from_state not in BUSY_STATES:
            opened.setdefault(key, row.at)
        elif row.from_state in BUSY_STATES and row.to_state not in BUSY_STATES:
            start = opened.pop(key, None)
            if start is not None:
                totals[row.call_uid] += (row.at - start).total_seconds()
    return dict(totals)


def sample_days(day: date, days: int, today: date, first_day: date | None) -> list[date]:
    """The days like ``day`` (same weekday) among the ``days`` days before it that are over and journaled."""
    if days <= 0:
        raise ValueError(f"the history must cover at least one day, got {days}")
    if first_day is None:
        return []
    found = []
    for back in range(7, days + 1, 7):
        candidate = day - timedelta(days=back)
        if first_day <= candidate < today:
            found.append(candidate)
    return sorted(found)


def _slot(at: datetime, tz: tzinfo, interval_min: int) -> tuple[date, int]:
    local = at.astimezone(tz)
    return local.date(), (local.hour * 60 + local.minute) // interval_min


def _clock(minutes: int) -> time:
    return time(0, 0) if minutes >= 24 * 60 else time(minutes // 60, minutes % 60)


def forecast(history: Iterable[HistoryCall], day: date, samples: Sequence[date], tz: tzinfo, interval_min: int,
             target: ServiceTarget, max_occupancy: float, default_aht_s: float = DEFAULT_AHT_S) -> Forecast:
    """The staffing table of ``day`` from the calls of the sample days (other calls are ignored)."""
    if interval_min <= 0 or (24 * 60) % interval_min:
        raise ValueError(f"the interval must divide the day in whole minutes, got {interval_min} min")
    wanted = set(samples)
    offered: dict[int, int] = defaultdict(int)
    handled: dict[int, list[float]] = defaultdict(list)
    for call in history:
        local_day, slot = _slot(call.offered_at, tz, interval_min)
        if local_day not in wanted:
            continue
        offered[slot] += 1
        if call.handle_s is not None:
            handled[slot].append(call.handle_s)
    all_handled = [seconds for values in handled.values() for seconds in values]
    day_aht = sum(all_handled) / len(all_handled) if all_handled else None
    rows = []
    default_used = False
    for slot in range((24 * 60) // interval_min):
        start, end = _clock(slot * interval_min), _clock((slot + 1) * interval_min)
        calls = offered[slot] / len(samples) if samples else 0.0
        if calls == 0:
            rows.append(ForecastRow(start, end, 0.0, None, 0, None, None, None))
            continue
        aht = sum(handled[slot]) / len(handled[slot]) if handled[slot] else day_aht
        if aht is None or aht <= 0:
            aht, default_used = default_aht_s, True
        result = agents_needed(traffic_erlangs(calls, interval_min * 60, aht), aht, target, max_occupancy)
        rows.append(ForecastRow(start, end, calls, aht, result.agents, result.service_level, result.occupancy,
                                result.asa_s))
    return Forecast(day=day, sample_days=tuple(sorted(samples)), interval_min=interval_min, target=target,
                    max_occupancy=max_occupancy, rows=tuple(rows), history_calls=sum(offered.values()),
                    default_aht_used=default_used)

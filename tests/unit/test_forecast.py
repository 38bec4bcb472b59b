"""Staffing forecast: handle times from the agent journal, the sample days, the table (pure), and
`hotline forecast` on a temporary SQLite journal (text, --csv, --json, bad input, no history).

The busy interval of the fixtures is the Call Centre Helper example of tests/unit/test_erlang.py: 100 calls
in 30 minutes of 180 s each (10 erlangs) need 14 agents for 80/20.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert

from engine.cli.main import cli
from engine.reports.erlang import ServiceTarget
from engine.reports.forecast import (
    DEFAULT_AHT_S,
    AgentStateRow,
    HistoryCall,
    forecast,
    handle_times,
    sample_days,
)
from engine.store.agent_journal_tables import agent_events
from engine.store.database import make_engine
from engine.store.tables import call_events, calls

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)  # 09:00 in Beijing, a Tuesday


def row(agent: str, seconds: float, from_state: str, to_state: str, uid: str = "c1") -> AgentStateRow:
    return AgentStateRow(agent=agent, at=T0 + timedelta(seconds=seconds), from_state=from_state, to_state=to_state,
                         call_uid=uid)


def test_handle_time_is_talk_hold_and_wrap_up() -> None:
    rows = [row("1001", 0, "available", "ringing"), row("1001", 5, "ringing", "on_call"),
            row("1001", 65, "on_call", "on_hold"), row("1001", 95, "on_hold", "on_call"),
            row("1001", 95, "on_call", "on_call"),  # a note (registration lost): no change of state
            row("1001", 185, "on_call", "after_call_work"), row("1001", 245, "after_call_work", "available")]
    assert handle_times(rows) == {"c1": 240.0}


def test_handle_time_of_a_transferred_call_adds_both_agents_and_skips_open_spans() -> None:
    rows = [row("1001", 0, "ringing", "on_call"), row("1001", 100, "on_call", "after_call_work"),
            row("1002", 100, "available", "ringing"), row("1002", 110, "ringing", "on_call"),
            row("1002", 160, "on_call", "available"),  # silent-call handover: no wrap-up
            row("1001", 130, "after_call_work", "paused"),
            row("1003", 0, "ringing", "on_call", uid="c2"),  # still talking: not measured yet
            row("1004", 0, "available", "ringing", uid="c3"), row("1004", 9, "ringing", "available", uid="c3")]
    assert handle_times(reversed(rows)) == {"c1": 130.0 + 50.0}


def test_sample_days_are_the_same_weekday_over_and_journaled() -> None:
    tuesday = date(2026, 11, 24)
    assert sample_days(tuesday, 28, today=date(2026, 11, 23), first_day=date(2026, 10, 1)) == [
        date(2026, 10, 27), date(2026, 11, 3), date(2026, 11, 10), date(2026, 11, 17)]
    assert sample_days(tuesday, 28, today=date(2026, 11, 23), first_day=date(2026, 11, 5)) == [
        date(2026, 11, 10), date(2026, 11, 17)]
    # Planning today: today is not over, so it is no sample; a far future day has no history yet.
    assert sample_days(tuesday, 7, today=date(2026, 11, 17), first_day=date(2026, 1, 1)) == []
    assert sample_days(tuesday, 6, today=date(2026, 11, 23), first_day=date(2026, 1, 1)) == []
    assert sample_days(tuesday, 28, today=date(2026, 11, 23), first_day=None) == []
    with pytest.raises(ValueError):
        sample_days(tuesday, 0, today=date(2026, 11, 23), first_day=None)


def busy_tuesdays() -> list[HistoryCall]:
    """Two Tuesdays: 09:00-09:30 Beijing 100 calls of 180 s each; 10:00-10:30 two calls nobody answered;
    a Monday's calls that must be ignored."""
    history = []
    for week in (0, 1):
        start = T0 - timedelta(days=7 * week)
        history += [HistoryCall(start + timedelta(seconds=17 * i), 180.0) for i in range(100)]
        history += [HistoryCall(start + timedelta(hours=1, minutes=m), None) for m in (1, 2)]
    history += [HistoryCall(T0 - timedelta(days=1), 999.0)] * 50
    return history


def test_forecast_table_per_interval() -> None:
    samples = [date(2026, 11, 10), date(2026, 11, 17)]
    table = forecast(busy_tuesdays(), date(2026, 11, 24), samples, SHANGHAI, 30, ServiceTarget(0.8, 20), 0.9)
    assert len(table.rows) == 48
    busy = table.rows[18]
    assert (busy.start, busy.end) == (time(9, 0), time(9, 30))
    assert (busy.calls, busy.aht_s, busy.agents) == (100.0, 180.0, 14)
    assert busy.service_level == pytest.approx(0.888, abs=0.001)
    assert busy.occupancy == pytest.approx(10 / 14)
    # Nobody answered at 10:00: the sample days' AHT (180 s) stands in; 2 calls in 1800 s need one agent.
    quiet = table.rows[20]
    assert (quiet.calls, quiet.aht_s, quiet.agents) == (2.0, 180.0, 1)
    night = table.rows[0]
    assert (night.calls, night.agents, night.aht_s, night.service_level) == (0.0, 0, None, None)
    assert table.history_calls == 204 and table.has_history and not table.default_aht_used
    assert table.expected_calls == 102.0
    assert table.peak_agents == 14
    assert table.agent_hours == pytest.approx(15 * 0.5)


def test_hourly_table_and_occupancy_cap() -> None:
    samples = [date(2026, 11, 10), date(2026, 11, 17)]
    table = forecast(busy_tuesdays(), date(2026, 11, 24), samples, SHANGHAI, 60, ServiceTarget(0.8, 20), 0.6)
    nine = table.rows[9]
    # 100 calls of 180 s in an hour = 5 erlangs; a 60 % cap needs ceil(5 / 0.6) = 9 agents.
    assert (nine.calls, nine.agents) == (100.0, 9)
    assert nine.occupancy is not None and nine.occupancy <= 0.6


def test_without_any_answered_call_the_default_aht_is_used_and_flagged() -> None:
    history = [HistoryCall(T0 + timedelta(minutes=m), None) for m in range(10)]
    table = forecast(history, date(2026, 11, 24), [date(2026, 11, 17)], SHANGHAI, 30, ServiceTarget(), 0.9)
    assert table.rows[18].aht_s == DEFAULT_AHT_S
    assert table.default_aht_used


def test_no_history_is_an_empty_forecast() -> None:
    table = forecast([], date(2026, 11, 24), [], SHANGHAI, 30, ServiceTarget(), 0.9)
    assert not table.has_history
    assert table.peak_agents == 0


# -- the command ------------------------------------------------------------------------------------------


class Journal:
    def __init__(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        self.env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_TIMEZONE": "Asia/Shanghai",
                    "HOTLINE_PBX_ROOT": str(tmp_path / "root")}
        assert self.run("db", "upgrade")[0] == 0
        self.db: Engine = make_engine(f"sqlite:///{data_dir / 'hotline.db'}")

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        return result.exit_code, result.output

    def add_call(self, uid: str, started: datetime, events: list[tuple[float, str, dict[str, Any]]],
                 source: str = "controller", ended_s: float | None = None) -> None:
        with self.db.begin() as conn:
            call_id = conn.execute(insert(calls).values(
                call_uid=uid, source=source, started_at=started,
                ended_at=None if ended_s is None else started + timedelta(seconds=ended_s))).inserted_primary_key[0]
            for seq, (offset, kind, data) in enumerate(events, start=1):
                conn.execute(insert(call_events).values(call_id=call_id, seq=seq, kind=kind, data=data,
                                                        at=started + timedelta(seconds=offset)))

    def add_agent_rows(self, uid: str, agent: str, answered: datetime, talk_s: float, acw_s: float) -> None:
        rows = [(answered, "ringing", "on_call"), (answered + timedelta(seconds=talk_s), "on_call", "after_call_work"),
                (answered + timedelta(seconds=talk_s + acw_s), "after_call_work", "available")]
        with self.db.begin() as conn:
            for at, from_state, to_state in rows:
                conn.execute(insert(agent_events).values(agent=agent, at=at, from_state=from_state,
                                                         to_state=to_state, call_uid=uid))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    journal = Journal(tmp_path)
    yield journal
    journal.db.dispose()


def today_local() -> date:
    return datetime.now(SHANGHAI).date()


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def fill(journal: Journal, day: date) -> None:
    """On the two same weekdays before ``day``: 14:00-15:00 four calls a day: two answered (talk 240 s +
    ACW 60 s, measured from the agent journal), one answered without agent rows (talk 200 s from the queue
    answer to the end), one abandoned; plus a callback the hotline placed (not offered load) and a call
    that never asked for an agent (self-service)."""
    for week in (1, 2):
        sample = day - timedelta(days=7 * week)
        start = at_local(sample, 14, 5)
        for n in range(2):
            uid = f"w{week}-a{n}"
            journal.add_call(uid, start, [(1, "ivr.node", {}), (10, "queue.entered", {"queue": "general"}),
                                          (20, "queue.answered", {"agent": "1001"})], ended_s=260)
            journal.add_agent_rows(uid, "1001", start + timedelta(seconds=20), 240, 60)
        journal.add_call(f"w{week}-b", start, [(10, "queue.entered", {"queue": "vip"}),
                                               (30, "queue.answered", {"agent": "1002"})], ended_s=230)
        journal.add_call(f"w{week}-c", start, [(10, "queue.entered", {"queue": "general"})], ended_s=70)
        journal.add_call(f"w{week}-cb", start, [(0, "queue.entered", {"queue": "general", "callback": True})],
                         source="callback", ended_s=100)
        journal.add_call(f"w{week}-ss", start, [(5, "lookup.result", {})], ended_s=40)


def test_forecast_command_text_csv_and_json(journal: Journal) -> None:
    day = today_local()
    fill(journal, day)
    code, out = journal.run("forecast", "--date", str(day), "--days", "14", "--interval", "1h")
    assert code == 0, out
    assert f"from 2 {day:%A}(s)" in out and "8 calls" in out
    line = next(x for x in out.splitlines() if x.startswith("14:00-15:00"))
    # 4 calls a day; AHT = (300 + 300 + 200) / 3 = 266.7 s; 4 x 266.7 / 3600 = 0.296 erlangs. One agent answers
    # 1 - 0.296 x exp(-(1 - 0.296) x 20 / 266.7) = 71.9 % within 20 s, two 96.6 %.
    assert line.split()[1:6] == ["4.0", "267", "2", "96.6", "%"]
    agents = 2
    assert next(x for x in out.splitlines() if x.startswith("13:00-14:00")).split()[1:4] == ["0.0", "-", "0"]

    code, out = journal.run("forecast", "--date", str(day), "--days", "14", "--interval", "1h", "--csv")
    assert code == 0, out
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 24
    assert table[14]["interval_start"] == "14:00" and table[14]["expected_calls"] == "4.00"
    assert table[14]["agents"] == str(agents)
    assert float(table[14]["aht_s"]) == pytest.approx(266.7, abs=0.05)

    code, out = journal.run("forecast", "--date", str(day), "--days", "14", "--json", "--target", "90/10")
    assert code == 0, out
    data = json.loads(out)
    assert data["target"] == {"level": 0.9, "within_s": 10.0}
    assert data["sample_days"] == [str(day - timedelta(days=14)), str(day - timedelta(days=7))]
    busy = data["rows"][28]
    assert busy["interval_start"] == "14:00" and busy["expected_calls"] == 4.0


def test_no_history_says_so(journal: Journal) -> None:
    code, out = journal.run("forecast")
    assert code == 0, out
    assert "no history" in out
    code, out = journal.run("forecast", "--json")
    assert code == 0 and json.loads(out)["rows"] == []


@pytest.mark.parametrize(("args", "message"), [
    (["--days", "0"], "error: --days must be at least 1"),
    (["--target", "80"], "error: --target:"),
    (["--target", "120/20"], "error: --target:"),
    (["--interval", "7m"], "error: --interval must be one of"),
    (["--max-occupancy", "1.5"], "error: --max-occupancy"),
    (["--date", "2026-13-01"], "error: --date must be YYYY-MM-DD"),
    (["--csv", "--json"], "error: give at most one of --csv and --json"),
])
def test_bad_input_is_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["forecast", *args], env={"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(tmp_path)},
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert result.output.startswith(message)
    assert len(result.output.strip().splitlines()) == 1

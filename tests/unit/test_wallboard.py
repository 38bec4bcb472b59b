"""The wallboard: today's service level and abandon rate per queue (engine.reports.today over the calls'
dispositions, figures worked by hand; the same calls give the same numbers in `hotline report`), the frame at
80x24 and on a larger screen (pure), and `hotline wallboard --once` rendering a fixture live-status file and a
tiny SQLite journal written by the journal writer."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from rich.console import Console
from sqlalchemy import Engine

from engine.app import LIVE_STATUS_FILE
from engine.cli.main import cli
from engine.cli.wallboard import BoardInput, build_board, duration, overflow_stage
from engine.reports.disposition import derive
from engine.reports.today import QueueToday, TodayCall, load_today, summarize
from engine.store.database import make_engine
from engine.store.journal import JournalEntry
from tests.journal_checks import write

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
Events = list[tuple[float, str, dict[str, Any]]]

# Per call: (seconds after T0, kind, data). Queue general targets 20 s, short abandons are <= 20 s.
CALLS: dict[str, Events] = {
    "answered-fast": [(0, "queue.entered", {"queue": "general"}), (10, "queue.answered", {"agent": "1001"}),
                      (200, "call.ended", {})],
    "answered-slow": [(0, "queue.entered", {"queue": "general"}), (45, "queue.answered", {"agent": "1002"}),
                      (300, "call.ended", {})],
    "abandoned": [(0, "queue.entered", {"queue": "general"}), (30, "call.ended", {"outcome": "abandoned"})],
    "short-abandon": [(0, "queue.entered", {"queue": "general"}), (5, "call.ended", {"outcome": "abandoned"})],
    "left-a-message": [(0, "queue.entered", {"queue": "general"}), (300, "queue.left", {"queue": "general"}),
                       (400, "call.ended", {})],
    "vip-fast": [(0, "queue.entered", {"queue": "vip"}), (5, "queue.answered", {"agent": "1003"}),
                 (100, "call.ended", {})],
    "still-waiting": [(0, "queue.entered", {"queue": "general"})],
}


def events_of(calls_: dict[str, Events], at: datetime = T0) -> list[TodayCall]:
    """The ended calls as the journal writer stores them: the disposition derived from their events."""
    ended = []
    for events in calls_.values():
        if not any(kind == "call.ended" for _, kind, _ in events):
            continue  # still in progress: load_today reads ended calls only
        found = derive([(kind, at + timedelta(seconds=offset), data) for offset, kind, data in events])
        source = next((str(d["source"]) for _, k, d in events if k == "call.started"), "controller")
        ended.append(TodayCall(found.detail.get("queue"), found.name, found.detail.get("wait_s"),
                               found.detail.get("agent"), source))
    return ended


def test_today_figures_by_hand() -> None:
    today = summarize(events_of(CALLS), {"general": 20, "vip": 20})
    general = today["general"]
    # answered 2 (1 within 20 s), abandoned 1, short abandon 1 (left out), message 1, still waiting 1 (not yet).
    assert (general.answered, general.answered_in_target, general.abandoned, general.short_abandons,
            general.unserved) == (2, 1, 1, 1, 1)
    assert general.offered == 4
    assert general.service_level == 0.25 and general.abandon_rate == 0.25
    vip = today["vip"]
    assert (vip.offered, vip.service_level, vip.abandon_rate) == (1, 1.0, 0.0)


def test_today_follows_transfers_keep_waiting_and_callbacks() -> None:
    calls_: dict[str, Events] = {
        # answered in general after 15 s, transferred to vip, caller hangs up there: one answered general call
        "transferred": [(0, "queue.entered", {"queue": "general"}), (15, "queue.answered", {"agent": "1001"}),
                        (60, "queue.entered", {"queue": "vip"}), (90, "call.ended", {})],
        # past the maximum wait, chose to keep waiting, answered: waits from the first entry (330 s)
        "kept-waiting": [(0, "queue.entered", {"queue": "general"}), (300, "queue.left", {"queue": "general"}),
                         (305, "queue.keep_waiting", {}), (310, "queue.entered", {"queue": "general"}),
                         (330, "queue.answered", {"agent": "1002"}), (400, "call.ended", {})],
        "nobody-signed-in": [(0, "queue.closed", {"queue": "complaints"}), (50, "call.ended", {})],
        "booked-callback": [(0, "call.started", {"source": "callback"}),
                            (0, "queue.entered", {"queue": "general", "callback": True}),
                            (5, "queue.answered", {"agent": "1003"}), (60, "call.ended", {})],
    }
    today = summarize(events_of(calls_), {"general": 20})
    assert set(today) == {"general", "complaints"}
    assert (today["general"].answered, today["general"].answered_in_target, today["general"].offered) == (2, 1, 2)
    assert today["complaints"] == QueueToday(queue="complaints", unserved=1)
    assert today["complaints"].service_level == 0.0
    assert summarize([], {}) == {}


def snapshot(now: datetime, agents: int = 4) -> dict[str, Any]:
    states = ["on_call", "available", "after_call_work", "paused", "logged_out", "on_hold", "ringing"]
    return {
        "at": now.isoformat(),
        "queues": [
            {"queue": "general", "waiting": 3, "longest_wait_s": 85.0, "callbacks": 1, "agents_serving": 4,
             "overflow": {"stage": "2 outbound", "since": now.isoformat()}},
            {"queue": "vip", "waiting": 0, "longest_wait_s": 0.0, "callbacks": 0, "agents_serving": 1},
        ],
        "agents": [{"agent": str(1001 + i), "state": states[i % len(states)],
                    "since": (now - timedelta(seconds=125 + i)).isoformat(), "in_state_s": 125.0 + i,
                    "reason": "lunch" if states[i % len(states)] == "paused" else None, "registered": True}
                   for i in range(agents)],
    }


def render(board: BoardInput, width: int, height: int) -> list[str]:
    console = Console(width=width, height=height, record=True, file=io.StringIO())
    console.print(build_board(board, width, height, board.now))
    return console.export_text().rstrip("\n").split("\n")


def test_frame_fits_80x24_even_with_many_agents() -> None:
    today = summarize(events_of(CALLS), {"general": 20, "vip": 20})
    board = BoardInput(now=T0, snapshot=snapshot(T0, agents=60), today=today, targets_s={"general": 20, "vip": 20})
    lines = render(board, 80, 24)
    assert len(lines) <= 24
    assert max(len(line) for line in lines) <= 80
    assert any("more" in line for line in lines), "agents that do not fit are counted, not cut silently"
    big = render(board, 160, 48)
    assert len(big) <= 48 and not any("more" in line for line in big)
    assert all(str(1001 + i) in "\n".join(big) for i in range(60)), "a wall screen shows every agent"


def test_frame_without_controller_still_shows_today() -> None:
    today = summarize(events_of(CALLS), {"general": 20})
    text = "\n".join(render(BoardInput(now=T0, snapshot=None, today=today, targets_s={}), 80, 24))
    assert "controller not running" in text
    assert "25.0%" in text


def test_small_helpers() -> None:
    assert [duration(s) for s in (0, 5.9, 85, 3599, 3600, 7322)] == ["0:00", "0:05", "1:25", "59:59", "1:00:00",
                                                                     "2:02:02"]
    assert overflow_stage({}) == "-"
    assert overflow_stage({"overflow": None}) == "-"
    assert overflow_stage({"overflow": 3}) == "3"
    assert overflow_stage({"overflow": {"stage": "expert"}}) == "expert"


# -- the command ------------------------------------------------------------------------------------------


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is around noon now: "today" then never straddles midnight in the test."""
    offset = 12 - now.hour
    return "Etc/GMT" if offset == 0 else (f"Etc/GMT-{offset}" if offset > 0 else f"Etc/GMT+{-offset}")


class Floor:
    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "data"
        self.now = datetime.now(UTC)
        self.env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(self.data_dir),
                    "HOTLINE_TIMEZONE": noon_zone(self.now), "HOTLINE_PBX_ROOT": str(tmp_path / "root")}
        result = CliRunner().invoke(cli, ["db", "upgrade"], env=self.env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        self.db: Engine = make_engine(f"sqlite:///{self.data_dir / 'hotline.db'}")

    def add_call(self, uid: str, started: datetime, events: Events, source: str = "controller") -> None:
        """Through the journal writer, which stores each ended call's disposition."""
        entries = [JournalEntry(uid, "call.started", started, {"source": source}),
                   *(JournalEntry(uid, kind, started + timedelta(seconds=offset), data)
                     for offset, kind, data in events)]
        write(f"sqlite:///{self.data_dir / 'hotline.db'}", self.data_dir.parent / "spill.jsonl", entries)

    def wallboard(self) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["wallboard", "--once"], env=self.env, catch_exceptions=False)
        return result.exit_code, result.output


@pytest.fixture
def floor(tmp_path: Path) -> Iterator[Floor]:
    floor = Floor(tmp_path)
    yield floor
    floor.db.dispose()


def test_wallboard_once_renders_live_status_and_today(floor: Floor) -> None:
    started = floor.now - timedelta(minutes=30)
    for uid, events in CALLS.items():
        floor.add_call(uid, started, events)
    floor.add_call("yesterday", floor.now - timedelta(days=1), CALLS["answered-slow"])
    floor.add_call("callback", started, CALLS["answered-slow"], source="callback")
    (floor.data_dir / LIVE_STATUS_FILE).write_text(json.dumps(snapshot(floor.now)), encoding="utf-8")

    code, out = floor.wallboard()
    assert code == 0, out
    lines = out.rstrip("\n").split("\n")
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 80, out
    general = next(line for line in lines if "general" in line).split()
    # waiting 3, longest 1:25, SL 1 of 4 within 20 s, abandon 1 of 4, answered 2 of 4 offered, 4 agents, stage
    assert general[1:8] == ["general", "3", "1:25", "25.0%", "25.0%", "2/4", "4"], out
    assert "2 outbound" in next(line for line in lines if "general" in line)
    vip = next(line for line in lines if " vip " in line).split()
    assert vip[1:10] == ["vip", "0", "0:00", "100.0%", "0.0%", "1/1", "1", "-", "│"], out
    assert "1001" in out and "on call" in out and "2:0" in out
    assert "controller not running" not in out


def test_wallboard_once_without_controller(floor: Floor) -> None:
    code, out = floor.wallboard()
    assert code == 0, out
    assert "controller not running" in out


def test_wallboard_without_journal_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["wallboard", "--once"], env={"HOTLINE_CONFIG": "",
                                                                   "HOTLINE_DATA_DIR": str(tmp_path / "none")},
                                catch_exceptions=False)
    assert result.exit_code == 3
    assert result.output.startswith("error: database") and len(result.output.strip().splitlines()) == 1


def test_wallboard_and_report_agree_on_the_same_calls(floor: Floor) -> None:
    """Both read the calls' dispositions: today's SL and abandon rate per queue are the report's."""
    started = floor.now - timedelta(minutes=30)
    for uid, events in CALLS.items():
        floor.add_call(uid, started, events)
    today = load_today(floor.db, floor.now, ZoneInfo(floor.env["HOTLINE_TIMEZONE"]), {"general": 20, "vip": 20})
    result = CliRunner().invoke(cli, ["report", "--json"], env=floor.env, catch_exceptions=False)
    queues = {q["queue"]: q for q in json.loads(result.output)["queues"]}
    for name, figures in today.items():
        assert figures.offered == queues[name]["offered"] - queues[name]["short_abandons"]
        assert round(100 * (figures.service_level or 0), 1) == queues[name]["service_level"]
        assert round(100 * (figures.abandon_rate or 0), 1) == queues[name]["abandon_rate"]

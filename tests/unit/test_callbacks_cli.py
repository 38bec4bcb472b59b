"""`hotline callbacks list|cancel` on a temporary SQLite journal: masked numbers on screen, full ones in
--json, times in the settings' zone, and one clear error line when a callback cannot be cancelled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.callbacks import store
from engine.cli.main import cli
from engine.store.database import make_engine

# 02:00 UTC is 10:00 in Beijing (the default time zone).
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class Journal:
    def __init__(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        self.env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_TIMEZONE": "Asia/Shanghai",
                    "HOTLINE_PBX_ROOT": str(tmp_path / "root")}
        assert self.run("db", "upgrade")[0] == 0
        self.db = make_engine(f"sqlite:///{data_dir / 'hotline.db'}")

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        return result.exit_code, result.output

    def book(self, caller: str) -> int:
        return store.book(self.db, call_uid=f"uid-{caller}", caller=caller, queue="general", priority=0,
                          waiting_since=T0, now=T0, first_attempt_at=T0)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    journal = Journal(tmp_path)
    yield journal
    journal.db.dispose()


def test_list_masks_numbers_and_shows_local_times(journal: Journal) -> None:
    first = journal.book("13800138000")
    done = journal.book("13900139000")
    assert store.start_attempt(journal.db, done, T0)
    assert store.finish(journal.db, done, now=T0, agent="1001", result="talked")
    code, out = journal.run("callbacks", "list")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["id", "caller", "queue", "booked", "at", "next", "attempt", "tries", "status", "agent"]
    assert len(lines) == 2, "done callbacks are left out by default"
    assert lines[1].split() == [str(first), "138****8000", "general", "11-23", "10:00", "11-23", "10:00", "0",
                                "booked", "-"]
    assert "13800138000" not in out

    code, out = journal.run("callbacks", "list", "--all")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == [str(done), str(first)]
    closed = out.splitlines()[1].split()
    assert closed[1] == "139****9000" and closed[-2:] == ["done", "1001"]
    assert closed[5] == "-", "a closed callback has no next attempt"


def test_list_json_is_unmasked(journal: Journal) -> None:
    booking_id = journal.book("13800138000")
    code, out = journal.run("callbacks", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["id"], r["caller"], r["status"], r["attempts"]) for r in rows] == [
        (booking_id, "13800138000", "booked", 0)]
    assert rows[0]["waiting_since"].startswith("2026-11-23 02:00:00")


def test_cancel(journal: Journal) -> None:
    booking_id = journal.book("13800138000")
    assert journal.run("callbacks", "cancel", str(booking_id)) == (0, f"callback {booking_id} cancelled\n")
    assert journal.run("callbacks", "list")[1].splitlines()[1:] == []
    assert journal.run("callbacks", "cancel", str(booking_id)) == (
        1, f"error: callback {booking_id} is already cancelled\n")


def test_cancel_unknown_or_done_is_a_domain_error(journal: Journal) -> None:
    assert journal.run("callbacks", "cancel", "42") == (1, "error: no callback 42\n")
    booking_id = journal.book("13800138000")
    assert store.start_attempt(journal.db, booking_id, T0)
    assert store.finish(journal.db, booking_id, now=T0, agent="1001", result="talked")
    assert journal.run("callbacks", "cancel", str(booking_id)) == (
        1, f"error: callback {booking_id} is already done\n")

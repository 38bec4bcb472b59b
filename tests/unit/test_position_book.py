"""The position book: live callers' positions in a file that a restarted controller reads back."""

from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.call_position import CallPosition
from engine.position_book import PositionBook, latest_positions

QUEUED = CallPosition("queued", queue="general", queued_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC))


def test_the_latest_line_of_a_call_wins_and_an_ended_call_is_gone() -> None:
    lines = ["1.1\tA\n", "1.2\tB\n", "1.1\tC\n", "1.2\t-\n", "1.3\tD\n", "garbage\n", "\tE\n", "1.4\t"]
    assert latest_positions(lines) == {"1.1": "C", "1.3": "D"}


def test_what_one_run_wrote_the_next_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "positions"
    book = PositionBook(path)
    book.write("1.1", CallPosition("ivr", node="main_menu"))
    book.write("1.1", QUEUED)
    book.write("1.2", CallPosition("ivr", node="greeting"))
    book.forget("1.2")
    # No close: a killed controller closes nothing; the kernel has the writes.
    again = PositionBook(path)
    assert again.read("1.1") == QUEUED.to_text()
    assert CallPosition.parse(again.read("1.1") or "") == QUEUED
    assert again.read("1.2") is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # caller's entries: not for other users
    assert path.read_text(encoding="utf-8") == f"1.1\t{QUEUED.to_text()}\n"  # compacted at start


def test_the_file_is_compacted_to_the_live_calls(tmp_path: Path) -> None:
    path = tmp_path / "positions"
    book = PositionBook(path, compact_after=10)
    book.write("live", QUEUED)
    for n in range(50):
        book.write(f"2.{n}", CallPosition("ivr", node="greeting"))
        book.forget(f"2.{n}")
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 11
    assert latest_positions(path.read_text(encoding="utf-8").splitlines(keepends=True)) == {"live": QUEUED.to_text()}
    assert not (tmp_path / "positions.new").exists()


def test_retain_forgets_calls_nobody_has_any_more(tmp_path: Path) -> None:
    book = PositionBook(tmp_path / "positions")
    for uid in ("3.1", "3.2", "3.3"):
        book.write(uid, QUEUED)
    book.retain({"3.2", "9.9"})
    assert [uid for uid in ("3.1", "3.2", "3.3") if book.read(uid)] == ["3.2"]
    assert PositionBook(tmp_path / "positions").read("3.1") is None


def test_an_unwritable_book_is_said_once_and_the_calls_go_on(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "no-such-folder" / "positions"
    with caplog.at_level(logging.ERROR):
        book = PositionBook(missing)
        book.write("4.1", QUEUED)
        book.write("4.1", CallPosition("ivr", node="main_menu"))
    assert book.read("4.1") is not None  # still known to this process
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and str(missing) in errors[0] and "start over" in errors[0]


def test_without_a_file_nothing_outlives_the_process() -> None:
    book = PositionBook(None)
    book.write("5.1", QUEUED)
    assert book.read("5.1") == QUEUED.to_text()
    book.forget("5.1")
    assert len(book) == 0

"""Fallback calls and the messages their callers left: journaled once, saved once, files 0600."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from engine.fallback_journal import FallbackCdrReader
from engine.fallback_messages import FallbackMessages
from engine.store.database import make_engine
from engine.store.message_tables import messages
from engine.store.migrate import upgrade
from tests.unit.fakes import ListJournal

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _cdr(uid: str, caller: str, userfield: str = "fallback") -> str:
    return f'"{uid}","{caller}","10086","1795900000.1","1795900000.5","1795900030.0","ANSWERED","{userfield}"\n'


def _wav(path: Path, seconds: float) -> None:
    audio = b"\1\0" * round(seconds * 8000)
    path.write_bytes(b"RIFF" + (36 + len(audio)).to_bytes(4, "little") + b"WAVE" + b"\0" * 28
                     + len(audio).to_bytes(4, "little") + audio)  # as Asterisk closes it
    path.chmod(0o644)  # as a umask-022 Asterisk would leave it


def _setup(tmp_path: Path) -> tuple[FallbackCdrReader, FallbackMessages, Path, str]:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    upgrade(url)
    spool = tmp_path / "recording"
    spool.mkdir()
    reader = FallbackCdrReader(tmp_path / "Master.csv", tmp_path / "offset")
    box = FallbackMessages(make_engine(url), lambda uid: spool / f"fallback-{uid}.wav", lambda: NOW)
    return reader, box, spool, url


def test_message_becomes_work_item_once(tmp_path: Path) -> None:
    reader, box, spool, url = _setup(tmp_path)
    _wav(spool / "fallback-u1.wav", 4.0)
    _wav(spool / "fallback-u2.wav", 0.1)  # the beep and a hang-up: no message
    (tmp_path / "Master.csv").write_text(_cdr("u1", "13800000001") + _cdr("u2", "13800000002")
                                         + _cdr("u3", "13800000003", userfield=""))
    journal = ListJournal()
    assert reader.ingest(journal, box) == 2
    assert journal.kinds("u1") == ["call.started", "call.answered", "prompt.played", "message.saved", "call.ended"]
    assert "message.saved" not in journal.kinds("u2") and not journal.kinds("u3")
    assert not (spool / "fallback-u2.wav").exists()
    assert stat.S_IMODE((spool / "fallback-u1.wav").stat().st_mode) == 0o600

    # Read again from the start (a controller killed before it recorded its offset): no second message.
    (tmp_path / "offset").unlink()
    again = ListJournal()
    assert reader.ingest(again, box) == 2
    assert "message.saved" not in again.kinds("u1")
    with make_engine(url).connect() as conn:
        rows = conn.execute(select(messages.c.caller, messages.c.seconds)).all()
    assert [(r.caller, r.seconds) for r in rows] == [("13800000001", 4.0)]


def test_offset_advances_per_call_and_waits_for_complete_lines(tmp_path: Path) -> None:
    reader, box, _, _ = _setup(tmp_path)
    cdr = tmp_path / "Master.csv"
    cdr.write_text(_cdr("u1", "1") + '"u2","2"')  # the second line is still being written
    found, end = reader.read_new()
    assert [c.uid for c, _ in found] == ["u1"] and end is not None and found[0][1] == end
    reader.commit(end)
    with cdr.open("a") as fh:
        fh.write(',"10086","1795900000.1","","1795900001.0","NO ANSWER","fallback"\n')
    found, _ = reader.read_new()
    assert [c.uid for c, _ in found] == ["u2"]

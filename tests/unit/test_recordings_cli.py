"""`hotline recordings list|export` on a temp SQLite journal written by the real JournalWriter.

Three calls, each with a small wav recording on disk and a ``recording.saved`` event as the controller
journals it; one call also has a ``recording.missing`` event, which must never be listed. Days are
counted in Asia/Shanghai: the second call is on 11-24 there but still 11-23 in UTC.
"""

from __future__ import annotations

import hashlib
import json
import wave
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from engine.cli.main import cli
from engine.errors import CallNotFound
from engine.store.journal import JournalEntry
from engine.store.migrate import upgrade
from engine.store.recordings import list_recordings
from tests.journal_checks import reading, write

BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Recorded:
    uid: str
    caller: str
    agent: str
    at: datetime
    file: Path


def make_wav(path: Path, frames: int) -> str:
    """A short 8 kHz 16-bit mono wav, 0600 like the controller leaves it; returns its sha256."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(range(256)) * (frames * 2 // 256))
    path.chmod(0o600)
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Journal:
    def __init__(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        self.url = f"sqlite:///{data_dir / 'hotline.db'}"
        self.env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_TIMEZONE": "Asia/Shanghai",
                    "HOTLINE_PBX_ROOT": str(tmp_path / "root")}
        self.recording_dir = tmp_path / "pbx" / "recording"
        self.recording_dir.mkdir(parents=True)
        upgrade(self.url)
        self.calls = [
            self._call("u1", "13800138000", "1001", datetime(2024, 11, 23, 18, 30, tzinfo=BEIJING)),
            # 07:50 in Beijing is 23:50 UTC the day before: --date must go by the settings' time zone.
            self._call("u2", "13900000001", "1002", datetime(2024, 11, 24, 7, 50, tzinfo=BEIJING)),
            self._call("u3", "13700137000", "1001", datetime(2024, 11, 25, 9, 0, tzinfo=BEIJING)),
        ]
        entries: list[JournalEntry] = []
        for number, item in enumerate(self.calls):
            entries.append(JournalEntry(item.uid, "call.started", item.at - timedelta(minutes=2),
                                        {"caller": item.caller, "dialed": "10086"}))
            checksum = make_wav(item.file, frames=800 * (number + 1))
            entries.append(JournalEntry(item.uid, "recording.saved", item.at, {
                "file": str(item.file), "agent": item.agent, "seconds": 0.1 * (number + 1), "sha256": checksum}))
        entries.append(JournalEntry("u3", "recording.missing", self.calls[2].at + timedelta(seconds=1),
                                    {"name": "u3-1003", "agent": "1003"}))
        write(self.url, tmp_path / "spill.jsonl", entries)

    def _call(self, uid: str, caller: str, agent: str, at: datetime) -> Recorded:
        return Recorded(uid, caller, agent, at, self.recording_dir / f"{uid}-{agent}.wav")

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["recordings", *args], env=self.env, catch_exceptions=False)

    def json(self, *args: str) -> object:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def uids(self, *args: str) -> list[str]:
        rows = self.json("list", *args)
        assert isinstance(rows, list)
        return [row["call_uid"] for row in rows]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path)


def test_list_is_newest_first_and_filters(journal: Journal) -> None:
    assert journal.uids() == ["u3", "u2", "u1"]
    assert journal.uids("--agent", "1001") == ["u3", "u1"]
    # The agent filter runs in Python: the limit must count only matching rows.
    assert journal.uids("--agent", "1001", "--limit", "1") == ["u3"]
    assert journal.uids("--agent", "1003") == []
    assert journal.uids("--date", "2024-11-24") == ["u2"]
    assert journal.uids("--date", "2024-11-23") == ["u1"]
    assert journal.uids("--since", "2024-11-23", "--until", "2024-11-24") == ["u2", "u1"]
    assert journal.uids("--since", "2024-11-24") == ["u3", "u2"]
    assert journal.uids("--until", "2024-11-23") == ["u1"]
    assert journal.uids("--call", "u2") == ["u2"]
    rows = journal.json("list", "--call", "u2")
    assert isinstance(rows, list)
    assert journal.uids("--call", str(rows[0]["call_id"])) == ["u2"]
    assert journal.uids("--call", "u1", "--agent", "1002") == []
    assert journal.uids("--limit", "2") == ["u3", "u2"]


def test_list_json_has_the_full_row(journal: Journal) -> None:
    rows = journal.json("list", "--call", "u1")
    first = journal.calls[0]
    assert rows == [{
        "call_id": 1, "call_uid": "u1", "caller": "13800138000", "agent": "1001",
        "at": first.at.astimezone(UTC).isoformat(), "file": str(first.file), "seconds": 0.1,
        "sha256": hashlib.sha256(first.file.read_bytes()).hexdigest(),
    }]


def test_list_table_masks_callers_and_shows_local_time(journal: Journal) -> None:
    result = journal.run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["call", "caller", "agent", "when", "seconds", "file"]
    assert lines[3].split() == ["1", "138****8000", "1001", "2024-11-23", "18:30:00", "0.1", "u1-1001.wav"]
    assert "2024-11-24 07:50:00" in lines[2] and "u2-1002.wav" in lines[2]
    for item in journal.calls:
        assert item.caller not in result.output
        assert str(item.file.parent) not in result.output


def test_list_usage_and_domain_errors(journal: Journal) -> None:
    unknown = journal.run("list", "--call", "nope")
    assert unknown.exit_code == 1 and "error: no call 'nope' in the journal" in unknown.stderr
    both = journal.run("list", "--date", "2024-11-23", "--since", "2024-11-22")
    assert both.exit_code == 2 and "--date cannot be combined" in both.stderr
    backwards = journal.run("list", "--since", "2024-11-24", "--until", "2024-11-23")
    assert backwards.exit_code == 2 and "--since is after --until" in backwards.stderr
    assert journal.run("list", "--date", "23/11/2024").exit_code == 2


def test_list_recordings_directly(journal: Journal) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    with reading(journal.url) as engine:
        rows = list_recordings(engine, tz=shanghai, since=date(2024, 11, 24), until=date(2024, 11, 24))
        assert [(r.call_uid, r.agent, r.caller) for r in rows] == [("u2", "1002", "13900000001")]
        # The same day in UTC holds u2 as well as u1 (10:30 UTC).
        assert [r.call_uid for r in list_recordings(engine, tz=UTC, since=date(2024, 11, 23),
                                                    until=date(2024, 11, 23))] == ["u2", "u1"]
        with pytest.raises(CallNotFound):
            list_recordings(engine, call="999", tz=shanghai)


def test_export_copies_files_and_writes_a_private_manifest(journal: Journal, tmp_path: Path) -> None:
    folder = tmp_path / "out" / "agent-1001"
    report = journal.json("export", "--agent", "1001", "--to", str(folder))
    assert isinstance(report, dict)
    assert report["exported"] == 2 and report["failed"] == 0
    assert folder.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "u1-1001.wav", "u3-1001.wav"]
    for item in (journal.calls[0], journal.calls[2]):
        copy = folder / item.file.name
        assert copy.read_bytes() == item.file.read_bytes()
        assert copy.stat().st_mode & 0o777 == 0o600
    manifest_path = folder / "manifest.json"
    assert manifest_path.stat().st_mode & 0o777 == 0o600
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["timezone"] == "Asia/Shanghai"
    entries = manifest["recordings"]
    assert [(e["call_uid"], e["caller"], e["status"], e["exported_as"]) for e in entries] == [
        ("u3", "13700137000", "ok", "u3-1001.wav"), ("u1", "13800138000", "ok", "u1-1001.wav")]
    assert entries[0]["sha256"] == hashlib.sha256(journal.calls[2].file.read_bytes()).hexdigest()


def test_export_reports_bad_files_and_still_exports_the_rest(journal: Journal, tmp_path: Path) -> None:
    altered, gone, good = journal.calls
    with altered.file.open("ab") as out:
        out.write(b"\0\0")
    gone.file.unlink()
    folder = tmp_path / "out"
    result = journal.run("export", "--since", "2024-11-01", "--to", str(folder))
    assert result.exit_code == 1
    assert f"call 1: checksum-mismatch: sha256 of {altered.file} is" in result.stderr
    assert f"call 2: missing: file not found: {gone.file}" in result.stderr
    assert "exported 1 of 3 recordings" in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", good.file.name]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert {e["call_uid"]: e["status"] for e in manifest["recordings"]} == {
        "u3": "ok", "u2": "missing", "u1": "checksum-mismatch"}

    as_json = journal.run("export", "--call", "u1", "--to", str(tmp_path / "again"), "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["exported"] == 0 and report["failed"] == 1
    assert report["recordings"][0]["status"] == "checksum-mismatch"


def test_export_needs_a_selection(journal: Journal, tmp_path: Path) -> None:
    result = journal.run("export", "--to", str(tmp_path / "everything"))
    assert result.exit_code == 2 and "choose what to export" in result.stderr
    assert not (tmp_path / "everything").exists()
